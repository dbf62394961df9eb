-- The text, the HTML and the forwarded original of a Vorgang are derived from its raw mail when it
-- is shown (`Store::case`), as the attachments' bytes are on download (`attachments.in_raw`):
-- the import no longer makes them, and the database no longer stores them a second time beside the
-- raw mail (issue 6: they were about a sixth of the raw bytes, written to the WAL and again at each
-- checkpoint). Rows stored before keep their columns (body_in_raw = 0).
ALTER TABLE cases ADD COLUMN body_in_raw INTEGER NOT NULL DEFAULT 0;
