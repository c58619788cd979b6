// Starts the built Worker in Miniflare (workerd) with the R2 and D1 simulators, applies the D1
// migrations, and exposes its real HTTP address. With GATEWAY_METADATA=durable-objects the
// metadata lives in the Durable Object shards instead of D1, and the test build runs, whose one
// addition is the route that shows the tests the shards' rows. With GATEWAY_BACKEND=s3 the Worker stores
// objects in a real S3 server (s3s-fs) started for the test file instead of the R2 binding.
// Each test file starts its own instance with the variables it needs.
import fs from 'node:fs';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { Miniflare } from 'miniflare';
import { startS3 } from './s3server.mjs';

const root = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '../..');

export const JWT_SECRET = 'test-secret-0123456789-abcdefghijklmnop';
export const BACKEND = process.env.GATEWAY_BACKEND === 's3' ? 's3' : 'r2';
/** The metadata backend every gateway started here uses (`METADATA`): `d1` or `durable-objects`. */
export const METADATA = process.env.GATEWAY_METADATA === 'durable-objects' ? 'durable-objects' : 'd1';
const SHARDED = METADATA === 'durable-objects';


/**
 * Splits a migration file into statements: at each `;` that ends a line, except inside a
 * trigger's BEGIN … END (no semicolons inside strings in ours).
 */
function statements(sql) {
  const out = [];
  let current = [];
  let inBody = false;
  for (const raw of sql.split('\n')) {
    const line = raw.replace(/--.*$/, '').trimEnd();
    if (!line.trim()) continue;
    current.push(line);
    if (/^\s*BEGIN\s*$/i.test(line)) inBody = true;
    if (inBody ? /^\s*END;\s*$/i.test(line) : line.endsWith(';')) {
      out.push(current.join('\n').replace(/;\s*$/, '').trim());
      current = [];
      inBody = false;
    }
  }
  if (current.length) out.push(current.join('\n').trim());
  return out.filter(Boolean);
}

export async function applyMigrations(db) {
  const dir = path.join(root, 'migrations');
  for (const file of fs.readdirSync(dir).filter((f) => f.endsWith('.sql')).sort()) {
    for (const stmt of statements(fs.readFileSync(path.join(dir, file), 'utf8'))) {
      await db.prepare(stmt).run();
    }
  }
}

/**
 * The metadata as the tests read and write it, with D1's `prepare(sql).bind(…).first() /
 * all() / run()`: D1 itself, or with the metadata on Durable Objects each statement run in
 * every shard (through the test build's `/__contract/shards/sql`), the rows joined.
 */
function shardsView(url) {
  const run = async (sql, args) => {
    const res = await fetch(`${url}/__contract/shards/sql`, { method: 'POST', body: JSON.stringify({ sql, args }) });
    const text = await res.text();
    if (!res.ok) throw new Error(`shards sql ${res.status}: ${text}`);
    const found = JSON.parse(text);
    // A count over every shard is the sum of theirs (zero with no shard yet), and an ordered
    // read is ordered across them.
    if (/^\s*SELECT\s+count\(\*\)/i.test(sql)) {
      const names = [...sql.slice(0, sql.search(/\bFROM\b/i)).matchAll(/\bAS\s+(\w+)/gi)].map((m) => m[1]);
      found.results = [Object.fromEntries(names.map((n) => [n, found.results.reduce((sum, r) => sum + Number(r[n] ?? 0), 0)]))];
    }
    const order = sql.match(/ORDER BY\s+(\w+)(\s+DESC)?\s*$/i);
    if (order) {
      const [, column, desc] = order;
      found.results.sort((a, b) => (a[column] < b[column] ? -1 : a[column] > b[column] ? 1 : 0) * (desc ? -1 : 1));
    }
    return found;
  };
  const statement = (sql, args = []) => ({
    bind: (...values) => statement(sql, values),
    all: async () => ({ results: (await run(sql, args)).results }),
    first: async (column) => {
      const [row] = (await run(sql, args)).results;
      if (!row) return null;
      return column === undefined ? row : row[column];
    },
    run: async () => ({ meta: { changes: (await run(sql, args)).changes } }),
  });
  return { prepare: (sql) => statement(sql) };
}

