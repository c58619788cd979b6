// What the browser tests check of each file a client uploaded through `wrangler dev`, set up by
// `browserWithEvents`: the bytes it serves (by SHA-256), the object's one row in the dev
// server's D1, and its one event at a local webhook receiver.
import assert from 'node:assert/strict';
import crypto from 'node:crypto';
import { eventually } from './gateway.mjs';
import { JWT_SECRET } from './gateway.mjs';
import { fetchFresh, tokenFor } from './client.mjs';
import { browserAgainstDev, patterned } from './page.mjs';
import { startReceiver } from './receiver.mjs';

/**
 * `browserAgainstDev` for a page whose uploads these checks follow: the gateway signs URLs and
 * sends its events to a local webhook receiver, `hook`. { ...env, hook, close }.
 */
export async function browserWithEvents(entry, title) {
  const hook = await startReceiver();
  const env = await browserAgainstDev(entry, title, {
    JWT_SECRET,
    URL_SIGNING_SECRET: 'url-signing-secret-for-browser-tests-0123456789',
    WEBHOOK_URL: `${hook.url}/hook`,
    WEBHOOK_SECRET: 'webhook-secret-for-browser-tests',
  }).catch((e) => { hook.close(); throw e; });
  return { ...env, hook, close: async () => { await env.close(); hook.close(); } };
}

const sha = (buf) => crypto.createHash('sha256').update(buf).digest('hex');

/**
 * `done` ({key, location}) of file `f` ({name, type, size, seed}, its bytes `patterned`), as
 * `alice` uploaded it to `dev`, is stored once: served whole with its type, one row, one
 * event at `hook`.
 */
export async function assertStoredOnce({ dev, hook }, done, f) {
  assert.equal(done.location, `${dev.url}/files/${done.key}`);
  const res = await fetchFresh(`${dev.url}/files/${done.key}`, { headers: { authorization: `Bearer ${tokenFor('alice')}` } });
  assert.equal(res.status, 200);
  assert.equal(res.headers.get('content-type'), f.type);
  assert.equal(sha(Buffer.from(await res.arrayBuffer())), sha(patterned(f.size, f.seed)), `${f.name}: the stored bytes`);
  const rows = dev.sql(`SELECT owner, size, content_type FROM objects WHERE key = '${done.key.replace(/'/g, "''")}'`);
  assert.deepEqual(rows, [{ owner: 'alice', size: f.size, content_type: f.type }], `${f.name}: one row`);
  await eventually(() => hook.forKey(done.key).length > 0, 15_000);
  const ids = new Set(hook.forKey(done.key).map((r) => r.headers['x-upload-event-id']));
  assert.equal(ids.size, 1, `${f.name}: one event`);
}
