// Brings a gateway to the state the guarantees speak of: counts what the run left for the
// sweep (stored names no row names, journal entries), waits until every announced upload's
// pending-commit message has passed its deadline and been read (D1's clock decides, so this
// time cannot be advanced), makes every journal entry and open multipart and tus upload due by
// backdating them in D1 (time advanced without waiting), as every event outbox row (the first
// run re-sends them), and runs the sweep until nothing is due (each run handles a batch).

// After the last upload: its deadline (the window plus a 64 KiB body's 4 s at 16 KiB/s), then
// the consumer's last look at it (its batch timeout and a margin).
const settleAnnounced = (gw) => new Promise((r) => setTimeout(r, gw.queued ? gw.commitWindowMs + 4000 + 3000 : 0));

/** Resolves to { unnamedBefore, dueBefore, multipartsBefore, runs }. */
export async function settle(gw) {
  await settleAnnounced(gw);
  const rows = (await gw.db.prepare('SELECT storage_key FROM objects').all()).results;
  const named = new Set(rows.map((r) => r.storage_key));
  const unnamedBefore = (await gw.storedNames()).filter((n) => !named.has(n)).length;
  const dueBefore = (await gw.db.prepare('SELECT count(*) AS n FROM pending_uploads').first()).n;
  const multipartsBefore = (await gw.db.prepare('SELECT count(*) AS n FROM multipart_uploads').first()).n;
  await gw.db.prepare('UPDATE pending_uploads SET due_at = 0').run();
  await gw.db.prepare('UPDATE multipart_uploads SET expires_at = 0').run();
  await gw.db.prepare('UPDATE tus_uploads SET expires_at = 0').run();
  await gw.db.prepare('UPDATE event_outbox SET created_at = 0').run();
  let runs = 0;
  for (; runs < 50; runs++) {
    const due = (await gw.db.prepare('SELECT count(*) AS n FROM pending_uploads WHERE due_at <= ?').bind(Date.now()).first()).n;
    const open = (await gw.db.prepare('SELECT count(*) AS n FROM multipart_uploads').first()).n;
    const tus = (await gw.db.prepare('SELECT count(*) AS n FROM tus_uploads').first()).n;
    if (due === 0 && open === 0 && tus === 0) break;
    if ((await gw.scheduled()) !== 200) throw new Error('the sweep failed');
  }
  return { unnamedBefore, dueBefore, multipartsBefore, runs };
}
