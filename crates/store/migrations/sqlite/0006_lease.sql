-- The fetch lease: at most one instance reads a mailbox at a time. Taken and renewed with one
-- conditional upsert (free, expired, or already ours), released on a clean stop, taken over by
-- another instance once expires_ms has passed (the holder died).
CREATE TABLE mailbox_leases (
    mailbox_id  INTEGER PRIMARY KEY REFERENCES mailboxes(id) ON DELETE CASCADE,
    holder      TEXT NOT NULL,
    expires_ms  INTEGER NOT NULL,
    taken_ms    INTEGER NOT NULL
);
