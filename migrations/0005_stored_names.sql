-- Each write is stored under a name of its own (`key~<32 hex>`); the row names the version a
-- key serves. Rows, journal entries and uploads written before keep their key as that name.
ALTER TABLE objects ADD COLUMN storage_key TEXT;
UPDATE objects SET storage_key = key WHERE storage_key IS NULL;

-- Each journal entry owns one stored name; the sweep acts on it once `due_at` has passed,
-- after claiming it (`claimed` = 1), from when on no commit through the entry can succeed.
ALTER TABLE pending_uploads ADD COLUMN storage_key TEXT;
ALTER TABLE pending_uploads ADD COLUMN due_at INTEGER;
ALTER TABLE pending_uploads ADD COLUMN claimed INTEGER NOT NULL DEFAULT 0;
UPDATE pending_uploads SET storage_key = key, due_at = started_at + 3600000 WHERE storage_key IS NULL;
CREATE INDEX pending_uploads_by_due ON pending_uploads (due_at);

ALTER TABLE multipart_uploads ADD COLUMN storage_key TEXT;
UPDATE multipart_uploads SET storage_key = key WHERE storage_key IS NULL;

ALTER TABLE presigned_uploads ADD COLUMN storage_key TEXT;
UPDATE presigned_uploads SET storage_key = key WHERE storage_key IS NULL;
