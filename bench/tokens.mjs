#!/usr/bin/env node
// What verifying a token costs the Worker, per algorithm: `GET /files?limit=1` (authentication
// and one D1 read) sent BENCH_TOKEN_REQUESTS times per kind of token, 8 at a time, to the
// built gateway in its own workerd (Miniflare), with the workerd process's CPU time read from
// /proc before and after each kind; kinds in rotated order over BENCH_TOKEN_ROUNDS rounds,
// medians. The gateway's own tokens (HS256 with JWT_SECRET, EdDSA and ES256 with
// JWT_PUBLIC_KEYS) and identity providers' tokens (RS256, PS256, ES256, EdDSA, HS256 with an
// issuer's secret; keys from a local key server, fetched once) are measured in one run; HS256,
// whose check is a single HMAC, is the baseline the others are compared with. With
// BENCH_BASELINE=<build dir>, the gateway's own tokens are measured on that build too.
// Writes bench/tokens.md.
import fs from 'node:fs';
import http from 'node:http';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import * as jose from 'jose';
import { cpuSeconds } from './lib/measure.mjs';
import { startWorker } from './lib/worker.mjs';
import { keyFor, mint, startIdps } from '../tests/support/idp.mjs';
import { sign, claimsFor, randomSecret } from '../scripts/lib/jwt.mjs';

const root = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '..');
const REQUESTS = Number(process.env.BENCH_TOKEN_REQUESTS || 2000);
const ROUNDS = Number(process.env.BENCH_TOKEN_ROUNDS || 3);
const BASELINE = process.env.BENCH_BASELINE;
const CONCURRENCY = 8;
const median = (xs) => [...xs].sort((a, b) => a - b)[Math.floor(xs.length / 2)];

/** Sends `n` list requests with `token`, CONCURRENCY at a time; throws on any non-200. */
async function send(url, token, n) {
  const agent = new http.Agent({ keepAlive: true, maxSockets: CONCURRENCY });
  let next = 0;
  const one = () => new Promise((resolve, reject) => {
    http.get(`${url}/files?limit=1`, { agent, headers: { authorization: `Bearer ${token}` } }, (res) => {
      let text = '';
      res.setEncoding('utf8');
      res.on('data', (c) => { text += c; });
      res.on('end', () => (res.statusCode === 200 ? resolve() : reject(new Error(`${url}: ${res.statusCode} ${text}`))));
    }).on('error', reject);
  });
  await Promise.all(Array.from({ length: CONCURRENCY }, async () => { while (next++ < n) await one(); }));
  agent.destroy();
}

