-- PostgreSQL only (the sweeps of its list of the index's words are counted, migration 0037);
-- SQLite's FTS5 keeps its own words.
SELECT 1;
