// The store and metadata contracts (crates/gateway-core/src/contract) inside the built Worker,
// against the real backends: the R2 simulator or a real S3 server, and the D1 simulator. The
// same cases run natively against the in-memory fakes (crates/gateway-core/tests/contract.rs),
// so a fake that drifts from what the backends do fails one side. Needs the test-only build
// with the contract routes: `bash scripts/build.sh --contract`.
import { test, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { startGateway, BACKEND } from './support/gateway.mjs';

let gw;
before(async () => { gw = await startGateway({}, { build: 'build-contract' }); });
after(async () => { await gw?.close(); });

async function run(suite) {
  const res = await fetch(`${gw.url}/__contract/${suite}`);
  assert.equal(res.status, 200, await res.clone().text());
  return res.json();
}

/**
 * Cases a store is known to fail, each listed in docs/security.md ("What each store enforces").
 * They must still fail there: a store that starts enforcing the property shows up here.
 */
const KNOWN_GAPS = {
  r2: [],
  s3: [
    // s3s-fs assembles a completion whatever part ETags it names,
    'a_completion_naming_a_part_the_store_lacks_is_refused_as_bad_parts',
    // and answers 403 AccessDenied, not 404 NoSuchUpload, to aborting an upload it no longer has.
    'aborting_twice_succeeds_and_the_upload_is_gone',
  ],
};

function failures(outcomes, gaps = []) {
  const failed = outcomes.filter((o) => o.failure);
  assert.deepEqual(failed.filter((o) => gaps.includes(o.case)).map((o) => o.case), gaps, 'a known gap closed');
  return failed.filter((o) => !gaps.includes(o.case)).map((o) => `${o.case}: ${o.failure}`);
}

test(`the ${BACKEND} store keeps the store contract`, async () => {
  const outcomes = await run('store');
  assert.equal(outcomes.length, 15, 'every case ran');
  assert.deepEqual(failures(outcomes, KNOWN_GAPS[BACKEND]), []);
});

test('D1 keeps the metadata contract', async () => {
  const outcomes = await run('metadata');
  assert.equal(outcomes.length, 40, 'every case ran');
  assert.deepEqual(failures(outcomes), []);
});
