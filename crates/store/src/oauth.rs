//! OAuth2 (XOAUTH2) settings and tokens of a mailbox (migration 0007).
//!
//! Secrets (client secret, refresh and access token) arrive encrypted by the app; the store never
//! sees the key. Saving settings never erases stored tokens (`None` keeps, like the password) while
//! their endpoint stays the same (`endpoint.rs`), and
//! a refresh stores the new access token and the rotated refresh token in one statement.

use sqlx::Row;
use sqlx::any::AnyRow;

use crate::{Result, Store, StoreError};

/// The mailbox's OAuth2 columns. In [`crate::MailboxRecord::oauth`].
#[derive(Clone, Default, PartialEq, Eq)]
pub struct OAuthFields {
    /// microsoft | google | custom
    pub provider: Option<String>,
    pub client_id: Option<String>,
    /// Microsoft Entra tenant (ID or domain; default "organizations").
    pub tenant: Option<String>,
    /// Token endpoint for the custom provider (tests, other servers).
    pub token_url: Option<String>,
    /// Encrypted client secret (Google's installed-app clients have one).
    pub client_secret: Option<Vec<u8>>,
    /// Encrypted refresh token.
    pub refresh: Option<Vec<u8>>,
    /// Encrypted access token.
    pub access: Option<Vec<u8>>,
    /// When the access token runs out (unix ms).
    pub expires_ms: Option<i64>,
    /// When the refresh token was last issued or rotated (unix ms).
    pub refreshed_ms: Option<i64>,
}

impl std::fmt::Debug for OAuthFields {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        let set = |b: &Option<Vec<u8>>| b.as_ref().map(|_| "<encrypted>");
        f.debug_struct("OAuthFields")
            .field("provider", &self.provider)
            .field("client_id", &self.client_id)
            .field("tenant", &self.tenant)
            .field("token_url", &self.token_url)
            .field("client_secret", &set(&self.client_secret))
            .field("refresh", &set(&self.refresh))
            .field("access", &set(&self.access))
            .field("expires_ms", &self.expires_ms)
            .field("refreshed_ms", &self.refreshed_ms)
            .finish()
    }
}

pub(crate) fn from_row(r: &AnyRow) -> Result<OAuthFields> {
    Ok(OAuthFields {
        provider: r.try_get("oauth_provider")?,
        client_id: r.try_get("oauth_client_id")?,
        tenant: r.try_get("oauth_tenant")?,
        token_url: r.try_get("oauth_token_url")?,
        client_secret: r.try_get("oauth_secret")?,
        refresh: r.try_get("oauth_refresh")?,
        access: r.try_get("oauth_access")?,
        expires_ms: r.try_get("oauth_expires_ms")?,
        refreshed_ms: r.try_get("oauth_refreshed_ms")?,
    })
}

/// New tokens from the token endpoint, already encrypted.
#[derive(Clone)]
pub struct OAuthTokens {
    pub access: Vec<u8>,
    pub expires_ms: Option<i64>,
    /// The rotated refresh token; `None` when the server kept the old one.
    pub refresh: Option<Vec<u8>>,
}

impl Store {
    /// Writes the auth mode and the OAuth2 settings of mailbox `name`: an empty `auth` and every
    /// `None` keep what is stored, so a form that shows no tokens never erases them — unless
    /// `drop_tokens` / `drop_client_secret` say their endpoint changed (see `save_mailbox_by`).
    /// Called by `save_mailbox_by` only.
    pub(crate) async fn write_oauth_settings(
        &self,
        name: &str,
        auth: &str,
        o: &OAuthFields,
        drop_tokens: bool,
        drop_client_secret: bool,
    ) -> Result<()> {
        if !matches!(auth, "" | "password" | "xoauth2" | "oauth2_app") {
            return Err(StoreError::Invalid(format!(
                "unknown login method {auth:?}: use password, xoauth2 or oauth2_app"
            )));
        }
        sqlx::query(
            "UPDATE mailboxes SET auth = COALESCE($1, auth), oauth_provider = COALESCE($2, oauth_provider),
                 oauth_client_id = COALESCE($3, oauth_client_id), oauth_tenant = COALESCE($4, oauth_tenant),
                 oauth_token_url = COALESCE($5, oauth_token_url),
                 oauth_secret = CASE WHEN $13 = 1 THEN $6 ELSE COALESCE($6, oauth_secret) END,
                 oauth_refresh = CASE WHEN $12 = 1 THEN $7 ELSE COALESCE($7, oauth_refresh) END,
                 oauth_access = CASE WHEN $12 = 1 THEN $8 ELSE COALESCE($8, oauth_access) END,
                 oauth_expires_ms = CASE WHEN $12 = 1 THEN $9 ELSE COALESCE($9, oauth_expires_ms) END,
                 oauth_refreshed_ms = COALESCE($10, oauth_refreshed_ms)
             WHERE name = $11",
        )
        .bind((!auth.is_empty()).then(|| auth.to_string()))
        .bind(o.provider.clone())
        .bind(o.client_id.clone())
        .bind(o.tenant.clone())
        .bind(o.token_url.clone())
        .bind(o.client_secret.clone())
        .bind(o.refresh.clone())
        .bind(o.access.clone())
        .bind(o.expires_ms)
        .bind(o.refreshed_ms)
        .bind(name)
        .bind(drop_tokens as i64)
        .bind(drop_client_secret as i64)
        .execute(&self.pool)
        .await?;
        Ok(())
    }

    /// Stores the result of a refresh in one statement: the new access token, its expiry and — if
    /// the server rotated it — the new refresh token. Not a settings change (`updated_ms` stays), so a
    /// running import loop is not interrupted.
    /// The server refused the stored access token before its expiry (revoked, or its signing keys
    /// rolled over): marks it expired, so the next pass gets a new one first.
    pub async fn oauth_access_refused(&self, mailbox_id: i64) -> Result<()> {
        sqlx::query("UPDATE mailboxes SET oauth_expires_ms = 0 WHERE id = $1 AND oauth_access IS NOT NULL")
            .bind(mailbox_id)
            .execute(&self.pool)
            .await?;
        Ok(())
    }

    pub async fn store_oauth_tokens(&self, mailbox_id: i64, t: &OAuthTokens, now_ms: i64) -> Result<()> {
        let rotated_ms = t.refresh.as_ref().map(|_| now_ms);
        let done = sqlx::query(
            "UPDATE mailboxes SET oauth_access = $1, oauth_expires_ms = $2,
                 oauth_refresh = COALESCE($3, oauth_refresh), oauth_refreshed_ms = COALESCE($4, oauth_refreshed_ms)
             WHERE id = $5",
        )
        .bind(t.access.clone())
        .bind(t.expires_ms)
        .bind(t.refresh.clone())
        .bind(rotated_ms)
        .bind(mailbox_id)
        .execute(&self.pool)
        .await?;
        if done.rows_affected() == 0 {
            return Err(StoreError::NotFound(format!("mailbox #{mailbox_id}")));
        }
        Ok(())
    }
}
