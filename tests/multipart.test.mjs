// Multipart uploads through the built Worker on both backends: parts streamed to the store,
// resume from the parts list, the part rules, ownership, abort, and the sweep aborting an
// expired upload in the store and in D1.
import { test, before, after } from 'node:test';
import assert from 'node:assert/strict';
import crypto from 'node:crypto';
import http from 'node:http';
import { startGateway } from './support/gateway.mjs';
import { call, send, tokenFor, assertProblem, sha256 } from './support/client.mjs';

const MIB = 1024 * 1024;
let gw;
const alice = tokenFor('alice');

before(async () => { gw = await startGateway(); });
after(() => gw?.close());

const json = (value) => ({ 'content-type': 'application/json', body: JSON.stringify(value) });

async function start(key, body = {}, token = alice) {
  const res = await call(gw, 'POST', `/files/${key}?uploads`, { token, headers: { 'content-type': 'application/json' }, body: JSON.stringify(body) });
  assert.equal(res.status, 201, res.text);
  return res.json.upload_id;
}

const part = (key, id, n, bytes, token = alice) => send(gw, 'PUT', `/files/${key}?uploadId=${id}&partNumber=${n}`, { token, body: bytes });
const complete = (key, id, body, token = alice) => call(gw, 'POST', `/files/${key}?uploadId=${id}`, { token, ...(body ? { headers: { 'content-type': 'application/json' }, body: JSON.stringify(body) } : {}) });
const listParts = (key, id, token = alice) => call(gw, 'GET', `/files/${key}?uploadId=${id}`, { token });
const uploadRow = (id) => gw.db.prepare('SELECT * FROM multipart_uploads WHERE id = ?').bind(id).first();
const partCount = async (id) => (await gw.db.prepare('SELECT count(*) AS n FROM multipart_parts WHERE upload_id = ?').bind(id).first()).n;

/** Three parts of distinct random bytes: 5 MiB, 5 MiB and a short last one. */
function threeParts() {
  return [crypto.randomBytes(5 * MIB), crypto.randomBytes(5 * MIB), crypto.randomBytes(123_457)];
}

test('a three-part upload completes into one object whose SHA-256 matches, with its row', async () => {
  const key = 'alice/mp/three.bin';
  const parts = threeParts();
  const whole = Buffer.concat(parts);
  const id = await start(key, { content_type: 'video/mp4', size: whole.length });
  const etags = [];
  for (const [i, bytes] of parts.entries()) {
    const res = await part(key, id, i + 1, bytes);
    assert.equal(res.status, 200, res.text);
    assert.equal(res.json.part_number, i + 1);
    assert.equal(res.json.size, bytes.length);
    assert.equal(res.headers.get('etag'), res.json.etag);
    etags.push(res.json.etag);
  }
  const res = await complete(key, id, { parts: etags.map((etag, i) => ({ part_number: i + 1, etag })) });
  assert.equal(res.status, 201, res.text);
  assert.equal(res.json.size, whole.length);
  assert.equal(res.json.content_type, 'video/mp4');
  assert.equal(res.headers.get('location'), `/files/${key}`);

  const down = await fetch(`${gw.url}/files/${key}`, { headers: { authorization: `Bearer ${alice}` } });
  assert.equal(down.status, 200);
  const got = Buffer.from(await down.arrayBuffer());
  assert.equal(sha256(got).toString('hex'), sha256(whole).toString('hex'));
  const row = await gw.row(key);
  assert.equal(row.size, whole.length);
  assert.equal(row.owner, 'alice');
  assert.equal(row.etag, res.json.etag);
  assert.equal(await uploadRow(id), null, 'the upload is forgotten once complete');
  assert.equal(await partCount(id), 0);
});

test('a client that lost its state lists the parts, sends the rest and completes', async () => {
  const key = 'alice/mp/resumed.bin';
  const parts = threeParts();
  const id = await start(key);
  assert.equal((await part(key, id, 1, parts[0])).status, 200);
  // "Crash": only the upload id survives. Ask the gateway what it has.
  const listed = await listParts(key, id);
  assert.equal(listed.status, 200, listed.text);
  assert.equal(listed.json.upload_id, id);
  assert.deepEqual(listed.json.parts.map((p) => [p.part_number, p.size]), [[1, 5 * MIB]]);
  const have = new Set(listed.json.parts.map((p) => p.part_number));
  for (const [i, bytes] of parts.entries()) {
    if (!have.has(i + 1)) assert.equal((await part(key, id, i + 1, bytes)).status, 200);
  }
  assert.equal((await complete(key, id)).status, 201);
  assert.equal(sha256((await gw.object(key)).bytes()).toString('hex'), sha256(Buffer.concat(parts)).toString('hex'));
});

