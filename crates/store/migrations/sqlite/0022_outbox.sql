-- Issue 17, the outbox: what happened (the Vorgang event log `case_events`, and the kept mails
-- `kept`) is told to others — webhooks first, e-mail notifications and the Eingangsbestätigung
-- later — by the dispatcher (crates/app/src/service/dispatch/, store side outbox.rs).

-- Per channel, how far the fan-out has read: the last case event id and the last kept mail id it
-- turned into deliveries. Both logs have ids that grow in commit order (the kept mails are
-- inserted under the same PostgreSQL advisory lock as the events, `case_write::lock_log`).
CREATE TABLE outbox_cursors (
    channel       TEXT PRIMARY KEY,
    last_event_id INTEGER NOT NULL DEFAULT 0,
    last_kept_id  INTEGER NOT NULL DEFAULT 0
);

-- One message of one channel to one target (a webhook endpoint, later an employee's address)
-- about one event (`event_key`: `evt_<case event id>` or `kept_<kept id>`, what the receiver
-- de-duplicates by). The body is made at fan-out, so every attempt sends the same.
-- status: pending | delivered | failed (given up) | paused (its target is paused).
CREATE TABLE deliveries (
    id             INTEGER PRIMARY KEY AUTOINCREMENT,
    channel        TEXT NOT NULL,
    target         TEXT NOT NULL,
    event_key      TEXT NOT NULL,
    event_id       INTEGER,
    kept_id        INTEGER,
    case_id        INTEGER,
    kind           TEXT NOT NULL,
    body           TEXT NOT NULL,
    status         TEXT NOT NULL DEFAULT 'pending',
    attempts       INTEGER NOT NULL DEFAULT 0,
    last_status    TEXT NOT NULL DEFAULT '',
    next_try_ms    INTEGER NOT NULL,
    lease_holder   TEXT,
    lease_until_ms INTEGER,
    created_ms     INTEGER NOT NULL,
    delivered_ms   INTEGER,
    UNIQUE (channel, target, event_key)
);
CREATE INDEX deliveries_due ON deliveries(status, next_try_ms);
CREATE INDEX deliveries_order ON deliveries(channel, target, case_id, id);

-- Webhook endpoints (the first channel). `secret`: the `whsec_…` secret sealed with the app's
-- key (base64), never shown again after creation. `events`: the types sent, comma-separated.
-- Paused (active = 0) by an admin, or by the dispatcher after days without a success
-- (`failing_since_ms`); „Fortsetzen“ re-activates.
CREATE TABLE webhooks (
    id               INTEGER PRIMARY KEY AUTOINCREMENT,
    name             TEXT NOT NULL UNIQUE,
    url              TEXT NOT NULL,
    events           TEXT NOT NULL,
    secret           TEXT NOT NULL,
    active           INTEGER NOT NULL DEFAULT 1,
    paused_ms        INTEGER,
    paused_reason    TEXT,
    failing_since_ms INTEGER,
    last_success_ms  INTEGER,
    created_ms       INTEGER NOT NULL
);
