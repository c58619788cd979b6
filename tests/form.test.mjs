// Browser form uploads against the built Worker on both backends: a form from
// `POST /presign` (`"mode": "form"`) posted as `multipart/form-data` by Node's own FormData (as
// a script would), by curl, and by a plain HTML form in headless Chromium (as a page would),
// the bytes checked on download; each malformed form its own test, refused with nothing
// stored; and the Worker's memory shown not to grow with a form's file.
import { test, before, after } from 'node:test';
import assert from 'node:assert/strict';
import crypto from 'node:crypto';
import { execFile } from 'node:child_process';
import fs from 'node:fs';
import http from 'node:http';
import net from 'node:net';
import os from 'node:os';
import path from 'node:path';
import { chromium } from 'playwright-core';
import { startGateway, BACKEND } from './support/gateway.mjs';
import { call, tokenFor, assertProblem, sha256 } from './support/client.mjs';
import { rssMiB, newestWorkerd } from '../bench/lib/measure.mjs';

const URL_SIGNING_SECRET = 'url-signing-secret-for-form-tests-0123456789';
const CHROMIUM = process.env.CHROMIUM_BIN || '/usr/bin/chromium';
let gw;
before(async () => { gw = await startGateway({ URL_SIGNING_SECRET, MAX_UPLOAD_BYTES: String(600 * 1024 * 1024) }); });
after(() => gw?.close());

const alice = tokenFor('alice');

async function formFor(request) {
  const res = await call(gw, 'POST', '/presign', { token: alice, headers: { 'content-type': 'application/json' }, body: JSON.stringify({ mode: 'form', ...request }) });
  assert.equal(res.status, 200, res.text);
  return res.json;
}

function formData(fields, file, filename, type = 'application/octet-stream') {
  const data = new FormData();
  for (const [k, v] of Object.entries(fields)) data.append(k, v);
  data.append('file', new Blob([file], { type }), filename);
  return data;
}

async function download(key) {
  const res = await fetch(`${gw.url}/files/${key}`, { headers: { authorization: `Bearer ${alice}` } });
  return { status: res.status, bytes: Buffer.from(await res.arrayBuffer()), type: res.headers.get('content-type') };
}

test('a form posted with FormData stores its file under the file\'s name, byte for byte', async () => {
  const form = await formFor({});
  assert.equal(form.url, `${gw.url}/form`);
  const file = crypto.randomBytes(3 * 1024 * 1024 + 17);
  const res = await fetch(form.url, { method: 'POST', body: formData(form.fields, file, 'photo one.bin') });
  assert.equal(res.status, 204, await res.text());
  assert.match(res.headers.get('etag'), /^"/);
  const got = await download('alice/photo%20one.bin');
  assert.equal(got.status, 200);
  assert.ok(sha256(got.bytes).equals(sha256(file)), 'the stored bytes are the file\'s');
});

test('curl posts the same form, each field a -F, and the file is stored byte for byte', async () => {
  const form = await formFor({ success_action_status: 201 });
  const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'form-curl-'));
  const file = crypto.randomBytes(1024 * 1024 + 3);
  fs.writeFileSync(path.join(dir, 'from curl.bin'), file);
  // `-F name=<value` would read a file: `--form-string` sends each value as it is.
  const args = Object.entries(form.fields).flatMap(([k, v]) => ['--form-string', `${k}=${v}`]);
  const out = await new Promise((resolve, reject) => execFile('curl', ['-sS', '-w', '\n%{http_code}', ...args, '-F', `file=@${path.join(dir, 'from curl.bin')}`, form.url], (err, stdout) => (err ? reject(err) : resolve(stdout))));
  fs.rmSync(dir, { recursive: true, force: true });
  const status = out.slice(out.lastIndexOf('\n') + 1);
  assert.equal(status, '201', out);
  assert.match(out, /<Key>alice\/from curl\.bin<\/Key>/);
  const got = await download('alice/from%20curl.bin');
  assert.ok(sha256(got.bytes).equals(sha256(file)), 'the stored bytes are the file\'s');
});

