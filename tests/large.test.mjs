// A body larger than the enterprise plan's 200 MB business cap streams through the Worker
// into R2 and back unchanged: the SHA-256 of the download equals that of the upload.
import { test, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { startGateway } from './support/gateway.mjs';
import { tokenFor } from './support/client.mjs';
import { putGenerated, getHashed } from './support/stream.mjs';

const SIZE = 210 * 1024 * 1024; // 220,200,960 bytes, over 200 MB
let gw;
before(async () => { gw = await startGateway({ MAX_UPLOAD_BYTES: String(256 * 1024 * 1024) }); });
after(() => gw?.close());

test('a 210 MiB upload is stored whole and downloads with the same SHA-256', async () => {
  const auth = { authorization: `Bearer ${tokenFor('alice')}` };
  const put = await putGenerated(`${gw.url}/files/alice/large.bin`, SIZE, { ...auth, 'content-type': 'application/octet-stream' });
  assert.equal(put.status, 201, put.body);
  assert.equal(JSON.parse(put.body).size, SIZE);
  const row = await gw.row('alice/large.bin');
  assert.equal(row.size, SIZE);
  const got = await getHashed(`${gw.url}/files/alice/large.bin`, { ...auth, 'accept-encoding': 'identity' });
  assert.equal(got.status, 200);
  assert.equal(got.size, SIZE);
  assert.equal(got.sha256, put.sha256);
});
