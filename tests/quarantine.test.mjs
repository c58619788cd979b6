// Quarantine until scanned, through the built Worker: a new version is served on no download
// path (GET, HEAD, Range, redirect, a presigned GET URL) until a verdict; the upload event's
// scanner URL reads it; `clean` serves it, `infected` deletes it and its event says so; verdicts
// without the `scan` scope or for a replaced version change nothing.
import { test, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { startGateway, eventually } from './support/gateway.mjs';
import { startReceiver } from './support/receiver.mjs';
import { call, tokenFor, assertProblem } from './support/client.mjs';

const PUBLIC_URL = 'https://uploads.example.com';
let gw;
let hook;
const alice = tokenFor('alice');
const scanner = tokenFor('scanner', { scope: 'scan', prefix: 'alice/' });
before(async () => {
  hook = await startReceiver(() => 204);
  gw = await startGateway({
    QUARANTINE: 'true', PUBLIC_URL, URL_SIGNING_SECRET: 's'.repeat(40),
    WEBHOOK_URL: `${hook.url}/hook`, WEBHOOK_SECRET: 'webhook-secret-for-quarantine-tests',
  });
});
after(() => { gw?.close(); hook?.close(); });

const put = (key, body) => call(gw, 'PUT', `/files/${key}`, { token: alice, body, headers: { 'content-type': 'text/plain' } });
const verdict = (key, token, version, v) => call(gw, 'POST', `/files/${key}/verdict`, { token, body: JSON.stringify({ version, verdict: v }) });

/** The webhook deliveries of the upload event of `key`'s version `etag`. */
const uploadEvents = (key, etag) => hook.forKey(key).filter((r) => r.json.type === 'object.uploaded' && r.json.etag === etag);

test('a pending version is served on no download path until a clean verdict, then on all of them', async () => {
  const up = await put('alice/q/doc.txt', 'quarantined bytes');
  assert.equal(up.status, 201, up.text);
  const etag = up.json.etag;
  assertProblem(assert, await call(gw, 'GET', '/files/alice/q/doc.txt', { token: alice }), 409, 'scan_pending');
  assertProblem(assert, await call(gw, 'GET', '/files/alice/q/doc.txt', { token: alice, headers: { range: 'bytes=0-3' } }), 409, 'scan_pending');
  assert.equal((await call(gw, 'HEAD', '/files/alice/q/doc.txt', { token: alice })).status, 409);
  assertProblem(assert, await call(gw, 'GET', '/files/alice/q/doc.txt?redirect=1', { token: alice }), 409, 'scan_pending');
  const signed = await call(gw, 'POST', '/presign', { token: alice, body: JSON.stringify({ method: 'GET', key: 'alice/q/doc.txt', mode: 'gateway' }) });
  assert.equal(signed.status, 200, signed.text);
  const viaUrl = await fetch(signed.json.url);
  assert.equal(viaUrl.status, 409);
  const listed = await call(gw, 'GET', '/files?prefix=alice/q/', { token: alice });
  assert.deepEqual(listed.json.items.map((i) => [i.key, i.scan]), [['alice/q/doc.txt', 'pending']]);

  // The event carries the pending status and a scanner's URL that reads the bytes.
  const delivered = await eventually(() => uploadEvents('alice/q/doc.txt', etag)[0]);
  assert.equal(delivered.json.scan, 'pending');
  const link = delivered.json.scan_download;
  assert.ok(link.url.startsWith(`${PUBLIC_URL}/files/alice/q/doc.txt?`), link.url);
  assert.ok(Date.parse(link.expires_at) > Date.now());
  const scanned = await fetch(link.url.replace(PUBLIC_URL, gw.url));
  assert.equal(scanned.status, 200);
  assert.equal(await scanned.text(), 'quarantined bytes');

  const clean = await verdict('alice/q/doc.txt', scanner, etag, 'clean');
  assert.equal(clean.status, 200, clean.text);
  assert.equal(clean.json.status, 'served');
  assert.equal((await call(gw, 'GET', '/files/alice/q/doc.txt', { token: alice })).text, 'quarantined bytes');
  assert.equal((await call(gw, 'GET', '/files/alice/q/doc.txt', { token: alice, headers: { range: 'bytes=0-3' } })).text, 'quar');
  assert.equal((await fetch(signed.json.url)).status, 200);
  assert.equal((await call(gw, 'GET', '/files?prefix=alice/q/', { token: alice })).json.items[0].scan, undefined);
  assert.equal((await verdict('alice/q/doc.txt', scanner, etag, 'clean')).status, 200, 'a repeated verdict');
});

test('an infected verdict deletes the version, and its event says why', async () => {
  const up = await put('alice/q/bad.txt', 'X5O!P%@AP');
  const res = await verdict('alice/q/bad.txt', scanner, up.json.etag, 'infected');
  assert.equal(res.status, 200, res.text);
  assert.equal(res.json.status, 'deleted');
  assert.equal(await gw.row('alice/q/bad.txt'), null);
  assert.equal(await gw.object('alice/q/bad.txt'), null);
  const deleted = await eventually(() => hook.forKey('alice/q/bad.txt').find((r) => r.json.type === 'object.deleted'));
  assert.equal(deleted.json.reason, 'infected');
  assertProblem(assert, await verdict('alice/q/bad.txt', scanner, up.json.etag, 'infected'), 412, 'precondition_failed');
});

test('forged and stale verdicts are refused and change nothing', async () => {
  const v1 = (await put('alice/q/twice.txt', 'one')).json.etag;
  assertProblem(assert, await verdict('alice/q/twice.txt', alice, v1, 'clean'), 403, 'forbidden');
  assertProblem(assert, await verdict('alice/q/twice.txt', tokenFor('scanner', { scope: 'scan', prefix: 'bob/' }), v1, 'clean'), 403, 'forbidden');
  assertProblem(assert, await verdict('alice/q/twice.txt', scanner, '"forged"', 'clean'), 412, 'precondition_failed');
  const v2 = (await put('alice/q/twice.txt', 'two')).json.etag;
  assertProblem(assert, await verdict('alice/q/twice.txt', scanner, v1, 'clean'), 412, 'precondition_failed');
  assertProblem(assert, await call(gw, 'GET', '/files/alice/q/twice.txt', { token: alice }), 409, 'scan_pending');
  assert.equal((await verdict('alice/q/twice.txt', scanner, v2, 'clean')).status, 200);
  assert.equal((await call(gw, 'GET', '/files/alice/q/twice.txt', { token: alice })).text, 'two');
});

test('a multipart upload is quarantined like a single PUT', async () => {
  const start = await call(gw, 'POST', '/files/alice/q/mp.bin?uploads', { token: alice, body: '{}' });
  const id = start.json.upload_id;
  const part = await call(gw, 'PUT', `/files/alice/q/mp.bin?uploadId=${id}&partNumber=1`, { token: alice, body: 'single part' });
  assert.equal(part.status, 200, part.text);
  const done = await call(gw, 'POST', `/files/alice/q/mp.bin?uploadId=${id}`, { token: alice, body: '{}' });
  assert.equal(done.status, 201, done.text);
  assertProblem(assert, await call(gw, 'GET', '/files/alice/q/mp.bin', { token: alice }), 409, 'scan_pending');
  assert.equal((await gw.row('alice/q/mp.bin')).scan, 'pending');
});
