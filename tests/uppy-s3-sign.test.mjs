// The current @uppy/aws-s3 (6.x, installed in tests/uppy6 beside @uppy/core 6 and bundled
// with esbuild into a test page served from another origin) in real headless Chromium against
// `wrangler dev` on the backend under test, its `signRequest` asking the gateway's
// `POST /s3/sign`: a small file as one PUT, larger ones in parts, one with a part cut off and
// sent again, one paused and resumed, and on S3 one whose parts go straight to the store
// (behind a proxy that gives s3s-fs bucket CORS). The stored bytes, the rows and the events are
// checked. The page is a test fixture.
import { test, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { BACKEND } from './support/gateway.mjs';
import { tokenFor } from './support/client.mjs';
import { devErrors } from './support/page.mjs';
import { assertStoredOnce as storedOnce, browserWithEvents } from './support/stored.mjs';

const MIB = 1024 * 1024;

let env;
let dev;
let browser;
let siteUrl;
let storeUrl;
let hook;

before(async () => {
  env = await browserWithEvents('tests/uppy6/s3-page.js', 'Uppy 6 S3');
  ({ dev, browser, siteUrl, storeUrl, hook } = env);
});
after(() => env?.close());

async function upload(args, prepare = async () => {}) {
  const page = await browser.newPage();
  await page.goto(siteUrl);
  await page.waitForFunction(() => typeof window.uploadWithSignRequest === 'function');
  await prepare(page);
  return page.evaluate((a) => window.uploadWithSignRequest(a), { endpoint: dev.url, token: tokenFor('alice'), ...args });
}

/** The key Uppy asked for, under the token's prefix, and the file stored once there. */
async function assertStoredOnce(done, f) {
  assert.match(done.key, new RegExp(`^alice/[0-9a-f-]{36}-${f.name.replace('.', '\\.')}$`), `${f.name}: Uppy's key under the token's prefix`);
  await storedOnce({ dev, hook }, done, f);
}

test('@uppy/aws-s3 6.x signs each request with the gateway and uploads a small file as one PUT and a larger one in parts', { timeout: 180_000 }, async () => {
  const small = { name: 'photo.png', type: 'image/png', size: 300 * 1024 + 1, seed: 3 };
  const large = { name: 'data.bin', type: 'application/octet-stream', size: 12 * MIB + 7, seed: 4 };
  const one = await upload({ files: [small] });
  assert.deepEqual(one.failed, [], devErrors(dev));
  assert.deepEqual(one.signed, ['PUT']);
  await assertStoredOnce(one.successful[0], small);
  const parts = await upload({ files: [large], multipart: true });
  assert.deepEqual(parts.failed, [], devErrors(dev));
  assert.deepEqual(parts.signed, ['POST', 'PUT part', 'PUT part', 'PUT part', 'POST upload'], 'start, three parts, completion');
  await assertStoredOnce(parts.successful[0], large);
});

test('@uppy/aws-s3 6.x sends a part cut off again to the same signed URL', { timeout: 180_000 }, async () => {
  let cut = 0;
  const file = { name: 'movie.mp4', type: 'video/mp4', size: 12 * MIB + 9, seed: 5 };
  const result = await upload({ files: [file], multipart: true }, (page) =>
    page.route(/partNumber=2/, (route) => (cut++ === 0 ? route.abort('connectionreset') : route.continue())));
  assert.deepEqual(result.failed, [], devErrors(dev));
  assert.equal(cut, 2, 'part 2 was cut off once and sent again');
  await assertStoredOnce(result.successful[0], file);
});

test('@uppy/aws-s3 6.x pauses a file sent in parts and resumes it from the parts the gateway lists', { timeout: 180_000 }, async () => {
  const file = { name: 'paused.bin', type: 'application/octet-stream', size: 16 * MIB + 3, seed: 6 };
  const result = await upload({ files: [file], multipart: true, pauseAfter: 6 * MIB });
  assert.deepEqual(result.failed, [], devErrors(dev));
  assert.equal(result.paused, 1, 'paused once');
  assert.ok(result.signed.includes('GET upload'), 'on resuming, the client listed the parts received');
  await assertStoredOnce(result.successful[0], file);
});

test('@uppy/aws-s3 6.x in direct mode sends each part straight to the S3 store, and the gateway completes the upload once', { skip: BACKEND !== 's3' && 'direct URLs need the S3 backend', timeout: 180_000 }, async () => {
  const file = { name: 'direct.bin', type: 'application/octet-stream', size: 12 * MIB + 11, seed: 7 };
  const sent = [];
  const result = await upload({ files: [file], multipart: true, mode: 'direct' }, async (page) => {
    page.on('request', (r) => { if (r.method() === 'PUT') sent.push(new URL(r.url()).origin); });
  });
  assert.deepEqual(result.failed, [], devErrors(dev));
  assert.deepEqual(sent, [storeUrl, storeUrl, storeUrl], 'every part went to the store, none through the gateway');
  await assertStoredOnce(result.successful[0], file);
});
