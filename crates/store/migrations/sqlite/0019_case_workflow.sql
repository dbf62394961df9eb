-- Issue 16, working a Vorgang: Wiedervorlage and Notizen (Weitergeben / Zurückgeben need no new
-- column: they change assignee and status through `case_write::apply`, with their events).

-- Wiedervorlage: when the Vorgang returns (unix ms; NULL: none) and why. An open Vorgang whose
-- moment lies ahead is under „Wiedervorlage“, not „Offen“; from then on it is „fällig“.
ALTER TABLE cases ADD COLUMN follow_up_ms INTEGER;
ALTER TABLE cases ADD COLUMN follow_up_reason TEXT;

-- A note on a Vorgang; written only with its `note_added` event (`case_write::apply`).
CREATE TABLE case_notes (
    id      INTEGER PRIMARY KEY AUTOINCREMENT,
    case_id INTEGER NOT NULL REFERENCES cases(id),
    author  INTEGER NOT NULL REFERENCES employees(id),
    at_ms   INTEGER NOT NULL,
    text    TEXT NOT NULL
);
CREATE INDEX case_notes_case ON case_notes(case_id, id);

-- The Startmaske's „Offen“ list (open, no Wiedervorlage date) reads cases_list_assignee in order
-- and skips dated rows: with follow_up_ms in the index it decides that from the index entry.
DROP INDEX cases_list_assignee;
CREATE INDEX cases_list_assignee
    ON cases(assignee, (CASE status WHEN 'done' THEN 1 ELSE 0 END), received_ms DESC, id DESC, follow_up_ms)
    WHERE status <> 'moved';
-- „Wiedervorlage“ and „fällig“: an assignee's open Vorgänge with a date, in date order.
CREATE INDEX cases_follow_up ON cases(assignee, follow_up_ms, id) WHERE status = 'open' AND follow_up_ms IS NOT NULL;
