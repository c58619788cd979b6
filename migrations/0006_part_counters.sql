-- Each part's check reads a summary of the upload's other parts in a constant number of rows
-- (two counters here, plus index lookups), so an upload of n parts reads O(n) rows, not O(n^2).
-- Triggers keep the counters exact on every insert, resize and delete of a part row.
ALTER TABLE multipart_uploads ADD COLUMN part_count INTEGER NOT NULL DEFAULT 0;
ALTER TABLE multipart_uploads ADD COLUMN part_bytes INTEGER NOT NULL DEFAULT 0;
UPDATE multipart_uploads SET
  part_count = (SELECT count(*) FROM multipart_parts WHERE upload_id = multipart_uploads.id),
  part_bytes = (SELECT coalesce(sum(size), 0) FROM multipart_parts WHERE upload_id = multipart_uploads.id);

CREATE TRIGGER multipart_part_added AFTER INSERT ON multipart_parts
BEGIN
  UPDATE multipart_uploads SET part_count = part_count + 1, part_bytes = part_bytes + NEW.size WHERE id = NEW.upload_id;
END;

CREATE TRIGGER multipart_part_resized AFTER UPDATE OF size ON multipart_parts
BEGIN
  UPDATE multipart_uploads SET part_bytes = part_bytes - OLD.size + NEW.size WHERE id = NEW.upload_id;
END;

CREATE TRIGGER multipart_part_removed AFTER DELETE ON multipart_parts
BEGIN
  UPDATE multipart_uploads SET part_count = part_count - 1, part_bytes = part_bytes - OLD.size WHERE id = OLD.upload_id;
END;
