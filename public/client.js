// The gateway's upload protocol, shared by the page (through `uploader.js`) and the CLI
// (`scripts/upload.mjs`): the single PUT, the presigned upload and the resumable multipart
// upload, with its planning, worker pool and retries. It uses only what browsers and Node 20+
// both have (fetch, Blob, AbortController); the caller brings what differs:
//
// - `send`, the transport: `(method, url, {headers, body, onProgress, signal})` resolving
//   with `{status, text, etag}` for any HTTP answer and rejecting with an `UploadError`
//   (`network_error`, `aborted`) only when there is none. `fetchTransport()` is the default;
//   the page uses XMLHttpRequest for upload progress.
// - `resume`, where the multipart state lives between runs: `{load(), save(state), clear()}`
//   (localStorage on the page, a file on disk for the CLI), or null.
// - `random` and `sleep` for the retry delays, so tests need no clock.
//
// Retries: network failures, 5xx and 429 answers to a part, to completing and to confirming a
// direct upload are sent again up to `retries` (3) times, after 1 s, 2 s and 4 s, each with
// equal jitter (between half and all of it) so clients that failed together spread out.
// Starting is not retried (a lost answer would leave a second upload open), nor are listing
// and a single PUT: they fail and the next attempt starts from the same place. Cancelling
// (`signal`) aborts a multipart upload on the gateway and forgets its state.
//
// Restarting: a saved multipart upload is continued when the gateway lists it. It is given up
// and a new one started only when the gateway says it is gone for this caller: `404
// upload_not_found` (unknown id, another key, expired, completed or aborted) or `403 forbidden`
// (started by another caller). If this token may not write the key at all, the new start is
// refused with the same 403 and the saved state stays. Every other answer (401 for an expired
// token, 5xx, no answer) fails the upload and keeps the state, so the next attempt resumes.

export const MIB = 1024 * 1024;

/** Every failure: `status` (0 when there was no answer), the problem's `code`, its `detail`. */
export class UploadError extends Error {
  constructor(status, code, detail) {
    super(detail ? `${code}: ${detail}` : code);
    this.name = 'UploadError';
    this.status = status;
    this.code = code;
    this.detail = detail || '';
  }
}

const aborted = () => new UploadError(0, 'aborted', 'the upload was cancelled');

/** `alice/My File.png` → `alice/My%20File.png`, one segment at a time. */
export function encodeKey(key) {
  return key.split('/').map(encodeURIComponent).join('/');
}

/** The error for a non-2xx answer: the gateway's problem JSON, or a direct upload's S3 XML. */
export function problemOf(status, text) {
  try {
    const doc = JSON.parse(text);
    if (doc && doc.code) return new UploadError(status, doc.code, doc.detail);
  } catch {
    // not a problem document
  }
  const s3 = /<Code>([^<]*)<\/Code>/.exec(text);
  if (s3) {
    const rejected = s3[1] === 'AccessDenied' || s3[1] === 'SignatureDoesNotMatch';
    const code = s3[1] === 'PreconditionFailed' ? 'precondition_failed' : rejected ? 'url_rejected' : 'storage_error';
    return new UploadError(status, code, `the store answered ${s3[1]}`);
  }
  return new UploadError(status, `http_${status}`, text.slice(0, 200));
}

// Planning.

/**
 * The part size for `size` bytes: `wanted`, raised to the gateway's minimum and to whole MiB
 * enough to fit in `max_parts`, capped at `part_size_max`. A gateway whose maximum is under the
 * minimum takes only files that fit in one part.
 */
export function choosePartSize(size, wanted, { part_size_min, part_size_max, max_parts }) {
  const asked = Number.isFinite(wanted) && wanted > 0 ? Math.ceil(wanted) : 0;
  const chosen = Math.min(Math.max(asked, part_size_min, Math.ceil(size / max_parts / MIB) * MIB), part_size_max);
  if (chosen < part_size_min && size > chosen) {
    const detail = `the gateway accepts parts of at most ${part_size_max} bytes, under its ${part_size_min}-byte minimum`;
    throw new UploadError(0, 'bad_request', detail);
  }
  if (Math.ceil(size / chosen) > max_parts) {
    throw new UploadError(0, 'bad_request', `${size} bytes do not fit in ${max_parts} parts of ${chosen} bytes`);
  }
  return chosen;
}

