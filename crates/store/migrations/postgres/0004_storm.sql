-- Storm limit per mailbox: more than storm_max Vorgänge from one sender within storm_minutes are
-- held (kept with reason "storm") instead of flooding someone's Startmaske. 0 switches it off.
ALTER TABLE mailboxes ADD COLUMN storm_max BIGINT NOT NULL DEFAULT 30;
ALTER TABLE mailboxes ADD COLUMN storm_minutes BIGINT NOT NULL DEFAULT 10;
CREATE INDEX cases_sender_recent ON cases(from_addr, received_ms);
