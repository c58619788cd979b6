// upload-gateway browser client: a dependency-free ES module.
//
//   import { upload, UploadError } from '/uploader.js';
//   const result = await upload(file, { endpoint: '', token, key: 'alice/cat.png', onProgress, signal });
//
// Sends the file through the gateway (one streamed PUT), through a presigned URL
// (`presign: 'gateway' | 'direct' | true`), or, above `multipartThreshold`, as a multipart
// upload that resumes after a reload: the upload id is kept in `localStorage` until the upload
// completes. Progress comes from XMLHttpRequest upload events. Failures reject with an
// `UploadError` whose `code` is the gateway's problem code (or `network_error`, `aborted`).

const MIB = 1024 * 1024;

export class UploadError extends Error {
  constructor(status, code, detail) {
    super(detail ? `${code}: ${detail}` : code);
    this.name = 'UploadError';
    this.status = status;
    this.code = code;
    this.detail = detail || '';
  }
}

/** `alice/My File.png` → `alice/My%20File.png`, one segment at a time. */
export function encodeKey(key) {
  return key.split('/').map(encodeURIComponent).join('/');
}

function problemOf(status, text) {
  try {
    const doc = JSON.parse(text);
    if (doc && doc.code) return new UploadError(status, doc.code, doc.detail);
  } catch {
    // not a problem document
  }
  // A direct upload's refusal comes from the S3 store as XML.
  const s3 = /<Code>([^<]*)<\/Code>/.exec(text);
  if (s3) {
    const code = s3[1] === 'PreconditionFailed' ? 'precondition_failed' : s3[1] === 'AccessDenied' || s3[1] === 'SignatureDoesNotMatch' ? 'url_rejected' : 'storage_error';
    return new UploadError(status, code, `the store answered ${s3[1]}`);
  }
  return new UploadError(status, `http_${status}`, text.slice(0, 200));
}

/** One request; resolves with { status, json, etag } on 2xx, rejects with an UploadError. */
function send(method, url, { headers = {}, body = null, onProgress, signal } = {}) {
  return new Promise((resolve, reject) => {
    if (signal?.aborted) return reject(new UploadError(0, 'aborted', 'the upload was cancelled'));
    const xhr = new XMLHttpRequest();
    xhr.open(method, url);
    for (const [name, value] of Object.entries(headers)) {
      // The browser sets Content-Length itself (to the body's size) and refuses to be told.
      if (name.toLowerCase() !== 'content-length') xhr.setRequestHeader(name, value);
    }
    if (onProgress) xhr.upload.onprogress = (e) => onProgress(e.loaded);
    const onAbort = () => xhr.abort();
    signal?.addEventListener('abort', onAbort, { once: true });
    const done = () => signal?.removeEventListener('abort', onAbort);
    xhr.onload = () => {
      done();
      if (xhr.status >= 200 && xhr.status < 300) {
        let json = null;
        try { json = xhr.responseText ? JSON.parse(xhr.responseText) : null; } catch { json = null; }
        resolve({ status: xhr.status, json, etag: xhr.getResponseHeader('ETag') });
      } else {
        reject(problemOf(xhr.status, xhr.responseText || ''));
      }
    };
    xhr.onerror = () => { done(); reject(new UploadError(0, 'network_error', 'the connection failed')); };
    xhr.onabort = () => { done(); reject(new UploadError(0, 'aborted', 'the upload was cancelled')); };
    xhr.send(body);
  });
}

const retryable = (e) => e.code === 'network_error' || e.status >= 500 || e.status === 429;

async function withRetries(fn, signal, attempts = 3) {
  for (let i = 1; ; i++) {
    try {
      return await fn();
    } catch (e) {
      if (i >= attempts || signal?.aborted || !retryable(e)) throw e;
      await new Promise((r) => setTimeout(r, 500 * 2 ** i));
    }
  }
}

function jsonHeaders(token) {
  return { 'content-type': 'application/json', ...(token ? { authorization: `Bearer ${token}` } : {}) };
}

async function single(file, o) {
  const res = await send('PUT', `${o.endpoint}/files/${encodeKey(o.key)}`, {
    headers: { authorization: `Bearer ${o.token}`, 'content-type': o.contentType },
    body: file,
    onProgress: (n) => o.onProgress(n, file.size),
    signal: o.signal,
  });
  return res.json;
}

async function presigned(file, o) {
  const ask = { method: 'PUT', content_type: o.contentType, size: file.size, filename: file.name };
  if (o.key) ask.key = o.key;
  if (typeof o.presign === 'string') ask.mode = o.presign;
  const grant = (await send('POST', `${o.endpoint}/presign`, { headers: jsonHeaders(o.token), body: JSON.stringify(ask), signal: o.signal })).json;
  const put = await send('PUT', grant.url, { headers: grant.headers, body: file, onProgress: (n) => o.onProgress(n, file.size), signal: o.signal });
  if (grant.mode !== 'direct') return put.json;
  const confirm = () => send('POST', `${o.endpoint}/files/${encodeKey(grant.key)}/confirm`, { headers: jsonHeaders(o.token), signal: o.signal });
  return (await withRetries(confirm, o.signal)).json;
}

