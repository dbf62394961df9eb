-- What a mail source hands from one clean pass to the next (issue 20): for a Microsoft Graph
-- mailbox its folder's delta link and the messages listed before that are still waiting (JSON of
-- `postkorb_source::SyncState`). Written only after a pass committed and disposed of cleanly, so a
-- failed pass is repeated from the old state; a lost row means a full listing, which the ledger
-- keeps free of duplicates.
CREATE TABLE source_state (
    mailbox_id  BIGINT PRIMARY KEY REFERENCES mailboxes(id) ON DELETE CASCADE,
    state       TEXT NOT NULL,
    updated_ms  BIGINT NOT NULL
);

-- Microsoft Graph change notifications: one subscription per mailbox, so new mail starts a pass at
-- once (the delta query stays the safety net). The clientState that authenticates a notification
-- is kept as its SHA-256 only; a notification sets notified_ms, which the waiting loop of whichever
-- instance holds the mailbox's lease sees.
CREATE TABLE graph_subscriptions (
    mailbox_id          BIGINT PRIMARY KEY REFERENCES mailboxes(id) ON DELETE CASCADE,
    subscription_id     TEXT NOT NULL,
    client_state_sha256 TEXT NOT NULL,
    expires_ms          BIGINT NOT NULL,
    notified_ms         BIGINT
);
CREATE UNIQUE INDEX graph_subscriptions_by_id ON graph_subscriptions (subscription_id);
