-- Multipart uploads in progress. `id` is the gateway's id (the one clients see);
-- `store_upload_id` is the store's own and never leaves the gateway. Rows are removed when
-- the upload completes or is aborted, and by the sweep once `expires_at` has passed.
CREATE TABLE multipart_uploads (
  id              TEXT PRIMARY KEY,
  key             TEXT    NOT NULL,
  owner           TEXT    NOT NULL,            -- the starting token's `sub`
  store_upload_id TEXT    NOT NULL,
  content_type    TEXT    NOT NULL,
  declared_size   INTEGER,                     -- bytes, when the client declared a total
  created_at      INTEGER NOT NULL,            -- ms since the Unix epoch
  expires_at      INTEGER NOT NULL             -- ms since the Unix epoch
);

CREATE INDEX multipart_uploads_by_expiry ON multipart_uploads (expires_at);

-- The parts the store has accepted; re-sending a part number replaces its row.
CREATE TABLE multipart_parts (
  upload_id   TEXT    NOT NULL REFERENCES multipart_uploads (id) ON DELETE CASCADE,
  part_number INTEGER NOT NULL,
  size        INTEGER NOT NULL,
  etag        TEXT    NOT NULL,                -- as the store returned it
  PRIMARY KEY (upload_id, part_number)
);
