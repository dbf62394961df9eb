//! The HTTP side of `serve`: the web UI and JSON API (crates/web), plus `/health` and `/metrics`
//! (`probes.rs`).
//! The web reaches the importer and the mailbox adapters only through [`AppHooks`].

use std::sync::Arc;

use axum::Router;
use postkorb_source::SourceError;
use postkorb_store::MailboxRecord;
use postkorb_web::{BoxFuture, Hooks, MailboxProblem, ProblemReport, Trial, WebState};

use crate::Ctx;

/// What the web may ask of the application.
pub struct AppHooks {
    ctx: Ctx,
    /// One on-demand fetch at a time per process; the ledger guards against other processes.
    fetching: tokio::sync::Mutex<()>,
}

impl AppHooks {
    pub fn new(ctx: &Ctx) -> anyhow::Result<AppHooks> {
        let ctx = Ctx {
            settings: ctx.settings.clone(),
            store: ctx.store.clone(),
            key: crate::secret::SecretKey::load_or_create(&ctx.settings.key_file())?,
            clock: ctx.clock.clone(),
        };
        Ok(AppHooks { ctx, fetching: tokio::sync::Mutex::new(()) })
    }
}

impl Hooks for AppHooks {
    fn fetch_now(&self) -> BoxFuture<'_, ()> {
        Box::pin(async move {
            let _one = self.fetching.lock().await;
            match crate::service::fetch::fetch_each(&self.ctx, false).await {
                Ok(results) => {
                    for (m, outcome) in results {
                        if let crate::service::fetch::Fetched::Failed(e) = outcome {
                            tracing::warn!(mailbox = %m.name, error = %format!("{e:#}"), "fetch on demand failed");
                        }
                    }
                }
                Err(e) => tracing::warn!(error = %format!("{e:#}"), "fetch on demand failed"),
            }
        })
    }

    fn test_mailbox(&self, trial: Trial) -> BoxFuture<'_, Result<usize, ProblemReport>> {
        Box::pin(async move {
            let m = self.trial(trial).await?;
            let run = async {
                let cfg = self.trial_config(&m).await?;
                Ok(postkorb_source::test_connection(&cfg).await?)
            };
            run.await.map_err(|e: anyhow::Error| problem(&m, &e))
        })
    }

    fn folders(&self, trial: Trial) -> BoxFuture<'_, Result<Vec<String>, ProblemReport>> {
        Box::pin(async move {
            let m = self.trial(trial).await?;
            let run = async {
                let cfg = self.trial_config(&m).await?;
                Ok(postkorb_source::list_folders(&cfg).await?)
            };
            run.await.map_err(|e: anyhow::Error| problem(&m, &e))
        })
    }

    fn oauth_app(
        &self,
        mailbox: String,
        r: postkorb_web::OAuthRequest,
        employee_id: i64,
    ) -> BoxFuture<'_, Result<(), String>> {
        Box::pin(async move {
            let stored = self
                .ctx
                .store
                .mailbox(&mailbox)
                .await
                .map_err(|_| "Bitte speichern Sie zuerst die Einstellungen des Postfachs.".to_string())?;
            if stored.protocol != postkorb_source::Protocol::Graph.code() {
                return Err("Anwendungszugriff gibt es nur für „Microsoft 365 (Graph)“.".into());
            }
            let some = |s: &str| Some(s.trim().to_string()).filter(|s| !s.is_empty());
            let (secret, certificate) = (some(&r.client_secret), some(&r.client_certificate));
            if secret.is_some() && certificate.is_some() {
                return Err("Bitte geben Sie entweder den geheimen Clientschlüssel oder das Zertifikat an, \
                            nicht beides."
                    .into());
            }
            let c = crate::service::oauth::Connect {
                provider: r.provider.trim().to_string(),
                client_id: r.client_id.trim().to_string(),
                client_secret: secret.or(certificate),
                tenant: some(&r.tenant),
                token_url: some(&r.token_url),
                device_url: None,
                auth_url: None,
                net: self.ctx.settings.net(),
                graph: true,
            };
            if c.client_id.is_empty() || c.client_secret.is_none() {
                return Err(
                    "Bitte geben Sie die Client-ID und den geheimen Clientschlüssel (oder das Zertifikat) der \
                            App an."
                        .into(),
                );
            }
            if c.provider == "microsoft" && c.tenant.is_none() {
                return Err("Bitte geben Sie den Mandanten an (Mandanten-ID oder Domain, z. B.                             ihr-buero.onmicrosoft.com): Anwendungszugriff gilt für einen Mandanten."
                    .into());
            }
            let employee =
                self.ctx.store.employee(postkorb_core::EmployeeId(employee_id)).await.map_err(|e| e.to_string())?;
            let actor = employee.username.clone().unwrap_or_else(|| employee.name.clone());
            let clock = &self.ctx.clock;
            crate::service::oauth::connect_app(&self.ctx.store, &self.ctx.key, clock, &mailbox, &c, &actor)
                .await
                .map_err(|e| {
                    tracing::warn!(mailbox = %mailbox, error = %format!("{e:#}"), "application access not connected");
                    crate::service::oauth::german_failure(&e)
                })?;
            let entry = postkorb_core::AuditEntry::MailboxOauth { mailbox: mailbox.clone(), provider: c.provider };
            self.ctx.store.audit_entry(clock.now_ms(), &actor, &entry).await.map_err(|e| e.to_string())?;
            Ok(())
        })
    }

    fn dry_run(&self, trial: Trial) -> BoxFuture<'_, Result<Vec<String>, ProblemReport>> {
        Box::pin(async move {
            let m = self.trial(trial).await?;
            let run = async {
                let cfg = self.trial_config(&m).await?;
                crate::service::dryrun::run_with(&self.ctx, &m, &cfg).await
            };
            run.await.map(|r| r.german_lines()).map_err(|e| problem(&m, &e))
        })
    }

    fn oauth_start(
        &self,
        mailbox: String,
        r: postkorb_web::OAuthRequest,
        employee_id: i64,
    ) -> BoxFuture<'_, Result<String, String>> {
        Box::pin(async move {
            let german = |e: anyhow::Error| format!("Konto kann nicht verbunden werden: {e:#}");
            let stored = self
                .ctx
                .store
                .mailbox(&mailbox)
                .await
                .map_err(|_| "Bitte speichern Sie zuerst die Einstellungen des Postfachs.".to_string())?;
            let some = |s: &str| Some(s.trim().to_string()).filter(|s| !s.is_empty());
            let pending = Pending {
                graph: stored.protocol == postkorb_source::Protocol::Graph.code(),
                provider: r.provider.trim().to_string(),
                client_id: r.client_id.trim().to_string(),
                client_secret: some(&r.client_secret),
                tenant: some(&r.tenant),
                token_url: some(&r.token_url),
                auth_url: some(&r.auth_url),
                verifier: String::new(),
            };
            if pending.client_id.is_empty() {
                return Err("Bitte geben Sie die Client-ID der App-Registrierung an.".into());
            }
            let redirect = self.ctx.settings.oauth_redirect_uri();
            let start = crate::service::oauth::start_auth_code(&pending.connect(self.ctx.settings.net()), &redirect)
                .map_err(german)?;
            let payload = serde_json::to_string(&Pending { verifier: start.pkce_verifier.clone(), ..pending })
                .map_err(|e| e.to_string())?;
            let hash = state_hash(&start.state);
            let sealed = self.ctx.key.seal(&payload, &pending_binding(&hash)).map_err(|e| e.to_string())?;
            let now = self.ctx.clock.now_ms();
            self.ctx
                .store
                .put_oauth_pending(&hash, &mailbox, employee_id, &sealed, now)
                .await
                .map_err(|e| e.to_string())?;
            Ok(start.url)
        })
    }

    fn oauth_finish(&self, state: String, code: String) -> BoxFuture<'_, Result<String, String>> {
        Box::pin(async move {
            let expired = || {
                "Die Anmeldung beim Anbieter ist abgelaufen oder ungültig. Bitte noch einmal „Konto verbinden“."
                    .to_string()
            };
            let now = self.ctx.clock.now_ms();
            let hash = state_hash(&state);
            let (mailbox, who, sealed) = self
                .ctx
                .store
                .take_oauth_pending(&hash, now, 10 * 60_000)
                .await
                .map_err(|e| e.to_string())?
                .ok_or_else(expired)?;
            // The state stands in for the session here: whoever started the flow must still be
            // allowed to change the mailbox.
            let employee = self.ctx.store.employee(postkorb_core::EmployeeId(who)).await.map_err(|_| expired())?;
            if !employee.is_current || !employee.has(postkorb_core::Permission::ManageMailImport) {
                return Err(expired());
            }
            let payload = self.ctx.key.open(&sealed, &pending_binding(&hash)).map_err(|_| expired())?;
            let pending: Pending = serde_json::from_str(&payload).map_err(|_| expired())?;
            let redirect = self.ctx.settings.oauth_redirect_uri();
            let actor = employee.username.clone().unwrap_or_else(|| employee.name.clone());
            crate::service::oauth::finish_auth_code(
                &self.ctx.store,
                &self.ctx.key,
                &self.ctx.clock,
                &mailbox,
                &pending.connect(self.ctx.settings.net()),
                &redirect,
                &code,
                &pending.verifier,
                &actor,
            )
            .await
            .map_err(|e| {
                tracing::warn!(mailbox = %mailbox, error = %format!("{e:#}"), "OAuth connect failed");
                crate::service::oauth::german_failure(&e)
            })?;
            Ok(mailbox)
        })
    }

    fn seal_password(&self, record: &postkorb_store::MailboxRecord, password: &str) -> Result<Vec<u8>, String> {
        crate::service::mailbox::seal_secret(record, &self.ctx.key, postkorb_store::SecretColumn::Password, password)
            .map_err(|e| e.to_string())
    }

    fn new_webhook_secret(&self) -> Result<postkorb_web::NewSecret, String> {
        use crate::service::dispatch::webhook;
        let make = || -> anyhow::Result<postkorb_web::NewSecret> {
            let plain = webhook::new_secret()?;
            let sealed = webhook::seal_secret(&self.ctx.key, &plain)?;
            Ok(postkorb_web::NewSecret { plain, sealed })
        };
        make().map_err(|e| e.to_string())
    }

    fn check_webhook_url(&self, url: String) -> BoxFuture<'_, Result<(), String>> {
        Box::pin(async move { crate::service::dispatch::webhook::check_url(&url, self.ctx.settings.net()).await })
    }

    fn seal_smtp_password(&self, record: &postkorb_store::SmtpRecord, password: &str) -> Result<Vec<u8>, String> {
        self.ctx.key.seal(password, &record.secret_binding()).map_err(|e| e.to_string())
    }

    fn send_test_mail(&self, to: String) -> BoxFuture<'_, Result<(), String>> {
        Box::pin(async move {
            crate::service::smtp::send_test(&self.ctx, &to).await.map_err(|e| {
                tracing::warn!(error = %e, "test message not sent");
                e.german()
            })
        })
    }
}

