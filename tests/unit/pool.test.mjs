// The worker pool in public/client.js: it never runs more than its concurrency at once, and
// the first failure (or the caller's cancel) stops it and is the error reported.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { runPool, UploadError } from '../../public/client.js';

/** A promise settled from outside. */
function deferred() {
  let resolve;
  let reject;
  const promise = new Promise((res, rej) => { resolve = res; reject = rej; });
  return { promise, resolve, reject };
}

/** Work that waits until released (or its signal aborts), recording what runs. */
function gatedWork() {
  const gates = new Map();
  const started = [];
  const seenAbort = [];
  let active = 0;
  let peak = 0;
  const work = (item, signal) => {
    started.push(item);
    active++;
    peak = Math.max(peak, active);
    const gate = deferred();
    gates.set(item, gate);
    let running = true;
    signal.addEventListener('abort', () => {
      if (running) seenAbort.push(item);
      gate.reject(new UploadError(0, 'aborted', ''));
    }, { once: true });
    return gate.promise.finally(() => { running = false; active--; });
  };
  const tick = () => new Promise((r) => setImmediate(r));
  return { work, gates, started, seenAbort, tick, peak: () => peak };
}

test('the pool never runs more items at once than its concurrency, and runs them all', { timeout: 5000 }, async () => {
  const g = gatedWork();
  const done = runPool([1, 2, 3, 4, 5, 6, 7, 8], 3, g.work);
  for (let i = 0; i < 8; i++) {
    await g.tick();
    g.gates.get(g.started[i]).resolve();
  }
  await done;
  assert.equal(g.peak(), 3);
  assert.deepEqual(g.started, [1, 2, 3, 4, 5, 6, 7, 8]);
});

test('a pool wider than its items runs each once', { timeout: 5000 }, async () => {
  const seen = [];
  await runPool([1, 2], 8, async (item) => { seen.push(item); });
  assert.deepEqual(seen.sort(), [1, 2]);
});

test('a concurrency under one still runs the items one at a time', { timeout: 5000 }, async () => {
  const g = gatedWork();
  const done = runPool([1, 2], 0, g.work);
  await g.tick();
  assert.deepEqual(g.started, [1]);
  g.gates.get(1).resolve();
  await g.tick();
  g.gates.get(2).resolve();
  await done;
  assert.equal(g.peak(), 1);
});

test('the first failure stops the pool: nothing more starts, the running items are aborted, and that failure is reported', { timeout: 5000 }, async () => {
  const g = gatedWork();
  const done = runPool([1, 2, 3, 4, 5, 6], 2, g.work);
  await g.tick();
  assert.deepEqual(g.started, [1, 2]);
  g.gates.get(2).reject(new UploadError(400, 'bad_request', 'part 2 refused'));
  await assert.rejects(done, (e) => e.code === 'bad_request' && e.detail === 'part 2 refused');
  assert.deepEqual(g.started, [1, 2], 'no item started after the failure');
  assert.deepEqual(g.seenAbort, [1], 'the part still running was told to stop');
});

test('cancelling stops the pool with an aborted error', { timeout: 5000 }, async () => {
  const g = gatedWork();
  const controller = new AbortController();
  const done = runPool([1, 2, 3], 1, g.work, { signal: controller.signal });
  await g.tick();
  controller.abort();
  await assert.rejects(done, (e) => e.code === 'aborted');
  assert.deepEqual(g.started, [1]);
});

test('a pool cancelled before it starts runs nothing', { timeout: 5000 }, async () => {
  const controller = new AbortController();
  controller.abort();
  let ran = 0;
  await assert.rejects(runPool([1], 1, async () => { ran++; }, { signal: controller.signal }), (e) => e.code === 'aborted');
  assert.equal(ran, 0);
});
