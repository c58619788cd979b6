// Tokens from identity providers (`JWT_ISSUERS`) through the built Worker over HTTP: tokens
// minted with `jose`, shaped as Auth0, Cognito, Firebase, Okta, Entra ID, Keycloak, Clerk,
// Supabase and Cloudflare Access shape theirs, verified against key sets the Worker fetches
// from a local server (which can rotate keys, fail, hang and count its fetches). Each upload
// and download works within the provider's prefix and is 403 outside it; rotation, kid floods,
// outages and every kind of forged or misdirected token behave as docs/security.md says.
import { test, before, after } from 'node:test';
import assert from 'node:assert/strict';
import crypto from 'node:crypto';
import { startGateway } from './support/gateway.mjs';
import { call, assertProblem } from './support/client.mjs';
import { keyFor, mint, handmade, weakRsa, startIdps } from './support/idp.mjs';

let gw;
let idps;
const keys = {};
const SUPABASE_SECRET = 'supabase-legacy-jwt-secret-0123456789abcdef';
const FIREBASE = 'https://securetoken.google.com/demo-project';
const COGNITO = 'https://cognito-idp.us-east-1.amazonaws.com/us-east-1_Example';

before(async () => {
  idps = await startIdps();
  keys.auth0 = await keyFor('RS256', 'auth0-1');
  keys.cognito = await keyFor('RS256', 'cognito-1');
  keys.firebase = await keyFor('RS256', 'firebase-1');
  keys.okta = await keyFor('RS256', 'okta-1');
  keys.entra = await keyFor('RS256', 'entra-1', { bare: true });
  keys.keycloak = await keyFor('PS256', 'keycloak-1');
  keys.clerk = await keyFor('RS256', 'clerk-1');
  keys.supabase = await keyFor('ES256', 'supabase-1');
  keys.access = await keyFor('RS256', 'access-1');
  keys.edkeys = await keyFor('EdDSA', 'ed-1');
  keys.weak = weakRsa('weak-1');
  keys.current = await keyFor('RS256', 'current');
  keys.next = await keyFor('RS256', 'next');
  const p = (name, opts) => idps.provider(name, opts);
  p('auth0', { keys: [keys.auth0.jwk] });
  p('cognito', { keys: [keys.cognito.jwk] });
  p('firebase', { keys: [keys.firebase.jwk], cacheControl: 'public, max-age=22435, must-revalidate, no-transform' });
  p('okta', { keys: [keys.okta.jwk] });
  p('entra', { keys: [{ ...keys.entra.jwk, x5t: 'abc', x5c: ['MIIC'] }] });
  p('keycloak', { keys: [keys.keycloak.jwk, keys.weak.jwk] });
  p('clerk', { keys: [keys.clerk.jwk] });
  p('supabase', { keys: [keys.supabase.jwk] });
  p('access', { keys: [keys.access.jwk], extra: { public_cert: { kid: 'access-1', cert: '-----BEGIN CERTIFICATE-----' }, public_certs: [] } });
  p('ed', { keys: [keys.edkeys.jwk] });
  p('advance', { keys: [keys.current.jwk, keys.next.jwk] });
  p('down', { keys: [] }).mode = 'error';
  p('hang', { keys: [] }).mode = 'hang';
  const issuers = [
    { issuer: p('auth0').issuer, audience: 'https://uploads.example.com', scopes: { claim: 'permissions', map: { 'read:files': 'read list', 'write:files': 'write' } } },
    { issuer: COGNITO, jwks_url: p('cognito').jwksUrl, require: { token_use: 'access', client_id: 'app-client' }, scopes: { claim: 'cognito:groups', map: { uploaders: 'read write list' } } },
    { issuer: FIREBASE, jwks_url: p('firebase').jwksUrl, audience: 'demo-project', subject: 'user_id' },
    { issuer: p('okta').issuer, jwks_url: p('okta').jwksUrl, audience: 'api://default', scopes: { claim: 'scp', map: { 'files.rw': 'read write delete list' } } },
    { issuer: p('entra').issuer, jwks_url: p('entra').jwksUrl, audience: 'api://uploads', subject: 'oid', scopes: { claim: 'scp', map: { 'Files.ReadWrite': 'read write list' } } },
    { issuer: p('keycloak').issuer, jwks_url: p('keycloak').jwksUrl, prefix: 'users/{sub}/', scopes: { claim: 'realm_access.roles', map: { uploader: 'read write list delete' } } },
    { issuer: p('clerk').issuer, jwks_url: p('clerk').jwksUrl, require: { azp: 'https://app.example.com' }, scopes: { claim: 'o.per', map: { 'org:files:write': 'read write list' } } },
    { issuer: p('supabase').issuer, jwks_url: p('supabase').jwksUrl, audience: 'authenticated', secret: SUPABASE_SECRET },
    { issuer: p('access').issuer, jwks_url: p('access').jwksUrl, audience: 'access-aud-tag', subject: 'email', header: 'Cf-Access-Jwt-Assertion' },
    { issuer: p('ed').issuer, jwks_url: p('ed').jwksUrl },
    { issuer: p('advance').issuer, jwks_url: p('advance').jwksUrl },
    { issuer: p('down').issuer, jwks_url: p('down').jwksUrl },
    { issuer: p('hang').issuer, jwks_url: p('hang').jwksUrl },
  ];
  gw = await startGateway({ JWT_ISSUERS: JSON.stringify(issuers) });
});
after(async () => { await gw?.close(); await idps?.close(); });

