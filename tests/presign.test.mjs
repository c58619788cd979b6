// Presigned URLs through the built Worker on both backends: gateway URLs used by a plain HTTP
// client (single use, tampering, expiry), generated keys, redirect downloads with a file name,
// and on S3 direct-to-store uploads with the confirm step.
import { test, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { fetch } from 'undici';
import { startGateway, BACKEND } from './support/gateway.mjs';
import { call, tokenFor, assertProblem } from './support/client.mjs';

const URL_SIGNING_SECRET = 'url-signing-secret-for-tests-0123456789';
let gw;
const alice = tokenFor('alice');

before(async () => { gw = await startGateway({ URL_SIGNING_SECRET }); });
after(() => gw?.close());

async function presign(body, token = alice) {
  return call(gw, 'POST', '/presign', { token, headers: { 'content-type': 'application/json' }, body: JSON.stringify(body) });
}

async function presigned(body) {
  const res = await presign(body);
  assert.equal(res.status, 200, res.text);
  return res.json;
}

/** A request with no token: the URL alone authorises it. */
async function send(url, { method = 'GET', headers = {}, body } = {}) {
  const res = await fetch(url, { method, headers, body, redirect: 'manual' });
  const bytes = Buffer.from(await res.arrayBuffer());
  let json = null;
  if ((res.headers.get('content-type') || '').includes('json') && bytes.length) json = JSON.parse(bytes.toString());
  return { status: res.status, headers: res.headers, bytes, text: bytes.toString(), json };
}

test('a gateway PUT URL uploads once, with no token, and records the owner', async () => {
  const a = await presigned({ key: 'alice/ps/once.txt', content_type: 'text/plain', mode: 'gateway' });
  assert.equal(a.mode, 'gateway');
  assert.ok(a.url.startsWith(`${gw.url}/files/alice/ps/once.txt?`), a.url);
  const put = await send(a.url, { method: 'PUT', headers: a.headers, body: 'first' });
  assert.equal(put.status, 201, put.text);
  assert.equal((await gw.object('alice/ps/once.txt')).text(), 'first');
  assert.equal((await gw.row('alice/ps/once.txt')).owner, 'alice');
  const again = await send(a.url, { method: 'PUT', headers: a.headers, body: 'second' });
  assertProblem(assert, again, 410, 'url_already_used');
  assert.equal((await gw.object('alice/ps/once.txt')).text(), 'first');
});

test('tampering with a gateway URL is 403 and an expired one is refused', async () => {
  const a = await presigned({ key: 'alice/ps/t.txt', content_type: 'text/plain', size: 4, mode: 'gateway' });
  const bigger = a.url.replace('max_size=4', 'max_size=4000');
  assert.notEqual(bigger, a.url);
  assertProblem(assert, await send(bigger, { method: 'PUT', headers: a.headers, body: 'long body' }), 403, 'invalid_signature');
  const elsewhere = a.url.replace('/files/alice/ps/t.txt', '/files/alice/ps/u.txt');
  assertProblem(assert, await send(elsewhere, { method: 'PUT', headers: a.headers, body: 'abcd' }), 403, 'invalid_signature');
  const short = await presigned({ key: 'alice/ps/e.txt', expires_in: 1, mode: 'gateway' });
  await new Promise((r) => setTimeout(r, 2100));
  assertProblem(assert, await send(short.url, { method: 'PUT', headers: short.headers, body: 'late' }), 403, 'url_expired');
  assert.equal(await gw.object('alice/ps/e.txt'), null);
});

test('a key is generated under the token prefix with the file extension', async () => {
  const a = await presigned({ filename: 'Scan 2026.PDF', content_type: 'application/pdf', mode: 'gateway' });
  assert.match(a.key, /^alice\/[0-9a-f-]{36}\.pdf$/);
  const put = await send(a.url, { method: 'PUT', headers: a.headers, body: '%PDF-1.7 test' });
  assert.equal(put.status, 201, put.text);
  assert.equal(put.json.key, a.key);
  assertProblem(assert, await presign({ key: 'bob/x.txt' }), 403, 'forbidden');
});

test('a redirect download answers 302 to a URL that serves the file as an attachment', async () => {
  assert.equal((await call(gw, 'PUT', '/files/alice/ps/report.txt', { token: alice, headers: { 'content-type': 'text/plain' }, body: 'report body' })).status, 201);
  const res = await send(`${gw.url}/files/alice/ps/report.txt?redirect=1&download=Q3%20r%C3%A9sum%C3%A9.txt`, { headers: { authorization: `Bearer ${alice}` } });
  assert.equal(res.status, 302);
  const location = res.headers.get('location');
  assert.ok(location.startsWith(BACKEND === 's3' ? gw.s3.endpoint : gw.url), location);
  const got = await send(location);
  assert.equal(got.status, 200);
  assert.equal(got.text, 'report body');
  assert.equal(got.headers.get('content-disposition'), "attachment; filename=\"Q3 r_sum_.txt\"; filename*=UTF-8''Q3%20r%C3%A9sum%C3%A9.txt");
});

test('a gateway GET URL from /presign downloads without a token', async () => {
  const a = await presigned({ method: 'GET', key: 'alice/ps/report.txt', filename: 'report.txt', mode: 'gateway' });
  const got = await send(a.url);
  assert.equal(got.text, 'report body');
  assert.match(got.headers.get('content-disposition'), /^attachment; filename="report.txt"/);
  assertProblem(assert, await send(a.url.replace('report.txt?', 'other.txt?')), 403, 'invalid_signature');
});

test('direct mode is refused on the R2 binding', { skip: BACKEND !== 'r2' }, async () => {
  assertProblem(assert, await presign({ key: 'alice/ps/d.txt', mode: 'direct' }), 400, 'bad_request');
});

test('a direct URL uploads straight to S3 and confirm records it', { skip: BACKEND !== 's3' }, async () => {
  const body = Buffer.from('direct bytes');
  const a = await presigned({ key: 'alice/ps/direct.txt', content_type: 'text/plain', size: body.length });
  assert.equal(a.mode, 'direct');
  assert.ok(a.url.startsWith(`${gw.s3.endpoint}/`), a.url);
  const put = await send(a.url, { method: 'PUT', headers: a.headers, body });
  assert.equal(put.status, 200, put.text);
  assert.equal(await gw.row('alice/ps/direct.txt'), null, 'not recorded before the confirm');
  const res = await call(gw, 'POST', '/files/alice/ps/direct.txt/confirm', { token: alice });
  assert.equal(res.status, 201, res.text);
  assert.equal(res.json.size, body.length);
  assert.equal((await gw.row('alice/ps/direct.txt')).content_type, 'text/plain');
  assertProblem(assert, await call(gw, 'POST', '/files/alice/ps/direct.txt/confirm', { token: alice }), 404, 'not_found');
  // The URL only creates: reused after the confirm, it cannot swap the recorded object.
  const reuse = await send(a.url, { method: 'PUT', headers: a.headers, body: Buffer.from('swapped byte') });
  assert.equal(reuse.status, 412, reuse.text);
  assert.equal((await gw.object('alice/ps/direct.txt')).text(), 'direct bytes');
});

test('overlapping confirms of one direct upload (a double submit, an SDK retry) never delete the object they recorded', { skip: BACKEND !== 's3' }, async () => {
  for (let round = 0; round < 5; round++) {
    const key = `alice/ps/double-${round}.txt`;
    const body = Buffer.from(`confirmed bytes ${round}`);
    const a = await presigned({ key, content_type: 'text/plain', size: body.length });
    assert.equal((await send(a.url, { method: 'PUT', headers: a.headers, body })).status, 200);
    const answers = await Promise.all([0, 1, 2].map(() => call(gw, 'POST', `/files/${key}/confirm`, { token: alice })));
    assert.ok(answers.some((r) => r.status === 201), answers.map((r) => r.text).join(' | '));
    for (const r of answers) assert.ok([201, 404].includes(r.status), `a confirm answered ${r.status} ${r.text}`);
    // The follow-ups (deleting a replaced version, if any) run after the answers.
    await new Promise((r) => setTimeout(r, 1500));
    const get = await call(gw, 'GET', `/files/${key}`, { token: alice });
    assert.equal(get.status, 200, `round ${round}: ${get.text}`);
    assert.equal(get.text, body.toString());
  }
});

test('a direct URL refuses a body of another type or size', { skip: BACKEND !== 's3' }, async () => {
  const a = await presigned({ key: 'alice/ps/typed.txt', content_type: 'text/plain', size: 5 });
  const wrongType = await send(a.url, { method: 'PUT', headers: { ...a.headers, 'content-type': 'text/html' }, body: 'hello' });
  assert.equal(wrongType.status, 403, 'the store checks the signed Content-Type');
  const wrongSize = await send(a.url, { method: 'PUT', headers: { 'content-type': 'text/plain' }, body: 'hello!' });
  assert.equal(wrongSize.status, 403, 'the store checks the signed Content-Length');
  assertProblem(assert, await call(gw, 'POST', '/files/alice/ps/typed.txt/confirm', { token: alice }), 400, 'bad_request');
});

test('a direct upload URL always signs a length within the token\'s limit', { skip: BACKEND !== 's3' }, async () => {
  // Without a signed length the store would take any size, whatever the token's max_size.
  const capped = tokenFor('alice', { max_size: 4 });
  assertProblem(assert, await presign({ key: 'alice/ps/big.bin' }, capped), 400, 'bad_request');
  assertProblem(assert, await presign({ key: 'alice/ps/big.bin', size: 14 }, capped), 413, 'payload_too_large');
  const res = await presign({ key: 'alice/ps/big.bin', size: 4 }, capped);
  assert.equal(res.status, 200, res.text);
  const put = await send(res.json.url, { method: 'PUT', headers: { 'content-type': res.json.headers['content-type'] }, body: 'too many bytes' });
  assert.equal(put.status, 403, 'the store checks the signed Content-Length');
  assert.equal(await gw.object('alice/ps/big.bin'), null);
  assert.equal(await gw.row('alice/ps/big.bin'), null);
});