const idps = await startIdps();
const secret = randomSecret();
const issuerSecret = 'issuer-hs256-secret-0123456789abcdefghij';
const own = { es: await keyFor('ES256', 'own-es'), ed: await keyFor('EdDSA', 'own-ed') };
const idp = { rs: await keyFor('RS256', 'rs'), ps: await keyFor('PS256', 'ps'), es: await keyFor('ES256', 'es'), ed: await keyFor('EdDSA', 'ed') };
const provider = idps.provider('bench', { keys: Object.values(idp).map((k) => k.jwk) });
const vars = {
  JWT_SECRET: secret,
  JWT_PUBLIC_KEYS: JSON.stringify({ keys: [own.es.jwk, own.ed.jwk] }),
  JWT_ISSUERS: JSON.stringify([{ issuer: provider.issuer, jwks_url: provider.jwksUrl, secret: issuerSecret }]),
};
const workers = [];
try {
  const ownClaims = { ...claimsFor('bench', { ttl: 86400 }) };
  const idpClaims = { iss: provider.issuer, sub: 'bench' };
  const hsIssuer = await new jose.SignJWT({ ...idpClaims, exp: Math.floor(Date.now() / 1000) + 86400 }).setProtectedHeader({ alg: 'HS256' }).sign(new TextEncoder().encode(issuerSecret));
  const kinds = [
    { name: 'HS256, JWT_SECRET (baseline)', token: sign(ownClaims, { key: secret }), own: true },
    { name: 'ES256, JWT_PUBLIC_KEYS', token: await mint(own.es, { sub: 'bench' }, { ttl: 86400 }), own: true },
    { name: 'EdDSA, JWT_PUBLIC_KEYS', token: await mint(own.ed, { sub: 'bench' }, { ttl: 86400 }), own: true },
    { name: 'RS256, JWT_ISSUERS (2048-bit key)', token: await mint(idp.rs, idpClaims, { ttl: 86400 }) },
    { name: 'PS256, JWT_ISSUERS (2048-bit key)', token: await mint(idp.ps, idpClaims, { ttl: 86400 }) },
    { name: 'ES256, JWT_ISSUERS', token: await mint(idp.es, idpClaims, { ttl: 86400 }) },
    { name: 'EdDSA, JWT_ISSUERS', token: await mint(idp.ed, idpClaims, { ttl: 86400 }) },
    { name: 'HS256, JWT_ISSUERS `secret`', token: hsIssuer },
  ];
  const targets = [{ label: 'this build', dir: path.join(root, 'build'), kinds }];
  if (BASELINE) targets.push({ label: `baseline (${path.basename(path.resolve(BASELINE))})`, dir: path.resolve(BASELINE), kinds: kinds.filter((k) => k.own) });
  for (const t of targets) {
    const w = await startWorker(path.join(t.dir, 'index.js'), t.label === 'this build' ? vars : { JWT_SECRET: vars.JWT_SECRET, JWT_PUBLIC_KEYS: vars.JWT_PUBLIC_KEYS });
    workers.push(w);
    t.worker = w;
    for (const k of t.kinds) await send(w.url, k.token, 50); // warm: keys fetched and imported
    t.cpu = new Map(t.kinds.map((k) => [k.name, []]));
  }
  for (let round = 0; round < ROUNDS; round++) {
    for (const t of targets) {
      for (let i = 0; i < t.kinds.length; i++) {
        const k = t.kinds[(i + round) % t.kinds.length];
        const before = cpuSeconds(t.worker.pid);
        await send(t.worker.url, k.token, REQUESTS);
        t.cpu.get(k.name).push(((cpuSeconds(t.worker.pid) - before) * 1000) / REQUESTS);
      }
    }
  }
  const rows = [];
  for (const t of targets) {
    const base = median(t.cpu.get(kinds[0].name));
    for (const k of t.kinds) {
      const ms = median(t.cpu.get(k.name));
      rows.push(`| ${t.label} | ${k.name} | ${ms.toFixed(3)} | ${(ms - base).toFixed(3)} |`);
    }
  }
  const wasm = fs.statSync(path.join(root, 'build/index_bg.wasm')).size;
  const gz = (await import('node:zlib')).gzipSync(fs.readFileSync(path.join(root, 'build/index_bg.wasm')), { level: 9 }).length;
  const text = `# What verifying a token costs

Run ${new Date().toISOString()} with \`node bench/tokens.mjs\`${BASELINE ? ` (BENCH_BASELINE=${BASELINE})` : ''}: ${REQUESTS} \`GET /files?limit=1\` per kind of token, ${CONCURRENCY} at a time, ${ROUNDS} rounds in rotated order, medians; the gateway in its own workerd through Miniflare. CPU is the workerd process's user + system time per request (\`/proc/<pid>/stat\`, 10 ms ticks over the whole kind), which includes the request's other work (routing, one D1 read, the answer); the last column is what a kind costs above the HS256 baseline of the same build in the same run, the verification's own cost.

| build | token | Worker CPU ms per request | above HS256 |
|---|---|---|---|
${rows.join('\n')}

Signatures other than HS256 are checked by the runtime's WebCrypto (\`crypto.subtle.verify\`, keys imported once per isolate), not in Wasm. Module: \`build/index_bg.wasm\` ${(wasm / 1024).toFixed(0)} KiB raw, ${(gz / 1024).toFixed(0)} KiB gzipped (gzip -9).
`;
  fs.writeFileSync(path.join(root, 'bench/tokens.md'), text);
  console.log(text);
} finally {
  for (const w of workers) await w.mf.dispose();
  await idps.close();
}
