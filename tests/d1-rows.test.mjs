// D1 rows written per upload kind, counted by D1 itself (each statement's meta.rows_written,
// index entries included, as the Worker logs them) against the D1 simulator: what one upload
// costs in D1's billing unit and in write load on its single primary. The figures are the
// table in bench/operations.md; a change that writes more (or fewer) rows must update both.
import { test, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { startGateway, BACKEND } from './support/gateway.mjs';
import { measureKinds } from './support/rows.mjs';

// request / follow-up after the answer / queue consumer (its share of the batch's outbox delete included)
const EXPECTED = {
  'single PUT, 4 KiB, new key': { request: 3, followup: 0, consumer: 0 },
  'single PUT, 4 KiB, overwrite': { request: 7, followup: 1, consumer: 0 },
  'single PUT, 1 MiB': { request: 7, followup: 0, consumer: 2 },
  'multipart start': { request: 6, followup: 0, consumer: 0 },
  'multipart part (5 MiB)': { request: 5, followup: 0, consumer: 0 },
  'multipart completion': { request: 8, followup: 0, consumer: 1 },
  'tus creation': { request: 6, followup: 0, consumer: 0 },
  'tus chunk (5 MiB)': { request: 4, followup: 0, consumer: 0 },
  'tus last chunk (4 KiB, finishes the upload)': { request: 9, followup: 0, consumer: 1 },
  ...(BACKEND === 's3' ? { 'presigned confirm, 4 KiB': { request: 5, followup: 0, consumer: 2 } } : {}),
  delete: { request: 8, followup: 0, consumer: 1 },
};

// D1 round trips before the answer (a statement run alone, or a batch), and their statements.
const EXPECTED_CALLS = {
  'single PUT, 4 KiB, new key': [1, 3],
  'single PUT, 4 KiB, overwrite': [1, 3],
  'single PUT, 1 MiB': [2, 6],
  'multipart start': [1, 2],
  'multipart part (5 MiB)': [2, 6],
  'multipart completion': [2, 11],
  'tus creation': [1, 2],
  'tus chunk (5 MiB)': [2, 7],
  'tus last chunk (4 KiB, finishes the upload)': [2, 12],
  ...(BACKEND === 's3' ? { 'presigned confirm, 4 KiB': [2, 6] } : {}),
  delete: [2, 6],
};

let gw;
before(async () => { gw = await startGateway({ MAX_UPLOAD_BYTES: String(64 * 1024 * 1024) }, { logs: true }); });
after(() => gw?.close());

test('each upload kind writes the D1 rows and makes the D1 calls before its answer that bench/operations.md lists, counted by D1', async () => {
  const measured = await measureKinds(gw);
  for (const [kind, m] of Object.entries(measured)) assert.ok(m.status < 300, `${kind}: ${m.status}`);
  assert.deepEqual(Object.fromEntries(Object.entries(measured).map(([k, m]) => [k, m.rows])), EXPECTED);
  assert.deepEqual(Object.fromEntries(Object.entries(measured).map(([k, m]) => [k, [m.calls.request, m.statements.request]])), EXPECTED_CALLS);
});

test('with a storage quota, a multipart part and a tus chunk reserve their bytes in the one D1 round trip they make before their body', async () => {
  const quota = { quota: { bytes: 2 ** 40, objects: 10 ** 6 } };
  const [plain, quoted] = [await measureKinds(gw, { owner: 'plain' }), await measureKinds(gw, { owner: 'quoted', claims: quota })];
  for (const kind of ['multipart part (5 MiB)', 'tus chunk (5 MiB)', 'tus last chunk (4 KiB, finishes the upload)']) {
    assert.ok(quoted[kind].status < 300, `${kind}: ${quoted[kind].status}`);
    assert.equal(quoted[kind].calls.request, plain[kind].calls.request, `${kind}: D1 calls with a quota`);
    assert.equal(quoted[kind].statements.request, plain[kind].statements.request + 2, `${kind}: the reservation and its undo joined the batch`);
  }
  const usage = await gw.db.prepare("SELECT COUNT(*) AS n FROM quota_reservations WHERE owner = 'quoted'").first();
  assert.equal(usage.n, 0, 'a reservation outlived its write');
});
