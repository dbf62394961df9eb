-- Raw mails and attachments may live in a blob directory (setting blob_dir) instead of the
-- database: then `blob` holds the SHA-256 (lowercase hex) of the bytes, the file is
-- BLOB_DIR/ab/cd/<hash>, and `data` is empty. NULL: the bytes are in `data` (the default).
ALTER TABLE raw_messages ADD COLUMN blob TEXT;
ALTER TABLE attachments ADD COLUMN blob TEXT;
CREATE INDEX raw_messages_blob ON raw_messages(blob);
CREATE INDEX attachments_blob ON attachments(blob);
