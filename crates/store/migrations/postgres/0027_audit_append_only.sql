-- The audit log is append-only (issue 18, item 6): no statement may change a row, and rows leave
-- only through the retention run. That run declares what it deletes by inserting one row into
-- `audit_purge` inside its own transaction (`Store::purge_audit_log`, crates/store/src/audit.rs),
-- deletes rows older than its `before_ms`, and removes the row again before the commit: no other
-- transaction ever sees it. Any other UPDATE, DELETE or TRUNCATE raises. (The database's owner can
-- still drop the triggers: this guards against the application, not against the database's owner.)
CREATE TABLE audit_purge (
    before_ms BIGINT NOT NULL
);
CREATE FUNCTION audit_log_append_only() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
    IF TG_OP = 'DELETE' THEN
        IF EXISTS (SELECT 1 FROM audit_purge WHERE OLD.at_ms < audit_purge.before_ms) THEN
            RETURN OLD;
        END IF;
        RAISE EXCEPTION 'audit_log is append-only: only the retention run deletes old entries';
    END IF;
    RAISE EXCEPTION 'audit_log is append-only';
END $$;
CREATE TRIGGER audit_log_no_change BEFORE UPDATE OR DELETE ON audit_log
    FOR EACH ROW EXECUTE FUNCTION audit_log_append_only();
CREATE TRIGGER audit_log_no_truncate BEFORE TRUNCATE ON audit_log
    FOR EACH STATEMENT EXECUTE FUNCTION audit_log_append_only();
