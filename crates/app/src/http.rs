//! The HTTP side of `serve`: the web UI and JSON API (crates/web), plus `/health`.
//! The web reaches the importer and the mailbox adapters only through [`AppHooks`].

use std::sync::Arc;

use axum::extract::State;
use axum::routing::get;
use axum::{Json, Router};
use postkorb_store::Store;
use postkorb_web::{BoxFuture, Hooks, WebState};

use crate::Ctx;
use crate::mailbox::source_config;

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
            if let Err(e) = crate::mail_cmds::fetch_all(&self.ctx, false).await {
                tracing::warn!(error = %format!("{e:#}"), "fetch on demand failed");
            }
        })
    }

    fn test_mailbox(&self, name: String) -> BoxFuture<'_, Result<usize, String>> {
        Box::pin(async move {
            let m = self.ctx.store.mailbox(&name).await.map_err(|e| e.to_string())?;
            let cfg = source_config(&m, &self.ctx.key).map_err(|e| format!("{e:#}"))?;
            postkorb_source::test_connection(&cfg).await.map_err(|e| e.german())
        })
    }

    fn encrypt(&self, password: &str) -> Result<Vec<u8>, String> {
        self.ctx.key.encrypt(password).map_err(|e| e.to_string())
    }
}

/// Everything served over HTTP.
pub fn router(ctx: &Ctx) -> anyhow::Result<Router> {
    let state = WebState { store: ctx.store.clone(), hooks: Arc::new(AppHooks::new(ctx)?), secure_cookies: false };
    let health = Router::new().route("/health", get(health)).with_state(ctx.store.clone());
    Ok(postkorb_web::router(state).merge(health))
}

async fn health(State(store): State<Store>) -> Json<serde_json::Value> {
    let mut mailboxes = Vec::new();
    match store.mailboxes().await {
        Ok(list) => {
            for m in list {
                let counts = store.mailbox_counts(m.id).await.unwrap_or_default();
                mailboxes.push(serde_json::json!({
                    "name": m.name,
                    "enabled": m.enabled,
                    "last_success_ms": m.last_success_ms,
                    "last_error": m.last_error,
                    "last_error_ms": m.last_error_ms,
                    "waiting_on_server": m.waiting_on_server,
                    "imported_cases": counts.0,
                    "kept": counts.1,
                    "duplicates": counts.2,
                }));
            }
            Json(serde_json::json!({"status": "ok", "mailboxes": mailboxes}))
        }
        Err(e) => Json(serde_json::json!({"status": "error", "error": e.to_string()})),
    }
}
