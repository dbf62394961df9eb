-- Mails whose sender check failed only on DNS (timeout, server failure) stay on the server and are
-- tried again with back-off; this remembers, across passes and restarts, when that first happened
-- (after the give-up time the mail is kept as „Absender nicht verifiziert (DNS nicht erreichbar)“)
-- and when to fetch it next. A row goes when its mail is stored.
CREATE TABLE dns_retries (
    mailbox_id  BIGINT NOT NULL REFERENCES mailboxes(id) ON DELETE CASCADE,
    source_key  TEXT NOT NULL,
    first_ms    BIGINT NOT NULL,
    tries       BIGINT NOT NULL,
    next_ms     BIGINT NOT NULL,
    PRIMARY KEY (mailbox_id, source_key)
);
