-- API tokens get an id (to list and revoke them), their last use and an optional expiry; login
-- failures are counted per client address as well as per user; the bootstrap admin's one-time
-- password must be changed at the first login.
CREATE TABLE api_tokens_new (
    id           INTEGER PRIMARY KEY AUTOINCREMENT,
    token_hash   TEXT NOT NULL UNIQUE,
    employee_id  INTEGER NOT NULL REFERENCES employees(id),
    label        TEXT NOT NULL DEFAULT '',
    created_ms   INTEGER NOT NULL,
    last_used_ms INTEGER,
    expires_ms   INTEGER
);
INSERT INTO api_tokens_new (token_hash, employee_id, label, created_ms)
    SELECT token_hash, employee_id, label, created_ms FROM api_tokens ORDER BY created_ms, token_hash;
DROP TABLE api_tokens;
ALTER TABLE api_tokens_new RENAME TO api_tokens;
CREATE INDEX api_tokens_employee ON api_tokens(employee_id);

ALTER TABLE login_failures ADD COLUMN address TEXT NOT NULL DEFAULT '';
DROP INDEX login_failures_user;
CREATE INDEX login_failures_user ON login_failures(username, address, at_ms);
CREATE INDEX login_failures_address ON login_failures(address, at_ms);
CREATE INDEX login_failures_at ON login_failures(at_ms);

ALTER TABLE employees ADD COLUMN must_change_password INTEGER NOT NULL DEFAULT 0;
