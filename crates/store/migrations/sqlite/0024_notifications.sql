-- Issue 17, e-mail notifications: „Wiedervorlage fällig“ as an event, each employee's preferences,
-- and the items waiting for their daily summary.

-- The Wiedervorlage date whose `follow_up_due` event was written (`Store::announce_due_follow_ups`,
-- through `case_write::apply`): NULL while the current date is not yet announced; setting or
-- changing the date makes it NULL again, so a new date is announced when it comes. One
-- conditional UPDATE sets it, so of two instances only one writes the event.
ALTER TABLE cases ADD COLUMN follow_up_announced_ms INTEGER;
-- Wiedervorlagen already due when this version is installed (before the last logged change) count as
-- announced: the upgrade does not send a mail for every old one.
UPDATE cases SET follow_up_announced_ms = follow_up_ms
 WHERE follow_up_ms IS NOT NULL AND follow_up_ms <= (SELECT COALESCE(MAX(at_ms), 0) FROM case_events);
-- The due, not yet announced ones, in date order.
CREATE INDEX cases_follow_up_unannounced ON cases(follow_up_ms, id)
    WHERE status = 'open' AND follow_up_ms IS NOT NULL AND follow_up_announced_ms IS NULL;

-- „Mein Konto“ → „Benachrichtigungen“: per kind 'now' („sofort“), 'daily' („täglich“) or 'off'
-- („aus“); one time of day for the summary (minutes after midnight on the office's clock). No row:
-- the defaults (`postkorb_core::notify::NotifyPrefs::default`). `last_digest_ms`: when the last
-- summary was taken (one conditional UPDATE per day, so two instances send it once).
CREATE TABLE notify_settings (
    employee_id    INTEGER PRIMARY KEY REFERENCES employees(id),
    new_case       TEXT NOT NULL,
    pool           TEXT NOT NULL,
    follow_up_due  TEXT NOT NULL,
    handed_over    TEXT NOT NULL,
    digest_minute  INTEGER NOT NULL,
    last_digest_ms INTEGER NOT NULL DEFAULT 0
);

-- What goes into an employee's next summary (`Store::queue_digest_item`, once per event and kind).
-- `digest_ms`: the summary that took it (`Store::due_digests`); removed when it was sent
-- (`Store::digest_sent`); one taken but never sent goes into the next summary.
CREATE TABLE notify_digest_items (
    id          INTEGER PRIMARY KEY AUTOINCREMENT,
    employee_id INTEGER NOT NULL REFERENCES employees(id),
    kind        TEXT NOT NULL,
    event_id    INTEGER NOT NULL,
    case_id     INTEGER NOT NULL REFERENCES cases(id) ON DELETE CASCADE,
    queued_ms   INTEGER NOT NULL,
    digest_ms   INTEGER,
    UNIQUE (employee_id, kind, event_id)
);
CREATE INDEX notify_digest_items_employee ON notify_digest_items(employee_id, id);
