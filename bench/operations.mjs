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
try {
  kinds = await measureKinds(gw, { storeCalls: () => proxy.delivered.length });
} finally {
  await gw.close();
  await proxy.close();
}
const lines = [
  '# Operations per upload kind',
  '',
  `Run ${new Date().toISOString()} with \`node bench/operations.mjs\` (S3 backend through a counting proxy, the EVENTS queue as in wrangler.toml, no webhook). D1 rows are D1's own \`rows_written\` per statement, as the Worker logs them; every index entry a write touches counts as a row, as D1 bills it. \`tests/d1-rows.test.mjs\` checks the same figures on both backends.`,
  '',
  '| upload kind | D1 rows: request | after the answer | queue consumer | total | store calls: request | after the answer |',
  '|---|---|---|---|---|---|---|',
  ...Object.entries(kinds).map(([kind, k]) => `| ${kind} | ${k.rows.request} | ${k.rows.followup} | ${k.rows.consumer} | ${k.rows.request + k.rows.followup + k.rows.consumer} | ${k.store.request} | ${k.store.after} |`),
  '',
  'Round trips before the answer for a single PUT: two in sequence, the store PUT (with the upload journal entry written concurrently) and the D1 commit batch (row, journal, event outbox row in one transaction). After the answer, in `waitUntil`: the queue send (and, for an overwrite, the replaced version\'s delete and the deletion of its journal entry). In the consumer: the outbox rows of its batch deleted in one statement (each upload\'s share is counted here), a D1 read of the row, a ranged store GET of the first 512 bytes, and the D1 update of the sniffed type when it changed.',
  '',
  'Before this work (the schema of migrations 0001–0007, before events): a 4 KiB single PUT wrote 9 rows, measured per statement against the D1 simulator: the journal entry 4 (the row, its primary-key index and two more indexes), the object row 3, the journal delete 1, the sniffed-type update 1. Migration 0009 makes the journal a WITHOUT ROWID table and drops its unused `started_at` index (the entry now writes 2), and the event outbox is a WITHOUT ROWID table without indexes (1 to write, 1 to delete), so with events the same PUT writes the total above.',
  '',
];
fs.writeFileSync(path.join(root, 'bench/operations.md'), `${lines.join('\n')}\n`);
console.log(lines.join('\n'));
