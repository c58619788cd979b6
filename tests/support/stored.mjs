// What the browser tests check of each file a client uploaded through `wrangler dev`: the
// bytes it serves (by SHA-256), the object's one row in the dev server's D1, and its one event
// at a local webhook receiver.
import assert from 'node:assert/strict';
import crypto from 'node:crypto';
import { eventually } from './gateway.mjs';
import { tokenFor } from './client.mjs';
import { patterned } from './page.mjs';

const sha = (buf) => crypto.createHash('sha256').update(buf).digest('hex');

/**
 * `done` ({key, location}) of file `f` ({name, type, size, seed}, its bytes `patterned`), as
 * `alice` uploaded it to `dev`, is stored once: served whole with its type, one row, one
 * event at `hook`.
 */
export async function assertStoredOnce({ dev, hook }, done, f) {
  assert.equal(done.location, `${dev.url}/files/${done.key}`);
  const res = await fetch(`${dev.url}/files/${done.key}`, { headers: { authorization: `Bearer ${tokenFor('alice')}` } });
  assert.equal(res.status, 200);
  assert.equal(res.headers.get('content-type'), f.type);
  assert.equal(sha(Buffer.from(await res.arrayBuffer())), sha(patterned(f.size, f.seed)), `${f.name}: the stored bytes`);
  const rows = dev.sql(`SELECT owner, size, content_type FROM objects WHERE key = '${done.key.replace(/'/g, "''")}'`);
  assert.deepEqual(rows, [{ owner: 'alice', size: f.size, content_type: f.type }], `${f.name}: one row`);
  await eventually(() => hook.forKey(done.key).length > 0, 15_000);
  const ids = new Set(hook.forKey(done.key).map((r) => r.headers['x-upload-event-id']));
  assert.equal(ids.size, 1, `${f.name}: one event`);
}
