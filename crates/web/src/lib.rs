//! The web face of Postkorb: German HTML screens (askama, server-rendered, no build step) and the
//! JSON API under `/api/v1`, on top of the store.
//!
//! The router is built here and handed to the binary, which binds the listener. What needs the
//! importer or the mailbox adapters (fetch now, test a connection, encrypt a password) comes in
//! through [`Hooks`], so this crate does no mail IO of its own.

mod api;
mod api_audit;
mod api_notify;
mod api_privacy;
mod api_webhooks;
mod api_work;
mod auth;
mod csv;
mod error;
#[cfg(test)]
mod german;
pub mod graph_notify;
mod live;
mod mailbox_health;
pub mod notify_mail;
mod pages;
mod paths;
mod problems;
mod ui;
mod util;
pub mod view;

use std::future::Future;
use std::pin::Pin;
use std::sync::Arc;

use axum::Router;
use axum::http::{HeaderValue, header};
use postkorb_store::Store;
use tower_http::set_header::SetResponseHeaderLayer;

pub use auth::{bootstrap_admin, hash_password, new_api_token, new_api_token_until};
pub use live::{Live, LiveOptions};
pub use problems::{MailboxProblem, ProblemReport};

pub type BoxFuture<'a, T> = Pin<Box<dyn Future<Output = T> + Send + 'a>>;

/// What the web needs from the rest of the application.
pub trait Hooks: Send + Sync + 'static {
    /// Fetch every mailbox now (for „Synchronisieren“). Errors are recorded on the mailbox.
    fn fetch_now(&self) -> BoxFuture<'_, ()>;
    /// „Verbindung testen“ with the settings as typed, not saved: mails waiting, or what went wrong.
    /// Stores nothing (no mailbox row, no health, no audit).
    fn test_mailbox(&self, trial: Trial) -> BoxFuture<'_, Result<usize, ProblemReport>>;
    /// „Probelauf“ with the settings as typed, not saved: what would become of the mails waiting,
    /// in German lines; nothing is stored, moved or deleted.
    fn dry_run(&self, trial: Trial) -> BoxFuture<'_, Result<Vec<String>, ProblemReport>>;
    /// „Ordner anzeigen“ with the settings as typed, not saved: the mailbox's folders as paths with
    /// "/" (Graph and IMAP; empty for the others). Stores nothing.
    fn folders(&self, trial: Trial) -> BoxFuture<'_, Result<Vec<String>, ProblemReport>>;
    /// „Anwendung verbinden“ (Microsoft Graph, application access): one client credentials grant
    /// with the form's client ID and secret; stores them and the token. A German error otherwise.
    fn oauth_app(&self, mailbox: String, request: OAuthRequest, employee_id: i64) -> BoxFuture<'_, Result<(), String>>;
    /// „Konto verbinden“ (OAuth2, authorization code with PKCE): remembers the flow and returns the
    /// provider's address to send the browser to.
    fn oauth_start(
        &self,
        mailbox: String,
        request: OAuthRequest,
        employee_id: i64,
    ) -> BoxFuture<'_, Result<String, String>>;
    /// The provider sent the browser back: takes the single-use flow of `state` (bound to the
    /// employee who started it, who must still hold „E-Mails automatisch einlesen“), exchanges the
    /// code with the flow's PKCE verifier and stores the tokens; returns the mailbox name, or a
    /// German error.
    fn oauth_finish(&self, state: String, code: String) -> BoxFuture<'_, Result<String, String>>;
    /// Seals a mailbox password for storage in `record` as it will be saved: bound to its endpoint.
    fn seal_password(&self, record: &postkorb_store::MailboxRecord, password: &str) -> Result<Vec<u8>, String>;
    /// A new webhook secret (issue 17): its plain `whsec_…` text, shown once, and its sealed form
    /// for `webhooks.secret`.
    fn new_webhook_secret(&self) -> Result<NewSecret, String>;
    /// Where a webhook URL points, checked when it is saved: a German sentence when its host is (or
    /// resolves to) an address of the own network and `allow_private_hosts` is off.
    fn check_webhook_url(&self, url: String) -> BoxFuture<'_, Result<(), String>>;
    /// Seals the SMTP password for `record` as it will be saved: bound to its endpoint.
    fn seal_smtp_password(&self, record: &postkorb_store::SmtpRecord, password: &str) -> Result<Vec<u8>, String>;
    /// „Testnachricht senden“ to `to` with the saved SMTP settings; a German error when it failed.
    fn send_test_mail(&self, to: String) -> BoxFuture<'_, Result<(), String>>;
}