test('a small form file and an empty one are stored too, with the type the file part declares', async () => {
  for (const [name, body] of [['note.txt', Buffer.from('hello form')], ['empty.txt', Buffer.alloc(0)]]) {
    const form = await formFor({});
    const res = await fetch(form.url, { method: 'POST', body: formData(form.fields, body, name, 'text/plain') });
    assert.equal(res.status, 204, `${name}: ${await res.text()}`);
    const got = await download(`alice/${name}`);
    assert.deepEqual([got.status, got.bytes.toString(), got.type], [200, body.toString(), 'text/plain'], name);
  }
});

test('a form asking for 201 gets S3\'s XML document, and a redirect form a 303 with the key', async () => {
  const xml = await formFor({ key: 'alice/doc.txt', success_action_status: 201 });
  const res = await fetch(xml.url, { method: 'POST', body: formData(xml.fields, Buffer.from('x'), 'ignored.txt') });
  assert.equal(res.status, 201);
  assert.match(await res.text(), /<PostResponse>.*<Key>alice\/doc\.txt<\/Key>.*<ETag>&quot;/s);
  const redirect = await formFor({ success_action_redirect: 'https://app.example/done' });
  const moved = await fetch(redirect.url, { method: 'POST', body: formData(redirect.fields, Buffer.from('y'), 'r.txt'), redirect: 'manual' });
  assert.equal(moved.status, 303);
  assert.match(moved.headers.get('location'), /^https:\/\/app\.example\/done\?bucket=[^&]*&key=alice%2Fr\.txt&etag=%22/);
});

test('a form is single-use, and a tampered one is refused with nothing stored', async () => {
  const form = await formFor({});
  assert.equal((await fetch(form.url, { method: 'POST', body: formData(form.fields, Buffer.from('1'), 'once.txt') })).status, 204);
  const again = await fetch(form.url, { method: 'POST', body: formData(form.fields, Buffer.from('2'), 'twice.txt') });
  assert.equal(again.status, 410);
  const other = await formFor({});
  const res = await fetch(other.url, { method: 'POST', body: formData({ ...other.fields, key: 'bob/${filename}' }, Buffer.from('3'), 'x.txt') });
  assert.equal(res.status, 403);
  assert.equal((await res.json()).code, 'policy_condition_failed');
  assert.equal((await download('alice/twice.txt')).status, 404);
});

/** Sends `body` as a form POST over a raw socket, so its framing is exactly as given. */
function rawPost(body, contentType) {
  return new Promise((resolve, reject) => {
    const req = http.request(`${gw.url}/form`, { method: 'POST', headers: { 'content-type': contentType, 'content-length': body.length } }, (res) => {
      let text = '';
      res.on('data', (c) => { text += c; });
      res.on('end', () => resolve({ status: res.statusCode, json: JSON.parse(text || '{}') }));
    });
    req.on('error', reject);
    req.end(body);
  });
}

const B = 'MalformedBoundary789';
const FORM_TYPE = `multipart/form-data; boundary=${B}`;

/** A raw form body with boundary `B`: each `[name, value]` of `fields`, the file, `tail`. */
function rawForm(fields, filename, file, tail = `\r\n--${B}--\r\n`) {
  const parts = fields.map(([k, v]) => `--${B}\r\nContent-Disposition: form-data; name="${k}"\r\n\r\n${v}\r\n`).join('');
  const head = Buffer.from(`${parts}--${B}\r\nContent-Disposition: form-data; name="file"; filename="${filename}"\r\n\r\n`);
  return Buffer.concat([head, file, Buffer.from(tail)]);
}

/** Sends a body that declares `declared` bytes, sends `body` and goes away. */
function cutOff(body, declared) {
  return new Promise((resolve) => {
    const socket = net.connect(new URL(gw.url).port, '127.0.0.1', () => {
      socket.write(`POST /form HTTP/1.1\r\nHost: 127.0.0.1\r\nContent-Type: ${FORM_TYPE}\r\nContent-Length: ${declared}\r\n\r\n`);
      socket.end(body);
    });
    socket.on('data', () => {});
    socket.on('close', resolve);
    socket.on('error', resolve);
  });
}

