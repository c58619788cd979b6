// Retries in public/client.js: which failures are sent again, the delays (doubling from 1 s
// with equal jitter, capped) and when retrying stops. Randomness and sleeping are injected,
// so no test waits.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { backoffDelay, isRetryable, withRetries, startsOver, UploadError } from '../../public/client.js';

const fail = (status, code) => new UploadError(status, code, '');

/** A `sleep` that records each delay and returns at once. */
function recorder() {
  const delays = [];
  return { delays, sleep: async (ms) => { delays.push(ms); } };
}

test('each retry waits between half and all of a delay that doubles from 1 s', () => {
  for (const [retry, full] of [[1, 1000], [2, 2000], [3, 4000], [4, 8000]]) {
    assert.equal(backoffDelay(retry, () => 0), full / 2);
    const top = backoffDelay(retry, () => 0.999999);
    assert.ok(top < full && top > full * 0.99, `retry ${retry}: ${top}`);
  }
});

test('the retry delay stops growing at 30 s', () => {
  assert.equal(backoffDelay(10, () => 0.999999) < 30_000, true);
  assert.equal(backoffDelay(10, () => 0), 15_000);
  assert.equal(backoffDelay(40, () => 0), 15_000);
});

test('network failures, 5xx and 429 are retried; refusals are not', () => {
  for (const e of [fail(0, 'network_error'), fail(500, 'internal'), fail(502, 'storage_error'), fail(503, 'storage_error'), fail(429, 'too_many_requests')]) {
    assert.equal(isRetryable(e), true, `${e.status} ${e.code}`);
  }
  for (const e of [fail(0, 'aborted'), fail(400, 'bad_request'), fail(401, 'token_expired'), fail(403, 'forbidden'), fail(404, 'upload_not_found'), fail(413, 'payload_too_large')]) {
    assert.equal(isRetryable(e), false, `${e.status} ${e.code}`);
  }
});

test('a request answered 503 twice is retried with growing delays and then succeeds', async () => {
  const { delays, sleep } = recorder();
  let calls = 0;
  const result = await withRetries(async () => {
    calls++;
    if (calls <= 2) throw fail(503, 'storage_error');
    return 'stored';
  }, { random: () => 0.5, sleep });
  assert.equal(result, 'stored');
  assert.equal(calls, 3);
  assert.deepEqual(delays, [750, 1500]);
});

test('a request that keeps failing is tried four times and its last error is reported', async () => {
  const { delays, sleep } = recorder();
  let calls = 0;
  await assert.rejects(
    withRetries(async () => { calls++; throw fail(503, `storage_error_${calls}`); }, { random: () => 0, sleep }),
    (e) => e.code === 'storage_error_4',
  );
  assert.equal(calls, 4);
  assert.deepEqual(delays, [500, 1000, 2000]);
});

test('the number of retries can be set', async () => {
  const { delays, sleep } = recorder();
  let calls = 0;
  await assert.rejects(withRetries(async () => { calls++; throw fail(0, 'network_error'); }, { retries: 1, random: () => 0, sleep }));
  assert.equal(calls, 2);
  assert.equal(delays.length, 1);
});

test('a refusal is reported at once, without waiting', async () => {
  const { delays, sleep } = recorder();
  let calls = 0;
  await assert.rejects(withRetries(async () => { calls++; throw fail(400, 'bad_request'); }, { sleep }), (e) => e.code === 'bad_request');
  assert.equal(calls, 1);
  assert.deepEqual(delays, []);
});

test('cancelling during a retry wait stops without another attempt', async () => {
  const controller = new AbortController();
  let calls = 0;
  await assert.rejects(
    withRetries(async () => { calls++; throw fail(503, 'storage_error'); }, { signal: controller.signal, sleep: async () => controller.abort() }),
    (e) => e.code === 'aborted',
  );
  assert.equal(calls, 1);
});

test('the default sleep ends early when its signal aborts', async () => {
  const { sleep } = await import('../../public/client.js');
  const controller = new AbortController();
  const started = Date.now();
  setTimeout(() => controller.abort(), 10);
  await sleep(60_000, controller.signal);
  assert.ok(Date.now() - started < 5_000);
});

test('a saved upload is started again only when the gateway says it is gone for this caller', () => {
  assert.equal(startsOver(fail(404, 'upload_not_found')), true, 'expired, completed, aborted or unknown');
  assert.equal(startsOver(fail(403, 'forbidden')), true, "another caller's upload");
  for (const e of [fail(401, 'token_expired'), fail(401, 'invalid_token'), fail(404, 'not_found'), fail(404, 'http_404'), fail(503, 'storage_error'), fail(0, 'network_error'), fail(0, 'aborted')]) {
    assert.equal(startsOver(e), false, `${e.status} ${e.code}`);
  }
});
