//! Verifying many mails at once without letting one sender domain's DNS stall the rest.
//!
//! Anyone can send mail signed for a domain whose name servers never answer; verified one after
//! another, each such mail would cost a whole lookup timeout. [`verify_all`] therefore checks the
//! mails of different sender domains concurrently (bounded), the mails of one domain one after
//! another (the first lookup fills the cache for the rest), stops asking a domain whose DNS failed
//! once in this pass ([`DnsBudget`] remembers it for the whole pass), and gives every lookup only
//! the time left of the pass's budget.

use std::collections::{HashMap, HashSet};
use std::sync::{Mutex, PoisonError};
use std::time::{Duration, Instant};

use futures_util::StreamExt;

use crate::org_domain::{normalize, organizational_domain};
use crate::{Policy, Resolver, Verdict, verify_within};

/// Sender domains checked at once.
const CONCURRENT_DOMAINS: usize = 16;

/// The DNS time one import pass may spend on sender verification, shared by all its batches, and
/// the domains whose DNS failed during the pass.
pub struct DnsBudget {
    deadline: Instant,
    stalled: Mutex<HashSet<String>>,
}

impl DnsBudget {
    /// A budget of `budget` from now.
    pub fn new(budget: Duration) -> DnsBudget {
        let now = Instant::now();
        DnsBudget { deadline: now.checked_add(budget).unwrap_or(now), stalled: Mutex::default() }
    }

    fn left(&self) -> Duration {
        self.deadline.saturating_duration_since(Instant::now())
    }

    fn is_stalled(&self, domain: &str) -> bool {
        self.stalled.lock().unwrap_or_else(PoisonError::into_inner).contains(domain)
    }

    fn mark_stalled(&self, domain: &str) {
        self.stalled.lock().unwrap_or_else(PoisonError::into_inner).insert(domain.to_string());
    }
}

/// What became of one mail in [`verify_all`].
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Checked {
    /// Checked; `temporary` verdicts failed on DNS (this mail's domain did not answer in time).
    Verdict(Verdict),
    /// Not checked: the pass's DNS budget was used up before its turn. Nothing is known about it.
    NotTried,
}

/// Verifies each `(raw, from_domain)` under `policy`, answers in the same order. Mails of one
/// (organisational) sender domain are checked one after another, different domains up to 16 at
/// once. A domain whose DNS fails is marked in `budget` and not asked again in this pass: its
/// further mails only verify from cached keys, else they are temporary failures too.
pub async fn verify_all(
    mails: &[(&[u8], &str)],
    policy: &Policy,
    resolver: &Resolver,
    budget: &DnsBudget,
) -> Vec<Checked> {
    let mut groups: HashMap<String, Vec<usize>> = HashMap::new();
    for (i, (_, domain)) in mails.iter().enumerate() {
        let key = normalize(domain).map(|d| organizational_domain(&d).to_string()).unwrap_or_default();
        groups.entry(key).or_default().push(i);
    }
    let mut out = vec![Checked::NotTried; mails.len()];
    let mut done = futures_util::stream::iter(groups)
        .map(|(domain, indices)| async move {
            let mut checked = Vec::with_capacity(indices.len());
            for i in indices {
                let (raw, from_domain) = mails[i];
                checked.push((i, check_one(raw, from_domain, &domain, policy, resolver, budget).await));
            }
            checked
        })
        .buffer_unordered(CONCURRENT_DOMAINS);
    while let Some(checked) = done.next().await {
        for (i, c) in checked {
            out[i] = c;
        }
    }
    out
}

async fn check_one(
    raw: &[u8],
    from_domain: &str,
    group: &str,
    policy: &Policy,
    resolver: &Resolver,
    budget: &DnsBudget,
) -> Checked {
    if budget.is_stalled(group) {
        // Cached keys still verify; anything that needs this domain's DNS waits for another pass.
        let verdict = verify_within(raw, from_domain, policy, resolver, Duration::ZERO).await;
        if verdict.temporary {
            let detail = format!("DNS of {group} did not answer in this pass");
            return Checked::Verdict(Verdict { detail, ..verdict });
        }
        return Checked::Verdict(verdict);
    }
    let limit = resolver.lookup_timeout.min(budget.left());
    let verdict = verify_within(raw, from_domain, policy, resolver, limit).await;
    match verdict.temporary {
        // Out of budget before this mail's turn: it did not get a fair try.
        true if limit.is_zero() => Checked::NotTried,
        true => {
            budget.mark_stalled(group);
            Checked::Verdict(verdict)
        }
        false => Checked::Verdict(verdict),
    }
}
