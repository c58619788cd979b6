// The dev server as `npm run dev` runs it (wrangler.toml as is): the README's way to run the
// cleanup sweep by hand, the exact command it documents against `wrangler dev
// --test-scheduled`, must run the sweep (a backdated journal entry is handled), not just
// answer; and the EVENTS queue carries each upload's event to its consumer.
import { test, before, after } from 'node:test';
import assert from 'node:assert/strict';
import fs from 'node:fs';
import { BACKEND, JWT_SECRET } from './support/gateway.mjs';
import { startDev } from './support/devserver.mjs';
import { tokenFor } from './support/client.mjs';
import { Agent, fetch } from 'undici';

// A fresh connection per request: the dev server's proxy closes idle connections, and a
// request sent on one it is closing (after the seconds `wrangler d1 execute` takes) would fail
// without an answer.
const dispatcher = new Agent({ pipelining: 0 });

const skip = BACKEND !== 'r2' && 'wrangler dev is exercised once, on the R2 binding';
let dev;

before(async () => {
  if (skip) return;
  dev = await startDev({ JWT_SECRET }, { args: ['--test-scheduled'] });
});
after(async () => { await dev?.stop(); });

test("the README's sweep command runs the sweep under wrangler dev --test-scheduled", { skip }, async () => {
  const readme = fs.readFileSync('README.md', 'utf8');
  const section = readme.slice(readme.indexOf('## Cleanup sweep'));
  assert.match(section, /--test-scheduled/, 'the README starts the dev server with --test-scheduled');
  const documented = section.match(/curl "http:\/\/localhost:8787([^"]+)"/);
  assert.ok(documented, 'the README documents a curl command for the sweep');
  // A journal entry due two hours ago for a name with neither object nor row: the sweep clears it.
  const due = Date.now() - 2 * 3600 * 1000;
  dev.sql(`INSERT INTO pending_uploads (id, key, owner, started_at, storage_key, due_at) VALUES ('by-hand', 'alice/gone.txt', 'alice', ${due}, 'alice/gone.txt~${'0'.repeat(32)}', ${due})`);
  const res = await fetch(`${dev.url}${documented[1]}`, { dispatcher });
  const text = await res.text();
  assert.equal(res.status, 200, text);
  const left = dev.sql("SELECT count(*) AS n FROM pending_uploads WHERE id = 'by-hand'");
  assert.equal(left[0].n, 0, 'the sweep handled the backdated entry');
});

test('under wrangler dev the EVENTS queue carries an upload\'s event to the consumer, which records the sniffed type', { skip }, async () => {
  const res = await fetch(`${dev.url}/files/alice/dev-event.txt`, {
    method: 'PUT',
    headers: { authorization: `Bearer ${tokenFor('alice')}`, 'content-type': 'image/png' },
    body: 'plain text, not a PNG',
    dispatcher,
  });
  assert.equal(res.status, 201, await res.text());
  let row;
  for (let i = 0; i < 30 && !row?.detected_type; i++) {
    await new Promise((r) => setTimeout(r, 1000));
    [row] = dev.sql("SELECT detected_type, type_matches FROM objects WHERE key = 'alice/dev-event.txt'");
  }
  assert.equal(row?.detected_type, 'text/plain', 'the consumer sniffed the object');
  assert.equal(row.type_matches, 0);
  assert.equal(dev.sql('SELECT count(*) AS n FROM event_outbox')[0].n, 0, 'the event left the outbox');
});
