// A concurrent mixed load against the gateway, recording what was acknowledged per key for
// the invariant checks: PUTs of random sizes with right and wrong digests, If-None-Match
// races, overwrites and deletes of a few hot keys, client aborts mid-body and bodies shorter
// than their Content-Length, small multipart uploads whose failed parts are retried and whose
// acknowledged last part is sometimes re-sent and cut off before the completion, and tus
// uploads in unaligned chunks that resume from the server's offset after a failure, as tus
// clients do.
import crypto from 'node:crypto';
import net from 'node:net';
import { call, md5, sha256 } from './client.mjs';
import { hash, servedHash } from './invariants.mjs';
import { random } from './faultproxy.mjs';

const MIB = 1024 * 1024;

function keyHistory(history, key) {
  if (!history.keys.has(key)) history.keys.set(key, { acked: new Set(), maybe: new Set(), seen: new Set(), refused: 0 });
  return history.keys.get(key);
}

const path = (key) => `/files/${key.split('/').map(encodeURIComponent).join('/')}`;

/** PUTs to `target` (a path) `declared` bytes of Content-Length but only `sent`, then closes
 * or half-closes. */
function brokenPut(gw, target, token, { declared, sent, half }) {
  const { hostname, port } = new URL(gw.url);
  return new Promise((resolve) => {
    const sock = net.connect(Number(port), hostname, () => {
      sock.write(`PUT ${target} HTTP/1.1\r\nHost: ${hostname}\r\nAuthorization: Bearer ${token}\r\nContent-Length: ${declared}\r\n\r\n`);
      sock.write(Buffer.alloc(sent, 7));
      if (half) sock.end();
      else setTimeout(() => sock.destroy(), 20);
    });
    let answer = '';
    sock.on('data', (d) => { answer += d; });
    sock.on('close', () => resolve(Number(answer.match(/^HTTP\/1\.1 (\d{3})/)?.[1] || 0)));
    sock.on('error', () => {});
    setTimeout(() => sock.destroy(), 15000);
  });
}

/**
 * Runs `ops` operations at `concurrency`. `onProgress(done)` is called after each (the fault
 * suite restarts the store from there). Resolves to { history, counts } where counts maps
 * "operation status code" to how often it happened.
 */
