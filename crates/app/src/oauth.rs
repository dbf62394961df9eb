//! OAuth2 for XOAUTH2 mailboxes (Microsoft 365, Gmail): provider presets, the token refresh
//! before each pass, and the flows that connect an account (device code for a server without a
//! browser; authorization code with PKCE, e.g. for the web form).
//!
//! **Never lose a rotated token:** a refresh response is stored — new access token, expiry and the
//! rotated refresh token, encrypted — in one statement right after it arrives, before the access
//! token is used. Refreshes in this process are serialised; if another process rotated the token
//! meanwhile, the stored one is used instead of failing.
//!
//! The HTTP client is reqwest (rustls with ring only) that follows no redirects (SSRF) and has
//! short timeouts; the protocol work is the `oauth2` crate's.

use std::time::Duration;

use anyhow::{Context, bail};
use oauth2::basic::{BasicClient, BasicTokenResponse};
use oauth2::{
    AuthUrl, AuthorizationCode, ClientId, ClientSecret, CsrfToken, DeviceAuthorizationUrl, PkceCodeChallenge,
    PkceCodeVerifier, RedirectUrl, RefreshToken, RequestTokenError, Scope, StandardDeviceAuthorizationResponse,
    TokenResponse, TokenUrl,
};
use postkorb_core::mailbox::AuthKind;
use postkorb_source::{NetPolicy, SourceConfig};
use postkorb_store::{MailboxRecord, OAuthFields, OAuthTokens, SecretColumn, Store};

use crate::clock::{Clock, format_ms};
use crate::secret::SecretKey;

/// Refresh when the access token runs out within this time.
pub const REFRESH_MARGIN_MS: i64 = 5 * 60_000;
/// Warn when the refresh token has not been renewed for this long (Microsoft drops unused refresh
/// tokens after 90 days; each refresh renews it).
pub const STALE_REFRESH_MS: i64 = 60 * 86_400_000;

/// Where a provider's endpoints are and what to ask for.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Provider {
    pub name: String,
    pub token_url: String,
    pub auth_url: Option<String>,
    pub device_url: Option<String>,
    pub scopes: Vec<String>,
    /// Extra parameters for the authorization URL (Google: offline access, consent).
    pub auth_params: Vec<(String, String)>,
}

impl Provider {
    /// `microsoft` (tenant: ID or domain, default `organizations`), `google`, or `custom`
    /// (endpoints given; https unless on loopback).
    pub fn preset(
        name: &str,
        tenant: Option<&str>,
        token_url: Option<&str>,
        device_url: Option<&str>,
    ) -> anyhow::Result<Provider> {
        Ok(match name {
            "microsoft" => {
                let tenant = tenant.map(str::trim).filter(|t| !t.is_empty()).unwrap_or("organizations");
                if !tenant.chars().all(|c| c.is_ascii_alphanumeric() || matches!(c, '-' | '.')) {
                    bail!("tenant {tenant:?} is neither a tenant ID nor a domain");
                }
                let base = format!("https://login.microsoftonline.com/{tenant}/oauth2/v2.0");
                Provider {
                    name: name.into(),
                    token_url: format!("{base}/token"),
                    auth_url: Some(format!("{base}/authorize")),
                    device_url: Some(format!("{base}/devicecode")),
                    scopes: vec![
                        "https://outlook.office.com/IMAP.AccessAsUser.All".into(),
                        "https://outlook.office.com/POP.AccessAsUser.All".into(),
                        "offline_access".into(),
                    ],
                    auth_params: vec![],
                }
            }
            "google" => Provider {
                name: name.into(),
                token_url: "https://oauth2.googleapis.com/token".into(),
                auth_url: Some("https://accounts.google.com/o/oauth2/v2/auth".into()),
                device_url: Some("https://oauth2.googleapis.com/device/code".into()),
                scopes: vec!["https://mail.google.com/".into()],
                auth_params: vec![("access_type".into(), "offline".into()), ("prompt".into(), "consent".into())],
            },
            "custom" => {
                let token_url =
                    token_url.filter(|u| !u.trim().is_empty()).context("a custom provider needs a token URL")?;
                for url in [Some(token_url), device_url].into_iter().flatten() {
                    check_endpoint(url)?;
                }
                Provider {
                    name: name.into(),
                    token_url: token_url.into(),
                    auth_url: None,
                    device_url: device_url.map(Into::into),
                    scopes: vec![],
                    auth_params: vec![],
                }
            }
            other => bail!("unknown OAuth provider {other:?}: use microsoft, google or custom"),
        })
    }

