//! The dispatcher (issue 17): tells others what happened, from the event log and the kept mails
//! (a transactional outbox — the store side is `postkorb_store`'s `outbox.rs`).
//!
//! Each [`Channel`] has a name, a fan-out (which deliveries one event makes: 0..n targets) and a
//! deliver step (one attempt → delivered / retry later / give up / paused). A round
//! ([`Dispatcher::once`]) fans out everything new for every channel (each event exactly once per
//! channel and target, in the transaction that moves the channel's cursor), then makes one
//! attempt at every due delivery, taken with a lease in order per Vorgang and target. Failures
//! are retried with exponential back-off (jitter, capped) until [`GIVE_UP_AFTER_MS`] after the
//! event; a lease that expired (a killed instance) is taken again: at least once, and receivers
//! de-duplicate by the delivery's event key. `serve` runs rounds in the background ([`spawn`]);
//! `postkorb dispatch --once` runs one. The clock is an argument (`now_ms`).
//!
//! **Adding a channel** (e-mail notifications, the Eingangsbestätigung): implement [`Channel`]
//! in a file beside `webhook.rs` — `name` (the `deliveries.channel` word), `fan_out` (read what it
//! needs, e.g. recipients, then say per [`OutboxItem`] which [`NewDelivery`]s it makes; the body
//! is fixed then) and `deliver` (one attempt at one [`Delivery`]) — and add it to [`channels`].
//! A new channel starts at the end of the logs (it does not send the past).

use std::future::Future;
use std::pin::Pin;
use std::sync::Arc;
use std::time::Duration;

use postkorb_source::NetPolicy;
use postkorb_store::{Attempt, Delivery, NewDelivery, OutboxItem, Store};

use crate::secret::SecretKey;

pub mod ack;
pub mod email;
pub mod webhook;

pub type BoxFuture<'a, T> = Pin<Box<dyn Future<Output = T> + Send + 'a>>;

/// Which deliveries one event makes (the channel's fan-out for one round).
pub type FanOut = Box<dyn FnMut(&OutboxItem) -> Vec<NewDelivery> + Send>;

/// How one attempt went, in the channel's words (short, never a receiver's body).
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum Outcome {
    Delivered(String),
    /// Try again later (back-off), unless the event is older than [`GIVE_UP_AFTER_MS`].
    Retry(String),
    GiveUp(String),
    /// The target is paused; the delivery waits for „Fortsetzen“.
    Paused(String),
}

/// A way of telling others; see the module doc for adding one.
pub trait Channel: Send + Sync {
    /// The word in `deliveries.channel` and in the delivery log.
    fn name(&self) -> &'static str;
    /// Reads what the fan-out needs now and returns it.
    fn fan_out<'a>(&'a self, deps: &'a Deps) -> BoxFuture<'a, anyhow::Result<FanOut>>;
    /// One attempt at `delivery`; an error (the database, a broken body) is retried like a
    /// failed attempt, logged with the channel's name.
    fn deliver<'a>(
        &'a self,
        deps: &'a Deps,
        delivery: &'a Delivery,
        now_ms: i64,
    ) -> BoxFuture<'a, anyhow::Result<Outcome>>;
}

/// The channels the dispatcher serves.
pub fn channels() -> Vec<Arc<dyn Channel>> {
    vec![Arc::new(webhook::Webhooks), Arc::new(email::Notifications), Arc::new(ack::Acknowledgements)]
}

/// What channels need: the store, the key for their secrets, the network policy, the public URL.
#[derive(Clone)]
pub struct Deps {
    pub store: Store,
    pub key: Arc<SecretKey>,
    pub net: NetPolicy,
    /// `public_url` of the settings, for links in messages (empty: paths only).
    pub public_url: String,
    pub backoff: Backoff,
    /// Notification mails quote the mail's first lines (`Settings::notify_include_text`).
    pub include_text: bool,
    pub clock: crate::clock::Clock,
}

impl Deps {
    /// Now on the dispatcher's clock (a test's clock is an argument of `Ctx`).
    pub fn now_ms(&self) -> i64 {
        self.clock.now_ms()
    }

