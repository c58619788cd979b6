// Whole uploads through public/client.js against an in-memory gateway behind a fake fetch:
// which requests are sent, in what order, what is resumed or started again, and what the
// resume state holds afterwards.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { upload, fetchTransport } from '../../public/client.js';
import { fakeGateway, problem, patterned, sameBytes, memorySlot, MIB } from './fake-gateway.mjs';

const SIZE = 12 * MIB + 5;
const KEY = 'alice/big file.bin';
const PATH = '/files/alice/big%20file.bin';

/** Options for a multipart upload of SIZE bytes in 5 MiB parts, one part at a time, with no waiting. */
function options(gw, extra = {}) {
  const delays = [];
  const o = {
    endpoint: 'http://gw',
    token: 'tok',
    key: KEY,
    multipartThreshold: 5 * MIB,
    partSize: 5 * MIB,
    concurrency: 1,
    send: fetchTransport(gw.fetch),
    random: () => 0.5,
    sleep: async (ms) => { delays.push(ms); },
    ...extra,
  };
  return { o, delays };
}

test('a small file goes up in one PUT with the token and its type', { timeout: 10_000 }, async () => {
  const gw = fakeGateway();
  const file = new Blob(['hello'], { type: 'text/plain' });
  const progress = [];
  const res = await upload(file, { ...options(gw).o, key: 'alice/a.txt', onProgress: (l, t) => progress.push([l, t]) });
  assert.deepEqual(res, { key: 'alice/a.txt', size: 5 });
  assert.deepEqual(gw.log(), ['PUT /files/alice/a.txt']);
  assert.deepEqual(gw.requests[0].headers, { authorization: 'Bearer tok', 'content-type': 'text/plain' });
  assert.deepEqual(progress.at(-1), [5, 5]);
});

test('an empty file goes up in one PUT whatever the threshold: a multipart upload needs a byte', { timeout: 10_000 }, async () => {
  for (const multipartThreshold of [0, -1]) {
    const gw = fakeGateway();
    await upload(new Blob([]), { ...options(gw).o, multipartThreshold });
    assert.deepEqual(gw.log(), [`PUT ${PATH}`]);
    assert.equal(gw.objects.get(KEY).size, 0);
  }
});

test('a token and a key are needed before anything is sent', { timeout: 10_000 }, async () => {
  const gw = fakeGateway();
  await assert.rejects(upload(new Blob(['x']), { ...options(gw).o, token: '' }), (e) => e.code === 'missing_token');
  await assert.rejects(upload(new Blob(['x']), { ...options(gw).o, key: '' }), (e) => e.code === 'invalid_key');
  assert.deepEqual(gw.log(), []);
});

test('a file over the threshold goes up in equal parts, is completed, and its state is kept only meanwhile', { timeout: 10_000 }, async () => {
  const gw = fakeGateway();
  const file = patterned(SIZE);
  const resume = memorySlot();
  const progress = [];
  const res = await upload(file, { ...options(gw).o, resume, partSize: 1 * MIB, onProgress: (l, t) => progress.push([l, t]) });
  assert.deepEqual(gw.log(), [
    `POST ${PATH}?uploads`,
    `PUT ${PATH}?uploadId=up-1&partNumber=1`,
    `PUT ${PATH}?uploadId=up-1&partNumber=2`,
    `PUT ${PATH}?uploadId=up-1&partNumber=3`,
    `POST ${PATH}?uploadId=up-1`,
  ]);
  assert.deepEqual(JSON.parse(await new Response(gw.requests[0].init.body).text()), { content_type: 'application/octet-stream', size: SIZE });
  const completion = JSON.parse(await new Response(gw.requests[4].init.body).text());
  assert.deepEqual(completion, { parts: [1, 2, 3].map((n) => ({ part_number: n, etag: `"e${n}"` })), size: SIZE }, 'the completion names every acknowledged part and the size');
  assert.equal(res.size, SIZE);
  assert.ok(await sameBytes(gw.objects.get(KEY), file), 'the parts assemble into the file');
  assert.deepEqual([resume.saves, resume.clears, resume.state], [1, 1, null]);
  assert.ok(progress.every(([l, t]) => l <= t && t === SIZE));
  assert.deepEqual(progress.at(-1), [SIZE, SIZE]);
});

test('parts go up concurrently up to the concurrency asked for', { timeout: 10_000 }, async () => {
  let active = 0;
  let peak = 0;
  const gw = fakeGateway({
    fault: async (req) => {
      if (!req.query.has('partNumber')) return undefined;
      active++;
      peak = Math.max(peak, active);
      await new Promise((r) => setTimeout(r, 20));
      active--;
      return undefined;
    },
  });
  const file = patterned(26 * MIB);
  await upload(file, { ...options(gw).o, concurrency: 2 });
  assert.equal(peak, 2);
  assert.deepEqual(gw.partsSent().sort(), [1, 2, 3, 4, 5, 6]);
  assert.ok(await sameBytes(gw.objects.get(KEY), file));
});

