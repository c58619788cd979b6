// Latency per upload kind under a platform-latency model, and write throughput across many
// namespaces. Locally every database answers in microseconds, so the round trips a request
// makes to its metadata do not show; on the platform each one costs the distance to the
// database. The model adds that cost in the harness only: Miniflare wraps the gateway's `DB`
// (D1) and `SHARDS` (Durable Object) bindings in modules that wait a fixed round-trip time
// before each call passes on, and the S3 store sits behind a proxy that waits before each
// request. The gateway's code is the production build, unchanged.
//
// Reports, per upload kind in bench/operations.md, the median time to the answer with the
// metadata on D1 (a primary D1_RTT_MS away) and on Durable Object shards (SHARD_RTT_MS away),
// the store STORE_RTT_MS away in both, next to the JavaScript reference's single PUT under the
// same model; draws bench/latency.svg. Then, without the model, uploads per second from many
// namespaces in parallel against one D1 database and against the shards, in this machine's
// simulator. Writes bench/latency.md.
//
// Run: node bench/latency.mjs (after bash scripts/build.sh). D1_RTT_MS (40), SHARD_RTT_MS (5),
// STORE_RTT_MS (20), ROUNDS (5), NAMESPACES (32), SECONDS (10), TRIALS (3).
import fs from 'node:fs';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { Miniflare } from 'miniflare';
import { Agent, fetch } from 'undici';
import { applyMigrations, JWT_SECRET } from '../tests/support/gateway.mjs';
import { startS3 } from '../tests/support/s3server.mjs';
import { startFaultProxy } from '../tests/support/faultproxy.mjs';
import { measureKinds } from '../tests/support/rows.mjs';
import { tokenFor } from '../tests/support/client.mjs';
import { barChart } from './lib/svg.mjs';
import { EVENTS_QUEUE, referenceBundle } from './lib/worker.mjs';

const root = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '..');
const MODEL = {
  primary: Number(process.env.D1_RTT_MS ?? 40),
  shard: Number(process.env.SHARD_RTT_MS ?? 5),
  store: Number(process.env.STORE_RTT_MS ?? 20),
};
const ROUNDS = Number(process.env.ROUNDS ?? 5);
const NAMESPACES = Number(process.env.NAMESPACES ?? 32);
const SECONDS = Number(process.env.SECONDS ?? 10);
const TRIALS = Number(process.env.TRIALS ?? 3);

// Each wrapper is a module Miniflare loads into the gateway's own isolate as the binding's
// value (`wrappedBindings`); the real binding is its inner `INNER`, the delay its `RTT`. Their
// classes carry the names the Worker checks a binding's type by.
const sleep = 'const sleep = (ms) => new Promise((r) => setTimeout(r, ms));';
const D1_WRAPPER = `${sleep}
class D1PreparedStatement {
  constructor(inner, rtt) { this.inner = inner; this.rtt = rtt; }
  bind(...values) { return new D1PreparedStatement(this.inner.bind(...values), this.rtt); }
  async run() { await sleep(this.rtt); return this.inner.run(); }
  async all() { await sleep(this.rtt); return this.inner.all(); }
  async first(column) { await sleep(this.rtt); return this.inner.first(column); }
  async raw(options) { await sleep(this.rtt); return this.inner.raw(options); }
}
class D1Database {
  constructor(inner, rtt) { this.inner = inner; this.rtt = rtt; }
  prepare(sql) { return new D1PreparedStatement(this.inner.prepare(sql), this.rtt); }
  async batch(statements) { await sleep(this.rtt); return this.inner.batch(statements.map((s) => s.inner)); }
  async exec(sql) { await sleep(this.rtt); return this.inner.exec(sql); }
}
export default (env) => new D1Database(env.INNER, Number(env.RTT));`;
const SHARDS_WRAPPER = `${sleep}
class DurableObjectStub {
  constructor(inner, rtt) { this.inner = inner; this.rtt = rtt; }
  async fetch(...args) { await sleep(this.rtt); return this.inner.fetch(...args); }
}
class DurableObjectNamespace {
  constructor(inner, rtt) { this.inner = inner; this.rtt = rtt; }
  idFromName(name) { return this.inner.idFromName(name); }
  get(id) { return new DurableObjectStub(this.inner.get(id), this.rtt); }
  getByName(name) { return new DurableObjectStub(this.inner.getByName(name), this.rtt); }
}
export default (env) => new DurableObjectNamespace(env.INNER, Number(env.RTT));`;

