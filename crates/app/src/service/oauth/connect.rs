//! Connecting an account: the settings a flow starts from ([`Connect`]) and storing what it got —
//! provider, client and the tokens sealed for the endpoint they will be used with.

use oauth2::basic::BasicTokenResponse;
use postkorb_core::mailbox::AuthKind;
use postkorb_source::NetPolicy;
use postkorb_store::{MailboxRecord, OAuthFields, SecretColumn, Store};

use super::client::{ClientSpec, TokenError, TokenFailure, encrypt_tokens};
use super::providers::{Provider, check_endpoint};
use crate::clock::Clock;
use crate::secret::SecretKey;

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
    /// The mailbox is read through Microsoft Graph: ask for Graph's mail scopes.
    pub graph: bool,
}

impl Connect {
    pub(crate) fn provider(&self) -> anyhow::Result<Provider> {
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
        if self.graph && p.name == "google" {
            anyhow::bail!("a Microsoft Graph mailbox connects with Microsoft (or a custom provider), not Google");
        }
        Ok(if self.graph { p.for_graph() } else { p })
    }

    pub(crate) fn spec(&self) -> ClientSpec {
        ClientSpec { client_id: self.client_id.clone(), client_secret: self.client_secret.clone() }
    }

    /// The mailbox's OAuth settings for this connection, without tokens (they are sealed for the
    /// endpoint these settings name, so they are set first).
    pub(crate) fn fields(&self) -> OAuthFields {
        OAuthFields {
            provider: Some(self.provider.clone()),
            client_id: Some(self.client_id.clone()),
            tenant: Some(self.tenant.clone().unwrap_or_default()),
            token_url: Some(self.token_url.clone().unwrap_or_default()),
            ..OAuthFields::default()
        }
    }
}

pub(crate) async fn store_connected(
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
    m.oauth = c.fields();
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
        .map(|s| crate::service::mailbox::seal_secret(&m, key, SecretColumn::OAuthClientSecret, s))
        .transpose()?;
    m.oauth.refresh = tokens.refresh;
    m.oauth.access = Some(tokens.access);
    m.oauth.expires_ms = tokens.expires_ms;
    m.oauth.refreshed_ms = Some(now);
    // Through save_mailbox, so the change stamps updated_ms and a running loop picks it up.
    Ok(store.save_mailbox_by(&m, now, actor).await?)
}