    pub fn of(ctx: &crate::Ctx) -> anyhow::Result<Deps> {
        Ok(Deps {
            store: ctx.store.clone(),
            key: Arc::new(SecretKey::load_or_create(&ctx.settings.key_file())?),
            net: ctx.settings.net(),
            public_url: ctx.settings.public_url.clone().unwrap_or_default().trim_end_matches('/').to_string(),
            backoff: Backoff::from_env(),
            include_text: ctx.settings.notify_include_text,
            clock: ctx.clock.clone(),
        })
    }
}

/// A delivery that keeps failing is given up this long after it was made (4 days: longer than a
/// webhook endpoint may fail before it is paused, so a paused endpoint loses nothing).
pub const GIVE_UP_AFTER_MS: i64 = 4 * 24 * 3600 * 1000;
/// How long a taken delivery is leased: longer than any one attempt.
const LEASE_MS: i64 = 60_000;
/// Events read and deliveries taken per step.
const BATCH: i64 = 100;
/// Batches of deliveries per channel and round at most (the rest: next round).
const MAX_STEPS: usize = 20;

/// How a mail's sending went, in the dispatcher's words: a temporary failure is tried again.
pub(crate) fn mail_outcome(result: Result<(), crate::service::smtp::SendError>) -> Outcome {
    match result {
        Ok(()) => Outcome::Delivered("gesendet".into()),
        Err(e) if e.is_transient() => Outcome::Retry(e.german()),
        Err(e) => Outcome::GiveUp(e.german()),
    }
}

/// Exponential back-off with jitter: the n-th retry waits `base · 2^(n-1)`, at most `cap`, and a
/// random 50–100 % of that.
#[derive(Clone, Copy, Debug)]
pub struct Backoff {
    pub base_ms: i64,
    pub cap_ms: i64,
}

impl Backoff {
    /// 10 s doubling to at most one hour; `POSTKORB_DISPATCH_RETRY_MS` sets the base (tests, and
    /// operators who want it faster), the cap stays 360 times the base.
    pub fn from_env() -> Backoff {
        let base_ms = std::env::var("POSTKORB_DISPATCH_RETRY_MS").ok().and_then(|v| v.parse().ok()).unwrap_or(10_000);
        Backoff { base_ms, cap_ms: base_ms.saturating_mul(360) }
    }

    /// When to try again after `attempts` failed attempts (`random` in 0..1 picks the jitter).
    pub fn next_try(&self, now_ms: i64, attempts: i64, random: f64) -> i64 {
        let exp = self.base_ms.saturating_mul(1i64 << attempts.clamp(1, 30).saturating_sub(1)).min(self.cap_ms);
        now_ms + (exp as f64 * (0.5 + 0.5 * random.clamp(0.0, 1.0))) as i64
    }
}

fn random_unit() -> f64 {
    let mut b = [0u8; 8];
    let _ = getrandom::fill(&mut b);
    (u64::from_le_bytes(b) >> 11) as f64 / (1u64 << 53) as f64
}

/// What a round did.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct Round {
    pub fanned_out: usize,
    pub delivered: usize,
    pub retried: usize,
    pub failed: usize,
    pub paused: usize,
    /// Daily summaries sent (e-mail notifications).
    pub digests: usize,
}

/// The dispatcher of one instance.
pub struct Dispatcher {
    pub deps: Deps,
    pub channels: Vec<Arc<dyn Channel>>,
    /// Lease holder: this instance (`lease::instance_id`).
    pub holder: String,
    /// The minute (unix ms / 60,000) whose daily summaries were last looked at.
    digest_minute: std::sync::atomic::AtomicI64,
}

impl Dispatcher {
    pub fn new(deps: Deps) -> Dispatcher {
        Dispatcher {
            deps,
            channels: channels(),
            holder: crate::service::lease::instance_id().to_string(),
            digest_minute: std::sync::atomic::AtomicI64::new(i64::MIN),
        }
    }

