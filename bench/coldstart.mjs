#!/usr/bin/env node
// Cold start: the time from starting a fresh workerd (a new isolate that must compile and
// instantiate the Worker) to the first answered 4 KiB upload, for this gateway, the JavaScript
// reference Worker and the same job in Rust (bench/floor-worker), each the median of
// BENCH_COLD_RUNS (10) fresh Miniflare instances started alternately against one s3s-fs, with
// the EVENTS queue bound as wrangler.toml binds it; plus the Wasm module's size, raw and
// gzipped. A second set of fresh instances answers a `GET /healthz` before the upload, which
// splits the first request's time into the isolate's start (instantiating the module) and
// the upload's own first run. Writes bench/coldstart.md. Run: node bench/coldstart.mjs (after
// `npm run build`).
import crypto from 'node:crypto';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import zlib from 'node:zlib';
import { fileURLToPath } from 'node:url';
import { Miniflare } from 'miniflare';
import { sign, claimsFor, randomSecret } from '../scripts/lib/jwt.mjs';
import { startS3 } from '../tests/support/s3server.mjs';
import { applyMigrations } from '../tests/support/gateway.mjs';
import { put } from './lib/measure.mjs';
import { EVENTS_QUEUE, referenceBundle } from './lib/worker.mjs';
import { buildFloor } from './lib/floor.mjs';

const root = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '..');
const RUNS = Number(process.env.BENCH_COLD_RUNS || 10);
const secret = randomSecret();
const token = sign(claimsFor('bench', { ttl: 86400 }), { key: secret });
const median = (xs) => [...xs].sort((a, b) => a - b)[Math.floor(xs.length / 2)];

const bundle = await referenceBundle();

const s3 = await startS3({ dir: fs.existsSync('/dev/shm') ? '/dev/shm' : os.tmpdir() });

/**
 * Milliseconds from a fresh workerd to the first 201 for a 4 KiB upload; with `probe`, a
 * `GET /healthz` first, timed on its own.
 */
async function coldStart(scriptPath, i, probe = false) {
  const t0 = performance.now();
  const mf = new Miniflare({
    ...EVENTS_QUEUE,
    handleStructuredLogs: () => {},
    scriptPath,
    modules: true,
    modulesRules: [{ type: 'CompiledWasm', include: ['**/*.wasm'] }],
    compatibilityDate: '2025-09-01',
    r2Buckets: ['BUCKET'],
    d1Databases: ['DB'],
    bindings: { ...s3.vars, JWT_SECRET: secret },
    port: 0,
  });
  try {
    const url = (await mf.ready).toString().replace(/\/$/, '');
    const ready = performance.now();
    await applyMigrations(await mf.getD1Database('DB'));
    // The migrations ran through the runtime; only the upload's own time counts from here.
    let healthz = null;
    if (probe) {
      const h0 = performance.now();
      const answer = await fetch(`${url}/healthz`);
      await answer.text();
      if (!answer.ok) throw new Error(`healthz: ${answer.status}`);
      healthz = performance.now() - h0;
    }
    const t1 = performance.now();
    const res = await put(`${url}/files/bench/cold-${i}.bin`, 4096, { authorization: `Bearer ${token}`, 'content-type': 'application/octet-stream' });
    if (res.status !== 201) throw new Error(`cold upload: ${res.status} ${res.text}`);
    return { startup: ready - t0, firstUpload: performance.now() - t1, healthz };
  } finally {
    await mf.dispose();
  }
}

