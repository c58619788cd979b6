// The work after the answer (waitUntil): content sniffing records the real type and flags a
// spoofed Content-Type on the row, and a signed webhook event reaches WEBHOOK_URL.
import { test, before, after } from 'node:test';
import assert from 'node:assert/strict';
import http from 'node:http';
import crypto from 'node:crypto';
import { startGateway, eventually } from './support/gateway.mjs';
import { call, tokenFor } from './support/client.mjs';

const WEBHOOK_SECRET = 'webhook-secret-for-tests';
const PNG = Buffer.concat([Buffer.from('89504e470d0a1a0a0000000d49484452', 'hex'), Buffer.alloc(64, 7)]);
let gw;
let hook;
const events = [];

before(async () => {
  hook = http.createServer((req, res) => {
    let body = '';
    req.on('data', (c) => { body += c; });
    req.on('end', () => {
      events.push({ signature: req.headers['x-upload-signature'], body });
      res.writeHead(204).end();
    });
  });
  await new Promise((r) => hook.listen(0, '127.0.0.1', r));
  gw = await startGateway({ WEBHOOK_URL: `http://127.0.0.1:${hook.address().port}/hook`, WEBHOOK_SECRET });
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

test('each upload posts a webhook event whose HMAC-SHA256 signature verifies', async () => {
  const res = await call(gw, 'PUT', '/files/alice/hooked.txt', { token: tokenFor('alice'), headers: { 'content-type': 'text/plain' }, body: 'plain text' });
  assert.equal(res.status, 201);
  const event = await eventually(() => events.find((e) => JSON.parse(e.body).key === 'alice/hooked.txt'));
  assert.ok(event, 'webhook event arrived');
  const expected = 'sha256=' + crypto.createHmac('sha256', WEBHOOK_SECRET).update(event.body).digest('hex');
  assert.equal(event.signature, expected);
  const body = JSON.parse(event.body);
  assert.equal(body.type, 'object.uploaded');
  assert.equal(body.owner, 'alice');
  assert.equal(body.size, 10);
  assert.equal(body.etag, res.json.etag);
  assert.equal(body.detected_type, 'text/plain');
  assert.equal(body.type_matches, true);
});
