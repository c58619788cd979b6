// A small HTTP client for the tests: real requests to the Worker's address.
import crypto from 'node:crypto';
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