    /// The provider a stored mailbox uses.
    pub fn of(o: &OAuthFields) -> anyhow::Result<Provider> {
        let name = o.provider.as_deref().context("no OAuth provider set: run `postkorb mailbox oauth`")?;
        Provider::preset(name, o.tenant.as_deref(), o.token_url.as_deref(), None)
    }
}

/// A token endpoint must be https — plain http only on loopback (tests, a local proxy).
fn check_endpoint(url: &str) -> anyhow::Result<()> {
    let parsed = reqwest::Url::parse(url).with_context(|| format!("not a URL: {url:?}"))?;
    let loopback = matches!(parsed.host_str(), Some("127.0.0.1" | "localhost" | "[::1]"));
    match parsed.scheme() {
        "https" => Ok(()),
        "http" if loopback => Ok(()),
        _ => bail!("the token endpoint must use https: {url:?}"),
    }
}

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
struct ClientSpec {
    client_id: String,
    client_secret: Option<String>,
}

impl ClientSpec {
    fn of(m: &MailboxRecord, key: &SecretKey) -> anyhow::Result<ClientSpec> {
        let client_id = m.oauth.client_id.clone().filter(|c| !c.is_empty()).context("no OAuth client ID set")?;
        let client_secret = crate::mailbox::open_secret(m, key, SecretColumn::OAuthClientSecret)?;
        Ok(ClientSpec { client_id, client_secret })
    }
}

