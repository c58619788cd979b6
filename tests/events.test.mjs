// Upload events through a real (Miniflare) queue to a local webhook receiver: delivered once
// when the receiver is up; retried under the same event id with a higher attempt while it is
// down; parked in the dead-letter queue after the retry limit; not retried when refused; and
// still delivered, by the sweep, when the send to the queue failed after the 201.
import { test, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { startGateway, eventually, BACKEND, DEAD_LETTER_QUEUE, EVENTS_QUEUE } from './support/gateway.mjs';
import { startReceiver, verifies } from './support/receiver.mjs';
import { call, tokenFor } from './support/client.mjs';

const WEBHOOK_SECRET = 'webhook-secret-for-the-event-tests';
const sleep = (ms) => new Promise((r) => setTimeout(r, ms));
const alice = tokenFor('alice');
const put = (gw, key, body = 'hello', type = 'text/plain') =>
  call(gw, 'PUT', `/files/${key}`, { token: alice, headers: { 'content-type': type }, body });
const lines = (gw) => gw.logs.map((l) => { try { return JSON.parse(l.message); } catch { return {}; } });

// Answers per key: the key's last path segment names the behaviour.
const answer = (r) => {
  if (r.path === '/dlq') return 204;
  const key = r.json?.key ?? '';
  if (key.endsWith('/refused.txt')) return 400;
  if (key.endsWith('/flaky.txt')) return flaky;
  return 204;
};
let flaky = 503;
let hook;
let gw;

before(async () => {
  hook = await startReceiver(answer);
  gw = await startGateway({ WEBHOOK_URL: `${hook.url}/hook`, WEBHOOK_SECRET }, { logs: true });
});
after(() => { gw?.close(); hook?.close(); });

test('an upload\'s event reaches the receiver exactly once, signed, with attempt 1', async () => {
  const res = await put(gw, 'alice/ev/once.txt');
  assert.equal(res.status, 201);
  const first = await eventually(() => hook.forKey('alice/ev/once.txt')[0], 10_000);
  assert.ok(first, 'delivered');
  assert.ok(verifies(first, WEBHOOK_SECRET));
  assert.equal(first.headers['x-upload-attempt'], '1');
  assert.equal(first.json.id, first.headers['x-upload-event-id']);
  await sleep(2500);
  assert.equal(hook.about(first.json.id).length, 1, 'exactly once');
  assert.deepEqual(await gw.outbox(), [], 'the consumer cleared the outbox row');
  const delivered = lines(gw).find((l) => l.msg === 'event_delivered' && l.event_id === first.json.id);
  assert.equal(delivered?.status, 204);
});

test('a receiver that answers 503 and then refuses connections gets the same event again, with a higher attempt, once it is back', async () => {
  flaky = 503;
  assert.equal((await put(gw, 'alice/ev/flaky.txt')).status, 201);
  const failures = await eventually(() => hook.forKey('alice/ev/flaky.txt').length >= 2, 15_000);
  assert.ok(failures, 'two attempts answered 503');
  await hook.refuse();
  const refused = await eventually(
    () => lines(gw).some((l) => l.msg === 'event_retried' && l.key === 'alice/ev/flaky.txt' && /could not be reached/.test(l.detail)),
    15_000,
  );
  flaky = 204;
  await hook.listen();
  assert.ok(refused, 'an attempt met a refused connection');
  const done = await eventually(() => hook.forKey('alice/ev/flaky.txt').find((r) => r.json.attempt > 2), 30_000);
  assert.ok(done, 'delivered after the receiver came back');
  const all = hook.forKey('alice/ev/flaky.txt');
  assert.equal(new Set(all.map((r) => r.headers['x-upload-event-id'])).size, 1, 'one event id throughout');
  const attempts = all.map((r) => Number(r.headers['x-upload-attempt']));
  assert.deepEqual(attempts, [...attempts].sort((a, b) => a - b), 'attempts only grow');
  assert.ok(attempts.at(-1) > attempts.length, `an attempt the receiver never saw happened in between: ${attempts}`);
  assert.ok(all.every((r) => verifies(r, WEBHOOK_SECRET)));
});

test('a receiver that answers 400 is not retried', async () => {
  assert.equal((await put(gw, 'alice/ev/refused.txt')).status, 201);
  const first = await eventually(() => hook.forKey('alice/ev/refused.txt')[0], 10_000);
  assert.ok(first);
  await sleep(3000);
  assert.equal(hook.forKey('alice/ev/refused.txt').length, 1);
  const rejected = lines(gw).find((l) => l.msg === 'event_rejected' && l.key === 'alice/ev/refused.txt');
  assert.equal(rejected?.status, 400);
});

test('every kind of change yields its event and the consumer records the sniffed type', async () => {
  const keys = {};
  keys.put = 'alice/ev/kinds/put.txt';
  assert.equal((await put(gw, keys.put)).status, 201);

  keys.multipart = 'alice/ev/kinds/multi.txt';
  const start = await call(gw, 'POST', `/files/${keys.multipart}?uploads`, { token: alice, headers: { 'content-type': 'application/json' }, body: JSON.stringify({ content_type: 'text/plain' }) });
  const id = start.json.upload_id;
  const part = await call(gw, 'PUT', `/files/${keys.multipart}?uploadId=${id}&partNumber=1`, { token: alice, body: 'multipart text' });
  const done = await call(gw, 'POST', `/files/${keys.multipart}?uploadId=${id}`, { token: alice, headers: { 'content-type': 'application/json' }, body: JSON.stringify({ parts: [{ part_number: 1, etag: part.json.etag }] }) });
  assert.equal(done.status, 201, done.text);

  keys.tus = 'alice/ev/kinds/tus.txt';
  const created = await call(gw, 'POST', '/tus/', { token: alice, headers: { 'tus-resumable': '1.0.0', 'upload-length': '8', 'upload-metadata': `key ${Buffer.from(keys.tus).toString('base64')},filetype ${Buffer.from('text/plain').toString('base64')}` } });
  const patched = await call(gw, 'PATCH', new URL(created.headers.get('location')).pathname, { token: alice, headers: { 'tus-resumable': '1.0.0', 'upload-offset': '0', 'content-type': 'application/offset+octet-stream' }, body: 'tus text' });
  assert.equal(patched.status, 204, patched.text);

  if (BACKEND === 's3') {
    keys.confirm = 'alice/ev/kinds/direct.txt';
    const signed = await call(gw, 'POST', '/presign', { token: alice, headers: { 'content-type': 'application/json' }, body: JSON.stringify({ key: keys.confirm, content_type: 'text/plain', size: 11 }) });
    assert.equal(signed.status, 200, signed.text);
    const direct = await fetch(signed.json.url, { method: signed.json.method, headers: signed.json.headers, body: 'direct text' });
    assert.ok(direct.ok, `direct PUT: ${direct.status}`);
    assert.equal((await call(gw, 'POST', `/files/${keys.confirm}/confirm`, { token: alice })).status, 201);
  }

  for (const [kind, key] of Object.entries(keys)) {
    const event = await eventually(() => hook.forKey(key).find((r) => r.json.type === 'object.uploaded'), 10_000);
    assert.ok(event, `${kind}: no event`);
    assert.equal(event.json.detected_type, 'text/plain', `${kind}: sniffed by the consumer`);
    const row = await gw.row(key);
    assert.equal(row.detected_type, 'text/plain', `${kind}: recorded on the row`);
    assert.equal(row.type_matches, 1);
    assert.equal(event.json.etag, row.etag);
  }

  assert.equal((await call(gw, 'DELETE', `/files/${keys.put}`, { token: alice })).status, 204);
  const deleted = await eventually(() => hook.forKey(keys.put).find((r) => r.json.type === 'object.deleted'), 10_000);
  assert.ok(deleted, 'a delete yields object.deleted');
  const uploaded = hook.forKey(keys.put).find((r) => r.json.type === 'object.uploaded');
  assert.notEqual(deleted.json.id, uploaded.json.id);
  assert.equal(deleted.json.etag, uploaded.json.etag);
});

test('after the retry limit the event is in the dead-letter queue', async () => {
  const sink = await startReceiver(() => 204);
  const down = await startReceiver(() => 503);
  const dlqReader = {
    name: 'dead-letters',
    modules: true,
    script: `export default { async queue(batch, env) {
      for (const m of batch.messages) { await fetch(env.SINK, { method: 'POST', body: JSON.stringify(m.body) }); m.ack(); }
    } }`,
    bindings: { SINK: `${sink.url}/dlq` },
    queueConsumers: { [DEAD_LETTER_QUEUE]: { maxBatchTimeout: 1 } },
  };
  const limited = await startGateway({ WEBHOOK_URL: `${down.url}/hook`, WEBHOOK_SECRET }, { logs: true, queue: { maxRetries: 2 }, workers: [dlqReader] });
  try {
    assert.equal((await put(limited, 'alice/ev/dead.txt')).status, 201);
    const parked = await eventually(() => sink.requests.find((r) => r.json.key === 'alice/ev/dead.txt'), 30_000);
    assert.ok(parked, 'the event reached the dead-letter queue');
    const attempts = down.forKey('alice/ev/dead.txt').map((r) => r.headers['x-upload-attempt']);
    assert.deepEqual(attempts, ['1', '2', '3'], 'the first attempt and two retries');
    assert.equal(parked.json.id, down.forKey('alice/ev/dead.txt')[0].json.id, 'the same event');
    assert.equal(parked.json.version, 1);
    const last = lines(limited).filter((l) => l.key === 'alice/ev/dead.txt' && l.msg.startsWith('event_')).map((l) => l.msg);
    assert.deepEqual(last, ['event_retried', 'event_retried', 'event_dead_lettered']);
  } finally {
    await limited.close();
    sink.close();
    down.close();
  }
});

test('a queue send that fails still answers 201, and the sweep delivers the event later', async () => {
  // EVENTS is a Worker standing in for the queue, refusing sends until told otherwise; it
  // forwards to the real queue once up.
  const flakyQueue = {
    name: 'flaky-queue',
    modules: true,
    script: `import { WorkerEntrypoint } from 'cloudflare:workers';
      let up = false;
      export class FlakyQueue extends WorkerEntrypoint {
        async send(body, options) { if (!up) throw new Error('queue unavailable'); return this.env.REAL.send(body, options); }
      }
      export default { async fetch(req) { up = new URL(req.url).searchParams.get('up') === '1'; return new Response('ok'); } }`,
    queueProducers: { REAL: EVENTS_QUEUE },
  };
  const receiver = await startReceiver(() => 204);
  const stranded = await startGateway({ WEBHOOK_URL: `${receiver.url}/hook`, WEBHOOK_SECRET }, {
    logs: true,
    miniflare: { queueProducers: {}, serviceBindings: { EVENTS: { name: 'flaky-queue', entrypoint: 'FlakyQueue' } } },
    workers: [flakyQueue],
  });
  try {
    const res = await put(stranded, 'alice/ev/stranded.txt');
    assert.equal(res.status, 201, 'the upload is committed whatever the queue does');
    const problem = await eventually(() => lines(stranded).find((l) => l.msg === 'followup_problem' && /queueing event/.test(l.detail)), 5000);
    assert.ok(problem, 'the failed send is logged');
    const [row] = await stranded.outbox();
    assert.equal(JSON.parse(row.body).key, 'alice/ev/stranded.txt', 'the event waits in the outbox');
    await sleep(1500);
    assert.equal(receiver.forKey('alice/ev/stranded.txt').length, 0);

    await (await stranded.mf.getWorker('flaky-queue')).fetch('http://queue/?up=1');
    await stranded.db.prepare('UPDATE event_outbox SET created_at = created_at - 600000').run();
    assert.equal(await stranded.scheduled(), 200);
    const delivered = await eventually(() => receiver.forKey('alice/ev/stranded.txt')[0], 10_000);
    assert.ok(delivered, 'delivered after the sweep');
    assert.equal(delivered.json.id, JSON.parse(row.body).id, 'under the id the outbox held');
    assert.deepEqual(await stranded.outbox(), []);
    const sweep = lines(stranded).find((l) => l.msg === 'sweep');
    assert.match(sweep.detail, /1 events re-sent/);
  } finally {
    await stranded.close();
    receiver.close();
  }
});

test('without a queue the follow-up runs once from waitUntil, writes no outbox row, and says it is best-effort', async () => {
  const receiver = await startReceiver(() => 204);
  const plain = await startGateway({ WEBHOOK_URL: `${receiver.url}/hook`, WEBHOOK_SECRET }, { logs: true, queue: false });
  try {
    assert.equal((await put(plain, 'alice/ev/plain-1.txt')).status, 201);
    assert.equal((await put(plain, 'alice/ev/plain-2.txt')).status, 201);
    const both = await eventually(() => receiver.requests.length >= 2, 5000);
    assert.ok(both, 'both delivered');
    assert.ok(receiver.requests.every((r) => verifies(r, WEBHOOK_SECRET) && r.headers['x-upload-attempt'] === '1'));
    assert.equal((await plain.row('alice/ev/plain-1.txt')).detected_type, 'text/plain');
    assert.deepEqual(await plain.outbox(), []);
    assert.equal(lines(plain).filter((l) => l.msg === 'events_best_effort').length, 1, 'said once');
  } finally {
    await plain.close();
    receiver.close();
  }
});
