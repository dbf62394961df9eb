//! `serve`: one importer task per enabled mailbox plus the HTTP endpoint, until Ctrl-C/SIGTERM.
//!
//! Each mailbox runs on its own task (`push::run_mailbox`: IMAP IDLE or polling, back-off with
//! jitter), so one failing mailbox never stops the others. Nothing binds a port deep inside: the
//! listener is bound here and handed to axum.

use std::collections::HashMap;
use std::sync::Arc;
use std::time::Duration;

use anyhow::Context;
use tokio::task::JoinHandle;

use crate::Ctx;

// The per-mailbox loop lives beside this file; it is declared here because `serve` is its only user.
#[path = "push.rs"]
mod push;
pub use push::{IDLE_RENEW, run_mailbox};

pub async fn run(ctx: &Ctx) -> anyhow::Result<()> {
    let listener = tokio::net::TcpListener::bind(&ctx.settings.listen)
        .await
        .with_context(|| format!("cannot listen on {}", ctx.settings.listen))?;
    println!("Postkorb is running: health at http://{}/health (Ctrl-C stops)", listener.local_addr()?);
    let app = crate::http::router(ctx)?;
    let http = tokio::spawn(async move { axum::serve(listener, app).with_graceful_shutdown(shutdown()).await });
    tokio::select! {
        r = supervise(ctx) => r?,
        _ = shutdown() => println!("stopping"),
    }
    http.abort();
    Ok(())
}

async fn shutdown() {
    #[cfg(unix)]
    {
        let mut term = match tokio::signal::unix::signal(tokio::signal::unix::SignalKind::terminate()) {
            Ok(s) => s,
            Err(_) => return std::future::pending().await,
        };
        tokio::select! {
            _ = tokio::signal::ctrl_c() => {},
            _ = term.recv() => {},
        }
    }
    #[cfg(not(unix))]
    let _ = tokio::signal::ctrl_c().await;
}

/// Starts a task for every enabled mailbox and picks up mailboxes added or enabled later.
async fn supervise(ctx: &Ctx) -> anyhow::Result<()> {
    let mut tasks: HashMap<String, JoinHandle<()>> = HashMap::new();
    let shared = Arc::new(ctx.settings.clone());
    loop {
        for m in ctx.store.mailboxes().await? {
            let running = tasks.get(&m.name).is_some_and(|t| !t.is_finished());
            if m.enabled && !running {
                let store = ctx.store.clone();
                let key_file = shared.key_file();
                let batch = shared.batch_size;
                let name = m.name.clone();
                tasks.insert(
                    m.name.clone(),
                    tokio::spawn(run_mailbox(store, key_file, name, batch, std::future::pending())),
                );
            }
        }
        tokio::time::sleep(Duration::from_secs(10)).await;
    }
}
