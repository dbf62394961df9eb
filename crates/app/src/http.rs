//! The HTTP side of `serve`: health now; the web UI and API are merged in here.

use axum::extract::State;
use axum::routing::get;
use axum::{Json, Router};
use postkorb_store::Store;

use crate::Ctx;

/// Everything served over HTTP.
pub fn router(ctx: &Ctx) -> anyhow::Result<Router> {
    Ok(Router::new().route("/health", get(health)).with_state(ctx.store.clone()))
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
