#!/usr/bin/env node
// Measures the Worker process (workerd under `wrangler dev`) while uploads stream through
// it: peak RSS for a 1 MiB and a 1 GiB upload, and CPU seconds per GiB. Writes
// bench/memory.md. Run: node bench/memory.mjs (after `npm run build`).
import { spawn, execFileSync } from 'node:child_process';
import fs from 'node:fs';
import { putGenerated, getHashed } from '../tests/support/stream.mjs';
import { sign, claimsFor, randomSecret } from '../scripts/lib/jwt.mjs';

const PORT = Number(process.env.BENCH_PORT || 8799);
const GiB = 1024 ** 3;
const secret = randomSecret();

function descendants(pid) {
  const out = execFileSync('ps', ['-eo', 'pid=,ppid=']).toString().trim().split('\n').map((l) => l.trim().split(/\s+/).map(Number));
  const result = [];
  const walk = (p) => { for (const [c, pp] of out) if (pp === p) { result.push(c); walk(c); } };
  walk(pid);
  return result;
}

/** The workerd process that serves `port` (wrangler starts a second one for its tooling). */
function workerdPid(rootPid, port) {
  for (const pid of descendants(rootPid)) {
    try {
      const cmd = fs.readFileSync(`/proc/${pid}/cmdline`, 'utf8');
      if (cmd.includes('workerd') && cmd.includes(`:${port}`)) return pid;
    } catch {}
  }
  return null;
}

const rssKiB = (pid) => Number(/VmRSS:\s+(\d+)/.exec(fs.readFileSync(`/proc/${pid}/status`, 'utf8'))[1]);
const cpuSeconds = (pid) => {
  const f = fs.readFileSync(`/proc/${pid}/stat`, 'utf8').split(') ')[1].split(' ');
  return (Number(f[11]) + Number(f[12])) / 100; // utime + stime, in clock ticks of 1/100 s
};

async function sampled(pid, fn) {
  let peak = rssKiB(pid);
  const timer = setInterval(() => { try { peak = Math.max(peak, rssKiB(pid)); } catch {} }, 20);
  const cpu0 = cpuSeconds(pid);
  const t0 = process.hrtime.bigint();
  const result = await fn();
  const seconds = Number(process.hrtime.bigint() - t0) / 1e9;
  clearInterval(timer);
  return { result, peakMiB: peak / 1024, cpu: cpuSeconds(pid) - cpu0, seconds };
}

const dev = spawn('npx', ['wrangler', 'dev', '--port', String(PORT), '--var', `JWT_SECRET:${secret}`, '--var', `MAX_UPLOAD_BYTES:${5 * GiB}`, '--persist-to', 'bench/tmp/state'], {
  stdio: ['ignore', 'pipe', 'pipe'],
  detached: true,
});
const logs = [];
dev.stdout.on('data', (d) => logs.push(d.toString()));
dev.stderr.on('data', (d) => logs.push(d.toString()));
const stop = () => { try { process.kill(-dev.pid, 'SIGTERM'); } catch {} };
process.on('exit', stop);

try {
  const base = `http://127.0.0.1:${PORT}`;
  for (let i = 0; ; i++) {
    try { if ((await fetch(`${base}/healthz`)).ok) break; } catch {}
    if (i > 600) throw new Error(`wrangler dev did not start:\n${logs.join('')}`);
    await new Promise((r) => setTimeout(r, 200));
  }
  execFileSync('npx', ['wrangler', 'd1', 'migrations', 'apply', 'DB', '--local', '--persist-to', 'bench/tmp/state'], { stdio: 'ignore' });
  const pid = workerdPid(dev.pid, PORT);
  if (!pid) throw new Error('workerd process not found');
  const auth = { authorization: `Bearer ${sign(claimsFor('bench'), { key: secret })}` };
  const idle = rssKiB(pid) / 1024;
  const rows = [];
  for (const [label, size] of [['1 MiB', 1 << 20], ['1 GiB', GiB]]) {
    const key = `bench/${label.replace(' ', '')}.bin`;
    const m = await sampled(pid, () => putGenerated(`${base}/files/${key}`, size, { ...auth, 'content-type': 'application/octet-stream' }));
    if (m.result.status !== 201) throw new Error(`${label}: ${m.result.status} ${m.result.body}`);
    const back = await getHashed(`${base}/files/${key}`, { ...auth, 'accept-encoding': 'identity' });
    if (back.sha256 !== m.result.sha256) throw new Error(`${label}: download hash differs`);
    rows.push({ label, size, ...m });
  }
  const md = [
    '# Worker memory during uploads (R2 binding, `wrangler dev`)',
    '',
    `Measured ${new Date().toISOString()} by \`node bench/memory.mjs\`: RSS of the workerd process sampled every 20 ms while a client streams the body; the download's SHA-256 was checked against the upload's.`,
    '',
    `Idle workerd RSS before the uploads: ${idle.toFixed(0)} MiB.`,
    '',
    '| upload | peak workerd RSS | wall time | throughput | workerd CPU | CPU per GiB |',
    '|---|---|---|---|---|---|',
    ...rows.map((r) => `| ${r.label} | ${r.peakMiB.toFixed(0)} MiB | ${r.seconds.toFixed(2)} s | ${(r.size / 2 ** 20 / r.seconds).toFixed(0)} MiB/s | ${r.cpu.toFixed(2)} s | ${(r.cpu / (r.size / GiB)).toFixed(2)} s |`),
    '',
    'workerd here also runs the local R2 and D1 simulators, which write the object to disk, so its CPU includes the simulated store.',
    '',
  ].join('\n');
  fs.writeFileSync('bench/memory.md', md);
  console.log(md);
} finally {
  stop();
}
