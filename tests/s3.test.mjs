// S3-only behaviour: a wrong secret is storage_auth_failed with nothing leaked, and objects
// written through the gateway are plain objects in the bucket, readable by any S3 client.
import { test, before, after } from 'node:test';
import assert from 'node:assert/strict';
import crypto from 'node:crypto';
import { startGateway, BACKEND } from './support/gateway.mjs';
import { startS3 } from './support/s3server.mjs';
import { startFaultProxy, goXml } from './support/faultproxy.mjs';
import { call, tokenFor, assertProblem } from './support/client.mjs';

const skip = BACKEND !== 's3' && 'runs with GATEWAY_BACKEND=s3';
let gw;
const alice = tokenFor('alice');
before(async () => { if (!skip) gw = await startGateway(); });
after(() => gw?.close());

test('a wrong S3 secret answers 502 storage_auth_failed without leaking credentials or URLs', { skip }, async () => {
  const bad = await startGateway({ S3_SECRET_ACCESS_KEY: 'definitely-not-the-secret' });
  try {
    const res = await call(bad, 'PUT', '/files/alice/x.txt', { token: tokenFor('alice'), body: 'x' });
    assertProblem(assert, res, 502, 'storage_auth_failed');
    for (const secret of ['definitely-not-the-secret', bad.s3.vars.S3_ACCESS_KEY_ID, bad.s3.endpoint, 'X-Amz-']) {
      assert.ok(!res.text.includes(secret), `response leaks ${secret}`);
    }
    assert.equal(await bad.row('alice/x.txt'), null);
    // A recorded object the store will not serve with these credentials.
    await bad.db.prepare("INSERT INTO objects (key, owner, size, content_type, etag, status, created_at, storage_key) VALUES ('alice/x.txt', 'alice', 1, 'text/plain', '\"x\"', 'complete', 1, 'alice/x.txt')").run();
    const get = await call(bad, 'GET', '/files/alice/x.txt', { token: tokenFor('alice') });
    assertProblem(assert, get, 502, 'storage_auth_failed');
  } finally {
    await bad.close();
  }
});

test('an unreachable S3 endpoint answers 503 storage_error', { skip }, async () => {
  const down = await startGateway({ S3_ENDPOINT: 'http://127.0.0.1:9' });
  try {
    assertProblem(assert, await call(down, 'PUT', '/files/alice/x.txt', { token: tokenFor('alice'), body: 'x' }), 503, 'storage_error');
  } finally {
    await down.close();
  }
});

test('an object uploaded through the gateway is an ordinary object for other S3 clients, under its key and version', { skip }, async () => {
  const res = await call(gw, 'PUT', '/files/alice/dir/plain%20file.txt', { token: tokenFor('alice'), headers: { 'content-type': 'text/plain' }, body: 'via gateway' });
  assert.equal(res.status, 201, res.text);
  const name = (await gw.row('alice/dir/plain file.txt')).storage_key;
  assert.match(name, /^alice\/dir\/plain file\.txt~[0-9a-f]{32}$/);
  const direct = await gw.s3.fetch(name);
  assert.equal(direct.status, 200);
  assert.equal(await direct.text(), 'via gateway');
  assert.equal(direct.headers.get('etag'), res.headers.get('etag'));
});

test('a missing S3 setting answers 500 config_error naming it', { skip }, async () => {
  const broken = await startGateway({ S3_BUCKET: '' });
  try {
    const res = await call(broken, 'GET', '/files/alice/x', { token: tokenFor('alice') });
    assertProblem(assert, res, 500, 'config_error');
    assert.match(res.json.detail, /S3_BUCKET/);
  } finally {
    await broken.close();
  }
});

test('behind a store that writes XML as Go does (MinIO, SeaweedFS), a multipart upload records the ETag GET serves', { skip }, async () => {
  const s3 = await startS3();
  const proxy = await startFaultProxy(s3.endpoint, { rate: 0, rewriteXml: goXml });
  const go = await startGateway({ S3_ENDPOINT: proxy.endpoint }, { backend: 's3', store: s3 });
  try {
    const key = 'alice/go/xml.bin';
    const parts = [crypto.randomBytes(5 * 1024 * 1024), crypto.randomBytes(1000)];
    const start = await call(go, 'POST', `/files/${key}?uploads`, { token: alice });
    assert.equal(start.status, 201, start.text);
    const id = start.json.upload_id;
    for (const [i, bytes] of parts.entries()) {
      const res = await call(go, 'PUT', `/files/${key}?uploadId=${id}&partNumber=${i + 1}`, { token: alice, body: bytes });
      assert.equal(res.status, 200, res.text);
    }
    const done = await call(go, 'POST', `/files/${key}?uploadId=${id}`, { token: alice });
    assert.equal(done.status, 201, done.text);
    assert.match(done.json.etag, /^"[0-9a-f]+-2"$/, 'the answer carries a plain entity tag');
    const get = await call(go, 'HEAD', `/files/${key}`, { token: alice });
    assert.equal(get.headers.get('etag'), done.json.etag, 'GET serves the ETag the completion answered');
    assert.equal((await go.row(key)).etag, done.json.etag, 'the row records it');
  } finally {
    go.close();
    await proxy.close();
  }
});
