#!/usr/bin/env node
// What the approval hook costs an upload: the time to the answer of each kind that asks it,
// on one built gateway (R2 binding, its own workerd) without a hook, with a local hook that
// answers at once, and with one that answers after BENCH_HOOK_RTT_MS (20) — a hook in
// another region. The three gateways take turns request by request, BENCH_APPROVAL_ROUNDS
// (60) rounds; medians. Writes bench/approval.md. Run: node bench/approval.mjs (after
// `npm run build`).
import fs from 'node:fs';
import http from 'node:http';
import os from 'node:os';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { sign, claimsFor, randomSecret } from '../scripts/lib/jwt.mjs';
import { startWorker } from './lib/worker.mjs';

const root = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '..');
const ROUNDS = Number(process.env.BENCH_APPROVAL_ROUNDS || 60);
const RTT_MS = Number(process.env.BENCH_HOOK_RTT_MS || 20);
const secret = randomSecret();
const hookSecret = randomSecret();
const token = sign(claimsFor('bench', { ttl: 86400 }), { key: secret });
const median = (xs) => [...xs].sort((a, b) => a - b)[Math.floor(xs.length / 2)];

/** A hook that allows everything after `delayMs`. */
async function startHook(delayMs) {
  const server = http.createServer((req, res) => {
    req.resume();
    req.on('end', () => setTimeout(() => res.writeHead(200, { 'content-type': 'application/json' }).end('{"allow":true}'), delayMs));
  });
  await new Promise((r) => server.listen(0, '127.0.0.1', r));
  return { url: `http://127.0.0.1:${server.address().port}/approve`, close: () => { server.closeAllConnections(); server.close(); } };
}

const body4k = Buffer.alloc(4096, 7);
const auth = { authorization: `Bearer ${token}` };
const kinds = {
  'PUT 4 KiB': (url, i) => fetch(`${url}/files/bench/put-${i}.bin`, { method: 'PUT', headers: { ...auth, 'content-type': 'application/octet-stream' }, body: body4k }),
  'multipart start': (url, i) => fetch(`${url}/files/bench/mp-${i}.bin?uploads`, { method: 'POST', headers: auth, body: '{}' }),
  'tus creation': (url) => fetch(`${url}/tus/`, { method: 'POST', headers: { ...auth, 'tus-resumable': '1.0.0', 'upload-length': '4096' } }),
  'presign (gateway URL)': (url, i) => fetch(`${url}/presign`, { method: 'POST', headers: { ...auth, 'content-type': 'application/json' }, body: JSON.stringify({ key: `bench/ps-${i}.bin`, mode: 'gateway' }) }),
};

const hooks = { instant: await startHook(0), far: await startHook(RTT_MS) };
const base = { JWT_SECRET: secret, URL_SIGNING_SECRET: randomSecret() };
const withHook = (h) => ({ ...base, APPROVAL_HOOK_URL: h.url, APPROVAL_HOOK_SECRET: hookSecret });
const script = path.join(root, 'build/index.js');
const gateways = {
  none: await startWorker(script, base),
  instant: await startWorker(script, withHook(hooks.instant)),
  far: await startWorker(script, withHook(hooks.far)),
};
const samples = Object.fromEntries(Object.keys(kinds).map((k) => [k, { none: [], instant: [], far: [] }]));
try {
  for (let round = 0; round < ROUNDS; round++) {
    for (const [kind, send] of Object.entries(kinds)) {
      for (const name of round % 2 ? ['far', 'instant', 'none'] : ['none', 'instant', 'far']) {
        const t0 = performance.now();
        const res = await send(gateways[name].url, `${name}-${round}`);
        await res.arrayBuffer();
        if (res.status >= 300) throw new Error(`${kind} on ${name}: ${res.status}`);
        samples[kind][name].push(performance.now() - t0);
      }
    }
  }
} finally {
  for (const g of Object.values(gateways)) await g.mf.dispose();
  for (const h of Object.values(hooks)) h.close();
}
const ms = (x) => `${x.toFixed(1)} ms`;
const rows = Object.entries(samples).map(([kind, s]) => {
  const [none, instant, far] = [median(s.none), median(s.instant), median(s.far)];
  return `| ${kind} | ${ms(none)} | ${ms(instant)} (+${(instant - none).toFixed(1)}) | ${ms(far)} (+${(far - none).toFixed(1)}) |`;
});
const lines = [
  '# What the approval hook costs',
  '',
  `Run ${new Date().toISOString()} with \`node bench/approval.mjs\` on ${os.cpus().length} cores: the built gateway (R2 binding, D1, each in its own workerd) without a hook, with a local hook answering at once, and with one answering after ${RTT_MS} ms; the three take turns request by request for ${ROUNDS} rounds; median time to the whole answer, client side.`,
  '',
  `| kind | no hook | hook answering at once | hook answering after ${RTT_MS} ms |`,
  '|---|---|---|---|',
  ...rows,
  '',
  `The hook adds one round trip before the body and nothing after it. The middle column is everything a hook on the same machine costs: the gateway building and signing the request, the loopback round trip to a Node receiver and reading its answer (about 2 ms for every kind); the last column shows the hook's own time to answer passing through one to one. Put the hook near the Worker (or on Workers itself) and keep its answer fast: every upload waits for it, up to \`APPROVAL_HOOK_TIMEOUT_MS\`.`,
  '',
];
fs.writeFileSync(path.join(root, 'bench/approval.md'), `${lines.join('\n')}\n`);
console.log(lines.join('\n'));
