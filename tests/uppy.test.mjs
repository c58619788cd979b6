// Uppy (@uppy/core + @uppy/tus from npm, bundled with esbuild into a test page served from
// another origin) in real headless Chromium against `wrangler dev`: two files uploaded over
// tus with CORS, one of them resumed after the network drops mid-upload; the stored bytes are
// checked. The page is a test fixture, not part of the gateway.
import { test, before, after } from 'node:test';
import assert from 'node:assert/strict';
import crypto from 'node:crypto';
import { BACKEND, JWT_SECRET } from './support/gateway.mjs';
import { fetchFresh, tokenFor } from './support/client.mjs';
import { browserAgainstDev, patterned as expected } from './support/page.mjs';

const MIB = 1024 * 1024;
const skip = BACKEND !== 'r2' && 'Uppy in the browser is tested once, against wrangler dev on the R2 binding';

let env;
let dev;
let browser;
let siteUrl;

before(async () => {
  if (skip) return;
  env = await browserAgainstDev('tests/uppy/page.js', 'Uppy', { JWT_SECRET });
  ({ dev, browser, siteUrl } = env);
});
after(() => env?.close());

const sha = (buf) => crypto.createHash('sha256').update(buf).digest('hex');

test('Uppy uploads two files over tus from another origin, one resumed after the network drops', { skip, timeout: 180_000 }, async () => {
  const page = await browser.newPage();
  await page.goto(siteUrl);
  await page.waitForFunction(() => typeof window.uploadWithUppy === 'function');
  // The network drops once, in the middle of the big file's second chunk.
  let dropped = 0;
  await page.route(`${dev.url}/tus/**`, (route) => {
    const req = route.request();
    if (req.method() === 'PATCH' && req.headers()['upload-offset'] === String(5 * MIB) && dropped === 0) {
      dropped++;
      return route.abort('connectionreset');
    }
    return route.continue();
  });
  const files = [
    { name: 'small.bin', key: 'alice/uppy/small.bin', size: MIB + 3, seed: 1 },
    { name: 'big.bin', key: 'alice/uppy/big.bin', size: 12 * MIB + 5, seed: 2 },
  ];
  const result = await page.evaluate((args) => window.uploadWithUppy(args), {
    endpoint: `${dev.url}/tus/`,
    token: tokenFor('alice'),
    files,
    chunkSize: 5 * MIB,
  });
  assert.deepEqual(result.failed, []);
  assert.deepEqual(result.successful.sort(), ['alice/uppy/big.bin', 'alice/uppy/small.bin']);
  assert.equal(dropped, 1, 'the network was cut mid-upload');
  for (const f of files) {
    const res = await fetchFresh(`${dev.url}/files/${f.key}`, { headers: { authorization: `Bearer ${tokenFor('alice')}` } });
    assert.equal(res.status, 200, f.key);
    assert.equal(sha(Buffer.from(await res.arrayBuffer())), sha(expected(f.size, f.seed)), `${f.key}: bytes differ`);
  }
  await page.close();
});
