//! Sender verification: is the From domain of a mail authenticated, under the mailbox's [`Policy`]?
//!
//! The importer calls [`verify`] with the raw message bytes and the domain of the strict From
//! addr-spec (from `postkorb-mail`); a mail whose [`Verdict`] is not `verified` must not be routed to a
//! person but kept with „Absender nicht verifiziert“ and [`Verdict::detail`].

mod auth_results;
mod batch;
mod dkim;
mod org_domain;
mod policy;
mod resolver;

pub use batch::{Checked, DnsBudget, verify_all};
pub use org_domain::{aligned, organizational_domain};
pub use policy::Policy;
pub use resolver::{LOOKUP_TIMEOUT, Resolver};

use std::future::Future;
use std::panic::{AssertUnwindSafe, catch_unwind};
use std::pin::Pin;
use std::task::{Context, Poll};
use std::time::Duration;

/// The outcome of a verification.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Verdict {
    /// The From domain is authenticated under the policy; only then may the mail reach a person.
    pub verified: bool,
    /// Short English reason, for the kept mail's details and the log.
    pub detail: String,
    /// Not verified only because of a DNS problem (timeout, server failure); the same mail may verify
    /// later. Always false when `verified`.
    pub temporary: bool,
}

impl Verdict {
    pub(crate) fn pass(detail: impl Into<String>) -> Verdict {
        Verdict { verified: true, detail: detail.into(), temporary: false }
    }

    pub(crate) fn fail(detail: impl Into<String>) -> Verdict {
        Verdict { verified: false, detail: detail.into(), temporary: false }
    }
}

/// Verifies the sender of `raw` (the complete message as received) against `from_domain` (the domain
/// of the From addr-spec that routing uses) under `policy`. Never panics: any internal failure is a
/// not-verified verdict. Needs a tokio runtime for DNS (`Policy::DkimAligned`). Waits for DNS at
/// most the resolver's lookup timeout; for many mails at once use [`verify_all`].
pub async fn verify(raw: &[u8], from_domain: &str, policy: &Policy, resolver: &Resolver) -> Verdict {
    verify_within(raw, from_domain, policy, resolver, resolver.lookup_timeout).await
}

/// [`verify`] waiting for DNS at most `limit` (zero: only answers already cached count).
pub(crate) async fn verify_within(
    raw: &[u8],
    from_domain: &str,
    policy: &Policy,
    resolver: &Resolver,
    limit: Duration,
) -> Verdict {
    match policy {
        Policy::Off => Verdict::pass("verification off"),
        Policy::AuthResults { authserv_ids } => {
            catch_unwind(AssertUnwindSafe(|| auth_results::check(raw, from_domain, authserv_ids)))
                .unwrap_or_else(|_| Verdict::fail("internal error while reading Authentication-Results"))
        }
        Policy::DkimAligned { relaxed } => {
            let work = CatchUnwind(Box::pin(dkim::verify(raw, from_domain, *relaxed, resolver)));
            // tokio's timeout polls the work once before it looks at the clock: with a zero limit a
            // verification that needs no network (cached key, no signature) still completes.
            match tokio::time::timeout(limit, work).await {
                Ok(Ok(verdict)) => verdict,
                Ok(Err(())) => Verdict::fail("internal error while verifying DKIM"),
                Err(_) => Verdict { temporary: true, ..Verdict::fail("DKIM verification timed out (DNS)") },
            }
        }
    }
}

/// Turns a panic while polling the inner future into `Err(())`.
struct CatchUnwind<F>(Pin<Box<F>>);

impl<F: Future> Future for CatchUnwind<F> {
    type Output = Result<F::Output, ()>;

    fn poll(mut self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<Self::Output> {
        let inner = self.0.as_mut();
        match catch_unwind(AssertUnwindSafe(|| inner.poll(cx))) {
            Ok(Poll::Ready(value)) => Poll::Ready(Ok(value)),
            Ok(Poll::Pending) => Poll::Pending,
            Err(_) => Poll::Ready(Err(())),
        }
    }
}
