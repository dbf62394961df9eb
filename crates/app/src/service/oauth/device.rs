//! The device code flow (RFC 8628), for a server without a browser: `postkorb mailbox oauth`.

use std::time::Duration;

use anyhow::Context;
use oauth2::{DeviceAuthorizationUrl, Scope, StandardDeviceAuthorizationResponse, TokenUrl};
use postkorb_store::{MailboxRecord, Store};

use super::client::{basic, describe, http_client};
use super::connect::{Connect, store_connected};
use crate::clock::Clock;
use crate::secret::SecretKey;

/// What the user must do to approve a device code request.
pub struct DevicePrompt {
    pub verification_uri: String,
    pub user_code: String,
    pub expires_in: Duration,
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
