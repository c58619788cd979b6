-- Each attempt to store a part owns its reservation: a row here, keyed by the request's id,
-- which only that attempt releases (its upload failed) or replaces by the recorded part (it
-- succeeded). multipart_parts now holds recorded parts only, so a failed or late attempt can
-- never reset or delete a part another attempt recorded and the client was told about.
-- `until_ms` bounds a reservation whose Worker died before it could release it.
CREATE TABLE multipart_attempts (
  upload_id   TEXT    NOT NULL,
  attempt     TEXT    NOT NULL,                -- the request id of the attempt
  part_number INTEGER NOT NULL,
  size        INTEGER NOT NULL,
  until_ms    INTEGER NOT NULL,                -- ms since the Unix epoch
  PRIMARY KEY (upload_id, attempt)
) WITHOUT ROWID;

-- Reservations written under the old scheme (a part row with an empty ETag) are attempts whose
-- request has long ended.
DELETE FROM multipart_parts WHERE etag = '';
