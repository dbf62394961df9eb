-- „Suche“ (issue 16): the full-text index of the Vorgänge (`crates/store/src/search.rs`). One row
-- per Vorgang that is not moved. The text columns hold the words as terms made in Rust (umlauts
-- folded, a light German stemmer; the same on SQLite), so `doc` uses the `simple` configuration,
-- which only splits them; `shown` is the text a hit is shown with (the mail's text, attachment
-- names, notes). A new Vorgang is indexed in the transaction that creates it; older ones by
-- `Store::search_reindex_step` (serve, or `postkorb search reindex`), since their text is only in
-- the raw mail. A deleted Vorgang takes its row along (ON DELETE CASCADE).
CREATE TABLE case_search (
    case_id     BIGINT PRIMARY KEY REFERENCES cases(id) ON DELETE CASCADE,
    subject     TEXT NOT NULL,
    sender      TEXT NOT NULL,
    body        TEXT NOT NULL,
    attachments TEXT NOT NULL,
    notes       TEXT NOT NULL,
    shown       TEXT NOT NULL,
    doc         tsvector GENERATED ALWAYS AS (
        setweight(to_tsvector('simple', subject), 'A')
        || setweight(to_tsvector('simple', sender), 'B')
        || setweight(to_tsvector('simple', attachments), 'B')
        || setweight(to_tsvector('simple', notes), 'C')
        || setweight(to_tsvector('simple', body), 'D')
    ) STORED
);
CREATE INDEX case_search_doc ON case_search USING GIN (doc);
