// An in-memory gateway behind a fake `fetch`, for the client's unit tests: the multipart calls,
// a single PUT, and a log of every request. `fault(req)` may answer a request instead (return a
// Response, or throw to drop the connection); it sees `{method, path, query, attempt}` where
// `attempt` counts the requests to the same method and URL so far.

export const MIB = 1024 * 1024;

const json = (status, doc) => new Response(JSON.stringify(doc), { status, headers: { 'content-type': 'application/json' } });

/** An RFC 9457 answer as the gateway sends it. */
export const problem = (status, code, detail = '') =>
  new Response(JSON.stringify({ type: 'about:blank', title: code, status, code, detail }), {
    status,
    headers: { 'content-type': 'application/problem+json' },
  });

async function bytesOf(body) {
  if (body == null) return new Blob([]);
  if (body instanceof Blob) return body;
  if (typeof body === 'string') return new Blob([body]);
  const chunks = [];
  for await (const chunk of body) chunks.push(chunk);
  return new Blob(chunks);
}

export function fakeGateway({ limits = { part_size_min: 5 * MIB, part_size_max: 100 * MIB, max_parts: 10000 }, fault = () => undefined } = {}) {
  const uploads = new Map();
  const objects = new Map();
  const requests = [];
  const attempts = new Map();
  let nextId = 1;

  async function answer(req, body) {
    const key = decodeURIComponent(req.path.replace(/^\/files\//, ''));
    const id = req.query.get('uploadId');
    if (req.method === 'POST' && req.query.has('uploads')) {
      const upload_id = `up-${nextId++}`;
      uploads.set(upload_id, { key, parts: new Map() });
      return json(201, { upload_id, key, ...limits });
    }
    if (id !== null) {
      const upload = uploads.get(id);
      if (!upload || upload.key !== key) return problem(404, 'upload_not_found', 'no multipart upload with this id is open for this key');
      const listed = () => [...upload.parts].sort(([a], [b]) => a - b).map(([n, b]) => ({ part_number: n, size: b.size, etag: `"e${n}"` }));
      if (req.method === 'PUT') {
        const n = Number(req.query.get('partNumber'));
        upload.parts.set(n, await bytesOf(body));
        return json(200, { part_number: n, size: upload.parts.get(n).size, etag: `"e${n}"` });
      }
      if (req.method === 'GET') return json(200, { upload_id: id, key, ...limits, parts: listed() });
      if (req.method === 'DELETE') {
        uploads.delete(id);
        return new Response(null, { status: 204 });
      }
      if (req.method === 'POST') {
        // As the gateway: a part list or size that is not the acknowledged parts assembles nothing.
        const asked = body ? JSON.parse(await new Response(body).text()) : {};
        const size = listed().reduce((sum, p) => sum + p.size, 0);
        const sameList = !asked.parts || JSON.stringify(asked.parts) === JSON.stringify(listed().map(({ part_number, etag }) => ({ part_number, etag })));
        if (!sameList || (asked.size !== undefined && asked.size !== size)) return problem(409, 'parts_mismatch', 'the part list does not match the parts the gateway acknowledged');
        const stored = new Blob(listed().map((p) => upload.parts.get(p.part_number)));
        uploads.delete(id);
        objects.set(key, stored);
        return json(201, { key, size: stored.size });
      }
    }
    if (req.method === 'PUT') {
      const stored = await bytesOf(body);
      objects.set(key, stored);
      return json(201, { key, size: stored.size });
    }
    return problem(400, 'bad_request', 'not a call this fake knows');
  }

  async function fetch(url, init = {}) {
    const u = new URL(url);
    const method = init.method || 'GET';
    const slot = `${method} ${u.pathname}${u.search}`;
    attempts.set(slot, (attempts.get(slot) || 0) + 1);
    const req = { method, path: u.pathname, search: u.search, query: u.searchParams, headers: init.headers || {}, attempt: attempts.get(slot), init };
    requests.push(req);
    if (init.signal?.aborted) throw new DOMException('aborted', 'AbortError');
    const injected = await fault(req);
    if (injected) return injected;
    return answer(req, init.body);
  }

  /** The requests as `METHOD path?query` lines, in order. */
  const log = () => requests.map((r) => `${r.method} ${r.path}${r.search}`);
  /** The part numbers sent, in order. */
  const partsSent = () => requests.filter((r) => r.query.has('partNumber')).map((r) => Number(r.query.get('partNumber')));

  return { fetch, uploads, objects, requests, log, partsSent };
}

/** Bytes that differ at every offset of interest, so a part sent from the wrong place shows. */
export function patterned(size) {
  const bytes = new Uint8Array(size);
  for (let i = 0; i < size; i++) bytes[i] = (i * 31 + (i >> 20)) & 255;
  return new Blob([bytes]);
}

export async function sameBytes(a, b) {
  const [x, y] = [new Uint8Array(await a.arrayBuffer()), new Uint8Array(await b.arrayBuffer())];
  return x.length === y.length && x.every((v, i) => v === y[i]);
}

/** A resume slot in memory that records what the client did with it. */
export function memorySlot(initial = null) {
  const slot = {
    state: initial,
    saves: 0,
    clears: 0,
    load: () => slot.state,
    save: (state) => { slot.state = state; slot.saves++; },
    clear: () => { slot.state = null; slot.clears++; },
  };
  return slot;
}
