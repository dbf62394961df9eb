-- „Suche“ with PostgreSQL at 1,000,000 Vorgänge (issue 16): each entry's block of Vorgänge by id
-- (`case_id >> 14`, 16,384 ids a block) and its group of 8 blocks (`case_id >> 17`) go into its
-- `tsvector` as lexemes `/block/{n}` and `/block8/{g}`, written like a file path as `seen`'s are
-- (migration 0032: the `simple` parser keeps them whole, no query word can begin them). GIN keeps no
-- order, so asking it for the words read every match from the heap and sorted them all for the
-- newest 200 (≈ 9,000 rows for „Leitungswasser“, 90–200 ms when not cached); asked for the words and
-- the newest blocks (`… & (/block/61 | /block/60)`), it reads only the matches in those blocks
-- (`search/query.rs`, `window_postgres`). GIN walks the rarest lexemes of a query: ten single blocks,
-- each rarer than a word of 20,000 entries, made it walk all their entries (+10 ms for „Schäfer
-- Hausrat“), where a group, more frequent than the word, is only skipped through (`pg_blocks`).
ALTER TABLE case_search DROP COLUMN doc;
ALTER TABLE case_search ADD COLUMN doc tsvector GENERATED ALWAYS AS (
    setweight(to_tsvector('simple', subject), 'A')
    || setweight(to_tsvector('simple', sender), 'B')
    || setweight(to_tsvector('simple', attachments), 'B')
    || setweight(to_tsvector('simple', notes), 'C')
    || setweight(to_tsvector('simple', body), 'D')
    || to_tsvector('simple', regexp_replace(seen, '(u[0-9]+)', '/seen/\1', 'g'))
    || to_tsvector('simple', '/block/' || (case_id >> 14) || ' /block8/' || (case_id >> 17))
) STORED;
CREATE INDEX case_search_doc ON case_search USING GIN (doc);
