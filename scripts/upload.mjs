#!/usr/bin/env node
// The reference client: uploads any file through the gateway, streaming it from disk.
// Files up to --threshold go in one PUT; larger ones as a multipart upload whose state is
// kept on disk, so running the same command again after a crash or a dropped network
// resumes: it asks the gateway which parts arrived and sends only the rest.
//
//   npm run upload -- FILE --key alice/video.mp4 [--endpoint http://127.0.0.1:8787]
//        [--token JWT] [--content-type video/mp4] [--threshold 64MiB] [--part-size 16MiB]
//        [--concurrency 4] [--fresh]
//
// The token comes from --token or GATEWAY_TOKEN; the endpoint from --endpoint or
// GATEWAY_URL. Prints the gateway's JSON answer on success; exits 1 with the problem's code
// and detail on failure.
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import crypto from 'node:crypto';
import { parseArgs } from 'node:util';
import { request, Progress, parseSize, Problem } from './lib/transfer.mjs';

const MIB = 1024 * 1024;
const STATE_DIR = path.join(os.homedir(), '.cache', 'upload-gateway');

const { values, positionals } = parseArgs({
  allowPositionals: true,
  options: {
    key: { type: 'string' },
    endpoint: { type: 'string', default: process.env.GATEWAY_URL || 'http://127.0.0.1:8787' },
    token: { type: 'string', default: process.env.GATEWAY_TOKEN },
    'content-type': { type: 'string', default: 'application/octet-stream' },
    threshold: { type: 'string', default: '64MiB' },
    'part-size': { type: 'string', default: '16MiB' },
    concurrency: { type: 'string', default: '4' },
    fresh: { type: 'boolean', default: false },
    quiet: { type: 'boolean', default: false },
  },
});

const file = positionals[0];
if (!file || !values.key || !values.token) {
  console.error('usage: npm run upload -- FILE --key KEY [--token JWT | GATEWAY_TOKEN=…] [--endpoint URL]');
  process.exit(2);
}
const stat = fs.statSync(file);
const size = stat.size;
const endpoint = values.endpoint.replace(/\/$/, '');
const objectPath = `/files/${values.key.split('/').map(encodeURIComponent).join('/')}`;
const auth = { authorization: `Bearer ${values.token}` };
const progress = new Progress(size, values.quiet);

/** The resume state of this file, key and endpoint, kept until the upload completes. */
const stateFile = path.join(
  STATE_DIR,
  crypto.createHash('sha256').update(JSON.stringify([endpoint, values.key, path.resolve(file), size, stat.mtimeMs])).digest('hex') + '.json',
);

const partStream = (start, length) => () => fs.createReadStream(file, length ? { start, end: start + length - 1 } : { start, end: -1 });

async function single() {
  const res = await request('PUT', `${endpoint}${objectPath}`, {
    headers: { ...auth, 'content-type': values['content-type'] },
    length: size,
    body: size > 0 ? partStream(0, size) : null,
    progress,
  });
  return res.json;
}

/** The upload to continue (from the saved state, if the gateway still has it) or a new one. */
async function openUpload(partSize) {
  if (!values.fresh && fs.existsSync(stateFile)) {
    const saved = JSON.parse(fs.readFileSync(stateFile, 'utf8'));
    try {
      const listed = await request('GET', `${endpoint}${objectPath}?uploadId=${encodeURIComponent(saved.upload_id)}`, { headers: auth });
      return { ...saved, parts: listed.json.parts };
    } catch (e) {
      if (!(e instanceof Problem) || e.status !== 404) throw e;
    }
  }
  const started = await request('POST', `${endpoint}${objectPath}?uploads`, {
    headers: { ...auth, 'content-type': 'application/json' },
    text: JSON.stringify({ content_type: values['content-type'], size }),
  });
  const { upload_id, part_size_min, part_size_max, max_parts } = started.json;
  if (part_size_max < part_size_min && size > part_size_max) throw new Error(`the gateway accepts parts of at most ${part_size_max} bytes, under the ${part_size_min}-byte minimum`);
  // Enough parts of at most the gateway's maximum, and never more than it allows.
  let chosen = Math.max(partSize, part_size_min, Math.ceil(size / max_parts / MIB) * MIB);
  chosen = Math.min(chosen, part_size_max);
  if (Math.ceil(size / chosen) > max_parts) throw new Error(`${size} bytes do not fit in ${max_parts} parts of ${chosen} bytes`);
  const state = { upload_id, part_size: chosen };
  fs.mkdirSync(STATE_DIR, { recursive: true });
  fs.writeFileSync(stateFile, JSON.stringify(state));
  return { ...state, parts: [] };
}

async function multipart() {
  const upload = await openUpload(parseSize(values['part-size']));
  const { upload_id, part_size } = upload;
  const count = Math.ceil(size / part_size);
  const expected = (n) => (n < count ? part_size : size - (count - 1) * part_size);
  const done = new Set(upload.parts.filter((p) => p.size === expected(p.part_number)).map((p) => p.part_number));
  for (const n of done) progress.add(expected(n));
  if (done.size) progress.note(`resuming upload ${upload_id}: ${done.size} of ${count} parts already stored`);
  const queue = [];
  for (let n = 1; n <= count; n++) if (!done.has(n)) queue.push(n);
  const url = (n) => `${endpoint}${objectPath}?uploadId=${encodeURIComponent(upload_id)}&partNumber=${n}`;
  const worker = async () => {
    for (let n = queue.shift(); n !== undefined; n = queue.shift()) {
      const start = (n - 1) * part_size;
      await request('PUT', url(n), { headers: auth, length: expected(n), body: partStream(start, expected(n)), progress, retries: 3 });
    }
  };
  await Promise.all(Array.from({ length: Math.max(1, Number(values.concurrency) || 4) }, worker));
  const done_ = await request('POST', `${endpoint}${objectPath}?uploadId=${encodeURIComponent(upload_id)}`, { headers: auth, retries: 3 });
  fs.rmSync(stateFile, { force: true });
  return done_.json;
}

try {
  const result = size > parseSize(values.threshold) ? await multipart() : await single();
  progress.finish();
  console.log(JSON.stringify(result, null, 2));
} catch (e) {
  progress.finish();
  if (e instanceof Problem) {
    console.error(`upload failed: ${e.status} ${e.code}: ${e.detail}`);
  } else {
    console.error(`upload failed: ${e.message}`);
  }
  if (fs.existsSync(stateFile)) console.error('run the same command again to resume');
  process.exit(1);
}
