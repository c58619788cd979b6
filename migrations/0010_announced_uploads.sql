-- Small single PUTs write one row and nothing else: instead of a journal entry and an outbox
-- row, the upload sends a pending-commit message to the EVENTS queue before its store write, and
-- commits in one statement that D1 applies only before the message's deadline by its own clock;
-- the queue's consumer later settles the message against the row (see docs/architecture.md).
--
-- objects becomes a WITHOUT ROWID table: its primary key is the table instead of a second
-- index beside the rowid, so a new row is two rows written (the row and its owner-index
-- entry) instead of three. `announced` marks rows committed that way.
CREATE TABLE objects_new (
  key             TEXT PRIMARY KEY,
  owner           TEXT    NOT NULL,
  size            INTEGER NOT NULL,
  content_type    TEXT    NOT NULL,
  etag            TEXT    NOT NULL,
  checksum_sha256 TEXT,
  checksum_md5    TEXT,
  status          TEXT    NOT NULL CHECK (status IN ('pending', 'complete')),
  detected_type   TEXT,
  type_matches    INTEGER,
  created_at      INTEGER NOT NULL,
  completed_at    INTEGER,
  storage_key     TEXT,
  announced       INTEGER NOT NULL DEFAULT 0   -- 1: its pending-commit message reads this row
) WITHOUT ROWID;
INSERT INTO objects_new (key, owner, size, content_type, etag, checksum_sha256, checksum_md5, status,
                         detected_type, type_matches, created_at, completed_at, storage_key)
  SELECT key, owner, size, content_type, etag, checksum_sha256, checksum_md5, status,
         detected_type, type_matches, created_at, completed_at, storage_key FROM objects;
DROP TABLE objects;
ALTER TABLE objects_new RENAME TO objects;
CREATE INDEX objects_by_owner ON objects (owner, status, created_at DESC, key DESC);

-- An announced row that is replaced or deleted is copied here, so its pending-commit message,
-- if it comes later, still finds the version committed and delivers its event. Kept 15 days
-- (longer than a queue keeps a message), then purged by the sweep.
CREATE TABLE replaced_versions (
  key             TEXT    NOT NULL,
  storage_key     TEXT    NOT NULL,
  owner           TEXT    NOT NULL,
  size            INTEGER NOT NULL,
  content_type    TEXT    NOT NULL,
  etag            TEXT    NOT NULL,
  checksum_sha256 TEXT,
  checksum_md5    TEXT,
  status          TEXT    NOT NULL,
  detected_type   TEXT,
  type_matches    INTEGER,
  created_at      INTEGER NOT NULL,
  completed_at    INTEGER,
  replaced_at     INTEGER NOT NULL,            -- ms since the Unix epoch
  PRIMARY KEY (key, storage_key)
) WITHOUT ROWID;
CREATE INDEX replaced_versions_by_time ON replaced_versions (replaced_at);

-- Every commit that makes a row name a new version journals the version it replaced for
-- deletion (and keeps a copy of an announced one) in the statement that replaces it, whichever
-- statement that is: so a commit can be a single statement.
CREATE TRIGGER objects_version_replaced AFTER UPDATE OF storage_key ON objects
WHEN OLD.storage_key IS NOT NEW.storage_key
BEGIN
  INSERT OR IGNORE INTO pending_uploads (id, key, owner, started_at, storage_key, due_at, claimed)
    VALUES ('gc:' || OLD.storage_key, OLD.key, OLD.owner, NEW.created_at, OLD.storage_key, NEW.created_at, 0);
  INSERT OR IGNORE INTO replaced_versions (key, storage_key, owner, size, content_type, etag, checksum_sha256,
      checksum_md5, status, detected_type, type_matches, created_at, completed_at, replaced_at)
    SELECT OLD.key, OLD.storage_key, OLD.owner, OLD.size, OLD.content_type, OLD.etag, OLD.checksum_sha256,
      OLD.checksum_md5, OLD.status, OLD.detected_type, OLD.type_matches, OLD.created_at, OLD.completed_at,
      NEW.created_at
    WHERE OLD.announced = 1;
END;
