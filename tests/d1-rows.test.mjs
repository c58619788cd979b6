// D1 rows written per upload kind, counted by D1 itself (each statement's meta.rows_written,
// index entries included, as the Worker logs them) against the D1 simulator: what one upload
// costs in D1's billing unit and in write load on its single primary. The figures are the
// table in bench/operations.md; a change that writes more (or fewer) rows must update both.
import { test, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { startGateway, BACKEND } from './support/gateway.mjs';
import { measureKinds, d1Of } from './support/rows.mjs';
import { call, tokenFor } from './support/client.mjs';

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

test('with a storage quota, a multipart part, a tus creation and chunk and a direct presign reserve in the one D1 round trip they make anyway', async () => {
  const quota = { quota: { bytes: 2 ** 40, objects: 10 ** 6 } };
  const [plain, quoted] = [await measureKinds(gw, { owner: 'plain' }), await measureKinds(gw, { owner: 'quoted', claims: quota })];
  const left = await gw.db.prepare("SELECT COUNT(*) AS n FROM quota_reservations WHERE owner = 'quoted'").first();
  assert.equal(left.n, 0, 'a reservation outlived its write');
  // An unconfirmed URL's reservation lasts until its confirm window closes: measured last.
  if (BACKEND === 's3') {
    const presign = async (owner, claims) => {
      const res = await call(gw, 'POST', '/presign', { token: tokenFor(owner, claims), headers: { 'content-type': 'application/json' }, body: JSON.stringify({ key: `${owner}/rows/direct.txt`, content_type: 'text/plain', size: 4096 }) });
      assert.equal(res.status, 200, res.text);
      return { status: res.status, ...(await d1Of(gw, res)) };
    };
    plain['direct presign'] = await presign('plain', {});
    quoted['direct presign'] = await presign('quoted', quota);
  }
  for (const kind of ['multipart part (5 MiB)', 'tus creation', 'tus chunk (5 MiB)', 'tus last chunk (4 KiB, finishes the upload)', ...(BACKEND === 's3' ? ['direct presign'] : [])]) {
    assert.ok(quoted[kind].status < 300, `${kind}: ${quoted[kind].status}`);
    assert.equal(quoted[kind].calls.request, plain[kind].calls.request, `${kind}: D1 calls with a quota`);
    // A part's or chunk's batch also removes a reservation whose attempt or lease was not taken;
    // a creation's records are made only under their reservation.
    const added = kind.includes('creation') || kind.includes('presign') ? 1 : 2;
    assert.equal(quoted[kind].statements.request, plain[kind].statements.request + added, `${kind}: the reservation joined the batch`);
  }
});
