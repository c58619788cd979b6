// A test page served from its own origin: `entry` bundled by esbuild for the browser and
// loaded by an index.html, as a site embedding a client library would serve it; and the whole
// setup of a browser test: that page, `wrangler dev` allowing its origin, headless Chromium.
import fs from 'node:fs';
import http from 'node:http';
import os from 'node:os';
import path from 'node:path';
import * as esbuild from 'esbuild';
import { chromium } from 'playwright-core';
import { startDev } from './devserver.mjs';
import { BACKEND } from './gateway.mjs';
import { startCorsProxy } from './corsproxy.mjs';
import { freePort, startS3 } from './s3server.mjs';

/** Serves `entry` (a script path) on a fresh port: { url, close }. */
export async function servePage(entry, title) {
  const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'test-page-'));
  await esbuild.build({ entryPoints: [entry], bundle: true, format: 'esm', platform: 'browser', outfile: path.join(dir, 'page.js'), logLevel: 'error' });
  fs.writeFileSync(path.join(dir, 'index.html'), `<!doctype html><meta charset="utf-8"><title>${title}</title><script type="module" src="/page.js"></script>`);
  const port = await freePort();
  const site = http.createServer((req, res) => {
    const file = path.join(dir, req.url === '/' ? 'index.html' : path.basename(req.url));
    if (!fs.existsSync(file)) return res.writeHead(404).end();
    res.writeHead(200, { 'content-type': file.endsWith('.js') ? 'text/javascript' : 'text/html' });
    fs.createReadStream(file).pipe(res);
  });
  await new Promise((r) => site.listen(port, '127.0.0.1', r));
  return { url: `http://127.0.0.1:${port}`, close: () => site.close() };
}

/** The bytes the test pages generate for a file of `size` bytes and `seed`. */
export function patterned(size, seed) {
  const b = Buffer.alloc(size);
  for (let i = 0; i < size; i++) b[i] = (i * 7 + seed) & 255;
  return b;
}

const CHROMIUM = process.env.CHROMIUM_BIN || '/usr/bin/chromium';

/**
 * Serves `entry` as a page, starts `wrangler dev` with `vars` and CORS for the page's origin
 * on the backend under test, and launches Chromium: { siteUrl, dev, browser, storeUrl, close }.
 * With `GATEWAY_BACKEND=s3` the gateway has an s3s-fs store of its own, reached (by the
 * gateway and by the page alike) through a proxy that gives it bucket CORS for the page's
 * origin: `storeUrl`.
 */
export async function browserAgainstDev(entry, title, vars) {
  const site = await servePage(entry, title);
  const store = BACKEND === 's3' ? await startS3() : null;
  const proxy = store ? await startCorsProxy(store.endpoint, site.url) : null;
  const storeVars = store ? { ...store.vars, S3_ENDPOINT: proxy.url } : {};
  const dev = await startDev({ ...storeVars, ...vars, CORS_ORIGINS: site.url }).catch((e) => {
    site.close();
    proxy?.close();
    store?.close();
    throw e;
  });
  const browser = await chromium.launch({ executablePath: CHROMIUM, args: ['--no-sandbox', '--disable-gpu', '--disable-background-networking'] });
  return {
    siteUrl: site.url,
    dev,
    browser,
    storeUrl: proxy?.url,
    close: async () => {
      await browser.close();
      await dev.stop();
      proxy?.close();
      store?.close();
      site.close();
    },
  };
}

/** The dev server's error lines (the Worker's `"level":"error"` logs), for a failed test's message. */
export function devErrors(dev) {
  const lines = dev.logs.join('').split('\n').filter((l) => l.includes('"level":"error"'));
  return lines.length ? `the Worker logged:\n${lines.slice(-10).join('\n')}` : 'the Worker logged no error';
}
