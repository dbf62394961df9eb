-- PostgreSQL only (Postkorb writes its index's `tsvector`); SQLite's FTS5 takes Postkorb's terms
-- as they are already (migration 0031).
SELECT 1;