/** The parts of `size` bytes cut at `partSize`: all the same size but the last, which may be shorter. */
export function planParts(size, partSize) {
  const count = Math.ceil(size / partSize);
  const sizeOf = (n) => (n < count ? partSize : size - (count - 1) * partSize);
  return { partSize, count, sizeOf, offsetOf: (n) => (n - 1) * partSize };
}

/** The part numbers still to send: those the gateway did not list with the size they must have. */
export function partsToSend(plan, listed) {
  const whole = (p) => p.part_number <= plan.count && p.size === plan.sizeOf(p.part_number);
  const stored = new Set(listed.filter(whole).map((p) => p.part_number));
  const missing = [];
  for (let n = 1; n <= plan.count; n++) if (!stored.has(n)) missing.push(n);
  return missing;
}

/** Whether the answer about a saved multipart upload means it is gone for this caller. */
export function startsOver(error) {
  return (error.status === 404 && error.code === 'upload_not_found') || (error.status === 403 && error.code === 'forbidden');
}

// Retries.

export const RETRIES = 3;
const BASE_DELAY_MS = 1000;
const MAX_DELAY_MS = 30_000;

/** Failures that sending the same request again may cure. */
export function isRetryable(error) {
  return error.code === 'network_error' || error.status >= 500 || error.status === 429;
}

/** The wait before retry `retry` (1, 2, …): doubling from 1 s up to 30 s, its upper half random. */
export function backoffDelay(retry, random = Math.random) {
  const full = Math.min(MAX_DELAY_MS, BASE_DELAY_MS * 2 ** (retry - 1));
  return full / 2 + random() * (full / 2);
}

/** Resolves after `ms`, or at once when `signal` aborts. */
export function sleep(ms, signal) {
  return new Promise((resolve) => {
    const done = () => {
      clearTimeout(timer);
      signal?.removeEventListener('abort', done);
      resolve();
    };
    const timer = setTimeout(done, ms);
    signal?.addEventListener('abort', done, { once: true });
  });
}

/** Runs `attempt()`, again after a retryable failure, at most `retries` more times. */
export async function withRetries(attempt, { retries = RETRIES, signal, random = Math.random, sleep: wait = sleep } = {}) {
  for (let retry = 1; ; retry++) {
    try {
      return await attempt();
    } catch (e) {
      if (retry > retries || signal?.aborted || !isRetryable(e)) throw e;
      await wait(backoffDelay(retry, random), signal);
      if (signal?.aborted) throw aborted();
    }
  }
}

// The worker pool.

/**
 * Runs `work(item, signal)` over `items`, at most `concurrency` at a time. The first failure
 * stops the pool: no further item starts, `signal` aborts the ones running, and once they have
 * settled the pool rejects with that failure, so it is the one reported. Aborting `options.signal`
 * stops it the same way.
 */
export async function runPool(items, concurrency, work, { signal } = {}) {
  const queue = [...items];
  const stop = new AbortController();
  const cancel = () => stop.abort();
  if (signal?.aborted) throw aborted();
  signal?.addEventListener('abort', cancel, { once: true });
  let failure = null;
  const worker = async () => {
    while (queue.length && !stop.signal.aborted) {
      try {
        await work(queue.shift(), stop.signal);
      } catch (e) {
        failure ??= e;
        stop.abort();
      }
    }
  };
  const width = Math.min(Math.max(1, Math.floor(concurrency) || 1), queue.length);
  try {
    await Promise.all(Array.from({ length: width }, worker));
  } finally {
    signal?.removeEventListener('abort', cancel);
  }
  if (failure) throw failure;
  if (signal?.aborted) throw aborted();
}

// Transport.

/** A Blob's bytes as a stream that reports how many have been read. */
function counted(blob, onProgress) {
  const reader = blob.stream().getReader();
  let loaded = 0;
  return new ReadableStream({
    async pull(controller) {
      const { done, value } = await reader.read();
      if (done) return controller.close();
      loaded += value.byteLength;
      onProgress(loaded);
      controller.enqueue(value);
    },
    cancel: (reason) => reader.cancel(reason),
  });
}

/**
 * The transport over `fetch`. With `countBytes`, a Blob body goes as a stream with its
 * Content-Length, so progress is reported as it is read: Node's fetch sends that; browsers
 * stream request bodies only over HTTP/2, so the page uses XMLHttpRequest instead.
 */
