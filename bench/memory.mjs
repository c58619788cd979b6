#!/usr/bin/env node
// Measures the processes of `wrangler dev` (R2 binding) while uploads stream through the
// Worker: peak RSS for a 1 MiB and a 1 GiB upload, and CPU seconds per GiB. wrangler runs
// two workerd processes: a proxy that listens on the dev port, and the runtime that executes
// the Worker (with the local R2 and D1 simulators); both are reported. Writes bench/memory.md.
// Run: node bench/memory.mjs (after `npm run build`).
import fs from 'node:fs';
import { putGenerated } from '../tests/support/stream.mjs';
import { startDev } from '../tests/support/devserver.mjs';
import { sign, claimsFor, randomSecret } from '../scripts/lib/jwt.mjs';
import { rssMiB, cpuSeconds, workerdProcesses, downloadHash } from './lib/measure.mjs';

const PORT = Number(process.env.BENCH_PORT || 8799);
const GiB = 1024 ** 3;
const secret = randomSecret();

async function sampled(procs, fn) {
  const peak = new Map(procs.map((p) => [p.pid, rssMiB(p.pid)]));
  const timer = setInterval(() => {
    for (const p of procs) try { peak.set(p.pid, Math.max(peak.get(p.pid), rssMiB(p.pid))); } catch {}
  }, 20);
  const cpu0 = new Map(procs.map((p) => [p.pid, cpuSeconds(p.pid)]));
  const t0 = process.hrtime.bigint();
  const result = await fn();
  const seconds = Number(process.hrtime.bigint() - t0) / 1e9;
  clearInterval(timer);
  return { result, seconds, per: procs.map((p) => ({ ...p, peakMiB: peak.get(p.pid), cpu: cpuSeconds(p.pid) - cpu0.get(p.pid) })) };
}

// wrangler dev with a fresh local state, so the schema is always the current one.
const dev = await startDev({ JWT_SECRET: secret, MAX_UPLOAD_BYTES: String(5 * GiB) }, { port: PORT });

try {
  const base = dev.url;
  const procs = workerdProcesses(dev.pid, PORT);
  if (!procs.some((p) => p.role === 'runtime')) throw new Error('the workerd runtime process was not found');
  const token = sign(claimsFor('bench'), { key: secret });
  const auth = { authorization: `Bearer ${token}` };
  const idle = Object.fromEntries(procs.map((p) => [p.role, rssMiB(p.pid)]));
  const rows = [];
  for (const [label, size] of [['1 MiB', 1 << 20], ['1 GiB', GiB]]) {
    const key = `bench/${label.replace(' ', '')}.bin`;
    const m = await sampled(procs, () => putGenerated(`${base}/files/${key}`, size, { ...auth, 'content-type': 'application/octet-stream' }));
    if (m.result.status !== 201) throw new Error(`${label}: ${m.result.status} ${m.result.body}`);
    if ((await downloadHash(`${base}/files/${key}`, token)) !== m.result.sha256) throw new Error(`${label}: download hash differs`);
    rows.push({ label, size, ...m });
  }
  const cell = (r, role, f) => f(r.per.find((p) => p.role === role));
  const md = [
    '# Worker memory during uploads (R2 binding, `wrangler dev`)',
    '',
    `Measured ${new Date().toISOString()} by \`node bench/memory.mjs\`: the resident set of both workerd processes of \`wrangler dev\`, sampled every 20 ms while a client streams the body; each download's SHA-256 was checked against the upload's. The runtime process executes the Worker and the local R2 and D1 simulators (which write the object to disk); the proxy forwards the dev port to it.`,
    '',
    `Idle RSS before the uploads: runtime ${idle.runtime.toFixed(0)} MiB${idle.proxy ? `, proxy ${idle.proxy.toFixed(0)} MiB` : ''}.`,
    '',
    '| upload | peak RSS, runtime | peak RSS, proxy | runtime CPU | runtime CPU per GiB | wall time |',
    '|---|---|---|---|---|---|',
    ...rows.map((r) => `| ${r.label} | ${cell(r, 'runtime', (p) => p.peakMiB.toFixed(0))} MiB | ${cell(r, 'proxy', (p) => (p ? `${p.peakMiB.toFixed(0)} MiB` : '—'))} | ${cell(r, 'runtime', (p) => p.cpu.toFixed(2))} s | ${r.size >= GiB ? `${cell(r, 'runtime', (p) => (p.cpu / (r.size / GiB)).toFixed(2))} s` : '—'} | ${r.seconds.toFixed(2)} s |`),
    '',
    'The client generates and hashes its data as it sends, which bounds the wall time; the memory figures are what this measurement is for.',
    '',
  ].join('\n');
  fs.writeFileSync('bench/memory.md', md);
  console.log(md);
} finally {
  await dev.stop();
}