test('a saved upload is resumed: only the parts the gateway lacks are sent', { timeout: 10_000 }, async () => {
  const gw = fakeGateway();
  const file = patterned(SIZE);
  // A first run stored part 1 and then stopped.
  gw.uploads.set('up-7', { key: KEY, parts: new Map([[1, file.slice(0, 5 * MIB)], [2, new Blob(['short'])]]) });
  const resume = memorySlot({ upload_id: 'up-7', part_size: 5 * MIB });
  const resumed = [];
  await upload(file, { ...options(gw).o, resume, onResume: (r) => resumed.push(r) });
  assert.deepEqual(gw.log(), [`GET ${PATH}?uploadId=up-7`, `PUT ${PATH}?uploadId=up-7&partNumber=2`, `PUT ${PATH}?uploadId=up-7&partNumber=3`, `POST ${PATH}?uploadId=up-7`]);
  assert.deepEqual(resumed, [{ uploadId: 'up-7', stored: 1, parts: 3 }]);
  assert.ok(await sameBytes(gw.objects.get(KEY), file));
  assert.equal(resume.state, null);
});

test('a saved upload the gateway no longer has (404 upload_not_found) is started again', { timeout: 10_000 }, async () => {
  const gw = fakeGateway();
  const resume = memorySlot({ upload_id: 'expired', part_size: 5 * MIB });
  const seen = [];
  await upload(patterned(SIZE), { ...options(gw).o, resume: { ...resume, save: (s) => { seen.push(s); resume.save(s); } } });
  assert.deepEqual(gw.log().slice(0, 2), [`GET ${PATH}?uploadId=expired`, `POST ${PATH}?uploads`]);
  assert.deepEqual(seen, [{ upload_id: 'up-1', part_size: 5 * MIB }], 'the new upload replaced the saved one');
  assert.deepEqual(gw.partsSent(), [1, 2, 3]);
});

test("a saved upload of another caller (403 forbidden) is started again under this caller's token", { timeout: 10_000 }, async () => {
  const gw = fakeGateway({ fault: (req) => (req.method === 'GET' ? problem(403, 'forbidden', 'this multipart upload belongs to another caller') : undefined) });
  gw.uploads.set('bobs', { key: KEY, parts: new Map() });
  const resume = memorySlot({ upload_id: 'bobs', part_size: 5 * MIB });
  await upload(patterned(SIZE), { ...options(gw).o, resume });
  assert.deepEqual(gw.log().slice(0, 2), [`GET ${PATH}?uploadId=bobs`, `POST ${PATH}?uploads`]);
  assert.deepEqual(gw.partsSent(), [1, 2, 3]);
  assert.ok(gw.uploads.has('bobs'), "the other caller's upload is left alone");
});

test('a token that may not write the key fails with 403 and keeps the saved state', { timeout: 10_000 }, async () => {
  const gw = fakeGateway({ fault: () => problem(403, 'forbidden', 'not under your prefix') });
  const saved = { upload_id: 'up-3', part_size: 5 * MIB };
  const resume = memorySlot(saved);
  await assert.rejects(upload(patterned(SIZE), { ...options(gw).o, resume }), (e) => e.status === 403 && e.code === 'forbidden');
  assert.deepEqual(gw.log(), [`GET ${PATH}?uploadId=up-3`, `POST ${PATH}?uploads`]);
  assert.deepEqual([resume.state, resume.saves, resume.clears], [saved, 0, 0]);
});

test('an expired token fails the resume and keeps the saved state for the next try', { timeout: 10_000 }, async () => {
  const gw = fakeGateway({ fault: () => problem(401, 'token_expired', 'the token expired') });
  const saved = { upload_id: 'up-3', part_size: 5 * MIB };
  const resume = memorySlot(saved);
  await assert.rejects(upload(patterned(SIZE), { ...options(gw).o, resume }), (e) => e.code === 'token_expired');
  assert.deepEqual(gw.log(), [`GET ${PATH}?uploadId=up-3`], 'no new upload is started');
  assert.deepEqual(resume.state, saved);
});

test('a storage outage while listing fails the resume and keeps the saved state', { timeout: 10_000 }, async () => {
  const gw = fakeGateway({ fault: () => problem(503, 'storage_error', 'try again') });
  const resume = memorySlot({ upload_id: 'up-3', part_size: 5 * MIB });
  await assert.rejects(upload(patterned(SIZE), { ...options(gw).o, resume }), (e) => e.code === 'storage_error');
  assert.deepEqual(gw.log(), [`GET ${PATH}?uploadId=up-3`]);
  assert.equal(resume.clears, 0);
});

test('a saved state that cannot be read starts a new upload', { timeout: 10_000 }, async () => {
  for (const load of [() => { throw new SyntaxError('Unexpected token'); }, () => ({ upload_id: 7 }), () => ({ upload_id: 'x', part_size: -1 })]) {
    const gw = fakeGateway();
    await upload(patterned(SIZE), { ...options(gw).o, resume: { load, save() {}, clear() {} } });
    assert.equal(gw.log()[0], `POST ${PATH}?uploads`);
  }
});

