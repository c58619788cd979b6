// upload-gateway browser client: a dependency-free ES module.
//
//   import { upload, UploadError } from '/uploader.js';
//   const result = await upload(file, { endpoint: '', token, key: 'alice/cat.png', onProgress, signal });
//
// The protocol (single PUT, presigned URLs, multipart with resume, retries) is `client.js`,
// shared with the CLI; this module adds what only a browser has: XMLHttpRequest, whose upload
// events give progress, and `localStorage`, which keeps a multipart upload's id until it
// completes so it resumes after a reload. Failures reject with an `UploadError` whose `code` is
// the gateway's problem code (or `network_error`, `aborted`).
import * as client from './client.js';

export { UploadError, encodeKey } from './client.js';

/** The transport over XMLHttpRequest: any answer resolves; only a failed connection or a cancel rejects. */
function xhrSend(method, url, { headers = {}, body = null, onProgress, signal } = {}) {
  return new Promise((resolve, reject) => {
    if (signal?.aborted) return reject(new client.UploadError(0, 'aborted', 'the upload was cancelled'));
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
      resolve({ status: xhr.status, text: xhr.responseText || '', etag: xhr.getResponseHeader('ETag') });
    };
    xhr.onerror = () => { done(); reject(new client.UploadError(0, 'network_error', 'the connection failed')); };
    xhr.onabort = () => { done(); reject(new client.UploadError(0, 'aborted', 'the upload was cancelled')); };
    xhr.send(body);
  });
}

/** A multipart upload's resume state under one `storage` (Web Storage) entry. */
function storageSlot(storage, name) {
  return {
    load: () => JSON.parse(storage.getItem(name) || 'null'),
    save: (state) => storage.setItem(name, JSON.stringify(state)),
    clear: () => storage.removeItem(name),
  };
}

/**
 * Uploads `file` (a File or Blob). Options as `client.upload` (`endpoint`, `token`, `key`,
 * `contentType`, `presign`, `onProgress(loaded, total)`, `signal`, `multipartThreshold`,
 * `partSize`, `concurrency`), plus `storage`: where resume state is kept (`localStorage` by
 * default, `null` for none), under the endpoint, key and the file's name, size and time.
 * Resolves with the gateway's answer: `{key, size, etag, content_type, uploaded_at}`.
 */
export function upload(file, options = {}) {
  const storage = 'storage' in options ? options.storage : typeof localStorage === 'undefined' ? null : localStorage;
  const endpoint = (options.endpoint || '').replace(/\/$/, '');
  const name = `upload-gateway:${endpoint}:${options.key}:${file.name}:${file.size}:${file.lastModified}`;
  return client.upload(file, { send: xhrSend, resume: storage ? storageSlot(storage, name) : null, ...options });
}

/** A short-lived download URL for `key`, saved as `filename` (a presigned GET). */
export function downloadUrl(key, options = {}) {
  return client.downloadUrl(key, { send: xhrSend, ...options });
}

/** The caller's uploads, newest first: `{items, cursor}` (`cursor` for the next page, or null). */
export function listUploads(options = {}) {
  return client.listUploads({ send: xhrSend, ...options });
}