/** Reads stored names straight from the backing store, bypassing the Worker. */
function storeReader(bucket, s3) {
  if (s3) {
    return async (name) => {
      const res = await s3.fetch(name);
      if (res.status === 404) return null;
      if (!res.ok) throw new Error(`store read ${name}: ${res.status}`);
      const body = Buffer.from(await res.arrayBuffer());
      return { size: body.length, text: () => body.toString('utf8'), bytes: () => body, etag: res.headers.get('etag') };
    };
  }
  return async (name) => {
    const obj = await bucket.get(name);
    if (!obj) return null;
    const body = Buffer.from(await obj.arrayBuffer());
    return { size: body.length, text: () => body.toString('utf8'), bytes: () => body, etag: obj.httpEtag };
  };
}

/** The queues as wrangler.toml names them. */
export const EVENTS_QUEUE = 'upload-events';
export const DEAD_LETTER_QUEUE = 'upload-events-dlq';

/**
 * The `EVENTS` queue as wrangler.toml sets it up (producer and consumer in the gateway), with
 * a short batch timeout and first retry delay so tests need not wait. `maxRetries` as given.
 */
function queueOptions({ maxRetries = 10 } = {}) {
  return {
    queueProducers: { EVENTS: EVENTS_QUEUE },
    queueConsumers: { [EVENTS_QUEUE]: { maxBatchSize: 10, maxBatchTimeout: 1, maxRetries, deadLetterQueue: DEAD_LETTER_QUEUE } },
  };
}

/**
 * `store`: an S3 server already started (e.g. `startMoto()`) instead of a fresh s3s-fs.
 * `build`: the build directory to run (`build-contract` for the contract routes).
 * `logs`: collect the Worker's log lines in `gw.logs` instead of printing them.
 * `queue`: the `EVENTS` queue's consumer settings (`{ maxRetries }`), or `false` for a
 *   deployment without a queue. On by default, as in wrangler.toml.
 * `miniflare`: more options for the gateway Worker (bindings the default setup lacks; they
 *   replace the queue's when they name the same option).
 * `workers`: more Workers to run beside it (a webhook receiver's stand-in, a queue wrapper).
 */