test('a part answered 503 is retried with growing delays and the upload completes', { timeout: 10_000 }, async () => {
  const gw = fakeGateway({ fault: (req) => (req.query.get('partNumber') === '2' && req.attempt <= 2 ? problem(503, 'storage_error', 'busy') : undefined) });
  const file = patterned(SIZE);
  const { o, delays } = options(gw);
  await upload(file, o);
  assert.deepEqual(gw.partsSent(), [1, 2, 2, 2, 3]);
  assert.deepEqual(delays, [750, 1500]);
  assert.ok(await sameBytes(gw.objects.get(KEY), file));
});

test('a dropped connection on completing is retried, and the upload completes', { timeout: 10_000 }, async () => {
  const gw = fakeGateway({
    fault: (req) => {
      if (req.method === 'POST' && req.query.has('uploadId') && req.attempt === 1) throw new TypeError('fetch failed', { cause: new Error('socket hang up') });
      return undefined;
    },
  });
  const { o, delays } = options(gw);
  const res = await upload(patterned(SIZE), o);
  assert.equal(res.size, SIZE);
  assert.equal(gw.log().filter((l) => l === `POST ${PATH}?uploadId=up-1`).length, 2);
  assert.deepEqual(delays, [750]);
});

test('a part that keeps failing fails the upload with its error, stops the other parts and keeps the state', { timeout: 10_000 }, async () => {
  const gw = fakeGateway({ fault: (req) => (req.query.get('partNumber') === '2' ? problem(503, 'storage_error', 'down') : undefined) });
  const resume = memorySlot();
  const { o, delays } = options(gw, { resume });
  await assert.rejects(upload(patterned(SIZE), o), (e) => e.status === 503 && e.code === 'storage_error');
  assert.deepEqual(gw.partsSent(), [1, 2, 2, 2, 2], 'part 3 is never started');
  assert.deepEqual(delays, [750, 1500, 3000]);
  assert.deepEqual(resume.state, { upload_id: 'up-1', part_size: 5 * MIB }, 'kept for a resume');
  assert.ok(!gw.log().some((l) => l.startsWith('DELETE')));
});

test('a refused part is not retried', { timeout: 10_000 }, async () => {
  const gw = fakeGateway({ fault: (req) => (req.query.get('partNumber') === '1' ? problem(400, 'bad_request', 'parts must be the same size') : undefined) });
  await assert.rejects(upload(patterned(SIZE), options(gw).o), (e) => e.code === 'bad_request');
  assert.deepEqual(gw.partsSent(), [1]);
});

test('a cancelled multipart upload is aborted on the gateway and its state forgotten', { timeout: 10_000 }, async () => {
  const controller = new AbortController();
  const gw = fakeGateway({
    fault: (req) => {
      if (req.query.get('partNumber') !== '2') return undefined;
      controller.abort();
      throw new DOMException('The operation was aborted.', 'AbortError');
    },
  });
  const resume = memorySlot();
  await assert.rejects(upload(patterned(SIZE), { ...options(gw).o, resume, signal: controller.signal }), (e) => e.code === 'aborted');
  assert.equal(gw.log().at(-1), `DELETE ${PATH}?uploadId=up-1`);
  assert.ok(!gw.uploads.has('up-1'));
  assert.deepEqual([resume.state, resume.clears], [null, 1]);
});

test('a direct presigned upload goes to the store and is then confirmed, with retries', { timeout: 10_000 }, async () => {
  const gw = fakeGateway({
    fault: (req) => {
      if (req.path === '/presign') {
        return new Response(JSON.stringify({ url: 'https://s3.example/bucket/alice/x?X-Amz-Signature=1', headers: { 'content-type': 'image/png' }, mode: 'direct', key: 'alice/x.png' }), { status: 200 });
      }
      if (req.path === '/bucket/alice/x') return new Response('', { status: 200 });
      if (req.path.endsWith('/confirm')) return req.attempt === 1 ? problem(503, 'storage_error', 'busy') : new Response('{"key":"alice/x.png","size":3}', { status: 201 });
      return undefined;
    },
  });
  const file = new File(['png'], 'x.png', { type: 'image/png' });
  const res = await upload(file, { ...options(gw).o, key: undefined, presign: 'direct' });
  assert.deepEqual(res, { key: 'alice/x.png', size: 3 });
  assert.deepEqual(gw.log(), ['POST /presign', 'PUT /bucket/alice/x?X-Amz-Signature=1', 'POST /files/alice/x.png/confirm', 'POST /files/alice/x.png/confirm']);
  assert.deepEqual(JSON.parse(gw.requests[0].init.body), { method: 'PUT', content_type: 'image/png', size: 3, filename: 'x.png', mode: 'direct' });
});
