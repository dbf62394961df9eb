//! One mailbox's import loop: a pass, then wait for new mail — IMAP IDLE (push) where the server
//! offers it, the poll interval otherwise (POP3, Maildir, IMAP without IDLE) — and after any error
//! a reconnect with back-off and jitter.
//!
//! IMAP keeps two connections open across passes (issue 19, arrival): one sits in IDLE all the
//! time, in its own task (`idle.rs`), and wakes the loop at the server's `* n EXISTS` — it never
//! leaves IDLE for a pass, so it hears of new mail as early as any IDLE client on the mailbox;
//! the other stays logged in and selected and runs the passes (`importer::run_once_on`).

use std::future::Future;
use std::hash::{BuildHasher, Hasher};
use std::path::{Path, PathBuf};
use std::time::Duration;

use postkorb_source::{Protocol, Session, SourceConfig};
use postkorb_store::{MailboxRecord, Store};

use crate::clock::Clock;
use crate::service::importer;
use crate::service::lease::{self, Fair};

mod idle;

/// How long one IDLE lasts at most before it is renewed (DONE + IDLE; see
/// `postkorb_source::Session::idle_wait`: at most twice this): far below the 29 min after which a
/// server may log an idle client out (RFC 2177) and below the ~5 min after which NAT routers
/// forget a quiet connection, so a silently dead connection is noticed within minutes. It is also
/// how often a pass runs when no mail arrives (mail a pass left on the server — sender
/// verification deferred it on a DNS failure — is tried again then, never in a tight loop).
pub const IDLE_RENEW: Duration = Duration::from_secs(120);

/// How often a sleeping loop (poll interval, back-off, waiting for IDLE) looks whether the
/// settings changed.
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

/// The connections a mailbox's loop keeps between passes (IMAP); dropped after any error, when
/// the settings change and when the lease is lost, so the next pass starts afresh.
#[derive(Default)]
struct Conns {
    /// Logged in and selected: lists, fetches and disposes of mail in each pass.
    fetch: Option<Session>,
    /// In IDLE all the time (its own task).
    idle: Option<idle::Idle>,
}

/// Why the passes under one lease ended.
enum Step {
    /// The settings changed (or the mailbox was disabled or removed): read them again.
    Settings,
    /// The lease was given to an instance below its fair share (`lease::hand_off`).
    HandedOff,
    /// A pass or the wait for new mail failed: back off, then reconnect.
    Failed,
}