impl AppHooks {
    /// The unsaved settings of a trial, with the stored secrets of the mailbox of that name.
    async fn trial(&self, t: Trial) -> Result<MailboxRecord, ProblemReport> {
        let stored = match self.ctx.store.mailbox(&t.record.name).await {
            Ok(m) => Some(m),
            Err(postkorb_store::StoreError::NotFound(_)) => None,
            Err(e) => return Err(problem(&t.record, &e.into())),
        };
        crate::service::mailbox::trial_record(stored.as_ref(), t.record.clone(), &self.ctx.key, t.password.as_deref())
            .map_err(|e| problem(&t.record, &e))
    }

    /// The connection settings of a trial record. An OAuth2 access token is refreshed (and the
    /// rotated token stored, as always) only while the endpoint is the stored one; otherwise the
    /// stored token does not open for it and the trial says so.
    async fn trial_config(&self, m: &MailboxRecord) -> anyhow::Result<postkorb_source::SourceConfig> {
        let net = self.ctx.settings.net();
        if postkorb_core::mailbox::AuthKind::of_stored(&m.auth).is_oauth() {
            let stored = self.ctx.store.mailbox(&m.name).await?;
            if stored.endpoint() == m.endpoint() && stored.oauth.endpoint() == m.oauth.endpoint() {
                let fresh = crate::service::oauth::ensure_fresh(
                    &self.ctx.store,
                    &stored,
                    &self.ctx.key,
                    self.ctx.clock.now_ms(),
                    net,
                )
                .await?;
                let m = MailboxRecord { oauth: fresh.oauth, ..m.clone() };
                return crate::service::mailbox::source_config(&m, &self.ctx.key, net);
            }
        }
        crate::service::mailbox::source_config(m, &self.ctx.key, net)
    }
}

