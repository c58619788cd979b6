// The fetch transport and answer parsing in public/client.js: problem documents and S3 XML
// become UploadErrors with stable codes, a dropped connection is `network_error`, and with
// `countBytes` a Blob goes as a counted stream with its Content-Length.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { fetchTransport, problemOf, encodeKey, upload, listUploads, downloadUrl } from '../../public/client.js';
import { problem } from './fake-gateway.mjs';

test('a problem document becomes an UploadError with its status, code and detail', () => {
  const e = problemOf(403, JSON.stringify({ status: 403, code: 'forbidden', detail: 'not under your prefix' }));
  assert.equal(e.name, 'UploadError');
  assert.deepEqual([e.status, e.code, e.detail], [403, 'forbidden', 'not under your prefix']);
  assert.equal(e.message, 'forbidden: not under your prefix');
});

test("a direct upload's S3 refusal is named by what it means to the client", () => {
  const xml = (code) => `<?xml version="1.0"?><Error><Code>${code}</Code><Message>m</Message></Error>`;
  assert.equal(problemOf(412, xml('PreconditionFailed')).code, 'precondition_failed');
  assert.equal(problemOf(403, xml('AccessDenied')).code, 'url_rejected');
  assert.equal(problemOf(403, xml('SignatureDoesNotMatch')).code, 'url_rejected');
  assert.equal(problemOf(500, xml('InternalError')).code, 'storage_error');
});

test('an answer that is neither is named by its status, with the start of its text', () => {
  const e = problemOf(502, `Bad Gateway ${'x'.repeat(500)}`);
  assert.equal(e.code, 'http_502');
  assert.equal(e.detail.length, 200);
});

test('a refusal through fetch rejects the upload with the gateway code', async () => {
  const send = fetchTransport(async () => problem(413, 'payload_too_large', 'over max_size'));
  await assert.rejects(
    upload(new Blob(['x']), { token: 't', key: 'alice/a.txt', send }),
    (e) => e.status === 413 && e.code === 'payload_too_large' && e.detail === 'over max_size',
  );
});

test('any answer resolves with its status, text and entity tag', async () => {
  const send = fetchTransport(async () => new Response('{"a":1}', { status: 404, headers: { etag: '"abc"' } }));
  assert.deepEqual(await send('GET', 'http://gw/files/x'), { status: 404, text: '{"a":1}', etag: '"abc"' });
});

test('a dropped connection is a network_error that says why', async () => {
  const send = fetchTransport(async () => { throw new TypeError('fetch failed', { cause: new Error('connect ECONNREFUSED 127.0.0.1:9') }); });
  await assert.rejects(send('PUT', 'http://gw/files/x'), (e) => e.status === 0 && e.code === 'network_error' && /ECONNREFUSED/.test(e.detail));
});

test('a cancelled request is aborted, not a network error', async () => {
  const controller = new AbortController();
  const send = fetchTransport(async () => { controller.abort(); throw new DOMException('The operation was aborted.', 'AbortError'); });
  await assert.rejects(send('PUT', 'http://gw/files/x', { signal: controller.signal }), (e) => e.code === 'aborted');
  await assert.rejects(send('PUT', 'http://gw/files/x', { signal: controller.signal }), (e) => e.code === 'aborted', 'an aborted signal sends nothing');
});

test('with countBytes a Blob goes as a stream with its Content-Length and reports progress as it is read', async () => {
  let seen;
  const send = fetchTransport(async (url, init) => {
    const chunks = [];
    for await (const c of init.body) chunks.push(c);
    seen = { headers: init.headers, duplex: init.duplex, size: new Blob(chunks).size, stream: init.body instanceof ReadableStream };
    return new Response('{}', { status: 200 });
  }, { countBytes: true });
  const progress = [];
  const body = new Blob([new Uint8Array(200_000)]);
  await send('PUT', 'http://gw/files/x', { headers: { authorization: 'Bearer t' }, body, onProgress: (n) => progress.push(n) });
  assert.deepEqual(seen, { headers: { authorization: 'Bearer t', 'content-length': '200000' }, duplex: 'half', size: 200_000, stream: true });
  assert.ok(progress.length >= 1);
  assert.equal(progress.at(-1), 200_000);
  assert.ok(progress.every((n, i) => i === 0 || n > progress[i - 1]), 'progress only grows');
});

test('without countBytes the body is handed to fetch as it is', async () => {
  let seen;
  const send = fetchTransport(async (url, init) => { seen = init; return new Response(null, { status: 204 }); });
  const body = new Blob(['abc']);
  await send('PUT', 'http://gw/x', { body, onProgress: () => {} });
  assert.equal(seen.body, body);
  assert.equal(seen.duplex, undefined);
});

test('keys are encoded one segment at a time', () => {
  assert.equal(encodeKey('alice/My File+1%.png'), 'alice/My%20File%2B1%25.png');
});

test('listing and download links call the gateway with the bearer token', async () => {
  const calls = [];
  const send = fetchTransport(async (url, init) => {
    calls.push(`${init.method} ${url} ${init.headers.authorization}`);
    return new Response(url.endsWith('/presign') ? '{"url":"https://gw/files/alice/a?sig=1"}' : '{"items":[],"cursor":null}', { status: 200 });
  });
  assert.deepEqual(await listUploads({ endpoint: 'https://gw/', token: 't', limit: 5, send }), { items: [], cursor: null });
  assert.equal(await downloadUrl('alice/a', { endpoint: 'https://gw', token: 't', send }), 'https://gw/files/alice/a?sig=1');
  assert.deepEqual(calls, ['GET https://gw/files?limit=5 Bearer t', 'POST https://gw/presign Bearer t']);
});
