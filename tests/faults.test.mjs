// The gateway's guarantees under load and faults: a few hundred mixed operations at
// concurrency 64 (tests/support/load.mjs); in S3 mode through a fault-injecting proxy
// (delays, refusals, connections cut mid-body, answers lost after the store applied a write)
// with the S3 server killed and restarted mid-run. Then faults stop, every journal entry and
// multipart upload is made due by backdating (not by waiting), the sweep runs, and invariants
// 1–9 are checked against the bucket, D1 and what the gateway serves. A second test plants one
// violation per check and shows that each check reports it. `npm run soak` runs a longer load
// and writes its figures to bench/faults.md.
import { test, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { BACKEND } from './support/gateway.mjs';
import { startFaultedGateway, loadAndVerify } from './support/faultrun.mjs';
import { checks, takeSnapshot } from './support/invariants.mjs';
import { call, tokenFor } from './support/client.mjs';

const OPS = Number(process.env.FAULT_OPS || 300);
// With a storage quota (ample: refusals are not the point), so every write also reserves and
// releases its bytes under the faults, and invariant 9 checks that the usage comes out exact.
const QUOTA = 2 ** 30;
const alice = tokenFor('alice', { ttl: 3600, quota: { bytes: QUOTA } });
let setup;
let gw;

before(async () => {
  setup = await startFaultedGateway(BACKEND, 11);
  gw = setup.gw;
});
after(() => setup?.close());

test(`after ${OPS} mixed operations at concurrency 64${BACKEND === 's3' ? ' with store faults and a store restart' : ''} and the sweep, invariants 1–9 hold`, async () => {
  const { counts, faults, sweep: report, violations } = await loadAndVerify(setup, alice, { ops: OPS, seed: 11, quota: QUOTA });
  const refused = Object.entries(counts).filter(([k]) => !/ 20[014]/.test(k)).reduce((n, [, v]) => n + v, 0);
  console.log(JSON.stringify({ backend: BACKEND, operations: OPS, counts, faults, sweep: report, refused }, null, 1));
  for (const [name, found] of Object.entries(violations)) assert.deepEqual(found, [], `${name} violated`);
  if (faults) {
    assert.ok(report.unnamedBefore + report.dueBefore > 0, 'the faults left real leftovers for the sweep to repair');
    assert.ok(Object.values(faults).reduce((a, b) => a + b, 0) > 0, 'faults were injected');
  }
});

test('every invariant check reports a planted violation', async () => {
  const put = (key, body) => call(gw, 'PUT', `/files/${key}`, { token: alice, body });
  const fresh = () => ({ acked: new Set(), seen: new Set(), refused: 0 });
  assert.equal((await put('alice/plant/a.bin', 'planted')).status, 201);
  const keys = ['alice/plant/a.bin'];
  // completionsAreWhole: a completion answered with fewer bytes than its acknowledged parts.
  assert.ok(checks.completionsAreWhole({ completions: [{ key: 'alice/plant/mp.bin', size: 10, acknowledged: 12 }] }).length > 0);
  assert.deepEqual(checks.completionsAreWhole({ completions: [{ key: 'alice/plant/mp.bin', size: 12, acknowledged: 12 }] }), []);
  // servedIsAcknowledged: the key serves bytes the history never saw acknowledged.
  let history = { keys: new Map([['alice/plant/a.bin', fresh()]]), inm: new Map() };
  let snap = await takeSnapshot(gw, keys, alice);
  assert.ok(checks.servedIsAcknowledged(history, snap).length > 0);
  // refusedChangesNothing: a key whose writes were all refused, yet it has a row.
  history.keys.get('alice/plant/a.bin').refused = 1;
  assert.ok(checks.refusedChangesNothing(history, snap).length > 0);
  // ifNoneMatchOnce: two winners.
  history = { keys: new Map(), inm: new Map([['alice/plant/a.bin', ['x', 'y']]]) };
  assert.ok(checks.ifNoneMatchOnce(history, snap).length > 0);
  // fullBodiesNotBlamed: a whole body answered incomplete_body.
  assert.ok(checks.fullBodiesNotBlamed({ ...history, blamed: ['alice/plant/a.bin'] }, snap).length > 0);
  // bucketMatchesRows: an object no row names, and a row whose size is wrong.
  assert.deepEqual(checks.bucketMatchesRows(history, snap), []);
  await gw.putDirect(`alice/plant/b.bin~${'f'.repeat(32)}`, 'stray');
  snap = await takeSnapshot(gw, keys, alice);
  assert.ok(checks.bucketMatchesRows(history, snap).some((v) => v.includes('no row names it')));
  await gw.db.prepare('UPDATE objects SET size = size + 1 WHERE key = ?').bind('alice/plant/a.bin').run();
  snap = await takeSnapshot(gw, keys, alice);
  assert.ok(checks.bucketMatchesRows(history, snap).some((v) => v.includes('its row says')));
  // journalSettled: an overdue entry.
  assert.deepEqual(checks.journalSettled(history, snap), []);
  await gw.db.prepare("INSERT INTO pending_uploads (id, key, owner, started_at, storage_key, due_at) VALUES ('planted', 'alice/plant/c.bin', 'alice', 0, 'alice/plant/c.bin~0', 0)").run();
  snap = await takeSnapshot(gw, keys, alice);
  assert.ok(checks.journalSettled(history, snap).length > 0);
  // eventsDelivered: a row whose event never reached the receiver, and an unsent outbox row.
  snap = await takeSnapshot(gw, keys, alice, setup.hook);
  assert.deepEqual(checks.eventsDelivered(history, snap), []);
  await gw.db.prepare("INSERT INTO objects (key, owner, size, content_type, etag, status, created_at, storage_key) VALUES ('alice/plant/d.bin', 'alice', 1, 'text/plain', '\"x\"', 'complete', 0, 'alice/plant/d.bin~0')").run();
  await gw.db.prepare("INSERT INTO event_outbox (id, body, created_at) VALUES ('evt_planted', '{}', 0)").run();
  const planted = { ...(await takeSnapshot(gw, keys, alice)), delivered: snap.delivered };
  const found = checks.eventsDelivered(history, planted);
  assert.ok(found.some((v) => v.startsWith('alice/plant/d.bin')), found.join('; '));
  assert.ok(found.some((v) => v.startsWith('evt_planted')), found.join('; '));
  // usageMatchesRows: usage changed behind the rows' back, a reservation left behind, an owner past its quota.
  assert.deepEqual(checks.usageMatchesRows(history, planted), []);
  await gw.db.prepare("UPDATE owner_usage SET bytes = bytes + 5 WHERE owner = 'alice'").run();
  await gw.db.prepare("INSERT INTO quota_reservations (id, owner, bytes, objects, until_ms) VALUES ('planted', 'alice', 7, 0, ?)").bind(Date.now() + 3_600_000).run();
  const drifted = checks.usageMatchesRows({ ...history, quota: 1 }, await takeSnapshot(gw, keys, alice));
  for (const what of ['usage records', 'outlived its write', 'past its quota']) assert.ok(drifted.some((v) => v.includes(what)), `${what}: ${drifted.join('; ')}`);
});
