// The gateway on the weakest S3 store it supports: moto's server, which checks neither
// signatures nor digests. What the store does not enforce the gateway must: a wrong digest is
// refused and leaves nothing behind, a SHA-256 the store did not confirm is never recorded as
// verified, and If-None-Match: * never overwrites (enforced in D1, not by the store).
import { test, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { BACKEND, eventually, startGateway } from './support/gateway.mjs';
import { startMoto } from './support/s3server.mjs';
import { startFaultProxy } from './support/faultproxy.mjs';
import { call, tokenFor, sha256, md5, assertProblem } from './support/client.mjs';

const skip = BACKEND !== 's3' && 'the S3 pass runs the weak-store checks';
let gw;
const alice = tokenFor('alice');
const body = 'the right bytes';

before(async () => {
  if (skip) return;
  gw = await startGateway({}, { backend: 's3', store: await startMoto() });
});
after(() => gw?.close());

const put = (key, headers = {}, data = body) => call(gw, 'PUT', `/files/${key}`, { token: alice, headers: { 'content-type': 'text/plain', ...headers }, body: data });

async function leftovers(key) {
  const { results } = await gw.db.prepare('SELECT storage_key FROM pending_uploads WHERE key = ?').bind(key).all();
  return results.length;
}

test('a wrong Content-MD5 the store ignored is refused by the gateway and nothing stays', { skip }, async () => {
  const res = await put('alice/weak/md5.txt', { 'content-md5': md5('other bytes').toString('base64') });
  assertProblem(assert, res, 400, 'checksum_mismatch');
  assert.equal(await gw.row('alice/weak/md5.txt'), null);
  assert.equal(await gw.object('alice/weak/md5.txt'), null);
  assert.equal(await leftovers('alice/weak/md5.txt'), 0);
  const ok = await put('alice/weak/md5.txt', { 'content-md5': md5(body).toString('base64') });
  assert.equal(ok.status, 201, ok.text);
});

test('a SHA-256 the store did not confirm is never recorded as verified', { skip }, async () => {
  for (const digest of [sha256('other bytes'), sha256(body)]) {
    const res = await put('alice/weak/sha.txt', { 'x-amz-checksum-sha256': digest.toString('base64') });
    assertProblem(assert, res, 400, 'bad_request');
    assert.match(res.json.detail, /did not confirm/);
  }
  assert.equal(await gw.row('alice/weak/sha.txt'), null);
  assert.equal(await gw.object('alice/weak/sha.txt'), null);
});

test('If-None-Match: * never overwrites, whatever the store does with the header', { skip }, async () => {
  assert.equal((await put('alice/weak/once.txt', {}, 'first')).status, 201);
  const again = await put('alice/weak/once.txt', { 'if-none-match': '*' }, 'second');
  assertProblem(assert, again, 412, 'precondition_failed');
  assert.equal((await gw.object('alice/weak/once.txt')).text(), 'first');
  const get = await call(gw, 'GET', '/files/alice/weak/once.txt', { token: alice });
  assert.equal(get.text, 'first');
});

test('a refused overwrite leaves the previous file downloadable', { skip }, async () => {
  assert.equal((await put('alice/weak/keep.txt', {}, 'previous')).status, 201);
  const res = await put('alice/weak/keep.txt', { 'content-md5': md5('nope').toString('base64') }, 'replacement');
  assertProblem(assert, res, 400, 'checksum_mismatch');
  const get = await call(gw, 'GET', '/files/alice/weak/keep.txt', { token: alice });
  assert.equal(get.status, 200);
  assert.equal(get.text, 'previous');
});

test('from a store that ignores Range, the sniffing reads only the first bytes of a large object', { skip }, async () => {
  const moto = await startMoto();
  const proxy = await startFaultProxy(moto.endpoint, { rate: 0, ignoreRange: true });
  const ranged = await startGateway({ S3_ENDPOINT: proxy.endpoint }, { backend: 's3', store: moto });
  try {
    const size = 64 * 1024 * 1024;
    const png = Buffer.alloc(size);
    Buffer.from('89504e470d0a1a0a0000000d49484452', 'hex').copy(png);
    const res = await call(ranged, 'PUT', '/files/alice/weak/big.png', { token: alice, headers: { 'content-type': 'image/png' }, body: png });
    assert.equal(res.status, 201, res.text);
    const row = await eventually(async () => { const r = await ranged.row('alice/weak/big.png'); return r?.detected_type ? r : null; }, 20000);
    assert.equal(row?.detected_type, 'image/png', 'the follow-up sniffed the type');
    // The follow-up's GET is answered with the whole object; it reads 512 bytes and cancels.
    const gets = proxy.delivered.filter((d) => d.method === 'GET');
    assert.ok(gets.length > 0);
    for (const g of gets) assert.ok(g.bytes < size / 2, `the gateway read ${g.bytes} of ${size} bytes`);
  } finally {
    await ranged.close();
    await proxy.close();
  }
});

test('with S3_CHECKSUMS=gateway, moto takes a right SHA-256 or MD5 (201) and a wrong one is checksum_mismatch with nothing left', { skip }, async () => {
  const checking = await startGateway({ S3_CHECKSUMS: 'gateway' }, { backend: 's3', store: await startMoto() });
  try {
    const upload = (key, headers, data = body) => call(checking, 'PUT', `/files/${key}`, { token: alice, headers: { 'content-type': 'text/plain', ...headers }, body: data });
    const right = await upload('alice/weak/gw-sha.txt', { 'x-amz-checksum-sha256': sha256(body).toString('base64') });
    assert.equal(right.status, 201, right.text);
    assert.equal((await checking.row('alice/weak/gw-sha.txt')).checksum_sha256, sha256(body).toString('base64'));
    // Large enough to be journaled and streamed rather than read whole.
    const big = Buffer.alloc(3 * 1024 * 1024, 7);
    const both = { 'x-amz-checksum-sha256': sha256(big).toString('base64'), 'content-md5': md5(big).toString('base64') };
    assert.equal((await upload('alice/weak/gw-big.bin', both, big)).status, 201);
    assert.equal((await checking.object('alice/weak/gw-big.bin')).bytes().length, big.length);
    for (const [key, headers, data] of [
      ['alice/weak/gw-wrong.txt', { 'x-amz-checksum-sha256': sha256('other bytes').toString('base64') }, body],
      ['alice/weak/gw-wrong-md5.txt', { 'content-md5': md5('other bytes').toString('base64') }, body],
      ['alice/weak/gw-wrong-big.bin', { 'x-amz-checksum-sha256': sha256('other bytes').toString('base64') }, big],
    ]) {
      const wrong = await upload(key, headers, data);
      assertProblem(assert, wrong, 400, 'checksum_mismatch');
      assert.equal(await checking.row(key), null);
    }
    await checking.scheduled();
    const { results } = await checking.db.prepare("SELECT storage_key FROM pending_uploads WHERE key LIKE 'alice/weak/gw-wrong%'").all();
    assert.deepEqual(results, [], 'a journal entry of a mismatched upload is left');
    const left = (await checking.storedNames()).filter((n) => n.startsWith('alice/weak/gw-wrong'));
    assert.deepEqual(left, [], 'a mismatched upload is still stored');
  } finally {
    await checking.close();
  }
});
