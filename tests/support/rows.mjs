// D1 work per upload kind, as the Worker's own log lines report it (`rows_written`, D1's
// count, index entries included; `d1_calls`, `d1_statements`): the request's line, its
// follow-up's line, and the queue consumer's lines for its event. Shared by
// tests/d1-rows.test.mjs and bench/operations.mjs.
import { eventually } from './gateway.mjs';
import { call, tokenFor } from './client.mjs';

const parse = (gw) => gw.logs.map((l) => { try { return JSON.parse(l.message); } catch { return {}; } });

/**
 * The D1 work of request `res` (an answer with X-Request-Id), from its own line, its
 * follow-up's line (if it had work after the answer) and, for the event it recorded (the
 * request line's `event_id`), the queue consumer's: its share of the batch line that lists the
 * event, plus the event's own line if it has one: for each of `rows` (written), `calls` (round
 * trips) and `statements`, { request, followup, consumer }.
 */
export async function d1Of(gw, res) {
  const id = res.headers.get('x-request-id');
  const request = await eventually(() => parse(gw).find((l) => l.msg === 'request' && l.request_id === id), 5000);
  const eventId = request?.event_id;
  // A batch's line comes after its messages' own lines, and a journaled event reaches the
  // queue only once its follow-up has sent it: once the batch line is out, so are the others.
  const batch = eventId
    ? await eventually(() => parse(gw).find((l) => l.msg === 'event_batch' && l.event_ids?.includes(eventId)), 10_000)
    : null;
  const lines = parse(gw);
  const followup = lines.find((l) => l.msg === 'followup' && l.request_id === id);
  const consumer = eventId ? lines.find((l) => l.msg?.startsWith('event_') && l.msg !== 'event_batch' && l.event_id === eventId) : null;
  const figures = (field) => ({
    request: request?.[field] ?? null,
    followup: followup?.[field] ?? 0,
    consumer: (consumer?.[field] ?? 0) + (batch ? batch[field] / batch.count : 0),
  });
  return { rows: figures('rows_written'), calls: figures('d1_calls'), statements: figures('d1_statements') };
}

const json = { 'content-type': 'application/json' };
const MIB = 1024 * 1024;

/**
 * Each upload kind once, as `owner` (its token with `claims`), on a gateway started with `logs: true`: name → { status,
 * ms (from sending to the whole answer), rows, store }. With `storeCalls` (the number of
 * requests the store has answered so far), `store` counts those made before the answer and
 * after it (follow-up and consumer).
 */
export async function measureKinds(gw, { owner = 'alice', prefix = `${owner}/rows`, storeCalls, claims = {} } = {}) {
  const t = tokenFor(owner, claims);
  const out = {};
  const run = async (name, send) => {
    const before = storeCalls?.();
    const started = performance.now();
    const res = await send();
    const ms = performance.now() - started;
    const answered = storeCalls?.();
    const d1 = await d1Of(gw, res);
    const store = storeCalls ? { request: answered - before, after: storeCalls() - answered } : null;
    out[name] = { status: res.status, ms, ...d1, store };
    return res;
  };
  const put = (key, body) => call(gw, 'PUT', `/files/${key}`, { token: t, headers: { 'content-type': 'text/plain' }, body });
  await run('single PUT, 4 KiB, new key', () => put(`${prefix}/small.txt`, 'a'.repeat(4096)));
  await run('single PUT, 4 KiB, overwrite', () => put(`${prefix}/small.txt`, 'b'.repeat(4096)));
  await run('single PUT, 1 MiB', () => put(`${prefix}/large.txt`, 'c'.repeat(MIB)));
  const start = await run('multipart start', () => call(gw, 'POST', `/files/${prefix}/multi.bin?uploads`, { token: t, headers: json, body: '{}' }));
  const id = start.json.upload_id;
  const part = await run('multipart part (5 MiB)', () => call(gw, 'PUT', `/files/${prefix}/multi.bin?uploadId=${id}&partNumber=1`, { token: t, body: Buffer.alloc(5 * MIB, 1) }));
  await run('multipart completion', () => call(gw, 'POST', `/files/${prefix}/multi.bin?uploadId=${id}`, { token: t, headers: json, body: JSON.stringify({ parts: [{ part_number: 1, etag: part.json.etag }] }) }));
  const meta = `key ${Buffer.from(`${prefix}/tus.bin`).toString('base64')}`;
  const created = await run('tus creation', () => call(gw, 'POST', '/tus/', { token: t, headers: { 'tus-resumable': '1.0.0', 'upload-length': String(5 * MIB + 4096), 'upload-metadata': meta } }));
  const at = new URL(created.headers.get('location')).pathname;
  const patch = (offset, body) => call(gw, 'PATCH', at, { token: t, headers: { 'tus-resumable': '1.0.0', 'upload-offset': String(offset), 'content-type': 'application/offset+octet-stream' }, body });
  await run('tus chunk (5 MiB)', () => patch(0, Buffer.alloc(5 * MIB, 2)));
  await run('tus last chunk (4 KiB, finishes the upload)', () => patch(5 * MIB, Buffer.alloc(4096, 3)));
  if (gw.backend === 's3') {
    const signed = await call(gw, 'POST', '/presign', { token: t, headers: json, body: JSON.stringify({ key: `${prefix}/direct.txt`, content_type: 'text/plain', size: 4096 }) });
    await fetch(signed.json.url, { method: signed.json.method, headers: signed.json.headers, body: 'd'.repeat(4096) });
    await run('presigned confirm, 4 KiB', () => call(gw, 'POST', `/files/${prefix}/direct.txt/confirm`, { token: t }));
  }
  await run('delete', () => call(gw, 'DELETE', `/files/${prefix}/small.txt`, { token: t }));
  return out;
}