test('the part rules are enforced before a body is streamed', async () => {
  const key = 'alice/mp/rules.bin';
  const id = await start(key);
  for (const n of ['0', '10001', 'x']) {
    assertProblem(assert, await part(key, id, n, Buffer.alloc(10)), 400, 'bad_request');
  }
  assert.equal((await part(key, id, 1, Buffer.alloc(5 * MIB, 1))).status, 200);
  assert.equal((await part(key, id, 3, Buffer.alloc(5 * MIB, 3))).status, 200);
  const shortMiddle = await part(key, id, 2, Buffer.alloc(MIB, 2));
  assertProblem(assert, shortMiddle, 400, 'bad_request');
  assert.match(shortMiddle.json.detail, /only the last part/);
  const unequal = await part(key, id, 4, Buffer.alloc(6 * MIB, 4));
  assertProblem(assert, unequal, 400, 'bad_request');
  assert.match(unequal.json.detail, /same size/);
  assert.equal(await partCount(id), 2, 'refused parts were not recorded');
  const gap = await complete(key, id);
  assertProblem(assert, gap, 400, 'bad_request');
  assert.match(gap.json.detail, /part 2 is missing/);
});

test('completing with a part list that does not match is refused and the upload stays open', async () => {
  const key = 'alice/mp/wrong-list.bin';
  const id = await start(key);
  const p1 = await part(key, id, 1, crypto.randomBytes(5 * MIB));
  const p2 = await part(key, id, 2, crypto.randomBytes(1000));
  const wrong = await complete(key, id, { parts: [{ part_number: 1, etag: p1.json.etag }, { part_number: 2, etag: '"0000"' }] });
  assertProblem(assert, wrong, 409, 'parts_mismatch');
  const short = await complete(key, id, { size: 5 * MIB });
  assertProblem(assert, short, 409, 'parts_mismatch');
  assert.equal(await gw.object(key), null);
  const right = await complete(key, id, { parts: [{ part_number: 1, etag: p1.json.etag }, { part_number: 2, etag: p2.json.etag }] });
  assert.equal(right.status, 201, right.text);
});

test("nobody may add parts to, list, complete or abort someone else's upload", async () => {
  const key = 'alice/mp/owned.bin';
  const id = await start(key);
  const mallory = tokenFor('mallory', { prefix: 'alice/' });
  assertProblem(assert, await part(key, id, 1, Buffer.alloc(10), mallory), 403, 'forbidden');
  assertProblem(assert, await listParts(key, id, mallory), 403, 'forbidden');
  assertProblem(assert, await complete(key, id, null, mallory), 403, 'forbidden');
  assertProblem(assert, await call(gw, 'DELETE', `/files/${key}?uploadId=${id}`, { token: mallory }), 403, 'forbidden');
  assert.ok(await uploadRow(id), 'the upload is untouched');
  assertProblem(assert, await listParts('alice/mp/other.bin', id), 404, 'upload_not_found');
});

test('start refuses types, sizes and scopes a single PUT would refuse', async () => {
  const capped = tokenFor('alice', { max_size: 1000 });
  const res = await call(gw, 'POST', '/files/alice/mp/big.bin?uploads', { token: capped, ...json({ size: 1001 }) });
  assertProblem(assert, res, 413, 'payload_too_large');
  const reader = tokenFor('alice', { scope: 'read' });
  assertProblem(assert, await call(gw, 'POST', '/files/alice/mp/r.bin?uploads', { token: reader }), 403, 'forbidden');
  assertProblem(assert, await call(gw, 'POST', '/files/alice/mp/j.bin?uploads', { token: alice, body: '{oops' }), 400, 'bad_request');
  assertProblem(assert, await call(gw, 'POST', '/files/alice/mp/j.bin', { token: alice }), 400, 'bad_request');
  // A JSON body must declare its length: it is read whole, so it is capped before reading.
  const chunked = new ReadableStream({ start(c) { c.enqueue(new TextEncoder().encode('{}')); c.close(); } });
  assertProblem(assert, await call(gw, 'POST', '/files/alice/mp/j.bin?uploads', { token: alice, body: chunked }), 411, 'length_required');
  const huge = await send(gw, 'POST', '/files/alice/mp/j.bin?uploads', { token: alice, body: Buffer.alloc(1024 * 1024 + 1, 32) });
  assertProblem(assert, huge, 413, 'payload_too_large');
});

test('abort discards the parts in the store and forgets the upload', async () => {
  const key = 'alice/mp/aborted.bin';
  const id = await start(key);
  assert.equal((await part(key, id, 1, Buffer.alloc(5 * MIB, 7))).status, 200);
  const { store_upload_id: storeId, storage_key: storedName } = await uploadRow(id);
  assert.equal(await gw.storeHasUpload(storedName, storeId), true);
  const res = await call(gw, 'DELETE', `/files/${key}?uploadId=${id}`, { token: alice });
  assert.equal(res.status, 204, res.text);
  assert.equal(await uploadRow(id), null);
  assert.equal(await partCount(id), 0);
  assert.equal(await gw.storeHasUpload(storedName, storeId), false);
  assertProblem(assert, await listParts(key, id), 404, 'upload_not_found');
  assert.equal(await gw.object(key), null);
});

