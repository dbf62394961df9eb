//! `serve`: converts stored mail content to encrypted storage in the background while „Inhalte
//! verschlüsselt speichern“ is on and a conversion may have something plain left
//! (`Store::seal_pending`, crates/store/src/sealing.rs): after the setting is switched on, or when
//! one was interrupted. One conversion runs at a time per instance;
//! several instances may convert at once (each row switches once; a file written twice is swept).

use std::sync::Arc;
use std::sync::atomic::{AtomicBool, Ordering};

use postkorb_store::Store;

/// How long a conversion that failed (say, a raw mail's file is missing) waits before the next try.
const RETRY_AFTER_FAILURE: std::time::Duration = std::time::Duration::from_secs(3600);

/// Items of each kind per transaction (short, so the import is not held up).
const STEP: i64 = 100;

/// Starts a conversion unless one runs already (`running`).
pub fn spawn_convert(store: Store, running: Arc<AtomicBool>) {
    if running.swap(true, Ordering::SeqCst) {
        return;
    }
    tokio::spawn(async move {
        let mut done = 0u64;
        let result = async {
            let mut cursor = postkorb_store::SealCursor::default();
            while store.seal_new().await? {
                let n = store.seal_step(STEP, &mut cursor).await?;
                if n == 0 {
                    break;
                }
                done += n;
                if done.is_multiple_of(10 * STEP as u64) {
                    tracing::info!(done, "encryption at rest: converting stored mails");
                }
            }
            if done > 0 {
                // SQLite: the WAL, which held the plain pages before, is emptied into the database.
                store.checkpoint().await?;
            }
            Ok::<(), postkorb_store::StoreError>(())
        }
        .await;
        match result {
            Ok(()) if done > 0 => {
                let entry = postkorb_core::AuditEntry::MailSealed { items: done as i64 };
                let now = crate::clock::Clock::system().now_ms();
                if let Err(e) = store.audit_entry(now, "postkorb", &entry).await {
                    tracing::warn!(error = %e, "encryption at rest: not recorded in the audit log");
                }
                tracing::info!(done, "encryption at rest: stored items converted");
            }
            Ok(()) => {}
            Err(e) => {
                tracing::warn!(error = %e, "encryption at rest: converting stored mails stopped; trying again in an hour");
                // Holding `running` meanwhile: serve asks again every few seconds.
                tokio::time::sleep(RETRY_AFTER_FAILURE).await;
            }
        }
        running.store(false, Ordering::SeqCst);
    });
}
