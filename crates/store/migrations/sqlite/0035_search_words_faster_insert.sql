-- PostgreSQL only (its list of the index's words, migration 0034); nothing to do here.
SELECT 1;
