//! Talking to a token endpoint: reqwest pinned to the checked addresses and following no redirects,
//! the oauth2 client for a mailbox's app registration, and token errors as kinds (never a secret,
//! never the endpoint's words in the UI).

use std::time::Duration;

use anyhow::{Context, bail};
use oauth2::basic::{BasicClient, BasicTokenResponse};
use oauth2::{ClientId, ClientSecret, RequestTokenError, TokenResponse};
use postkorb_source::NetPolicy;
use postkorb_store::{MailboxRecord, OAuthTokens, SecretColumn};

use crate::secret::SecretKey;

/// reqwest for requests to `url`: no redirects (a token endpoint that redirects is refused, so
/// nobody can bounce our secrets or our requests elsewhere), rustls with ring, short timeouts, and
/// the host resolved once here, checked against `net` and pinned, so the request goes to exactly
/// the address that was checked.
pub async fn http_client(url: &str, net: NetPolicy) -> anyhow::Result<reqwest::Client> {
    let parsed = reqwest::Url::parse(url).with_context(|| format!("not a URL: {url:?}"))?;
    let host = parsed.host_str().context("the URL has no host")?.to_string();
    let port = parsed.port_or_known_default().unwrap_or(443);
    let bare = host.trim_start_matches('[').trim_end_matches(']').to_string();
    let addrs: Vec<std::net::SocketAddr> =
        tokio::time::timeout(Duration::from_secs(10), tokio::net::lookup_host((bare.as_str(), port)))
            .await
            .map_err(|_| anyhow::anyhow!("{host}: name lookup timed out"))?
            .with_context(|| format!("{host}: name not found"))?
            .collect();
    if let Some(bad) = addrs.iter().find(|a| !net.allows(a.ip())) {
        bail!("{host} resolves to {}, an internal address, and allow_private_hosts is off", bad.ip());
    }
    let mut builder = reqwest::Client::builder()
        .redirect(reqwest::redirect::Policy::none())
        .connect_timeout(Duration::from_secs(10))
        .timeout(Duration::from_secs(30));
    if parsed.domain().is_some() {
        builder = builder.resolve_to_addrs(&host, &addrs);
    }
    builder.build().context("cannot build the HTTP client")
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
