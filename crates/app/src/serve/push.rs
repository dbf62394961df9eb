//! One mailbox's import loop: a pass, then wait for new mail — IMAP IDLE (push) where the server
//! offers it, the poll interval otherwise (POP3, Maildir, IMAP without IDLE) — and after any error
//! a reconnect with back-off and jitter.
//!
//! The pass is `importer::run_once` (its own connection); the wait runs on a second, long-lived
//! IMAP connection that only lists and idles and stays open across passes, so a new mail
//! triggers a pass at once.

use std::collections::HashSet;
use std::future::Future;
use std::hash::{BuildHasher, Hasher};
use std::path::{Path, PathBuf};
use std::time::{Duration, Instant};

use postkorb_source::{Protocol, Session, SourceConfig};
use postkorb_store::{LeaseOutcome, MailboxRecord, Store};

use crate::clock::Clock;
use crate::service::importer;
use crate::service::lease;

/// How long one IDLE lasts before it is renewed: far below the 29 min after which a server may log
/// an idle client out (RFC 2177) and below the ~5 min after which NAT routers forget a quiet
/// connection, so a silently dead connection is noticed within minutes. It also bounds how long a
/// changed mailbox setting waits before it takes effect.
pub const IDLE_RENEW: Duration = Duration::from_secs(120);

/// How soon mail a pass left on the server is tried again when nothing else arrives.
const LEFT_OVER_RETRY: Duration = Duration::from_secs(120);

/// New mail the last pass left on the server: sender verification deferred it (temporary DNS
/// failure), or the server lists a message it will not hand out. Worth another pass when other
/// mail arrives or after `LEFT_OVER_RETRY` — never in a tight loop.
struct LeftOver {
    keys: HashSet<String>,
    since: Instant,
}

/// How often a sleeping loop (poll interval, back-off) looks whether the settings changed.
const SETTINGS_CHECK: Duration = Duration::from_secs(3);

/// Runs the loop for the mailbox `name` until `shutdown` completes, or until the mailbox is
/// disabled or removed. Each mailbox has its own loop, so one failing mailbox never stops another.
pub async fn run_mailbox(
    store: Store,
    key_file: PathBuf,
    name: String,
    batch: usize,
    shutdown: impl Future<Output = ()>,
) {
    let net = postkorb_source::NetPolicy::default();
    run_mailbox_leased(store, key_file, name, batch, lease::DEFAULT_TTL, net, shutdown).await
}

/// [`run_mailbox`] with a fetch lease of `lease_ttl`: the loop reads the mailbox only while this
/// instance holds the mailbox's lease; otherwise it waits for the lease (another instance is
/// fetching). The lease is released when the loop ends. Connections go only where `net` allows.
pub async fn run_mailbox_leased(
    store: Store,
    key_file: PathBuf,
    name: String,
    batch: usize,
    lease_ttl: Duration,
    net: postkorb_source::NetPolicy,
    shutdown: impl Future<Output = ()>,
) {
    tokio::select! {
        () = mailbox_loop(&store, &key_file, &name, batch, lease_ttl, net) => {}
        () = shutdown => {}
    }
    if let Ok(m) = store.mailbox(&name).await {
        lease::release(&store, m.id).await;
    }
}

