// A fault-injecting HTTP proxy between the Worker and the S3 server. It forwards requests
// verbatim (method, path, headers, body as it arrives, so SigV4 signatures still verify) and,
// by chance, delays them, answers 500/503 without forwarding, drops the connection mid-body,
// or forwards the whole request and then loses the answer (a 500, or a dropped connection,
// after the store applied the write) — the faults that leave real leftovers to reconcile.
import http from 'node:http';
import { freePort } from './s3server.mjs';

/** A small seeded PRNG, so a run can be repeated. */
export function random(seed) {
  let s = seed >>> 0 || 1;
  return () => {
    s ^= s << 13; s >>>= 0;
    s ^= s >>> 17;
    s ^= s << 5; s >>>= 0;
    return s / 2 ** 32;
  };
}

/**
 * XML text as Go's encoding/xml writes it (MinIO, SeaweedFS): `"` and `'` in text as the
 * numeric character references `&#34;` and `&#39;`, whichever way the store wrote them.
 */
export function goXml(xml) {
  return xml.replace(/>([^<]*)</g, (_, text) => `>${text.replace(/&quot;|"/g, '&#34;').replace(/&apos;|'/g, '&#39;')}<`);
}

export const FAULTS = ['delay', 'refuse', 'cut_body', 'lose_answer', 'drop_answer'];

/**
 * Starts the proxy in front of `target` (`http://host:port`). `rate` is the chance that a
 * request gets a fault; `enabled()` can switch faults off (for the final checks). `latencyMs`
 * delays every request by that much (bench/latency.mjs).
 */
export async function startFaultProxy(target, { rate = 0.15, seed = 1, ignoreRange = false, rewriteXml = null, latencyMs = 0 } = {}) {
  const rand = random(seed);
  const counts = Object.fromEntries(FAULTS.map((f) => [f, 0]));
  /** Bytes of each answer body passed on to the Worker, per request (method and path). */
  const delivered = [];
  let on = true;
  const upstream = new URL(target);
  const pick = () => (on && rand() < rate ? FAULTS[Math.floor(rand() * FAULTS.length)] : null);
  const server = http.createServer((req, res) => {
    const fault = pick();
    if (fault) counts[fault] += 1;
    const forward = () => {
      // `ignoreRange`: behave like a store that ignores Range (signatures are not checked by
      // the stores this is used with).
      const headers = { ...req.headers };
      if (ignoreRange) delete headers.range;
      const out = http.request({ host: upstream.hostname, port: upstream.port, method: req.method, path: req.url, headers }, (answer) => {
        // The store died mid-answer (killed by the restart): the Worker sees the connection drop.
        answer.on('close', () => { if (!answer.complete) res.socket?.destroy(); });
        if (fault === 'lose_answer') {
          answer.resume();
          answer.on('end', () => { res.writeHead(500, { 'content-type': 'text/plain' }); res.end('lost'); });
          return;
        }
        if (fault === 'drop_answer') {
          answer.resume();
          answer.on('end', () => res.socket?.destroy());
          return;
        }
        if (rewriteXml && /xml/.test(answer.headers['content-type'] || '')) {
          // `rewriteXml`: answer XML as another store writes it (see goXml).
          const chunks = [];
          answer.on('data', (c) => chunks.push(c));
          answer.on('end', () => {
            const xml = Buffer.from(rewriteXml(Buffer.concat(chunks).toString('utf8')));
            res.writeHead(answer.statusCode, { ...answer.headers, 'content-length': String(xml.length) });
            res.end(xml);
          });
          return;
        }
        res.writeHead(answer.statusCode, answer.headers);
        const record = { method: req.method, path: req.url, bytes: 0, at: Date.now() };
        delivered.push(record);
        answer.on('data', (chunk) => { record.bytes += chunk.length; });
        res.on('close', () => answer.destroy());
        answer.pipe(res);
      });
      out.on('error', () => res.socket?.destroy());
      if (fault === 'cut_body') {
        let seen = 0;
        req.on('data', (chunk) => {
          seen += chunk.length;
          if (seen > 0) { out.destroy(); req.socket.destroy(); }
        });
        req.on('end', () => { out.destroy(); req.socket.destroy(); });
        return;
      }
      req.pipe(out);
    };
    if (fault === 'refuse') {
      req.resume();
      res.writeHead(rand() < 0.5 ? 500 : 503, { 'content-type': 'application/xml' });
      res.end('<Error><Code>InternalError</Code><Message>injected</Message></Error>');
      return;
    }
    const go = () => (fault === 'delay' ? setTimeout(forward, 50 + Math.floor(rand() * 400)) : forward());
    // `latencyMs`: every request waits this long first, as a store that far away would.
    if (latencyMs > 0) setTimeout(go, latencyMs);
    else go();
  });
  const port = await freePort();
  await new Promise((r) => server.listen(port, '127.0.0.1', r));
  return {
    endpoint: `http://127.0.0.1:${port}`,
    counts,
    delivered,
    setFaults: (value) => { on = value; },
    close: () => new Promise((r) => { server.closeAllConnections?.(); server.close(r); }),
  };
}