// Each malformed form: the form asked for, and how it is broken (`fields` and `tail` change
// what is sent, `type` the request's Content-Type); the answer expected. The file is 200 KiB
// of random bytes, so a form the gateway wrongly took would leave an object.
const MALFORMED = [
  { what: 'no boundary in its Content-Type', type: 'multipart/form-data', status: 400, code: 'bad_request' },
  { what: 'a field after the file', tail: `\r\n--${B}\r\nContent-Disposition: form-data; name="x-late"\r\n\r\n1\r\n--${B}--\r\n`, status: 400, code: 'bad_request' },
  { what: 'an ending other than its closing boundary', tail: '\r\n--nope--\r\n', status: 400, code: 'bad_request' },
  { what: 'a field sent twice', fields: (f) => [...f, ['key', f.find(([k]) => k === 'key')[1]]], status: 400, code: 'bad_request' },
  { what: 'a field that breaks its condition', fields: (f) => f.map(([k, v]) => [k, k === 'key' ? 'bob/${filename}' : v]), status: 403, code: 'policy_condition_failed' },
  { what: 'a field no condition names', fields: (f) => [...f, ['x-amz-meta-extra', '1']], status: 403, code: 'policy_condition_failed' },
  { what: 'a policy the gateway did not sign', fields: (f) => f.map(([k, v]) => [k, k === 'x-gateway-signature' ? '00'.repeat(32) : v]), status: 403, code: 'invalid_signature' },
  { what: 'an expired policy', form: { expires_in: 1 }, wait: 2100, status: 403, code: 'url_expired' },
  { what: 'a file larger than its policy allows', form: { size: 200 * 1024 - 1 }, status: 413, code: 'payload_too_large' },
  { what: 'a body cut off mid-file', cut: true },
];

for (const c of MALFORMED) {
  test(`a form with ${c.what} is refused${c.cut ? '' : ` with ${c.status} ${c.code}`} and nothing is stored`, async () => {
    const before = new Set(await gw.storedNames());
    const form = await formFor(c.form ?? {});
    const fields = (c.fields ?? ((f) => f))(Object.entries(form.fields));
    const name = `malformed-${MALFORMED.indexOf(c)}.bin`;
    const body = rawForm(fields, name, crypto.randomBytes(200 * 1024), c.tail);
    if (c.wait) await new Promise((r) => setTimeout(r, c.wait));
    if (c.cut) {
      await cutOff(body.subarray(0, body.length - 100 * 1024), body.length);
    } else {
      const res = await rawPost(body, c.type ?? FORM_TYPE);
      assert.equal(res.status, c.status, JSON.stringify(res.json));
      assert.equal(res.json.code, c.code);
    }
    assert.equal((await download(`alice/${name}`)).status, 404, 'no object served');
    assert.deepEqual((await gw.storedNames()).filter((n) => !before.has(n)), [], 'nothing left in the store');
  });
}

test('without a form, or with a broken one, POST /form answers a clear problem', async () => {
  assertProblem(assert, await call(gw, 'POST', '/form', { headers: { 'content-type': 'application/json' }, body: '{}' }), 415, 'unsupported_media_type');
  const noFile = new FormData();
  noFile.append('key', 'alice/x');
  assertProblem(assert, await call(gw, 'POST', '/form', { body: noFile }), 400, 'bad_request');
});

