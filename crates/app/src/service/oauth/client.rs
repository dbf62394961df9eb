//! Talking to a token endpoint: reqwest pinned to the checked addresses and following no redirects,
//! the oauth2 client for a mailbox's app registration, and token errors as kinds (never a secret,
//! never the endpoint's words in the UI).

use std::time::Duration;

use anyhow::Context;
use oauth2::basic::{BasicClient, BasicTokenResponse};
use oauth2::{ClientId, ClientSecret, RequestTokenError, TokenResponse};
use postkorb_source::NetPolicy;
use postkorb_store::{MailboxRecord, OAuthTokens, SecretColumn};

use crate::secret::SecretKey;

/// reqwest for requests to `url`: `postkorb_source::http::pinned_client` (no redirects, rustls,
/// the host resolved once, checked against `net` and pinned), each request done within 30 s.
pub async fn http_client(url: &str, net: NetPolicy) -> anyhow::Result<reqwest::Client> {
    use postkorb_source::SourceError;
    use postkorb_source::http::{HttpLimit, pinned_client};
    pinned_client(url, net, HttpLimit::Total(Duration::from_secs(30))).await.map_err(|e| match e {
        SourceError::Blocked(at) => {
            anyhow::anyhow!("{at}, an internal address, and allow_private_hosts is off")
        }
        other => anyhow::Error::new(other),
    })
}

/// The settings an OAuth client is built from (no endpoints typestate leaks out of here).
pub(crate) struct ClientSpec {
    pub(crate) client_id: String,
    pub(crate) client_secret: Option<String>,
}

impl ClientSpec {
    pub(crate) fn of(m: &MailboxRecord, key: &SecretKey) -> anyhow::Result<ClientSpec> {
        let client_id = m.oauth.client_id.clone().filter(|c| !c.is_empty()).context("no OAuth client ID set")?;
        let client_secret = crate::service::mailbox::open_secret(m, key, SecretColumn::OAuthClientSecret)?;
        Ok(ClientSpec { client_id, client_secret })
    }
}

pub(crate) fn basic(spec: &ClientSpec) -> BasicClient {
    let client = BasicClient::new(ClientId::new(spec.client_id.clone()));
    match &spec.client_secret {
        Some(secret) => client.set_client_secret(ClientSecret::new(secret.clone())),
        None => client,
    }
}

/// Why a request to a token endpoint failed, without any secret in it. `detail` (for the log and
/// the CLI) may hold the endpoint's own words; the web shows only [`german_failure`].
#[derive(Debug, thiserror::Error)]
#[error("{detail}")]
pub struct TokenError {
    pub kind: TokenFailure,
    pub detail: String,
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub enum TokenFailure {
    /// The endpoint answered with an OAuth error code (RFC 6749 §5.2; anything else is "other").
    Refused(&'static str),
    Unreachable,
    Unreadable,
    /// The grant came without a refresh token (Microsoft: offline_access missing).
    NoRefreshToken,
}

pub(crate) const OAUTH_ERROR_CODES: [&str; 9] = [
    "invalid_request",
    "invalid_client",
    "invalid_grant",
    "unauthorized_client",
    "unsupported_grant_type",
    "invalid_scope",
    "access_denied",
    "expired_token",
    "authorization_pending",
];

pub(crate) fn describe<RE: std::error::Error + 'static, T: oauth2::ErrorResponseType + std::fmt::Display>(
    e: RequestTokenError<RE, oauth2::StandardErrorResponse<T>>,
) -> TokenError {
    match e {
        RequestTokenError::ServerResponse(r) => {
            let code = r.error().to_string();
            let known = OAUTH_ERROR_CODES.iter().find(|c| **c == code).copied().unwrap_or("other");
            let detail = r.error_description().map(|d| format!(" ({d})")).unwrap_or_default();
            TokenError { kind: TokenFailure::Refused(known), detail: format!("{code}{detail}") }
        }
        RequestTokenError::Request(e) => {
            let mut detail = e.to_string();
            let mut source = e.source();
            while let Some(inner) = source {
                detail = format!("{detail}: {inner}");
                source = inner.source();
            }
            TokenError { kind: TokenFailure::Unreachable, detail: format!("token endpoint not reachable: {detail}") }
        }
        RequestTokenError::Parse(e, _) => TokenError {
            kind: TokenFailure::Unreadable,
            detail: format!("unreadable answer from the token endpoint: {e}"),
        },
        RequestTokenError::Other(e) => TokenError { kind: TokenFailure::Unreadable, detail: e },
    }
}

/// A failed connect or refresh in German for the web: classified, never the foreign server's text.
pub fn german_failure(e: &anyhow::Error) -> String {
    match e.chain().find_map(|c| c.downcast_ref::<TokenError>()).map(|t| &t.kind) {
        Some(TokenFailure::Refused("invalid_grant")) => {
            "Konto nicht verbunden: Der Anbieter hat die Anmeldung nicht angenommen (abgelaufen oder schon \
             verwendet). Bitte noch einmal „Konto verbinden“."
                .into()
        }
        Some(TokenFailure::Refused("invalid_client" | "unauthorized_client")) => {
            "Konto nicht verbunden: Der Anbieter kennt diese Client-ID (oder den geheimen Clientschlüssel) nicht."
                .into()
        }
        Some(TokenFailure::Refused(code)) => {
            format!("Konto nicht verbunden: Der Anbieter hat die Anmeldung abgelehnt (Fehlercode {code}).")
        }
        Some(TokenFailure::Unreachable) => {
            "Konto nicht verbunden: Der Anbieter ist nicht erreichbar. Stimmt die Token-URL?".into()
        }
        Some(TokenFailure::Unreadable) => {
            "Konto nicht verbunden: Der Anbieter hat unverständlich geantwortet. Stimmt die Token-URL?".into()
        }
        Some(TokenFailure::NoRefreshToken) => {
            "Konto nicht verbunden: Der Anbieter hat kein dauerhaftes Zugriffsrecht erteilt (bei Microsoft wird \
             offline_access benötigt)."
                .into()
        }
        None => "Konto nicht verbunden: Die Einstellungen der Verbindung sind fehlerhaft.".into(),
    }
}

/// The tokens of a response, sealed for mailbox `m` as stored, with the absolute expiry.
pub(crate) fn encrypt_tokens(
    t: &BasicTokenResponse,
    key: &SecretKey,
    m: &MailboxRecord,
    now_ms: i64,
) -> anyhow::Result<OAuthTokens> {
    let seal = |column, plain: &str| crate::service::mailbox::seal_secret(m, key, column, plain);
    Ok(OAuthTokens {
        access: seal(SecretColumn::OAuthAccess, t.access_token().secret())?,
        expires_ms: t.expires_in().map(|d| now_ms + i64::try_from(d.as_millis()).unwrap_or(i64::MAX / 2)),
        refresh: t.refresh_token().map(|r| seal(SecretColumn::OAuthRefresh, r.secret())).transpose()?,
    })
}