export async function runLoad(gw, token, { ops = 300, concurrency = 64, seed = 7, hotKeys = 6, onProgress = () => {} } = {}) {
  const rand = random(seed);
  const history = { keys: new Map(), inm: new Map(), blamed: [], completions: [] };
  const counts = {};
  const count = (op, res) => {
    const label = `${op} ${res.status}${res.json?.code ? ` ${res.json.code}` : ''}`;
    counts[label] = (counts[label] || 0) + 1;
  };
  const hot = Array.from({ length: hotKeys }, (_, i) => `alice/load-${seed}/hot-${i}.bin`);
  const body = (size) => crypto.randomBytes(size);
  const put = async (op, key, data, headers = {}) => {
    const h = keyHistory(history, key);
    let res;
    try {
      res = await call(gw, 'PUT', path(key), { token, headers: { 'content-type': 'application/octet-stream', ...headers }, body: data });
    } catch (e) {
      // No answer: the outcome is unknown to the client, so the upload may have happened.
      h.maybe.add(hash(data));
      throw e;
    }
    count(op, res);
    if (res.status === 201) h.acked.add(hash(data));
    else h.refused += 1;
    // These requests always send their whole body.
    if (res.json?.code === 'incomplete_body') history.blamed.push(key);
    return res;
  };
  let cold = 0;
  const plan = [];
  for (let i = 0; i < ops; i++) plan.push(rand());
  const kinds = [
    // [weight, run]
    [30, async () => {
      // A fresh key, one request: it must end up serving exactly what was acknowledged.
      const key = `alice/load-${seed}/cold-${cold++}.bin`;
      const data = body(Math.floor(rand() * 48 * 1024));
      const digest = Math.floor(rand() * 5);
      const headers = [{}, { 'content-md5': md5(data).toString('base64') }, { 'x-amz-checksum-sha256': sha256(data).toString('base64') },
        { 'content-md5': md5(Buffer.from('wrong')).toString('base64') }, { 'x-amz-checksum-sha256': sha256(Buffer.from('wrong')).toString('base64') }][digest];
      const res = await put('put', key, data, headers);
      keyHistory(history, key).expected = res.status === 201 ? hash(data) : null;
    }],
    [25, async () => {
      const key = hot[Math.floor(rand() * hot.length)];
      const bad = rand() < 0.2;
      const data = body(Math.floor(rand() * 64 * 1024));
      await put('put-hot', key, data, bad ? { 'content-md5': md5(Buffer.from('wrong')).toString('base64') } : {});
    }],
    [10, async () => {
      const key = hot[Math.floor(rand() * hot.length)];
      count('delete-hot', await call(gw, 'DELETE', path(key), { token }));
    }],
    [10, async () => {
      const key = hot[Math.floor(rand() * hot.length)];
      const seen = await servedHash(gw, key, token);
      if (seen && !seen.startsWith('status')) keyHistory(history, key).seen.add(seen);
    }],
    [8, async () => {
      // An overwrite refused for its digest: the first version must stay.
      const key = `alice/load-${seed}/cold-${cold++}.bin`;
      const first = body(1000 + Math.floor(rand() * 4000));
      const res = await put('put', key, first);
      await put('put-refused', key, body(500), { 'x-amz-checksum-sha256': sha256(Buffer.from('wrong')).toString('base64') });
      keyHistory(history, key).expected = res.status === 201 ? hash(first) : null;
    }],
    [5, async () => {
      // Four uploads of a fresh key race with If-None-Match: *.
      const key = `alice/load-${seed}/inm-${cold++}.bin`;
      const bodies = [0, 1, 2, 3].map(() => body(2000));
      const results = await Promise.all(bodies.map((b) => put('put-inm', key, b, { 'if-none-match': '*' })));
      history.inm.set(key, bodies.filter((_, i) => results[i].status === 201).map(hash));
    }],
    [6, async () => {
      const key = `alice/load-${seed}/cold-${cold++}.bin`;
      const status = await brokenPut(gw, path(key), token, { declared: 4000, sent: Math.floor(rand() * 3000), half: rand() < 0.5 });
      counts[`put-cut ${status}`] = (counts[`put-cut ${status}`] || 0) + 1;
      const h = keyHistory(history, key);
      h.refused += 1;
      h.expected = null;
    }],
    [2, async () => {
      // A small multipart upload; a failed part is sent again, as clients do.
      const key = `alice/load-${seed}/mp-${cold++}.bin`;
      const parts = [body(5 * MIB), body(1000 + Math.floor(rand() * 1000))];
      const start = await call(gw, 'POST', `${path(key)}?uploads`, { token, headers: { 'content-type': 'application/json' }, body: '{}' });
      count('multipart-start', start);
      const h = keyHistory(history, key);
      h.expected = null;
      if (start.status !== 201) return;
      const id = start.json.upload_id;
      for (const [i, data] of parts.entries()) {
        let sent = false;
        for (let attempt = 0; attempt < 4 && !sent; attempt++) {
          const res = await call(gw, 'PUT', `${path(key)}?uploadId=${id}&partNumber=${i + 1}`, { token, body: data });
          count('multipart-part', res);
          if (res.json?.code === 'incomplete_body') history.blamed.push(key);
          sent = res.status === 200;
        }
        if (!sent) {
          // As a client does: a part that will not go up means giving the upload up.
          count('multipart-abort', await call(gw, 'DELETE', `${path(key)}?uploadId=${id}`, { token }));
          h.refused += 1;
          return;
        }
      }
      if (rand() < 0.5) {
        // A client re-sends the last part it believes failed and goes away mid-body: the copy
        // acknowledged before must still be the one assembled.
        const last = parts.length;
        const status = await brokenPut(gw, `${path(key)}?uploadId=${id}&partNumber=${last}`, token, { declared: parts[last - 1].length, sent: Math.floor(parts[last - 1].length / 2), half: false });
        counts[`multipart-part-cut ${status}`] = (counts[`multipart-part-cut ${status}`] || 0) + 1;
      }
      h.maybe.add(hash(Buffer.concat(parts)));
      // Without a part list half the time: then every acknowledged part must be assembled.
      const asked = rand() < 0.5 ? '' : JSON.stringify({ size: parts.reduce((n, p) => n + p.length, 0) });
      for (let attempt = 0; attempt < 4; attempt++) {
        const done = await call(gw, 'POST', `${path(key)}?uploadId=${id}`, { token, headers: { 'content-type': 'application/json' }, body: asked });
        count('multipart-complete', done);
        if (done.status === 201) {
          history.completions.push({ key, size: done.json?.size, acknowledged: parts.reduce((n, p) => n + p.length, 0) });
          h.acked.add(hash(Buffer.concat(parts)));
          h.expected = hash(Buffer.concat(parts));
          h.maybe.delete(hash(Buffer.concat(parts)));
          return;
        }
        if (done.status < 500) break;
      }
      // Every completion answered 5xx: nothing may have changed.
      h.maybe.delete(hash(Buffer.concat(parts)));
      h.refused += 1;
    }],
    [4, async () => {
      // A tus upload in three unaligned chunks; after a failure the client asks for the offset
      // and continues from there.
      const key = `alice/load-${seed}/tus-${cold++}.bin`;
      const data = body(3000 + Math.floor(rand() * 6000));
      const h = keyHistory(history, key);
      h.expected = null;
      const tusHeaders = { 'tus-resumable': '1.0.0' };
      const meta = `key ${Buffer.from(key).toString('base64')}`;
      const created = await call(gw, 'POST', '/tus/', { token, headers: { ...tusHeaders, 'upload-length': String(data.length), 'upload-metadata': meta } });
      count('tus-create', created);
      if (created.status !== 201) return;
      const upload = new URL(created.headers.get('location')).pathname;
      const cut = Math.ceil(data.length / 3);
      let offset = 0;
      h.maybe.add(hash(data));
      for (let attempt = 0; attempt < 12 && offset < data.length; attempt++) {
        const chunk = data.subarray(offset, Math.min(data.length, offset + cut));
        let res;
        try {
          res = await call(gw, 'PATCH', upload, { token, headers: { ...tusHeaders, 'upload-offset': String(offset), 'content-type': 'application/offset+octet-stream' }, body: chunk });
        } catch {
          res = { status: 0 };
        }
        count('tus-patch', res);
        if (res.status === 204) {
          offset = Number(res.headers.get('upload-offset'));
          continue;
        }
        const head = await call(gw, 'HEAD', upload, { token, headers: tusHeaders });
        count('tus-head', head);
        if (head.status !== 200) break;
        offset = Number(head.headers.get('upload-offset'));
      }
      if (offset === data.length) {
        h.acked.add(hash(data));
        h.expected = hash(data);
        h.maybe.delete(hash(data));
      }
    }],
  ];
  const total = kinds.reduce((n, [w]) => n + w, 0);
  const choose = (r) => {
    let x = r * total;
    for (const [w, run] of kinds) {
      if (x < w) return run;
      x -= w;
    }
    return kinds[0][1];
  };
  let next = 0;
  let done = 0;
  const worker = async () => {
    while (next < plan.length) {
      const run = choose(plan[next++]);
      try { await run(); } catch (e) {
        const label = `client error ${e.code || e.message}${e.cause ? ` (${e.cause.code || e.cause.message})` : ''}`;
        counts[label] = (counts[label] || 0) + 1;
      }
      onProgress(++done);
    }
  };
  await Promise.all(Array.from({ length: concurrency }, worker));
  for (const key of hot) keyHistory(history, key);
  return { history, counts };
}
