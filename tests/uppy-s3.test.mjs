// Uppy's S3 plugin of the 4.x and 5.x majors (@uppy/core + @uppy/aws-s3 from npm: 4.x at the
// root, 5.x in tests/uppy5; each bundled with esbuild into a test page served from another
// origin) in real headless Chromium against `wrangler dev` on the backend under test, with
// the gateway standing in for Companion: small files as forms from `GET /s3/params`, larger
// ones through Companion's multipart endpoints, one with a part cut off and sent again by the
// client, one paused and resumed. The stored bytes, the rows and the events are checked. The
// pages are test fixtures.
import { describe, test, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { tokenFor } from './support/client.mjs';
import { devErrors } from './support/page.mjs';
import { assertStoredOnce, browserWithEvents } from './support/stored.mjs';

const MIB = 1024 * 1024;

for (const major of ['4', '5']) {
  describe(`@uppy/aws-s3 ${major}.x`, () => {
    let env;
    let dev;
    let browser;
    let siteUrl;
    let hook;

    before(async () => {
      env = await browserWithEvents(`tests/uppy${major === '4' ? '' : major}/s3-page.js`, `Uppy S3 ${major}.x`);
      ({ dev, browser, siteUrl, hook } = env);
    });
    after(() => env?.close());

    test(`@uppy/aws-s3 ${major}.x uploads through the gateway as its Companion, each file as a form from s3/params`, { timeout: 180_000 }, async () => {
      const page = await browser.newPage();
      await page.goto(siteUrl);
      await page.waitForFunction(() => typeof window.uploadWithUppyS3 === 'function');
      const files = [
        { name: 'photo.png', type: 'image/png', size: 300 * 1024 + 1, seed: 3 },
        { name: 'data.bin', type: 'application/octet-stream', size: 6 * MIB + 7, seed: 4 },
      ];
      const result = await page.evaluate((args) => window.uploadWithUppyS3(args), { endpoint: dev.url, token: tokenFor('alice'), files });
      assert.deepEqual(result.failed, [], devErrors(dev));
      assert.equal(result.successful.length, 2);
      for (const f of files) {
        const done = result.successful.find((s) => s.name === f.name);
        assert.match(done.key, new RegExp(`^alice/[^/]+\\.${f.name.split('.').pop()}$`), `${f.name}: a new key under the token's prefix`);
        await assertStoredOnce({ dev, hook }, done, f);
      }
    });

    test(`@uppy/aws-s3 ${major}.x sends a file in parts through Companion's multipart endpoints, resending a part cut off`, { timeout: 180_000 }, async () => {
      const page = await browser.newPage();
      await page.goto(siteUrl);
      await page.waitForFunction(() => typeof window.uploadWithUppyS3 === 'function');
      let cut = 0;
      await page.route(/partNumber=2/, (route) => (cut++ === 0 ? route.abort('connectionreset') : route.continue()));
      const file = { name: 'movie.mp4', type: 'video/mp4', size: 12 * MIB + 9, seed: 5 };
      const result = await page.evaluate((args) => window.uploadWithUppyS3(args), { endpoint: dev.url, token: tokenFor('alice'), files: [file], multipart: true });
      assert.deepEqual(result.failed, [], devErrors(dev));
      assert.equal(cut, 2, 'part 2 was cut off once and sent again');
      const done = result.successful[0];
      assert.match(done.key, /^alice\/[^/]+\.mp4$/);
      await assertStoredOnce({ dev, hook }, done, file);
    });

    test(`@uppy/aws-s3 ${major}.x pauses a file sent in parts and resumes it from the parts received`, { timeout: 180_000 }, async () => {
      const page = await browser.newPage();
      await page.goto(siteUrl);
      await page.waitForFunction(() => typeof window.uploadWithUppyS3 === 'function');
      const listed = [];
      page.on('request', (r) => { if (r.method() === 'GET' && /\/s3\/multipart\/[^/?]+\?key=/.test(r.url())) listed.push(r.url()); });
      const file = { name: 'paused.bin', type: 'application/octet-stream', size: 16 * MIB + 3, seed: 6 };
      const result = await page.evaluate((args) => window.uploadWithUppyS3(args), { endpoint: dev.url, token: tokenFor('alice'), files: [file], multipart: true, pauseAfter: 6 * MIB });
      assert.deepEqual(result.failed, [], devErrors(dev));
      assert.equal(result.paused, 1, 'paused once');
      assert.ok(listed.length >= 1, 'on resuming, the client asked for the parts received');
      await assertStoredOnce({ dev, hook }, result.successful[0], file);
    });
  });
}
