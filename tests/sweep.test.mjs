// The Cron Trigger's cleanup sweep through the built Worker: due journal entries are settled
// against the store on both backends (each entry's stored name is deleted unless the key's row
// names it), entries not yet due are left alone, and a second run changes nothing.
import { test, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { startGateway } from './support/gateway.mjs';
import { call, tokenFor } from './support/client.mjs';

let gw;
const alice = tokenFor('alice');
const twoHoursAgo = () => Date.now() - 2 * 60 * 60 * 1000;

before(async () => { gw = await startGateway(); });
after(() => gw?.close());

async function journal(id, key, name, dueAt) {
  await gw.db.prepare('INSERT INTO pending_uploads (id, key, owner, started_at, storage_key, due_at) VALUES (?, ?, ?, ?, ?, ?)').bind(id, key, 'alice', dueAt, name, dueAt).run();
}

const journalCount = async () => (await gw.db.prepare('SELECT count(*) AS n FROM pending_uploads').first()).n;

test('the sweep removes unrecorded objects, keeps the ones rows name, waits for entries not yet due, and is idempotent', async () => {
  // A committed upload with a leftover journal entry for its stored name: kept.
  assert.equal((await call(gw, 'PUT', '/files/alice/kept.txt', { token: alice, body: 'kept' })).status, 201);
  const kept = (await gw.row('alice/kept.txt')).storage_key;
  await journal('j-kept', 'alice/kept.txt', kept, twoHoursAgo());
  // An object the store holds under a name no row names (the commit never happened): removed.
  const orphan = `alice/orphan.txt~${'0'.repeat(32)}`;
  await gw.putDirect(orphan, 'orphan');
  await journal('j-orphan', 'alice/orphan.txt', orphan, twoHoursAgo());
  // An entry not yet due (the upload may still be streaming): left alone.
  const streaming = `alice/streaming.txt~${'1'.repeat(32)}`;
  await gw.putDirect(streaming, 'in flight');
  await journal('j-recent', 'alice/streaming.txt', streaming, Date.now() + 3600 * 1000);

  assert.equal(await gw.scheduled(), 200);

  assert.equal((await gw.object('alice/kept.txt')).text(), 'kept');
  assert.ok(await gw.row('alice/kept.txt'));
  assert.equal(await gw.stored(orphan), null);
  assert.ok(await gw.stored(streaming));
  assert.equal(await journalCount(), 1, 'only the entry not yet due remains');

  assert.equal(await gw.scheduled(), 200);
  assert.equal((await gw.object('alice/kept.txt')).text(), 'kept');
  assert.ok(await gw.stored(streaming));
  assert.equal(await journalCount(), 1);
});
