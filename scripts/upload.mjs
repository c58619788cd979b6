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
// and detail on failure. The protocol is `public/client.js`, shared with the page; this file
// reads the arguments and the file and keeps the resume state.
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import crypto from 'node:crypto';
import { parseArgs } from 'node:util';
import { upload, fetchTransport, UploadError } from '../public/client.js';
import { Progress } from './lib/progress.mjs';

const STATE_DIR = path.join(os.homedir(), '.cache', 'upload-gateway');
const UNITS = { b: 1, k: 1e3, kb: 1e3, m: 1e6, mb: 1e6, g: 1e9, gb: 1e9, kib: 1024, mib: 1024 ** 2, gib: 1024 ** 3 };

/** `16MiB`, `5m`, `1048576` → bytes. */
function parseSize(text) {
  const m = /^(\d+(?:\.\d+)?)\s*([a-z]*)$/i.exec(String(text).trim());
  const unit = m && UNITS[(m[2] || 'b').toLowerCase()];
  if (!unit) throw new Error(`not a size: ${text}`);
  return Math.round(Number(m[1]) * unit);
}

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
const endpoint = values.endpoint.replace(/\/$/, '');
const progress = new Progress(stat.size, values.quiet);

/** The resume state of this file, key and endpoint, kept until the upload completes. */
const stateFile = path.join(
  STATE_DIR,
  crypto.createHash('sha256').update(JSON.stringify([endpoint, values.key, path.resolve(file), stat.size, stat.mtimeMs])).digest('hex') + '.json',
);
const resume = {
  load: () => (values.fresh || !fs.existsSync(stateFile) ? null : JSON.parse(fs.readFileSync(stateFile, 'utf8'))),
  save: (state) => {
    fs.mkdirSync(STATE_DIR, { recursive: true });
    fs.writeFileSync(stateFile, JSON.stringify(state));
  },
  clear: () => fs.rmSync(stateFile, { force: true }),
};

try {
  // Read from disk as each request is sent, a part at a time.
  const blob = await fs.openAsBlob(file);
  const result = await upload(blob, {
    endpoint,
    token: values.token,
    key: values.key,
    contentType: values['content-type'],
    multipartThreshold: parseSize(values.threshold),
    partSize: parseSize(values['part-size']),
    concurrency: Math.max(1, Number(values.concurrency) || 4),
    resume,
    send: fetchTransport(fetch, { countBytes: true }),
    onProgress: (loaded) => progress.update(loaded),
    onResume: ({ uploadId, stored, parts }) => {
      if (stored) progress.note(`resuming upload ${uploadId}: ${stored} of ${parts} parts already stored`);
    },
  });
  progress.finish();
  console.log(JSON.stringify(result, null, 2));
} catch (e) {
  progress.finish();
  if (e instanceof UploadError) {
    console.error(`upload failed: ${e.status ? `${e.status} ` : ''}${e.code}: ${e.detail}`);
  } else {
    console.error(`upload failed: ${e.message}`);
  }
  if (fs.existsSync(stateFile)) console.error('run the same command again to resume');
  process.exit(1);
}
