-- One row per stored object. A row is written only after the store has accepted the
-- object, so a row never claims an object that is not there.
CREATE TABLE objects (
  key             TEXT PRIMARY KEY,
  owner           TEXT    NOT NULL,            -- the uploading token's `sub`
  size            INTEGER NOT NULL,            -- bytes
  content_type    TEXT    NOT NULL,            -- as declared by the client
  etag            TEXT    NOT NULL,            -- quoted HTTP entity tag from the store
  checksum_sha256 TEXT,                        -- base64, when the client sent one
  checksum_md5    TEXT,                        -- base64, when the client sent one
  status          TEXT    NOT NULL CHECK (status IN ('pending', 'complete')),
  detected_type   TEXT,                        -- from content sniffing (follow-up)
  type_matches    INTEGER,                     -- 1 / 0, NULL when unknown
  created_at      INTEGER NOT NULL,            -- ms since the Unix epoch
  completed_at    INTEGER                      -- ms since the Unix epoch
);

CREATE INDEX objects_by_owner ON objects (owner, status, created_at DESC, key DESC);
