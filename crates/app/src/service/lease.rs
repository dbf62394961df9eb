//! The fetch lease from this instance's side: who we are, and fetching only while we hold the
//! mailbox's lease (`postkorb_store::Store::take_lease`).
//!
//! Across instances the database lease makes one fetcher per mailbox; inside one process a gate
//! per mailbox keeps the serve loop's pass and an on-demand fetch („Synchronisieren“, `fetch`)
//! from overlapping. The ledger's unique key stays the backstop under both.

use std::collections::HashMap;
use std::future::Future;
use std::hash::{BuildHasher, Hasher};
use std::sync::atomic::{AtomicI64, Ordering};
use std::sync::{Arc, Mutex, OnceLock};
use std::time::Duration;

use postkorb_store::{LeaseInfo, LeaseOutcome, Store};

use crate::clock::Clock;

/// The default lease time: a dead instance's mailboxes are taken over after at most this long.
pub const DEFAULT_TTL: Duration = Duration::from_secs(60);

/// This process's holder id: `{host}-{start}-{pid}-{random}` — host name, the process's start
/// time (clock ticks after boot, from /proc), pid and 64 random bits. Two instances never share
/// one, and an instance on the same host can tell whether the holder still runs
/// ([`holder_is_dead`]): a pid alone could have been reused by another process since.
pub fn instance_id() -> &'static str {
    static ID: OnceLock<String> = OnceLock::new();
    ID.get_or_init(|| {
        let mut random = [0u8; 8];
        if getrandom::fill(&mut random).is_err() {
            random = std::collections::hash_map::RandomState::new().build_hasher().finish().to_le_bytes();
        }
        let pid = std::process::id();
        format!(
            "{}-{}-{pid}-{}",
            host_name(),
            start_time(pid).unwrap_or(0),
            random.iter().map(|b| format!("{b:02x}")).collect::<String>()
        )
    })
}

fn host_name() -> String {
    let host = std::fs::read_to_string("/proc/sys/kernel/hostname")
        .or_else(|_| std::fs::read_to_string("/etc/hostname"))
        .unwrap_or_default();
    let host = host.trim();
    if host.is_empty() { "postkorb".into() } else { host.into() }
}

/// When process `pid` started (field 22 of /proc/PID/stat), or None if there is no such process.
fn start_time(pid: u32) -> Option<u64> {
    let stat = std::fs::read_to_string(format!("/proc/{pid}/stat")).ok()?;
    // The command name (field 2) is in parentheses and may hold spaces: count after the last ')'.
    stat.rsplit_once(')')?.1.split_whitespace().nth(19)?.parse().ok()
}

/// Whether the lease `holder` is a process of this host that no longer runs (crashed or killed):
/// its pid is gone or now belongs to a process started at another time. A holder of another host,
/// or of an older id format, is never called dead: only its lease's expiry frees it.
pub fn holder_is_dead(holder: &str) -> bool {
    let mut parts = holder.rsplitn(4, '-');
    let (Some(_random), Some(pid), Some(start), Some(host)) = (parts.next(), parts.next(), parts.next(), parts.next())
    else {
        return false;
    };
    let (Ok(pid), Ok(start)) = (pid.parse::<u32>(), start.parse::<u64>()) else { return false };
    if host != host_name() || start == 0 || start_time(std::process::id()).is_none() {
        return false; // another host, or no /proc to ask
    }
    start_time(pid) != Some(start)
}

/// The lease was lost while working (another instance took it after it had expired, e.g. when the
/// database was unreachable for longer than the lease time): the work was stopped.
#[derive(Debug, thiserror::Error)]
#[error("the fetch lease on this mailbox was lost; another instance took it over")]
pub struct LeaseLost;

/// Takes (or renews) this instance's lease on `mailbox_id`; a lease whose holder is a dead
/// process of this host (a crash) is taken over at once instead of after its expiry.
pub async fn take(store: &Store, mailbox_id: i64, ttl: Duration) -> postkorb_store::Result<LeaseOutcome> {
    let now = Clock::system().now_ms();
    match store.take_lease(mailbox_id, instance_id(), now, ttl_ms(ttl)).await? {
        LeaseOutcome::Busy(info) if holder_is_dead(&info.holder) => {
            let taken = store.take_over_lease(mailbox_id, instance_id(), &info.holder, now, ttl_ms(ttl)).await?;
            if taken.is_taken() {
                tracing::info!(mailbox_id, dead = %info.holder, "took over the fetch lease of a process that died on this host");
            }
            Ok(taken)
        }
        outcome => Ok(outcome),
    }
}

