-- Issue 19 (import CPU): a mail's duplicate fingerprint is BLAKE3 now, `b3:` and 64 hex digits
-- (`postkorb_mail::fingerprint`), instead of SHA-256 (64 hex digits, no prefix): one hash of the
-- mail's bytes serves the fingerprint and the name it is sealed under. Until `until_ms` the
-- import compares the SHA-256 fingerprint too (`Store::legacy_fingerprints_until`), so a mail
-- stored before the upgrade and delivered again within 30 days is still a duplicate; no row (a
-- new installation): never.
CREATE TABLE fingerprint_legacy (until_ms BIGINT NOT NULL);
INSERT INTO fingerprint_legacy (until_ms)
SELECT (EXTRACT(EPOCH FROM now()) * 1000)::BIGINT + 2592000000  -- 30 days
 WHERE EXISTS (SELECT 1 FROM ledger WHERE fingerprint <> '');