/// What a pending flow's payload is sealed with: its own row.
fn pending_binding(state_hash: &str) -> Vec<u8> {
    format!("postkorb/oauth-pending/v1\0{state_hash}").into_bytes()
}

/// A failed test or dry run of `m`, for the screens' words: the kind with the mailbox's server and
/// folder, and our own error text when the kind never quotes the server; all of it goes to the log.
fn problem(m: &MailboxRecord, e: &anyhow::Error) -> ProblemReport {
    tracing::info!(mailbox = %m.name, error = %format!("{e:#}"), "mailbox test failed");
    let detail = match e.chain().find_map(|c| c.downcast_ref::<SourceError>()) {
        Some(se) => se.to_string(),
        None => e.to_string(),
    };
    ProblemReport::new(kind(e), m, &detail)
}

/// The kind of an error of the importer, a test or a dry run.
fn kind(e: &anyhow::Error) -> MailboxProblem {
    if let Some(se) = e.chain().find_map(|c| c.downcast_ref::<SourceError>()) {
        return match se {
            SourceError::NotFound(_) => MailboxProblem::NotFound,
            SourceError::Refused(_) => MailboxProblem::Refused,
            SourceError::TimedOut(_) => MailboxProblem::TimedOut,
            SourceError::Blocked(_) => MailboxProblem::Blocked,
            SourceError::Connect(_) => MailboxProblem::Rejected,
            SourceError::Tls(_) => MailboxProblem::Tls,
            SourceError::Login(d) if d.starts_with(postkorb_source::XOAUTH2_FAILED) => MailboxProblem::OAuthRejected,
            SourceError::Login(d) if d.starts_with(postkorb_source::graph::GRAPH_TOKEN_REFUSED) => {
                MailboxProblem::OAuthRejected
            }
            SourceError::Login(_) => MailboxProblem::Login,
            SourceError::FolderMissing(_) => MailboxProblem::FolderMissing,
            SourceError::Protocol(_) => MailboxProblem::Protocol,
            SourceError::Io(_) => MailboxProblem::ConnectionLost,
            SourceError::Config(_) => MailboxProblem::Settings,
            SourceError::Throttled(_) => MailboxProblem::Throttled,
            SourceError::Denied(_) => MailboxProblem::Denied,
        };
    }
    if e.chain().any(|c| c.downcast_ref::<crate::secret::OpenError>().is_some()) {
        return MailboxProblem::SecretNotBound;
    }
    if e.chain().any(|c| c.downcast_ref::<crate::service::mailbox::NotConnected>().is_some()) {
        return MailboxProblem::NotConnected;
    }
    if e.chain().any(|c| c.downcast_ref::<crate::service::oauth::TokenError>().is_some()) {
        return MailboxProblem::OAuthRefresh;
    }
    if e.chain().any(|c| c.downcast_ref::<postkorb_store::StoreError>().is_some()) {
        return MailboxProblem::Internal;
    }
    MailboxProblem::Settings
}