/// How long to wait before trying again for a lease someone else holds: until it expires (plus a
/// little jitter), but at most a third of the lease time, so a released lease is noticed soon.
pub fn retry_after(info: &LeaseInfo, ttl: Duration) -> Duration {
    let left = (info.expires_ms - Clock::system().now_ms()).max(0) as u64;
    let jitter = std::collections::hash_map::RandomState::new().build_hasher().finish() % 200;
    Duration::from_millis(left + 20 + jitter).min(renew_every(ttl)).max(Duration::from_millis(50))
}

/// Runs `work` while holding the lease (taken beforehand): renews it every third of the lease
/// time and stops `work` (drops it) as soon as the lease is lost or about to run out unrenewed.
pub async fn while_held<F: Future>(
    store: &Store,
    mailbox_id: i64,
    ttl: Duration,
    work: F,
) -> Result<F::Output, LeaseLost> {
    tokio::select! {
        out = work => Ok(out),
        lost = keep_renewed(store, mailbox_id, ttl) => Err(lost),
    }
}

async fn keep_renewed(store: &Store, mailbox_id: i64, ttl: Duration) -> LeaseLost {
    let mut valid_until = Clock::system().now_ms() + ttl_ms(ttl);
    loop {
        tokio::time::sleep(renew_every(ttl)).await;
        match take(store, mailbox_id, ttl).await {
            Ok(LeaseOutcome::Taken { expires_ms }) => valid_until = expires_ms,
            Ok(LeaseOutcome::Busy(info)) => {
                tracing::warn!(mailbox_id, holder = %info.holder, "fetch lease lost to another instance");
                return LeaseLost;
            }
            Err(e) => {
                tracing::warn!(mailbox_id, error = %e, "cannot renew the fetch lease");
                // Stop well before it runs out: after that another instance may start fetching.
                if Clock::system().now_ms() + ttl_ms(renew_every(ttl)) >= valid_until {
                    return LeaseLost;
                }
            }
        }
    }
}

/// Gives up this instance's lease on `mailbox_id` (clean stop); errors are only logged.
pub async fn release(store: &Store, mailbox_id: i64) {
    if let Err(e) = store.release_lease(mailbox_id, instance_id()).await {
        tracing::warn!(mailbox_id, error = %e, "cannot release the fetch lease; it expires by itself");
    }
}

/// How many mailboxes one of `instances` running instances should fetch: an even share, rounded up
/// (so the shares cover every mailbox), at least one.
pub fn fair_share(mailboxes: usize, instances: usize) -> usize {
    mailboxes.div_ceil(instances.max(1)).max(1)
}

/// How long a free mailbox is left to an instance below its share before this one takes it
/// anyway (the other may be stuck): a third of the lease time, so no mailbox waits longer than
/// a lease period for a fetcher.
pub fn patience(ttl: Duration) -> Duration {
    renew_every(ttl)
}

/// How long a mailbox's loop waits before it asks again for a free lease it left to another
/// instance.
pub const DEFER_RETRY: Duration = Duration::from_secs(1);

/// What [`take_fair`] gave.
pub enum Fair {
    /// Ours (taken or renewed).
    Taken,
    /// Another live instance holds it.
    Busy(LeaseInfo),
    /// Free, but this instance holds its share already: left to an instance below its share.
    Left,
}

/// Until when (unix ms) this instance hands off nothing: a lease it left went unclaimed.
static NO_HAND_OFF_UNTIL: AtomicI64 = AtomicI64::new(0);

/// One lease decision at a time in this process, so the mailbox loops that start together count
/// each other's leases (taking and handing off).
async fn one_decision() -> tokio::sync::MutexGuard<'static, ()> {
    static DECIDING: tokio::sync::Mutex<()> = tokio::sync::Mutex::const_new(());
    DECIDING.lock().await
}