const wrapper = (name, script, bindings) => ({ name, modules: true, script, ...bindings });

/**
 * The gateway (or, with `reference`, the JavaScript reference Worker) on S3 through a proxy
 * `storeRtt` away, its metadata `metadataRtt` away: { url, logs, close }.
 */
async function start({ metadata, metadataRtt, storeRtt, reference = false }) {
  const s3 = await startS3();
  const proxy = await startFaultProxy(s3.endpoint, { rate: 0, latencyMs: storeRtt });
  const logs = [];
  const vars = { ...s3.vars, S3_ENDPOINT: proxy.endpoint, JWT_SECRET, METADATA: metadata, MAX_UPLOAD_BYTES: String(64 * 1024 * 1024), UPLOAD_COMMIT_WINDOW_SECONDS: '60' };
  const gateway = {
    name: 'gateway',
    scriptPath: reference ? await referenceBundle() : path.join(root, 'build/index.js'),
    modules: true,
    modulesRules: [{ type: 'CompiledWasm', include: ['**/*.wasm'] }],
    compatibilityDate: '2025-09-01',
    r2Buckets: ['BUCKET'],
    bindings: vars,
    ...EVENTS_QUEUE,
    d1Databases: { DB_DIRECT: 'DB' },
    durableObjects: { SHARDS_DIRECT: { className: 'MetadataShard', useSQLite: true } },
    wrappedBindings: {
      DB: { scriptName: 'delay-d1', bindings: { RTT: metadataRtt } },
      ...(reference ? {} : { SHARDS: { scriptName: 'delay-shards', bindings: { RTT: metadataRtt } } }),
    },
  };
  if (reference) delete gateway.durableObjects;
  const workers = [
    gateway,
    wrapper('delay-d1', D1_WRAPPER, { d1Databases: { INNER: 'DB' } }),
    ...(reference ? [] : [wrapper('delay-shards', SHARDS_WRAPPER, { durableObjects: { INNER: { className: 'MetadataShard', scriptName: 'gateway', useSQLite: true } } })]),
  ];
  const mf = new Miniflare({ workers, port: 0, handleStructuredLogs: ({ level, message }) => { logs.push({ level, message }); } });
  const url = (await mf.ready).toString().replace(/\/$/, '');
  await applyMigrations(await mf.getD1Database('DB_DIRECT'));
  return {
    url,
    logs,
    backend: 's3',
    close: async () => { await mf.dispose(); await proxy.close(); s3.close(); },
  };
}

const median = (xs) => { const s = [...xs].sort((a, b) => a - b); return s[Math.floor(s.length / 2)]; };

/** Each upload kind ROUNDS times, each under its own prefix: kind → median ms to the answer. */
async function latencies(gw) {
  const times = {};
  for (let round = 0; round < ROUNDS; round++) {
    const kinds = await measureKinds(gw, { owner: `lat${round}`, prefix: `lat${round}/k` });
    for (const [kind, k] of Object.entries(kinds)) {
      if (k.status >= 300) throw new Error(`${kind}: ${k.status}`);
      (times[kind] ??= []).push(k.ms);
    }
  }
  return Object.fromEntries(Object.entries(times).map(([kind, ms]) => [kind, median(ms)]));
}

