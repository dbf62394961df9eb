//! Application access (Microsoft Graph): the app's own token by the client credentials grant with
//! its secret or its certificate (a signed client assertion, assertion.rs) — for offices that want
//! no user's token to lapse. Connecting stores the client ID,
//! the secret and the first token, each sealed for the mailbox's endpoint; before each pass a token
//! that runs out is fetched anew the same way (there is no refresh token). Which mailboxes the app
//! may open is Microsoft's to restrict (application access policy / RBAC for Applications).

use anyhow::Context;
use oauth2::basic::BasicTokenResponse;
use oauth2::{AuthType, Scope, TokenUrl};
use postkorb_core::mailbox::AuthKind;
use postkorb_source::NetPolicy;
use postkorb_store::{MailboxRecord, SecretColumn, Store};

use super::assertion;
use super::client::{ClientSpec, TokenError, basic, describe, encrypt_tokens, http_client};
use super::connect::Connect;
use super::providers::Provider;
use super::refresh::RefreshError;
use crate::clock::Clock;
use crate::secret::SecretKey;

/// Connects `mailbox` for application access: one client credentials grant with `c`'s client ID
/// and secret, then settings, secret and token stored (auth = `oauth2_app`). The mailbox must exist.
pub async fn connect_app(
    store: &Store,
    key: &SecretKey,
    clock: &Clock,
    mailbox: &str,
    c: &Connect,
    actor: &str,
) -> anyhow::Result<MailboxRecord> {
    let mut m = store.mailbox(mailbox).await?;
    let secret = c
        .client_secret
        .as_deref()
        .filter(|s| !s.is_empty())
        .context("application access needs the client secret or certificate")?;
    let provider = c.provider()?;
    let now = clock.now_ms();
    let token = grant(&provider, &c.spec(), c.net, now).await.context("the application was not connected")?;
    // The settings first: secret and token are sealed for the endpoint they will be stored with.
    m.auth = AuthKind::App.code().into();
    m.secret = None;
    m.oauth = c.fields();
    let tokens = encrypt_tokens(&token, key, &m, now)?;
    m.oauth.client_secret =
        Some(crate::service::mailbox::seal_secret(&m, key, SecretColumn::OAuthClientSecret, secret)?);
    m.oauth.access = Some(tokens.access);
    m.oauth.expires_ms = tokens.expires_ms;
    m.oauth.refreshed_ms = Some(now);
    Ok(store.save_mailbox_by(&m, now, actor).await?)
}

/// A new token for an application-access mailbox (its stored client secret), stored at once.
pub(crate) async fn renew(
    store: &Store,
    m: &MailboxRecord,
    key: &SecretKey,
    now_ms: i64,
    net: NetPolicy,
) -> Result<(), RefreshError> {
    let provider = Provider::of(&m.oauth)?;
    let spec = ClientSpec::of(m, key)?;
    if spec.client_secret.is_none() {
        return Err(RefreshError::Other(anyhow::anyhow!("no client secret stored for application access")));
    }
    let token = grant(&provider, &spec, net, now_ms).await.map_err(|e| RefreshError::Other(e.into()))?;
    let tokens = encrypt_tokens(&token, key, m, now_ms)?;
    store.store_oauth_tokens(m.id, &tokens, now_ms).await.map_err(|e| RefreshError::Other(e.into()))?;
    tracing::info!(mailbox = %m.name, "application access token fetched");
    Ok(())
}

/// The client credentials grant (RFC 6749 §4.4), asking for the provider's application scope: with
/// a secret in the request body as Microsoft documents it, or with a certificate's client assertion
/// (RFC 7523) made at `now_ms`.
async fn grant(
    provider: &Provider,
    spec: &ClientSpec,
    net: NetPolicy,
    now_ms: i64,
) -> Result<BasicTokenResponse, TokenError> {
    let unreadable = |detail: String| TokenError { kind: super::TokenFailure::Unreadable, detail };
    let url = TokenUrl::new(provider.token_url.clone()).map_err(|e| unreadable(format!("token URL: {e}")))?;
    let certificate = spec.client_secret.as_deref().filter(|c| assertion::is_certificate(c));
    let assertion = certificate
        .map(|pem| {
            assertion::Certificate::from_pem(pem)
                .and_then(|c| c.assertion(&spec.client_id, &provider.token_url, now_ms))
                .map_err(|e| unreadable(format!("the certificate credential: {e:#}")))
        })
        .transpose()?;
    let plain = ClientSpec { client_id: spec.client_id.clone(), client_secret: None };
    let client =
        basic(if assertion.is_some() { &plain } else { spec }).set_token_uri(url).set_auth_type(AuthType::RequestBody);
    let http = http_client(&provider.token_url, net)
        .await
        .map_err(|e| TokenError { kind: super::TokenFailure::Unreachable, detail: format!("{e:#}") })?;
    let mut request =
        client.exchange_client_credentials().add_scopes(provider.app_scopes().into_iter().map(Scope::new));
    if let Some(jwt) = assertion {
        request = request
            .add_extra_param("client_assertion_type", assertion::JWT_BEARER)
            .add_extra_param("client_assertion", jwt);
    }
    request.request_async(&http).await.map_err(describe)
}
