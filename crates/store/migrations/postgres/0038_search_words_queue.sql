-- „Suche“ on PostgreSQL (issue 16: the import with the index at most 10 % slower than without):
-- the words of new index entries are queued in the transaction that writes the entries, one row
-- per statement (`search.rs`, `queue_words`: the entries' terms, each once, sorted, space-separated),
-- instead of being looked up and inserted into `search_words` there. Moving them into the list
-- (`Store::drain_search_words`) is work off the import's commit path: the importer drains beside
-- its next batches and before its pass ends, and every sweep of the list drains first.
--
-- A query word's expansion reads the list and the queue together (`query.rs`, `pg_fragments`), so
-- a committed Vorgang is found by every word it holds before its words reach the list. The queue
-- stays short: it holds the batches committed since the last drain.
CREATE TABLE search_words_queue (
    id bigserial PRIMARY KEY,
    words text NOT NULL
);

-- GIN's list of pending entries (`fastupdate`) is merged into the index by the importer beside
-- its commits (`Store::merge_search_pending`, after every thousand new entries and at the end of
-- each pass) instead of inside an insert once it passes 4 MB (`gin_pending_list_limit`'s
-- default): the merge left the import's commit path. 32 MB stays as the bound should no importer
-- merge it (entries written outside a pass, an importer stopped).
ALTER INDEX case_search_doc SET (gin_pending_list_limit = 32768);
