-- „Suche“ with PostgreSQL, faster for a clerk (issue 16): who may see a Vorgang (`seen`, migration
-- 0025) goes into the `tsvector` itself, as lexemes `/seen/u{id}` — written like a file path,
-- which the `simple` parser keeps whole and no query word can begin (the analyser splits words at
-- `/`; a query word is a prefix). A clerk's search asks `doc @@ (words & (/seen/u3 | …))`, and GIN intersects the
-- word's short list with the clerk's long one; with `seen` in a second GIN index PostgreSQL built a
-- bitmap of all of the clerk's Vorgänge for every search (37 of a 62 ms statement at 1,000,000,
-- bench/search.py). `doc` is regenerated whenever `seen` changes (`search::refresh_seen`).
DROP INDEX case_search_seen;
ALTER TABLE case_search DROP COLUMN doc;
ALTER TABLE case_search ADD COLUMN doc tsvector GENERATED ALWAYS AS (
    setweight(to_tsvector('simple', subject), 'A')
    || setweight(to_tsvector('simple', sender), 'B')
    || setweight(to_tsvector('simple', attachments), 'B')
    || setweight(to_tsvector('simple', notes), 'C')
    || setweight(to_tsvector('simple', body), 'D')
    || to_tsvector('simple', regexp_replace(seen, '(u[0-9]+)', '/seen/\1', 'g'))
) STORED;
CREATE INDEX case_search_doc ON case_search USING GIN (doc);
