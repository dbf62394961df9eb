-- Attachments of new imports are not stored a second time beside the raw mail: `in_raw` = 1
-- means `data` is empty and the bytes are decoded from the case's raw message on download
-- (attachment number `position` of the parsed mail; `size` is checked). 0: the bytes are in
-- `data` or the blob directory, as before.
ALTER TABLE attachments ADD COLUMN in_raw BIGINT NOT NULL DEFAULT 0;
