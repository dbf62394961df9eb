-- „Suche“ on PostgreSQL (issue 16: the import with the index at most 10 % slower than without):
-- Postkorb writes an entry's `tsvector` itself instead of PostgreSQL making it as a generated
-- column. The terms are Postkorb's already (`search/analyze.rs`); the generated column ran them
-- through PostgreSQL's text parser again (`to_tsvector('simple', …)`), most of the index's cost
-- in the database at import. Now the import sends the `tsvector` as text (`search.rs`, `pg_doc`),
-- each column's words at the next positions with the column's weight — the same lexemes,
-- positions and weights the generated column made, so ranking is unchanged — and the query is
-- read as written (`CAST(… AS tsquery)`, quoted lexemes) instead of through the parser.
--
-- `case_search_doc` makes the same `tsvector` from the stored columns without the parser (tested
-- equal to `pg_doc`): the background reindex uses it for who may see a Vorgang and its blocks
-- (the words' part comes from Postkorb there too), and a trigger makes the `tsvector` again
-- whenever a column it is made of changes (a note added, who may see the Vorgang). The parser and
-- Postkorb differ only on terms with a character the parser takes as a separator (e.g. „m²“), so
-- the entries holding such a term are made again here, now as Postkorb's terms.
CREATE FUNCTION case_search_doc(subject text, sender text, attachments text, notes text, body text,
                                seen text, case_id bigint) RETURNS tsvector
LANGUAGE sql IMMUTABLE PARALLEL SAFE AS $$
    SELECT string_agg('''' || replace(replace(w, '\', '\\'), '''', '''''') || ''':' || least(n, 16383) || weight,
                      ' ' ORDER BY n)::tsvector
      FROM (SELECT x.w, c.weight, row_number() OVER (ORDER BY c.col, x.ord) AS n
              FROM unnest(ARRAY[subject, sender, attachments, notes, body,
                                regexp_replace(seen, '(u[0-9]+)', '/seen/\1', 'g'),
                                '/block/' || (case_id >> 14) || ' /block8/' || (case_id >> 17)],
                          ARRAY['A', 'B', 'B', 'C', '', '', ''])
                   WITH ORDINALITY AS c(txt, weight, col),
                   unnest(string_to_array(c.txt, ' ')) WITH ORDINALITY AS x(w, ord)
             WHERE x.w <> '') t
$$;

ALTER TABLE case_search ALTER COLUMN doc DROP EXPRESSION;

UPDATE case_search
   SET doc = case_search_doc(subject, sender, attachments, notes, body, seen, case_id)
 WHERE subject || ' ' || sender || ' ' || attachments || ' ' || notes || ' ' || body ~ '[^a-z0-9 ]';

ALTER TABLE case_search ALTER COLUMN doc SET NOT NULL;

CREATE FUNCTION case_search_doc_again() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
    NEW.doc := case_search_doc(NEW.subject, NEW.sender, NEW.attachments, NEW.notes, NEW.body, NEW.seen, NEW.case_id);
    RETURN NEW;
END $$;

CREATE TRIGGER case_search_doc_again BEFORE UPDATE OF subject, sender, attachments, notes, body, seen, case_id
    ON case_search FOR EACH ROW EXECUTE FUNCTION case_search_doc_again();

-- The new entries' words go into `search_words` (migration 0034) from Postkorb too (`search.rs`,
-- `add_words`: the terms it wrote as the `tsvector`, each once, sorted): the insert trigger took
-- the new rows' `tsvector`s apart again in the database. Deletions and updates keep their triggers.
DROP TRIGGER case_search_words_insert ON case_search;
DROP FUNCTION search_words_insert();
