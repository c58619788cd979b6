-- Metadata the approval hook set for an upload (a JSON object of strings), recorded with the
-- version and carried by the uploads that span requests until their version is committed.
ALTER TABLE objects ADD COLUMN metadata TEXT;
ALTER TABLE replaced_versions ADD COLUMN metadata TEXT;
ALTER TABLE multipart_uploads ADD COLUMN metadata TEXT;
ALTER TABLE tus_uploads ADD COLUMN object_metadata TEXT;
ALTER TABLE presigned_uploads ADD COLUMN metadata TEXT;
