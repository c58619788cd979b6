// Announced small uploads through a real (Miniflare) queue and D1: a single PUT of at most
// 64 KiB writes its row complete (sniffed type included) and nothing else; its pending-commit
// message becomes its event; a version replaced before the consumer read its message still gets
// its event; and a message whose version never committed deletes the stored object once its
// deadline has passed by D1's clock.
import { test, before, after } from 'node:test';
import assert from 'node:assert/strict';
import crypto from 'node:crypto';
import { startGateway, eventually } from './support/gateway.mjs';
import { startReceiver } from './support/receiver.mjs';
import { call, tokenFor } from './support/client.mjs';

const WEBHOOK_SECRET = 'webhook-secret-for-the-announce-tests';
const sleep = (ms) => new Promise((r) => setTimeout(r, ms));
const alice = tokenFor('alice');
const PNG = Buffer.from('89504e470d0a1a0a0000000d49484452000000010000000108060000001f15c489', 'hex');
const put = (key, body, type) => call(gw, 'PUT', `/files/${key}`, { token: alice, headers: { 'content-type': type }, body });
const count = async (table) => (await gw.db.prepare(`SELECT count(*) AS n FROM ${table}`).first()).n;

let hook;
let gw;

before(async () => {
  hook = await startReceiver(() => 204);
  gw = await startGateway({ WEBHOOK_URL: `${hook.url}/hook`, WEBHOOK_SECRET }, { logs: true });
});
after(() => { gw?.close(); hook?.close(); });

test('a small upload writes only its row, complete with the sniffed type, and its event arrives once', async () => {
  const [journal, outbox] = [await count('pending_uploads'), await count('event_outbox')];
  const res = await put('alice/an/pic.png', PNG, 'image/png');
  assert.equal(res.status, 201);
  const row = await gw.row('alice/an/pic.png');
  assert.equal(row.detected_type, 'image/png', 'sniffed before the commit');
  assert.equal(row.type_matches, 1);
  assert.equal(row.announced, 1);
  assert.equal(await count('pending_uploads'), journal, 'no journal entry');
  assert.equal(await count('event_outbox'), outbox, 'no outbox row');
  const event = await eventually(() => hook.forKey('alice/an/pic.png')[0], 10_000);
  assert.ok(event, 'delivered');
  assert.equal(event.json.etag, row.etag);
  assert.equal(event.json.detected_type, 'image/png');
  await sleep(2500);
  assert.equal(hook.about(event.json.id).length, 1, 'exactly once');
});

test('a version replaced before the consumer read its message still gets its event, and the replaced object is deleted', async () => {
  const first = await put('alice/an/twice.txt', 'one', 'text/plain');
  const second = await put('alice/an/twice.txt', 'two', 'text/plain');
  assert.deepEqual([first.status, second.status], [201, 201]);
  const both = await eventually(() => hook.forKey('alice/an/twice.txt').length >= 2 && hook.forKey('alice/an/twice.txt'), 10_000);
  assert.ok(both, 'both versions delivered');
  assert.deepEqual(new Set(both.map((r) => r.json.etag)), new Set([first.headers.get('etag'), second.headers.get('etag')]));
  const copy = await gw.db.prepare('SELECT etag FROM replaced_versions WHERE key = ?').bind('alice/an/twice.txt').first();
  assert.equal(copy?.etag, first.headers.get('etag'), 'the replaced announced row was copied');
  const versions = async () => (await gw.storedNames()).filter((n) => n.startsWith('alice/an/twice.txt~')).length;
  assert.ok(await eventually(async () => (await versions()) === 1, 5000), 'only the serving version is stored');
});

test('a pending-commit message whose version never committed deletes its object after the deadline, with no event', async () => {
  const name = `alice/an/orphan.txt~${crypto.randomBytes(16).toString('hex')}`;
  await gw.putDirect(name, 'never committed');
  const queue = await gw.mf.getQueueProducer('EVENTS');
  const deadline = Date.now() + 2000;
  await queue.send({ type: 'upload.pending', version: 1, id: 'evt_orphan', key: 'alice/an/orphan.txt', storage_key: name, deadline_ms: deadline }, { contentType: 'json' });
  const gone = await eventually(async () => (await gw.stored(name)) === null, 20_000);
  assert.ok(gone, 'the unrecorded object was deleted');
  assert.ok(Date.now() >= deadline, 'not before the deadline');
  const lines = gw.logs.map((l) => { try { return JSON.parse(l.message); } catch { return {}; } });
  assert.ok(lines.some((l) => l.msg === 'upload_pending' && l.event_id === 'evt_orphan'), 'looked at before the deadline and left');
  assert.ok(lines.some((l) => l.msg === 'upload_abandoned' && l.event_id === 'evt_orphan'));
  assert.deepEqual(hook.forKey('alice/an/orphan.txt'), [], 'no event for a version that never was');
});
