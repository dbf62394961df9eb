//! `serve`: one importer task per enabled mailbox plus the HTTP endpoint, until Ctrl-C/SIGTERM.
//!
//! Each mailbox runs on its own task with its own back-off, so one failing mailbox never stops
//! the others. Nothing binds a port deep inside: the listener is bound here and handed to axum.

use std::collections::HashMap;
use std::sync::Arc;
use std::time::Duration;

use anyhow::Context;
use postkorb_store::Store;
use tokio::task::JoinHandle;

use crate::Ctx;
use crate::importer;
use crate::mailbox::source_config;

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
                    tokio::spawn(async move { mailbox_loop(store, key_file, name, batch).await }),
                );
            }
        }
        tokio::time::sleep(Duration::from_secs(10)).await;
    }
}

/// Fetches one mailbox forever: on its poll interval when healthy, with back-off and jitter after errors.
async fn mailbox_loop(store: Store, key_file: std::path::PathBuf, name: String, batch: usize) {
    let clock = crate::clock::Clock::system();
    let mut failures: u32 = 0;
    loop {
        let m = match store.mailbox(&name).await {
            Ok(m) if m.enabled => m,
            _ => return,
        };
        let outcome = match crate::secret::SecretKey::load_or_create(&key_file).and_then(|k| source_config(&m, &k)) {
            Ok(cfg) => importer::run_once(&store, &m, &cfg, batch, &clock).await.map_err(|e| e.to_string()),
            Err(e) => {
                let msg = format!("{e:#}");
                let _ = store.record_fetch_error(m.id, clock.now_ms(), &msg).await;
                Err(msg)
            }
        };
        let wait = match outcome {
            Ok(report) => {
                failures = 0;
                if !report.imported.is_empty() {
                    tracing::info!(mailbox = %name, new = report.imported.len(), "imported");
                }
                Duration::from_secs(m.poll_secs.max(1) as u64)
            }
            Err(e) => {
                failures = failures.saturating_add(1);
                tracing::warn!(mailbox = %name, error = %e, "fetch failed");
                backoff(failures, clock.now_ms())
            }
        };
        tokio::time::sleep(wait).await;
    }
}

/// 2, 4, 8 … seconds up to 5 minutes, plus up to 25 % jitter so many instances do not retry in step.
fn backoff(failures: u32, seed: i64) -> Duration {
    let base = 2u64.saturating_pow(failures.min(9)).min(300);
    let jitter = (seed.unsigned_abs() % 1000) * base / 4000;
    Duration::from_millis(base * 1000 + jitter * 1000)
}

#[cfg(test)]
mod tests {
    use super::backoff;

    #[test]
    fn back_off_grows_and_is_capped_at_five_minutes() {
        assert!(backoff(1, 0) >= std::time::Duration::from_secs(2));
        assert!(backoff(3, 0) >= std::time::Duration::from_secs(8));
        assert!(backoff(30, 999) <= std::time::Duration::from_secs(375));
    }
}