/// A browser OAuth flow in progress, sealed with the secret key while it waits in the database.
#[derive(serde::Serialize, serde::Deserialize)]
struct Pending {
    provider: String,
    client_id: String,
    client_secret: Option<String>,
    tenant: Option<String>,
    token_url: Option<String>,
    auth_url: Option<String>,
    verifier: String,
    /// A Microsoft Graph mailbox (Graph's scopes); absent in flows started by older versions.
    #[serde(default)]
    graph: bool,
}

impl Pending {
    fn connect(&self, net: postkorb_source::NetPolicy) -> crate::service::oauth::Connect {
        crate::service::oauth::Connect {
            provider: self.provider.clone(),
            client_id: self.client_id.clone(),
            client_secret: self.client_secret.clone(),
            tenant: self.tenant.clone(),
            token_url: self.token_url.clone(),
            device_url: None,
            auth_url: self.auth_url.clone(),
            net,
            graph: self.graph,
        }
    }
}

/// The `state` is looked up by its hash: the database never holds a usable value.
fn state_hash(state: &str) -> String {
    use sha2::Digest;
    sha2::Sha256::digest(state.as_bytes()).iter().map(|b| format!("{b:02x}")).collect()
}

/// Everything served over HTTP, with this process's reader of the live Startmaske (call it inside
/// the runtime).
pub fn router(ctx: &Ctx) -> anyhow::Result<Router> {
    router_with_live(ctx, postkorb_web::Live::start(ctx.store.clone(), postkorb_web::LiveOptions::default()))
}

/// [`router`] with the given reader of the live Startmaske (tests use shorter timings).
pub fn router_with_live(ctx: &Ctx, live: postkorb_web::Live) -> anyhow::Result<Router> {
    let paths = postkorb_web::PathRules {
        maildir_root: ctx.settings.maildir_root.clone(),
        ca_dir: Some(ctx.settings.ca_dir()),
    };
    let state = WebState {
        store: ctx.store.clone(),
        hooks: Arc::new(AppHooks::new(ctx)?),
        secure_cookies: ctx.settings.secure_cookies(),
        trusted_proxies: ctx.settings.trusted_proxies.clone().into(),
        paths,
        live,
        notify_include_text: ctx.settings.notify_include_text,
    };
    Ok(postkorb_web::router(state).merge(crate::serve::probes::router(ctx)))
}
