-- Issue 18 item 7, encryption at rest of mail content (`crates/store/src/seal.rs`).
--
-- `sealed`: NULL — the bytes (in `data` or the blob file `blob`) are plain, as before; else they are
-- sealed (XChaCha20-Poly1305) and this is the keyed hash of the plain bytes, their name. A sealed
-- blob file is named by it too, so file names reveal nothing about the content.
ALTER TABLE raw_messages ADD COLUMN sealed TEXT;
ALTER TABLE attachments ADD COLUMN sealed TEXT;

-- The setting „Inhalte verschlüsselt speichern“: a name without a row has its default. `seal_new`
-- (1/0): new mails are stored sealed; on by default for a new installation, off for one that has
-- mails already (its owner converts with `postkorb encryption convert` and then switches it on).
CREATE TABLE mail_at_rest (
    name  TEXT PRIMARY KEY,
    value BIGINT NOT NULL
);
INSERT INTO mail_at_rest (name, value) SELECT 'seal_new', 0 WHERE EXISTS (SELECT 1 FROM raw_messages);
