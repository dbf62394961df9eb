-- „Suche“: PostgreSQL adds each entry's group of 8 blocks to its `tsvector` (see the PostgreSQL
-- migration). SQLite's FTS5 walks its lists newest first by rowid already: nothing to do.
SELECT 1;
