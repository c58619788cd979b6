// Signs JWTs with node:crypto (HS256, EdDSA/Ed25519, ES256), independently of the Worker's
// Rust verifier. Used by `npm run token` and by the integration tests.
import crypto from 'node:crypto';

const b64url = (buf) => Buffer.from(buf).toString('base64url');

/** Signs `claims` with `alg` using `key` (a secret string for HS256, a KeyObject otherwise). */
export function sign(claims, { alg = 'HS256', key, kid } = {}) {
  const header = { alg, typ: 'JWT', ...(kid ? { kid } : {}) };
  const input = `${b64url(JSON.stringify(header))}.${b64url(JSON.stringify(claims))}`;
  let sig;
  if (alg === 'HS256') sig = crypto.createHmac('sha256', key).update(input).digest();
  else if (alg === 'EdDSA') sig = crypto.sign(null, Buffer.from(input), key);
  else if (alg === 'ES256') sig = crypto.sign('sha256', Buffer.from(input), { key, dsaEncoding: 'ieee-p1363' });
  else if (alg === 'none') sig = Buffer.alloc(0);
  else throw new Error(`unsupported alg ${alg}`);
  return `${input}.${b64url(sig)}`;
}

/** Standard claims for `sub`, valid for `ttl` seconds from now. */
export function claimsFor(sub, { ttl = 3600, now = Math.floor(Date.now() / 1000), ...extra } = {}) {
  return { sub, iat: now, exp: now + ttl, ...extra };
}

/** A fresh Ed25519 and P-256 key pair each, and the JWKS document of their public halves. */
export function makeKeyPairs() {
  const ed = crypto.generateKeyPairSync('ed25519');
  const ec = crypto.generateKeyPairSync('ec', { namedCurve: 'P-256' });
  const jwks = {
    keys: [
      { ...ed.publicKey.export({ format: 'jwk' }), kid: 'ed-1', alg: 'EdDSA', use: 'sig' },
      { ...ec.publicKey.export({ format: 'jwk' }), kid: 'ec-1', alg: 'ES256', use: 'sig' },
    ],
  };
  return { ed: ed.privateKey, ec: ec.privateKey, jwks: JSON.stringify(jwks) };
}

export function randomSecret() {
  return crypto.randomBytes(32).toString('base64url');
}