async function multipart(file, o) {
  const base = `${o.endpoint}/files/${encodeKey(o.key)}`;
  const auth = { authorization: `Bearer ${o.token}` };
  const stateKey = `upload-gateway:${o.endpoint}:${o.key}:${file.name}:${file.size}:${file.lastModified}`;
  const storage = o.storage;
  let state = null;
  let received = [];
  const saved = storage?.getItem(stateKey);
  if (saved) {
    try {
      state = JSON.parse(saved);
      received = (await send('GET', `${base}?uploadId=${encodeURIComponent(state.upload_id)}`, { headers: auth, signal: o.signal })).json.parts;
    } catch (e) {
      // Only an upload the gateway no longer has (expired, completed) or will not show
      // (another caller's) is started over; other failures keep the state for a retry.
      if (e.status !== 404 && e.status !== 403) throw e;
      state = null;
    }
  }
  if (!state) {
    const started = (await send('POST', `${base}?uploads`, {
      headers: jsonHeaders(o.token),
      body: JSON.stringify({ content_type: o.contentType, size: file.size }),
      signal: o.signal,
    })).json;
    let size = Math.max(o.partSize, started.part_size_min, Math.ceil(file.size / started.max_parts / MIB) * MIB);
    size = Math.min(size, started.part_size_max);
    if (size < started.part_size_min) throw new UploadError(0, 'bad_request', 'the gateway accepts no parts large enough for this file');
    state = { upload_id: started.upload_id, part_size: size };
    storage?.setItem(stateKey, JSON.stringify(state));
  }
  const count = Math.ceil(file.size / state.part_size);
  const sizeOf = (n) => (n < count ? state.part_size : file.size - (count - 1) * state.part_size);
  const done = new Set(received.filter((p) => p.size === sizeOf(p.part_number)).map((p) => p.part_number));
  const inFlight = new Map();
  let completedBytes = [...done].reduce((sum, n) => sum + sizeOf(n), 0);
  const report = () => o.onProgress(completedBytes + [...inFlight.values()].reduce((a, b) => a + b, 0), file.size);
  report();
  const queue = [];
  for (let n = 1; n <= count; n++) if (!done.has(n)) queue.push(n);
  const url = (n) => `${base}?uploadId=${encodeURIComponent(state.upload_id)}&partNumber=${n}`;
  // The first failing part stops the others, so its error is the one reported.
  const stop = new AbortController();
  const onCancel = () => stop.abort();
  o.signal?.addEventListener('abort', onCancel, { once: true });
  const worker = async () => {
    for (let n = queue.shift(); n !== undefined; n = queue.shift()) {
      const start = (n - 1) * state.part_size;
      const blob = file.slice(start, start + sizeOf(n));
      await withRetries(() => send('PUT', url(n), {
        headers: auth,
        body: blob,
        onProgress: (loaded) => { inFlight.set(n, loaded); report(); },
        signal: stop.signal,
      }), stop.signal);
      inFlight.delete(n);
      completedBytes += sizeOf(n);
      report();
    }
  };
  try {
    await Promise.all(Array.from({ length: o.concurrency }, () => worker().catch((e) => { stop.abort(); throw e; })));
  } catch (e) {
    if (o.signal?.aborted) {
      // Cancelled on purpose: discard the parts rather than keep them for a resume.
      storage?.removeItem(stateKey);
      await send('DELETE', `${base}?uploadId=${encodeURIComponent(state.upload_id)}`, { headers: auth }).catch(() => {});
    }
    throw e;
  } finally {
    o.signal?.removeEventListener('abort', onCancel);
  }
  const result = await withRetries(() => send('POST', `${base}?uploadId=${encodeURIComponent(state.upload_id)}`, { headers: auth, signal: o.signal }), o.signal);
  storage?.removeItem(stateKey);
  return result.json;
}

/**
 * Uploads `file` (a File or Blob). Options:
 * - `endpoint`: the gateway's origin ('' for the page's own), `token`: a JWT with write scope;
 * - `key`: the object key (optional with `presign`, which can generate one);
 * - `contentType` (default the file's type), `presign`: false | true | 'gateway' | 'direct';
 * - `onProgress(loaded, total)`, `signal` (an AbortSignal);
 * - `multipartThreshold` (64 MiB), `partSize` (16 MiB), `concurrency` (4), `storage`
 *   (where resume state is kept; `localStorage` by default, `null` for none).
 * Resolves with the gateway's answer: `{key, size, etag, content_type, uploaded_at}`.
 */
export async function upload(file, options = {}) {
  const o = {
    endpoint: '',
    presign: false,
    onProgress: () => {},
    multipartThreshold: 64 * MIB,
    partSize: 16 * MIB,
    concurrency: 4,
    storage: typeof localStorage === 'undefined' ? null : localStorage,
    ...options,
  };
  o.endpoint = o.endpoint.replace(/\/$/, '');
  o.contentType = o.contentType || file.type || 'application/octet-stream';
  if (!o.token) throw new UploadError(0, 'missing_token', 'a token is needed');
  if (!o.key && !o.presign) throw new UploadError(0, 'invalid_key', 'a key is needed');
  if (o.presign) return presigned(file, o);
  if (file.size > o.multipartThreshold) return multipart(file, o);
  return single(file, o);
}

/** A short-lived download URL for `key`, saved as `filename` (a presigned GET). */
export async function downloadUrl(key, { endpoint = '', token, filename } = {}) {
  const body = JSON.stringify({ method: 'GET', key, ...(filename ? { filename } : {}) });
  return (await send('POST', `${endpoint.replace(/\/$/, '')}/presign`, { headers: jsonHeaders(token), body })).json.url;
}

/** The caller's uploads, newest first: `{items, cursor}` (`cursor` for the next page, or null). */
export async function listUploads({ endpoint = '', token, cursor, limit = 50 } = {}) {
  const q = new URLSearchParams({ limit: String(limit), ...(cursor ? { cursor } : {}) });
  return (await send('GET', `${endpoint.replace(/\/$/, '')}/files?${q}`, { headers: { authorization: `Bearer ${token}` } })).json;
}
