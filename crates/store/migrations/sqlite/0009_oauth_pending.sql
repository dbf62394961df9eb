-- Browser (PKCE) OAuth flows in progress: kept in the database, not in one instance's memory, so
-- the provider's redirect may reach any instance. One use, short-lived.
CREATE TABLE oauth_pending (
    state_hash  TEXT PRIMARY KEY,
    mailbox     TEXT NOT NULL,
    employee_id INTEGER NOT NULL,
    payload     BLOB NOT NULL,   -- encrypted JSON: connect settings and the PKCE verifier
    created_ms  INTEGER NOT NULL
);
