#!/usr/bin/env node
// What `@uppy/aws-s3` 6.x's `signRequest` costs through the gateway against talking to the S3
// store directly: one file in 5 MiB parts, sent the way `S3mini` sends it (each request signed
// by `POST /s3/sign` just before it goes, parts one after another), three ways:
//   store      the client holds store credentials and signs its own requests (the baseline);
//   gateway    every request on a gateway URL (the default mode; the bytes pass the Worker);
//   direct     `"mode": "direct"`: parts on URLs the store signed, start and completion on
//              gateway URLs.
// The built gateway in its own workerd (S3 backend, RAM-backed s3s-fs, the EVENTS queue
// bound); BENCH_SIGN_BYTES (64 MiB) per file, the kinds rotating for BENCH_SIGN_ROUNDS (5)
// rounds; medians of throughput and of the Worker process's CPU per GiB, and the requests each
// file took to the gateway and to the store. Writes bench/sign-request.md. Run:
// node bench/sign-request.mjs (after `npm run build`).
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { startS3 } from '../tests/support/s3server.mjs';
import { sign, claimsFor, randomSecret } from '../scripts/lib/jwt.mjs';
import { put, cpuSeconds } from './lib/measure.mjs';
import { EVENTS_QUEUE, startWorker } from './lib/worker.mjs';

const root = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '..');
const SIZE = Number(process.env.BENCH_SIGN_BYTES || 64 * 1024 * 1024);
const ROUNDS = Number(process.env.BENCH_SIGN_ROUNDS || 5);
const PART = 5 * 1024 * 1024;
const MiB = 1024 * 1024;
const GiB = 1024 ** 3;
const secret = randomSecret();
const token = sign(claimsFor('bench', { ttl: 86400 }), { key: secret });
const median = (xs) => [...xs].sort((a, b) => a - b)[Math.floor(xs.length / 2)];
const partSizes = Array.from({ length: Math.ceil(SIZE / PART) }, (_, i) => Math.min(PART, SIZE - i * PART));

const s3 = await startS3({ dir: fs.existsSync('/dev/shm') ? '/dev/shm' : os.tmpdir() });
const w = await startWorker(path.join(root, 'build/index.js'), { ...s3.vars, JWT_SECRET: secret, URL_SIGNING_SECRET: randomSecret(), MAX_UPLOAD_BYTES: String(GiB) }, EVENTS_QUEUE);

/** Counts each request by where it goes. */
function counter() {
  const n = { gateway: 0, store: 0 };
  return { n, at: (url) => { n[url.startsWith(w.url) ? 'gateway' : 'store'] += 1; return url; } };
}

/** `S3mini`'s sequence for one file, each request signed by the gateway first. */
async function viaSignRequest(key, mode) {
  const { n, at } = counter();
  const signed = async (request) => {
    const res = await fetch(at(`${w.url}/s3/sign`), { method: 'POST', headers: { authorization: `Bearer ${token}`, 'content-type': 'application/json' }, body: JSON.stringify(mode ? { ...request, mode } : request) });
    if (!res.ok) throw new Error(`sign: ${res.status} ${await res.text()}`);
    return res.json();
  };
  const create = await signed({ method: 'POST', key });
  const created = await fetch(at(create.url), { method: 'POST', headers: { 'content-type': 'application/octet-stream' } });
  const uploadId = /<UploadId>([^<]+)<\/UploadId>/.exec(await created.text())[1];
  const parts = [];
  for (const [i, size] of partSizes.entries()) {
    const part = await signed({ method: 'PUT', key: create.key, uploadId, partNumber: i + 1 });
    const res = await put(at(part.url), size, part.headers);
    if (res.status !== 200) throw new Error(`part ${i + 1}: ${res.status} ${res.text}`);
    parts.push(`<Part><PartNumber>${i + 1}</PartNumber><ETag>${res.headers.etag.replace(/"/g, '')}</ETag></Part>`);
  }
  const complete = await signed({ method: 'POST', key: create.key, uploadId });
  const done = await fetch(at(complete.url), { method: 'POST', headers: { 'content-type': 'application/xml' }, body: `<CompleteMultipartUpload>${parts.join('')}</CompleteMultipartUpload>` });
  if (done.status !== 200) throw new Error(`complete: ${done.status} ${await done.text()}`);
  return n;
}

