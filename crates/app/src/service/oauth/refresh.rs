//! The token refresh before each pass. **Never lose a rotated token:** a refresh response is
//! stored — new access token, expiry and the rotated refresh token, sealed — in one statement right
//! after it arrives, before the access token is used. Refreshes in this process are serialised; if
//! another process rotated the token meanwhile, the stored one is used instead of failing.

use std::time::Duration;

use anyhow::Context;
use oauth2::{RefreshToken, TokenUrl};
use postkorb_core::mailbox::AuthKind;
use postkorb_source::{NetPolicy, SourceConfig};
use postkorb_store::{MailboxRecord, SecretColumn, Store};

use super::client::{ClientSpec, TokenError, TokenFailure, basic, describe, encrypt_tokens, http_client};
use super::providers::Provider;
use crate::clock::{Clock, format_ms};
use crate::secret::SecretKey;

/// Refresh when the access token runs out within this time.
pub const REFRESH_MARGIN_MS: i64 = 5 * 60_000;

/// Warn when the refresh token has not been renewed for this long (Microsoft drops unused refresh
/// tokens after 90 days; each refresh renews it).
pub const STALE_REFRESH_MS: i64 = 60 * 86_400_000;

/// Connection settings for a pass: for an XOAUTH2 mailbox whose access token runs out within
/// [`REFRESH_MARGIN_MS`], the token is refreshed (and the result stored) first.
pub async fn fresh_config(
    store: &Store,
    m: &MailboxRecord,
    key: &SecretKey,
    clock: &Clock,
    net: NetPolicy,
) -> anyhow::Result<SourceConfig> {
    if !AuthKind::of_stored(&m.auth).is_oauth() {
        return crate::service::mailbox::source_config(m, key, net);
    }
    let fresh = ensure_fresh(store, m, key, clock.now_ms(), net).await?;
    crate::service::mailbox::source_config(&fresh, key, net)
}

pub(crate) fn expiring(m: &MailboxRecord, now_ms: i64) -> bool {
    m.oauth.access.is_none() || m.oauth.expires_ms.is_some_and(|e| e - now_ms <= REFRESH_MARGIN_MS)
}

/// The mailbox with an access token valid for at least [`REFRESH_MARGIN_MS`] (refreshing if needed).
pub async fn ensure_fresh(
    store: &Store,
    m: &MailboxRecord,
    key: &SecretKey,
    now_ms: i64,
    net: NetPolicy,
) -> anyhow::Result<MailboxRecord> {
    if !expiring(m, now_ms) {
        return Ok(m.clone());
    }
    // One refresh at a time in this process; the one that waited sees the new token.
    static REFRESHING: tokio::sync::Mutex<()> = tokio::sync::Mutex::const_new(());
    let _one = REFRESHING.lock().await;
    let current = store.mailbox(&m.name).await?;
    if !expiring(&current, now_ms) {
        return Ok(current);
    }
    match refresh(store, &current, key, now_ms, net).await {
        Ok(()) => {}
        Err(RefreshError::Rejected(detail)) => {
            // Another process may have rotated the token since we read it: then use theirs.
            let again = store.mailbox(&m.name).await?;
            if again.oauth.refresh != current.oauth.refresh {
                if !expiring(&again, now_ms) {
                    return Ok(again);
                }
                refresh(store, &again, key, now_ms, net).await.map_err(|e| e.into_anyhow(&m.name))?;
            } else {
                return Err(RefreshError::Rejected(detail).into_anyhow(&m.name));
            }
        }
        Err(e) => return Err(e.into_anyhow(&m.name)),
    }
    Ok(store.mailbox(&m.name).await?)
}

pub(crate) enum RefreshError {
    /// The server refused the refresh token (revoked, expired, already used).
    Rejected(String),
    Other(anyhow::Error),
}

impl RefreshError {
    fn into_anyhow(self, mailbox: &str) -> anyhow::Error {
        match self {
            RefreshError::Rejected(detail) => anyhow::Error::new(TokenError {
                kind: TokenFailure::Refused("invalid_grant"),
                detail: format!("{detail}; connect the account again: postkorb mailbox oauth --name {mailbox}"),
            })
            .context("OAuth2 token refresh refused"),
            RefreshError::Other(e) => e.context("OAuth2 token refresh failed"),
        }
    }
}

impl From<anyhow::Error> for RefreshError {
    fn from(e: anyhow::Error) -> RefreshError {
        RefreshError::Other(e)
    }
}

