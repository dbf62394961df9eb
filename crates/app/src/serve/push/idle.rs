//! The IMAP connection that sits in IDLE for a mailbox's loop, in its own task: it stays in IDLE
//! while a pass runs on the other connection (only renewing it now and then) and wakes the loop
//! at once when the server announces new mail (`* n EXISTS`). Leaving IDLE for each pass and
//! entering it again afterwards would restart the server's notification timer (Dovecot: 0.5 s
//! after the first change it sees) at every arrival — that cost ≈ 250 ms per mail (issue 19).

use std::sync::{Arc, Mutex};

use postkorb_source::{Session, SourceConfig};
use tokio::sync::Notify;

use super::IDLE_RENEW;

/// The IDLE connection's task; ends (aborted) when dropped.
pub(super) struct Idle {
    wake: Arc<Notify>,
    /// Why the connection ended (set before the last wake).
    lost: Arc<Mutex<Option<String>>>,
    task: tokio::task::JoinHandle<()>,
}

impl Idle {
    /// Connects, and starts waiting in IDLE. The first [`Idle::woken`] completes at once: mail
    /// that arrived between the last pass's listing and this connection's SELECT is reported by
    /// no IDLE, so a pass must look once more.
    pub(super) async fn start(cfg: &SourceConfig) -> Result<Idle, postkorb_source::SourceError> {
        let mut session = Session::connect(cfg).await?;
        let wake = Arc::new(Notify::new());
        wake.notify_one();
        let lost = Arc::new(Mutex::new(None));
        let (task_wake, task_lost) = (wake.clone(), lost.clone());
        let task = tokio::spawn(async move {
            loop {
                match session.idle_wait(IDLE_RENEW).await {
                    Ok(true) => task_wake.notify_one(),
                    Ok(false) => {}
                    Err(e) => {
                        *task_lost.lock().unwrap_or_else(|p| p.into_inner()) = Some(e.to_string());
                        task_wake.notify_one();
                        return;
                    }
                }
            }
        });
        Ok(Idle { wake, lost, task })
    }

    /// Completes when the server announced new mail since the last call (or, for the first call,
    /// since the start); Err when the connection was lost — drop this and start another.
    pub(super) async fn woken(&mut self) -> Result<(), String> {
        self.wake.notified().await;
        match self.lost.lock().unwrap_or_else(|p| p.into_inner()).take() {
            Some(e) => Err(format!("IDLE connection lost: {e}")),
            None => Ok(()),
        }
    }
}

impl Drop for Idle {
    fn drop(&mut self) {
        self.task.abort();
    }
}
