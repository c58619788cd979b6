// The job done the simple way in JavaScript, as a baseline for the benchmark: check an HS256
// JWT with WebCrypto, stream the body to S3 with aws4fetch (UNSIGNED-PAYLOAD, the request's
// own body passed straight to fetch), insert a D1 row. No key rules, policy or follow-up.
// With PIPE_THROUGH_FIXED_LENGTH=1 the body is piped through a FixedLengthStream first, the
// alternative to the straight pass-through that the benchmark compares. With an EVENTS queue
// bound, each upload also sends one message, and the consumer reads each batch's rows in one
// query and acknowledges them: the same durable writes as the gateway's announced small upload
// (the store PUT, one D1 write, one queue message, one D1 read per batch).
import { AwsClient } from 'aws4fetch';

const enc = new TextEncoder();
const b64url = (s) => Uint8Array.from(atob(s.replace(/-/g, '+').replace(/_/g, '/')), (c) => c.charCodeAt(0));

async function verify(token, secret) {
  const [h, p, s] = (token || '').split('.');
  if (!s) return null;
  const key = await crypto.subtle.importKey('raw', enc.encode(secret), { name: 'HMAC', hash: 'SHA-256' }, false, ['verify']);
  const ok = await crypto.subtle.verify('HMAC', key, b64url(s), enc.encode(`${h}.${p}`));
  if (!ok) return null;
  const claims = JSON.parse(new TextDecoder().decode(b64url(p)));
  return claims.exp > Date.now() / 1000 ? claims : null;
}

export default {
  async fetch(request, env) {
    const url = new URL(request.url);
    if (url.pathname === '/healthz') return new Response('ok');
    if (request.method !== 'PUT' || !url.pathname.startsWith('/files/')) return new Response('not found', { status: 404 });
    const claims = await verify(request.headers.get('authorization')?.slice(7), env.JWT_SECRET);
    if (!claims) return new Response('unauthorized', { status: 401 });
    const key = decodeURIComponent(url.pathname.slice('/files/'.length));
    if (!key.startsWith(`${claims.sub}/`)) return new Response('forbidden', { status: 403 });
    const size = Number(request.headers.get('content-length'));
    if (!Number.isFinite(size)) return new Response('length required', { status: 411 });
    const s3 = new AwsClient({ accessKeyId: env.S3_ACCESS_KEY_ID, secretAccessKey: env.S3_SECRET_ACCESS_KEY, region: env.S3_REGION, service: 's3' });
    const target = `${env.S3_ENDPOINT}/${env.S3_BUCKET}/${key.split('/').map(encodeURIComponent).join('/')}`;
    const contentType = request.headers.get('content-type') || 'application/octet-stream';
    let body = request.body;
    if (env.PIPE_THROUGH_FIXED_LENGTH === '1') {
      const { readable, writable } = new FixedLengthStream(size);
      request.body.pipeTo(writable);
      body = readable;
    }
    const res = await s3.fetch(target, {
      method: 'PUT',
      body,
      headers: { 'content-type': contentType, 'x-amz-content-sha256': 'UNSIGNED-PAYLOAD' },
    });
    if (!res.ok) return new Response(`storage error ${res.status}`, { status: 502 });
    const etag = res.headers.get('etag');
    await env.DB.prepare('INSERT OR REPLACE INTO objects (key, owner, size, content_type, etag, status, created_at, completed_at) VALUES (?, ?, ?, ?, ?, ?, ?, ?)')
      .bind(key, claims.sub, size, contentType, etag, 'complete', Date.now(), Date.now())
      .run();
    if (env.EVENTS) await env.EVENTS.send({ type: 'object.uploaded', key, etag });
    return Response.json({ key, size, etag }, { status: 201 });
  },

  /** Reads the batch's rows in one query, then acknowledges every message. */
  async queue(batch, env) {
    const keys = batch.messages.map((m) => m.body.key);
    const marks = keys.map(() => '?').join(', ');
    await env.DB.prepare(`SELECT key, etag FROM objects WHERE key IN (${marks})`).bind(...keys).all();
    batch.ackAll();
  },
};