/// One refresh: ask the token endpoint, then store new access token, expiry and rotated refresh
/// token in one statement (retried, since a lost rotated token locks the mailbox out).
pub(crate) async fn refresh(
    store: &Store,
    m: &MailboxRecord,
    key: &SecretKey,
    now_ms: i64,
    net: NetPolicy,
) -> Result<(), RefreshError> {
    if AuthKind::of_stored(&m.auth) == AuthKind::App {
        return super::app::renew(store, m, key, now_ms, net).await;
    }
    let provider = Provider::of(&m.oauth)?;
    let spec = ClientSpec::of(m, key)?;
    let Some(refresh_token) = crate::service::mailbox::open_secret(m, key, SecretColumn::OAuthRefresh)? else {
        return Err(RefreshError::Rejected("no refresh token stored".into()));
    };
    let client = basic(&spec).set_token_uri(TokenUrl::new(provider.token_url.clone()).context("token URL")?);
    let http = http_client(&provider.token_url, net).await?;
    let answer = client.exchange_refresh_token(&RefreshToken::new(refresh_token)).request_async(&http).await;
    let tokens = match answer {
        Ok(t) => encrypt_tokens(&t, key, m, now_ms)?,
        Err(e) => {
            let e = describe(e);
            return Err(if e.kind == TokenFailure::Refused("invalid_grant") {
                RefreshError::Rejected(e.detail)
            } else {
                RefreshError::Other(e.into())
            });
        }
    };
    let mut tries = 0;
    loop {
        match store.store_oauth_tokens(m.id, &tokens, now_ms).await {
            Ok(()) => break,
            Err(e) if tries < 5 => {
                tries += 1;
                tracing::warn!(mailbox = %m.name, error = %e, "cannot store the refreshed OAuth tokens yet; retrying");
                tokio::time::sleep(Duration::from_millis(200 * tries)).await;
            }
            Err(e) => {
                tracing::error!(mailbox = %m.name, error = %e, "the rotated OAuth refresh token could not be stored");
                return Err(RefreshError::Other(anyhow::Error::from(e).context("storing the refreshed tokens")));
            }
        }
    }
    tracing::info!(mailbox = %m.name, rotated = tokens.refresh.is_some(), "OAuth2 access token refreshed");
    Ok(())
}

/// One line on the token for `mailbox show` and the Protokoll; None for a password mailbox.
pub fn token_status(m: &MailboxRecord, now_ms: i64) -> Option<String> {
    let kind = AuthKind::of_stored(&m.auth);
    if !kind.is_oauth() {
        return None;
    }
    let provider = m.oauth.provider.as_deref().unwrap_or("?");
    if kind == AuthKind::App {
        return Some(match m.oauth.expires_ms {
            Some(e) => format!(
                "{provider}: application access, token until {} (fetched anew before it runs out)",
                format_ms(e)
            ),
            None => format!(
                "{provider}: application access, not connected — run `postkorb mailbox oauth --flow app --name {}`",
                m.name
            ),
        });
    }
    if m.oauth.refresh.is_none() {
        return Some(format!(
            "{provider}: not connected — run `postkorb mailbox oauth --name {}` to connect the account",
            m.name
        ));
    }
    let access = match m.oauth.expires_ms {
        Some(e) if e > now_ms => {
            format!(
                "{provider}: token expires {} (in {} min; renewed before each fetch)",
                format_ms(e),
                (e - now_ms) / 60_000
            )
        }
        Some(e) => format!("{provider}: token expired {} (renewed at the next fetch)", format_ms(e)),
        None => format!("{provider}: token expiry unknown"),
    };
    match m.oauth.refreshed_ms {
        Some(r) if now_ms - r > STALE_REFRESH_MS => Some(format!(
            "{access}; WARNING: the refresh token was last renewed {} days ago and may lapse soon — \
             run `postkorb mailbox oauth --name {}` if fetching fails",
            (now_ms - r) / 86_400_000,
            m.name
        )),
        _ => Some(access),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_status_line_shows_expiry_and_warns_of_an_old_refresh_token() {
        let mut m = MailboxRecord { name: "default".into(), auth: "xoauth2".into(), ..Default::default() };
        m.oauth.provider = Some("microsoft".into());
        assert!(token_status(&m, 0).unwrap().contains("not connected"));
        m.oauth.refresh = Some(vec![1]);
        m.oauth.expires_ms = Some(3_600_000);
        m.oauth.refreshed_ms = Some(0);
        assert!(token_status(&m, 0).unwrap().contains("token expires 1970-01-01 01:00 (in 60 min"));
        let late = token_status(&m, 70 * 86_400_000).unwrap();
        assert!(late.contains("expired") && late.contains("WARNING") && late.contains("70 days"), "{late}");
        assert_eq!(token_status(&MailboxRecord::default(), 0), None);
    }
}