test('a plain HTML form submitted by Chromium uploads its file and follows the redirect', { timeout: 60_000 }, async () => {
  const landing = http.createServer((req, res) => { res.writeHead(200, { 'content-type': 'text/html' }); res.end(`<p id="done">${req.url}</p>`); });
  await new Promise((r) => landing.listen(0, '127.0.0.1', r));
  const done = `http://127.0.0.1:${landing.address().port}/done`;
  const browser = await chromium.launch({ executablePath: CHROMIUM, args: ['--no-sandbox', '--disable-gpu'] });
  try {
    const form = await formFor({ success_action_redirect: done });
    const inputs = Object.entries(form.fields).map(([k, v]) => `<input type="hidden" name="${k}" value="${v.replace(/"/g, '&quot;')}">`).join('');
    const page = await browser.newPage();
    await page.setContent(`<form method="post" enctype="multipart/form-data" action="${form.url}">${inputs}<input type="file" name="file" id="file"><button id="go">Upload</button></form>`);
    const file = crypto.randomBytes(256 * 1024);
    await page.setInputFiles('#file', { name: 'from-browser.bin', mimeType: 'application/octet-stream', buffer: file });
    await Promise.all([page.waitForURL(/\/done\?/), page.click('#go')]);
    assert.match(await page.textContent('#done'), /key=alice%2Ffrom-browser\.bin/);
    const got = await download('alice/from-browser.bin');
    assert.ok(sha256(got.bytes).equals(sha256(file)), 'the stored bytes are the file\'s');
  } finally {
    await browser.close();
    landing.close();
  }
});

/** POSTs a form of `fields` and a generated file of `size` bytes, streamed; resolves to the
 * status and the file's SHA-256. */
function postGenerated(url, fields, size, filename) {
  const B = 'GeneratedBoundary0123';
  const head = Buffer.from(Object.entries(fields).map(([k, v]) => `--${B}\r\nContent-Disposition: form-data; name="${k}"\r\n\r\n${v}\r\n`).join('')
    + `--${B}\r\nContent-Disposition: form-data; name="file"; filename="${filename}"\r\nContent-Type: application/octet-stream\r\n\r\n`);
  const tail = Buffer.from(`\r\n--${B}--\r\n`);
  const block = crypto.randomBytes(1 << 20);
  const hash = crypto.createHash('sha256');
  return new Promise((resolve, reject) => {
    const req = http.request(url, { method: 'POST', headers: { 'content-type': `multipart/form-data; boundary=${B}`, 'content-length': head.length + size + tail.length } }, (res) => {
      res.resume();
      res.on('end', () => resolve({ status: res.statusCode, sha256: hash.digest() }));
    });
    req.on('error', reject);
    req.write(head);
    let sent = 0;
    const pump = () => {
      while (sent < size) {
        const chunk = block.subarray(0, Math.min(block.length, size - sent));
        sent += chunk.length;
        hash.update(chunk);
        if (!req.write(chunk)) return req.once('drain', pump);
      }
      req.end(tail);
    };
    pump();
  });
}

/** The largest resident set of `pid` while `work` runs, in MiB. */
async function peak(pid, work) {
  let top = rssMiB(pid);
  const timer = setInterval(() => { try { top = Math.max(top, rssMiB(pid)); } catch {} }, 20);
  try { await work(); } finally { clearInterval(timer); }
  return top;
}

test('the Worker\'s memory does not grow with a form\'s file: a 512 MiB file peaks within 96 MiB of a 32 MiB one', { skip: BACKEND !== 's3' && 'measured on S3, where the store runs outside the Worker\'s process (the R2 simulator holds objects in it)', timeout: 180_000 }, async (t) => {
  const pid = newestWorkerd();
  const upload = async (size, name) => {
    const form = await formFor({});
    let sent;
    const top = await peak(pid, async () => { sent = await postGenerated(form.url, form.fields, size, name); });
    assert.equal(sent.status, 204);
    const got = await download(`alice/${name}`);
    assert.ok(sha256(got.bytes).equals(sent.sha256), `${name}: the stored bytes are the file's`);
    return top;
  };
  const small = await upload(32 * 1024 * 1024, 'form-small.bin');
  const large = await upload(512 * 1024 * 1024, 'form-large.bin');
  t.diagnostic(`peak resident set of the Worker's process: ${small.toFixed(0)} MiB for 32 MiB, ${large.toFixed(0)} MiB for 512 MiB`);
  // Buffering the file would add its 480 MiB; what is allowed is the garbage collector's lag.
  assert.ok(large <= small + 96, `the peak grew from ${small.toFixed(0)} to ${large.toFixed(0)} MiB with the file`);
  assert.equal((await gw.row('alice/form-large.bin')).size, 512 * 1024 * 1024);
});
