-- „Suche“ with PostgreSQL (issue 16): the words of the index, each once, so that a query word is
-- asked as the indexed words it begins (`'keller' | 'kellers'`) instead of as a prefix
-- (`kell:*`). GIN skips through exact words' lists; a prefix makes it gather every list the
-- prefix begins into a bitmap first: „Schäfer Hausrat“ at 1,000,000 Vorgänge took 29 ms as
-- prefixes and 6 ms as words (`search/query.rs`, `pg_fragments`).
--
-- `search_words` holds every word of `case_search.doc` (not the lexemes of who may see a Vorgang
-- nor of its block, `/…`). Statement triggers over the changed rows keep it, so every way of
-- writing the index does: a new word is added in the writing transaction; the words of a removed
-- or changed entry are noted in `search_words_gone`, and `Store::sweep_search_words` (run after
-- deletions, and by the importer's passes) removes those no entry holds any more. The writers take
-- the advisory lock 7305518305385967474 shared, the sweep takes it alone (trying, never queueing):
-- so the sweep sees every writer committed or not begun, and no writer can count on a word the
-- sweep removes. A word of a deleted Vorgang leaves at the sweep after its deletion (issue 18).
CREATE TABLE search_words (word text COLLATE "C" PRIMARY KEY);
CREATE TABLE search_words_gone (word text COLLATE "C" PRIMARY KEY);

-- The words of an entry (its lexemes without `/…`), sorted.
CREATE FUNCTION search_words_of(doc tsvector) RETURNS text[] LANGUAGE sql IMMUTABLE AS $$
    SELECT array(SELECT w FROM unnest(tsvector_to_array(doc)) w WHERE w NOT LIKE '/%' ORDER BY w)
$$;

INSERT INTO search_words SELECT DISTINCT unnest(search_words_of(doc)) FROM case_search;

CREATE FUNCTION search_words_insert() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
    PERFORM pg_advisory_xact_lock_shared(7305518305385967474);
    INSERT INTO search_words
    SELECT DISTINCT unnest(search_words_of(doc)) FROM new_rows
    ON CONFLICT DO NOTHING;
    RETURN NULL;
END $$;

CREATE FUNCTION search_words_delete() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
    PERFORM pg_advisory_xact_lock_shared(7305518305385967474);
    INSERT INTO search_words_gone
    SELECT DISTINCT unnest(search_words_of(doc)) FROM old_rows
    ON CONFLICT DO NOTHING;
    RETURN NULL;
END $$;

-- A changed entry (a note added, who may see it): only the words it gained or lost, usually none.
CREATE FUNCTION search_words_update() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
    IF EXISTS (SELECT 1 FROM old_rows o JOIN new_rows n ON n.case_id = o.case_id
                WHERE search_words_of(n.doc) <> search_words_of(o.doc)) THEN
        PERFORM pg_advisory_xact_lock_shared(7305518305385967474);
        INSERT INTO search_words
        SELECT DISTINCT unnest(search_words_of(doc)) FROM new_rows
        ON CONFLICT DO NOTHING;
        INSERT INTO search_words_gone
        SELECT DISTINCT w FROM old_rows o JOIN new_rows n ON n.case_id = o.case_id,
               unnest(search_words_of(o.doc)) w
         WHERE NOT (search_words_of(n.doc) @> ARRAY[w])
        ON CONFLICT DO NOTHING;
    END IF;
    RETURN NULL;
END $$;

CREATE TRIGGER case_search_words_insert AFTER INSERT ON case_search
    REFERENCING NEW TABLE AS new_rows FOR EACH STATEMENT EXECUTE FUNCTION search_words_insert();
CREATE TRIGGER case_search_words_update AFTER UPDATE ON case_search
    REFERENCING OLD TABLE AS old_rows NEW TABLE AS new_rows FOR EACH STATEMENT EXECUTE FUNCTION search_words_update();
CREATE TRIGGER case_search_words_delete AFTER DELETE ON case_search
    REFERENCING OLD TABLE AS old_rows FOR EACH STATEMENT EXECUTE FUNCTION search_words_delete();