/// Takes the lease on `mailbox_id` if it is ours already, or free and this instance holds fewer
/// than its fair share of the enabled mailboxes among the running instances
/// ([`Store::live_instances`]); a free lease left to others since `left_since` for [`patience`]
/// is taken anyway. Without this, the instance that starts first takes every mailbox and the
/// others idle until it stops.
pub async fn take_fair(
    store: &Store,
    mailbox_id: i64,
    ttl: Duration,
    left_since: Option<tokio::time::Instant>,
) -> postkorb_store::Result<Fair> {
    let _one = one_decision().await;
    let now = Clock::system().now_ms();
    let free = match store.lease(mailbox_id).await? {
        Some(l) if l.holder == instance_id() => false,
        Some(l) => l.expires_ms <= now || holder_is_dead(&l.holder),
        None => true,
    };
    let waited = left_since.is_some_and(|t| t.elapsed() >= patience(ttl));
    if free && at_share(store, now).await? {
        if !waited {
            return Ok(Fair::Left);
        }
        // Left long enough and nobody took it: the instance counted may be stuck. No hand-offs
        // for a while, or this one would give the mailbox away and take it back again and again.
        NO_HAND_OFF_UNTIL.store(now + 10 * ttl_ms(ttl), Ordering::Relaxed);
    }
    Ok(match take(store, mailbox_id, ttl).await? {
        LeaseOutcome::Taken { .. } => Fair::Taken,
        LeaseOutcome::Busy(info) => Fair::Busy(info),
    })
}

/// Whether this instance holds at least its fair share of leases.
async fn at_share(store: &Store, now_ms: i64) -> postkorb_store::Result<bool> {
    let instances = store.live_instances().await?;
    if instances < 2 {
        return Ok(false); // alone: every mailbox is its share, and this one is not held yet
    }
    let enabled = store.mailboxes().await?.iter().filter(|m| m.enabled).count();
    Ok(store.leases_held(instance_id(), now_ms).await? >= fair_share(enabled, instances))
}

/// After a pass: whether this instance holds more than its fair share — it started first, or
/// others started later — so the mailbox's lease should go to an instance below its share. Gives
/// the lease up when so (true); one decision at a time, so an instance hands off only its surplus.
pub async fn hand_off(store: &Store, mailbox_id: i64) -> postkorb_store::Result<bool> {
    let _one = one_decision().await;
    let now = Clock::system().now_ms();
    let instances = store.live_instances().await?;
    if instances < 2 || now < NO_HAND_OFF_UNTIL.load(Ordering::Relaxed) {
        return Ok(false);
    }
    let enabled = store.mailboxes().await?.iter().filter(|m| m.enabled).count();
    if store.leases_held(instance_id(), now).await? <= fair_share(enabled, instances) {
        return Ok(false);
    }
    store.release_lease(mailbox_id, instance_id()).await
}

/// How often `serve` checks that its presence connection still works.
const PRESENCE_CHECK: Duration = Duration::from_secs(10);

/// How long a starting `serve` waits, once it has shown itself, before it takes any lease: the
/// instances started together then count each other and split the mailboxes from the start.
pub const START_GRACE: Duration = Duration::from_secs(1);

/// Shows this instance as running ([`Store::announce_instance`]) for as long as the returned
/// task runs (abort it when `serve` stops), announcing again whenever the connection breaks.
/// Returns None where instances are not counted (SQLite).
pub async fn show_presence(store: &Store) -> Option<tokio::task::JoinHandle<()>> {
    let mut presence = match store.announce_instance(instance_id()).await {
        Ok(Some(p)) => Some(p),
        Ok(None) => return None,
        Err(e) => {
            tracing::warn!(error = %e, "cannot show this instance to the others; trying again");
            None
        }
    };
    let store = store.clone();
    Some(tokio::spawn(async move {
        loop {
            tokio::time::sleep(PRESENCE_CHECK).await;
            if let Some(p) = &mut presence
                && p.alive().await
            {
                continue;
            }
            presence = match store.announce_instance(instance_id()).await {
                Ok(p) => p,
                Err(e) => {
                    tracing::warn!(error = %e, "cannot show this instance to the others; trying again");
                    None
                }
            };
        }
    }))
}

/// The in-process gate of a mailbox: held for the duration of one pass.
pub async fn gate(mailbox_id: i64) -> tokio::sync::OwnedMutexGuard<()> {
    static GATES: OnceLock<Mutex<HashMap<i64, Arc<tokio::sync::Mutex<()>>>>> = OnceLock::new();
    let gate = {
        let mut gates = GATES.get_or_init(Default::default).lock().unwrap_or_else(|e| e.into_inner());
        gates.entry(mailbox_id).or_default().clone()
    };
    gate.lock_owned().await
}

