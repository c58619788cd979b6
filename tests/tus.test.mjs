// tus 1.0.0 through the real tus-js-client (the library Uppy's @uppy/tus uses) against the
// built Worker, on the R2 binding and on S3: every chunk size a client may pick, creation with
// upload, deferred length, a connection cut mid-PATCH, resuming with a new client from the
// upload URL, termination, two clients racing on one upload, and another caller refused.
// Every finished upload is checked byte for byte on download and in its D1 row.
import { test, before, after } from 'node:test';
import assert from 'node:assert/strict';
import crypto from 'node:crypto';
import http from 'node:http';
import { Readable } from 'node:stream';
import * as tus from 'tus-js-client';
import { startGateway } from './support/gateway.mjs';
import { call, tokenFor, sha256 } from './support/client.mjs';

const MIB = 1024 * 1024;
let gw;
const alice = tokenFor('alice');
before(async () => { gw = await startGateway({ MAX_UPLOAD_BYTES: String(20 * MIB) }); });
after(() => gw?.close());

/** Uploads `data` with tus-js-client; resolves with the upload URL. */
function send(data, { key, endpoint = `${gw.url}/tus/`, token = alice, ...options } = {}) {
  return new Promise((resolve, reject) => {
    const upload = new tus.Upload(data, {
      endpoint,
      headers: { Authorization: `Bearer ${token}` },
      metadata: { key, filename: key.split('/').pop(), filetype: 'application/octet-stream' },
      retryDelays: [0, 200, 500],
      storeFingerprintForResuming: false,
      ...options,
      onError: reject,
      onSuccess: () => resolve(upload.url),
    });
    upload.start();
  });
}

/** Starts an upload and stops it after its first chunk, as a client that went away; resolves with the Upload. */
function firstChunkOnly(key, chunkSize) {
  return new Promise((resolve, reject) => {
    const upload = new tus.Upload(file, {
      endpoint: `${gw.url}/tus/`,
      headers: { Authorization: `Bearer ${alice}` },
      metadata: { key, filetype: 'application/octet-stream' },
      chunkSize,
      storeFingerprintForResuming: false,
      onError: reject,
      onChunkComplete: () => { upload.abort(); resolve(upload); },
    });
    upload.start();
  });
}

async function assertStored(key, data) {
  const res = await fetch(`${gw.url}/files/${key}`, { headers: { authorization: `Bearer ${alice}` } });
  assert.equal(res.status, 200, `download of ${key}`);
  const body = Buffer.from(await res.arrayBuffer());
  assert.equal(body.length, data.length, `${key}: size`);
  assert.ok(sha256(body).equals(sha256(data)), `${key}: the SHA-256 differs`);
  const row = await gw.row(key);
  assert.equal(row.owner, 'alice');
  assert.equal(row.size, data.length);
  assert.equal(row.status, 'complete');
}

const file = crypto.randomBytes(13 * MIB + 12345);

for (const [name, chunkSize] of [['Infinity (the whole file in one PATCH)', Infinity], ['64 KiB', 64 * 1024], ['500 KiB', 500 * 1024], ['5 MiB', 5 * MIB], ['8 MiB', 8 * MIB], ['3 MiB + 7 bytes', 3 * MIB + 7]]) {
  test(`tus-js-client uploads with chunk size ${name} and the object is whole`, async () => {
    const key = `alice/tus/chunk-${String(chunkSize)}.bin`;
    await send(file, { key, chunkSize });
    await assertStored(key, file);
  });
}

test('creation with upload sends the first chunk with the POST', async () => {
  const key = 'alice/tus/with-creation.bin';
  await send(file, { key, chunkSize: 5 * MIB, uploadDataDuringCreation: true });
  await assertStored(key, file);
});

test('a deferred length is declared once the stream ends', async () => {
  const key = 'alice/tus/deferred.bin';
  const data = crypto.randomBytes(7 * MIB + 3);
  await send(Readable.from([data]), { key, chunkSize: 2 * MIB, uploadLengthDeferred: true });
  await assertStored(key, data);
});

test('a PATCH cut off mid-body is retried by the client from the server\'s offset', async () => {
  // A proxy that cuts the first PATCH after 1 MiB of its body.
  let cut = false;
  const target = new URL(gw.url);
  const proxy = http.createServer((req, res) => {
    const upstream = http.request({ host: target.hostname, port: target.port, path: req.url, method: req.method, headers: req.headers }, (up) => {
      res.writeHead(up.statusCode, up.headers);
      up.pipe(res);
    });
    upstream.on('error', () => res.destroy());
    let seen = 0;
    req.on('data', (c) => {
      seen += c.length;
      if (!cut && req.method === 'PATCH' && seen > MIB) {
        cut = true;
        upstream.destroy();
        req.destroy();
        return;
      }
      upstream.write(c);
    });
    req.on('end', () => upstream.end());
  });
  await new Promise((r) => proxy.listen(0, '127.0.0.1', r));
  try {
    const key = 'alice/tus/cut.bin';
    await send(file, { key, chunkSize: 8 * MIB, endpoint: `http://127.0.0.1:${proxy.address().port}/tus/` });
    assert.ok(cut, 'the proxy cut a PATCH');
    await assertStored(key, file);
  } finally {
    proxy.close();
  }
});

