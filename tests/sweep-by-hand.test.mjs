// The README's way to run the cleanup sweep by hand: the exact command it documents, against
// `wrangler dev --test-scheduled`, must run the sweep (a backdated journal entry is handled),
// not just answer.
import { test, before, after } from 'node:test';
import assert from 'node:assert/strict';
import fs from 'node:fs';
import { BACKEND, JWT_SECRET } from './support/gateway.mjs';
import { startDev } from './support/devserver.mjs';

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
  const res = await fetch(`${dev.url}${documented[1]}`);
  const text = await res.text();
  assert.equal(res.status, 200, text);
  const left = dev.sql("SELECT count(*) AS n FROM pending_uploads WHERE id = 'by-hand'");
  assert.equal(left[0].n, 0, 'the sweep handled the backdated entry');
});