/** The same file with the store's own credentials: start, parts, completion, nothing else. */
async function atTheStore(key) {
  const { n, at } = counter();
  const url = (query) => at(`${s3.endpoint}/uploads/${key}?${query}`);
  const unsigned = { 'x-amz-content-sha256': 'UNSIGNED-PAYLOAD' };
  const created = await s3.client.fetch(url('uploads'), { method: 'POST', headers: unsigned });
  const uploadId = /<UploadId>([^<]+)<\/UploadId>/.exec(await created.text())[1];
  const parts = [];
  for (const [i, size] of partSizes.entries()) {
    const signed = await s3.client.sign(url(`partNumber=${i + 1}&uploadId=${encodeURIComponent(uploadId)}`), { method: 'PUT', headers: { ...unsigned, 'content-length': String(size) } });
    const res = await put(signed.url, size, Object.fromEntries(signed.headers));
    if (res.status !== 200) throw new Error(`store part ${i + 1}: ${res.status} ${res.text}`);
    parts.push(`<Part><PartNumber>${i + 1}</PartNumber><ETag>${res.headers.etag}</ETag></Part>`);
  }
  const done = await s3.client.fetch(url(`uploadId=${encodeURIComponent(uploadId)}`), { method: 'POST', headers: unsigned, body: `<CompleteMultipartUpload>${parts.join('')}</CompleteMultipartUpload>` });
  if (done.status !== 200) throw new Error(`store complete: ${done.status} ${await done.text()}`);
  return n;
}

const KINDS = {
  store: (key) => atTheStore(key),
  gateway: (key) => viaSignRequest(key),
  direct: (key) => viaSignRequest(key, 'direct'),
};
const samples = Object.fromEntries(Object.keys(KINDS).map((k) => [k, []]));
try {
  for (let round = 0; round < ROUNDS; round++) {
    const names = Object.keys(KINDS);
    for (const kind of [...names.slice(round % 3), ...names.slice(0, round % 3)]) {
      const cpu0 = cpuSeconds(w.pid);
      const t0 = performance.now();
      const requests = await KINDS[kind](`bench/${kind}-${round}.bin`);
      const seconds = (performance.now() - t0) / 1000;
      samples[kind].push({ seconds, cpu: cpuSeconds(w.pid) - cpu0, requests });
    }
  }
} finally {
  await w.mf.dispose();
  s3.close();
}

const row = (kind) => {
  const xs = samples[kind];
  return { mibs: SIZE / MiB / median(xs.map((x) => x.seconds)), cpu: median(xs.map((x) => x.cpu)) / (SIZE / GiB), requests: xs[0].requests };
};
const store = row('store');
const rows = [
  ['store', 'the store directly, with its credentials (baseline)', store],
  ['gateway', '`signRequest`, gateway URLs (the default)', row('gateway')],
  ['direct', '`signRequest`, `"mode": "direct"` (parts to the store)', row('direct')],
];
const text = `# \`signRequest\` (@uppy/aws-s3 6.x) against the store directly

Run ${new Date().toISOString()} with \`node bench/sign-request.mjs\` on ${os.cpus().length} cores: one file of ${SIZE / MiB} MiB in ${partSizes.length} parts of at most 5 MiB, sent as \`S3mini\` sends it (each request signed by \`POST /s3/sign\` just before it goes, parts one after another), through the built gateway (S3 backend, RAM-backed s3s-fs, EVENTS queue bound); the three ways rotating for ${ROUNDS} rounds, medians. Worker CPU is the Worker process's, per GiB of file.

| how | throughput | × the store's | Worker CPU per GiB | requests to the gateway | requests to the store |
|---|---|---|---|---|---|
${rows.map(([, name, r]) => `| ${name} | ${r.mibs.toFixed(0)} MiB/s | ${(r.mibs / store.mibs).toFixed(2)}× | ${r.cpu.toFixed(2)} s | ${r.requests.gateway} | ${r.requests.store} |`).join('\n')}

Requests per file of *n* parts: with gateway URLs, 2*n* + 4 to the gateway (a sign call and the request itself for the start, each part and the completion) and none to the store from the client; in direct mode, *n* + 4 to the gateway and *n* to the store; with its own credentials the client sends *n* + 2 to the store. Locally every hop costs microseconds, so the ratios show what the gateway's own work costs, not a network's round trips: on the platform each sign call is a round trip to the nearest Cloudflare location, and in direct mode a part's bytes go to the store without passing the Worker.
`;
fs.writeFileSync(path.join(root, 'bench/sign-request.md'), text);
console.log(text);
