#!/usr/bin/env node
// A 1 GiB file through tus-js-client (the client Uppy uses) with 50 MiB and with 5 MiB chunks,
// against the same file through `npm run upload` (the gateway's own multipart client) and a
// direct PUT to the store, all in one run: the Worker in Miniflare (workerd) on the S3 backend,
// the store an s3s-fs keeping its files in RAM. Reports throughput as a ratio to the direct
// PUT, the workerd process's peak resident set and CPU, and checks each object's SHA-256.
// Writes bench/tus.md. Run: node bench/tus.mjs (after `npm run build`); BENCH_SIZE_MIB
// overrides 1024.
import { spawn } from 'node:child_process';
import crypto from 'node:crypto';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import * as tus from 'tus-js-client';
import { sign, claimsFor, randomSecret } from '../scripts/lib/jwt.mjs';
import { startS3 } from '../tests/support/s3server.mjs';
import { put, rssMiB, cpuSeconds, downloadHash } from './lib/measure.mjs';
import { startWorker } from './lib/worker.mjs';

const root = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '..');
const MIB = 1024 * 1024;
const SIZE = Number(process.env.BENCH_SIZE_MIB || 1024) * MIB;
const secret = randomSecret();
const token = sign(claimsFor('bench', { ttl: 86400 }), { key: secret });

const data = Buffer.alloc(SIZE);
for (let off = 0; off < SIZE; off += MIB) crypto.randomFillSync(data, off, Math.min(MIB, SIZE - off));
const digest = crypto.createHash('sha256').update(data).digest('hex');
const tmp = path.join(root, 'bench/tmp');
fs.mkdirSync(tmp, { recursive: true });
const file = path.join(tmp, 'tus-bench.bin');
fs.writeFileSync(file, data);

/** Runs `fn` while sampling `pid`'s resident set every 20 ms. */
async function measured(pid, fn) {
  let peak = pid ? rssMiB(pid) : 0;
  const timer = pid && setInterval(() => { try { peak = Math.max(peak, rssMiB(pid)); } catch {} }, 20);
  const cpu0 = pid ? cpuSeconds(pid) : 0;
  const t0 = performance.now();
  await fn();
  const seconds = (performance.now() - t0) / 1000;
  if (timer) clearInterval(timer);
  return { seconds, peakMiB: pid ? peak : null, cpu: pid ? cpuSeconds(pid) - cpu0 : null };
}

function viaTus(url, key, chunkSize) {
  return new Promise((resolve, reject) => {
    const upload = new tus.Upload(data, {
      endpoint: `${url}/tus/`,
      headers: { Authorization: `Bearer ${token}` },
      metadata: { key, filetype: 'application/octet-stream' },
      chunkSize,
      retryDelays: [],
      storeFingerprintForResuming: false,
      onError: reject,
      onSuccess: resolve,
    });
    upload.start();
  });
}

function viaCli(url, key) {
  return new Promise((resolve, reject) => {
    const child = spawn(process.execPath, ['scripts/upload.mjs', file, '--key', key, '--endpoint', url, '--token', token, '--quiet', '--fresh'], { cwd: root, stdio: ['ignore', 'pipe', 'pipe'] });
    let err = '';
    child.stderr.on('data', (c) => { err += c; });
    child.on('close', (code) => (code === 0 ? resolve() : reject(new Error(`client exited ${code}: ${err}`))));
  });
}

const s3 = await startS3({ dir: fs.existsSync('/dev/shm') ? '/dev/shm' : os.tmpdir() });
const { mf, url, pid } = await startWorker(path.join(root, 'build/index.js'), { ...s3.vars, JWT_SECRET: secret, MAX_UPLOAD_BYTES: String(100 * MIB) });
const rows = [];
try {
  const signed = await s3.client.sign(s3.url('bench/tus-direct.bin'), { method: 'PUT', headers: { 'x-amz-content-sha256': 'UNSIGNED-PAYLOAD', 'content-type': 'application/octet-stream' } });
  const direct = await measured(null, () => put(s3.url('bench/tus-direct.bin'), SIZE, Object.fromEntries(signed.headers)));
  rows.push({ name: 'Direct PUT to S3 (client-signed)', ...direct, verified: '—' });
  const paths = [
    ['`npm run upload` (multipart)', 'bench/tus-cli.bin', () => viaCli(url, 'bench/tus-cli.bin')],
    ['tus-js-client, 50 MiB chunks', 'bench/tus-50.bin', () => viaTus(url, 'bench/tus-50.bin', 50 * MIB)],
    ['tus-js-client, 5 MiB chunks', 'bench/tus-5.bin', () => viaTus(url, 'bench/tus-5.bin', 5 * MIB)],
  ];
  for (const [name, key, run] of paths) {
    const m = await measured(pid, run);
    const ok = (await downloadHash(`${url}/files/${key}`, token)) === digest;
    rows.push({ name, ...m, verified: ok ? 'yes' : '**no**' });
  }
} finally {
  await mf.dispose();
  s3.close();
  fs.rmSync(file, { force: true });
}

const mibps = (r) => SIZE / MIB / r.seconds;
const fmt = (v, d = 0) => (v == null ? '—' : v.toFixed(d));
const lines = [
  '# tus uploads against the gateway\'s own client and a direct PUT',
  '',
  `Run ${new Date().toISOString()} by \`node bench/tus.mjs\` on ${os.cpus().length} cores, Node ${process.version}: a ${SIZE / MIB} MiB file, the Worker in Miniflare on the S3 backend, s3s-fs storing in RAM; client, Worker and store share the cores. Peak RSS and CPU are the workerd process's during the upload.`,
  '',
  '| path | throughput | vs direct | peak RSS | Worker CPU | SHA-256 matches |',
  '|---|---|---|---|---|---|',
  ...rows.map((r) => `| ${r.name} | ${fmt(mibps(r))} MiB/s | ${fmt(mibps(r) / mibps(rows[0]), 2)}× | ${r.peakMiB == null ? '—' : `${fmt(r.peakMiB)} MiB`} | ${r.cpu == null ? '—' : `${fmt(r.cpu, 1)} s`} | ${r.verified} |`),
  '',
  'With 50 MiB chunks every chunk after the first is exactly a part and streams straight into the store\'s upload-part call, as the CLI\'s parts do. With 5 MiB chunks the same holds: the first chunk fixes the part size at 5 MiB. An unaligned chunk size would be staged and composed (each byte written twice); `tests/tus.test.mjs` covers those sizes for correctness.',
  '',
];
fs.writeFileSync(path.join(root, 'bench/tus.md'), `${lines.join('\n')}\n`);
console.log(lines.join('\n'));
