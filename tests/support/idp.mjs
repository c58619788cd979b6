// Local identity providers for the tests: one HTTP server on loopback serving, per provider
// path, an OpenID configuration and a key set, whose keys can rotate and which can answer 500
// or hang; it counts its fetches. Tokens are minted with the real `jose` library, shaped as
// each provider shapes its own.
import http from 'node:http';
import crypto from 'node:crypto';
import * as jose from 'jose';

/** A key pair for `alg`, with its public JWK carrying `kid` (and `alg` unless `bare`). */
export async function keyFor(alg, kid, { bare = false, modulusLength = 2048 } = {}) {
  const { privateKey, publicKey } = await jose.generateKeyPair(alg, { modulusLength, extractable: true });
  const jwk = { ...(await jose.exportJWK(publicKey)), kid, use: 'sig', ...(bare ? {} : { alg }) };
  return { alg, kid, privateKey, jwk };
}

/** A JWT over `claims` signed with `key` (its kid in the header unless `kid: null`). */
export async function mint(key, claims, { kid = key.kid, typ = 'JWT', ttl = 600 } = {}) {
  const now = Math.floor(Date.now() / 1000);
  const header = { alg: key.alg, typ, ...(kid ? { kid } : {}) };
  return new jose.SignJWT({ iat: now, exp: now + ttl, ...claims }).setProtectedHeader(header).sign(key.privateKey);
}

/** A compact JWT signed by hand (for what `jose` refuses to make: weak keys, confusion). */
export function handmade(header, claims, sign) {
  const b64 = (v) => Buffer.from(JSON.stringify(v)).toString('base64url');
  const input = `${b64(header)}.${b64(claims)}`;
  return `${input}.${Buffer.from(sign(input)).toString('base64url')}`;
}

/** A 1024-bit RSA key: published and used to sign, but too weak to be accepted. */
export function weakRsa(kid) {
  const { privateKey, publicKey } = crypto.generateKeyPairSync('rsa', { modulusLength: 1024 });
  const jwk = { ...publicKey.export({ format: 'jwk' }), kid, alg: 'RS256', use: 'sig' };
  return { jwk, sign: (input) => crypto.sign('sha256', Buffer.from(input), privateKey) };
}

/**
 * Starts the providers' server. `provider(name)` returns { issuer, jwksUrl, keys, fetches,
 * mode } for `/name/`: set `keys` (public JWKs) to rotate, `mode` to 'ok' | 'error' | 'hang',
 * `extra` for more top-level members of the key set.
 */
export async function startIdps() {
  const providers = new Map();
  const hung = new Set();
  const server = http.createServer((req, res) => {
    const [, name, ...rest] = req.url.split('/');
    const p = providers.get(name);
    const path = `/${rest.join('/')}`;
    if (!p) { res.writeHead(404).end(); return; }
    if (path === '/.well-known/openid-configuration') {
      p.discoveries += 1;
      res.writeHead(200, { 'content-type': 'application/json' }).end(JSON.stringify({ issuer: p.issuer, jwks_uri: p.jwksUrl }));
      return;
    }
    if (path !== '/jwks.json') { res.writeHead(404).end(); return; }
    p.fetches += 1;
    if (p.mode === 'error') { res.writeHead(500).end('down'); return; }
    if (p.mode === 'hang') { hung.add(res); return; }
    res.writeHead(200, { 'content-type': 'application/json', 'cache-control': p.cacheControl }).end(JSON.stringify({ ...p.extra, keys: p.keys }));
  });
  await new Promise((r) => server.listen(0, '127.0.0.1', r));
  const base = `http://127.0.0.1:${server.address().port}`;
  return {
    base,
    provider(name, { issuer = `${base}/${name}/`, keys = [], cacheControl = 'public, max-age=3600', extra = {} } = {}) {
      if (!providers.has(name)) {
        providers.set(name, { issuer, jwksUrl: `${base}/${name}/jwks.json`, keys, cacheControl, extra, fetches: 0, discoveries: 0, mode: 'ok' });
      }
      return providers.get(name);
    },
    close: () => new Promise((r) => { for (const res of hung) res.destroy(); server.closeAllConnections?.(); server.close(r); }),
  };
}
