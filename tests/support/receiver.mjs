// A local webhook receiver: records every request (headers and body) and answers with the
// status `answer(request)` chooses. It can stop listening (clients then get "connection
// refused") and listen again on the same port.
import http from 'node:http';
import crypto from 'node:crypto';

export async function startReceiver(answer = () => 204) {
  const requests = [];
  const server = http.createServer((req, res) => {
    let body = '';
    req.on('data', (c) => { body += c; });
    req.on('end', () => {
      const got = { path: req.url, headers: req.headers, body, json: body ? JSON.parse(body) : null, at: Date.now() };
      requests.push(got);
      res.writeHead(receiver.answer(got)).end();
    });
  });
  await new Promise((r) => server.listen(0, '127.0.0.1', r));
  const port = server.address().port;
  const receiver = {
    answer,
    requests,
    url: `http://127.0.0.1:${port}`,
    /** Requests about event `id` (its X-Upload-Event-Id). */
    about: (id) => requests.filter((r) => r.headers['x-upload-event-id'] === id),
    /** Requests whose event is about `key`. */
    forKey: (key) => requests.filter((r) => r.json?.key === key),
    /** Stops listening: connections are refused until `listen()`. */
    refuse: () => new Promise((r) => { server.closeAllConnections(); server.close(r); }),
    listen: () => new Promise((r) => server.listen(port, '127.0.0.1', r)),
    close: () => { server.closeAllConnections(); server.close(); },
  };
  return receiver;
}

/** Whether a request's X-Upload-Signature is the HMAC of `<timestamp>.<body>` under `secret`. */
export function verifies(request, secret) {
  const timestamp = request.headers['x-upload-timestamp'];
  const expected = 'sha256=' + crypto.createHmac('sha256', secret).update(`${timestamp}.${request.body}`).digest('hex');
  const got = request.headers['x-upload-signature'] ?? '';
  return got.length === expected.length && crypto.timingSafeEqual(Buffer.from(got), Buffer.from(expected));
}
