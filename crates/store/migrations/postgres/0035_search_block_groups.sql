-- „Suche“ with PostgreSQL (issue 16): besides its block of 16,384 ids (migration 0033), each
-- entry's group of 8 blocks (131,072 ids) as a lexeme `/block8/{case_id >> 17}`. GIN takes the
-- rarest lexemes of a query as the lists it walks: ten blocks of 16,384 are each rarer than a word
-- in 20,000 entries, so it walked all 163,840 block entries for „Schäfer Hausrat“ (+10 ms) where
-- one group, more frequent than the word, is only skipped through (`search/query.rs`,
-- `pg_blocks`).
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
