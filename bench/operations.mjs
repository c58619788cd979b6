// Operations per upload kind: D1 rows written (D1's own count, index entries included) on the
// request path, after the answer and in the queue consumer, and calls to the store before and
// after the answer, measured on the S3 backend through a counting proxy. Writes
// bench/operations.md. Run: node bench/operations.mjs (after bash scripts/build.sh).
import fs from 'node:fs';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { startGateway } from '../tests/support/gateway.mjs';
import { startS3 } from '../tests/support/s3server.mjs';
import { startFaultProxy } from '../tests/support/faultproxy.mjs';
import { measureKinds } from '../tests/support/rows.mjs';

const root = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '..');
const s3 = await startS3();
const proxy = await startFaultProxy(s3.endpoint, { rate: 0 });
const gw = await startGateway({ S3_ENDPOINT: proxy.endpoint, MAX_UPLOAD_BYTES: String(64 * 1024 * 1024) }, { backend: 's3', store: s3, logs: true });
let kinds;
let quoted;
try {
  kinds = await measureKinds(gw, { storeCalls: () => proxy.delivered.length });
  // The same kinds by an owner with a storage quota (ample: nothing is refused).
  quoted = await measureKinds(gw, { owner: 'quota', claims: { quota: { bytes: 2 ** 40, objects: 10 ** 6 } } });
} finally {
  await gw.close();
  await proxy.close();
}
// Total D1 rows per kind measured by this script at commit 85c762d, before small uploads were
// announced (journal entry and outbox row per upload, objects with a rowid).
const BEFORE = {
  'single PUT, 4 KiB, new key': 9,
  'single PUT, 4 KiB, overwrite': 11,
  'single PUT, 1 MiB': 9,
  'multipart start': 3,
  'multipart part (5 MiB)': 5,
  'multipart completion': 11,
  'tus creation': 5,
  'tus chunk (5 MiB)': 4,
  'tus last chunk (4 KiB, finishes the upload)': 10,
  'presigned confirm, 4 KiB': 7,
  delete: 6,
};
// "calls (statements)"; the consumer's batch-wide calls are shared among the batch's messages.
const share = (v) => (Number.isInteger(v) ? String(v) : v.toFixed(1));
const calls = (k, part) => `${share(k.calls[part])} (${share(k.statements[part])})`;
const lines = [
  '# Operations per upload kind',
  '',
  `Run ${new Date().toISOString()} with \`node bench/operations.mjs\` (S3 backend through a counting proxy, the EVENTS queue as in wrangler.toml, no webhook). D1 rows are D1's own \`rows_written\` per statement, as the Worker logs them; every index entry a write touches counts as a row, as D1 bills it. D1 calls are round trips (a statement run alone, or a batch), with the statements they ran, as the Worker logs them (\`d1_calls\`, \`d1_statements\`); the consumer's per-batch calls (the outbox delete, the read of the pending-commit messages' versions) are counted as each message's share. \`tests/d1-rows.test.mjs\` checks the same figures on both backends.`,
  '',
  '| upload kind | D1 rows: request | after the answer | queue consumer | total | total before | D1 calls (statements): request | after the answer | queue consumer | store calls: request | after the answer | with a quota: D1 calls (statements), rows: request |',
  '|---|---|---|---|---|---|---|---|---|---|---|---|',
  ...Object.entries(kinds).map(([kind, k]) => `| ${kind} | ${k.rows.request} | ${k.rows.followup} | ${k.rows.consumer} | ${k.rows.request + k.rows.followup + k.rows.consumer} | ${BEFORE[kind] ?? '—'} | ${calls(k, 'request')} | ${calls(k, 'followup')} | ${calls(k, 'consumer')} | ${k.store.request} | ${k.store.after} | ${calls(quoted[kind], 'request')}, ${quoted[kind].rows.request} |`),
  '',
  'Every commit and delete writes one row more than before storage quotas existed: the owner\'s usage, which a trigger keeps with the row (migration 0015; a multipart or tus upload also has an owner-index entry). With a quota, a single PUT and a multipart creation each make one more D1 round trip before the body, the reservation of what they add (one conditional insert, which the statement that records the write removes); without one, none. A multipart part, a tus chunk, a tus creation and a direct presign reserve in the batch they make anyway (the reservation first, which the part\'s attempt, the chunk\'s lease or the new records require; a part or chunk also removes a reservation whose attempt or lease was not taken), so their round trips are those without a quota (`tests/d1-rows.test.mjs`).',
  '',
  '"Total before" is this table\'s total at commit 85c762d, before single PUTs of at most 64 KiB were announced instead of journaled; before this work began (migrations 0001–0007, no events) a 4 KiB single PUT wrote 9 rows, measured per statement against the D1 simulator: the journal entry 4 (the row, its primary-key index and two more indexes), the object row 3, the journal delete 1, the sniffed-type update 1.',
  '',
  'Round trips before the answer for a 4 KiB single PUT (announced, docs/architecture.md): the body read whole, then the store PUT with the pending-commit message sent concurrently, then one D1 batch (the read of the name the row names and the upsert, one statement that writes). After the answer: nothing (for an overwrite, the replaced version\'s delete and the deletion of its journal entry, which the commit\'s trigger wrote, with a copy of the replaced announced row: 2 rows). In the consumer: one D1 read (the version and D1\'s clock), no store call (the type was sniffed before the commit), the webhook. The 1 MiB PUT and the other kinds are journaled: two round trips in sequence, the store PUT (with the journal entry written concurrently) and the D1 commit batch (row, journal, event outbox row in one transaction); after the answer the queue send; in the consumer the outbox rows of its batch deleted in one statement (each upload\'s share is counted here), a D1 read of the row, a ranged store GET of the first 512 bytes and the D1 update of the sniffed type. The journal and the object rows are WITHOUT ROWID tables (migrations 0009 and 0010), so a new row costs its secondary-index entries and nothing more: an object row is 2 (the row and its owner-index entry).',
  '',
];
fs.writeFileSync(path.join(root, 'bench/operations.md'), `${lines.join('\n')}\n`);
console.log(lines.join('\n'));
