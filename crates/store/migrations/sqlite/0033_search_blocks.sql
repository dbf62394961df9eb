-- „Suche“: PostgreSQL adds each entry's block of Vorgänge by id to its `tsvector` (see the
-- PostgreSQL migration). SQLite's FTS5 walks its lists newest first by rowid already: nothing to do.
SELECT 1;