/** The reference's single PUT, ROUNDS times: median ms. */
async function referencePut(gw) {
  const times = [];
  for (let round = 0; round < ROUNDS; round++) {
    const key = `ref${round}/k/small.txt`;
    const started = performance.now();
    const res = await fetch(`${gw.url}/files/${key}`, { method: 'PUT', headers: { authorization: `Bearer ${tokenFor(`ref${round}`)}`, 'content-type': 'text/plain' }, body: 'a'.repeat(4096) });
    await res.text();
    if (res.status >= 300) throw new Error(`reference PUT: ${res.status}`);
    times.push(performance.now() - started);
  }
  return median(times);
}

/**
 * Uploads per second: NAMESPACES clients, each its own owner (namespace), sending 4 KiB PUTs
 * one after another for SECONDS, against `gw`.
 */
async function throughput(gw) {
  const dispatcher = new Agent({ connections: NAMESPACES });
  const end = Date.now() + SECONDS * 1000;
  let done = 0;
  let failed = 0;
  await Promise.all(Array.from({ length: NAMESPACES }, async (_, i) => {
    const owner = `ns${i}`;
    const token = tokenFor(owner);
    for (let n = 0; Date.now() < end; n++) {
      const res = await fetch(`${gw.url}/files/${owner}/f${n}.txt`, { method: 'PUT', dispatcher, headers: { authorization: `Bearer ${token}`, 'content-type': 'text/plain' }, body: 'x'.repeat(4096) });
      await res.text();
      if (res.status === 201) done++; else failed++;
    }
  }));
  await dispatcher.close();
  return { perSecond: done / SECONDS, failed };
}

const results = {};
for (const [name, metadata, rtt] of [['D1', 'd1', MODEL.primary], ['Durable Objects', 'durable-objects', MODEL.shard]]) {
  const gw = await start({ metadata, metadataRtt: rtt, storeRtt: MODEL.store });
  try {
    results[name] = await latencies(gw);
  } finally {
    await gw.close();
  }
}
const ref = await start({ metadata: 'd1', metadataRtt: MODEL.primary, storeRtt: MODEL.store, reference: true });
let referenceMs;
try {
  referenceMs = await referencePut(ref);
} finally {
  await ref.close();
}
// Trials alternate between the backends, each on a fresh gateway, so a slow spell of the
// machine falls on both.
const trials = { D1: [], 'Durable Objects': [] };
for (let t = 0; t < TRIALS; t++) {
  for (const [name, metadata] of [['D1', 'd1'], ['Durable Objects', 'durable-objects']]) {
    const gw = await start({ metadata, metadataRtt: 0, storeRtt: 0 });
    try {
      trials[name].push(await throughput(gw));
    } finally {
      await gw.close();
    }
  }
}
const scale = Object.fromEntries(Object.entries(trials).map(([name, runs]) => {
  const rates = runs.map((r) => r.perSecond).sort((a, b) => a - b);
  return [name, { perSecond: median(rates), low: rates[0], high: rates[rates.length - 1], failed: runs.reduce((n, r) => n + r.failed, 0) }];
}));

