// The page at / in real headless Chromium (Debian's chromium, driven by playwright-core),
// loaded from `wrangler dev`: a small file and a multipart file uploaded through the UI until
// their progress bars finish, a presigned-URL upload, an error shown with its code, the
// uploads list, uploader.js resuming a multipart upload after a dropped network and a reload,
// and the stored bytes checked. Screenshots go to tests/artifacts/.
import { test, before, after } from 'node:test';
import assert from 'node:assert/strict';
import crypto from 'node:crypto';
import fs from 'node:fs';
import path from 'node:path';
import { chromium } from 'playwright-core';
import { BACKEND, JWT_SECRET } from './support/gateway.mjs';
import { startDev } from './support/devserver.mjs';
import { fetchFresh, tokenFor } from './support/client.mjs';

const MIB = 1024 * 1024;
const ARTIFACTS = path.resolve('tests/artifacts');
const CHROMIUM = process.env.CHROMIUM_BIN || '/usr/bin/chromium';
const skip = BACKEND !== 'r2' && 'the page is tested once, against wrangler dev on the R2 binding';

let dev;
let browser;

before(async () => {
  if (skip) return;
  dev = await startDev({ JWT_SECRET, URL_SIGNING_SECRET: 'url-signing-secret-for-tests-0123456789' });
  browser = await chromium.launch({
    executablePath: CHROMIUM,
    args: ['--no-sandbox', '--disable-gpu', '--disable-background-networking', '--disable-component-update'],
  });
  fs.mkdirSync(ARTIFACTS, { recursive: true });
});
after(async () => {
  await browser?.close();
  await dev?.stop();
});

const sha = (buf) => crypto.createHash('sha256').update(buf).digest('hex');

async function stored(key) {
  const res = await fetchFresh(`${dev.url}/files/${key}`, { headers: { authorization: `Bearer ${tokenFor('alice')}` } });
  assert.equal(res.status, 200, `download of ${key}`);
  return Buffer.from(await res.arrayBuffer());
}

async function openPage(viewport) {
  const page = await browser.newPage({ viewport });
  const parts = [];
  page.on('request', (r) => { if (r.url().includes('partNumber=')) parts.push(r.url()); });
  await page.goto(dev.url);
  await page.fill('#token', tokenFor('alice'));
  await page.waitForSelector('#who:has-text("Signed in as alice")');
  return { page, parts };
}

test('a small file and a multipart file upload through the page with progress bars', { skip, timeout: 120_000 }, async () => {
  const { page, parts } = await openPage({ width: 1280, height: 900 });
  await page.click('summary');
  await page.fill('#threshold', '5');
  await page.fill('#part-size', '5');
  const small = Buffer.from('hello from the browser\n');
  const big = crypto.randomBytes(12 * MIB + 321);
  await page.setInputFiles('#files', [
    { name: 'note.txt', mimeType: 'text/plain', buffer: small },
    { name: 'big.bin', mimeType: 'application/octet-stream', buffer: big },
  ]);
  await page.waitForFunction(() => document.querySelectorAll('#queue .item.done').length === 2, null, { timeout: 90_000 });
  const bars = await page.$$eval('#queue progress', (els) => els.map((e) => e.value));
  assert.deepEqual(bars, [1, 1]);
  assert.equal(parts.length, 3, 'the big file went up as three parts');
  assert.equal(sha(await stored('alice/note.txt')), sha(small));
  assert.equal(sha(await stored('alice/big.bin')), sha(big));
  await page.waitForSelector('#uploads a:has-text("alice/big.bin")');
  await page.screenshot({ path: path.join(ARTIFACTS, 'page-desktop.png'), fullPage: true });
  await page.close();
});

test('a presigned-URL upload through the page, and an error shown with its code', { skip, timeout: 60_000 }, async () => {
  const { page } = await openPage({ width: 390, height: 844 });
  await page.click('summary');
  await page.selectOption('#mode', 'presign-gateway');
  const photo = crypto.randomBytes(40_000);
  await page.setInputFiles('#files', [{ name: 'photo.png', mimeType: 'image/png', buffer: photo }]);
  await page.waitForSelector('#queue .item.done');
  const status = await page.textContent('#queue .item.done .status');
  const key = status.replace('Stored as ', '').trim();
  assert.match(key, /^alice\/[0-9a-f-]{36}\.png$/);
  assert.equal(sha(await stored(key)), sha(photo));

  await page.fill('#token', tokenFor('alice', { scope: 'read list' }));
  await page.setInputFiles('#files', [{ name: 'denied.txt', mimeType: 'text/plain', buffer: Buffer.from('x') }]);
  await page.waitForSelector('#queue .item.failed');
  assert.match(await page.textContent('#queue .item.failed .status'), /\(forbidden\)/);
  await page.screenshot({ path: path.join(ARTIFACTS, 'page-phone.png'), fullPage: true });
  await page.close();
});

test('uploader.js resumes a multipart upload after the network drops and the page reloads', { skip, timeout: 90_000 }, async () => {
  const { page, parts } = await openPage({ width: 1280, height: 900 });
  const size = 12 * MIB + 5;
  // The same bytes, name and modification time on both sides of the reload, so the client
  // recognises the file.
  const run = () => page.evaluate(async ({ size, token }) => {
    const { upload } = await import('/uploader.js');
    const bytes = new Uint8Array(size);
    for (let i = 0; i < size; i++) bytes[i] = (i * 31 + (i >> 20)) & 255;
    const file = new File([bytes], 'resumable.bin', { lastModified: 1_700_000_000_000 });
    const MiB = 1024 * 1024;
    const options = { token, key: 'alice/resumable.bin', multipartThreshold: 5 * MiB, partSize: 5 * MiB, concurrency: 1 };
    return upload(file, options).then((r) => ({ ok: r }), (e) => ({ code: e.code }));
  }, { size, token: tokenFor('alice') }).catch((e) => ({ code: e.message }));
  // The network drops whenever part 2 is sent: the upload fails after its retries.
  await page.route(/partNumber=2/, (route) => route.abort('connectionreset'));
  const failed = await run();
  assert.equal(failed.code, 'network_error');
  await page.unroute(/partNumber=2/);
  await page.reload();
  const before = parts.length;
  const resumed = await run();
  assert.equal(resumed.ok?.size, size, JSON.stringify(resumed));
  const sent = parts.slice(before).map((u) => Number(new URL(u).searchParams.get('partNumber')));
  assert.deepEqual(sent, [2, 3], 'only the parts the gateway did not have were sent');
  const expected = Buffer.alloc(size);
  for (let i = 0; i < size; i++) expected[i] = (i * 31 + (i >> 20)) & 255;
  assert.equal(sha(await stored('alice/resumable.bin')), sha(expected));
  await page.close();
});
