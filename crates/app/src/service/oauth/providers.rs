//! Where the OAuth2 providers' endpoints are and what to ask them for: Microsoft 365 (per tenant),
//! Google, or a custom provider (https, or http on loopback only).

use anyhow::{Context, bail};
use postkorb_store::OAuthFields;

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

    /// Microsoft Graph's delegated mail scopes instead of IMAP's and POP3's (Microsoft only; a
    /// token is for one resource): the mailbox and shared mailboxes, and a refresh token.
    pub fn for_graph(mut self) -> Provider {
        if self.name == "microsoft" {
            self.scopes = GRAPH_SCOPES.iter().map(|s| s.to_string()).collect();
        }
        self
    }

    /// What the client credentials grant asks for: Microsoft Graph's application permissions
    /// as granted to the app (`.default`); a custom provider: nothing.
    pub fn app_scopes(&self) -> Vec<String> {
        if self.name == "microsoft" { vec!["https://graph.microsoft.com/.default".into()] } else { vec![] }
    }

    /// The provider a stored mailbox uses.
    pub fn of(o: &OAuthFields) -> anyhow::Result<Provider> {
        let name = o.provider.as_deref().context("no OAuth provider set: run `postkorb mailbox oauth`")?;
        Provider::preset(name, o.tenant.as_deref(), o.token_url.as_deref(), None)
    }
}

/// Delegated Microsoft Graph permissions a Graph mailbox asks for.
pub const GRAPH_SCOPES: [&str; 3] = [
    "https://graph.microsoft.com/Mail.ReadWrite",
    "https://graph.microsoft.com/Mail.ReadWrite.Shared",
    "offline_access",
];

/// A token endpoint must be https — plain http only on loopback (tests, a local proxy).
pub(crate) fn check_endpoint(url: &str) -> anyhow::Result<()> {
    let parsed = reqwest::Url::parse(url).with_context(|| format!("not a URL: {url:?}"))?;
    let loopback = matches!(parsed.host_str(), Some("127.0.0.1" | "localhost" | "[::1]"));
    match parsed.scheme() {
        "https" => Ok(()),
        "http" if loopback => Ok(()),
        _ => bail!("the token endpoint must use https: {url:?}"),
    }
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
    fn graph_asks_for_graph_mail_scopes_and_the_app_for_default() {
        let p = Provider::preset("microsoft", None, None, None).unwrap().for_graph();
        assert_eq!(p.scopes, GRAPH_SCOPES.map(String::from).to_vec());
        assert_eq!(p.app_scopes(), vec!["https://graph.microsoft.com/.default".to_string()]);
        let custom = Provider::preset("custom", None, Some("http://127.0.0.1:9/token"), None).unwrap();
        assert!(custom.clone().for_graph().scopes.is_empty() && custom.app_scopes().is_empty());
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
}
