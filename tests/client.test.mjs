// The reference client (`npm run upload`) against the built Worker: a single PUT for a small
// file, a multipart upload for a larger one, and a resume after the client is killed
// mid-upload, each checked by the stored object's SHA-256.
import { test, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { spawn } from 'node:child_process';
import crypto from 'node:crypto';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { startGateway } from './support/gateway.mjs';
import { tokenFor, sha256 } from './support/client.mjs';

const MIB = 1024 * 1024;
const client = path.resolve('scripts/upload.mjs');
let gw;
let home;
let dir;

before(async () => {
  gw = await startGateway();
  home = fs.mkdtempSync(path.join(os.tmpdir(), 'client-home-'));
  dir = fs.mkdtempSync(path.join(os.tmpdir(), 'client-files-'));
});
after(() => {
  fs.rmSync(home, { recursive: true, force: true });
  fs.rmSync(dir, { recursive: true, force: true });
  return gw?.close();
});

function writeFile(name, size) {
  const file = path.join(dir, name);
  fs.writeFileSync(file, crypto.randomBytes(size));
  return file;
}

/** Runs the client; `onStderr(line, child)` sees each progress line. */
function run(args, onStderr = () => {}) {
  return new Promise((resolve) => {
    const child = spawn(process.execPath, [client, ...args, '--endpoint', gw.url, '--token', tokenFor('alice')], {
      env: { ...process.env, HOME: home },
    });
    let stdout = '';
    let stderr = '';
    child.stdout.on('data', (c) => { stdout += c; });
    child.stderr.on('data', (c) => {
      stderr += c;
      for (const line of String(c).split('\n')) if (line) onStderr(line, child);
    });
    child.on('close', (code, signal) => resolve({ code, signal, stdout, stderr }));
  });
}

const hashOf = (buf) => sha256(buf).toString('hex');

test('a small file goes up in one PUT', async () => {
  const file = writeFile('small.bin', 300_000);
  const res = await run([file, '--key', 'alice/client/small.bin', '--content-type', 'application/pdf']);
  assert.equal(res.code, 0, res.stderr);
  assert.equal(JSON.parse(res.stdout).size, 300_000);
  assert.equal(hashOf((await gw.object('alice/client/small.bin')).bytes()), hashOf(fs.readFileSync(file)));
  assert.equal((await gw.row('alice/client/small.bin')).content_type, 'application/pdf');
});

test('a file over the threshold goes up as a multipart upload', async () => {
  const file = writeFile('big.bin', 12 * MIB + 5);
  const res = await run([file, '--key', 'alice/client/big.bin', '--threshold', '8MiB', '--part-size', '5MiB']);
  assert.equal(res.code, 0, res.stderr);
  assert.equal(JSON.parse(res.stdout).size, 12 * MIB + 5);
  assert.equal(hashOf((await gw.object('alice/client/big.bin')).bytes()), hashOf(fs.readFileSync(file)));
  assert.match(res.stderr, /100\.0%/);
  const open = await gw.db.prepare('SELECT count(*) AS n FROM multipart_uploads').first();
  assert.equal(open.n, 0);
});

test('a killed client resumes where it stopped and the object is whole', async () => {
  const file = writeFile('resume.bin', 30 * MIB);
  const args = [file, '--key', 'alice/client/resume.bin', '--threshold', '8MiB', '--part-size', '5MiB', '--concurrency', '1'];
  // Kill once 40% is read: parts 1 and 2 (sent one after the other) are then stored.
  const first = await run(args, (line, child) => {
    const pct = Number((/(\d+\.\d)%/.exec(line) || [])[1]);
    if (pct >= 40 && pct < 100) child.kill('SIGKILL');
  });
  assert.equal(first.signal, 'SIGKILL', first.stderr);
  assert.equal(await gw.object('alice/client/resume.bin'), null);

  const second = await run(args);
  assert.equal(second.code, 0, second.stderr);
  const resumed = /(\d+) of 6 parts already stored/.exec(second.stderr);
  assert.ok(resumed && Number(resumed[1]) >= 2, second.stderr);
  assert.equal(hashOf((await gw.object('alice/client/resume.bin')).bytes()), hashOf(fs.readFileSync(file)));
  assert.deepEqual(fs.readdirSync(path.join(home, '.cache', 'upload-gateway')), [], 'the resume state is removed');
});

test('a refused upload exits 1 with the problem code', async () => {
  const file = writeFile('refused.bin', 1000);
  const res = await run([file, '--key', 'bob/not-mine.bin']);
  assert.equal(res.code, 1);
  assert.match(res.stderr, /403 forbidden/);
});
