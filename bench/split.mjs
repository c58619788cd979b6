#!/usr/bin/env node
// What splitting a namespace that already holds keys costs, on one built gateway with its
// metadata on Durable Object shards (Miniflare), `acme` split into its teams:
// - the time to the answer of a 4 KiB PUT that is the first call of a team's new shard (it
//   registers, begins its move and moves its key in), of one to a key already moved, and of one
//   to a namespace that was never split (the baseline), taking turns, BENCH_SPLIT_ROUNDS (15)
//   rounds, medians;
// - how fast the shards' alarms move BENCH_SPLIT_KEYS (20,000) keys of BENCH_SPLIT_TEAMS (20)
//   teams out of the old shard once the Cron Trigger has named the teams, while a team's
//   listing is read page by page, which must see each of its keys exactly once.
// Writes bench/split.md. Run: node bench/split.mjs (after `bash scripts/build.sh --contract`:
// the test build's route puts the keys in the old shard and counts them).
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { startGateway } from '../tests/support/gateway.mjs';
import { call, tokenFor } from '../tests/support/client.mjs';

const root = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '..');
const ROUNDS = Number(process.env.BENCH_SPLIT_ROUNDS || 15);
const KEYS = Number(process.env.BENCH_SPLIT_KEYS || 20000);
const TEAMS = Number(process.env.BENCH_SPLIT_TEAMS || 20);
const median = (xs) => [...xs].sort((a, b) => a - b)[Math.floor(xs.length / 2)];

const gw = await startGateway({ METADATA: 'durable-objects', METADATA_SPLIT: 'acme' }, { build: 'build-contract' });
const acme = tokenFor('acme', { prefix: 'acme/' });
const bob = tokenFor('bob');

async function shardSql(sql, args, key) {
  const res = await fetch(`${gw.url}/__contract/shards/sql`, { method: 'POST', body: JSON.stringify({ sql, args, key }) });
  if (!res.ok) throw new Error(`shard sql ${res.status}: ${await res.text()}`);
  return JSON.parse(await res.text());
}
const oldShardHolds = async () => (await shardSql('SELECT count(*) AS n FROM objects', [], 'acme')).results[0].n;

async function timedPut(token, key) {
  const t0 = performance.now();
  const res = await call(gw, 'PUT', `/files/${key}`, { token, body: Buffer.alloc(4096, 7), headers: { 'content-type': 'application/octet-stream' } });
  const ms = performance.now() - t0;
  if (res.status !== 201) throw new Error(`PUT ${key}: ${res.status} ${res.text}`);
  return ms;
}

try {
  // `acme` as written before the split: every key in the shard of `acme`.
  const rootToken = tokenFor('root', { prefix: '' });
  await call(gw, 'GET', '/files/acme', { token: rootToken });
  const ids = JSON.stringify(Array.from({ length: KEYS }, (_, i) => i));
  // Numbers bound from JavaScript are floats to SQLite: the team count is written in.
  const name = `'acme/t' || (value % ${TEAMS}) || '/f' || printf('%06d', value)`;
  await shardSql(
    `INSERT INTO objects (key, owner, size, content_type, etag, status, created_at, completed_at, storage_key) SELECT ${name}, 'acme', 1, 'text/plain', '"e"', 'complete', ?2 + value, ?2 + value, ${name} || '~v' FROM json_each(?1)`,
    [ids, Date.now() - KEYS - 1000],
    'acme',
  );

  // Warm up each path once.
  await timedPut(bob, 'bob/warm');
  await timedPut(acme, 'acme/warm/x');
  // Each against the same kind of PUT (a new key, an overwrite) to a namespace never split.
  const times = { first: [], firstBase: [], moved: [], movedBase: [] };
  for (let r = 0; r < ROUNDS; r++) {
    times.first.push(await timedPut(acme, `acme/new${r}/x`));
    times.firstBase.push(await timedPut(bob, `bob/r${r}`));
    times.moved.push(await timedPut(acme, `acme/new${r}/x`));
    times.movedBase.push(await timedPut(bob, `bob/r${r}`));
  }

  // The move: the Cron Trigger names the teams, their alarms move their keys in.
  const before = await oldShardHolds();
  const t0 = performance.now();
  if ((await gw.scheduled()) !== 200) throw new Error('scheduled failed');
  // A team's listing, read page by page while its keys move.
  const seen = [];
  let cursor = '';
  for (;;) {
    const res = await call(gw, 'GET', `/files?prefix=acme/t7/&limit=100${cursor ? `&cursor=${encodeURIComponent(cursor)}` : ''}`, { token: acme });
    if (res.status !== 200) throw new Error(`list: ${res.status} ${res.text}`);
    seen.push(...res.json.items.map((i) => i.key));
    cursor = res.json.cursor;
    if (!cursor) break;
  }
  let left = before;
  const deadline = Date.now() + 600_000;
  while (left > 0 && Date.now() < deadline) {
    await new Promise((r) => setTimeout(r, 100));
    left = await oldShardHolds();
  }
  const moveMs = performance.now() - t0;
  if (left > 0) throw new Error(`${left} keys still in the old shard after 10 minutes`);
  const expected = KEYS / TEAMS;
  const listingOk = seen.length === expected && new Set(seen).size === expected;
  const total = (await shardSql('SELECT count(*) AS n FROM objects WHERE substr(key, 1, 6) = ?1', ['acme/t'])).results.reduce((s, r) => s + r.n, 0);

  const row = (label, xs, base) =>
    `| ${label} | ${median(xs).toFixed(1)} | ${median(base).toFixed(1)} | ${(median(xs) / median(base)).toFixed(2)} |`;
  const md = `# Splitting a namespace that holds keys

\`node bench/split.mjs\` (${new Date().toISOString().slice(0, 10)}, ${os.cpus().length} cores, Miniflare's Durable Objects, R2 simulator,
no latency model): \`acme\` split into its teams (\`METADATA_SPLIT=acme\`) after its shard took
${KEYS.toLocaleString('en')} keys in ${TEAMS} teams.

## Time to the answer, 4 KiB PUT (${ROUNDS} rounds taking turns, medians)

| call | ms | the same PUT to a namespace never split, ms | ratio |
|---|---|---|---|
${row("a new key, the first call of its team's new shard (registers, begins the team's move, moves the key in)", times.first, times.firstBase)}
${row('an overwrite of a key already moved', times.moved, times.movedBase)}

A key not yet moved costs its first call two shard-to-shard requests (the step and its
release); a team's first call also registers with the directory and asks the old shard to move
the team out. Once moved, a key costs what any key costs: each batch first reads the shard's
small move tables, in process.

## Moving the rest

After one Cron Trigger run named the teams, their alarms moved ${before.toLocaleString('en')} keys out
of the old shard in ${(moveMs / 1000).toFixed(1)} s (${Math.round(before / (moveMs / 1000)).toLocaleString('en')} keys/s; ${200} keys a step, up to 25 steps
an alarm, alarms a second apart). Rows under \`acme/t\` afterwards, over every shard:
${total.toLocaleString('en')} (expected ${KEYS.toLocaleString('en')}).

A listing of \`acme/t7/\` read page by page (100 a page) while the keys moved saw
${seen.length.toLocaleString('en')} keys, ${new Set(seen).size.toLocaleString('en')} distinct (expected ${expected.toLocaleString('en')}): ${listingOk ? 'each exactly once' : 'NOT each exactly once'}.
`;
  fs.writeFileSync(path.join(root, 'bench/split.md'), md);
  process.stdout.write(md);
  if (!listingOk || total !== KEYS) process.exitCode = 1;
} finally {
  await gw.close();
}
