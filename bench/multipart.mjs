#!/usr/bin/env node
// A 2 GiB file through the gateway with the reference client (`scripts/upload.mjs`:
// multipart, 16 MiB parts, 4 in parallel), on the R2 binding and on S3 (s3s-fs), the Worker
// in its own workerd (Miniflare, with the EVENTS queue as in wrangler.toml; not `wrangler dev`,
// whose proxy leaks sockets on long downloads on this machine: bench/wrangler-dev-downloads.md).
// Samples the resident set of that workerd process, first during a 64 MiB multipart upload
// (the baseline of the same run) and then during the 2 GiB one, and checks the download's
// SHA-256 against the file's. Writes bench/multipart.md and its chart of the runtime's memory
// over the large upload, bench/multipart-memory.svg.
// Run: node bench/multipart.mjs (after `npm run build`); BENCH_SIZE_MIB overrides 2048.
import { spawn } from 'node:child_process';
import crypto from 'node:crypto';
import fs from 'node:fs';
import path from 'node:path';
import { sign, claimsFor, randomSecret } from '../scripts/lib/jwt.mjs';
import { startS3 } from '../tests/support/s3server.mjs';
import { rssMiB, cpuSeconds, downloadHash } from './lib/measure.mjs';
import { EVENTS_QUEUE, startWorker } from './lib/worker.mjs';
import { lineChart } from './lib/svg.mjs';

const MIB = 1024 * 1024;
const SIZE = Number(process.env.BENCH_SIZE_MIB || 2048) * MIB;
const TMP = path.resolve('bench/tmp');
const secret = randomSecret();

/** Writes `size` bytes of distinct pseudo-random 1 MiB blocks; returns the file's SHA-256. */
function makeFile(file, size) {
  const hash = crypto.createHash('sha256');
  const fd = fs.openSync(file, 'w');
  const seed = crypto.randomBytes(MIB);
  for (let off = 0, i = 0; off < size; off += MIB, i++) {
    const block = Buffer.from(seed.subarray(0, Math.min(MIB, size - off)));
    if (block.length >= 4) block.writeUInt32BE(i, 0);
    hash.update(block);
    fs.writeSync(fd, block);
  }
  fs.closeSync(fd);
  return hash.digest('hex');
}

/** Runs the reference client while sampling `pid`'s RSS every 50 ms. */
function upload(base, token, file, key, pid) {
  const samples = [];
  const timer = setInterval(() => { try { samples.push(rssMiB(pid)); } catch {} }, 50);
  const cpu0 = cpuSeconds(pid);
  const t0 = Date.now();
  return new Promise((resolve, reject) => {
    const child = spawn(process.execPath, ['scripts/upload.mjs', file, '--key', key, '--endpoint', base, '--token', token, '--quiet', '--fresh'], { stdio: ['ignore', 'pipe', 'pipe'] });
    let out = '';
    let err = '';
    child.stdout.on('data', (c) => { out += c; });
    child.stderr.on('data', (c) => { err += c; });
    child.on('close', (code) => {
      clearInterval(timer);
      if (code !== 0) return reject(new Error(`client exited ${code}: ${err}`));
      const sorted = [...samples].sort((a, b) => a - b);
      // The RSS at each tenth of the upload's duration: flat or rising with the bytes sent.
      const timeline = Array.from({ length: 10 }, (_, i) => samples[Math.min(samples.length - 1, Math.floor(((i + 1) * samples.length) / 10) - 1)]);
      // The whole run at 100 points, for the chart: [percent of the upload, MiB].
      const curve = Array.from({ length: 101 }, (_, i) => [i, samples[Math.min(samples.length - 1, Math.floor((i * (samples.length - 1)) / 100))]]);
      resolve({
        timeline,
        curve,
        result: JSON.parse(out),
        seconds: (Date.now() - t0) / 1000,
        cpu: cpuSeconds(pid) - cpu0,
        peak: sorted.at(-1),
        median: sorted[Math.floor(sorted.length / 2)],
      });
    });
  });
}