const put = (key, token, headers = {}) => call(gw, 'PUT', `/files/${key}`, { token, headers: { 'content-type': 'text/plain', ...headers }, body: `bytes of ${key}` });

/** Uploads and downloads within `prefix`, and is refused outside it. */
async function worksWithin(token, prefix, { headers = {}, bearer = true } = {}) {
  const auth = bearer ? token : undefined;
  const key = `${prefix}file-${crypto.randomUUID()}.txt`;
  const up = await put(key, auth, headers);
  assert.equal(up.status, 201, up.text);
  const down = await call(gw, 'GET', `/files/${key}`, { token: auth, headers });
  assert.equal(down.status, 200, down.text);
  assert.equal(down.text, `bytes of ${key}`);
  assertProblem(assert, await put(`someone-else/x.txt`, auth, headers), 403, 'forbidden');
}

test('Auth0: an RS256 access token with an audience array and permissions, keys found through discovery', async () => {
  const token = await mint(keys.auth0, { iss: idps.provider('auth0').issuer, sub: 'auth0|5f7c8ec7c33c6c004bbafe82', aud: ['https://uploads.example.com', 'https://tenant.auth0.com/userinfo'], permissions: ['read:files', 'write:files'], scope: 'openid profile' });
  await worksWithin(token, 'auth0|5f7c8ec7c33c6c004bbafe82/');
  assert.equal(idps.provider('auth0').discoveries, 1);
  const readOnly = await mint(keys.auth0, { iss: idps.provider('auth0').issuer, sub: 'reader', aud: 'https://uploads.example.com', permissions: ['read:files'] });
  assertProblem(assert, await put('reader/x.txt', readOnly), 403, 'forbidden');
});

test('Cognito: an access token has no aud; token_use and client_id are required, groups map to scopes', async () => {
  const claims = { iss: COGNITO, sub: 'b7c4a1e2-0000-4000-8000-000000000001', token_use: 'access', client_id: 'app-client', 'cognito:groups': ['uploaders'], scope: 'aws.cognito.signin.user.admin' };
  await worksWithin(await mint(keys.cognito, claims), `${claims.sub}/`);
  assertProblem(assert, await put(`${claims.sub}/id.txt`, await mint(keys.cognito, { ...claims, token_use: 'id' })), 401, 'invalid_token');
  assertProblem(assert, await put(`${claims.sub}/other.txt`, await mint(keys.cognito, { ...claims, client_id: 'another-app' })), 401, 'invalid_token');
});

test('Firebase: the project as audience, user_id as owner, a max-age of hours', async () => {
  const token = await mint(keys.firebase, { iss: FIREBASE, aud: 'demo-project', sub: 'Kx3fFirebaseUid', user_id: 'Kx3fFirebaseUid', auth_time: 1, firebase: { sign_in_provider: 'password' } });
  await worksWithin(token, 'Kx3fFirebaseUid/');
  assertProblem(assert, await put('Kx3fFirebaseUid/x.txt', await mint(keys.firebase, { iss: FIREBASE, aud: 'other-project', user_id: 'Kx3fFirebaseUid' })), 401, 'invalid_token');
});