/// Why the wait after a pass ended.
enum Wake {
    /// New mail, the poll interval or the periodic pass: run the next pass.
    Pass,
    /// The settings changed (or the mailbox was disabled or removed): read them again.
    Settings,
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
    let mut conns = Conns::default();
    let mut waiting_for_lease = false;
    // Since when this loop has left a free lease to an instance below its fair share.
    let mut left_since = None;
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
        // One fetcher per mailbox across instances: work only while holding its lease; a free
        // one only while this instance holds less than its fair share.
        match lease::take_fair(store, m.id, lease_ttl, left_since).await {
            Ok(Fair::Taken) if waiting_for_lease || left_since.is_some() => {
                waiting_for_lease = false;
                left_since = None;
                tracing::info!(mailbox = %name, "took over the fetch lease");
            }
            Ok(Fair::Taken) => {}
            Ok(Fair::Left) => {
                conns = Conns::default();
                left_since.get_or_insert_with(tokio::time::Instant::now);
                tokio::time::sleep(lease::DEFER_RETRY).await;
                continue;
            }
            Ok(Fair::Busy(info)) => {
                left_since = None;
                conns = Conns::default();
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
        // Pass after pass under the lease (renewed in the background), until the settings change
        // or something fails.
        let step = lease::while_held(store, m.id, lease_ttl, async {
            loop {
                let passed = {
                    let _one = lease::gate(m.id).await;
                    pass(store, key_file, &m, batch, &clock, net, &mut conns.fetch).await
                };
                let cfg = match passed {
                    Ok(cfg) => cfg,
                    Err(e) => {
                        tracing::warn!(mailbox = %name, error = %e, "fetch failed");
                        return Step::Failed;
                    }
                };
                failures = 0;
                // More than this instance's share (others started later): between two passes
                // is the moment to give the mailbox to one of them.
                if matches!(lease::hand_off(store, m.id).await, Ok(true)) {
                    tracing::info!(mailbox = %name, "handed the fetch lease to an instance below its share");
                    return Step::HandedOff;
                }
                match watch(store, &m, &cfg, &mut conns).await {
                    Ok(Wake::Pass) => {}
                    Ok(Wake::Settings) => return Step::Settings,
                    Err(e) => {
                        tracing::info!(mailbox = %name, error = %e, "waiting for new mail failed; reconnecting");
                        return Step::Failed;
                    }
                }
            }
        })
        .await;
        let clean = matches!(step, Ok(Step::Settings | Step::HandedOff));
        if clean && let Some(session) = conns.fetch.take() {
            let _ = session.close().await;
        }
        conns = Conns::default();
        match step {
            Ok(Step::Settings) => continue,
            Ok(Step::HandedOff) => {
                // Left to the others from now on; taken back only after `lease::patience`.
                left_since = Some(tokio::time::Instant::now());
                continue;
            }
            Ok(Step::Failed) => {}
            Err(lost) => {
                tracing::warn!(mailbox = %name, "{lost}");
                continue;
            }
        }
        failures = failures.saturating_add(1);
        sleep_unless_changed(store, &m, backoff(failures)).await;
    }
}

/// One import pass on the kept connection (or a new one); on success the connection settings for
/// the watch that follows.
async fn pass(
    store: &Store,
    key_file: &Path,
    m: &MailboxRecord,
    batch: usize,
    clock: &Clock,
    net: postkorb_source::NetPolicy,
    conn: &mut Option<Session>,
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
    let report = importer::run_once_on(store, m, &cfg, batch, clock, conn).await.map_err(|e| e.to_string())?;
    if !report.imported.is_empty() {
        tracing::info!(mailbox = %m.name, new = report.imported.len(), ms = report.elapsed_ms, "imported");
    }
    Ok(cfg)
}

/// Waits for a reason to run the next pass: new mail (IDLE), the poll interval, the periodic pass
/// ([`IDLE_RENEW`]), changed settings. Starts the IDLE connection when there is none.
async fn watch(store: &Store, m: &MailboxRecord, cfg: &SourceConfig, conns: &mut Conns) -> Result<Wake, String> {
    let poll = Duration::from_secs(m.poll_secs.max(1) as u64);
    let push = cfg.protocol == Protocol::Imap && conns.fetch.as_ref().is_some_and(Session::supports_idle);
    let wait = if push { IDLE_RENEW } else { poll };
    let idle = match &mut conns.idle {
        _ if !push => None,
        Some(idle) => Some(idle),
        None => Some(conns.idle.insert(idle::Idle::start(cfg).await.map_err(|e| e.to_string())?)),
    };
    let woken = async {
        match idle {
            Some(idle) => idle.woken().await,
            None => std::future::pending().await,
        }
    };
    tokio::select! {
        woken = woken => woken.map(|()| Wake::Pass),
        changed = sleep_unless_changed(store, m, wait) => Ok(if changed { Wake::Settings } else { Wake::Pass }),
    }
}

/// Sleeps `wait`, ending early (true) when the mailbox's settings change (a fixed password, a new
/// server).
async fn sleep_unless_changed(store: &Store, m: &MailboxRecord, wait: Duration) -> bool {
    let deadline = tokio::time::Instant::now() + wait;
    let since_ms = Clock::system().now_ms();
    loop {
        let now = tokio::time::Instant::now();
        if now >= deadline {
            return false;
        }
        tokio::time::sleep((deadline - now).min(SETTINGS_CHECK)).await;
        if settings_changed(store, m).await {
            return true;
        }
        // A Graph change notification: a pass now, as when the wait ends.
        if notified(store, m, since_ms).await {
            return false;
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
