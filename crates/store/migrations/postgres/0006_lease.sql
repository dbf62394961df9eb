-- The fetch lease: at most one instance reads a mailbox at a time. Taken and renewed with one
-- conditional upsert (free, expired, or already ours), released on a clean stop, taken over by
-- another instance once expires_ms has passed (the holder died).
CREATE TABLE mailbox_leases (
    mailbox_id  BIGINT PRIMARY KEY REFERENCES mailboxes(id) ON DELETE CASCADE,
    holder      TEXT NOT NULL,
    expires_ms  BIGINT NOT NULL,
    taken_ms    BIGINT NOT NULL
);
