-- Web sessions, API tokens, and the "new since my last visit" marker.
CREATE TABLE sessions (
    token_hash  TEXT PRIMARY KEY,
    employee_id BIGINT NOT NULL REFERENCES employees(id),
    csrf        TEXT NOT NULL,
    created_ms  BIGINT NOT NULL,
    expires_ms  BIGINT NOT NULL
);
CREATE INDEX sessions_employee ON sessions(employee_id);

CREATE TABLE api_tokens (
    token_hash  TEXT PRIMARY KEY,
    employee_id BIGINT NOT NULL REFERENCES employees(id),
    label       TEXT NOT NULL DEFAULT '',
    created_ms  BIGINT NOT NULL
);

CREATE TABLE login_failures (
    id         BIGSERIAL PRIMARY KEY,
    username   TEXT NOT NULL,
    at_ms      BIGINT NOT NULL
);
CREATE INDEX login_failures_user ON login_failures(username, at_ms);

ALTER TABLE employees ADD COLUMN last_seen_ms BIGINT;
