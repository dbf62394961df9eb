//! `serve`: the daily deletion run (issue 18) at the office's time — checked every minute, taken by
//! one instance per day (`service::retention::daily`) — until the server stops.

use std::time::Duration;

use postkorb_store::Store;

use crate::clock::Clock;

/// How often `serve` looks whether today's run is due.
pub const EVERY: Duration = Duration::from_secs(60);

/// Runs until `stopping` turns true.
pub fn spawn(store: Store, clock: Clock, mut stopping: tokio::sync::watch::Receiver<bool>) {
    tokio::spawn(async move {
        loop {
            if let Err(e) = crate::service::retention::daily(&store, clock.now_ms()).await {
                tracing::warn!(error = %e, "the deletion run failed; it is tried again tomorrow");
            }
            tokio::select! {
                _ = tokio::time::sleep(EVERY) => {}
                _ = stopping.wait_for(|s| *s) => return,
            }
        }
    });
}
