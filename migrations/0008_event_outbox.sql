-- Upload events not yet on the EVENTS queue. A commit or a delete writes its event here in the
-- same transaction as the row it changed; the request sends it right after answering and
-- deletes the row, and the sweep re-sends rows older than a minute (the send failed, or the
-- isolate went away first). Written only when the EVENTS queue is bound. WITHOUT ROWID and
-- no index: the table holds only events in flight, so an insert writes one row (D1 bills
-- each index entry as a row written) and the sweep's scan is short.
CREATE TABLE event_outbox (
  id          TEXT PRIMARY KEY,                -- the event's id, stable per object version
  body        TEXT    NOT NULL,                -- the event as JSON
  created_at  INTEGER NOT NULL                 -- ms since the Unix epoch
) WITHOUT ROWID;
