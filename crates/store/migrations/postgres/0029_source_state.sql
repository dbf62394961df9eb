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