// BENCH_COLD_VARIANT=<build dir inside the repository> adds another build as a row of the same
// run, e.g. the module through wasm-opt from the npm `binaryen` package:
// `cp -r build bench/tmp/opt && npx wasm-opt -Oz --enable-bulk-memory --enable-exception-handling
//  --enable-mutable-globals --enable-sign-ext --enable-nontrapping-float-to-int
//  --enable-reference-types --enable-multivalue build/index_bg.wasm -o bench/tmp/opt/index_bg.wasm`.
const VARIANT = process.env.BENCH_COLD_VARIANT;
const paths = [
  ['Rust Worker (this gateway)', path.join(root, 'build/index.js')],
  ['JS reference Worker (aws4fetch)', bundle],
  ['Rust floor (the reference\'s job in Rust, bench/floor-worker)', buildFloor()],
  ...(VARIANT ? [[`Rust Worker, ${process.env.BENCH_COLD_VARIANT_LABEL || VARIANT}`, path.join(path.resolve(VARIANT), 'index.js')]] : []),
];
const samples = paths.map(() => []);
const probed = paths.map(() => []);
try {
  for (let i = 0; i < RUNS; i++) {
    for (const [p, [, script]] of paths.entries()) samples[p].push(await coldStart(script, `${p}-${i}-${crypto.randomUUID()}`));
    for (const [p, [, script]] of paths.entries()) probed[p].push(await coldStart(script, `${p}-${i}-${crypto.randomUUID()}`, true));
  }
} finally {
  s3.close();
}
const wasm = fs.readFileSync(path.join(root, 'build/index_bg.wasm'));
const kb = (n) => `${(n / 1024).toFixed(0)} KiB`;
const rows = paths.map(([name], p) => {
  const startup = median(samples[p].map((s) => s.startup));
  const first = median(samples[p].map((s) => s.firstUpload));
  const healthz = median(probed[p].map((s) => s.healthz));
  const after = median(probed[p].map((s) => s.firstUpload));
  return { name, startup, first, total: startup + first, healthz, after };
});
const [rust, js, floor, variant] = rows;
const floorWasm = fs.readFileSync(path.join(root, 'bench/tmp/floor/index_bg.wasm'));
const variantWasm = VARIANT && fs.readFileSync(path.join(path.resolve(VARIANT), 'index_bg.wasm'));
const lines = [
  '# Cold start',
  '',
  `Run ${new Date().toISOString()} by \`node bench/coldstart.mjs\` on ${os.cpus().length} cores, Node ${process.version}: ${RUNS} fresh Miniflare instances per Worker, started alternately, each answering one 4 KiB upload into s3s-fs (S3 backend).`,
  '',
  '| Worker | runtime start (median) | first upload answered (median) | total | vs reference |',
  '|---|---|---|---|---|',
  ...rows.map((r) => `| ${r.name} | ${r.startup.toFixed(0)} ms | ${r.first.toFixed(1)} ms | ${r.total.toFixed(0)} ms | ${(r.total / js.total).toFixed(2)}× |`),
  '',
  `"Runtime start" is from creating the Miniflare instance until workerd serves (it loads and compiles the module); "first upload" is the first request's answer, which instantiates the Worker in a new isolate. The Rust Worker's first upload took ${(rust.first / js.first).toFixed(2)}× the reference's.`,
  '',
  'The first request split, on another set of fresh instances: a `GET /healthz` first (the isolate starts: the module is instantiated and its entry runs once), then the first upload (its own first run: configuration, first calls of each function on its path, the first D1 call and queue send).',
  '',
  '| Worker | first `GET /healthz` (median) | first upload after it (median) |',
  '|---|---|---|',
  ...rows.map((r) => `| ${r.name} | ${r.healthz.toFixed(1)} ms | ${r.after.toFixed(1)} ms |`),
  '',
  `Wasm module (\`build/index_bg.wasm\`): ${kb(wasm.length)} raw, ${kb(zlib.gzipSync(wasm, { level: 9 }).length)} gzipped. The floor's: ${kb(floorWasm.length)} raw, ${kb(zlib.gzipSync(floorWasm, { level: 9 }).length)} gzipped; its cold start is ${(floor.total / js.total).toFixed(2)}× the reference's, what a Rust Worker doing the reference's job and nothing more starts from.`,
  ...(variant ? [`${variant.name}: ${kb(variantWasm.length)} raw, ${kb(zlib.gzipSync(variantWasm, { level: 9 }).length)} gzipped; cold start ${(variant.total / rust.total).toFixed(2)}× this build's.`] : []),
  '',
];
fs.writeFileSync(path.join(root, 'bench/coldstart.md'), `${lines.join('\n')}\n`);
console.log(lines.join('\n'));
