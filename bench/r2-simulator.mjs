#!/usr/bin/env node
// Separates the Worker's memory from the local R2 simulator's: the same 1 GiB upload through
// this Worker and through a one-line Worker (`env.BUCKET.put(key, request.body)`), each in a
// fresh Miniflare whose workerd process also runs the R2 simulator. Writes
// bench/r2-simulator.md. Run: node bench/r2-simulator.mjs (after `npm run build`).
import fs from 'node:fs';
import path from 'node:path';
import { execFileSync } from 'node:child_process';
import { fileURLToPath } from 'node:url';
import { Miniflare } from 'miniflare';
import { applyMigrations } from '../tests/support/gateway.mjs';
import { sign, claimsFor, randomSecret } from '../scripts/lib/jwt.mjs';
import { put, rssMiB } from './lib/measure.mjs';

const root = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '..');
const SIZE = 2 ** 30;
const secret = randomSecret();
const tmp = path.join(root, 'bench/tmp');
fs.mkdirSync(tmp, { recursive: true });

const trivial = path.join(tmp, 'r2-put-worker.mjs');
fs.writeFileSync(trivial, 'export default { async fetch(req, env) { await env.BUCKET.put(new URL(req.url).pathname.slice(7), req.body); return new Response(null, { status: 201 }); } };\n');

const rows = [];
for (const [name, script] of [['this Worker (Rust)', path.join(root, 'build/index.js')], ['one-line `BUCKET.put(key, request.body)` Worker', trivial]]) {
  const persist = path.join(tmp, 'r2-simulator-state');
  fs.rmSync(persist, { recursive: true, force: true });
  const mf = new Miniflare({
    scriptPath: script, modules: true, modulesRules: [{ type: 'CompiledWasm', include: ['**/*.wasm'] }], compatibilityDate: '2025-09-01',
    r2Buckets: ['BUCKET'], d1Databases: ['DB'], r2Persist: persist, bindings: { JWT_SECRET: secret, MAX_UPLOAD_BYTES: String(2 * SIZE) }, port: 0,
  });
  try {
    const url = (await mf.ready).toString();
    await applyMigrations(await mf.getD1Database('DB'));
    const pid = Number(execFileSync('pgrep', ['-n', 'workerd']).toString());
    const idle = rssMiB(pid);
    let peak = idle;
    const timer = setInterval(() => { try { peak = Math.max(peak, rssMiB(pid)); } catch {} }, 20);
    const { status } = await put(`${url}files/bench/big.bin`, SIZE, { authorization: `Bearer ${sign(claimsFor('bench'), { key: secret })}` });
    clearInterval(timer);
    if (status !== 201) throw new Error(`${name}: ${status}`);
    rows.push({ name, idle, peak });
  } finally {
    await mf.dispose();
    fs.rmSync(persist, { recursive: true, force: true });
  }
}

const md = [
  '# Local R2 simulator memory',
  '',
  `Measured ${new Date().toISOString()} by \`node bench/r2-simulator.mjs\`: a 1 GiB upload into the local R2 simulator, through this Worker and through a one-line Worker that only calls \`env.BUCKET.put(key, request.body)\`. Peak RSS of the workerd process, which runs the Worker and the simulator together, sampled every 20 ms.`,
  '',
  '| Worker | idle RSS | peak RSS during a 1 GiB upload | growth |',
  '|---|---|---|---|',
  ...rows.map((r) => `| ${r.name} | ${r.idle.toFixed(0)} MiB | ${r.peak.toFixed(0)} MiB | ${(r.peak - r.idle).toFixed(0)} MiB |`),
  '',
  Math.abs((rows[0].peak - rows[0].idle) - (rows[1].peak - rows[1].idle)) <= 0.1 * (rows[1].peak - rows[1].idle)
    ? 'The growth is the same within 10% for both, so it belongs to the simulator (which hashes and stores the object in JavaScript), not to the Worker; with the S3 backend, where no simulator shares the process, the same Worker stays flat (bench/results.md).'
    : 'The growth differs by more than 10% between the two Workers; see bench/results.md for the Worker without a simulator in its process.',
  '',
].join('\n');
fs.writeFileSync(path.join(root, 'bench/r2-simulator.md'), md);
console.log(md);
