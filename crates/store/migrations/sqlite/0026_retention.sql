-- Issue 18, Aufbewahrungsfristen, Löschläufe, Löschprotokoll, Sperre (`crates/store/src/retention.rs`,
-- rules in `postkorb_core::retention`).

-- The periods the office set, one row per retention class (`RetentionClass::code`); a class without
-- a row has its default. Also `run_minute` (when the daily run starts, minutes after midnight on the
-- office's clock, default 150 = 02:30) and `last_run_day` (the office day, yyyymmdd, whose run was
-- taken: one conditional UPDATE, so of two instances one runs it).
CREATE TABLE retention_settings (
    name  TEXT PRIMARY KEY,
    value INTEGER NOT NULL
);

-- Löschprotokoll: one entry per deletion run and class that deleted something. `items`: JSON array of
-- {"id": …, "sha256": …} — the ids of what went and the SHA-256 of a mail's raw bytes, never content.
CREATE TABLE deletion_log (
    id     INTEGER PRIMARY KEY AUTOINCREMENT,
    at_ms  INTEGER NOT NULL,
    class  TEXT NOT NULL,
    count  INTEGER NOT NULL,
    items  TEXT NOT NULL,
    actor  TEXT NOT NULL DEFAULT ''
);
CREATE INDEX deletion_log_at ON deletion_log (at_ms);

-- Sperre on a Vorgang (case_id) or a kept mail (kept_id): kind 'retention' („Aufbewahrung“: never
-- deleted) or 'restriction' („Einschränkung der Verarbeitung“, Art. 18 DSGVO: never deleted, and
-- hidden from everyone without „Datenschutz verwalten“). It holds until lifted (lifted_ms); until_ms is
-- its end or review date, shown as „Überprüfung fällig“ once passed — a legal hold never ends by itself.
CREATE TABLE holds (
    id         INTEGER PRIMARY KEY AUTOINCREMENT,
    case_id    INTEGER,
    kept_id    INTEGER,
    kind       TEXT NOT NULL,
    reason     TEXT NOT NULL,
    until_ms   INTEGER NOT NULL,
    created_ms INTEGER NOT NULL,
    created_by TEXT NOT NULL,
    lifted_ms  INTEGER,
    lifted_by  TEXT
);
CREATE INDEX holds_case ON holds (case_id) WHERE lifted_ms IS NULL;
CREATE INDEX holds_kept ON holds (kept_id) WHERE lifted_ms IS NULL;

-- The deletion runs find what is due by these.
CREATE INDEX cases_done_closed ON cases (closed_ms) WHERE status = 'done';
CREATE INDEX kept_resolved ON kept (status, resolved_ms);
CREATE INDEX ledger_duplicate_of ON ledger (duplicate_of) WHERE duplicate_of IS NOT NULL;
CREATE INDEX ledger_case ON ledger (case_id) WHERE case_id IS NOT NULL;
CREATE INDEX ledger_kept ON ledger (kept_id) WHERE kept_id IS NOT NULL;
CREATE INDEX cases_raw ON cases (raw_id);
CREATE INDEX kept_raw ON kept (raw_id);
CREATE INDEX deliveries_case ON deliveries (case_id) WHERE case_id IS NOT NULL;
CREATE INDEX deliveries_kept ON deliveries (kept_id) WHERE kept_id IS NOT NULL;
CREATE INDEX audit_log_at ON audit_log (at_ms);
CREATE INDEX sessions_expires ON sessions (expires_ms);

-- SQLite only: a deleted Vorgang's terms leave the FTS5 index's segments at once (FTS5
-- `secure-delete`, SQLite 3.42+), not only at a later merge. PostgreSQL's tsvector is in the row.
INSERT INTO case_search (case_search, rank) VALUES ('secure-delete', 1);
