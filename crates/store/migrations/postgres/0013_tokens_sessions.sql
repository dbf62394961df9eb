-- API tokens get an id (to list and revoke them), their last use and an optional expiry; login
-- failures are counted per client address as well as per user; the bootstrap admin's one-time
-- password must be changed at the first login.
ALTER TABLE api_tokens DROP CONSTRAINT api_tokens_pkey;
ALTER TABLE api_tokens ADD COLUMN id BIGSERIAL PRIMARY KEY;
ALTER TABLE api_tokens ADD CONSTRAINT api_tokens_token_hash_key UNIQUE (token_hash);
ALTER TABLE api_tokens ADD COLUMN last_used_ms BIGINT;
ALTER TABLE api_tokens ADD COLUMN expires_ms BIGINT;
CREATE INDEX api_tokens_employee ON api_tokens(employee_id);

ALTER TABLE login_failures ADD COLUMN address TEXT NOT NULL DEFAULT '';
DROP INDEX login_failures_user;
CREATE INDEX login_failures_user ON login_failures(username, address, at_ms);
CREATE INDEX login_failures_address ON login_failures(address, at_ms);
CREATE INDEX login_failures_at ON login_failures(at_ms);

ALTER TABLE employees ADD COLUMN must_change_password BIGINT NOT NULL DEFAULT 0;