const kinds = Object.keys(results.D1);
const ms = (v) => (v == null ? '—' : v.toFixed(1));
const svg = barChart({
  title: `Time to the answer per upload kind: D1 ${MODEL.primary} ms away, shards ${MODEL.shard} ms, store ${MODEL.store} ms (median of ${ROUNDS})`,
  rows: kinds.map((kind) => ({
    label: kind,
    values: [results.D1[kind], results['Durable Objects'][kind], kind === 'single PUT, 4 KiB, new key' ? referenceMs : null],
  })),
  series: [
    { name: 'metadata on D1', unit: 'ms', digits: 0 },
    { name: 'metadata on shards', unit: 'ms', digits: 0 },
    { name: 'JavaScript reference', unit: 'ms', digits: 0 },
  ],
});
fs.writeFileSync(path.join(root, 'bench/latency.svg'), svg);
const lines = [
  '# Latency under a platform-latency model, and writes across namespaces',
  '',
  `Run ${new Date().toISOString()} with \`node bench/latency.mjs\` on this machine (2 cores): the production build on the S3 backend (s3s-fs in RAM), the EVENTS queue as in wrangler.toml, no webhook. Each metadata round trip waits a fixed time in a wrapper Miniflare puts around the binding (D1: each batch; shards: each request to an object, including a shard's one-time registration with the directory), each store request waits in a proxy in front of s3s-fs; production code carries no delay. Model: the D1 primary ${MODEL.primary} ms away, a shard ${MODEL.shard} ms away (an object placed where its owner first uploaded), the store ${MODEL.store} ms away. Times are the client's, from sending the request to the whole answer, median of ${ROUNDS} rounds; each round uses fresh owners, so a round's first call to a shard includes creating it.`,
  '',
  '![time to the answer per upload kind](latency.svg)',
  '',
  '| upload kind | metadata on D1 (ms) | metadata on shards (ms) | shards / D1 | JavaScript reference (ms) |',
  '|---|---|---|---|---|',
  ...kinds.map((kind) => {
    const [d1, shards] = [results.D1[kind], results['Durable Objects'][kind]];
    const reference = kind === 'single PUT, 4 KiB, new key' ? ms(referenceMs) : '—';
    return `| ${kind} | ${ms(d1)} | ${ms(shards)} | ${(shards / d1).toFixed(2)} | ${reference} |`;
  }),
  '',
  'The reference (`bench/reference-worker.js`) does the single PUT only: verify the token, PUT to the store, write the row to D1 (one statement), queue the event; under the same model it pays one store and one D1 round trip, as the gateway\'s announced small upload does.',
  '',
  `How to read it: each kind's time is about its store round trips times ${MODEL.store} ms plus its metadata round trips before the answer (bench/operations.md) times the metadata's distance, plus the body's transfer and the gateway's own work. Moving the metadata from a primary ${MODEL.primary} ms away to a shard ${MODEL.shard} ms away saves ${MODEL.primary - MODEL.shard} ms per metadata round trip; the kinds with more round trips gain more. A round's first call for a new owner also creates its shard and registers its namespace with the directory (one more request, ${MODEL.shard} ms away), which the new-key PUT row includes.`,
  '',
  `## Writes from many namespaces at once`,
  '',
  `Without the latency model: ${NAMESPACES} clients, each its own owner (a namespace), each sending 4 KiB PUTs one after another for ${SECONDS} s, against one gateway; ${TRIALS} trials per backend, alternating between them, each on a fresh gateway.`,
  '',
  '| metadata | uploads/s (median) | lowest – highest | failed |',
  '|---|---|---|---|',
  ...Object.entries(scale).map(([name, s]) => `| ${name} | ${s.perSecond.toFixed(0)} | ${s.low.toFixed(0)} – ${s.high.toFixed(0)} | ${s.failed} |`),
  '',
  "Locally both share this machine's two cores with the gateway, the store and the client, so the figures compare the two paths' work, not the platform's capacity. On the platform the limits differ in kind: one D1 database is one SQLite primary, whose throughput is bounded by its queries' duration, on the order of 1,000 queries a second for 1 ms queries ([D1 limits](https://developers.cloudflare.com/d1/platform/limits/)), and holds at most 10 GB. A 4 KiB upload makes one metadata call on the request path and one in the queue consumer (bench/operations.md), so one database tops out near 500 small uploads a second for all users together, wherever they are. A Durable Object is single-threaded, with a soft limit on the order of 1,000 requests a second per object ([Durable Objects FAQ](https://developers.cloudflare.com/durable-objects/reference/faq/)) and 10 GB of SQLite storage ([Durable Objects limits](https://developers.cloudflare.com/durable-objects/platform/limits/)), with no limit on the number of objects: the same ceiling applies per namespace (per owner), and the total grows with the number of namespaces.",
  '',
];
fs.writeFileSync(path.join(root, 'bench/latency.md'), `${lines.join('\n')}\n`);
console.log(lines.join('\n'));
