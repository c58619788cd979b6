// Starts the built Worker in Miniflare (workerd) with R2 and D1 simulators, applies the D1
// migrations, and exposes its real HTTP address. Each test file starts its own instance
// with the variables it needs.
import fs from 'node:fs';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { Miniflare } from 'miniflare';

const root = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '../..');

export const JWT_SECRET = 'test-secret-0123456789-abcdefghijklmnop';

/** Splits a migration file into statements (no semicolons inside strings in ours). */
function statements(sql) {
  return sql
    .split('\n')
    .filter((l) => !l.trim().startsWith('--'))
    .join('\n')
    .split(';')
    .map((s) => s.replace(/--.*$/gm, '').trim())
    .filter(Boolean);
}

export async function applyMigrations(db) {
  const dir = path.join(root, 'migrations');
  for (const file of fs.readdirSync(dir).filter((f) => f.endsWith('.sql')).sort()) {
    for (const stmt of statements(fs.readFileSync(path.join(dir, file), 'utf8'))) {
      await db.prepare(stmt).run();
    }
  }
}

export async function startGateway(vars = {}) {
  const mf = new Miniflare({
    scriptPath: path.join(root, 'build/index.js'),
    modules: true,
    modulesRules: [{ type: 'CompiledWasm', include: ['**/*.wasm'] }],
    compatibilityDate: '2025-09-01',
    r2Buckets: ['BUCKET'],
    d1Databases: ['DB'],
    bindings: { STORAGE: 'r2', JWT_SECRET, ...vars },
    port: 0,
  });
  const url = (await mf.ready).toString().replace(/\/$/, '');
  const db = await mf.getD1Database('DB');
  await applyMigrations(db);
  const bucket = await mf.getR2Bucket('BUCKET');
  return {
    url,
    db,
    bucket,
    mf,
    /** The D1 row of `key`, or null. */
    row: (key) => db.prepare('SELECT * FROM objects WHERE key = ?').bind(key).first(),
    close: () => mf.dispose(),
  };
}

/** Polls `fn` until it returns a truthy value or `ms` pass. */
export async function eventually(fn, ms = 5000) {
  const end = Date.now() + ms;
  for (;;) {
    const v = await fn();
    if (v || Date.now() > end) return v;
    await new Promise((r) => setTimeout(r, 50));
  }
}
