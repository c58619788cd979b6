// A test page served from its own origin: `entry` bundled by esbuild for the browser and
// loaded by an index.html, as a site embedding a client library would serve it.
import fs from 'node:fs';
import http from 'node:http';
import os from 'node:os';
import path from 'node:path';
import * as esbuild from 'esbuild';
import { freePort } from './s3server.mjs';

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
