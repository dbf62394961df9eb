//! The authorization code flow with PKCE, for „Konto verbinden“ in the web form (and
//! `mailbox oauth --flow browser`): the address to send the browser to, and the code it brings back.

use anyhow::{Context, bail};
use oauth2::{
    AuthUrl, AuthorizationCode, CsrfToken, PkceCodeChallenge, PkceCodeVerifier, RedirectUrl, Scope, TokenUrl,
};
use postkorb_store::{MailboxRecord, Store};

use super::client::{basic, describe, http_client};
use super::connect::{Connect, store_connected};
use crate::clock::Clock;
use crate::secret::SecretKey;

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
    fn the_authorization_url_uses_pkce_and_a_fresh_state() {
        let c = Connect {
            provider: "google".into(),
            client_id: "cid".into(),
            client_secret: None,
            tenant: None,
            token_url: None,
            device_url: None,
            auth_url: None,
            net: postkorb_source::NetPolicy::default(),
            graph: false,
        };
        let a = start_auth_code(&c, "http://localhost:8080/oauth/callback").unwrap();
        assert!(a.url.starts_with("https://accounts.google.com/o/oauth2/v2/auth?"));
        assert!(a.url.contains("code_challenge_method=S256"));
        assert!(a.url.contains(&format!("state={}", a.state)));
        assert!(a.url.contains("access_type=offline"));
        assert!(!a.url.contains(&a.pkce_verifier), "the verifier must stay on the server");
        assert_ne!(start_auth_code(&c, "http://localhost:8080/oauth/callback").unwrap().state, a.state);
    }
}
