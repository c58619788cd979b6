// PUT /files/{key}: what a stored upload answers and records, and every way an upload is
// refused before (or while) its body is read. Runs against the built Worker with the R2 and
// D1 simulators.
import { test, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { startGateway } from './support/gateway.mjs';
import { call, tokenFor, sha256, md5, assertProblem } from './support/client.mjs';

let gw;
const alice = tokenFor('alice');
before(async () => { gw = await startGateway({ MAX_UPLOAD_BYTES: '1000', ALLOWED_CONTENT_TYPES: 'text/*,image/*,application/octet-stream' }); });
after(() => gw?.close());

test('a valid upload answers 201 with ETag, Location and the JSON body, and records a complete row', async () => {
  const body = 'hello world';
  const res = await call(gw, 'PUT', '/files/alice/docs/hello.txt', { token: alice, headers: { 'content-type': 'text/plain; charset=utf-8' }, body });
  assert.equal(res.status, 201, res.text);
  assert.equal(res.headers.get('etag'), `"${md5(body).toString('hex')}"`);
  assert.equal(res.headers.get('location'), '/files/alice/docs/hello.txt');
  assert.equal(res.json.key, 'alice/docs/hello.txt');
  assert.equal(res.json.size, 11);
  assert.equal(res.json.etag, res.headers.get('etag'));
  assert.equal(res.json.content_type, 'text/plain');
  assert.match(res.json.uploaded_at, /^\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d\.\d{3}Z$/);
  const row = await gw.row('alice/docs/hello.txt');
  assert.equal(row.owner, 'alice');
  assert.equal(row.size, 11);
  assert.equal(row.content_type, 'text/plain');
  assert.equal(row.etag, res.json.etag);
  assert.equal(row.status, 'complete');
  assert.ok(row.created_at > 0 && row.completed_at >= row.created_at);
  const stored = await gw.object('alice/docs/hello.txt');
  assert.equal(stored.text(), body);
  const journal = await gw.db.prepare('SELECT count(*) AS n FROM pending_uploads WHERE key = ?').bind('alice/docs/hello.txt').first();
  assert.equal(journal.n, 0, 'the upload journal entry is cleared with the commit');
});

test('an upload without Content-Length is refused with 411 length_required', async () => {
  const stream = new ReadableStream({ start(c) { c.enqueue(new TextEncoder().encode('abc')); c.close(); } });
  const res = await call(gw, 'PUT', '/files/alice/chunked.txt', { token: alice, headers: { 'content-type': 'text/plain' }, body: stream });
  assertProblem(assert, res, 411, 'length_required');
  assert.equal(await gw.object('alice/chunked.txt'), null);
});

test('a body over MAX_UPLOAD_BYTES is refused with 413 before anything is stored', async () => {
  const res = await call(gw, 'PUT', '/files/alice/big.bin', { token: alice, body: Buffer.alloc(1001) });
  assertProblem(assert, res, 413, 'payload_too_large');
  assert.equal(await gw.object('alice/big.bin'), null);
  assert.equal(await gw.row('alice/big.bin'), null);
});

test("a body over the token's max_size is refused with 413 even under MAX_UPLOAD_BYTES", async () => {
  const small = tokenFor('alice', { max_size: 10 });
  const res = await call(gw, 'PUT', '/files/alice/eleven.bin', { token: small, body: Buffer.alloc(11) });
  assertProblem(assert, res, 413, 'payload_too_large');
  const ok = await call(gw, 'PUT', '/files/alice/ten.bin', { token: small, body: Buffer.alloc(10) });
  assert.equal(ok.status, 201);
});

test('a content type outside ALLOWED_CONTENT_TYPES is refused with 415', async () => {
  const res = await call(gw, 'PUT', '/files/alice/x.pdf', { token: alice, headers: { 'content-type': 'application/pdf' }, body: '%PDF-1.4' });
  assertProblem(assert, res, 415, 'unsupported_media_type');
});

test("a content type outside the token's content_types is refused with 415", async () => {
  const imagesOnly = tokenFor('alice', { content_types: ['image/*'] });
  const res = await call(gw, 'PUT', '/files/alice/x.txt', { token: imagesOnly, headers: { 'content-type': 'text/plain' }, body: 'x' });
  assertProblem(assert, res, 415, 'unsupported_media_type');
  const ok = await call(gw, 'PUT', '/files/alice/x.png', { token: imagesOnly, headers: { 'content-type': 'image/png' }, body: 'x' });
  assert.equal(ok.status, 201);
});

for (const [name, path] of [
  // Dot segments written as such are resolved by URL parsing before any server sees them;
  // with encoded slashes they reach the gateway and must be refused.
  ['a `..` segment', '/files/alice%2F..%2Fbob%2Fx'],
  ['an empty segment', '/files/alice//x'],
  ['a `.` segment', '/files/alice%2F.%2Fx'],
  ['a trailing slash', '/files/alice/dir/'],
  ['a control character', '/files/alice/a%01b'],
  ['a malformed percent-escape', '/files/alice/a%zzb'],
  ['invalid UTF-8', '/files/alice/a%ffb'],
  ['a key over 1024 bytes', `/files/alice/${'k'.repeat(1025)}`],
  ['a leading slash', '/files/%2Falice/x'],
]) {
  test(`a key with ${name} is refused with 400 invalid_key`, async () => {
    const res = await call(gw, 'PUT', path, { token: alice, body: 'x' });
    assertProblem(assert, res, 400, 'invalid_key');
  });
}

test('keys with spaces, plus signs, tildes, percent signs and unicode round-trip', async () => {
  for (const key of ['alice/with space.txt', 'alice/a+b~c.txt', 'alice/100%.txt', 'alice/ünïcødé/日本.txt']) {
    const path = '/files/' + key.split('/').map(encodeURIComponent).join('/');
    const put = await call(gw, 'PUT', path, { token: alice, headers: { 'content-type': 'text/plain' }, body: key });
    assert.equal(put.status, 201, `${key}: ${put.text}`);
    assert.equal(put.json.key, key);
    assert.equal(put.headers.get('location'), path);
    const get = await call(gw, 'GET', path, { token: alice });
    assert.equal(get.text, key);
    assert.ok(await gw.row(key), `row for ${key}`);
  }
});

test('If-None-Match: * refuses to overwrite with 412 and keeps the original', async () => {
  const first = await call(gw, 'PUT', '/files/alice/once.txt', { token: alice, headers: { 'if-none-match': '*', 'content-type': 'text/plain' }, body: 'first' });
  assert.equal(first.status, 201);
  const second = await call(gw, 'PUT', '/files/alice/once.txt', { token: alice, headers: { 'if-none-match': '*', 'content-type': 'text/plain' }, body: 'second' });
  assertProblem(assert, second, 412, 'precondition_failed');
  assert.equal((await gw.object('alice/once.txt')).text(), 'first');
  assert.equal((await gw.row('alice/once.txt')).etag, first.json.etag);
});

test('a matching Content-MD5 and x-amz-checksum-sha256 are accepted and recorded', async () => {
  const body = 'checked body';
  const res = await call(gw, 'PUT', '/files/alice/checked.txt', {
    token: alice,
    headers: { 'content-type': 'text/plain', 'content-md5': md5(body).toString('base64'), 'x-amz-checksum-sha256': sha256(body).toString('base64') },
    body,
  });
  assert.equal(res.status, 201, res.text);
  const row = await gw.row('alice/checked.txt');
  assert.equal(row.checksum_sha256, sha256(body).toString('base64'));
  assert.equal(row.checksum_md5, md5(body).toString('base64'));
});

for (const [name, headers] of [
  ['Content-MD5', { 'content-md5': md5('other').toString('base64') }],
  ['x-amz-checksum-sha256', { 'x-amz-checksum-sha256': sha256('other').toString('base64') }],
  ['Content-MD5 next to a correct SHA-256', { 'content-md5': md5('other').toString('base64'), 'x-amz-checksum-sha256': sha256('the body').toString('base64') }],
]) {
  test(`a mismatching ${name} is refused with 400 checksum_mismatch, storing nothing`, async () => {
    const key = `alice/bad-${name.replace(/\W+/g, '-')}.txt`;
    const res = await call(gw, 'PUT', `/files/${key}`, { token: alice, headers: { 'content-type': 'text/plain', ...headers }, body: 'the body' });
    assertProblem(assert, res, 400, 'checksum_mismatch');
    assert.equal(await gw.object(key), null);
    assert.equal(await gw.row(key), null);
    const journal = await gw.db.prepare('SELECT count(*) AS n FROM pending_uploads WHERE key = ?').bind(key).first();
    assert.equal(journal.n, 0);
  });
}

test('a refused overwrite leaves the previous file downloadable, byte for byte', async () => {
  // R2 verifies only the SHA-256 of an MD5 + SHA-256 pair and stores the body before the MD5
  // is compared; s3s-fs keeps a body it refused. Either way the previous version stays.
  const key = 'alice/overwrite-refused.txt';
  assert.equal((await call(gw, 'PUT', `/files/${key}`, { token: alice, headers: { 'content-type': 'text/plain' }, body: 'previous' })).status, 201);
  const before = await gw.row(key);
  for (const headers of [
    { 'content-md5': md5('other').toString('base64'), 'x-amz-checksum-sha256': sha256('the body').toString('base64') },
    { 'content-md5': md5('other').toString('base64') },
  ]) {
    const res = await call(gw, 'PUT', `/files/${key}`, { token: alice, headers: { 'content-type': 'text/plain', ...headers }, body: 'the body' });
    assertProblem(assert, res, 400, 'checksum_mismatch');
    const get = await call(gw, 'GET', `/files/${key}`, { token: alice });
    assert.equal(get.status, 200);
    assert.equal(get.text, 'previous');
    const after = await gw.row(key);
    assert.deepEqual([after.storage_key, after.etag, after.size], [before.storage_key, before.etag, before.size]);
    const journal = await gw.db.prepare('SELECT count(*) AS n FROM pending_uploads WHERE key = ?').bind(key).first();
    assert.equal(journal.n, 0, 'the refused body was deleted again');
  }
});

test('a malformed checksum header is refused with 400 bad_request', async () => {
  const res = await call(gw, 'PUT', '/files/alice/m.txt', { token: alice, headers: { 'content-md5': 'not-base64!' }, body: 'x' });
  assertProblem(assert, res, 400, 'bad_request');
});

test('an empty body is stored as an empty object', async () => {
  const res = await call(gw, 'PUT', '/files/alice/empty.bin', { token: alice, body: '' });
  assert.equal(res.status, 201, res.text);
  assert.equal(res.json.size, 0);
  assert.equal((await gw.object('alice/empty.bin')).size, 0);
});

test('a client that sends fewer bytes than declared leaves no object and no row', async () => {
  const net = await import('node:net');
  const { hostname, port } = new URL(gw.url);
  const token = alice;
  await new Promise((resolve) => {
    const sock = net.connect(Number(port), hostname, () => {
      sock.write(`PUT /files/alice/short.bin HTTP/1.1\r\nHost: ${hostname}\r\nAuthorization: Bearer ${token}\r\nContent-Length: 500\r\n\r\n`);
      sock.write(Buffer.alloc(200, 1));
      setTimeout(() => sock.destroy(), 300);
    });
    sock.on('close', resolve);
    sock.on('error', resolve);
  });
  await new Promise((r) => setTimeout(r, 500));
  assert.equal(await gw.object('alice/short.bin'), null);
  assert.equal(await gw.row('alice/short.bin'), null);
});

test('bytes beyond the declared Content-Length are never stored', async () => {
  // HTTP/1.1 frames the body by Content-Length: the excess is read as the start of another
  // request, which the server refuses. The object holds exactly the declared bytes.
  const net = await import('node:net');
  const { hostname, port } = new URL(gw.url);
  const answer = await new Promise((resolve) => {
    let text = '';
    const sock = net.connect(Number(port), hostname, () => {
      sock.write(`PUT /files/alice/long.bin HTTP/1.1\r\nHost: ${hostname}\r\nAuthorization: Bearer ${alice}\r\nContent-Length: 100\r\n\r\n`);
      sock.write(Buffer.alloc(150, 7));
    });
    sock.on('data', (d) => { text += d; });
    sock.on('close', () => resolve(text));
    sock.on('error', () => resolve(text));
    setTimeout(() => sock.destroy(), 1500);
  });
  assert.match(answer, /^HTTP\/1\.1 201/);
  const stored = await gw.object('alice/long.bin');
  assert.equal(stored.size, 100);
  assert.equal((await gw.row('alice/long.bin')).size, 100);
});