test('the cron sweep aborts an expired upload in the store and in D1, and a rerun is harmless', async () => {
  const key = 'alice/mp/expired.bin';
  const id = await start(key);
  assert.equal((await part(key, id, 1, Buffer.alloc(5 * MIB, 9))).status, 200);
  const live = await start('alice/mp/live.bin');
  const { store_upload_id: storeId, storage_key: storedName } = await uploadRow(id);
  assert.equal(await gw.storeHasUpload(storedName, storeId), true);
  await gw.db.prepare('UPDATE multipart_uploads SET expires_at = ? WHERE id = ?').bind(Date.now() - 1000, id).run();
  assertProblem(assert, await listParts(key, id), 404, 'upload_not_found');

  assert.equal(await gw.scheduled(), 200);
  assert.equal(await uploadRow(id), null);
  assert.equal(await partCount(id), 0);
  assert.equal(await gw.storeHasUpload(storedName, storeId), false);
  assert.ok(await uploadRow(live), 'an unexpired upload is left alone');
  assert.equal(await gw.scheduled(), 200);
  assert.ok(await uploadRow(live));
});

test("the upload's part counters stay exact through new, re-sent and refused parts", async () => {
  // Each part's check reads these counters instead of every part row (migrations/0006).
  const key = 'alice/mp/counted.bin';
  const id = await start(key);
  const counters = async () => {
    const u = await uploadRow(id);
    const real = await gw.db.prepare('SELECT count(*) AS n, coalesce(sum(size), 0) AS bytes FROM multipart_parts WHERE upload_id = ?').bind(id).first();
    return [[u.part_count, u.part_bytes], [real.n, real.bytes]];
  };
  assert.equal((await part(key, id, 1, Buffer.alloc(5 * MIB, 1))).status, 200);
  assert.equal((await part(key, id, 3, Buffer.alloc(1000, 3))).status, 200);
  assert.equal((await part(key, id, 1, Buffer.alloc(5 * MIB, 2))).status, 200, 'a re-sent part replaces the first');
  assert.equal((await part(key, id, 2, Buffer.alloc(100, 2))).status, 400, 'a short middle part is refused');
  const [kept, real] = await counters();
  assert.deepEqual(kept, real);
  assert.deepEqual(kept, [2, 5 * MIB + 1000]);
  assert.equal((await part(key, id, 2, Buffer.alloc(5 * MIB, 2))).status, 200);
  assert.equal((await complete(key, id)).status, 201);
});

/** Sends the head of a part and half its body, then closes the connection: a client retrying a
 * part it believes failed, and giving up again. Resolves once the gateway has had time to see it. */
function cutOffPart(key, id, n, bytes) {
  const target = new URL(gw.url);
  return new Promise((resolve) => {
    const req = http.request({
      host: target.hostname, port: target.port, method: 'PUT',
      path: `/files/${key}?uploadId=${id}&partNumber=${n}`,
      headers: { authorization: `Bearer ${alice}`, 'content-length': String(bytes.length) },
    });
    req.on('error', () => {});
    req.write(bytes.subarray(0, bytes.length / 2), () => setTimeout(() => { req.destroy(); setTimeout(resolve, 500); }, 200));
  });
}

test('a cut-off re-send of an acknowledged part leaves it in the completion: the download is every acknowledged byte', async () => {
  const key = 'alice/mp/resent.bin';
  const parts = [crypto.randomBytes(5 * MIB), crypto.randomBytes(5 * MIB), crypto.randomBytes(777_777)];
  const id = await start(key);
  for (const [i, bytes] of parts.entries()) assert.equal((await part(key, id, i + 1, bytes)).status, 200);
  await cutOffPart(key, id, 3, parts[2]);
  const listed = await listParts(key, id);
  assert.deepEqual(listed.json.parts.map((p) => p.part_number), [1, 2, 3], 'the cut-off re-send removed an acknowledged part');
  const done = await complete(key, id);
  assert.equal(done.status, 201, done.text);
  const whole = Buffer.concat(parts);
  assert.equal(done.json.size, whole.length);
  const download = await fetch(`${gw.url}/files/${key}`, { headers: { authorization: `Bearer ${alice}` } });
  assert.equal(download.status, 200);
  assert.equal(sha256(Buffer.from(await download.arrayBuffer())).toString('hex'), sha256(whole).toString('hex'));
});
