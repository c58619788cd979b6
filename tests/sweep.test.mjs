// The Cron Trigger's cleanup sweep through the built Worker: stale upload journal entries are
// reconciled with the store on both backends, and a second run changes nothing.
import { test, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { startGateway } from './support/gateway.mjs';
import { call, tokenFor } from './support/client.mjs';

let gw;
const alice = tokenFor('alice');
const twoHoursAgo = () => Date.now() - 2 * 60 * 60 * 1000;

before(async () => { gw = await startGateway(); });
after(() => gw?.close());

async function journal(id, key, startedAt) {
  await gw.db.prepare('INSERT INTO pending_uploads (id, key, owner, started_at) VALUES (?, ?, ?, ?)').bind(id, key, 'alice', startedAt).run();
}

const journalCount = async () => (await gw.db.prepare('SELECT count(*) AS n FROM pending_uploads').first()).n;

test('the sweep removes uncommitted objects and stale rows, keeps committed ones, and is idempotent', async () => {
  // A committed upload with a leftover journal entry: kept.
  assert.equal((await call(gw, 'PUT', '/files/alice/kept.txt', { token: alice, body: 'kept' })).status, 201);
  await journal('j-kept', 'alice/kept.txt', twoHoursAgo());
  // An object the store holds but no row claims (the commit never happened): removed.
  await gw.putDirect('alice/orphan.txt', 'orphan');
  await journal('j-orphan', 'alice/orphan.txt', twoHoursAgo());
  // A row whose object is gone: removed.
  await gw.db.prepare("INSERT INTO objects (key, owner, size, content_type, etag, status, created_at) VALUES ('alice/ghost.txt', 'alice', 5, 'text/plain', '\"x\"', 'complete', 1)").run();
  await journal('j-ghost', 'alice/ghost.txt', twoHoursAgo());
  // A recent entry (the upload may still be streaming): left alone.
  await gw.putDirect('alice/streaming.txt', 'in flight');
  await journal('j-recent', 'alice/streaming.txt', Date.now());

  assert.equal(await gw.scheduled(), 200);

  assert.equal((await gw.object('alice/kept.txt')).text(), 'kept');
  assert.ok(await gw.row('alice/kept.txt'));
  assert.equal(await gw.object('alice/orphan.txt'), null);
  assert.equal(await gw.row('alice/ghost.txt'), null);
  assert.ok(await gw.object('alice/streaming.txt'));
  assert.equal(await journalCount(), 1, 'only the recent entry remains');

  assert.equal(await gw.scheduled(), 200);
  assert.equal((await gw.object('alice/kept.txt')).text(), 'kept');
  assert.ok(await gw.object('alice/streaming.txt'));
  assert.equal(await journalCount(), 1);
});
