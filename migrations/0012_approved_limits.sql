-- The size limit in force when an upload that spans requests was created (the token's, a
-- URL's, or a lower one the approval hook set): later parts, chunks and the completion are
-- held to it as well as to their own caller's. NULL: no limit beyond the caller's.
ALTER TABLE multipart_uploads ADD COLUMN max_size INTEGER;
ALTER TABLE tus_uploads ADD COLUMN max_size INTEGER;
