-- Postkorb schema (PostgreSQL). Times are unix milliseconds, flags 0/1 integers, so the same queries
-- run on PostgreSQL.

CREATE TABLE employees (
    id            BIGSERIAL PRIMARY KEY,
    name          TEXT NOT NULL,
    username      TEXT UNIQUE,
    is_current    BIGINT NOT NULL DEFAULT 1,
    license       TEXT,
    work_email    TEXT,
    permissions   TEXT NOT NULL DEFAULT '',
    password_hash TEXT,
    created_ms    BIGINT NOT NULL
);
CREATE INDEX employees_work_email ON employees(work_email);

CREATE TABLE sender_routes (
    id            BIGSERIAL PRIMARY KEY,
    from_employee BIGINT NOT NULL REFERENCES employees(id),
    to_employee   BIGINT NOT NULL REFERENCES employees(id),
    created_ms    BIGINT NOT NULL,
    UNIQUE (from_employee, to_employee)
);

CREATE TABLE mailboxes (
    id              BIGSERIAL PRIMARY KEY,
    name            TEXT NOT NULL UNIQUE,
    protocol        TEXT NOT NULL,
    host            TEXT NOT NULL DEFAULT '',
    port            BIGINT NOT NULL DEFAULT 0,
    tls             TEXT NOT NULL DEFAULT 'implicit',
    username        TEXT NOT NULL DEFAULT '',
    secret          BYTEA,
    folder          TEXT NOT NULL DEFAULT 'INBOX',
    disposal        TEXT NOT NULL DEFAULT 'move',
    target_folder   TEXT NOT NULL DEFAULT 'Postkorb/Importiert',
    maildir_path    TEXT,
    poll_secs       BIGINT NOT NULL DEFAULT 60,
    enabled         BIGINT NOT NULL DEFAULT 1,
    last_success_ms BIGINT,
    last_error      TEXT,
    last_error_ms   BIGINT,
    waiting_on_server BIGINT,
    updated_ms      BIGINT NOT NULL
);

CREATE TABLE raw_messages (
    id     BIGSERIAL PRIMARY KEY,
    fingerprint TEXT NOT NULL,
    size   BIGINT NOT NULL,
    data   BYTEA NOT NULL
);

-- One row per message ever seen on a mailbox; the unique key makes a second import impossible.
CREATE TABLE ledger (
    id          BIGSERIAL PRIMARY KEY,
    mailbox_id  BIGINT NOT NULL REFERENCES mailboxes(id),
    source_key  TEXT NOT NULL,
    fingerprint TEXT NOT NULL,
    message_id  TEXT,
    outcome     TEXT NOT NULL,          -- case | kept | duplicate
    case_id     BIGINT,
    kept_id     BIGINT,
    duplicate_of BIGINT,
    imported_ms BIGINT NOT NULL,
    disposed_ms BIGINT,
    UNIQUE (mailbox_id, source_key)
);
CREATE INDEX ledger_fingerprint ON ledger(mailbox_id, fingerprint);
CREATE INDEX ledger_undisposed ON ledger(mailbox_id, disposed_ms);

CREATE TABLE cases (
    id               BIGSERIAL PRIMARY KEY,
    mailbox_id       BIGINT,
    raw_id           BIGINT NOT NULL REFERENCES raw_messages(id),
    subject          TEXT NOT NULL,
    from_addr        TEXT NOT NULL,
    from_name        TEXT,
    sender_employee  BIGINT REFERENCES employees(id),
    sent_ms          BIGINT,
    received_ms      BIGINT NOT NULL,
    body_text        TEXT NOT NULL,
    body_html        TEXT,
    forwarded_json   TEXT,
    warnings_json    TEXT NOT NULL DEFAULT '[]',
    status           TEXT NOT NULL,     -- waiting | open | done
    assignee         BIGINT REFERENCES employees(id),
    claimed_ms       BIGINT,
    closed_ms        BIGINT
);
CREATE INDEX cases_assignee ON cases(assignee, status, received_ms);
CREATE INDEX cases_waiting ON cases(status);

CREATE TABLE case_candidates (
    case_id     BIGINT NOT NULL REFERENCES cases(id),
    employee_id BIGINT NOT NULL REFERENCES employees(id),
    PRIMARY KEY (case_id, employee_id)
);
CREATE INDEX case_candidates_employee ON case_candidates(employee_id);

CREATE TABLE attachments (
    id           BIGSERIAL PRIMARY KEY,
    case_id      BIGINT NOT NULL REFERENCES cases(id),
    position     BIGINT NOT NULL,
    name         TEXT NOT NULL,
    content_type TEXT NOT NULL,
    content_id   TEXT,
    size         BIGINT NOT NULL,
    data         BYTEA NOT NULL
);
CREATE INDEX attachments_case ON attachments(case_id);

CREATE TABLE case_events (
    id          BIGSERIAL PRIMARY KEY,
    case_id     BIGINT NOT NULL REFERENCES cases(id),
    at_ms       BIGINT NOT NULL,
    kind        TEXT NOT NULL,          -- created | claimed | closed | reopened
    employee_id BIGINT,
    detail      TEXT NOT NULL DEFAULT ''
);
CREATE INDEX case_events_case ON case_events(case_id);

-- „Nicht zugeordnete E-Mails“: every mail that did not become a Vorgang, with its reason.
CREATE TABLE kept (
    id            BIGSERIAL PRIMARY KEY,
    mailbox_id    BIGINT,
    raw_id        BIGINT NOT NULL REFERENCES raw_messages(id),
    reason_code   TEXT NOT NULL,
    reason_detail TEXT NOT NULL DEFAULT '',
    from_addr     TEXT,
    subject       TEXT NOT NULL DEFAULT '',
    received_ms   BIGINT NOT NULL,
    kept_ms       BIGINT NOT NULL,
    status        TEXT NOT NULL DEFAULT 'open',   -- open | routed | discarded
    resolved_by   TEXT,
    resolved_ms   BIGINT,
    case_id       BIGINT
);
CREATE INDEX kept_status ON kept(status, kept_ms);

CREATE TABLE audit_log (
    id     BIGSERIAL PRIMARY KEY,
    at_ms  BIGINT NOT NULL,
    actor  TEXT NOT NULL,
    action TEXT NOT NULL,
    detail TEXT NOT NULL DEFAULT ''
);
