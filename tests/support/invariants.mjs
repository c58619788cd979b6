// The gateway's guarantees (docs/architecture.md, "The gateway's guarantees") as checks over
// what a run did (`history`) and what the bucket, D1 and the gateway hold afterwards
// (`snapshot`). Each check returns a list of violations, empty when it holds.
import crypto from 'node:crypto';

export const hash = (buf) => crypto.createHash('sha256').update(buf).digest('hex');

/** The SHA-256 (hex) of what the gateway serves for `key`, null for 404, else `status N`. */
export async function servedHash(gw, key, token) {
  const res = await fetch(`${gw.url}/files/${key.split('/').map(encodeURIComponent).join('/')}`, { headers: { authorization: `Bearer ${token}` } });
  const body = Buffer.from(await res.arrayBuffer());
  if (res.status === 200) return hash(body);
  return res.status === 404 ? null : `status ${res.status}`;
}

/** The id of the `object.uploaded` event of the version stored under `storageKey`. */
export const uploadedEventId = (storageKey) =>
  `evt_${crypto.createHash('sha256').update(`object.uploaded\n${storageKey}`).digest('hex').slice(0, 32)}`;

/**
 * Everything the checks look at, read after the run (and after the sweep). With the run's
 * webhook receiver `hook`, waits (up to a minute: deliveries retried during the faults come
 * back after growing delays) until every row's event has been delivered and the consumer has
 * cleared every outbox row.
 */
export async function takeSnapshot(gw, keys, token, hook) {
  const rows = (await gw.db.prepare('SELECT key, storage_key, size, etag, owner FROM objects').all()).results;
  const usage = (await gw.db.prepare('SELECT owner, bytes, objects FROM owner_usage').all()).results;
  const reservations = (await gw.db.prepare('SELECT id, owner, bytes FROM quota_reservations WHERE until_ms > ?').bind(Date.now()).all()).results;
  const delivered = () => new Set((hook?.requests ?? []).map((r) => r.headers['x-upload-event-id']));
  const unsent = async () => (await gw.db.prepare('SELECT count(*) AS n FROM event_outbox').first()).n;
  for (const end = Date.now() + 60_000; hook && Date.now() < end;) {
    const got = delivered();
    if (rows.every((r) => got.has(uploadedEventId(r.storage_key))) && (await unsent()) === 0) break;
    await new Promise((r) => setTimeout(r, 250));
  }
  const outbox = (await gw.db.prepare('SELECT id FROM event_outbox').all()).results;
  const journal = (await gw.db.prepare('SELECT id, key, storage_key, due_at FROM pending_uploads').all()).results;
  const multiparts = (await gw.db.prepare('SELECT id, key, expires_at FROM multipart_uploads').all()).results;
  const objects = new Map();
  for (const name of await gw.storedNames()) {
    const o = await gw.stored(name);
    if (o) objects.set(name, { size: o.size, etag: o.etag, sha: hash(o.bytes()) });
  }
  const served = new Map();
  for (const key of keys) {
    served.set(key, await servedHash(gw, key, token));
  }
  return { rows, usage, reservations, journal, multiparts, objects, served, outbox, delivered: hook ? delivered() : null, now: Date.now() };
}

/**
 * `history` per key: `acked` (hashes of bodies answered 2xx), `maybe` (bodies of requests that
 * got no answer, whose outcome is unknown), `seen` (hashes served by GETs
 * during the run), and for keys written by one client at a time `expected` (the hash the key
 * must serve at the end, or null for nothing). `inm`: keys raced with If-None-Match: *, with
 * the hashes answered 201.
 */
