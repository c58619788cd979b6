// Metadata on SQLite Durable Objects (METADATA=durable-objects), whatever GATEWAY_METADATA the
// rest of the suite runs on: the metadata contract inside the built Worker against Miniflare's
// Durable Objects, each shard sweeping itself when its alarm fires, the Cron Trigger finding a
// shard whose alarm was lost, shards that never see each other's rows, and a listing across
// namespaces, and a namespace split after it held keys. Needs the test build (`bash scripts/build.sh --contract`), whose route
// /__contract/shards/sql shows the tests a shard's rows.
import { test, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { startGateway, eventually } from './support/gateway.mjs';
import { call, tokenFor, assertProblem } from './support/client.mjs';

let gw;
// `acme` is split: each of its teams (second path segments) has a shard of its own.
const startSharded = (options = {}) => startGateway({ METADATA: 'durable-objects', METADATA_SPLIT: 'acme' }, { build: 'build-contract', ...options });
before(async () => { gw = await startSharded(); });
after(async () => { await gw?.close(); });

/** Runs `sql` in the shard of `key` (every shard without one): `{ results, changes }`. */
async function shardSql(sql, args = [], key) {
  const res = await fetch(`${gw.url}/__contract/shards/sql`, { method: 'POST', body: JSON.stringify({ sql, args, key }) });
  const text = await res.text();
  assert.equal(res.status, 200, text);
  return JSON.parse(text);
}

async function put(key, body, token) {
  const res = await call(gw, 'PUT', `/files/${key}`, { token, body, headers: { 'content-type': 'text/plain' } });
  assert.equal(res.status, 201, res.text);
  return res;
}

/** A stored object no row names, owned by a journal entry due at `dueAt`, in its key's shard. */
async function strayDueAt(key, dueAt) {
  const name = `${key}~stray${Date.now()}`;
  await gw.putDirect(name, 'stray bytes');
  const owner = key.split('/')[0];
  await shardSql(
    'INSERT INTO pending_uploads (id, key, owner, started_at, storage_key, due_at, claimed) VALUES (?1, ?2, ?3, ?4, ?5, ?6, 0)',
    [`t-${name}`, key, owner, dueAt - 1000, name, dueAt],
    key,
  );
  return name;
}

test('Durable Object shards keep the metadata contract inside the Worker', async () => {
  const res = await fetch(`${gw.url}/__contract/metadata`);
  assert.equal(res.status, 200, await res.clone().text());
  const failed = (await res.json()).filter((o) => o.failure).map((o) => `${o.case}: ${o.failure}`);
  assert.deepEqual(failed, []);
});

test("a shard's due work is done by its own alarm, without the Cron Trigger", async () => {
  const alice = tokenFor('alice');
  await put('alice/alarm/a.txt', 'hello', alice);
  const name = await strayDueAt('alice/alarm/stray.txt', Date.now() + 300);
  // Any call to the shard sets its alarm at its earliest due work.
  assert.equal((await call(gw, 'GET', '/files/alice/alarm/a.txt', { token: alice })).status, 200);
  const swept = await eventually(async () => (await gw.stored(name)) === null, 10000);
  assert.ok(swept, 'the alarm never removed the stray object');
  const left = await shardSql('SELECT id FROM pending_uploads WHERE storage_key = ?1', [name], 'alice/x');
  assert.deepEqual(left.results, [], 'the settled journal entry is still there');
});

test('a shard whose alarm was lost is swept by the Cron Trigger, which asks only the shards with work due', async () => {
  // A gateway of its own: its shards are exactly the ones this test makes.
  const main = gw;
  gw = await startSharded({ logs: true });
  try {
    await put('bob/lost/a.txt', 'hello', tokenFor('bob'));
    await put('frank/idle.txt', 'an idle shard', tokenFor('frank'));
    // Left due with no alarm set for it, as when an alarm is lost (the shard reported it due).
    const name = await strayDueAt('bob/lost/stray.txt', Date.now() - 1000);
    await new Promise((r) => setTimeout(r, 1500));
    assert.notEqual(await gw.stored(name), null, 'something swept the shard before the Cron Trigger');
    const before = gw.logs.length;
    assert.equal(await gw.scheduled(), 200);
    assert.ok(await eventually(async () => (await gw.stored(name)) === null, 10000), 'the backstop did not sweep the shard');
    const sweep = await eventually(() => gw.logs.slice(before).map((l) => l.message).find((m) => m.includes('shards swept')), 5000);
    assert.match(sweep ?? '', /1 shards swept, 0 failed/, 'the Cron Trigger asked a shard with nothing due');
  } finally {
    await gw.close();
    gw = main;
  }
});

test("two namespaces' shards never see each other's rows", async () => {
  await put('carol/own.txt', 'c', tokenFor('carol'));
  await put('dave/own.txt', 'd', tokenFor('dave'));
  const carol = await shardSql('SELECT key FROM objects', [], 'carol/x');
  const dave = await shardSql('SELECT key FROM objects', [], 'dave/x');
  assert.deepEqual(carol.results.map((r) => r.key), ['carol/own.txt']);
  assert.deepEqual(dave.results.map((r) => r.key), ['dave/own.txt']);
  // Each upload id names its key's shard: a tus upload is found by its URL alone.
  const created = await call(gw, 'POST', '/tus', {
    token: tokenFor('carol'),
    headers: { 'tus-resumable': '1.0.0', 'upload-length': '3', 'upload-metadata': `key ${Buffer.from('carol/t.bin').toString('base64')}` },
  });
  assert.equal(created.status, 201, created.text);
  const location = new URL(created.headers.get('location'), gw.url).pathname;
  const patched = await call(gw, 'PATCH', location, {
    token: tokenFor('carol'),
    headers: { 'tus-resumable': '1.0.0', 'upload-offset': '0', 'content-type': 'application/offset+octet-stream' },
    body: 'abc',
  });
  assert.equal(patched.status, 204, patched.text);
  const tus = await shardSql('SELECT key FROM objects WHERE key = ?1', ['carol/t.bin'], 'carol/x');
  assert.equal(tus.results.length, 1, 'the tus upload did not commit in its shard');
  assert.deepEqual((await shardSql('SELECT key FROM objects WHERE key = ?1', ['carol/t.bin'], 'dave/x')).results, []);
});

test('a token whose prefix spans namespaces lists them all, newest first, page by page', async () => {
  const team = tokenFor('erin', { prefix: 'team-' });
  const keys = [];
  for (let i = 0; i < 7; i++) {
    const key = `team-${'abc'[i % 3]}/f${i}.txt`;
    await put(key, `file ${i}`, team);
    keys.push(key);
    await new Promise((r) => setTimeout(r, 5));
  }
  await put('team-a/other.txt', 'not erin', tokenFor('frank', { prefix: 'team-' }));
  const seen = [];
  let cursor = '';
  for (;;) {
    const res = await call(gw, 'GET', `/files?limit=3${cursor ? `&cursor=${encodeURIComponent(cursor)}` : ''}`, { token: team });
    assert.equal(res.status, 200, res.text);
    seen.push(...res.json.items.map((i) => i.key));
    cursor = res.json.cursor;
    if (!cursor) break;
  }
  assert.deepEqual(seen, [...keys].reverse());
});

test("a split namespace keeps each team's keys in its own shard and lists across them", async () => {
  const acme = tokenFor('acme', { prefix: 'acme/' });
  await put('acme/us/a.txt', 'us', acme);
  await new Promise((r) => setTimeout(r, 5));
  await put('acme/uk/b.txt', 'uk', acme);
  await new Promise((r) => setTimeout(r, 5));
  // A multipart upload's id names its team's shard.
  const json = { 'content-type': 'application/json' };
  const started = await call(gw, 'POST', '/files/acme/us/m.bin?uploads', { token: acme, headers: json, body: '{}' });
  assert.equal(started.status, 201, started.text);
  const id = started.json.upload_id;
  const part = await call(gw, 'PUT', `/files/acme/us/m.bin?uploadId=${id}&partNumber=1`, { token: acme, body: 'part' });
  assert.equal(part.status, 200, part.text);
  const done = await call(gw, 'POST', `/files/acme/us/m.bin?uploadId=${id}`, { token: acme, headers: json, body: JSON.stringify({ parts: [{ part_number: 1, etag: part.json.etag }] }) });
  assert.equal(done.status, 201, done.text);
  const us = await shardSql('SELECT key FROM objects ORDER BY key', [], 'acme/us/x');
  const uk = await shardSql('SELECT key FROM objects ORDER BY key', [], 'acme/uk/x');
  assert.deepEqual(us.results.map((r) => r.key), ['acme/us/a.txt', 'acme/us/m.bin']);
  assert.deepEqual(uk.results.map((r) => r.key), ['acme/uk/b.txt']);
  const seen = [];
  let cursor = '';
  for (;;) {
    const res = await call(gw, 'GET', `/files?prefix=acme/&limit=1${cursor ? `&cursor=${encodeURIComponent(cursor)}` : ''}`, { token: acme });
    assert.equal(res.status, 200, res.text);
    seen.push(...res.json.items.map((i) => i.key));
    cursor = res.json.cursor;
    if (!cursor) break;
  }
  assert.deepEqual(seen, ['acme/us/m.bin', 'acme/uk/b.txt', 'acme/us/a.txt']);
});

test('a namespace split after its shard took keys moves each key, history and all, to its new shard, which serves it', async () => {
  const main = gw;
  gw = await startGateway({ METADATA: 'durable-objects', METADATA_SPLIT: 'acme' }, { build: 'build-contract' });
  try {
    // `acme` as written before it was split: every key whole in the shard of `acme` (a call for
    // the key `acme` itself registers that shard's namespace, as its writes did).
    const root = tokenFor('root', { prefix: '' });
    assert.equal((await call(gw, 'GET', '/files/acme', { token: root })).status, 404);
    const legacy = { 'acme/north/old.txt': 'north bytes', 'acme/south/old.txt': 'south bytes', 'acme/top.txt': 'top bytes' };
    let at = Date.now() - 10_000;
    for (const [key, body] of Object.entries(legacy)) {
      await gw.putDirect(`${key}~legacy`, body);
      await shardSql(
        "INSERT INTO objects (key, owner, size, content_type, etag, status, created_at, completed_at, storage_key) VALUES (?1, 'acme', ?2, 'text/plain', '\"e\"', 'complete', ?3, ?3, ?4)",
        [key, body.length, at++, `${key}~legacy`],
        'acme',
      );
    }
    const acme = tokenFor('acme', { prefix: 'acme/' });
    const listed = async () => {
      const res = await call(gw, 'GET', '/files?prefix=acme/', { token: acme });
      assert.equal(res.status, 200, res.text);
      return res.json.items.map((i) => i.key);
    };
    const held = async (shardKey) => (await shardSql('SELECT key FROM objects ORDER BY key', [], shardKey)).results.map((r) => r.key);
    assert.deepEqual(await listed(), ['acme/top.txt', 'acme/south/old.txt', 'acme/north/old.txt']);

    // The first call for a key moves it in: its new shard serves it, the old one holds it no more.
    const got = await call(gw, 'GET', '/files/acme/north/old.txt', { token: acme });
    assert.equal(got.status, 200, got.text);
    assert.equal(got.text, 'north bytes');
    assert.deepEqual(await held('acme/north/x'), ['acme/north/old.txt']);
    assert.deepEqual(await held('acme'), ['acme/south/old.txt', 'acme/top.txt']);
    assert.deepEqual(await listed(), ['acme/top.txt', 'acme/south/old.txt', 'acme/north/old.txt'], 'each key once, moved or not');

    // An overwrite replaces the moved version where the key now is: its bytes are deleted.
    await put('acme/north/old.txt', 'new north', acme);
    assert.ok(await eventually(async () => (await gw.stored('acme/north/old.txt~legacy')) === null, 10000), 'the replaced version stayed');
    assert.equal((await call(gw, 'GET', '/files/acme/north/old.txt', { token: acme })).text, 'new north');

    // The Cron Trigger names the shard keys nobody called; their alarms move their keys in.
    assert.equal(await gw.scheduled(), 200);
    const emptied = await eventually(async () => (await held('acme')).length === 0, 10000);
    assert.ok(emptied, `still in the old shard: ${await held('acme')}`);
    assert.deepEqual(await held('acme/south/x'), ['acme/south/old.txt']);
    assert.deepEqual(await held('acme/top.txt'), ['acme/top.txt']);
    for (const [key, body] of [['acme/south/old.txt', 'south bytes'], ['acme/top.txt', 'top bytes']]) {
      const res = await call(gw, 'GET', `/files/${key}`, { token: acme });
      assert.equal(res.text, body, key);
    }
    assert.deepEqual(await listed(), ['acme/north/old.txt', 'acme/top.txt', 'acme/south/old.txt']);
  } finally {
    await gw.close();
    gw = main;
  }
});
