-- QUARANTINE=true: a new version is recorded with scan = 'pending' and served to nobody until a
-- verdict clears it (scan becomes NULL) or deletes it. NULL: served. The partial index lets the
-- sweep find versions whose scan is overdue without reading the others.
ALTER TABLE objects ADD COLUMN scan TEXT;
ALTER TABLE replaced_versions ADD COLUMN scan TEXT;
CREATE INDEX objects_by_pending_scan ON objects (created_at) WHERE scan IS NOT NULL;