async function measure(backend, files) {
  const s3 = backend === 's3' ? await startS3({ dir: TMP }) : null;
  const vars = { JWT_SECRET: secret, STORAGE: 'r2', MAX_UPLOAD_BYTES: String(100 * MIB), ...(s3 ? s3.vars : {}) };
  const worker = await startWorker(path.resolve('build/index.js'), vars, EVENTS_QUEUE);
  try {
    const { url: base, pid } = worker;
    const token = sign(claimsFor('bench'), { key: secret });
    const idle = rssMiB(pid);
    const rows = [];
    for (const f of files) {
      const key = `bench/${path.basename(f.file)}`;
      const m = await upload(base, token, f.file, key, pid);
      if (m.result.size !== f.size) throw new Error(`${f.label}: stored ${m.result.size} bytes`);
      const sha = await downloadHash(`${base}/files/${key}`, token);
      rows.push({ ...f, ...m, matches: sha === f.sha256 });
    }
    return { backend, idle, rows };
  } finally {
    await worker.mf.dispose();
    s3?.close();
  }
}

fs.mkdirSync(TMP, { recursive: true });
const files = [
  { label: '64 MiB', size: 64 * MIB + 1, file: path.join(TMP, 'mp-small.bin') },
  { label: `${SIZE / MIB} MiB`, size: SIZE, file: path.join(TMP, 'mp-large.bin') },
];
for (const f of files) f.sha256 = makeFile(f.file, f.size);
const results = [];
try {
  for (const backend of ['r2', 's3']) results.push(await measure(backend, files));
} finally {
  for (const f of files) fs.rmSync(f.file, { force: true });
}

const md = [
  '# Multipart uploads (reference client)',
  '',
  `Measured ${new Date().toISOString()} by \`node bench/multipart.mjs\`: \`npm run upload\` (16 MiB parts, 4 in parallel) sends each file to the gateway in its own workerd (Miniflare, EVENTS queue bound); the resident set of that workerd process is sampled every 50 ms during the upload. The 64 MiB upload is the baseline of the same run. Each download's SHA-256 is compared with the file's.`,
  '',
  '| backend | file | wall time | throughput | runtime CPU | median RSS | peak RSS | peak vs 64 MiB | SHA-256 matches |',
  '|---|---|---|---|---|---|---|---|---|',
  ...results.flatMap((r) => r.rows.map((row) => `| ${r.backend} | ${row.label} | ${row.seconds.toFixed(1)} s | ${(row.size / MIB / row.seconds).toFixed(0)} MiB/s | ${row.cpu.toFixed(1)} s | ${row.median.toFixed(0)} MiB | ${row.peak.toFixed(0)} MiB | ${(row.peak / r.rows[0].peak).toFixed(2)}× | ${row.matches ? 'yes' : 'NO'} |`)),
  '',
  ...results.map((r) => `Idle RSS of the runtime process before the uploads (${r.backend}): ${r.idle.toFixed(0)} MiB.`),
  '',
  'RSS of the runtime process at each tenth of the large upload (MiB):',
  '',
  '![RSS of the runtime process over the large upload](multipart-memory.svg)',
  '',
  '| backend | 10% | 20% | 30% | 40% | 50% | 60% | 70% | 80% | 90% | 100% |',
  '|---|---|---|---|---|---|---|---|---|---|---|',
  ...results.map((r) => `| ${r.backend} | ${r.rows.at(-1).timeline.map((v) => v.toFixed(0)).join(' | ')} |`),
  '',
  'On the R2 binding the runtime process also runs the local R2 simulator (see `bench/r2-simulator.md`); with S3 the store is a separate process (s3s-fs), so the runtime process holds only the Worker and the D1 and queue simulators.',
  '',
].join('\n');
fs.writeFileSync('bench/multipart-memory.svg', lineChart({
  title: `Runtime memory (RSS) over a ${files[1].label} multipart upload`,
  xLabel: 'share of the upload done (%)',
  yLabel: 'RSS of the workerd runtime process (MiB)',
  series: results.map((r) => ({ name: `${r.backend} (idle ${r.idle.toFixed(0)} MiB)`, points: r.rows.at(-1).curve })),
}));
fs.writeFileSync('bench/multipart.md', md);
console.log(md);
if (results.some((r) => r.rows.some((row) => !row.matches))) process.exit(1);
