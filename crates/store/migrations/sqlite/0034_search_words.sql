-- „Suche“: PostgreSQL keeps the words of its index in a table of their own, to ask GIN for the
-- words a query word begins (see the PostgreSQL migration). SQLite's FTS5 has its own list of
-- words with a prefix index: nothing to do.
SELECT 1;