test('a new client resumes from the upload URL alone', async () => {
  const key = 'alice/tus/resumed.bin';
  const { url } = await firstChunkOnly(key, 5 * MIB);
  const head = await call(gw, 'HEAD', new URL(url).pathname, { token: alice, headers: { 'tus-resumable': '1.0.0' } });
  assert.equal(head.headers.get('upload-offset'), String(5 * MIB));
  await send(file, { key, chunkSize: 5 * MIB, uploadUrl: url });
  await assertStored(key, file);
});

test('abort(true) terminates the upload and every later request is 404', async () => {
  const key = 'alice/tus/terminated.bin';
  const upload = await firstChunkOnly(key, 500 * 1024);
  await upload.abort(true);
  const head = await call(gw, 'HEAD', new URL(upload.url).pathname, { token: alice, headers: { 'tus-resumable': '1.0.0' } });
  assert.equal(head.status, 404);
  assert.equal(await gw.row(key), null);
  const staged = await gw.db.prepare('SELECT count(*) AS n FROM tus_chunks').first();
  assert.equal(staged.n, 0);
  const left = (await gw.storedNames()).filter((n) => n.startsWith(key));
  assert.deepEqual(left, [], 'no staged bytes are left in the store');
});

test('an expired unfinished upload is swept with its staged bytes', async () => {
  const key = 'alice/tus/expired.bin';
  const { url } = await firstChunkOnly(key, 500 * 1024);
  assert.ok((await gw.storedNames()).some((n) => n.startsWith(key)), 'a chunk is staged');
  // Expired long ago, and its journal entries due.
  const id = new URL(url).pathname.split('/').pop();
  await gw.db.prepare('UPDATE tus_uploads SET expires_at = 1 WHERE id = ?').bind(id).run();
  await gw.db.prepare('UPDATE pending_uploads SET due_at = 1 WHERE key = ?').bind(key).run();
  const head = await call(gw, 'HEAD', new URL(url).pathname, { token: alice, headers: { 'tus-resumable': '1.0.0' } });
  assert.equal(head.status, 410);
  assert.equal(await gw.scheduled(), 200);
  assert.equal((await gw.db.prepare('SELECT count(*) AS n FROM tus_uploads WHERE id = ?').bind(id).first()).n, 0);
  assert.deepEqual((await gw.storedNames()).filter((n) => n.startsWith(key)), [], 'the staged chunk was swept');
  assert.equal((await gw.db.prepare('SELECT count(*) AS n FROM pending_uploads WHERE key = ?').bind(key).first()).n, 0);
});

test('two clients racing on one upload never corrupt it', async () => {
  const key = 'alice/tus/raced.bin';
  const created = await call(gw, 'POST', '/tus/', {
    token: alice,
    headers: { 'tus-resumable': '1.0.0', 'upload-length': String(file.length), 'upload-metadata': `key ${Buffer.from(key).toString('base64')}` },
  });
  assert.equal(created.status, 201, created.text);
  const url = created.headers.get('location');
  const results = await Promise.allSettled([
    send(file, { key, chunkSize: 5 * MIB, uploadUrl: url, retryDelays: [100, 300, 600, 1000, 2000] }),
    send(file, { key, chunkSize: 5 * MIB, uploadUrl: url, retryDelays: [150, 350, 700, 1200, 2000] }),
  ]);
  assert.ok(results.some((r) => r.status === 'fulfilled'), JSON.stringify(results.map((r) => r.reason?.message)));
  await assertStored(key, file);
});

test('another caller\'s upload is refused with 403', async () => {
  const created = await call(gw, 'POST', '/tus/', { token: alice, headers: { 'tus-resumable': '1.0.0', 'upload-length': '10' } });
  const path = new URL(created.headers.get('location')).pathname;
  const bob = tokenFor('bob');
  const head = await call(gw, 'HEAD', path, { token: bob, headers: { 'tus-resumable': '1.0.0' } });
  assert.equal(head.status, 403);
  const patch = await call(gw, 'PATCH', path, {
    token: bob,
    headers: { 'tus-resumable': '1.0.0', 'upload-offset': '0', 'content-type': 'application/offset+octet-stream' },
    body: 'x'.repeat(10),
  });
  assert.equal(patch.status, 403);
});

test('OPTIONS answers the protocol and the CORS preflight a browser needs', async () => {
  const gwc = await startGateway({ CORS_ORIGINS: 'https://app.example.com' });
  try {
    const res = await fetch(`${gwc.url}/tus/`, { method: 'OPTIONS', headers: { origin: 'https://app.example.com', 'access-control-request-method': 'PATCH' } });
    assert.equal(res.status, 204);
    assert.equal(res.headers.get('tus-version'), '1.0.0');
    assert.match(res.headers.get('tus-extension'), /creation-with-upload/);
    assert.match(res.headers.get('access-control-allow-methods'), /PATCH/);
    assert.match(res.headers.get('access-control-allow-headers'), /Upload-Offset/);
    const created = await call(gwc, 'POST', '/tus/', { token: alice, headers: { origin: 'https://app.example.com', 'tus-resumable': '1.0.0', 'upload-length': '1' } });
    assert.match(created.headers.get('access-control-expose-headers'), /Upload-Offset/);
    assert.match(created.headers.get('access-control-expose-headers'), /Location/);
  } finally {
    await gwc.close();
  }
});
