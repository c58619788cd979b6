// Token checks through the built Worker: the three accepted algorithms, and each way a token
// is refused (missing, malformed, wrong signature, alg none, wrong algorithm for the key,
// expired, not yet valid, wrong issuer or audience).
import { test, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { startGateway, JWT_SECRET } from './support/gateway.mjs';
import { call, assertProblem } from './support/client.mjs';
import { sign, claimsFor, makeKeyPairs } from '../scripts/lib/jwt.mjs';

let gw;
const keys = makeKeyPairs();
before(async () => { gw = await startGateway({ JWT_PUBLIC_KEYS: keys.jwks, JWT_ISSUER: 'https://auth.example', JWT_AUDIENCE: 'uploads' }); });
after(() => gw?.close());

const good = (extra = {}) => claimsFor('alice', { iss: 'https://auth.example', aud: 'uploads', ...extra });
const put = (token, key = 'alice/a.txt') => call(gw, 'PUT', `/files/${key}`, { token, body: 'abc' });

for (const [alg, opts] of [
  ['HS256', { alg: 'HS256', key: JWT_SECRET }],
  ['EdDSA (Ed25519)', { alg: 'EdDSA', key: keys.ed, kid: 'ed-1' }],
  ['ES256 (P-256)', { alg: 'ES256', key: keys.ec, kid: 'ec-1' }],
]) {
  test(`a ${alg} token is accepted`, async () => {
    const res = await put(sign(good(), opts), `alice/${alg[0]}.txt`);
    assert.equal(res.status, 201, res.text);
  });
}

test('a request without a token is refused with 401 missing_token and WWW-Authenticate', async () => {
  const res = await put(undefined);
  assertProblem(assert, res, 401, 'missing_token');
  assert.equal(res.headers.get('www-authenticate'), 'Bearer');
});

test('a malformed token is refused with 401 invalid_token', async () => {
  assertProblem(assert, await put('not.a.jwt'), 401, 'invalid_token');
});

test('a token with a wrong signature is refused with 401 invalid_token', async () => {
  const token = sign(good(), { key: 'another-secret-another-secret-another' });
  assertProblem(assert, await put(token), 401, 'invalid_token');
});

test('an alg:none token is refused with 401 invalid_token', async () => {
  assertProblem(assert, await put(sign(good(), { alg: 'none' })), 401, 'invalid_token');
});

test('an Ed25519-signed token whose header claims ES256 is refused (the key pins the algorithm)', async () => {
  const [, payload, sig] = sign(good(), { alg: 'EdDSA', key: keys.ed, kid: 'ed-1' }).split('.');
  const header = Buffer.from(JSON.stringify({ alg: 'ES256', kid: 'ed-1' })).toString('base64url');
  assertProblem(assert, await put(`${header}.${payload}.${sig}`), 401, 'invalid_token');
});

test('an HS256 token forged with the public key as secret is refused', async () => {
  assertProblem(assert, await put(sign(good(), { alg: 'HS256', key: keys.jwks })), 401, 'invalid_token');
});

test('an unknown kid is refused with 401 invalid_token', async () => {
  assertProblem(assert, await put(sign(good(), { alg: 'EdDSA', key: keys.ed, kid: 'nope' })), 401, 'invalid_token');
});

test('an expired token is refused with 401 token_expired', async () => {
  const now = Math.floor(Date.now() / 1000);
  assertProblem(assert, await put(sign(good({ iat: now - 7200, exp: now - 3600 }), { key: JWT_SECRET })), 401, 'token_expired');
});

test('a token expired within the 60 s leeway is still accepted', async () => {
  const now = Math.floor(Date.now() / 1000);
  assert.equal((await put(sign(good({ exp: now - 20 }), { key: JWT_SECRET }), 'alice/leeway.txt')).status, 201);
});

test('a token not valid yet (nbf) is refused with 401 token_expired', async () => {
  const now = Math.floor(Date.now() / 1000);
  assertProblem(assert, await put(sign(good({ nbf: now + 600 }), { key: JWT_SECRET })), 401, 'token_expired');
});

test('a token without exp or without sub is refused with 401 invalid_token', async () => {
  const { exp, ...noExp } = good();
  assertProblem(assert, await put(sign(noExp, { key: JWT_SECRET })), 401, 'invalid_token');
  const { sub, ...noSub } = good();
  assertProblem(assert, await put(sign(noSub, { key: JWT_SECRET })), 401, 'invalid_token');
});

test('a token from another issuer or for another audience is refused with 401 invalid_token', async () => {
  assertProblem(assert, await put(sign(good({ iss: 'https://evil.example' }), { key: JWT_SECRET })), 401, 'invalid_token');
  assertProblem(assert, await put(sign(good({ aud: 'other' }), { key: JWT_SECRET })), 401, 'invalid_token');
  assert.equal((await put(sign(good({ aud: ['other', 'uploads'] }), { key: JWT_SECRET }), 'alice/aud.txt')).status, 201);
});

test('a valid token for another prefix is refused with 403, not 401', async () => {
  assertProblem(assert, await put(sign(good({ prefix: 'team/' }), { key: JWT_SECRET })), 403, 'forbidden');
  assert.equal((await put(sign(good({ prefix: 'team/' }), { key: JWT_SECRET }), 'team/x.txt')).status, 201);
});