export function fetchTransport(fetchImpl = globalThis.fetch, { countBytes = false } = {}) {
  return async (method, url, { headers = {}, body = null, onProgress, signal } = {}) => {
    if (signal?.aborted) throw aborted();
    const init = { method, headers: { ...headers }, signal };
    if (countBytes && onProgress && body instanceof Blob && body.size > 0) {
      init.headers['content-length'] = String(body.size);
      init.body = counted(body, onProgress);
      init.duplex = 'half';
    } else if (body !== null) {
      init.body = body;
    }
    try {
      const res = await fetchImpl(url, init);
      return { status: res.status, text: await res.text(), etag: res.headers.get('etag') };
    } catch (e) {
      if (signal?.aborted) throw aborted();
      throw new UploadError(0, 'network_error', e.cause?.message || e.message || 'the connection failed');
    }
  };
}

/** One request through `send`: `{status, json, etag}` on 2xx, otherwise an UploadError. */
async function request(send, method, url, options) {
  const res = await send(method, url, options);
  if (res.status < 200 || res.status >= 300) throw problemOf(res.status, res.text || '');
  let json = null;
  try { json = res.text ? JSON.parse(res.text) : null; } catch { json = null; }
  return { status: res.status, json, etag: res.etag };
}

const bearer = (token) => (token ? { authorization: `Bearer ${token}` } : {});
const jsonHeaders = (token) => ({ 'content-type': 'application/json', ...bearer(token) });
const trimmed = (endpoint = '') => endpoint.replace(/\/$/, '');

// The uploads.

async function single(file, o) {
  const res = await request(o.send, 'PUT', `${o.endpoint}/files/${encodeKey(o.key)}`, {
    headers: { ...bearer(o.token), 'content-type': o.contentType },
    body: file,
    onProgress: (n) => o.onProgress(n, file.size),
    signal: o.signal,
  });
  o.onProgress(file.size, file.size);
  return res.json;
}

async function presigned(file, o) {
  const ask = { method: 'PUT', content_type: o.contentType, size: file.size, filename: file.name };
  if (o.key) ask.key = o.key;
  if (typeof o.presign === 'string') ask.mode = o.presign;
  const grant = (await request(o.send, 'POST', `${o.endpoint}/presign`, { headers: jsonHeaders(o.token), body: JSON.stringify(ask), signal: o.signal })).json;
  const put = await request(o.send, 'PUT', grant.url, { headers: grant.headers, body: file, onProgress: (n) => o.onProgress(n, file.size), signal: o.signal });
  o.onProgress(file.size, file.size);
  if (grant.mode !== 'direct') return put.json;
  const confirm = () => request(o.send, 'POST', `${o.endpoint}/files/${encodeKey(grant.key)}/confirm`, { headers: jsonHeaders(o.token), signal: o.signal });
  return (await withRetries(confirm, o)).json;
}

/** A saved state worth asking the gateway about; anything else is as good as none. */
function savedState(resume) {
  let state = null;
  try { state = resume?.load(); } catch { state = null; }
  return state && typeof state.upload_id === 'string' && Number.isInteger(state.part_size) && state.part_size > 0 ? state : null;
}

/** The upload to continue, with the parts the gateway has, or a new one. */
async function openUpload(file, o, base) {
  const saved = savedState(o.resume);
  if (saved) {
    try {
      const listed = await request(o.send, 'GET', `${base}?uploadId=${encodeURIComponent(saved.upload_id)}`, { headers: bearer(o.token), signal: o.signal });
      return { state: saved, parts: listed.json?.parts || [], resumed: true };
    } catch (e) {
      if (!startsOver(e)) throw e;
    }
  }
  const started = (await request(o.send, 'POST', `${base}?uploads`, {
    headers: jsonHeaders(o.token),
    body: JSON.stringify({ content_type: o.contentType, size: file.size }),
    signal: o.signal,
  })).json;
  const state = { upload_id: started.upload_id, part_size: choosePartSize(file.size, o.partSize, started) };
  o.resume?.save(state);
  return { state, parts: [], resumed: false };
}