test('Okta: scp as an array', async () => {
  const token = await mint(keys.okta, { iss: idps.provider('okta').issuer, aud: 'api://default', sub: 'okta-user@example.com', cid: 'client', scp: ['openid', 'files.rw'] });
  await worksWithin(token, 'okta-user@example.com/');
});

test('Entra ID v2: keys published without alg, beside x5c; oid as owner; scp as a string', async () => {
  const token = await mint(keys.entra, { iss: idps.provider('entra').issuer, aud: 'api://uploads', oid: '00000000-0000-0000-66f3-3332eca7ea81', sub: 'pairwise-sub', scp: 'User.Read Files.ReadWrite', ver: '2.0' });
  await worksWithin(token, '00000000-0000-0000-66f3-3332eca7ea81/');
});

test('Keycloak: PS256 and realm roles, under a prefix template; its 1024-bit key is refused', async () => {
  const iss = idps.provider('keycloak').issuer;
  const token = await mint(keys.keycloak, { iss, sub: 'f1b2c3d4', azp: 'uploads', realm_access: { roles: ['offline_access', 'uploader'] } });
  await worksWithin(token, 'users/f1b2c3d4/');
  const now = Math.floor(Date.now() / 1000);
  const weak = handmade({ alg: 'RS256', kid: 'weak-1', typ: 'JWT' }, { iss, sub: 'f1b2c3d4', exp: now + 600 }, keys.weak.sign);
  assertProblem(assert, await put('users/f1b2c3d4/weak.txt', weak), 401, 'invalid_token');
});

test('Clerk: azp is required and org permissions come comma-separated', async () => {
  const iss = idps.provider('clerk').issuer;
  const token = await mint(keys.clerk, { iss, sub: 'user_2abc', azp: 'https://app.example.com', o: { id: 'org_1', per: 'org:files:read,org:files:write' } });
  await worksWithin(token, 'user_2abc/');
  assertProblem(assert, await put('user_2abc/x.txt', await mint(keys.clerk, { iss, sub: 'user_2abc', azp: 'https://evil.example.com' })), 401, 'invalid_token');
});

test('Supabase: its new ES256 keys and its legacy HS256 secret', async () => {
  const iss = idps.provider('supabase').issuer;
  const claims = { iss, sub: '8c5f0a1e-supabase-user', aud: 'authenticated', role: 'authenticated' };
  await worksWithin(await mint(keys.supabase, claims), '8c5f0a1e-supabase-user/');
  const legacy = await new (await import('jose')).SignJWT({ ...claims, exp: Math.floor(Date.now() / 1000) + 600 }).setProtectedHeader({ alg: 'HS256', typ: 'JWT' }).sign(new TextEncoder().encode(SUPABASE_SECRET));
  await worksWithin(legacy, '8c5f0a1e-supabase-user/');
});

test('Cloudflare Access: the token in Cf-Access-Jwt-Assertion, the email as owner', async () => {
  const token = await mint(keys.access, { iss: idps.provider('access').issuer, aud: ['access-aud-tag'], email: 'dev@example.com', sub: 'a1b2', type: 'app' });
  await worksWithin(token, 'dev@example.com/', { headers: { 'cf-access-jwt-assertion': token }, bearer: false });
});

test('EdDSA tokens verify too', async () => {
  const token = await mint(keys.edkeys, { iss: idps.provider('ed').issuer, sub: 'ed-user' });
  await worksWithin(token, 'ed-user/');
});

test('a rotated key verifies after one refetch, and a kid flood costs at most a few fetches', async () => {
  const okta = idps.provider('okta');
  const before = okta.fetches;
  const next = await keyFor('RS256', 'okta-2');
  okta.keys = [keys.okta.jwk, next.jwk];
  const token = await mint(next, { iss: okta.issuer, aud: 'api://default', sub: 'rotated', scp: ['files.rw'] });
  assert.equal((await put('rotated/x.txt', token)).status, 201);
  assert.equal(okta.fetches, before + 1, 'one refetch for the new kid');
  const flood = await Promise.all(Array.from({ length: 30 }, async (_, i) => put('rotated/y.txt', await mint(next, { iss: okta.issuer, aud: 'api://default', sub: 'rotated', scp: ['files.rw'] }, { kid: `random-${i}` }))));
  for (const res of flood) assertProblem(assert, res, 401, 'invalid_token');
  assert.ok(okta.fetches <= before + 2, `a kid flood made ${okta.fetches - before - 1} more fetches`);
});

