-- „Suche“: PostgreSQL moves who may see a Vorgang into its `tsvector` (see the PostgreSQL
-- migration). SQLite's FTS5 table has `seen` as a column of its own index already: nothing to do.
SELECT 1;
