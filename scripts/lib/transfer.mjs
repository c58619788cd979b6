// HTTP plumbing for the reference client: streamed requests with a fixed Content-Length over
// node:http(s), retries for network failures and 5xx answers, problem errors, and a progress
// bar on stderr.
import http from 'node:http';
import https from 'node:https';

/** A problem answer (RFC 9457) from the gateway. */
export class Problem extends Error {
  constructor(status, doc) {
    super(`${status} ${doc.code || 'error'}: ${doc.detail || ''}`);
    this.status = status;
    this.code = doc.code || `http_${status}`;
    this.detail = doc.detail || '';
  }
}

const UNITS = { b: 1, k: 1e3, kb: 1e3, m: 1e6, mb: 1e6, g: 1e9, gb: 1e9, kib: 1024, mib: 1024 ** 2, gib: 1024 ** 3 };

/** `16MiB`, `5m`, `1048576` → bytes. */
export function parseSize(text) {
  const m = /^(\d+(?:\.\d+)?)\s*([a-z]*)$/i.exec(String(text).trim());
  const unit = m && UNITS[(m[2] || 'b').toLowerCase()];
  if (!unit) throw new Error(`not a size: ${text}`);
  return Math.round(Number(m[1]) * unit);
}

const human = (n) => (n >= 1024 ** 3 ? `${(n / 1024 ** 3).toFixed(2)} GiB` : `${(n / 1024 ** 2).toFixed(1)} MiB`);

/** Bytes sent so far, drawn as a bar on a terminal or as a line per 10% otherwise. */
export class Progress {
  constructor(total, quiet = false) {
    this.total = total;
    this.sent = 0;
    this.quiet = quiet;
    this.started = Date.now();
    this.lastDraw = 0;
    this.lastDecile = -1;
  }

  add(n) {
    this.sent += n;
    this.draw();
  }

  note(text) {
    if (!this.quiet) process.stderr.write(`${text}\n`);
  }

  draw(force = false) {
    if (this.quiet) return;
    const now = Date.now();
    const fraction = this.total ? Math.min(1, this.sent / this.total) : 1;
    const rate = this.sent / Math.max(0.001, (now - this.started) / 1000);
    const line = `${(fraction * 100).toFixed(1).padStart(5)}% ${human(this.sent)} / ${human(this.total)} ${human(rate)}/s`;
    if (process.stderr.isTTY) {
      if (!force && now - this.lastDraw < 100) return;
      const width = 30;
      const filled = Math.round(fraction * width);
      process.stderr.write(`\r[${'#'.repeat(filled)}${'.'.repeat(width - filled)}] ${line}   `);
    } else {
      const decile = Math.floor(fraction * 10);
      if (decile === this.lastDecile && !force) return;
      this.lastDecile = decile;
      process.stderr.write(`${line}\n`);
    }
    this.lastDraw = now;
  }

  finish() {
    this.draw(true);
    if (!this.quiet && process.stderr.isTTY) process.stderr.write('\n');
  }
}

function once(method, url, { headers = {}, length, body, text, progress }) {
  return new Promise((resolve, reject) => {
    const target = new URL(url);
    const h = { ...headers };
    if (text !== undefined) h['content-length'] = String(Buffer.byteLength(text));
    else if (length !== undefined) h['content-length'] = String(length);
    const lib = target.protocol === 'https:' ? https : http;
    let counted = 0;
    let stream = null;
    // Once the request has failed or been answered, the file is read no further (and its
    // descriptor is closed), so the bytes counted are final.
    const stop = () => stream?.destroy();
    const req = lib.request(target, { method, headers: h }, (res) => {
      stop();
      const chunks = [];
      res.on('data', (c) => chunks.push(c));
      res.on('end', () => {
        const raw = Buffer.concat(chunks).toString('utf8');
        let json = null;
        try { json = raw ? JSON.parse(raw) : null; } catch { json = null; }
        resolve({ status: res.statusCode, headers: res.headers, json, raw, counted });
      });
      res.on('error', (e) => { e.counted = counted; reject(e); });
    });
    req.on('error', (e) => { stop(); e.counted = counted; reject(e); });
    if (text !== undefined) return req.end(text);
    if (!body) return req.end();
    stream = body();
    stream.on('data', (chunk) => {
      counted += chunk.length;
      progress?.add(chunk.length);
      if (!req.write(chunk)) {
        stream.pause();
        req.once('drain', () => stream.resume());
      }
    });
    stream.on('end', () => req.end());
    stream.on('error', (e) => req.destroy(e));
  });
}

const retryable = (status) => status >= 500 || status === 429;

/**
 * Sends one request; `body` is a function returning a fresh readable stream (so a retry can
 * re-read it). Resolves on 2xx, rejects with a `Problem` otherwise.
 */
export async function request(method, url, opts = {}) {
  const attempts = 1 + (opts.retries || 0);
  for (let attempt = 1; ; attempt++) {
    let res;
    try {
      res = await once(method, url, opts);
    } catch (e) {
      opts.progress?.add(-(e.counted || 0));
      if (attempt >= attempts) throw e;
      await new Promise((r) => setTimeout(r, 500 * 2 ** attempt));
      continue;
    }
    if (res.status >= 200 && res.status < 300) return res;
    opts.progress?.add(-res.counted);
    if (attempt < attempts && retryable(res.status)) {
      await new Promise((r) => setTimeout(r, 500 * 2 ** attempt));
      continue;
    }
    throw new Problem(res.status, res.json || { detail: res.raw.slice(0, 200) });
  }
}