export const checks = {
  /** 1 and 5: the key serves only bytes an upload was answered 2xx for, and a key written one request at a time serves exactly its last acknowledged state. */
  servedIsAcknowledged(history, snap) {
    const out = [];
    for (const [key, h] of history.keys) {
      const served = snap.served.get(key);
      if (typeof served === 'string' && served.startsWith('status')) out.push(`${key}: GET answered ${served}`);
      else if (served !== null && served !== undefined && !h.acked.has(served) && !h.maybe?.has(served)) out.push(`${key}: serves bytes no upload was acknowledged for`);
      for (const seen of h.seen) if (!h.acked.has(seen) && !h.maybe?.has(seen)) out.push(`${key}: served unacknowledged bytes during the run`);
      // A request that got no answer may or may not have happened.
      const unknown = h.maybe?.size > 0 && (served === null || h.maybe.has(served));
      if ('expected' in h && served !== undefined && served !== h.expected && !unknown) out.push(`${key}: serves ${served ? 'other bytes' : 'nothing'} instead of ${h.expected ? 'its last acknowledged upload' : 'nothing'}`);
    }
    return out;
  },
  /** 8: a multipart completion answered 201 describes every part the client had acknowledged
   * (its size is their total), whatever re-sends were cut off before it. */
  completionsAreWhole(history) {
    return (history.completions || []).filter((c) => c.size !== c.acknowledged).map((c) => `${c.key}: completed with ${c.size} bytes of the ${c.acknowledged} acknowledged`);
  },
  /** 2 (for refusals): a key whose every write was refused has no row and serves nothing. */
  refusedChangesNothing(history, snap) {
    const out = [];
    for (const [key, h] of history.keys) {
      if (h.acked.size === 0 && h.refused > 0) {
        if (snap.rows.some((r) => r.key === key)) out.push(`${key}: refused writes left a row`);
        if (snap.served.get(key)) out.push(`${key}: refused writes left something served`);
      }
    }
    return out;
  },
  /** 3 and 4: every stored object is named by exactly one row, and every row names an object of its size and ETag. */
  bucketMatchesRows(_history, snap) {
    const out = [];
    const named = new Map();
    for (const r of snap.rows) named.set(r.storage_key, (named.get(r.storage_key) || 0) + 1);
    for (const [name, n] of named) if (n > 1) out.push(`${name}: named by ${n} rows`);
    for (const name of snap.objects.keys()) if (!named.has(name)) out.push(`${name}: stored, but no row names it`);
    for (const r of snap.rows) {
      const o = snap.objects.get(r.storage_key);
      if (!o) out.push(`${r.key}: its row names ${r.storage_key}, which the store lacks`);
      else if (o.size !== r.size || (o.etag && o.etag !== r.etag)) out.push(`${r.key}: its row says ${r.size} bytes ${r.etag}, the store has ${o.size} bytes ${o.etag}`);
    }
    return out;
  },
  /** 4: after the sweep no journal entry is due and no multipart upload is past its expiry. */
  journalSettled(_history, snap) {
    return [
      ...snap.journal.filter((e) => e.due_at <= snap.now).map((e) => `${e.storage_key}: journal entry ${e.id} is overdue`),
      ...snap.multiparts.filter((m) => m.expires_at < snap.now).map((m) => `${m.key}: multipart upload ${m.id} is past its expiry`),
    ];
  },
  /** 2 (for blame): a client that sent its whole body is never told its body was incomplete. */
  fullBodiesNotBlamed(history) {
    return (history.blamed || []).map((key) => `${key}: a whole body was answered 400 incomplete_body`);
  },
  /** 6: of uploads racing with If-None-Match: * for a fresh key, at most one wins, and the key serves the winner. */
  ifNoneMatchOnce(history, snap) {
    const out = [];
    for (const [key, winners] of history.inm) {
      if (winners.length > 1) out.push(`${key}: ${winners.length} uploads with If-None-Match: * were answered 201`);
      const served = snap.served.get(key);
      if (winners.length === 1 && served !== winners[0]) out.push(`${key}: serves something other than the If-None-Match winner`);
    }
    return out;
  },
  /** 9: each owner's recorded usage is what its rows take (summed over every database), no write left a reservation behind, and no owner is past its quota. */
  usageMatchesRows(history, snap) {
    const add = (map, owner, bytes, objects) => {
      const was = map.get(owner) ?? { bytes: 0, objects: 0 };
      map.set(owner, { bytes: was.bytes + Number(bytes), objects: was.objects + Number(objects) });
    };
    const recorded = new Map();
    for (const u of snap.usage ?? []) add(recorded, u.owner, u.bytes, u.objects);
    const actual = new Map();
    for (const r of snap.rows) add(actual, r.owner, r.size, 1);
    const out = [];
    for (const owner of new Set([...recorded.keys(), ...actual.keys()])) {
      const [want, got] = [actual.get(owner) ?? { bytes: 0, objects: 0 }, recorded.get(owner) ?? { bytes: 0, objects: 0 }];
      if (want.bytes !== got.bytes || want.objects !== got.objects) out.push(`${owner}: usage records ${got.bytes} bytes in ${got.objects} objects, its rows hold ${want.bytes} in ${want.objects}`);
      if (history.quota && want.bytes > history.quota) out.push(`${owner}: ${want.bytes} bytes stored, past its quota of ${history.quota}`);
    }
    out.push(...(snap.reservations ?? []).map((r) => `${r.id}: a quota reservation of ${r.bytes} bytes outlived its write`));
    return out;
  },
  /** 7: every committed version a key serves had its event delivered, and no event is left unsent. */
  eventsDelivered(_history, snap) {
    if (!snap.delivered) return [];
    return [
      ...snap.rows.filter((r) => !snap.delivered.has(uploadedEventId(r.storage_key))).map((r) => `${r.key}: its version's object.uploaded event was never delivered`),
      ...snap.outbox.map((o) => `${o.id}: left in the event outbox after the sweep`),
    ];
  },
};

/** Runs every check; an object of check name → violations. */
export function verify(history, snap) {
  return Object.fromEntries(Object.entries(checks).map(([name, check]) => [name, check(history, snap)]));
}
