// Starts a real S3-compatible server (s3s-fs, which verifies SigV4 signatures) on a free
// loopback port with a fresh data directory, for the S3 backend's tests and benchmarks.
import { spawn } from 'node:child_process';
import fs from 'node:fs';
import net from 'node:net';
import os from 'node:os';
import path from 'node:path';
import { AwsClient } from 'aws4fetch';

export const S3_ACCESS_KEY = 'GATEWAYTESTKEY';
export const S3_SECRET_KEY = 'gateway-test-secret-key-0123456789';
export const S3_BUCKET = 'uploads';

export function freePort() {
  return new Promise((resolve, reject) => {
    const srv = net.createServer();
    srv.listen(0, '127.0.0.1', () => {
      const { port } = srv.address();
      srv.close(() => resolve(port));
    });
    srv.on('error', reject);
  });
}

/** `dir`: where the store keeps its files (the benchmark uses a RAM-backed one). */
/** Every stored name in the test bucket of the store at `endpoint`. */
async function listBucket(client, endpoint) {
  const names = [];
  let token = '';
  for (;;) {
    const q = `list-type=2${token ? `&continuation-token=${encodeURIComponent(token)}` : ''}`;
    const res = await client.fetch(`${endpoint}/${S3_BUCKET}?${q}`, { headers: { 'x-amz-content-sha256': 'UNSIGNED-PAYLOAD' } });
    const xml = await res.text();
    for (const m of xml.matchAll(/<Key>([^<]*)<\/Key>/g)) names.push(m[1].replace(/&amp;/g, '&').replace(/&lt;/g, '<').replace(/&gt;/g, '>').replace(/&quot;/g, '"').replace(/&apos;/g, "'"));
    const next = xml.match(/<NextContinuationToken>([^<]*)<\/NextContinuationToken>/);
    if (!next) return names;
    token = next[1];
  }
}

export async function startS3({ dir = os.tmpdir() } = {}) {
  const root = fs.mkdtempSync(path.join(dir, 's3s-'));
  fs.mkdirSync(path.join(root, S3_BUCKET));
  const port = await freePort();
  const bin = process.env.S3S_FS_BIN || path.join(os.homedir(), '.cargo/bin/s3s-fs');
  const endpoint = `http://127.0.0.1:${port}`;
  let proc;
  const launch = async () => {
    proc = spawn(bin, ['--host', '127.0.0.1', '--port', String(port), '--access-key', S3_ACCESS_KEY, '--secret-key', S3_SECRET_KEY, root], { stdio: 'ignore' });
    for (let i = 0; ; i++) {
      try {
        await fetch(endpoint);
        break;
      } catch {
        if (i > 100) throw new Error('s3s-fs did not start');
        await new Promise((r) => setTimeout(r, 50));
      }
    }
  };
  await launch();
  const client = new AwsClient({ accessKeyId: S3_ACCESS_KEY, secretAccessKey: S3_SECRET_KEY, region: 'us-east-1', service: 's3' });
  const url = (key) => `${endpoint}/${S3_BUCKET}/${key.split('/').map(encodeURIComponent).join('/')}`;
  return {
    endpoint,
    get pid() { return proc.pid; },
    /** Kills the server (its files stay) and starts it again on the same port after `ms`. */
    restart: async (ms) => {
      proc.kill('SIGKILL');
      await new Promise((r) => setTimeout(r, ms));
      await launch();
    },
    /** Every stored name in the bucket. */
    list: () => listBucket(client, endpoint),
    vars: { STORAGE: 's3', S3_ENDPOINT: endpoint, S3_BUCKET, S3_REGION: 'us-east-1', S3_ACCESS_KEY_ID: S3_ACCESS_KEY, S3_SECRET_ACCESS_KEY: S3_SECRET_KEY },
    client,
    url,
    /** A client-signed request straight to the store (the direct-PUT baseline). */
    fetch: (key, init = {}) => client.fetch(url(key), { ...init, headers: { 'x-amz-content-sha256': 'UNSIGNED-PAYLOAD', ...(init.headers || {}) } }),
    close: () => { proc.kill(); fs.rmSync(root, { recursive: true, force: true }); },
  };
}

/**
 * Starts moto's S3 server (`python3 -m moto.server`), an S3 implementation that checks
 * neither signatures nor digests, with an empty `uploads` bucket: the weakest store the
 * gateway claims to support.
 */
export async function startMoto() {
  const port = await freePort();
  const proc = spawn('python3', ['-m', 'moto.server', '-H', '127.0.0.1', '-p', String(port)], { stdio: 'ignore' });
  const endpoint = `http://127.0.0.1:${port}`;
  const client = new AwsClient({ accessKeyId: S3_ACCESS_KEY, secretAccessKey: S3_SECRET_KEY, region: 'us-east-1', service: 's3' });
  for (let i = 0; ; i++) {
    try {
      if ((await client.fetch(`${endpoint}/${S3_BUCKET}`, { method: 'PUT' })).ok) break;
    } catch {}
    if (i > 200) throw new Error('moto did not start');
    await new Promise((r) => setTimeout(r, 100));
  }
  const url = (key) => `${endpoint}/${S3_BUCKET}/${key.split('/').map(encodeURIComponent).join('/')}`;
  return {
    endpoint,
    vars: { STORAGE: 's3', S3_ENDPOINT: endpoint, S3_BUCKET, S3_REGION: 'us-east-1', S3_ACCESS_KEY_ID: S3_ACCESS_KEY, S3_SECRET_ACCESS_KEY: S3_SECRET_KEY },
    fetch: (key, init = {}) => client.fetch(url(key), { ...init, headers: { 'x-amz-content-sha256': 'UNSIGNED-PAYLOAD', ...(init.headers || {}) } }),
    /** Every stored name in the bucket. */
    list: () => listBucket(client, endpoint),
    close: () => proc.kill(),
  };
}