fn basic(spec: &ClientSpec) -> BasicClient {
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

const OAUTH_ERROR_CODES: [&str; 9] = [
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

fn describe<RE: std::error::Error + 'static, T: oauth2::ErrorResponseType + std::fmt::Display>(
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
fn encrypt_tokens(
    t: &BasicTokenResponse,
    key: &SecretKey,
    m: &MailboxRecord,
    now_ms: i64,
) -> anyhow::Result<OAuthTokens> {
    let seal = |column, plain: &str| crate::mailbox::seal_secret(m, key, column, plain);
    Ok(OAuthTokens {
        access: seal(SecretColumn::OAuthAccess, t.access_token().secret())?,
        expires_ms: t.expires_in().map(|d| now_ms + i64::try_from(d.as_millis()).unwrap_or(i64::MAX / 2)),
        refresh: t.refresh_token().map(|r| seal(SecretColumn::OAuthRefresh, r.secret())).transpose()?,
    })
}

/// Connection settings for a pass: for an XOAUTH2 mailbox whose access token runs out within
/// [`REFRESH_MARGIN_MS`], the token is refreshed (and the result stored) first.
pub async fn fresh_config(
    store: &Store,
    m: &MailboxRecord,
    key: &SecretKey,
    clock: &Clock,
    net: NetPolicy,
) -> anyhow::Result<SourceConfig> {
    if AuthKind::of_stored(&m.auth) != AuthKind::XOAuth2 {
        return crate::mailbox::source_config(m, key, net);
    }
    let fresh = ensure_fresh(store, m, key, clock.now_ms(), net).await?;
    crate::mailbox::source_config(&fresh, key, net)
}

fn expiring(m: &MailboxRecord, now_ms: i64) -> bool {
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

enum RefreshError {
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
async fn refresh(
    store: &Store,
    m: &MailboxRecord,
    key: &SecretKey,
    now_ms: i64,
    net: NetPolicy,
) -> Result<(), RefreshError> {
    let provider = Provider::of(&m.oauth)?;
    let spec = ClientSpec::of(m, key)?;
    let Some(refresh_token) = crate::mailbox::open_secret(m, key, SecretColumn::OAuthRefresh)? else {
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
    if AuthKind::of_stored(&m.auth) != AuthKind::XOAuth2 {
        return None;
    }
    let provider = m.oauth.provider.as_deref().unwrap_or("?");
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

/// What the user must do to approve a device code request.
pub struct DevicePrompt {
    pub verification_uri: String,
    pub user_code: String,
    pub expires_in: Duration,
}

/// Settings for connecting an account (what `mailbox oauth` and the web form pass in).
#[derive(Clone, Debug)]
pub struct Connect {
    pub provider: String,
    pub client_id: String,
    pub client_secret: Option<String>,
    pub tenant: Option<String>,
    /// custom provider only
    pub token_url: Option<String>,
    /// custom provider only
    pub device_url: Option<String>,
    /// custom provider only: the authorization endpoint for the browser (PKCE) flow
    pub auth_url: Option<String>,
    /// Which addresses the token endpoint may have.
    pub net: NetPolicy,
}

impl Connect {
    fn provider(&self) -> anyhow::Result<Provider> {
        let mut p = Provider::preset(
            &self.provider,
            self.tenant.as_deref(),
            self.token_url.as_deref(),
            self.device_url.as_deref(),
        )?;
        if let (Some(url), "custom") =
            (self.auth_url.as_deref().filter(|u| !u.trim().is_empty()), self.provider.as_str())
        {
            check_endpoint(url)?;
            p.auth_url = Some(url.to_string());
        }
        Ok(p)
    }

    fn spec(&self) -> ClientSpec {
        ClientSpec { client_id: self.client_id.clone(), client_secret: self.client_secret.clone() }
    }
}

/// The device code flow (RFC 8628): asks for a user code, shows it via `prompt`, polls until the
/// user approved, then stores settings and tokens (auth = xoauth2). The mailbox must exist.
pub async fn connect_device(
    store: &Store,
    key: &SecretKey,
    clock: &Clock,
    mailbox: &str,
    c: &Connect,
    prompt: impl FnOnce(&DevicePrompt),
    actor: &str,
) -> anyhow::Result<MailboxRecord> {
    store.mailbox(mailbox).await?;
    let provider = c.provider()?;
    let device_url = provider.device_url.clone().context("this provider has no device code endpoint")?;
    let client = basic(&c.spec())
        .set_token_uri(TokenUrl::new(provider.token_url.clone()).context("token URL")?)
        .set_device_authorization_url(DeviceAuthorizationUrl::new(device_url).context("device code URL")?);
    let http = http_client(&provider.token_url, c.net).await?;
    if let Some(url) = &provider.device_url {
        http_client(url, c.net).await?;
    }
    let details: StandardDeviceAuthorizationResponse = client
        .exchange_device_code()
        .add_scopes(provider.scopes.iter().cloned().map(Scope::new))
        .request_async(&http)
        .await
        .map_err(describe)
        .context("device code request failed")?;
    prompt(&DevicePrompt {
        verification_uri: details.verification_uri().to_string(),
        user_code: details.user_code().secret().clone(),
        expires_in: details.expires_in(),
    });
    let token = client
        .exchange_device_access_token(&details)
        .request_async(&http, tokio::time::sleep, None)
        .await
        .map_err(describe)
        .context("the account was not connected")?;
    store_connected(store, key, clock, mailbox, c, &token, actor).await
}

/// Step one of the authorization code flow with PKCE: the URL to send the user to, the `state`
/// to check on the way back and the verifier to keep (server side) for [`finish_auth_code`].
pub struct AuthStart {
    pub url: String,
    pub state: String,
    pub pkce_verifier: String,
}

pub fn start_auth_code(c: &Connect, redirect_uri: &str) -> anyhow::Result<AuthStart> {
    let provider = c.provider()?;
    let auth_url = provider.auth_url.clone().context("this provider has no authorization endpoint")?;
    let client = basic(&c.spec())
        .set_auth_uri(AuthUrl::new(auth_url).context("authorization URL")?)
        .set_redirect_uri(RedirectUrl::new(redirect_uri.into()).context("redirect URL")?);
    let (challenge, verifier) = PkceCodeChallenge::new_random_sha256();
    let mut request = client
        .authorize_url(CsrfToken::new_random)
        .add_scopes(provider.scopes.iter().cloned().map(Scope::new))
        .set_pkce_challenge(challenge);
    for (k, v) in &provider.auth_params {
        request = request.add_extra_param(k.clone(), v.clone());
    }
    let (url, state) = request.url();
    Ok(AuthStart { url: url.to_string(), state: state.secret().clone(), pkce_verifier: verifier.secret().clone() })
}

/// Step two: exchanges the code from the redirect (after the caller checked `state`) and stores
/// settings and tokens (auth = xoauth2).
#[allow(clippy::too_many_arguments)]
pub async fn finish_auth_code(
    store: &Store,
    key: &SecretKey,
    clock: &Clock,
    mailbox: &str,
    c: &Connect,
    redirect_uri: &str,
    code: &str,
    pkce_verifier: &str,
    actor: &str,
) -> anyhow::Result<MailboxRecord> {
    store.mailbox(mailbox).await?;
    let provider = c.provider()?;
    let client = basic(&c.spec())
        .set_token_uri(TokenUrl::new(provider.token_url.clone()).context("token URL")?)
        .set_redirect_uri(RedirectUrl::new(redirect_uri.into()).context("redirect URL")?);
    let token = client
        .exchange_code(AuthorizationCode::new(code.into()))
        .set_pkce_verifier(PkceCodeVerifier::new(pkce_verifier.into()))
        .request_async(&http_client(&provider.token_url, c.net).await?)
        .await
        .map_err(describe)
        .context("the authorization code was not accepted")?;
    store_connected(store, key, clock, mailbox, c, &token, actor).await
}

async fn store_connected(
    store: &Store,
    key: &SecretKey,
    clock: &Clock,
    mailbox: &str,
    c: &Connect,
    token: &BasicTokenResponse,
    actor: &str,
) -> anyhow::Result<MailboxRecord> {
    let now = clock.now_ms();
    // The settings first: the tokens are sealed for the endpoint they will be stored with.
    let mut m = store.mailbox(mailbox).await?;
    m.auth = AuthKind::XOAuth2.code().into();
    m.secret = None;
    m.oauth = OAuthFields {
        provider: Some(c.provider.clone()),
        client_id: Some(c.client_id.clone()),
        tenant: Some(c.tenant.clone().unwrap_or_default()),
        token_url: Some(c.token_url.clone().unwrap_or_default()),
        ..OAuthFields::default()
    };
    let tokens = encrypt_tokens(token, key, &m, now)?;
    if tokens.refresh.is_none() {
        return Err(TokenError {
            kind: TokenFailure::NoRefreshToken,
            detail: "the provider sent no refresh token (for Microsoft the scope offline_access is needed)".into(),
        }
        .into());
    }
    m.oauth.client_secret = c
        .client_secret
        .as_deref()
        .map(|s| crate::mailbox::seal_secret(&m, key, SecretColumn::OAuthClientSecret, s))
        .transpose()?;
    m.oauth.refresh = tokens.refresh;
    m.oauth.access = Some(tokens.access);
    m.oauth.expires_ms = tokens.expires_ms;
    m.oauth.refreshed_ms = Some(now);
    // Through save_mailbox, so the change stamps updated_ms and a running loop picks it up.
    Ok(store.save_mailbox_by(&m, now, actor).await?)
}

/// `postkorb mailbox oauth`: connects the account and stores the tokens.
pub async fn cli(ctx: &crate::Ctx, a: crate::cli::OAuthArgs) -> anyhow::Result<()> {
    let client_secret =
        if a.client_secret_stdin { Some(crate::admin::read_secret("Client secret: ", true)?) } else { None };
    let c = Connect {
        provider: a.provider.clone(),
        client_id: a.client_id.clone(),
        client_secret,
        tenant: a.tenant.clone(),
        token_url: a.token_url.clone(),
        device_url: a.device_url.clone(),
        auth_url: None,
        net: ctx.settings.net(),
    };
    let m = match a.flow.as_str() {
        "device" => {
            if a.provider == "google" {
                eprintln!("note: Google does not grant mail access by device code; if it refuses, use --flow browser");
            }
            connect_device(
                &ctx.store,
                &ctx.key,
                &ctx.clock,
                &a.name,
                &c,
                |p| {
                    println!(
                        "To connect mailbox {:?}, open {} and enter the code {}",
                        a.name, p.verification_uri, p.user_code
                    );
                    println!("(valid for {} minutes; waiting for you to sign in …)", p.expires_in.as_secs() / 60);
                },
                "cli",
            )
            .await?
        }
        "browser" => {
            let start = start_auth_code(&c, &a.redirect_uri)?;
            println!("Open this address in a browser and sign in with the mailbox's account:\n\n{}\n", start.url);
            println!("You are then sent to {} (the page may not load). Paste that whole address here:", a.redirect_uri);
            let mut line = String::new();
            std::io::stdin().read_line(&mut line).context("cannot read the address")?;
            let (code, state) = code_from_redirect(line.trim())?;
            if state != start.state {
                bail!("the address does not belong to this sign-in (state differs); start again");
            }
            finish_auth_code(
                &ctx.store,
                &ctx.key,
                &ctx.clock,
                &a.name,
                &c,
                &a.redirect_uri,
                &code,
                &start.pkce_verifier,
                "cli",
            )
            .await?
        }
        other => bail!("unknown flow {other:?}: use device or browser"),
    };
    ctx.store.audit(ctx.clock.now_ms(), "cli", "mailbox_oauth", &format!("{} via {}", m.name, a.provider)).await?;
    println!("connected: mailbox {} now logs in with OAuth2 (XOAUTH2)", m.name);
    if let Some(line) = token_status(&m, ctx.clock.now_ms()) {
        println!("{line}");
    }
    Ok(())
}

/// `code` and `state` from the address the provider redirected to; an error the provider put
/// there (`error=access_denied`) is reported as such.
pub fn code_from_redirect(url: &str) -> anyhow::Result<(String, String)> {
    let parsed = reqwest::Url::parse(url).context("that is not an address")?;
    let get = |name: &str| parsed.query_pairs().find(|(k, _)| k == name).map(|(_, v)| v.into_owned());
    if let Some(error) = get("error") {
        bail!("the provider refused: {error} {}", get("error_description").unwrap_or_default());
    }
    Ok((get("code").context("no code in the address")?, get("state").context("no state in the address")?))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn microsoft_endpoints_carry_the_tenant_and_the_mail_scopes() {
        let p = Provider::preset("microsoft", Some("contoso.onmicrosoft.com"), None, None).unwrap();
        assert_eq!(p.token_url, "https://login.microsoftonline.com/contoso.onmicrosoft.com/oauth2/v2.0/token");
        assert!(p.device_url.unwrap().ends_with("/oauth2/v2.0/devicecode"));
        assert!(p.scopes.contains(&"offline_access".to_string()));
        assert!(p.scopes.iter().any(|s| s.ends_with("POP.AccessAsUser.All")));
        let default = Provider::preset("microsoft", None, None, None).unwrap();
        assert!(default.token_url.contains("/organizations/"));
        assert!(Provider::preset("microsoft", Some("evil/../x"), None, None).is_err());
    }

    #[test]
    fn google_asks_for_full_mail_access_offline() {
        let p = Provider::preset("google", None, None, None).unwrap();
        assert_eq!(p.token_url, "https://oauth2.googleapis.com/token");
        assert_eq!(p.scopes, vec!["https://mail.google.com/".to_string()]);
        assert!(p.auth_params.contains(&("access_type".into(), "offline".into())));
    }

    #[test]
    fn a_custom_token_endpoint_must_be_https_unless_on_loopback() {
        assert!(Provider::preset("custom", None, Some("https://idp.example/token"), None).is_ok());
        assert!(Provider::preset("custom", None, Some("http://127.0.0.1:9/token"), None).is_ok());
        assert!(Provider::preset("custom", None, Some("http://idp.example/token"), None).is_err());
        assert!(Provider::preset("custom", None, None, None).is_err());
        assert!(Provider::preset("yahoo", None, None, None).is_err());
    }

    #[test]
    fn the_authorization_url_uses_pkce_and_a_fresh_state() {
        let c = Connect {
            provider: "google".into(),
            client_id: "cid".into(),
            client_secret: None,
            tenant: None,
            token_url: None,
            device_url: None,
            auth_url: None,
            net: NetPolicy::default(),
        };
        let a = start_auth_code(&c, "http://localhost:8080/oauth/callback").unwrap();
        assert!(a.url.starts_with("https://accounts.google.com/o/oauth2/v2/auth?"));
        assert!(a.url.contains("code_challenge_method=S256"));
        assert!(a.url.contains(&format!("state={}", a.state)));
        assert!(a.url.contains("access_type=offline"));
        assert!(!a.url.contains(&a.pkce_verifier), "the verifier must stay on the server");
        assert_ne!(start_auth_code(&c, "http://localhost:8080/oauth/callback").unwrap().state, a.state);
    }

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
