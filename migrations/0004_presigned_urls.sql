-- Direct (S3) upload URLs handed out and not yet confirmed: what was signed, so the confirm
-- step can check the object against it. Each also has a `pending_uploads` entry (id = nonce)
-- starting at `expires_at`, through which the sweep removes objects never confirmed.
CREATE TABLE presigned_uploads (
  nonce        TEXT PRIMARY KEY,
  key          TEXT    NOT NULL,
  owner        TEXT    NOT NULL,
  content_type TEXT    NOT NULL,
  size         INTEGER,                        -- exact size signed into the URL, if declared
  max_size     INTEGER NOT NULL,
  created_at   INTEGER NOT NULL,               -- ms since the Unix epoch
  expires_at   INTEGER NOT NULL                -- ms since the Unix epoch
);

CREATE INDEX presigned_uploads_by_key ON presigned_uploads (key, owner, created_at);
CREATE INDEX presigned_uploads_by_expiry ON presigned_uploads (expires_at);

-- Nonces of single-use gateway upload URLs that have been used; kept until the URL expires.
CREATE TABLE used_nonces (
  nonce      TEXT PRIMARY KEY,
  expires_at INTEGER NOT NULL                  -- ms since the Unix epoch
);

CREATE INDEX used_nonces_by_expiry ON used_nonces (expires_at);
