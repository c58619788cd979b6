-- An owner's quota across Durable Object shards (unused on D1, where one database holds every
-- owner). Each owner's ledger is the shard named by its own namespace (its home). A write whose
-- key lies in another shard reserves in both: in its key's shard, as any write does, with the
-- home's name; and at the home, against everything the owner has there and elsewhere. The key's
-- shard reports to the home what the owner takes there and which of those reservations ended:
--
-- quota_remote (at the home): what each other shard last reported the owner takes there
--   (rows and parts and tus bytes already stored), with the report's number.
-- quota_reservations.home: at the key's shard, the home a reservation was also made at; at the
--   home, '' for its copy of it.
-- quota_homes (at the key's shard): owners with a home elsewhere, the home, whether a change
--   awaits reporting, and the number of the last report.
-- quota_settled (at the key's shard): such reservations ended (their write recorded, released
--   or lapsed) and not yet reported.
CREATE TABLE quota_remote (
  owner   TEXT    NOT NULL,
  shard   TEXT    NOT NULL,
  bytes   INTEGER NOT NULL,
  objects INTEGER NOT NULL,
  version INTEGER NOT NULL,
  PRIMARY KEY (owner, shard)
) WITHOUT ROWID;

ALTER TABLE quota_reservations ADD COLUMN home TEXT;

CREATE TABLE quota_homes (
  owner   TEXT PRIMARY KEY,
  home    TEXT    NOT NULL,
  dirty   INTEGER NOT NULL DEFAULT 0,
  version INTEGER NOT NULL DEFAULT 0
) WITHOUT ROWID;

CREATE TABLE quota_settled (
  id    TEXT PRIMARY KEY,
  owner TEXT NOT NULL
) WITHOUT ROWID;

CREATE TRIGGER quota_reservation_settled AFTER DELETE ON quota_reservations
WHEN OLD.home IS NOT NULL AND OLD.home != ''
BEGIN
  INSERT OR IGNORE INTO quota_settled (id, owner) VALUES (OLD.id, OLD.owner);
  UPDATE quota_homes SET dirty = 1 WHERE owner = OLD.owner;
END;

CREATE TRIGGER quota_usage_added AFTER INSERT ON owner_usage
BEGIN
  UPDATE quota_homes SET dirty = 1 WHERE owner = NEW.owner;
END;

CREATE TRIGGER quota_usage_changed AFTER UPDATE ON owner_usage
BEGIN
  UPDATE quota_homes SET dirty = 1 WHERE owner = NEW.owner;
END;