/// A webhook secret just made: `plain` is shown once and never stored; `sealed` is stored.
pub struct NewSecret {
    pub plain: String,
    pub sealed: String,
}

/// Settings to try without saving them („Verbindung testen“, „Probelauf“): the validated record as
/// it would be saved (named like the mailbox it edits, or a new name) and the password typed for
/// this try. Without one, the stored secret of the mailbox of that name is used — and it opens
/// only for the endpoint it was entered for.
pub struct Trial {
    pub record: postkorb_store::MailboxRecord,
    pub password: Option<String>,
}

/// What the mailbox form sends to connect an OAuth2 account.
#[derive(Clone, Default, serde::Deserialize)]
pub struct OAuthRequest {
    /// microsoft | google | custom
    pub provider: String,
    pub client_id: String,
    #[serde(default)]
    pub tenant: String,
    #[serde(default)]
    pub client_secret: String,
    /// Application access only, instead of the secret: the RSA private key and the certificate
    /// uploaded to the app registration, in PEM.
    #[serde(default)]
    pub client_certificate: String,
    /// custom only
    #[serde(default)]
    pub token_url: String,
    /// custom only
    #[serde(default)]
    pub auth_url: String,
}

/// Never the secret or the private key.
impl std::fmt::Debug for OAuthRequest {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("OAuthRequest")
            .field("provider", &self.provider)
            .field("client_id", &self.client_id)
            .field("tenant", &self.tenant)
            .field("client_secret", &"<redacted>")
            .field("client_certificate", &"<redacted>")
            .field("token_url", &self.token_url)
            .field("auth_url", &self.auth_url)
            .finish()
    }
}

#[derive(Clone)]
pub struct WebState {
    pub store: Store,
    pub hooks: Arc<dyn Hooks>,
    /// Set the `Secure` flag on cookies (behind HTTPS).
    pub secure_cookies: bool,
    /// Which server paths the mailbox form may name.
    pub paths: PathRules,
    /// Reverse proxies whose `X-Forwarded-For` names the client (for the login limit); empty:
    /// the TCP peer is the client.
    pub trusted_proxies: Arc<[std::net::IpAddr]>,
    /// The reader of the Vorgang event log for the live Startmaske (`GET /ereignisse`):
    /// `Live::start(store.clone(), LiveOptions::default())`, once per process.
    pub live: Live,
    /// The office setting `notify_include_text`: notification mails quote the mail's first lines
    /// (shown read-only on „Benachrichtigungen“).
    pub notify_include_text: bool,
}

/// Server paths a web user may name in the mailbox form: a Maildir only below `maildir_root`
/// (none when unset), a CA file only in `ca_dir`. The CLI may name any path.
#[derive(Clone, Debug, Default)]
pub struct PathRules {
    pub maildir_root: Option<std::path::PathBuf>,
    pub ca_dir: Option<std::path::PathBuf>,
}

/// The whole web application: screens, API, security headers.
pub fn router(state: WebState) -> Router {
    Router::new()
        .merge(pages::routes().layer(axum::middleware::from_fn_with_state(state.clone(), error::with_menu)))
        .nest("/api/v1", api::routes())
        .route(graph_notify::PATH, axum::routing::post(graph_notify::receive))
        .layer(tower_http::csrf::CsrfLayer::new())
        .layer(SetResponseHeaderLayer::if_not_present(
            header::CONTENT_SECURITY_POLICY,
            HeaderValue::from_static(
                "default-src 'self'; script-src 'self'; object-src 'none'; img-src 'self' data:; style-src 'self' 'unsafe-inline'; frame-src 'self'; frame-ancestors 'self'; form-action 'self'; base-uri 'none'",
            ),
        ))
        .layer(SetResponseHeaderLayer::overriding(header::X_CONTENT_TYPE_OPTIONS, HeaderValue::from_static("nosniff")))
        .layer(SetResponseHeaderLayer::overriding(header::REFERRER_POLICY, HeaderValue::from_static("no-referrer")))
        .layer(SetResponseHeaderLayer::if_not_present(header::X_FRAME_OPTIONS, HeaderValue::from_static("SAMEORIGIN")))
        .layer(tower_http::limit::RequestBodyLimitLayer::new(2 * 1024 * 1024))
        .with_state(state)
}
