-- Uploads in flight: written while the body is streamed, removed in the same transaction
-- that writes the object's row (or when the upload fails). An entry left behind marks a key
-- whose write was cut off; the cleanup sweep reconciles it with the store.
CREATE TABLE pending_uploads (
  id         TEXT PRIMARY KEY,
  key        TEXT    NOT NULL,
  owner      TEXT    NOT NULL,
  started_at INTEGER NOT NULL                  -- ms since the Unix epoch
);

CREATE INDEX pending_uploads_by_start ON pending_uploads (started_at);