async fn mailbox_loop(
    store: &Store,
    key_file: &Path,
    name: &str,
    batch: usize,
    lease_ttl: Duration,
    net: postkorb_source::NetPolicy,
) {
    let clock = Clock::system();
    let mut failures: u32 = 0;
    let mut left_over = LeftOver { keys: HashSet::new(), since: Instant::now() };
    // The IMAP connection that waits in IDLE; kept open across passes so new mail costs no
    // second TLS handshake and login.
    let mut watcher: Option<Session> = None;
    let mut waiting_for_lease = false;
    loop {
        let m = match store.mailbox(name).await {
            Ok(m) if m.enabled => m,
            Ok(_) => return,
            Err(postkorb_store::StoreError::NotFound(_)) => return,
            Err(e) => {
                failures = failures.saturating_add(1);
                tracing::warn!(mailbox = %name, error = %e, "cannot read mailbox settings");
                tokio::time::sleep(backoff(failures)).await;
                continue;
            }
        };
        // One fetcher per mailbox across instances: work only while holding its lease.
        match lease::take(store, m.id, lease_ttl).await {
            Ok(LeaseOutcome::Taken { .. }) if waiting_for_lease => {
                waiting_for_lease = false;
                tracing::info!(mailbox = %name, "took over the fetch lease");
            }
            Ok(LeaseOutcome::Taken { .. }) => {}
            Ok(LeaseOutcome::Busy(info)) => {
                watcher = None;
                if !waiting_for_lease {
                    waiting_for_lease = true;
                    tracing::info!(mailbox = %name, holder = %info.holder, "another instance is fetching this mailbox; waiting for its lease");
                }
                tokio::time::sleep(lease::retry_after(&info, lease_ttl)).await;
                continue;
            }
            Err(e) => {
                failures = failures.saturating_add(1);
                tracing::warn!(mailbox = %name, error = %e, "cannot take the fetch lease");
                tokio::time::sleep(backoff(failures)).await;
                continue;
            }
        }
        let step = lease::while_held(store, m.id, lease_ttl, async {
            let passed = {
                let _one = lease::gate(m.id).await;
                pass(store, key_file, &m, batch, &clock, net).await
            };
            match passed {
                Ok(cfg) => {
                    failures = 0;
                    match watch(store, &m, &cfg, &clock, &mut left_over, &mut watcher).await {
                        // New mail, the poll interval passed, or the settings changed: next pass now.
                        Ok(()) => return true,
                        Err(e) => {
                            tracing::info!(mailbox = %name, error = %e, "waiting for new mail failed; reconnecting")
                        }
                    }
                }
                Err(e) => tracing::warn!(mailbox = %name, error = %e, "fetch failed"),
            }
            false
        })
        .await;
        match step {
            Ok(true) => continue,
            Ok(false) => {}
            Err(lost) => {
                tracing::warn!(mailbox = %name, "{lost}");
                watcher = None;
                continue;
            }
        }
        watcher = None;
        failures = failures.saturating_add(1);
        sleep_unless_changed(store, &m, backoff(failures)).await;
    }
}

/// One import pass; on success the connection settings for the watch that follows.
async fn pass(
    store: &Store,
    key_file: &Path,
    m: &MailboxRecord,
    batch: usize,
    clock: &Clock,
    net: postkorb_source::NetPolicy,
) -> Result<SourceConfig, String> {
    let key = crate::secret::SecretKey::load_or_create(key_file);
    // XOAUTH2: refreshes an expiring access token first (and stores the rotated refresh token).
    let cfg = match async { crate::service::oauth::fresh_config(store, m, &key?, clock, net).await }.await {
        Ok(cfg) => cfg,
        Err(e) => {
            let msg = format!("{e:#}");
            let _ = store.record_fetch_error(m.id, clock.now_ms(), &msg).await;
            return Err(msg);
        }
    };
    let report = importer::run_once(store, m, &cfg, batch, clock).await.map_err(|e| e.to_string())?;
    if !report.imported.is_empty() {
        tracing::info!(mailbox = %m.name, new = report.imported.len(), ms = report.elapsed_ms, "imported");
    }
    Ok(cfg)
}

