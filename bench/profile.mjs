// Where a small upload's CPU goes. Measures, in one run, the CPU time of the workerd process
// per request for (1) a bare JavaScript Worker doing nothing, one D1 insert, one D1 batch
// shaped like the gateway's commit, and one queue send; and (2) this gateway taking 4 KiB
// PUTs (S3 backend) with the EVENTS queue and its consumer, with the queue but no consumer,
// and without the queue. On this machine the D1 and queue simulators run inside the Worker's
// workerd process, so their work shows up as the Worker's CPU, as the reference Worker's
// insert does in bench/results.md. Writes bench/profile.md. Run: node bench/profile.mjs
// (after bash scripts/build.sh).
import fs from 'node:fs';
import http from 'node:http';
import os from 'node:os';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { Miniflare } from 'miniflare';
import { applyMigrations } from '../tests/support/gateway.mjs';
import { startS3 } from '../tests/support/s3server.mjs';
import { sign, claimsFor, randomSecret } from '../scripts/lib/jwt.mjs';
import { put, cpuSeconds, newestWorkerd } from './lib/measure.mjs';
import { EVENTS_QUEUE, startWorker } from './lib/worker.mjs';

const root = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '..');
const N = Number(process.env.BENCH_PROFILE_COUNT || 1000);
const CONCURRENCY = 32;
// Long enough for the consumer to work through the backlog of events (batches of 10).
const SETTLE_MS = Number(process.env.BENCH_PROFILE_SETTLE_MS || 20_000);
const secret = randomSecret();
const BASELINE = process.env.BENCH_BASELINE;
const BASELINE_LABEL = process.env.BENCH_BASELINE_LABEL || BASELINE;

/** CPU ms per request and requests/s for `N` calls of `send`, CONCURRENCY at a time. */
async function cpuPer(pid, send, settleMs = 0) {
  let next = 0;
  const c0 = cpuSeconds(pid);
  const t0 = performance.now();
  await Promise.all(Array.from({ length: CONCURRENCY }, async () => {
    while (next < N) await send(next++);
  }));
  const seconds = (performance.now() - t0) / 1000;
  // Background work (the queue consumer) finishes after the last answer.
  await new Promise((r) => setTimeout(r, settleMs));
  return { cpuMs: ((cpuSeconds(pid) - c0) * 1000) / N, rps: N / seconds };
}

const get = (agent, url) => new Promise((resolve, reject) => {
  http.get(url, { agent }, (res) => { res.resume(); res.on('end', resolve); }).on('error', reject);
});

const primitives = `export default { async fetch(req, env) {
  const mode = new URL(req.url).searchParams.get('mode');
  const id = crypto.randomUUID();
  const entry = "INSERT INTO pending_uploads (id, key, owner, started_at, storage_key, due_at) VALUES (?1, 'k', 'o', 1, 's', 2)";
  if (mode === 'insert') await env.DB.prepare(entry).bind(id).run();
  if (mode === 'batch') await env.DB.batch([
    env.DB.prepare('SELECT storage_key FROM objects WHERE key = ?1').bind(id),
    env.DB.prepare(entry).bind(id),
    env.DB.prepare("INSERT INTO objects (key, owner, size, content_type, etag, status, created_at, storage_key) SELECT ?1, 'o', 1, 't', 'e', 'complete', 1, 's' WHERE EXISTS (SELECT 1 FROM pending_uploads WHERE id = ?1)").bind(id),
    env.DB.prepare("INSERT INTO event_outbox (id, body, created_at) SELECT ?1, '{}', 1 WHERE EXISTS (SELECT 1 FROM objects WHERE key = ?1)").bind(id),
    env.DB.prepare('DELETE FROM pending_uploads WHERE id = ?1').bind(id),
  ]);
  if (mode === 'announced') await env.DB.batch([
    env.DB.prepare('SELECT storage_key FROM objects WHERE key = ?1').bind(id),
    env.DB.prepare("INSERT INTO objects (key, owner, size, content_type, etag, status, created_at, storage_key, announced) SELECT ?1, 'o', 1, 't', 'e', 'complete', 1, 's', 1 WHERE CAST((julianday('now') - 2440587.5) * 86400000 AS INTEGER) < 9e15 AND NOT EXISTS (SELECT 1 FROM pending_uploads WHERE id = ?1 AND claimed = 1)").bind(id),
  ]);
  if (mode === 'queue') await env.Q.send({ id }, { contentType: 'json' });
  return new Response('ok');
} }`;

