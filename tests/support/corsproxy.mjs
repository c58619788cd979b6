// An S3 store with bucket CORS, as a browser needs one for URLs straight to the store: a proxy
// in front of s3s-fs (which answers preflights with 501) that answers preflights from `origin`
// as a bucket's CORS rules would, and passes every other request through verbatim (method,
// path, headers and body, so SigV4 signatures still verify), adding the CORS headers to its
// answer, `ETag` exposed.
import http from 'node:http';
import { freePort } from './s3server.mjs';

export async function startCorsProxy(target, origin) {
  const upstream = new URL(target);
  const cors = {
    'access-control-allow-origin': origin,
    'access-control-expose-headers': 'ETag',
    vary: 'Origin',
  };
  const server = http.createServer((req, res) => {
    if (req.method === 'OPTIONS') {
      res.writeHead(200, {
        ...cors,
        'access-control-allow-methods': 'GET, HEAD, PUT, POST, DELETE',
        'access-control-allow-headers': req.headers['access-control-request-headers'] ?? '',
        'access-control-max-age': '600',
      });
      return res.end();
    }
    // A connection per request: a kept-alive one the store closed meanwhile would fail a
    // request that never reached it.
    const forward = http.request({ host: upstream.hostname, port: upstream.port, method: req.method, path: req.url, headers: req.headers, agent: false }, (answer) => {
      res.writeHead(answer.statusCode, { ...answer.headers, ...cors });
      answer.pipe(res);
    });
    forward.on('error', () => res.destroy());
    req.pipe(forward);
  });
  const port = await freePort();
  await new Promise((r) => server.listen(port, '127.0.0.1', r));
  return { url: `http://127.0.0.1:${port}`, close: () => { server.closeAllConnections(); server.close(); } };
}
