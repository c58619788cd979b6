// The operator's view of a whole session (uploads, refusals, presigned URLs, multipart, tus):
// every line the Worker logs is one JSON object, each request's line carries the id its
// answer gave in X-Request-Id (and problem bodies in `request_id`), and no line holds a token,
// a signature or a secret.
import { test, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { startGateway, eventually, JWT_SECRET } from './support/gateway.mjs';
import { startReceiver } from './support/receiver.mjs';
import { call, tokenFor } from './support/client.mjs';

const URL_SIGNING_SECRET = 'url-signing-secret-for-the-log-test-0123456789';
const WEBHOOK_SECRET = 'webhook-secret-for-the-log-test-0123456789';
let gw;
let hook;
before(async () => {
  hook = await startReceiver();
  gw = await startGateway(
    { URL_SIGNING_SECRET, WEBHOOK_URL: `${hook.url}/hook`, WEBHOOK_SECRET, MAX_UPLOAD_BYTES: String(8 * 1024 * 1024) },
    { logs: true },
  );
});
after(() => { gw?.close(); hook?.close(); });

test('every log line is JSON with the request id of its answer and no secret', async () => {
  const alice = tokenFor('alice');
  const answers = [];
  const send = async (method, path, opts) => {
    const res = await call(gw, method, path, opts);
    answers.push({ method, path, status: res.status, id: res.headers.get('x-request-id'), json: res.json });
    return res;
  };
  await send('PUT', '/files/alice/log/a.txt', { token: alice, headers: { 'content-type': 'text/plain' }, body: 'hello' });
  await send('GET', '/files/alice/log/a.txt', { token: alice });
  await send('PUT', '/files/alice/log/b.txt', { body: 'no token' });
  await send('PUT', '/files/bob/log/c.txt', { token: alice, body: 'not mine' });
  await send('PUT', '/files/alice/log/a.txt', { token: alice, headers: { 'content-type': 'text/plain', 'if-none-match': '*' }, body: 'again' });
  const presigned = await send('POST', '/presign', { token: alice, headers: { 'content-type': 'application/json' }, body: JSON.stringify({ key: 'alice/log/p.txt', content_type: 'text/plain', size: 2, mode: 'gateway' }) });
  const signedUrl = new URL(presigned.json.url);
  await send('PUT', `${signedUrl.pathname}${signedUrl.search}`, { headers: { 'content-type': 'text/plain' }, body: 'hi' });
  const start = await send('POST', '/files/alice/log/m.bin?uploads', { token: alice, headers: { 'content-type': 'application/json' }, body: '{}' });
  const uploadId = start.json.upload_id;
  const part = await send('PUT', `/files/alice/log/m.bin?uploadId=${uploadId}&partNumber=1`, { token: alice, body: 'abc' });
  await send('POST', `/files/alice/log/m.bin?uploadId=${uploadId}`, { token: alice, headers: { 'content-type': 'application/json' }, body: JSON.stringify({ parts: [{ part_number: 1, etag: part.json.etag }] }) });
  const tus = await send('POST', '/tus/', { token: alice, headers: { 'tus-resumable': '1.0.0', 'upload-length': '3', 'upload-metadata': `key ${Buffer.from('alice/log/t.bin').toString('base64')}` } });
  await send('PATCH', new URL(tus.headers.get('location')).pathname, { token: alice, headers: { 'tus-resumable': '1.0.0', 'upload-offset': '0', 'content-type': 'application/offset+octet-stream' }, body: 'abc' });
  // The four committed uploads' events, delivered by the queue consumer, log lines of their own.
  const delivered = await eventually(() => gw.logs.filter((l) => l.message.includes('"event_delivered"')).length >= 4, 10_000);
  assert.ok(delivered, 'the consumer logged its deliveries');

  assert.ok(answers.every((a) => a.id), `an answer without X-Request-Id: ${JSON.stringify(answers.filter((a) => !a.id))}`);
  for (const a of answers.filter((x) => x.status >= 400)) assert.equal(a.json?.request_id, a.id, `${a.method} ${a.path}: the problem body names its request`);
  const lines = gw.logs.map((l) => l.message.trim()).filter(Boolean);
  assert.ok(lines.length >= answers.length, `${lines.length} lines for ${answers.length} requests`);
  const parsed = lines.map((text) => {
    try { return JSON.parse(text); } catch { assert.fail(`not JSON: ${text}`); }
  });
  const requests = parsed.filter((l) => l.msg === 'request');
  for (const a of answers) {
    const line = requests.find((l) => l.request_id === a.id);
    assert.ok(line, `no log line for ${a.method} ${a.path} (${a.id})`);
    assert.equal(line.status, a.status, `${a.method} ${a.path}`);
    assert.equal(typeof line.duration_ms, 'number');
    assert.ok(line.route, `${a.method} ${a.path} has a route name`);
  }
  const webhookSignatures = hook.requests.map((r) => r.headers['x-upload-signature'].slice('sha256='.length));
  assert.ok(webhookSignatures.length >= 4);
  const secrets = [alice, JWT_SECRET, URL_SIGNING_SECRET, WEBHOOK_SECRET, signedUrl.searchParams.get('signature'), signedUrl.search, ...webhookSignatures];
  for (const text of lines) {
    for (const s of secrets) assert.ok(!text.includes(s), `a log line holds a secret: ${text}`);
  }
});

test('with a METRICS dataset bound, requests write their data points without a problem', async () => {
  const mgw = await startGateway({}, { logs: true, miniflare: { analyticsEngineDatasets: { METRICS: { dataset: 'upload_gateway' } } } });
  try {
    const alice = tokenFor('alice');
    const ok = await call(mgw, 'PUT', '/files/alice/metrics.txt', { token: alice, headers: { 'content-type': 'text/plain' }, body: 'm' });
    assert.equal(ok.status, 201, ok.text);
    assert.equal((await call(mgw, 'GET', '/files/alice/metrics.txt')).status, 401);
    await new Promise((r) => setTimeout(r, 200));
    const problems = mgw.logs.filter((l) => l.message.includes('metrics_problem'));
    assert.deepEqual(problems, []);
    assert.ok(mgw.logs.some((l) => l.message.includes('"msg":"request"')));
  } finally {
    await mgw.close();
  }
});

test('without a webhook, a small upload logs one line of its own, its batch lists its event, and a larger one logs its follow-up and delivery', async () => {
  const quiet = await startGateway({}, { logs: true });
  try {
    const alice = tokenFor('alice');
    const parse = () => quiet.logs.map((l) => { try { return JSON.parse(l.message); } catch { return {}; } });
    const put = (key, body) => call(quiet, 'PUT', `/files/${key}`, { token: alice, headers: { 'content-type': 'text/plain' }, body });
    const small = await put('alice/quiet/small.txt', 'hello');
    const large = await put('alice/quiet/large.txt', 'x'.repeat(65 * 1024));
    assert.deepEqual([small.status, large.status], [201, 201]);
    const requestOf = (res) => parse().find((l) => l.msg === 'request' && l.request_id === res.headers.get('x-request-id'));
    const [smallEvent, largeEvent] = [requestOf(small)?.event_id, requestOf(large)?.event_id];
    assert.match(smallEvent ?? '', /^evt_/, 'the request line names the event it recorded');
    assert.match(largeEvent ?? '', /^evt_/);
    const listed = (id) => parse().some((l) => l.msg === 'event_batch' && l.event_ids?.includes(id));
    assert.ok(await eventually(() => listed(smallEvent) && listed(largeEvent), 10_000), 'both events in batch lines');
    const about = (id) => parse().filter((l) => l.event_id === id && l.msg !== 'request').map((l) => l.msg);
    assert.deepEqual(about(smallEvent), [], 'nothing else about the small upload');
    assert.deepEqual(about(largeEvent), ['followup', 'event_delivered'], 'the larger one: its event sent after the answer, then sniffed');
  } finally {
    await quiet.close();
  }
});
