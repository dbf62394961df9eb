//! `/health` for load balancers and `/metrics` for Prometheus. Neither needs a login, so neither
//! may tell a stranger much: `/health` says whether this instance and its database answer and which
//! enabled mailboxes failed at their last fetch (names only, never the error);
//! `/metrics` (mailbox names, error flags, counts) is served to a client on loopback that did not
//! come through a proxy, or to anyone with `Authorization: Bearer <metrics_token>`.

use std::net::SocketAddr;

use axum::extract::{ConnectInfo, Request, State};
use axum::http::{StatusCode, header};
use axum::response::{IntoResponse, Response};
use axum::routing::get;
use axum::{Json, Router};
use postkorb_core::mailbox::AuthKind;
use postkorb_store::Store;

use crate::Ctx;

#[derive(Clone)]
struct Probes {
    store: Store,
    metrics_token: Option<String>,
}

pub fn router(ctx: &Ctx) -> Router {
    let state = Probes { store: ctx.store.clone(), metrics_token: ctx.settings.metrics_token.clone() };
    Router::new().route("/health", get(health)).route("/metrics", get(metrics)).with_state(state)
}

/// 200 `{"status":"ok"}` while the database answers and no enabled mailbox failed at its last
/// fetch; 200 `{"status":"degraded","mailboxes":[{"name":…,"ok":false}]}` when one did (the
/// instance still serves: a load balancer keeps it, a monitor alerts); 503 `{"status":"error"}`
/// when the database does not answer. A disabled mailbox is not failing.
async fn health(State(p): State<Probes>) -> Response {
    match p.store.mailboxes().await {
        Ok(mailboxes) => {
            let failing: Vec<_> = mailboxes
                .iter()
                .filter(|m| m.enabled && m.last_error.is_some())
                .map(|m| serde_json::json!({"name": m.name, "ok": false}))
                .collect();
            if failing.is_empty() {
                Json(serde_json::json!({"status": "ok"})).into_response()
            } else {
                Json(serde_json::json!({"status": "degraded", "mailboxes": failing})).into_response()
            }
        }
        Err(e) => {
            tracing::warn!(error = %e, "health: database error");
            (StatusCode::SERVICE_UNAVAILABLE, Json(serde_json::json!({"status": "error"}))).into_response()
        }
    }
}

/// Whether this request may read `/metrics`.
fn may_read_metrics(req: &Request, token: Option<&str>) -> bool {
    let bearer =
        req.headers().get(header::AUTHORIZATION).and_then(|v| v.to_str().ok()).and_then(|v| v.strip_prefix("Bearer "));
    if let (Some(expected), Some(given)) = (token, bearer) {
        return constant_time_eq(expected.as_bytes(), given.trim().as_bytes());
    }
    let loopback =
        req.extensions().get::<ConnectInfo<SocketAddr>>().is_some_and(|c| c.0.ip().to_canonical().is_loopback());
    let proxied = req.headers().contains_key("x-forwarded-for") || req.headers().contains_key(header::FORWARDED);
    loopback && !proxied
}

fn constant_time_eq(a: &[u8], b: &[u8]) -> bool {
    a.len() == b.len() && a.iter().zip(b).fold(0u8, |acc, (x, y)| acc | (x ^ y)) == 0
}

/// Prometheus text exposition, read from the database, so every instance reports the same numbers.
async fn metrics(State(p): State<Probes>, req: Request) -> Response {
    if !may_read_metrics(&req, p.metrics_token.as_deref()) {
        return (
            StatusCode::UNAUTHORIZED,
            [(header::WWW_AUTHENTICATE, "Bearer")],
            "metrics: only from loopback, or with Authorization: Bearer <metrics_token>\n",
        )
            .into_response();
    }
    match render_metrics(&p.store).await {
        Ok(text) => ([(header::CONTENT_TYPE, "text/plain; version=0.0.4")], text).into_response(),
        Err(e) => {
            tracing::warn!(error = %e, "metrics: database error");
            (StatusCode::SERVICE_UNAVAILABLE, "# database error\n").into_response()
        }
    }
}

async fn render_metrics(store: &Store) -> Result<String, postkorb_store::StoreError> {
    use std::fmt::Write;
    let mut out = String::new();
    let mut family = |name: &str, kind: &str, help: &str, samples: &[(String, f64)]| {
        let _ = writeln!(out, "# HELP {name} {help}\n# TYPE {name} {kind}");
        for (labels, v) in samples {
            let _ = writeln!(out, "{name}{{{labels}}} {v}");
        }
    };
    let mut ok = Vec::new();
    let mut err = Vec::new();
    let mut waiting = Vec::new();
    let mut imported = Vec::new();
    let mut last_mail = Vec::new();
    let mut token_expiry = Vec::new();
    for m in store.mailboxes().await? {
        let l = format!("mailbox=\"{}\"", m.name.replace(['"', '\\', '\n'], "_"));
        let (cases, kept, dups) = store.mailbox_counts(m.id).await?;
        ok.push((l.clone(), m.last_success_ms.unwrap_or(0) as f64 / 1000.0));
        err.push((l.clone(), if m.last_error.is_some() { 1.0 } else { 0.0 }));
        waiting.push((l.clone(), m.waiting_on_server.unwrap_or(0) as f64));
        imported.push((format!("{l},outcome=\"case\""), cases as f64));
        imported.push((format!("{l},outcome=\"kept\""), kept as f64));
        imported.push((format!("{l},outcome=\"duplicate\""), dups as f64));
        if let (true, Some(e)) = (AuthKind::of_stored(&m.auth).is_oauth(), m.oauth.expires_ms) {
            token_expiry.push((l.clone(), e as f64 / 1000.0));
        }
        last_mail.push((l, store.last_import_ms(m.id).await?.unwrap_or(0) as f64 / 1000.0));
    }
    family("postkorb_last_success_timestamp_seconds", "gauge", "Last successful fetch of the mailbox.", &ok);
    family("postkorb_mailbox_error", "gauge", "1 while the last fetch of the mailbox failed.", &err);
    family("postkorb_waiting_on_server", "gauge", "Mails on the server not imported at the last fetch.", &waiting);
    family("postkorb_imported_total", "counter", "Mails stored per outcome.", &imported);
    family(
        "postkorb_last_mail_timestamp_seconds",
        "gauge",
        "When the newest mail of the mailbox was stored.",
        &last_mail,
    );
    family(
        "postkorb_oauth_token_expires_timestamp_seconds",
        "gauge",
        "When the OAuth2 access token of the mailbox runs out (renewed before each fetch).",
        &token_expiry,
    );
    let open_kept = store.count_open_kept().await?;
    family(
        "postkorb_kept_open",
        "gauge",
        "Mails waiting in „Nicht zugeordnete E-Mails“.",
        &[(String::new(), open_kept as f64)],
    );
    Ok(out)
}
