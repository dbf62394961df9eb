-- PostgreSQL only (the queue of new words for its list `search_words`); SQLite's FTS5 keeps its
-- own vocabulary.
SELECT 1;
