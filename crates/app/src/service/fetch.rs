//! One pass over every enabled mailbox — what `postkorb fetch`, „Synchronisieren“ and the demo
//! run. A failing mailbox is recorded in its health and the others go on; a mailbox whose fetch
//! lease another live instance holds is reported as such, never as done.

use std::time::Duration;

use postkorb_store::{LeaseInfo, MailboxRecord};

use crate::Ctx;
use crate::service::importer::RunReport;
use crate::service::lease::{self, Leased};

/// What became of one mailbox in a pass.
pub enum Fetched {
    Done(RunReport),
    /// Another running instance holds the mailbox's fetch lease (after waiting `waited`).
    Busy {
        holder: LeaseInfo,
        waited: Duration,
    },
    /// Connecting, logging in or importing failed; recorded in the mailbox's health.
    Failed(anyhow::Error),
}

/// Fetches every enabled mailbox once, in name order. With `wait_for_lease` (`postkorb fetch`) a
/// mailbox another live instance is fetching is waited for up to the lease time first.
pub async fn fetch_each(ctx: &Ctx, wait_for_lease: bool) -> anyhow::Result<Vec<(MailboxRecord, Fetched)>> {
    let mailboxes: Vec<MailboxRecord> = ctx.store.mailboxes().await?.into_iter().filter(|m| m.enabled).collect();
    let ttl = ctx.settings.lease_ttl();
    let wait = if wait_for_lease { ttl } else { Duration::ZERO };
    let mut out = Vec::with_capacity(mailboxes.len());
    for m in mailboxes {
        let outcome =
            match crate::service::oauth::fresh_config(&ctx.store, &m, &ctx.key, &ctx.clock, ctx.settings.net()).await {
                Ok(cfg) => {
                    match lease::run_once(&ctx.store, &m, &cfg, ctx.settings.batch_size, &ctx.clock, ttl, wait).await {
                        Ok(Leased::Done(report)) => Fetched::Done(report),
                        // Not an import error of the mailbox: its health stays as the holder records it.
                        Ok(Leased::Busy(holder)) => Fetched::Busy { holder, waited: wait },
                        Err(e) => Fetched::Failed(e),
                    }
                }
                Err(e) => Fetched::Failed(e),
            };
        if let Fetched::Failed(e) = &outcome {
            ctx.store.record_fetch_error(m.id, ctx.clock.now_ms(), &format!("{e:#}")).await?;
        }
        out.push((m, outcome));
    }
    Ok(out)
}
