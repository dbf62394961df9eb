-- The minute check for due Wiedervorlagen (`case_write::announce_due`) read every open Vorgang at
-- 1,000,000 rows (241 ms a minute, in a write transaction that held the import's commit back):
-- without statistics (Postkorb runs no ANALYZE) SQLite preferred `cases_waiting (status)` for
-- `status = 'open'` over the partial index of migration 0024, which begins with the date. With
-- the status first the partial index answers both the equality and the date range, and wins.
DROP INDEX cases_follow_up_unannounced;
CREATE INDEX cases_follow_up_unannounced ON cases(status, follow_up_ms, id)
    WHERE status = 'open' AND follow_up_ms IS NOT NULL AND follow_up_announced_ms IS NULL;
