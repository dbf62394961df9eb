//! The importer step: one pass over one mailbox, from the server to committed Vorgänge.
//!
//! **Invariant (commit before dispose):** a message is moved or deleted on the server only after
//! the transaction holding its ledger row, raw bytes and Vorgang/kept entry has committed.
//! A listed message the ledger knows already is only disposed of again (idempotent), never imported
//! twice. The loop in `serve` is this step on a timer; tests call it directly.

use std::time::Instant;

use postkorb_core::{Decision, Employee, SenderRoute, decide};
use postkorb_source::{Fetched, Session, SourceConfig, SourceError};
use postkorb_store::{ImportItem, ImportOutcome, MailboxRecord, Store};

use crate::clock::Clock;

/// What one pass did.
#[derive(Debug, Default, Clone)]
pub struct RunReport {
    pub listed: usize,
    pub imported: Vec<Imported>,
    pub disposed: usize,
    pub orphaned_pools: usize,
    pub elapsed_ms: u128,
}

#[derive(Debug, Clone)]
pub struct Imported {
    pub key: String,
    pub subject: String,
    pub from: String,
    pub outcome: ImportOutcome,
}

impl RunReport {
    pub fn count(&self, f: impl Fn(&ImportOutcome) -> bool) -> usize {
        self.imported.iter().filter(|i| f(&i.outcome)).count()
    }
}

/// Turns fetched messages into import items: parse (contained, never panics) and decide.
pub fn prepare(fetched: Vec<Fetched>, employees: &[Employee], routes: &[SenderRoute]) -> Vec<ImportItem> {
    fetched
        .into_iter()
        .map(|f| {
            let mail = postkorb_mail::parse(&f.raw);
            let fingerprint = postkorb_mail::fingerprint(&f.raw, mail.message_id.as_deref());
            let decision: Decision = decide(&mail.facts(), employees, routes);
            ImportItem { source_key: f.key, raw: f.raw, mail, fingerprint, decision }
        })
        .collect()
}

/// Commits prepared items and returns what became of each.
pub async fn commit(
    store: &Store,
    mailbox_id: i64,
    items: Vec<ImportItem>,
    clock: &Clock,
) -> postkorb_store::Result<Vec<Imported>> {
    let outcomes = store.commit_batch(mailbox_id, &items, clock.now_ms()).await?;
    Ok(items
        .into_iter()
        .zip(outcomes)
        .map(|(item, outcome)| Imported {
            key: item.source_key,
            subject: item.mail.subject,
            from: item.mail.sender.map(|a| a.to_string()).unwrap_or_else(|e| format!("({e})")),
            outcome,
        })
        .collect())
}

/// Fetches everything new from one mailbox, stores it, then disposes of the server copies.
pub async fn run_once(
    store: &Store,
    mailbox: &MailboxRecord,
    cfg: &SourceConfig,
    batch_size: usize,
    clock: &Clock,
) -> Result<RunReport, ImportError> {
    let started = Instant::now();
    let result = pass(store, mailbox, cfg, batch_size, clock).await;
    match &result {
        Ok(report) => {
            let waiting = report.listed.saturating_sub(report.disposed) as i64;
            store.record_fetch_success(mailbox.id, clock.now_ms(), waiting).await?;
        }
        Err(e) => {
            store.record_fetch_error(mailbox.id, clock.now_ms(), &e.to_string()).await?;
        }
    }
    result.map(|mut r| {
        r.elapsed_ms = started.elapsed().as_millis();
        r
    })
}

#[derive(Debug, thiserror::Error)]
pub enum ImportError {
    #[error(transparent)]
    Source(#[from] SourceError),
    #[error(transparent)]
    Store(#[from] postkorb_store::StoreError),
}

impl ImportError {
    /// Network trouble or a busy database: try again later; nothing was lost.
    pub fn is_transient(&self) -> bool {
        match self {
            ImportError::Source(e) => e.is_transient(),
            ImportError::Store(_) => true,
        }
    }
}

async fn pass(
    store: &Store,
    mailbox: &MailboxRecord,
    cfg: &SourceConfig,
    batch_size: usize,
    clock: &Clock,
) -> Result<RunReport, ImportError> {
    let mut session = Session::connect(cfg).await?;
    let envelopes = session.list().await?;
    let keys: Vec<String> = envelopes.iter().map(|e| e.key.clone()).collect();
    let known = store.known_keys(mailbox.id, &keys).await?;
    let mut report = RunReport { listed: envelopes.len(), ..Default::default() };

    // Stored before but still on the server (disposal failed or was cut): dispose again.
    let mut to_dispose: Vec<String> = keys.iter().filter(|k| known.contains_key(*k)).cloned().collect();
    if !to_dispose.is_empty() {
        session.dispose(&to_dispose).await?;
    }

    let new: Vec<String> = keys.into_iter().filter(|k| !known.contains_key(k)).collect();
    let employees = store.employees().await?;
    let routes = store.routes().await?;
    for chunk in new.chunks(batch_size.max(1)) {
        let fetched = session.fetch(chunk).await?;
        let items = prepare(fetched, &employees, &routes);
        let done_keys: Vec<String> = items.iter().map(|i| i.source_key.clone()).collect();
        let imported = commit(store, mailbox.id, items, clock).await?;
        report.imported.extend(imported);
        // Committed: now, and only now, the server copies may go.
        session.dispose(&done_keys).await?;
        to_dispose.extend(done_keys);
    }
    session.close().await?;
    // POP3 deletes at QUIT, so the ledger learns of the disposal only after a clean close.
    store.mark_disposed(mailbox.id, &to_dispose, clock.now_ms()).await?;
    report.disposed = to_dispose.len();
    report.orphaned_pools = store.sweep_orphan_pools(clock.now_ms()).await?.len();
    Ok(report)
}