test('a key listed in advance verifies without a refetch when it starts signing', async () => {
  const advance = idps.provider('advance');
  const claims = { iss: advance.issuer, sub: 'advance' };
  assert.equal((await put('advance/1.txt', await mint(keys.current, claims))).status, 201);
  assert.equal(advance.fetches, 1);
  for (let i = 2; i < 6; i++) assert.equal((await put(`advance/${i}.txt`, await mint(keys.next, claims))).status, 201);
  assert.equal(advance.fetches, 1, 'the next key was already known');
});

test('an issuer whose keys never arrived (500, or a hang past 5 s) is 503, never a 500 or a hang', async () => {
  for (const name of ['down', 'hang']) {
    const key = await keyFor('RS256', `${name}-1`);
    const token = await mint(key, { iss: idps.provider(name).issuer, sub: 'u' });
    const t0 = Date.now();
    assertProblem(assert, await put('u/x.txt', token), 503, 'issuer_unavailable');
    assert.ok(Date.now() - t0 < 9000, `${name} took ${Date.now() - t0} ms`);
  }
});

test('an outage after keys were fetched keeps them verifying', async () => {
  const firebase = idps.provider('firebase');
  firebase.mode = 'error';
  try {
    const token = await mint(keys.firebase, { iss: FIREBASE, aud: 'demo-project', user_id: 'still-works' });
    assert.equal((await put('still-works/x.txt', token)).status, 201);
  } finally {
    firebase.mode = 'ok';
  }
});

test('forged and misdirected tokens are refused with 401', async () => {
  const iss = idps.provider('ed').issuer;
  const now = Math.floor(Date.now() / 1000);
  const none = handmade({ alg: 'none' }, { iss, sub: 'ed-user', exp: now + 600 }, () => Buffer.alloc(0));
  assertProblem(assert, await put('ed-user/none.txt', none), 401, 'invalid_token');
  // RS→HS confusion: an HMAC keyed with the issuer's published public key.
  const okta = idps.provider('okta');
  const publicKey = JSON.stringify(keys.okta.jwk);
  const confused = handmade({ alg: 'HS256', kid: 'okta-1' }, { iss: okta.issuer, aud: 'api://default', sub: 'x', exp: now + 600 }, (input) => crypto.createHmac('sha256', publicKey).update(input).digest());
  assertProblem(assert, await put('x/c.txt', confused), 401, 'invalid_token');
  // Another issuer's key, signing a token that names this issuer.
  const stolen = await mint(keys.clerk, { iss, sub: 'ed-user' }, { kid: 'ed-1' });
  assertProblem(assert, await put('ed-user/s.txt', stolen), 401, 'invalid_token');
  const expired = await mint(keys.edkeys, { iss, sub: 'ed-user', exp: now - 3600 });
  assertProblem(assert, await put('ed-user/e.txt', expired), 401, 'token_expired');
  const unknownIssuer = await mint(keys.edkeys, { iss: 'https://unknown.example.com/', sub: 'ed-user' });
  assertProblem(assert, await put('ed-user/u.txt', unknownIssuer), 401, 'invalid_token');
  // A subject that would climb out of its prefix.
  assertProblem(assert, await put('a/x.txt', await mint(keys.edkeys, { iss, sub: '../a' })), 401, 'invalid_token');
  // Gateway claims in an IdP token never widen what it may touch.
  const widened = await mint(keys.edkeys, { iss, sub: 'ed-user', prefix: '', key: 'someone-else/x.txt' });
  assertProblem(assert, await put('someone-else/x.txt', widened), 403, 'forbidden');
});

test('self-minted tokens keep working beside the issuers', async () => {
  const { tokenFor } = await import('./support/client.mjs');
  assert.equal((await put('alice/self.txt', tokenFor('alice'))).status, 201);
});
