-- OAuth2 (XOAUTH2) per mailbox, for Microsoft 365 and Gmail. auth is 'password' or 'xoauth2'.
-- The token endpoint comes from the provider preset (microsoft: with oauth_tenant, google) or
-- oauth_token_url (custom). Client secret, refresh and access token are encrypted by the app
-- (nonce + ciphertext, key outside the database) like the password. oauth_expires_ms is when the
-- access token runs out; oauth_refreshed_ms when the refresh token was last issued or rotated.
ALTER TABLE mailboxes ADD COLUMN auth TEXT NOT NULL DEFAULT 'password';
ALTER TABLE mailboxes ADD COLUMN oauth_provider TEXT;
ALTER TABLE mailboxes ADD COLUMN oauth_client_id TEXT;
ALTER TABLE mailboxes ADD COLUMN oauth_tenant TEXT;
ALTER TABLE mailboxes ADD COLUMN oauth_token_url TEXT;
ALTER TABLE mailboxes ADD COLUMN oauth_secret BYTEA;
ALTER TABLE mailboxes ADD COLUMN oauth_refresh BYTEA;
ALTER TABLE mailboxes ADD COLUMN oauth_access BYTEA;
ALTER TABLE mailboxes ADD COLUMN oauth_expires_ms BIGINT;
ALTER TABLE mailboxes ADD COLUMN oauth_refreshed_ms BIGINT;
