-- „Suche“ (issue 16): the full-text index of the Vorgänge (`crates/store/src/search.rs`). One row
-- per Vorgang that is not moved, its rowid the Vorgang's id. The indexed columns hold the words as
-- terms made in Rust (umlauts folded, a light German stemmer; the same on PostgreSQL), `shown` the
-- text a hit is shown with (the mail's text, attachment names, notes). A new Vorgang is indexed in
-- the transaction that creates it; older ones by `Store::search_reindex_step` (serve, or
-- `postkorb search reindex`), since their text is only in the raw mail.
CREATE VIRTUAL TABLE case_search USING fts5(
    subject, sender, body, attachments, notes, shown UNINDEXED,
    tokenize = 'unicode61', prefix = '2 3 4'
);

-- A deleted Vorgang leaves nothing in the index.
CREATE TRIGGER case_search_gone AFTER DELETE ON cases BEGIN
    DELETE FROM case_search WHERE rowid = OLD.id;
END;
