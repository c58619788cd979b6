// A small HTTP client for the tests: real requests to the Worker's address.
import crypto from 'node:crypto';
import net from 'node:net';
import { Agent, fetch } from 'undici';
import { sign, claimsFor } from '../../scripts/lib/jwt.mjs';
import { JWT_SECRET } from './gateway.mjs';

/** An HS256 token for `sub` signed with the test secret; `extra` adds or overrides claims. */
export function tokenFor(sub, extra = {}) {
  return sign(claimsFor(sub, extra), { key: JWT_SECRET });
}

// A fresh connection per request: the gateway may refuse an upload without reading its body,
// after which the server closes that connection; reusing it would race with the close.
const dispatcher = new Agent({ pipelining: 0 });

/** fetch on a connection of its own, never one a server may be closing after an idle while. */
export function fetchFresh(url, init = {}) {
  return fetch(url, { ...init, dispatcher });
}

/** Sends a request and reads the whole answer. `token` adds a bearer header. */
export async function call(gw, method, path, { token, headers = {}, body } = {}) {
  const h = { ...headers };
  if (token) h.authorization = `Bearer ${token}`;
  const res = await fetch(`${gw.url}${path}`, { method, headers: h, body, duplex: 'half', dispatcher });
  const text = await res.text();
  let json = null;
  if ((res.headers.get('content-type') || '').includes('json') && text) json = JSON.parse(text);
  return { status: res.status, headers: res.headers, text, json };
}

// A body at most this large goes at once: the socket's buffers take it whole.
const SMALL = 64 * 1024;

/**
 * Sends a write the gateway may answer from its headers, as curl does with a large body: the
 * head goes first, a body over 64 KiB only if no answer came within a second, and the body stops
 * at the first byte of an answer. Without `body`, only the head goes, declaring `length` bytes.
 * Large writes refused early cannot go through fetch: after an early answer the local runtime
 * reads and drops a little of the unread body (up to about 1 MiB, while it has time), then
 * closes the connection with the rest in its buffer, so the kernel resets it and the answer is
 * lost on the way.
 * The answer is read in full (`status` 0 if none came within 30 s), shaped like `call`'s.
 */
export function send(gw, method, path, { token, headers = {}, body: given, length = given === undefined ? undefined : Buffer.byteLength(given) } = {}) {
  const body = typeof given === 'string' ? Buffer.from(given) : given;
  const { hostname, port } = new URL(gw.url);
  const head = { host: hostname, ...headers, 'content-length': String(length) };
  if (token) head.authorization = `Bearer ${token}`;
  return new Promise((resolve) => {
    let received = Buffer.alloc(0);
    let answered;
    const early = new Promise((r) => { answered = r; });
    const done = () => { clearTimeout(timer); sock.destroy(); resolve(parseAnswer(received)); };
    const sock = net.connect(Number(port), hostname, async () => {
      sock.write(`${method} ${path} HTTP/1.1\r\n${Object.entries(head).map(([k, v]) => `${k}: ${v}\r\n`).join('')}\r\n`);
      const wait = body?.length > SMALL ? 1000 : 0;
      if (!body || await Promise.race([early.then(() => true), new Promise((r) => setTimeout(r, wait, false))])) return;
      for (let at = 0; at < body.length && !received.length && !sock.destroyed; at += 64 * 1024) {
        if (!sock.write(body.subarray(at, at + 64 * 1024))) await new Promise((r) => { sock.once('drain', r); sock.once('close', r); });
      }
    });
    sock.on('data', (d) => {
      received = Buffer.concat([received, d]);
      answered();
      if (parseAnswer(received).complete) done();
    });
    sock.on('close', done);
    sock.on('error', done);
    const timer = setTimeout(done, 30_000);
  });
}

/** The raw answer read so far as `{ status, headers, text, json, complete }`. */
function parseAnswer(raw) {
  const end = raw.indexOf('\r\n\r\n');
  if (end < 0) return { status: 0, headers: new Headers(), text: '', json: null, complete: false };
  const [statusLine, ...lines] = raw.subarray(0, end).toString('latin1').split('\r\n');
  const headers = new Headers(lines.map((l) => [l.slice(0, l.indexOf(':')), l.slice(l.indexOf(':') + 1).trim()]));
  const declared = Number(headers.get('content-length') ?? NaN);
  const rest = raw.subarray(end + 4);
  const text = rest.subarray(0, Number.isNaN(declared) ? rest.length : declared).toString();
  const complete = rest.length >= declared;
  const json = complete && (headers.get('content-type') || '').includes('json') && text ? JSON.parse(text) : null;
  return { status: Number(statusLine.split(' ')[1]), headers, text, json, complete };
}

export const sha256 = (buf) => crypto.createHash('sha256').update(buf).digest();
export const md5 = (buf) => crypto.createHash('md5').update(buf).digest();

/** Asserts an RFC 9457 problem answer with `status` and `code`. */
export function assertProblem(assert, res, status, code) {
  assert.equal(res.status, status, `expected ${status} ${code}, got ${res.status}: ${res.text}`);
  assert.equal(res.headers.get('content-type'), 'application/problem+json');
  assert.equal(res.json.code, code);
  assert.equal(res.json.status, status);
  assert.ok(res.json.title && res.json.type && typeof res.json.detail === 'string');
}