const rows = [];
{
  const mf = new Miniflare({ modules: true, script: primitives, d1Databases: ['DB'], queueProducers: { Q: 'q' }, compatibilityDate: '2025-09-01', port: 0 });
  const url = (await mf.ready).toString().replace(/\/$/, '');
  await applyMigrations(await mf.getD1Database('DB'));
  const pid = newestWorkerd();
  const agent = new http.Agent({ keepAlive: true, maxSockets: CONCURRENCY });
  for (const [mode, what] of [['none', 'a request that does nothing'], ['insert', 'one D1 insert'], ['batch', 'one D1 batch shaped like a journaled commit (5 statements)'], ['announced', 'one D1 batch shaped like an announced commit (a read and one upsert)'], ['queue', 'one queue send']]) {
    rows.push({ what: `JavaScript Worker: ${what}`, ...(await cpuPer(pid, () => get(agent, `${url}/?mode=${mode}`))) });
  }
  agent.destroy();
  await mf.dispose();
}

const s3 = await startS3({ dir: fs.existsSync('/dev/shm') ? '/dev/shm' : os.tmpdir() });
try {
  const token = sign(claimsFor('bench', { ttl: 86400 }), { key: secret });
  const headers = { authorization: `Bearer ${token}`, 'content-type': 'application/octet-stream' };
  const variants = [
    ['with the EVENTS queue and its consumer (as deployed)', EVENTS_QUEUE],
    ['with the EVENTS queue, consumer not running', { queueProducers: EVENTS_QUEUE.queueProducers }],
    ['without the EVENTS queue (follow-up in waitUntil)', {}],
    // BENCH_BASELINE=<build dir inside the repository>: an earlier build, as deployed, for a before/after.
    ...(BASELINE ? [[`baseline build (${BASELINE_LABEL}) with the EVENTS queue and its consumer`, EVENTS_QUEUE, path.resolve(BASELINE)]] : []),
  ];
  for (const [name, options, build = path.join(root, 'build')] of variants) {
    const { mf, url, pid } = await startWorker(path.join(build, 'index.js'), { ...s3.vars, JWT_SECRET: secret }, options);
    const agent = new http.Agent({ keepAlive: true, maxSockets: CONCURRENCY });
    rows.push({ what: `this gateway, 4 KiB PUT, ${name}`, ...(await cpuPer(pid, (i) => put(`${url}/files/bench/${i}.bin`, 4096, headers, agent), SETTLE_MS)) });
    agent.destroy();
    await mf.dispose();
  }
} finally {
  s3.close();
}

const fmt = (v, d) => v.toFixed(d);
const lines = [
  '# Where a small upload\'s CPU goes',
  '',
  `Run ${new Date().toISOString()} with \`node bench/profile.mjs\` on ${os.cpus().length} cores, ${N} requests per row at concurrency ${CONCURRENCY}. CPU is the user+system time of the workerd process, which here also runs the D1 and queue simulators, per request (for the gateway, background and consumer work included: it is measured ${SETTLE_MS / 1000} s after the last answer, when the consumer has worked through its backlog).`,
  '',
  '| work | CPU per request | requests/s |',
  '|---|---|---|',
  ...rows.map((r) => `| ${r.what} | ${fmt(r.cpuMs, 2)} ms | ${fmt(r.rps, 0)} |`),
  '',
  'Here each D1 call costs the workerd process about half a millisecond of CPU, since the simulator runs in it; natively the core\'s own work per upload (token, signature, logic) is tens of microseconds (bench/native.md), and in Wasm, behind the runtime\'s JavaScript bindings, it costs more: bench/cpu-profile.md measures the Worker\'s isolate area by area next to a Rust Worker that makes the same calls without the gateway\'s logic (bench/floor-worker) and the JavaScript reference. The gateway\'s 4 KiB PUT (announced, docs/architecture.md) makes one queue send, concurrent with the store PUT, and one D1 batch on the request path, and in the consumer one D1 read; journaled (without the queue, and in the baseline build) it makes two D1 calls on the request path (the journal entry, concurrent with the store PUT, and the commit batch) and, with the queue, a queue send after the answer and in the consumer a share of the batch\'s outbox delete, a row read, a ranged store GET and the sniffed-type update. The JavaScript reference of bench/results.md makes one D1 insert and no other call.',
  '',
];
fs.writeFileSync(path.join(root, 'bench/profile.md'), `${lines.join('\n')}\n`);
console.log(lines.join('\n'));
