-- Upload events not yet on the EVENTS queue. A commit or a delete writes its event here in the
-- same transaction as the row it changed; the request sends it right after answering and
-- deletes the row, and the sweep re-sends rows older than a minute (the send failed, or the
-- isolate went away first). Written only when the EVENTS queue is bound.
CREATE TABLE event_outbox (
  id          TEXT PRIMARY KEY,                -- the event's id, stable per object version
  body        TEXT    NOT NULL,                -- the event as JSON
  created_at  INTEGER NOT NULL                 -- ms since the Unix epoch
);
CREATE INDEX event_outbox_by_age ON event_outbox (created_at);
