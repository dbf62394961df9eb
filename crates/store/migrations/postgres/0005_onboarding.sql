-- Per-mailbox extra CA certificate (PEM path) and the onboarding cut-off: mails dated before
-- import_since_ms are left untouched on the server (0 = import everything).
ALTER TABLE mailboxes ADD COLUMN ca_file TEXT;
ALTER TABLE mailboxes ADD COLUMN import_since_ms BIGINT NOT NULL DEFAULT 0;
