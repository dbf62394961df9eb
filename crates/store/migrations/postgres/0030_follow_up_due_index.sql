-- The minute check for due Wiedervorlagen (`case_write::announce_due`): SQLite's index of
-- migration 0024 now begins with the status so its planner (without statistics) picks it; the same
-- index here keeps the two schemas alike (PostgreSQL chose the partial index either way).
DROP INDEX cases_follow_up_unannounced;
CREATE INDEX cases_follow_up_unannounced ON cases(status, follow_up_ms, id)
    WHERE status = 'open' AND follow_up_ms IS NOT NULL AND follow_up_announced_ms IS NULL;
