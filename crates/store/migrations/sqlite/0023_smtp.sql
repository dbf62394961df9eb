-- Sending mail (issue 17): the office's one SMTP account („E-Mail-Versand“), and the
-- Eingangsbestätigung — its settings per mailbox (off by default), and when each sender was last
-- answered (at most once per sender per `ack_hours`, `Store::ack_claim`).
CREATE TABLE smtp_settings (
    id             INTEGER PRIMARY KEY CHECK (id = 1),
    host           TEXT NOT NULL,
    port           INTEGER NOT NULL,
    tls            TEXT NOT NULL,
    username       TEXT NOT NULL DEFAULT '',
    -- The password, sealed by the app for this endpoint (`SmtpRecord::secret_binding`).
    secret         BLOB,
    ca_file        TEXT,
    sender_address TEXT NOT NULL,
    sender_name    TEXT NOT NULL DEFAULT '',
    updated_ms     INTEGER NOT NULL
);
ALTER TABLE mailboxes ADD COLUMN ack_enabled INTEGER NOT NULL DEFAULT 0;
ALTER TABLE mailboxes ADD COLUMN ack_text TEXT NOT NULL DEFAULT '';
ALTER TABLE mailboxes ADD COLUMN ack_hours INTEGER NOT NULL DEFAULT 24;
ALTER TABLE mailboxes ADD COLUMN ack_unassigned INTEGER NOT NULL DEFAULT 0;
ALTER TABLE mailboxes ADD COLUMN ack_unassigned_text TEXT NOT NULL DEFAULT '';
CREATE TABLE ack_sent (
    mailbox_id INTEGER NOT NULL REFERENCES mailboxes(id),
    -- The sender's address, lower case.
    sender     TEXT NOT NULL,
    sent_ms    INTEGER NOT NULL,
    PRIMARY KEY (mailbox_id, sender)
);
-- What the Eingangsbestätigung of a kept mail needs (JSON of `postkorb_core::ack::AckFacts`; a
-- Vorgang has it in its `created` event's payload).
ALTER TABLE kept ADD COLUMN ack_facts TEXT;