async function multipart(file, o) {
  const base = `${o.endpoint}/files/${encodeKey(o.key)}`;
  const auth = bearer(o.token);
  const { state, parts, resumed } = await openUpload(file, o, base);
  const id = encodeURIComponent(state.upload_id);
  const plan = planParts(file.size, state.part_size);
  const queue = partsToSend(plan, parts);
  const missing = new Set(queue);
  let completedBytes = 0;
  for (let n = 1; n <= plan.count; n++) if (!missing.has(n)) completedBytes += plan.sizeOf(n);
  // The ETag of every acknowledged part: the completion names them all, with the file's size,
  // so the gateway assembles exactly what this client sent or nothing.
  const etags = new Map(parts.map((p) => [p.part_number, p.etag]));
  const inFlight = new Map();
  const report = () => o.onProgress(completedBytes + [...inFlight.values()].reduce((a, b) => a + b, 0), file.size);
  report();
  if (resumed) o.onResume({ uploadId: state.upload_id, stored: plan.count - queue.length, parts: plan.count });
  const sendPart = (n, signal) => {
    const start = plan.offsetOf(n);
    const body = file.slice(start, start + plan.sizeOf(n));
    const attempt = () => {
      inFlight.delete(n);
      return request(o.send, 'PUT', `${base}?uploadId=${id}&partNumber=${n}`, {
        headers: auth,
        body,
        onProgress: (loaded) => { inFlight.set(n, loaded); report(); },
        signal,
      });
    };
    return withRetries(attempt, { ...o, signal }).then((answer) => {
      etags.set(n, answer.json?.etag);
      inFlight.delete(n);
      completedBytes += plan.sizeOf(n);
      report();
    });
  };
  try {
    await runPool(queue, o.concurrency, sendPart, { signal: o.signal });
  } catch (e) {
    if (o.signal?.aborted) {
      // Cancelled on purpose: discard the parts rather than keep them for a resume.
      o.resume?.clear();
      await request(o.send, 'DELETE', `${base}?uploadId=${id}`, { headers: auth }).catch(() => {});
    }
    throw e;
  }
  const body = JSON.stringify({
    parts: [...etags.keys()].sort((a, b) => a - b).map((n) => ({ part_number: n, etag: etags.get(n) })),
    size: file.size,
  });
  const complete = () => request(o.send, 'POST', `${base}?uploadId=${id}`, { headers: jsonHeaders(o.token), body, signal: o.signal });
  const result = await withRetries(complete, o);
  o.resume?.clear();
  return result.json;
}

/**
 * Uploads `file` (a Blob, or anything with `size`, `type` and `slice`). Options:
 * - `endpoint`: the gateway's origin ('' for the page's own), `token`: a JWT with write scope;
 * - `key`: the object key (optional with `presign`, which can generate one);
 * - `contentType` (default the file's type), `presign`: false | true | 'gateway' | 'direct';
 * - `onProgress(loaded, total)`, `signal` (an AbortSignal);
 * - `multipartThreshold` (64 MiB), `partSize` (16 MiB), `concurrency` (4), `retries` (3);
 * - `resume` (where multipart state is kept, or null), `onResume({uploadId, stored, parts})`;
 * - `send` (the transport, `fetchTransport()` by default), `random`, `sleep`.
 * Resolves with the gateway's answer: `{key, size, etag, content_type, uploaded_at}`.
 * Empty files always go in one PUT: a multipart upload needs at least one byte.
 */
export async function upload(file, options = {}) {
  const o = {
    presign: false,
    onProgress: () => {},
    onResume: () => {},
    multipartThreshold: 64 * MIB,
    partSize: 16 * MIB,
    concurrency: 4,
    retries: RETRIES,
    resume: null,
    random: Math.random,
    sleep,
    ...options,
  };
  o.send ??= fetchTransport();
  o.endpoint = trimmed(o.endpoint);
  o.contentType = o.contentType || file.type || 'application/octet-stream';
  if (!o.token) throw new UploadError(0, 'missing_token', 'a token is needed');
  if (!o.key && !o.presign) throw new UploadError(0, 'invalid_key', 'a key is needed');
  if (o.presign) return presigned(file, o);
  if (file.size > 0 && file.size > o.multipartThreshold) return multipart(file, o);
  return single(file, o);
}

/** A short-lived download URL for `key`, saved as `filename` (a presigned GET). */
export async function downloadUrl(key, { endpoint, token, filename, send = fetchTransport() } = {}) {
  const body = JSON.stringify({ method: 'GET', key, ...(filename ? { filename } : {}) });
  return (await request(send, 'POST', `${trimmed(endpoint)}/presign`, { headers: jsonHeaders(token), body })).json.url;
}

/** The caller's uploads, newest first: `{items, cursor}` (`cursor` for the next page, or null). */
export async function listUploads({ endpoint, token, cursor, limit = 50, send = fetchTransport() } = {}) {
  const q = new URLSearchParams({ limit: String(limit), ...(cursor ? { cursor } : {}) });
  return (await request(send, 'GET', `${trimmed(endpoint)}/files?${q}`, { headers: bearer(token) })).json;
}
