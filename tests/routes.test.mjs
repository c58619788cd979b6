// Downloads, HEAD, DELETE, listing, health, CORS and the generic errors (404, 405, 403),
// against the built Worker with the R2 and D1 simulators.
import { test, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { startGateway } from './support/gateway.mjs';
import { call, tokenFor, md5, assertProblem } from './support/client.mjs';

let gw;
const alice = tokenFor('alice');
const body = '0123456789abcdefghij'; // 20 bytes
let etag;
before(async () => {
  gw = await startGateway({ CORS_ORIGINS: 'https://app.example.com' });
  const res = await call(gw, 'PUT', '/files/alice/file.txt', { token: alice, headers: { 'content-type': 'text/plain' }, body });
  etag = res.headers.get('etag');
});
after(() => gw?.close());

test('GET streams the object with Content-Length, Content-Type, ETag and Last-Modified', async () => {
  // identity: like Cloudflare's edge, the local server compresses text for clients that accept it.
  const res = await call(gw, 'GET', '/files/alice/file.txt', { token: alice, headers: { 'accept-encoding': 'identity' } });
  assert.equal(res.status, 200);
  assert.equal(res.text, body);
  assert.equal(res.headers.get('content-length'), '20');
  assert.equal(res.headers.get('content-type'), 'text/plain');
  assert.equal(res.headers.get('etag'), `"${md5(body).toString('hex')}"`);
  assert.equal(res.headers.get('accept-ranges'), 'bytes');
  assert.ok(!Number.isNaN(Date.parse(res.headers.get('last-modified'))));
});

test('HEAD answers the same headers without a body', async () => {
  const res = await call(gw, 'HEAD', '/files/alice/file.txt', { token: alice });
  assert.equal(res.status, 200);
  assert.equal(res.text, '');
  assert.equal(res.headers.get('content-length'), '20');
  assert.equal(res.headers.get('etag'), etag);
});

for (const [range, status, expected, contentRange] of [
  ['bytes=0-4', 206, '01234', 'bytes 0-4/20'],
  ['bytes=15-', 206, 'fghij', 'bytes 15-19/20'],
  ['bytes=-3', 206, 'hij', 'bytes 17-19/20'],
  ['bytes=18-100', 206, 'ij', 'bytes 18-19/20'],
  ['bytes=0-1,5-6', 200, body, null],
  ['bytes=0-18446744073709551615', 206, body, 'bytes 0-19/20'],
]) {
  test(`Range ${range} answers ${status}${contentRange ? ` with ${contentRange}` : ''}`, async () => {
    const res = await call(gw, 'GET', '/files/alice/file.txt', { token: alice, headers: { range } });
    assert.equal(res.status, status);
    assert.equal(res.text, expected);
    assert.equal(res.headers.get('content-range'), contentRange);
    assert.equal(res.headers.get('content-length'), String(expected.length));
  });
}

for (const range of ['bytes=20-', 'bytes=-0']) {
  test(`an unsatisfiable Range (${range}) answers 416 with Content-Range bytes */size`, async () => {
    const res = await call(gw, 'GET', '/files/alice/file.txt', { token: alice, headers: { range } });
    assertProblem(assert, res, 416, 'range_not_satisfiable');
    assert.equal(res.headers.get('content-range'), 'bytes */20');
  });
}

test('If-Range with the current ETag gets the range; with another ETag the whole object', async () => {
  const same = await call(gw, 'GET', '/files/alice/file.txt', { token: alice, headers: { range: 'bytes=0-4', 'if-range': etag } });
  assert.equal(same.status, 206);
  assert.equal(same.text, '01234');
  const stale = await call(gw, 'GET', '/files/alice/file.txt', { token: alice, headers: { range: 'bytes=0-4', 'if-range': '"stale"', 'accept-encoding': 'identity' } });
  assert.equal(stale.status, 200);
  assert.equal(stale.text, body);
});

test('If-None-Match with the current ETag answers 304; another ETag answers 200', async () => {
  const same = await call(gw, 'GET', '/files/alice/file.txt', { token: alice, headers: { 'if-none-match': etag } });
  assert.equal(same.status, 304);
  assert.equal(same.headers.get('etag'), etag);
  const other = await call(gw, 'GET', '/files/alice/file.txt', { token: alice, headers: { 'if-none-match': '"nope"' } });
  assert.equal(other.status, 200);
  const headSame = await call(gw, 'HEAD', '/files/alice/file.txt', { token: alice, headers: { 'if-none-match': etag } });
  assert.equal(headSame.status, 304);
});

test('If-Match with another ETag answers 412; with the current one 200', async () => {
  const other = await call(gw, 'GET', '/files/alice/file.txt', { token: alice, headers: { 'if-match': '"nope"' } });
  assertProblem(assert, other, 412, 'precondition_failed');
  const same = await call(gw, 'GET', '/files/alice/file.txt', { token: alice, headers: { 'if-match': etag } });
  assert.equal(same.status, 200);
  assert.equal(same.text, body);
});

test('GET and HEAD of a missing key answer 404 not_found', async () => {
  assertProblem(assert, await call(gw, 'GET', '/files/alice/missing', { token: alice }), 404, 'not_found');
  const head = await call(gw, 'HEAD', '/files/alice/missing', { token: alice });
  assert.equal(head.status, 404);
});

test('a token without the read scope is refused with 403 forbidden', async () => {
  const writeOnly = tokenFor('alice', { scope: 'write' });
  assertProblem(assert, await call(gw, 'GET', '/files/alice/file.txt', { token: writeOnly }), 403, 'forbidden');
});

test("a token for another prefix is refused with 403 forbidden on every route", async () => {
  const bob = tokenFor('bob');
  assertProblem(assert, await call(gw, 'GET', '/files/alice/file.txt', { token: bob }), 403, 'forbidden');
  assertProblem(assert, await call(gw, 'PUT', '/files/alice/x', { token: bob, body: 'x' }), 403, 'forbidden');
  assertProblem(assert, await call(gw, 'DELETE', '/files/alice/file.txt', { token: bob }), 403, 'forbidden');
});

test('a token with an exact `key` claim may touch that key and no other', async () => {
  const one = tokenFor('alice', { key: 'shared/one.txt' });
  assert.equal((await call(gw, 'PUT', '/files/shared/one.txt', { token: one, body: 'one' })).status, 201);
  assertProblem(assert, await call(gw, 'PUT', '/files/shared/two.txt', { token: one, body: 'two' }), 403, 'forbidden');
  assertProblem(assert, await call(gw, 'PUT', '/files/alice/x.txt', { token: one, body: 'x' }), 403, 'forbidden');
});

test('DELETE removes object and row and answers 204; a second DELETE answers 404', async () => {
  await call(gw, 'PUT', '/files/alice/doomed.txt', { token: alice, body: 'bye' });
  assert.ok(await gw.row('alice/doomed.txt'));
  const res = await call(gw, 'DELETE', '/files/alice/doomed.txt', { token: alice });
  assert.equal(res.status, 204);
  assert.equal(await gw.object('alice/doomed.txt'), null);
  assert.equal(await gw.row('alice/doomed.txt'), null);
  assertProblem(assert, await call(gw, 'DELETE', '/files/alice/doomed.txt', { token: alice }), 404, 'not_found');
});

test('DELETE needs the delete scope', async () => {
  const rw = tokenFor('alice', { scope: 'read write' });
  assertProblem(assert, await call(gw, 'DELETE', '/files/alice/file.txt', { token: rw }), 403, 'forbidden');
});

test("GET /files lists the caller's uploads newest first, paginated with an opaque cursor", async () => {
  const carol = tokenFor('carol');
  for (let i = 0; i < 5; i++) {
    const r = await call(gw, 'PUT', `/files/carol/list/${i}.txt`, { token: carol, headers: { 'content-type': 'text/plain' }, body: `item ${i}` });
    assert.equal(r.status, 201);
    await new Promise((r) => setTimeout(r, 5));
  }
  await call(gw, 'PUT', '/files/carol/other/x.txt', { token: carol, body: 'x' });
  const seen = [];
  let cursor = '';
  for (let page = 0; page < 5; page++) {
    const res = await call(gw, 'GET', `/files?prefix=carol/list/&limit=2${cursor ? `&cursor=${encodeURIComponent(cursor)}` : ''}`, { token: carol });
    assert.equal(res.status, 200, res.text);
    assert.ok(res.json.items.length <= 2);
    seen.push(...res.json.items.map((i) => i.key));
    for (const item of res.json.items) assert.ok(item.size > 0 && item.etag && item.uploaded_at && item.content_type);
    cursor = res.json.cursor;
    if (!cursor) break;
  }
  assert.deepEqual(seen, ['carol/list/4.txt', 'carol/list/3.txt', 'carol/list/2.txt', 'carol/list/1.txt', 'carol/list/0.txt']);
  const all = await call(gw, 'GET', '/files', { token: carol });
  assert.equal(all.json.items.length, 6);
  assert.ok(all.json.items.every((i) => i.key.startsWith('carol/')));
});

test('GET /files never shows other owners’ uploads and needs the list scope', async () => {
  const dave = tokenFor('dave');
  const res = await call(gw, 'GET', '/files', { token: dave });
  assert.equal(res.status, 200);
  assert.deepEqual(res.json.items, []);
  assertProblem(assert, await call(gw, 'GET', '/files', { token: tokenFor('dave', { scope: 'read' }) }), 403, 'forbidden');
});

test("GET /files stays inside the token's prefix claim", async () => {
  const team = tokenFor('erin', { prefix: 'erin/team/' });
  const full = tokenFor('erin');
  await call(gw, 'PUT', '/files/erin/team/a.txt', { token: full, body: 'a' });
  await call(gw, 'PUT', '/files/erin/private/b.txt', { token: full, body: 'b' });
  const res = await call(gw, 'GET', '/files', { token: team });
  assert.deepEqual(res.json.items.map((i) => i.key), ['erin/team/a.txt']);
  assertProblem(assert, await call(gw, 'GET', '/files?prefix=erin/private/', { token: team }), 403, 'forbidden');
});

test('GET /files refuses a forged cursor and an out-of-range limit with 400', async () => {
  assertProblem(assert, await call(gw, 'GET', '/files?cursor=garbage', { token: alice }), 400, 'bad_request');
  assertProblem(assert, await call(gw, 'GET', '/files?limit=0', { token: alice }), 400, 'bad_request');
  assertProblem(assert, await call(gw, 'GET', '/files?limit=5000', { token: alice }), 400, 'bad_request');
});

test('GET /healthz answers 200 without a token', async () => {
  const res = await call(gw, 'GET', '/healthz');
  assert.equal(res.status, 200);
  assert.deepEqual(res.json, { status: 'ok' });
});

test('unknown paths answer 404 and wrong methods 405 with Allow', async () => {
  assertProblem(assert, await call(gw, 'GET', '/nope'), 404, 'not_found');
  const res = await call(gw, 'PATCH', '/files/alice/x', { token: alice, body: 'x' });
  assertProblem(assert, res, 405, 'method_not_allowed');
  assert.match(res.headers.get('allow'), /PUT, POST/);
  // POST is for multipart uploads and needs `?uploads` or `?uploadId=`.
  assertProblem(assert, await call(gw, 'POST', '/files/alice/x', { token: alice, body: 'x' }), 400, 'bad_request');
  assertProblem(assert, await call(gw, 'PATCH', '/files', { token: alice }), 405, 'method_not_allowed');
});

test('a CORS preflight from an allowed origin is answered with the allowed methods and headers', async () => {
  const res = await call(gw, 'OPTIONS', '/files/alice/x', {
    headers: { origin: 'https://app.example.com', 'access-control-request-method': 'PUT', 'access-control-request-headers': 'authorization, content-type' },
  });
  assert.equal(res.status, 204);
  assert.equal(res.headers.get('access-control-allow-origin'), 'https://app.example.com');
  assert.match(res.headers.get('access-control-allow-methods'), /PUT/);
  assert.match(res.headers.get('access-control-allow-headers'), /Authorization/i);
});

test('responses to an allowed origin expose ETag, Location and Content-Length; others get no CORS grant', async () => {
  const ok = await call(gw, 'PUT', '/files/alice/cors.txt', { token: alice, headers: { origin: 'https://app.example.com' }, body: 'c' });
  assert.equal(ok.headers.get('access-control-allow-origin'), 'https://app.example.com');
  for (const h of ['ETag', 'Location', 'Content-Length']) assert.match(ok.headers.get('access-control-expose-headers'), new RegExp(h));
  const err = await call(gw, 'GET', '/files/alice/missing', { token: alice, headers: { origin: 'https://app.example.com' } });
  assert.equal(err.headers.get('access-control-allow-origin'), 'https://app.example.com');
  const evil = await call(gw, 'GET', '/files/alice/cors.txt', { token: alice, headers: { origin: 'https://evil.example' } });
  assert.equal(evil.headers.get('access-control-allow-origin'), null);
});
