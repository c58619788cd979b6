-- tus uploads in progress (and finished ones, until they expire, so a client resuming with
-- the upload URL learns it is done). `upload_offset` counts the bytes the store holds: the
-- parts plus the staged chunks. A request writes only under the lease (`lease`,
-- `lease_until`), taken with a compare-and-set on the offset.
CREATE TABLE tus_uploads (
  id              TEXT PRIMARY KEY,
  key             TEXT    NOT NULL,
  owner           TEXT    NOT NULL,            -- the creating token's `sub`
  storage_key     TEXT    NOT NULL,            -- where the store assembles the object
  content_type    TEXT    NOT NULL,
  metadata        TEXT,                        -- Upload-Metadata as sent
  length          INTEGER,                     -- NULL while deferred
  upload_offset   INTEGER NOT NULL DEFAULT 0,
  part_size       INTEGER,
  parts           INTEGER NOT NULL DEFAULT 0,
  store_upload_id TEXT,                        -- the store's multipart upload, once opened
  lease           TEXT,                        -- the request writing now
  lease_until     INTEGER,                     -- ms since the Unix epoch
  created_at      INTEGER NOT NULL,
  expires_at      INTEGER NOT NULL
);

CREATE INDEX tus_uploads_by_expiry ON tus_uploads (expires_at);

-- Chunks stored whole and not yet inside a part: upload bytes start .. start + length.
CREATE TABLE tus_chunks (
  upload_id TEXT    NOT NULL,
  start     INTEGER NOT NULL,
  length    INTEGER NOT NULL,
  name      TEXT    NOT NULL,
  PRIMARY KEY (upload_id, start)
);

-- Parts the store holds.
CREATE TABLE tus_parts (
  upload_id   TEXT    NOT NULL,
  part_number INTEGER NOT NULL,
  size        INTEGER NOT NULL,
  etag        TEXT    NOT NULL,
  PRIMARY KEY (upload_id, part_number)
);
