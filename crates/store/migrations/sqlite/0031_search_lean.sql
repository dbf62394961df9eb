-- „Suche“, a lighter index (issue 16: the import with the index at most 10 % slower than without).
-- `detail = column`: FTS5 keeps per term which rows and columns hold it, not every position — the
-- search never asks for positions (one-word terms with a prefix, column filters, AND/OR, `bm25`;
-- the highlighter is ours, `search/highlight.rs`). Writing a Vorgang's terms costs a third less
-- and the index is a third smaller (bench: 0.205 → 0.140 ms and 26 → 18 KB per mail).
-- `tokenize = 'ascii'`: the columns hold the terms `search/analyze.rs` made, separated by spaces,
-- and a term never holds an ASCII character that is not a letter or digit, so each term is
-- exactly one token; `unicode61` could split a term at a character it does not count as a letter
-- (a combining mark of an Indic script, say), which `detail = column` would then refuse as a
-- phrase. The query side (`search/query.rs`) asks for the same terms.
-- FTS5 cannot change its options: the entries are copied into a new table (no mail is parsed
-- again), and the table's `secure-delete` (migration 0026) is set again.
CREATE VIRTUAL TABLE case_search_next USING fts5(
    subject, sender, body, attachments, notes, seen, shown UNINDEXED,
    tokenize = 'ascii', prefix = '2 3 4 5 6', detail = column
);
INSERT INTO case_search_next (case_search_next, rank) VALUES ('secure-delete', 1);
INSERT INTO case_search_next (rowid, subject, sender, body, attachments, notes, seen, shown)
SELECT rowid, subject, sender, body, attachments, notes, seen, shown FROM case_search;
-- The trigger of migration 0020 names the table: it goes with it and comes back unchanged.
DROP TRIGGER case_search_gone;
DROP TABLE case_search;
ALTER TABLE case_search_next RENAME TO case_search;
CREATE TRIGGER case_search_gone AFTER DELETE ON cases BEGIN
    DELETE FROM case_search WHERE rowid = OLD.id;
END;