/// What a fetch under the lease gave: the work's result, or the holder that kept us out.
pub enum Leased<T> {
    Done(T),
    Busy(LeaseInfo),
}

/// One import pass under the mailbox's lease (`fetch`, `sync`): when another live instance holds
/// the lease, waits for it up to `wait` (then `Busy`); the lease is given back afterwards unless
/// this instance's serve loop held it already.
pub async fn run_once(
    store: &Store,
    m: &postkorb_store::MailboxRecord,
    cfg: &postkorb_source::SourceConfig,
    batch: usize,
    clock: &Clock,
    ttl: Duration,
    wait: Duration,
) -> anyhow::Result<Leased<crate::service::importer::RunReport>> {
    let ours_already = store.lease(m.id).await?.is_some_and(|l| l.holder == instance_id());
    let give_up = tokio::time::Instant::now() + wait;
    loop {
        match take(store, m.id, ttl).await? {
            LeaseOutcome::Taken { .. } => break,
            LeaseOutcome::Busy(info) => {
                let left = give_up.saturating_duration_since(tokio::time::Instant::now());
                if left.is_zero() {
                    return Ok(Leased::Busy(info));
                }
                tokio::time::sleep(retry_after(&info, ttl).min(left)).await;
            }
        }
    }
    let result = {
        let _one = gate(m.id).await;
        while_held(store, m.id, ttl, crate::service::importer::run_once(store, m, cfg, batch, clock)).await
    };
    if !ours_already {
        release(store, m.id).await;
    }
    Ok(Leased::Done(result??))
}

fn renew_every(ttl: Duration) -> Duration {
    (ttl / 3).max(Duration::from_millis(100))
}

fn ttl_ms(ttl: Duration) -> i64 {
    i64::try_from(ttl.as_millis()).unwrap_or(i64::MAX / 4).max(1)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_instance_id_is_stable_within_a_process_and_carries_random_bits() {
        assert_eq!(instance_id(), instance_id());
        let random = instance_id().rsplit('-').next().unwrap();
        assert_eq!(random.len(), 16, "{}", instance_id());
    }

    #[test]
    fn only_a_holder_of_this_host_whose_process_is_gone_counts_as_dead() {
        assert!(!holder_is_dead(instance_id()), "we are alive: {}", instance_id());
        let host = host_name();
        // pid 1 runs, but was not started at tick 1 (it started at boot, tick 0 … or later).
        let start_of_1 = start_time(1).unwrap();
        assert!(holder_is_dead(&format!("{host}-{}-1-00", start_of_1 + 1)), "a reused pid");
        assert!(!holder_is_dead(&format!("{host}-{start_of_1}-1-00")), "pid 1 with its start time runs");
        assert!(!holder_is_dead(&format!("anderer-host-{}-1-00", start_of_1 + 1)), "another host: only expiry");
        assert!(!holder_is_dead("oldhost-1234-0011223344556677"), "an id of the old format");
    }

    #[test]
    fn the_fair_share_covers_every_mailbox_and_is_never_zero() {
        // (mailboxes, instances, share)
        let cases = [(20, 2, 10), (20, 1, 20), (21, 2, 11), (3, 2, 2), (1, 3, 1), (0, 2, 1), (20, 0, 20), (10, 3, 4)];
        for (mailboxes, instances, share) in cases {
            assert_eq!(fair_share(mailboxes, instances), share, "{mailboxes} mailboxes, {instances} instances");
            assert!(share * instances.max(1) >= mailboxes, "the shares leave a mailbox without a fetcher");
        }
    }

    #[test]
    fn a_waiting_instance_retries_when_the_lease_expires_but_at_least_every_third_of_the_lease_time() {
        let ttl = Duration::from_secs(60);
        let now = Clock::system().now_ms();
        let soon = LeaseInfo { mailbox_id: 1, holder: "x".into(), expires_ms: now + 1_000, taken_ms: now };
        let wait = retry_after(&soon, ttl);
        assert!(wait >= Duration::from_millis(900) && wait <= Duration::from_millis(1_300), "{wait:?}");
        let later = LeaseInfo { expires_ms: now + 50_000, ..soon };
        assert_eq!(retry_after(&later, ttl), Duration::from_secs(20));
    }
}
