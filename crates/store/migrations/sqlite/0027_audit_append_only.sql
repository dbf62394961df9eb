-- The audit log is append-only (issue 18, item 6): no statement may change a row, and rows leave
-- only through the retention run. That run declares what it deletes by inserting one row into
-- `audit_purge` inside its own transaction (`Store::purge_audit_log`, crates/store/src/audit.rs),
-- deletes rows older than its `before_ms`, and removes the row again before the commit: nobody else
-- ever sees it. Any other UPDATE or DELETE aborts. (Whoever owns the database file can still drop the
-- triggers: this guards against the application, not against the database's owner.)
CREATE TABLE audit_purge (
    before_ms INTEGER NOT NULL
);
CREATE TRIGGER audit_log_no_update BEFORE UPDATE ON audit_log
BEGIN
    SELECT RAISE(ABORT, 'audit_log is append-only');
END;
CREATE TRIGGER audit_log_no_delete BEFORE DELETE ON audit_log
WHEN NOT EXISTS (SELECT 1 FROM audit_purge WHERE OLD.at_ms < audit_purge.before_ms)
BEGIN
    SELECT RAISE(ABORT, 'audit_log is append-only: only the retention run deletes old entries');
END;
