#!/usr/bin/env node
// What holding an owner to one quota across Durable Object shards costs a write: the time to
// the answer of a 4 KiB PUT with a quota, on one built gateway with its metadata on shards
// (Miniflare, no latency model), to a key in the owner's own namespace (its ledger's shard,
// one reservation) and to a key in another namespace (a reservation there and one at the
// owner's home, concurrently), and the same two without a quota. Taking turns,
// BENCH_QUOTA_ROUNDS (40) rounds, medians. Writes bench/quota-shards.md. Run:
// node bench/quota-shards.mjs (after `npm run build`).
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { startGateway } from '../tests/support/gateway.mjs';
import { call, tokenFor } from '../tests/support/client.mjs';

const root = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '..');
const ROUNDS = Number(process.env.BENCH_QUOTA_ROUNDS || 40);
const median = (xs) => [...xs].sort((a, b) => a - b)[Math.floor(xs.length / 2)];
const body = Buffer.alloc(4096, 7);

const gw = await startGateway({ METADATA: 'durable-objects' }, { build: 'build' });
const limited = tokenFor('quinn', { prefix: '', quota: { bytes: 1024 ** 4 } });
const free = tokenFor('quinn', { prefix: '' });

async function timedPut(token, key) {
  const t0 = performance.now();
  const res = await call(gw, 'PUT', `/files/${key}`, { token, body, headers: { 'content-type': 'application/octet-stream' } });
  const ms = performance.now() - t0;
  if (res.status !== 201) throw new Error(`PUT ${key}: ${res.status} ${res.text}`);
  return ms;
}

try {
  const cases = {
    'own namespace, no quota': (r) => timedPut(free, `quinn/free-${r}`),
    'own namespace, quota': (r) => timedPut(limited, `quinn/q-${r}`),
    'another namespace, no quota': (r) => timedPut(free, `elsewhere/free-${r}`),
    'another namespace, quota (reserved at the home too)': (r) => timedPut(limited, `elsewhere/q-${r}`),
  };
  const times = Object.fromEntries(Object.keys(cases).map((k) => [k, []]));
  for (const run of Object.values(cases)) await run('warm');
  for (let r = 0; r < ROUNDS; r++) {
    for (const [name, run] of Object.entries(cases)) times[name].push(await run(r));
  }
  const base = (name) => (name.startsWith('own') ? 'own namespace, no quota' : 'another namespace, no quota');
  const rows = Object.keys(cases).map((name) => `| ${name} | ${median(times[name]).toFixed(1)} | ${(median(times[name]) / median(times[base(name)])).toFixed(2)} |`);
  const md = `# An owner's quota across shards

\`node bench/quota-shards.mjs\` (${new Date().toISOString().slice(0, 10)}, ${os.cpus().length} cores, Miniflare's Durable Objects, R2 simulator, no
latency model): 4 KiB PUTs by one owner, ${ROUNDS} rounds taking turns, medians.

| PUT | ms | vs. the same namespace without a quota |
|---|---|---|
${rows.join('\n')}

With a quota, a write in the owner's own namespace reserves in its own shard (one more request
before the body). One in another namespace reserves there and at the owner's home at once: two
requests, one round trip's wait. Its shard reports to the home afterwards, from its alarm, off
the request's path. Here both requests, and the alarm each such write sets for its report, run
on the same ${os.cpus().length} cores as the next request.
`;
  fs.writeFileSync(path.join(root, 'bench/quota-shards.md'), md);
  process.stdout.write(md);
} finally {
  await gw.close();
}
