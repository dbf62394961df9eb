-- „Suche“, a lighter index: SQLite's FTS5 table is rebuilt with `detail = column` and the `ascii`
-- tokenizer (see the SQLite migration). PostgreSQL's `tsvector` (`simple` configuration) keeps
-- positions in the row and is not changed: nothing to do here.
SELECT 1;
