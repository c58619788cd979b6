// The work after the answer, run by the EVENTS queue's consumer: content sniffing records the
// real type and flags a spoofed Content-Type on the row, and a signed webhook event reaches
// WEBHOOK_URL.
import { test, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { startGateway, eventually } from './support/gateway.mjs';
import { startReceiver, verifies } from './support/receiver.mjs';
import { call, tokenFor } from './support/client.mjs';

const WEBHOOK_SECRET = 'webhook-secret-for-tests';
const PNG = Buffer.concat([Buffer.from('89504e470d0a1a0a0000000d49484452', 'hex'), Buffer.alloc(64, 7)]);
let gw;
let hook;

before(async () => {
  hook = await startReceiver();
  gw = await startGateway({ WEBHOOK_URL: `${hook.url}/hook`, WEBHOOK_SECRET });
});
after(() => { gw?.close(); hook?.close(); });

test('a PNG uploaded as text/plain is detected as image/png and flagged as a mismatch', async () => {
  const res = await call(gw, 'PUT', '/files/alice/spoof.txt', { token: tokenFor('alice'), headers: { 'content-type': 'text/plain' }, body: PNG });
  assert.equal(res.status, 201);
  const row = await eventually(async () => { const r = await gw.row('alice/spoof.txt'); return r?.detected_type ? r : null; });
  assert.equal(row.detected_type, 'image/png');
  assert.equal(row.type_matches, 0);
});

test('a PNG uploaded as image/png is recorded as a match', async () => {
  await call(gw, 'PUT', '/files/alice/real.png', { token: tokenFor('alice'), headers: { 'content-type': 'image/png' }, body: PNG });
  const row = await eventually(async () => { const r = await gw.row('alice/real.png'); return r?.detected_type ? r : null; });
  assert.equal(row.detected_type, 'image/png');
  assert.equal(row.type_matches, 1);
});

test('each upload posts a webhook event whose signature over its timestamp and body verifies', async () => {
  const res = await call(gw, 'PUT', '/files/alice/hooked.txt', { token: tokenFor('alice'), headers: { 'content-type': 'text/plain' }, body: 'plain text' });
  assert.equal(res.status, 201);
  const event = await eventually(() => hook.forKey('alice/hooked.txt')[0]);
  assert.ok(event, 'webhook event arrived');
  assert.ok(verifies(event, WEBHOOK_SECRET), 'the signature verifies');
  assert.ok(!verifies(event, 'another-secret'), 'and only under the secret');
  assert.ok(Math.abs(Number(event.headers['x-upload-timestamp']) - Date.now() / 1000) < 60, 'a current timestamp');
  const body = event.json;
  assert.equal(body.type, 'object.uploaded');
  assert.equal(body.version, 1);
  assert.equal(body.id, event.headers['x-upload-event-id']);
  assert.equal(event.headers['x-upload-attempt'], '1');
  assert.equal(body.owner, 'alice');
  assert.equal(body.size, 10);
  assert.equal(body.etag, res.json.etag);
  assert.equal(body.detected_type, 'text/plain');
  assert.equal(body.type_matches, true);
});
