-- A Vorgang made by hand from a kept mail whose sender was not verified („Absender nicht
-- verifiziert“) names who routed it, so the Vorgang always shows that warning.
ALTER TABLE cases ADD COLUMN unverified_routed_by TEXT;
