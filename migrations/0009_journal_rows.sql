-- Fewer rows written per upload (D1 counts every index entry a write touches): the upload
-- journal becomes a WITHOUT ROWID table (its primary key is the table, not a second index)
-- and loses the index on started_at, which no query uses. An entry is then two rows written
-- (the entry and its due_at index entry) instead of four. The journal holds only uploads in
-- flight and versions awaiting deletion, so the copy is small.
CREATE TABLE pending_uploads_new (
  id          TEXT PRIMARY KEY,
  key         TEXT    NOT NULL,
  owner       TEXT    NOT NULL,
  started_at  INTEGER NOT NULL,                -- ms since the Unix epoch
  storage_key TEXT,                            -- the stored name the entry owns
  due_at      INTEGER,                         -- when the sweep may act on it
  claimed     INTEGER NOT NULL DEFAULT 0       -- 1 once the sweep has claimed it
) WITHOUT ROWID;
INSERT INTO pending_uploads_new (id, key, owner, started_at, storage_key, due_at, claimed)
  SELECT id, key, owner, started_at, storage_key, due_at, claimed FROM pending_uploads;
DROP TABLE pending_uploads;
ALTER TABLE pending_uploads_new RENAME TO pending_uploads;
CREATE INDEX pending_uploads_by_due ON pending_uploads (due_at);