/// Waits for a reason to run the next pass: new mail (IDLE), the poll interval, changed settings.
async fn watch(
    store: &Store,
    m: &MailboxRecord,
    cfg: &SourceConfig,
    clock: &Clock,
    left_over: &mut LeftOver,
    watcher: &mut Option<Session>,
) -> Result<(), String> {
    let poll = Duration::from_secs(m.poll_secs.max(1) as u64);
    if cfg.protocol != Protocol::Imap {
        sleep_unless_changed(store, m, poll).await;
        return Ok(());
    }
    let mut session = match watcher.take() {
        Some(session) => session,
        None => Session::connect(cfg).await.map_err(|e| e.to_string())?,
    };
    if !session.supports_idle() {
        let _ = session.close().await;
        sleep_unless_changed(store, m, poll).await;
        return Ok(());
    }
    loop {
        // Listing before every IDLE closes the gap between the last pass and this IDLE.
        let keys: Vec<String> = session.list().await.map_err(|e| e.to_string())?.into_iter().map(|e| e.key).collect();
        let known = store.known_keys(m.id, &keys).await.map_err(|e| e.to_string())?;
        let new: HashSet<String> = keys.iter().filter(|k| !known.contains_key(*k)).cloned().collect();
        if !new.is_empty() && (new != left_over.keys || left_over.since.elapsed() >= LEFT_OVER_RETRY) {
            *left_over = LeftOver { keys: new, since: Instant::now() };
            *watcher = Some(session);
            return Ok(());
        }
        if !new.is_empty() {
            tracing::debug!(mailbox = %m.name, left = new.len(), "mail left on the server by the last pass");
        }
        store.record_fetch_success(m.id, clock.now_ms(), keys.len() as i64).await.map_err(|e| e.to_string())?;
        if settings_changed(store, m).await {
            let _ = session.close().await;
            return Ok(());
        }
        let changed = session.idle_wait(IDLE_RENEW).await.map_err(|e| e.to_string())?;
        tracing::debug!(mailbox = %m.name, changed, "IDLE ended");
    }
}

/// Sleeps `wait`, ending early when the mailbox's settings change (a fixed password, a new server).
async fn sleep_unless_changed(store: &Store, m: &MailboxRecord, wait: Duration) {
    let deadline = tokio::time::Instant::now() + wait;
    let since_ms = Clock::system().now_ms();
    loop {
        let now = tokio::time::Instant::now();
        if now >= deadline {
            return;
        }
        tokio::time::sleep((deadline - now).min(SETTINGS_CHECK)).await;
        if settings_changed(store, m).await || notified(store, m, since_ms).await {
            return;
        }
    }
}

/// A Microsoft Graph mailbox: whether a change notification arrived since `since_ms`
/// (serve/graph_push.rs subscribes, `postkorb_web::graph_notify` receives, on any instance).
async fn notified(store: &Store, m: &MailboxRecord, since_ms: i64) -> bool {
    if m.protocol != Protocol::Graph.code() {
        return false;
    }
    matches!(store.graph_subscription(m.id).await, Ok(Some(s)) if s.notified_ms.is_some_and(|t| t >= since_ms))
}

/// True when the stored settings differ from `m` (health fields aside) or the mailbox is gone.
async fn settings_changed(store: &Store, m: &MailboxRecord) -> bool {
    match store.mailbox(&m.name).await {
        // Every save of the settings stamps updated_ms; health updates do not.
        Ok(now) => now.updated_ms != m.updated_ms || now.enabled != m.enabled,
        Err(postkorb_store::StoreError::NotFound(_)) => true,
        Err(_) => false,
    }
}

/// 2, 4, 8 … seconds up to 5 minutes, plus up to 25 % random jitter so many mailboxes and
/// instances do not retry in step.
fn backoff(failures: u32) -> Duration {
    let base_ms = 1000 * 2u64.saturating_pow(failures.clamp(1, 9)).min(300);
    let random = std::collections::hash_map::RandomState::new().build_hasher().finish();
    Duration::from_millis(base_ms + random % (base_ms / 4 + 1))
}

#[cfg(test)]
mod tests {
    use super::backoff;
    use std::time::Duration;

    #[test]
    fn back_off_grows_and_is_capped_at_five_minutes_plus_jitter() {
        assert!(backoff(1) >= Duration::from_secs(2) && backoff(1) <= Duration::from_millis(2500));
        assert!(backoff(3) >= Duration::from_secs(8));
        assert!(backoff(30) >= Duration::from_secs(300) && backoff(30) <= Duration::from_secs(375));
    }

    #[test]
    fn back_off_is_jittered() {
        let waits: std::collections::HashSet<Duration> = (0..20).map(|_| backoff(5)).collect();
        assert!(waits.len() > 1, "20 back-offs all equal: no jitter");
    }
}
