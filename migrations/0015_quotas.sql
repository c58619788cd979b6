-- Storage quotas per owner. owner_usage holds what each owner's rows in this database take,
-- kept by triggers in the same statement as every change to objects, so it is exact whichever
-- path wrote the row (one more row written per commit or delete); the sweep recomputes it from
-- the rows and reports any drift. (Upserts, not INSERT OR IGNORE: a trigger's OR IGNORE would
-- take the conflict policy of the statement that fired it.)
-- quota_reservations holds what uploads in flight will add, each reserved atomically against
-- the limit before its body is read: a single PUT's bytes, a part's, a tus chunk's (removed by
-- the statement that records them), and the object a multipart, tus or direct upload will
-- make (removed by its commit, or when it is given up). Parts and tus bytes already stored
-- count through multipart_uploads.part_bytes and tus_uploads.upload_offset.
CREATE TABLE owner_usage (
  owner   TEXT PRIMARY KEY,
  bytes   INTEGER NOT NULL DEFAULT 0,
  objects INTEGER NOT NULL DEFAULT 0
) WITHOUT ROWID;
INSERT INTO owner_usage (owner, bytes, objects) SELECT owner, SUM(size), COUNT(*) FROM objects GROUP BY owner;

CREATE TRIGGER owner_usage_insert AFTER INSERT ON objects
BEGIN
  INSERT INTO owner_usage (owner, bytes, objects) VALUES (NEW.owner, NEW.size, 1)
    ON CONFLICT(owner) DO UPDATE SET bytes = bytes + excluded.bytes, objects = objects + 1;
END;

CREATE TRIGGER owner_usage_delete AFTER DELETE ON objects
BEGIN
  UPDATE owner_usage SET bytes = bytes - OLD.size, objects = objects - 1 WHERE owner = OLD.owner;
END;

-- An overwrite by the same owner is one update of the difference.
CREATE TRIGGER owner_usage_update AFTER UPDATE OF size, owner ON objects
BEGIN
  UPDATE owner_usage SET bytes = bytes - OLD.size + NEW.size WHERE owner = NEW.owner AND OLD.owner = NEW.owner;
  UPDATE owner_usage SET bytes = bytes - OLD.size, objects = objects - 1
    WHERE owner = OLD.owner AND OLD.owner != NEW.owner;
  INSERT INTO owner_usage (owner, bytes, objects) SELECT NEW.owner, NEW.size, 1 WHERE OLD.owner != NEW.owner
    ON CONFLICT(owner) DO UPDATE SET bytes = bytes + excluded.bytes, objects = objects + 1;
END;

CREATE TABLE quota_reservations (
  id       TEXT PRIMARY KEY,                   -- the upload's journal id (request, upload or nonce)
  owner    TEXT    NOT NULL,
  bytes    INTEGER NOT NULL,
  objects  INTEGER NOT NULL,
  until_ms INTEGER NOT NULL                    -- ms since the Unix epoch: ignored, then purged, after
) WITHOUT ROWID;
CREATE INDEX quota_reservations_by_owner ON quota_reservations (owner, until_ms);
CREATE INDEX quota_reservations_by_until ON quota_reservations (until_ms);

-- Where the sweep's reconciliation of owner_usage goes on next (one batch of owners per run),
-- and when it last ran: a Durable Object shard with owners comes due for it daily.
CREATE TABLE quota_reconcile (cursor TEXT NOT NULL, reconciled_at INTEGER NOT NULL);
INSERT INTO quota_reconcile (cursor, reconciled_at) VALUES ('', 0);

CREATE INDEX multipart_uploads_by_owner ON multipart_uploads (owner);
CREATE INDEX tus_uploads_by_owner ON tus_uploads (owner);
