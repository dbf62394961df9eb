//! `serve`: one importer task per enabled mailbox plus the HTTP endpoint and the dispatcher
//! (`service::dispatch`: webhooks), until Ctrl-C/SIGTERM.
//!
//! Each mailbox runs on its own task (`push::run_mailbox`: IMAP IDLE or polling, back-off with
//! jitter), so one failing mailbox never stops the others. Nothing binds a port deep inside: the
//! command handling binds the listener (`bind`) and hands it to `run` with the shutdown future.

use std::collections::HashMap;
use std::sync::Arc;
use std::time::Duration;

use anyhow::Context;
use tokio::task::JoinHandle;

use crate::Ctx;

mod follow_ups;
mod graph_push;
pub mod http;
pub mod probes;
mod push;
mod retention;
pub use push::{IDLE_RENEW, run_mailbox, run_mailbox_leased};

/// Binds `settings.listen` for [`run`]; the one place a port is bound (the command handling calls it).
pub async fn bind(ctx: &Ctx) -> anyhow::Result<tokio::net::TcpListener> {
    tokio::net::TcpListener::bind(&ctx.settings.listen)
        .await
        .with_context(|| format!("cannot listen on {}", ctx.settings.listen))
}

/// Serves the web on `listener` and runs the importer loops until `shutdown` completes (the
/// binary passes [`shutdown_signal`]; tests pass a listener bound to port 0 and a channel). Then
/// the loops stop and give their fetch leases back, so another instance takes over at once.
pub async fn run(
    ctx: &Ctx,
    listener: tokio::net::TcpListener,
    shutdown: impl std::future::Future<Output = ()>,
) -> anyhow::Result<()> {
    println!("Postkorb is running: health at http://{}/health (Ctrl-C stops)", listener.local_addr()?);
    let app = self::http::router(ctx)?.into_make_service_with_connect_info::<std::net::SocketAddr>();
    let (stop, stopping) = tokio::sync::watch::channel(false);
    let mut http_stopping = stopping.clone();
    let http = tokio::spawn(async move {
        axum::serve(listener, app)
            .with_graceful_shutdown(async move {
                let _ = http_stopping.wait_for(|s| *s).await;
            })
            .await
    });
    // Vorgänge from before the search index existed become findable in the background.
    crate::service::search::spawn_reindex(ctx.store.clone());
    // „Wiedervorlage fällig“ events, once per date across instances.
    follow_ups::spawn(ctx.store.clone(), ctx.clock.clone(), stopping.clone());
    retention::spawn(ctx.store.clone(), ctx.clock.clone(), stopping.clone());
    // Microsoft Graph mailboxes: change notifications when public_url can be reached.
    graph_push::spawn(ctx.store.clone(), ctx.settings.clone(), ctx.clock.clone(), stopping.clone());
    // The outbox: webhooks (and later notifications) about what committed, at least once.
    let dispatcher = crate::service::dispatch::Dispatcher::new(crate::service::dispatch::Deps::of(ctx)?);
    let mut dispatch_stopping = stopping.clone();
    let dispatch = crate::service::dispatch::spawn(dispatcher, ctx.clock.clone(), DISPATCH_EVERY, async move {
        let _ = dispatch_stopping.wait_for(|s| *s).await;
    });
    // Instances sharing a database split the mailboxes evenly (`lease::take_fair`): show this
    // one to the others, and give those started together a moment to show themselves.
    let presence = crate::service::lease::show_presence(&ctx.store).await;
    if presence.is_some() {
        tokio::time::sleep(crate::service::lease::START_GRACE).await;
    }
    let mut tasks: HashMap<String, JoinHandle<()>> = HashMap::new();
    let result = tokio::select! {
        r = supervise(ctx, &mut tasks, stopping) => r,
        _ = shutdown => {
            println!("stopping");
            Ok(())
        }
    };
    let _ = stop.send(true);
    for (_, task) in tasks {
        let _ = tokio::time::timeout(Duration::from_secs(5), task).await;
    }
    let _ = tokio::time::timeout(Duration::from_secs(5), dispatch).await;
    let _ = ctx.store.release_leases_of(crate::service::lease::instance_id()).await;
    if let Some(presence) = presence {
        presence.abort();
    }
    http.abort();
    result
}

/// Completes on Ctrl-C or SIGTERM: how the binary is asked to stop.
pub async fn shutdown_signal() {
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
async fn supervise(
    ctx: &Ctx,
    tasks: &mut HashMap<String, JoinHandle<()>>,
    stopping: tokio::sync::watch::Receiver<bool>,
) -> anyhow::Result<()> {
    let shared = Arc::new(ctx.settings.clone());
    let mut last_sweep = std::time::Instant::now();
    // Encryption at rest: a conversion while one may have something plain left (the setting was
    // switched on, or a conversion was interrupted); `seal_pending` reads the setting only.
    let sealing = Arc::new(std::sync::atomic::AtomicBool::new(false));
    loop {
        if ctx.store.blob_dir().is_some() && last_sweep.elapsed() >= BLOB_SWEEP_EVERY {
            last_sweep = std::time::Instant::now();
            spawn_blob_sweep(ctx.store.clone());
        }
        if ctx.store.seal_pending().await? {
            crate::service::sealing::spawn_convert(ctx.store.clone(), sealing.clone());
        }
        for m in ctx.store.mailboxes().await? {
            let running = tasks.get(&m.name).is_some_and(|t| !t.is_finished());
            if m.enabled && !running {
                let store = ctx.store.clone();
                let key_file = shared.key_file();
                let batch = shared.batch_size;
                let name = m.name.clone();
                let ttl = shared.lease_ttl();
                let mut stopping = stopping.clone();
                let stop = async move {
                    let _ = stopping.wait_for(|s| *s).await;
                };
                tasks.insert(
                    m.name.clone(),
                    tokio::spawn(run_mailbox_leased(store, key_file, name, batch, ttl, shared.net(), stop)),
                );
            }
        }
        tokio::time::sleep(Duration::from_secs(10)).await;
    }
}

/// How often `serve` runs a round of the dispatcher (fan-out, due deliveries).
const DISPATCH_EVERY: Duration = Duration::from_secs(1);

/// How often `serve` sweeps the blob directory, and the grace period it gives new files.
const BLOB_SWEEP_EVERY: Duration = Duration::from_secs(3600);
const BLOB_GRACE: Duration = Duration::from_secs(3600);

/// `serve`: sweeps the blob directory in the background (several instances may sweep at once).
fn spawn_blob_sweep(store: postkorb_store::Store) {
    tokio::spawn(async move {
        match store.sweep_blobs(BLOB_GRACE).await {
            Ok(r) if r.missing.is_empty() => {
                if r.removed > 0 {
                    println!("blob directory: removed {} unreferenced files", r.removed);
                }
            }
            Ok(r) => eprintln!("warning: {} referenced blob files are missing, e.g. {}", r.missing.len(), r.missing[0]),
            Err(e) => eprintln!("warning: sweeping the blob directory failed: {e}"),
        }
    });
}
