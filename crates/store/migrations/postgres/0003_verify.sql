-- Sender verification policy per mailbox (postkorb-verify Policy, stored as JSON; empty = the safe default).
ALTER TABLE mailboxes ADD COLUMN verify_policy TEXT NOT NULL DEFAULT '';
