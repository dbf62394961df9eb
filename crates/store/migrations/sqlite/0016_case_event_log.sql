-- The Vorgang event log (issue 14): every change of a Vorgang appends its event to case_events in
-- the same transaction (`case_write::apply`), and notifications and webhooks will read the log by
-- id (`Store::case_events_after`). An event also carries what such a reader needs beyond kind,
-- Vorgang, employee and time, as a small JSON object; `detail` stays the text the Verlauf shows.
-- Rows written before this migration have an empty payload.
ALTER TABLE case_events ADD COLUMN payload TEXT NOT NULL DEFAULT '{}';