export async function startGateway(vars = {}, { backend = BACKEND, store, build = SHARDED ? 'build-contract' : 'build', logs = false, queue = {}, miniflare = {}, workers = [] } = {}) {
  const s3 = store ?? (backend === 's3' ? await startS3() : null);
  const lines = [];
  const capture = logs ? { handleStructuredLogs: ({ level, message }) => { lines.push({ level, message }); } } : {};
  const gateway = {
    name: 'gateway',
    scriptPath: path.join(root, build, 'index.js'),
    modules: true,
    modulesRules: [{ type: 'CompiledWasm', include: ['**/*.wasm'] }],
    compatibilityDate: '2025-09-01',
    r2Buckets: ['BUCKET'],
    d1Databases: ['DB'],
    durableObjects: { SHARDS: { className: 'MetadataShard', useSQLite: true } },
    bindings: {
      STORAGE: 'r2', METADATA, JWT_SECRET, EVENT_RETRY_DELAY_SECONDS: '1', EVENT_MAX_RETRIES: String(queue?.maxRetries ?? 10),
      // Announced uploads settle this long after their start (plus the body's time at 16 KiB/s).
      UPLOAD_COMMIT_WINDOW_SECONDS: '2',
      ...(s3 ? s3.vars : {}), ...vars,
    },
    ...(queue ? queueOptions(queue) : {}),
    ...miniflare,
  };
  const mf = new Miniflare({
    ...capture,
    workers: [gateway, ...workers],
    // Lets tests fire the Cron Trigger through /cdn-cgi/handler/scheduled.
    unsafeTriggerHandlers: true,
    port: 0,
  });
  const url = (await mf.ready).toString().replace(/\/$/, '');
  const d1 = await mf.getD1Database('DB');
  await applyMigrations(d1);
  const db = SHARDED ? shardsView(url) : d1;
  const bucket = await mf.getR2Bucket('BUCKET');
  const read = storeReader(bucket, s3);
  return {
    backend,
    url,
    db,
    /** Whether the EVENTS queue is bound (small uploads are then announced on it). */
    queued: Boolean(queue),
    /** UPLOAD_COMMIT_WINDOW_SECONDS, in ms. */
    commitWindowMs: Number(gateway.bindings.UPLOAD_COMMIT_WINDOW_SECONDS) * 1000,
    logs: lines,
    s3,
    mf,
    /**
     * The object `key` serves as the store holds it ({size, text(), bytes()}): the stored name
     * its row names. Without a row, any object left under a name the journal gave the key (or
     * the key itself): a leftover that should not be there. Null if there is neither.
     */
    object: async (key) => {
      const row = await db.prepare('SELECT storage_key FROM objects WHERE key = ?').bind(key).first();
      if (row) return read(row.storage_key);
      const { results } = await db.prepare('SELECT storage_key FROM pending_uploads WHERE key = ?').bind(key).all();
      for (const name of [...results.map((r) => r.storage_key), key]) {
        const found = await read(name);
        if (found) return found;
      }
      return null;
    },
    /** A stored name's object, straight from the store, or null. */
    stored: (name) => read(name),
    /** Every stored name in the bucket. */
    storedNames: async () => {
      if (s3) return s3.list();
      const names = [];
      let cursor;
      do {
        const page = await bucket.list({ cursor });
        names.push(...page.objects.map((o) => o.key));
        cursor = page.truncated ? page.cursor : undefined;
      } while (cursor);
      return names;
    },
    /** Writes straight into the store, bypassing the Worker (no row, no journal entry). */
    putDirect: async (key, body) => {
      if (s3) {
        const res = await s3.fetch(key, { method: 'PUT', body });
        if (!res.ok) throw new Error(`direct put ${key}: ${res.status}`);
      } else {
        await bucket.put(key, body);
      }
    },
    /** Whether the store still has multipart upload `uploadId` (its own id), assembled under stored name `key`. */
    storeHasUpload: async (key, uploadId) => {
      if (s3) {
        const res = await s3.client.fetch(`${s3.url(key)}?partNumber=1&uploadId=${encodeURIComponent(uploadId)}`, { method: 'PUT', body: 'probe', headers: { 'x-amz-content-sha256': 'UNSIGNED-PAYLOAD' } });
        const text = await res.text();
        if (res.status === 200) return true;
        // S3 answers NoSuchUpload (404); s3s-fs answers AccessDenied (403) for an unknown upload.
        if (res.status === 404 || (res.status === 403 && text.includes('AccessDenied'))) return false;
        throw new Error(`store probe ${key}: ${res.status}`);
      }
      try {
        await bucket.resumeMultipartUpload(key, uploadId).uploadPart(1, 'probe');
        return true;
      } catch (e) {
        if (!/10024|does not exist/.test(String(e.message))) throw e;
        return false;
      }
    },
    /** Fires the scheduled handler (the cleanup sweep). */
    scheduled: async () => {
      const res = await fetch(`${url}/cdn-cgi/handler/scheduled?cron=${encodeURIComponent('*/15 * * * *')}`);
      await res.text();
      return res.status;
    },
    /** Event outbox rows not yet on the queue. */
    outbox: async () => (await db.prepare('SELECT id, body, created_at FROM event_outbox ORDER BY created_at').all()).results,
    /** The D1 row of `key`, or null. */
    row: (key) => db.prepare('SELECT * FROM objects WHERE key = ?').bind(key).first(),
    close: async () => { await mf.dispose(); s3?.close(); },
  };
}

/** Polls `fn` until it returns a truthy value or `ms` pass. */
export async function eventually(fn, ms = 5000) {
  const end = Date.now() + ms;
  for (;;) {
    const v = await fn();
    if (v || Date.now() > end) return v;
    await new Promise((r) => setTimeout(r, 50));
  }
}
