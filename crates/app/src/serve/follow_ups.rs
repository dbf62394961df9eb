//! `serve`: announces due Wiedervorlagen every minute (`service::follow_ups::announce_due`) until
//! the server stops. Several instances may run it at once: each date is announced once.

use std::time::Duration;

use postkorb_store::Store;

use crate::clock::Clock;

/// How often `serve` looks for Wiedervorlagen that came due.
pub const EVERY: Duration = Duration::from_secs(60);

/// Runs until `stopping` turns true.
pub fn spawn(store: Store, clock: Clock, mut stopping: tokio::sync::watch::Receiver<bool>) {
    tokio::spawn(async move {
        loop {
            match crate::service::follow_ups::announce_due(&store, clock.now_ms()).await {
                Ok(0) => {}
                Ok(n) => tracing::info!(count = n, "Wiedervorlage fällig: announced"),
                Err(e) => tracing::warn!(error = %e, "announcing due Wiedervorlagen failed; trying again"),
            }
            tokio::select! {
                _ = tokio::time::sleep(EVERY) => {}
                _ = stopping.wait_for(|s| *s) => return,
            }
        }
    });
}