    /// One round at `now_ms`: fan out all that is new, then one attempt at each due delivery.
    pub async fn once(&self, now_ms: i64) -> anyhow::Result<Round> {
        let mut round = Round::default();
        for channel in &self.channels {
            while self.deps.store.outbox_has_new(channel.name()).await? {
                let plan = channel.fan_out(&self.deps).await?;
                let read = self.deps.store.outbox_fan_out(channel.name(), BATCH, now_ms, plan).await?;
                round.fanned_out += read;
                if read == 0 {
                    break;
                }
            }
            let mut steps = 0;
            loop {
                let taken = self.deps.store.outbox_take(channel.name(), &self.holder, now_ms, LEASE_MS, BATCH).await?;
                if taken.is_empty() {
                    break;
                }
                for d in &taken {
                    // Art. 18: nothing about a Vorgang under an „Einschränkung der Verarbeitung“
                    // leaves Postkorb (set between the event and now, too).
                    let restricted = match d.case_id {
                        Some(case) => self.deps.store.case_restricted(case).await?,
                        None => false,
                    };
                    let outcome = if restricted {
                        Ok(Outcome::GiveUp("Einschränkung der Verarbeitung: nicht gesendet".into()))
                    } else {
                        channel.deliver(&self.deps, d, now_ms).await
                    };
                    let outcome = outcome.unwrap_or_else(|e| {
                        tracing::warn!(channel = channel.name(), delivery = d.id, error = %e, "delivery could not be tried");
                        Outcome::Retry("interner Fehler".into())
                    });
                    let attempt = match outcome {
                        Outcome::Delivered(status) => {
                            round.delivered += 1;
                            Attempt::Delivered { status }
                        }
                        Outcome::Retry(reason) if now_ms - d.created_ms >= GIVE_UP_AFTER_MS => {
                            round.failed += 1;
                            Attempt::GiveUp { reason: format!("{reason}; aufgegeben") }
                        }
                        Outcome::Retry(reason) => {
                            round.retried += 1;
                            let next_try_ms = self.deps.backoff.next_try(now_ms, d.attempts + 1, random_unit());
                            Attempt::Retry { reason, next_try_ms }
                        }
                        Outcome::GiveUp(reason) => {
                            round.failed += 1;
                            Attempt::GiveUp { reason }
                        }
                        Outcome::Paused(reason) => {
                            round.paused += 1;
                            Attempt::Paused { reason }
                        }
                    };
                    self.deps.store.outbox_finish(d.id, &self.holder, &attempt, now_ms).await?;
                }
                // Again: a delivered one may have freed the next of its Vorgang. Retried ones are
                // not due again this round (their next try lies ahead).
                steps += 1;
                if steps >= MAX_STEPS {
                    break;
                }
            }
        }
        // The daily summaries of the e-mail notifications whose time has come.
        // Their times are whole minutes: looked at once a minute, not every round.
        let minute = now_ms.div_euclid(60_000);
        let new_minute = self.digest_minute.swap(minute, std::sync::atomic::Ordering::Relaxed) != minute;
        if new_minute && self.channels.iter().any(|c| c.name() == email::CHANNEL) {
            round.digests = email::send_due_digests(&self.deps, now_ms).await?;
        }
        Ok(round)
    }
}

/// `serve`: rounds every `every` on the system clock until `stop` completes. A failed round is
/// logged and the next one tries again.
pub fn spawn(
    dispatcher: Dispatcher,
    clock: crate::clock::Clock,
    every: Duration,
    stop: impl Future<Output = ()> + Send + 'static,
) -> tokio::task::JoinHandle<()> {
    tokio::spawn(async move {
        let run = async {
            loop {
                if let Err(e) = dispatcher.once(clock.now_ms()).await {
                    tracing::warn!(error = %e, "dispatch round failed; trying again");
                }
                tokio::time::sleep(every).await;
            }
        };
        tokio::select! {
            _ = run => {},
            _ = stop => {},
        }
    })
}

#[cfg(test)]
mod tests {
    use super::Backoff;

    #[test]
    fn back_off_doubles_with_jitter_up_to_its_cap() {
        let b = Backoff { base_ms: 10_000, cap_ms: 3_600_000 };
        // (attempts, jitter, wait)
        let cases = [
            (1, 1.0, 10_000),
            (1, 0.0, 5_000),
            (2, 1.0, 20_000),
            (3, 0.5, 30_000),
            (9, 1.0, 2_560_000),
            (10, 1.0, 3_600_000),
            (60, 1.0, 3_600_000),
            (60, 0.0, 1_800_000),
        ];
        for (attempts, random, wait) in cases {
            assert_eq!(b.next_try(1_000, attempts, random) - 1_000, wait, "{attempts} {random}");
        }
    }
}
