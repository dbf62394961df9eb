-- „Suche“ on PostgreSQL (issue 16: the import with the index at most 10 % slower than without):
-- the sweep of `search_words` (`Store::sweep_search_words`, the only statement that removes a
-- word from the list) counts the sweeps that removed one. A writer may then keep in memory the
-- words it saw in the list and send only the others (`search.rs`, `KnownWords`): it reads the
-- count under the list's lock taken shared, and forgets what it kept when the count moved.
CREATE TABLE search_words_generation (generation BIGINT NOT NULL);
INSERT INTO search_words_generation (generation) VALUES (0);
