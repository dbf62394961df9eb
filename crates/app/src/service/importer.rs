//! The importer step: one pass over one mailbox, from the server to committed Vorgänge.
//!
//! **Invariant (commit before dispose):** a message is moved or deleted on the server only after
//! the transaction holding its ledger row, raw bytes and Vorgang/kept entry has committed.
//! A listed message the ledger knows already is only disposed of again (idempotent), never imported
//! twice. The loop in `serve` is this step on a timer; tests call it directly.

use std::collections::HashMap;
use std::sync::OnceLock;
use std::sync::atomic::{AtomicI64, Ordering};
use std::time::{Duration, Instant};

use postkorb_core::{Decision, Employee, KeepReason, SenderRoute, decide};
use postkorb_mail::InboundMail;
use postkorb_source::{Envelope, Fetched, Session, SourceConfig, SourceError};
use postkorb_store::{DnsRetry, ImportItem, ImportOutcome, IndexTerms, MailboxRecord, Store, WrittenAhead};
use postkorb_verify::{Checked, DnsBudget, Policy, Resolver};

use crate::clock::Clock;

/// What one pass did.
#[derive(Debug, Default, Clone)]
pub struct RunReport {
    pub listed: usize,
    pub imported: Vec<Imported>,
    pub disposed: usize,
    /// Left on the server for a later pass: sender verification hit a temporary DNS failure (or
    /// waits for its retry time, or the pass's DNS budget was used up before its turn).
    pub deferred: usize,
    /// Left on the server for good: dated before the mailbox's onboarding cut-off.
    pub left_before_cutoff: usize,
    pub orphaned_pools: usize,
    pub elapsed_ms: u128,
    /// Listed mails the ledger knew already.
    pub already_known: usize,
    /// A dry run's decisions, one per new mail that would have been stored (in a real pass, empty:
    /// see `imported`).
    pub decided: Vec<Decision>,
}

/// What a pass does with what it decided: store it and dispose of the server copies, or only
/// report it (the dry run: nothing stored, moved or deleted, no retry times or cut-off rows written).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Mode {
    Import,
    DryRun,
}

/// One mail the pass stored (for the CLI's report; a pass over a large mailbox holds one per mail,
/// so it carries no more than the report prints).
#[derive(Debug, Clone)]
pub struct Imported {
    pub subject: String,
    pub from: String,
    pub outcome: ImportOutcome,
}

impl RunReport {
    pub fn count(&self, f: impl Fn(&ImportOutcome) -> bool) -> usize {
        self.imported.iter().filter(|i| f(&i.outcome)).count()
    }
}

static RESOLVER: OnceLock<Resolver> = OnceLock::new();

/// The process-wide DNS resolver for sender verification. A DNS cache is shared state by nature;
/// tests pin DKIM keys into it with `resolver().add_dkim_key(…)`.
pub fn resolver() -> &'static Resolver {
    RESOLVER.get_or_init(|| {
        Resolver::system().unwrap_or_else(|e| {
            tracing::warn!(error = %e, "no system DNS resolver: DKIM cannot verify, such mail is kept");
            Resolver::offline().expect("an offline resolver needs no configuration")
        })
    })
}

/// Uses `resolver` instead of the system's DNS configuration; only before the first verification
/// (false if a resolver is in use already). For tests (a name server that never answers).
pub fn set_resolver(resolver: Resolver) -> bool {
    RESOLVER.set(resolver).is_ok()
}

/// The DNS time one pass may spend on sender verification, over all its batches.
pub const PASS_DNS_BUDGET: Duration = Duration::from_secs(60);

/// Default of `Settings::dns_retry_hours`: how long a mail whose sender check fails on DNS is
/// tried again before it is kept as „Absender nicht verifiziert (DNS nicht erreichbar)“.
pub const DNS_GIVE_UP: Duration = Duration::from_secs(24 * 3600);

static DNS_GIVE_UP_MS: AtomicI64 = AtomicI64::new(DNS_GIVE_UP.as_millis() as i64);

/// Sets the give-up time for every later pass of this process (from `Settings::dns_retry_hours`;
/// process-wide like the resolver, so the serve loop's tasks need not carry it).
pub fn set_dns_give_up(after: Duration) {
    DNS_GIVE_UP_MS.store(i64::try_from(after.as_millis()).unwrap_or(i64::MAX), Ordering::Relaxed);
}

/// First retry after a DNS failure; each further one waits twice as long, up to [`RETRY_MAX`].
const RETRY_FIRST: Duration = Duration::from_secs(5 * 60);
const RETRY_MAX: Duration = Duration::from_secs(2 * 3600);

/// The sender checks of one pass: its DNS budget (shared by its batches) and the mails that
/// already failed on DNS in earlier passes.
pub struct DnsPass {
    budget: DnsBudget,
    waiting: HashMap<String, DnsRetry>,
    now_ms: i64,
    give_up_ms: i64,
}

impl DnsPass {
    /// A pass at `now_ms` that knows the mailbox's waiting mails (`Store::dns_retries`).
    pub fn new(waiting: HashMap<String, DnsRetry>, now_ms: i64) -> DnsPass {
        DnsPass {
            budget: DnsBudget::new(PASS_DNS_BUDGET),
            waiting,
            now_ms,
            give_up_ms: DNS_GIVE_UP_MS.load(Ordering::Relaxed),
        }
    }

    /// For a dry run or a one-off import: nothing failed before, so nothing is given up.
    pub fn without_history(now_ms: i64) -> DnsPass {
        DnsPass::new(HashMap::new(), now_ms)
    }

    /// Whether the mail under `key` waits for its retry time and is not fetched in this pass.
    pub fn not_yet(&self, key: &str) -> bool {
        self.waiting.get(key).is_some_and(|r| r.next_ms > self.now_ms)
    }

    /// The mail's row after one more DNS failure, or None once it has failed for the give-up time.
    fn failed_again(&self, key: &str) -> Option<DnsRetry> {
        let earlier = self.waiting.get(key);
        let first_ms = earlier.map_or(self.now_ms, |r| r.first_ms);
        let give_up_at = first_ms.saturating_add(self.give_up_ms);
        if self.now_ms >= give_up_at {
            return None;
        }
        let tries = earlier.map_or(0, |r| r.tries) + 1;
        let wait = RETRY_FIRST.saturating_mul(1 << tries.clamp(1, 16).saturating_sub(1)).min(RETRY_MAX);
        let next_ms = (self.now_ms + wait.as_millis() as i64).min(give_up_at);
        Some(DnsRetry { source_key: key.to_string(), first_ms, tries, next_ms })
    }
}

/// The mailbox's verification policy; an empty or unreadable setting means the safe default.
pub fn policy_of(mailbox: &MailboxRecord) -> Policy {
    if mailbox.verify_policy.trim().is_empty() {
        return Policy::default();
    }
    Policy::from_storage(&mailbox.verify_policy).unwrap_or_else(|e| {
        tracing::warn!(mailbox = %mailbox.name, error = %e, "unreadable verification policy, using the default");
        Policy::default()
    })
}

/// Import items ready to commit, and the mails left on the server for a later pass.
pub struct Prepared {
    pub items: Vec<ImportItem>,
    /// Sender check failed on DNS: left on the server, to be tried again at `next_ms`.
    pub deferred: Vec<DnsRetry>,
    /// Not checked: the pass's DNS budget was used up. Left on the server for the next pass.
    pub untried: Vec<String>,
}

/// Turns fetched messages into import items: parse (contained, never panics), verify the senders
/// under `policy` (all at once, within the pass's DNS budget: `postkorb_verify::verify_all`),
/// decide. A mail whose verification failed only for a temporary DNS reason is deferred: not
/// stored, not disposed, tried again later with back-off — until it has failed for the give-up
/// time, then it is kept as „Absender nicht verifiziert (DNS nicht erreichbar)“.
/// `legacy`: also make each mail's fingerprint as stored before BLAKE3
/// (`Store::legacy_fingerprints_until`).
pub async fn prepare(
    fetched: Vec<Fetched>,
    employees: &[Employee],
    routes: &[SenderRoute],
    policy: &Policy,
    dns: &DnsPass,
    legacy: bool,
) -> Prepared {
    let parsed = parse_all(fetched, legacy).await;
    let mut checked: Vec<Option<Checked>> = vec![None; parsed.len()];
    if *policy != Policy::Off {
        let mut which = Vec::new();
        let mut mails: Vec<(&[u8], &str)> = Vec::new();
        for (i, (f, mail, ..)) in parsed.iter().enumerate() {
            let worth_checking = mail.malformed.is_none() && mail.automatic.is_none();
            if let (true, Ok(sender)) = (worth_checking, &mail.sender) {
                which.push(i);
                mails.push((&f.raw, sender.domain()));
            }
        }
        let verdicts = postkorb_verify::verify_all(&mails, policy, resolver(), &dns.budget).await;
        for (i, c) in which.into_iter().zip(verdicts) {
            checked[i] = Some(c);
        }
    }
    let mut prepared = Prepared { items: Vec::with_capacity(parsed.len()), deferred: Vec::new(), untried: Vec::new() };
    for ((f, mail, postkorb_mail::Digests { fingerprint, raw_digest }, legacy_fingerprint, terms), check) in
        parsed.into_iter().zip(checked)
    {
        let mut facts = mail.facts();
        let mut decision = None;
        // Policy „off“ checks nothing: never verified.
        let verified = matches!(&check, Some(Checked::Verdict(v)) if v.verified && !v.temporary);
        match check {
            None => {}
            Some(Checked::NotTried) => {
                prepared.untried.push(f.key);
                continue;
            }
            Some(Checked::Verdict(v)) if v.temporary => match dns.failed_again(&f.key) {
                Some(retry) => {
                    prepared.deferred.push(retry);
                    continue;
                }
                None => decision = Some(Decision::Keep(KeepReason::UnverifiedDns(v.detail.into()))),
            },
            Some(Checked::Verdict(v)) if !v.verified => facts.unverified = Some(v.detail),
            Some(Checked::Verdict(_)) => {}
        }
        let decision = decision.unwrap_or_else(|| decide(&facts, employees, routes));
        let ack = ack_facts(&mail, &f.raw, verified);
        let (source_key, raw) = (f.key, f.raw);
        // A mail that is kept gets no Vorgang and no search entry.
        let search_terms = (!matches!(decision, Decision::Keep(_))).then_some(terms);
        prepared.items.push(ImportItem {
            source_key,
            raw,
            mail,
            fingerprint,
            decision,
            raw_digest,
            legacy_fingerprint,
            raw_file: None,
            ack,
            search_terms,
        });
    }
    prepared
}

/// What the Eingangsbestätigung decision needs about `mail`, recorded with it.
fn ack_facts(mail: &InboundMail, raw: &[u8], verified: bool) -> postkorb_core::ack::AckFacts {
    use postkorb_core::ack::{AckFacts, Verified};
    AckFacts {
        sender: mail.sender.as_ref().ok().map(|a| a.as_str().to_ascii_lowercase()),
        verified: if verified { Verified::Yes } else { Verified::No },
        message_id: mail.message_id.clone(),
        automatic: mail.automatic.clone(),
        null_sender: postkorb_mail::null_sender(raw),
        subject: mail.subject.chars().take(300).collect(),
    }
}

/// A parsed mail: what was fetched, the parse, its digests, its fingerprint as stored before
/// BLAKE3 (if asked for), its search entry.
type ParsedMail = (Fetched, InboundMail, postkorb_mail::Digests, Option<String>, IndexTerms);

/// Parses and fingerprints a batch on the blocking pool, split over the cores: parsing is the
/// CPU-heavy step and must not stall the async workers (IDLE, the web) while it runs. The mails are
/// dealt to the cores largest first, so each gets a similar share of the bytes; the result keeps
/// the order of `fetched`.
async fn parse_all(fetched: Vec<Fetched>, legacy: bool) -> Vec<ParsedMail> {
    let cores = std::thread::available_parallelism().map(|n| n.get()).unwrap_or(1);
    let n = fetched.len();
    let mut numbered: Vec<(usize, Fetched)> = fetched.into_iter().enumerate().collect();
    numbered.sort_by_key(|(_, f)| std::cmp::Reverse(f.raw.len()));
    let mut chunks: Vec<Vec<(usize, Fetched)>> = (0..cores.min(n.max(1))).map(|_| Vec::new()).collect();
    let mut loads = vec![0usize; chunks.len()];
    for (i, f) in numbered {
        let least = (0..loads.len()).min_by_key(|&c| loads[c]).unwrap_or(0);
        loads[least] += f.raw.len();
        chunks[least].push((i, f));
    }
    let handles: Vec<_> = chunks
        .into_iter()
        .map(|chunk| {
            let (tx, rx) = tokio::sync::oneshot::channel();
            let work = move || {
                // Bulk parsing yields the CPU to the commit, the IMAP reader and the web: with
                // every core busy parsing, each of the commit's many short database steps would
                // otherwise wait for a time slice (measured: the commit became the bottleneck).
                let _ = rustix::process::setpriority_process(None, PARSE_NICE);
                let parsed: Vec<_> = chunk
                    .into_iter()
                    .map(|(i, f)| {
                        let mail = postkorb_mail::parse_for_import(&f.raw);
                        let digests = postkorb_mail::digests(&f.raw, mail.message_id.as_deref());
                        let legacy =
                            legacy.then(|| postkorb_mail::legacy_fingerprint(&f.raw, mail.message_id.as_deref()));
                        // The search entry here, beside the previous batch's commit, not in it.
                        let terms = IndexTerms::of_mail(&mail);
                        (i, f, mail, digests, legacy, terms)
                    })
                    .collect();
                let _ = tx.send(parsed);
            };
            // A thread of its own per chunk (cheap next to parsing a batch), so the lowered
            // priority never sticks to a thread of the shared blocking pool.
            std::thread::Builder::new().name("postkorb-parse".into()).spawn(work).map(|_| rx)
        })
        .collect();
    let mut out = Vec::with_capacity(n);
    for h in handles {
        // parse() contains its own panics; a lost result would be a bug of ours, so surface it.
        let h = h.expect("the system refused a parser thread");
        out.extend(h.await.expect("the parse thread panicked"));
    }
    out.sort_by_key(|(i, ..)| *i);
    out.into_iter().map(|(_, f, m, p, l, t)| (f, m, p, l, t)).collect()
}

/// The nice value of the parser threads (Linux: per thread; 0 is normal, 19 the lowest).
const PARSE_NICE: i32 = 10;

/// Removes the items dated before the mailbox's onboarding cut-off and returns their (key,
/// fingerprint). A mail without a Date is imported (it cannot be shown to be old).
pub fn split_off_before_cutoff(mailbox: &MailboxRecord, items: &mut Vec<ImportItem>) -> Vec<(String, String)> {
    if mailbox.import_since_ms <= 0 {
        return Vec::new();
    }
    let mut old = Vec::new();
    items.retain(|i| match i.mail.date_ms {
        Some(d) if d < mailbox.import_since_ms => {
            old.push((i.source_key.clone(), i.fingerprint.clone()));
            false
        }
        _ => true,
    });
    old
}

/// Bytes fetched and held at once: with mails of up to several MB, a batch is cut by size too, so
/// memory stays bounded whatever the mailbox holds.
pub const BATCH_BYTES: u64 = 8 * 1024 * 1024;

/// What a mail whose size the source does not tell (Microsoft Graph's listing has none) counts as
/// in a batch: at most eight such mails are fetched and held at once.
pub const UNKNOWN_SIZE: u64 = 1024 * 1024;

/// Splits keys into batches of at most `max_count` mails and `BATCH_BYTES` (a larger mail alone).
pub fn batches(keys: &[String], size_of: impl Fn(&str) -> u64, max_count: usize) -> Vec<&[String]> {
    let mut out = Vec::new();
    let (mut start, mut bytes) = (0, 0u64);
    for (i, k) in keys.iter().enumerate() {
        let size = size_of(k);
        if i > start && (i - start >= max_count.max(1) || bytes + size > BATCH_BYTES) {
            out.push(&keys[start..i]);
            start = i;
            bytes = 0;
        }
        bytes += size;
    }
    if start < keys.len() {
        out.push(&keys[start..]);
    }
    out
}

/// The storm limit: a sender with more than `storm_max` Vorgänge within `storm_minutes` (counting
/// this batch) gets the rest held as kept mail instead of flooding someone's Startmaske.
pub async fn hold_storms(
    store: &Store,
    mailbox: &MailboxRecord,
    items: &mut [ImportItem],
    now_ms: i64,
) -> postkorb_store::Result<()> {
    if mailbox.storm_max <= 0 || mailbox.storm_minutes <= 0 {
        return Ok(());
    }
    let since = now_ms - mailbox.storm_minutes * 60_000;
    let mut seen: std::collections::HashMap<String, i64> = std::collections::HashMap::new();
    for item in items.iter_mut() {
        if matches!(item.decision, Decision::Keep(_)) {
            continue;
        }
        let Ok(sender) = &item.mail.sender else { continue };
        let key = sender.to_string();
        let count = match seen.get(&key) {
            Some(n) => *n,
            None => store.cases_from_since(&key, since).await?,
        };
        if count >= mailbox.storm_max {
            item.decision = Decision::Keep(postkorb_core::KeepReason::Storm(postkorb_core::StormLimit {
                max: mailbox.storm_max,
                minutes: mailbox.storm_minutes,
            }));
            seen.insert(key, count);
        } else {
            seen.insert(key, count + 1);
        }
    }
    Ok(())
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
    let mut conn = None;
    let result = run_once_on(store, mailbox, cfg, batch_size, clock, &mut conn).await;
    if let Some(session) = conn {
        let _ = session.close().await;
    }
    result
}

/// [`run_once`] on the connection in `conn` if there is one (else a new one): an IMAP connection
/// is left there, logged in and selected, for the next pass (`serve`'s loop keeps it), so a
/// pass costs no connect, login or TLS handshake. After an error `conn` is empty.
pub async fn run_once_on(
    store: &Store,
    mailbox: &MailboxRecord,
    cfg: &SourceConfig,
    batch_size: usize,
    clock: &Clock,
    conn: &mut Option<Session>,
) -> Result<RunReport, ImportError> {
    let started = Instant::now();
    let result = pass(store, mailbox, cfg, batch_size, clock, Mode::Import, conn).await;
    match &result {
        Ok(report) => {
            let waiting = report.listed.saturating_sub(report.disposed) as i64;
            store.record_fetch_success(mailbox.id, clock.now_ms(), waiting).await?;
        }
        Err(e) => {
            store.record_fetch_error(mailbox.id, clock.now_ms(), &e.to_string()).await?;
            // Microsoft Graph refused an access token that should still be good: get a new one
            // before the next pass instead of failing until its stated expiry.
            if let ImportError::Source(SourceError::Login(d)) = e
                && d.starts_with(postkorb_source::graph::GRAPH_TOKEN_REFUSED)
            {
                store.oauth_access_refused(mailbox.id).await?;
            }
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

/// Batches in flight at once, over the five stages. More would overlap the stages further, but
/// each costs memory (measured: `serve` over 10,000 mails peaked near 150 MB with four).
const IN_FLIGHT: usize = 3;

/// The dry run: exactly the steps of a pass, with [`Mode::DryRun`].
pub async fn dry_run(
    store: &Store,
    mailbox: &MailboxRecord,
    cfg: &SourceConfig,
    batch_size: usize,
    clock: &Clock,
) -> Result<RunReport, ImportError> {
    pass(store, mailbox, cfg, batch_size, clock, Mode::DryRun, &mut None).await
}

/// One pass over a mailbox — the one step behind `serve`, `fetch`, the bulk import (an archive as
/// a source that is left as it is) and the dry run (`mode`). Uses the connection in `conn` (else
/// a new one) and leaves an IMAP connection there after an import that went well.
async fn pass(
    store: &Store,
    mailbox: &MailboxRecord,
    cfg: &SourceConfig,
    batch_size: usize,
    clock: &Clock,
    mode: Mode,
    conn: &mut Option<Session>,
) -> Result<RunReport, ImportError> {
    let dry = mode == Mode::DryRun;
    // A source that keeps state between passes (Graph: its delta link) gets the last clean one's.
    let mut cfg = std::borrow::Cow::Borrowed(cfg);
    if cfg.protocol == postkorb_source::Protocol::Graph {
        cfg.to_mut().graph.sync_state = store.source_state(mailbox.id).await?;
    }
    tracing::debug!(target: "arrival", "pass: start");
    let (mut session, envelopes) = list_on(&cfg, conn.take()).await?;
    tracing::debug!(target: "arrival", listed = envelopes.len(), "pass: listed");
    let keys: Vec<String> = envelopes.iter().map(|e| e.key.clone()).collect();
    let known = store.known_keys(mailbox.id, &keys).await?;
    let mut report = RunReport { listed: envelopes.len(), already_known: known.len(), ..Default::default() };

    // Stored before but still on the server (disposal failed or was cut): dispose again —
    // except what was left there on purpose (before the onboarding cut-off).
    let ignored = if mailbox.import_since_ms > 0 { store.ignored_keys(mailbox.id).await? } else { Default::default() };
    let mut to_dispose: Vec<String> =
        keys.iter().filter(|k| known.contains_key(*k) && !ignored.contains(*k)).cloned().collect();
    if dry {
        to_dispose.clear();
    }
    if !to_dispose.is_empty() {
        session.dispose(&to_dispose).await?;
    }

    let sizes: std::collections::HashMap<&str, u64> =
        envelopes.iter().map(|e| (e.key.as_str(), e.size.unwrap_or(UNKNOWN_SIZE))).collect();
    // Mails whose sender check failed on DNS before wait for their retry time on the server.
    let dns = DnsPass::new(store.dns_retries(mailbox.id).await?, clock.now_ms());
    let (new, waiting): (Vec<String>, Vec<String>) =
        keys.iter().filter(|k| !known.contains_key(*k)).cloned().partition(|k| !dns.not_yet(k));
    report.deferred += waiting.len();
    let batches = batches(&new, |k| sizes.get(k).copied().unwrap_or(UNKNOWN_SIZE), batch_size);
    // Held for the whole pass otherwise: a few hundred bytes per mail listed (bench/scale.py).
    drop(sizes);
    drop(envelopes);
    drop(keys);
    let employees = store.employees().await?;
    let routes = store.routes().await?;
    let policy = policy_of(mailbox);
    let legacy = store.legacy_fingerprints_until().await?.is_some_and(|until| clock.now_ms() < until);

    // Five stages run at once, connected by channels: the fetcher (owns the server session), the
    // parser (parse, fingerprint, verify, decide on the blocking pool), the file writer (raw mails
    // into the blob directory, if one is set), the flusher (makes them durable: it waits for the
    // disk while the writer writes the next batch; no commit sees a batch before its flush) and
    // the committer.
    // The committer runs the steps that read what earlier batches stored (cut-off ledger rows,
    // the storm count) right before its own commit, so they see every earlier batch. It hands the
    // committed keys back to the fetcher, which disposes of them in groups between two fetches:
    // nothing leaves the server before its commit. A semaphore bounds the batches in flight (memory).
    let (parse_tx, parse_rx) = tokio::sync::mpsc::channel(1);
    let (files_tx, files_rx) = tokio::sync::mpsc::channel(1);
    let (flush_tx, flush_rx) = tokio::sync::mpsc::channel(IN_FLIGHT);
    let (commit_tx, commit_rx) = tokio::sync::mpsc::channel(1);
    let (done_tx, done_rx) = tokio::sync::mpsc::unbounded_channel();
    let permits = std::sync::Arc::new(tokio::sync::Semaphore::new(IN_FLIGHT));
    let (words_tx, words_rx) = tokio::sync::mpsc::unbounded_channel();
    let (fetched, (), written, flushed, committed, ()) = tokio::join!(
        fetch_stage(&mut session, batches, permits, parse_tx, done_rx),
        parse_stage(
            mailbox,
            parse_rx,
            files_tx,
            Deciding { employees: &employees, routes: &routes, policy: &policy, dns: &dns, legacy }
        ),
        file_stage(store, files_rx, flush_tx, mode),
        flush_stage(store, flush_rx, commit_tx),
        commit_stage(PassCtx { store, mailbox, clock, mode }, &dns, commit_rx, done_tx, words_tx, &mut report),
        words_stage(store, words_rx),
    );
    // A commit error is the cause when both failed (the fetcher stops when the committer does).
    committed?;
    flushed?;
    written?;
    to_dispose.extend(fetched?);
    if dry {
        // Nothing was stored, so nothing may be disposed of; POP3 must not QUIT (it would delete).
        return Ok(report);
    }
    let sync_state = session.sync_state();
    if matches!(session, Session::Imap(_)) {
        // IMAP disposes at once (MOVE / EXPUNGE): the connection can stay for the next pass.
        *conn = Some(session);
    } else {
        // POP3 deletes at QUIT, so the ledger learns of the disposal only after a clean close;
        // a Graph session holds its access token, which the next pass renews.
        session.close().await?;
    }
    store.mark_disposed(mailbox.id, &to_dispose, clock.now_ms()).await?;
    // Only now: a pass that failed before here is repeated from the old state (nothing skipped).
    if let Some(state) = sync_state {
        store.save_source_state(mailbox.id, &state, clock.now_ms()).await?;
    }
    report.disposed = to_dispose.len();
    report.orphaned_pools = store.sweep_orphan_pools(clock.now_ms()).await?.len();
    // Words of entries that left the index (moved, deleted by hand or by another instance) out of
    // PostgreSQL's list of its words; one read when there are none.
    store.sweep_search_words().await?;
    Ok(report)
}

/// The session to work on and what it lists: `kept` (a connection from the last pass) if it still
/// answers, else a new connection. A kept connection the server closed meanwhile (its idle
/// timeout, a restart) is an ordinary event, not an error of the mailbox.
async fn list_on(cfg: &SourceConfig, kept: Option<Session>) -> Result<(Session, Vec<Envelope>), SourceError> {
    if let Some(mut session) = kept {
        match session.list().await {
            Ok(envelopes) => return Ok((session, envelopes)),
            Err(e) if e.is_transient() => tracing::debug!(error = %e, "the kept connection is gone; connecting anew"),
            Err(e) => return Err(e),
        }
    }
    let mut session = Session::connect(cfg).await?;
    tracing::debug!(target: "arrival", "pass: connected");
    let envelopes = session.list().await?;
    Ok((session, envelopes))
}

type Permit = tokio::sync::OwnedSemaphorePermit;

/// Committed keys are disposed of on the server in groups of at least this many (and the rest at
/// the end of the pass). Each EXPUNGE costs the server work in proportion to the whole mailbox
/// (Dovecot rescans its Maildir and rewrites its uid list): one per batch of 100 took Dovecot
/// 4.7 s of CPU over a 10,000-mail import, one per 1,000 mails 2.1 s, and the import ran 10 %
/// faster. A mail that arrives on its own is still disposed of right after its commit, at the end
/// of its pass; one left by a crash is disposed of by the next pass (it is in the ledger).
/// A pass over a large mailbox groups more: [`dispose_group`].
const DISPOSE_EVERY: usize = 1000;

/// How many committed keys the fetcher gathers before it disposes of them, for a pass that fetches
/// `fetching` mails: at least [`DISPOSE_EVERY`], and at most [`DISPOSE_ROUNDS`] disposals in the
/// pass. Each EXPUNGE costs the server in proportion to the mailbox and the fetcher waits for it
/// between two fetches, so a fixed group made the disposals of an import grow with the square of
/// its size (100 of them for 100,000 mails, each over a mailbox of up to 100,000).
fn dispose_group(fetching: usize) -> usize {
    DISPOSE_EVERY.max(fetching.div_ceil(DISPOSE_ROUNDS))
}

/// See [`dispose_group`].
const DISPOSE_ROUNDS: usize = 8;

/// Fetches batch after batch and disposes of what the committer reports as committed, in groups of
/// [`dispose_group`] between two fetches and the rest at the end. Returns the keys it disposed of.
/// Stops early (without error) when the stages after it have stopped; on an error, what was
/// committed but not yet disposed of stays on the server for the next pass (the ledger knows it).
async fn fetch_stage(
    session: &mut Session,
    batches: Vec<&[String]>,
    permits: std::sync::Arc<tokio::sync::Semaphore>,
    parse_tx: tokio::sync::mpsc::Sender<(Vec<Fetched>, Permit)>,
    mut done_rx: tokio::sync::mpsc::UnboundedReceiver<Vec<String>>,
) -> Result<Vec<String>, ImportError> {
    let mut disposed = Vec::new();
    let mut pending = Vec::new();
    let group = dispose_group(batches.iter().map(|b| b.len()).sum());
    for chunk in batches {
        let waited = Instant::now();
        let permit = tokio::select! {
            p = permits.clone().acquire_owned() => p.expect("the semaphore is never closed"),
            _ = parse_tx.closed() => break,
        };
        while let Ok(keys) = done_rx.try_recv() {
            pending.extend(keys);
        }
        dispose_pending(session, &mut pending, &mut disposed, group).await?;
        let started = Instant::now();
        let fetched = session.fetch(chunk).await?;
        tracing::debug!(target: "arrival", mails = fetched.len(), "pass: fetched");
        tracing::debug!(
            mails = fetched.len(),
            waited_ms = (started - waited).as_millis() as u64,
            ms = started.elapsed().as_millis() as u64,
            "stage fetch (with the disposal before it)"
        );
        if parse_tx.send((fetched, permit)).await.is_err() {
            break;
        }
    }
    drop(parse_tx);
    // The rest of the commits: the committer closes the channel when it is done.
    while let Some(keys) = done_rx.recv().await {
        pending.extend(keys);
        dispose_pending(session, &mut pending, &mut disposed, group).await?;
    }
    dispose_pending(session, &mut pending, &mut disposed, 1).await?;
    Ok(disposed)
}

/// Disposes of the pending keys on the server once at least `at_least` have gathered, and moves
/// them to `disposed`.
async fn dispose_pending(
    session: &mut Session,
    pending: &mut Vec<String>,
    disposed: &mut Vec<String>,
    at_least: usize,
) -> Result<(), ImportError> {
    if !pending.is_empty() && pending.len() >= at_least {
        session.dispose(pending).await?;
        disposed.append(pending);
    }
    Ok(())
}

/// What the parser hands to the committer: the items, and those dated before the cut-off.
struct Parsed {
    prepared: Prepared,
    before_cutoff: Vec<(String, String)>,
}

/// What the parser decides with, for one pass.
struct Deciding<'a> {
    employees: &'a [Employee],
    routes: &'a [SenderRoute],
    policy: &'a Policy,
    dns: &'a DnsPass,
    /// Make the fingerprints as stored before BLAKE3 too (`Store::legacy_fingerprints_until`).
    legacy: bool,
}

/// Parses each fetched batch.
async fn parse_stage(
    mailbox: &MailboxRecord,
    mut parse_rx: tokio::sync::mpsc::Receiver<(Vec<Fetched>, Permit)>,
    files_tx: tokio::sync::mpsc::Sender<(Parsed, Permit)>,
    d: Deciding<'_>,
) {
    while let Some((fetched, permit)) = parse_rx.recv().await {
        let started = Instant::now();
        let mut prepared = prepare(fetched, d.employees, d.routes, d.policy, d.dns, d.legacy).await;
        let before_cutoff = split_off_before_cutoff(mailbox, &mut prepared.items);
        tracing::debug!(ms = started.elapsed().as_millis() as u64, "stage parse");
        if files_tx.send((Parsed { prepared, before_cutoff }, permit)).await.is_err() {
            break;
        }
    }
}

/// With a blob directory, writes each batch's raw mails there (not yet durable) and hands the
/// batch to the flush stage; without one, passes it on.
async fn file_stage(
    store: &Store,
    mut files_rx: tokio::sync::mpsc::Receiver<(Parsed, Permit)>,
    flush_tx: tokio::sync::mpsc::Sender<(Parsed, WrittenAhead, Permit)>,
    mode: Mode,
) -> Result<(), ImportError> {
    while let Some((mut parsed, permit)) = files_rx.recv().await {
        let started = Instant::now();
        let items = std::mem::take(&mut parsed.prepared.items);
        let written = match mode {
            Mode::Import => store.prepare_commit(items).await?,
            Mode::DryRun => WrittenAhead::nothing_written(items),
        };
        tracing::debug!(ms = started.elapsed().as_millis() as u64, "stage files");
        if flush_tx.send((parsed, written, permit)).await.is_err() {
            break;
        }
    }
    Ok(())
}

/// Makes the written batches durable (`Store::make_durable`: one flush of the blob directory's
/// file system) and hands them on to the committer, in order. It waits on the disk while the
/// file writer writes the next batch; batches that were written meanwhile share the next flush.
async fn flush_stage(
    store: &Store,
    mut flush_rx: tokio::sync::mpsc::Receiver<(Parsed, WrittenAhead, Permit)>,
    commit_tx: tokio::sync::mpsc::Sender<(Parsed, Permit)>,
) -> Result<(), ImportError> {
    while let Some(first) = flush_rx.recv().await {
        let mut group = vec![first];
        while let Ok(next) = flush_rx.try_recv() {
            group.push(next);
        }
        let (batches, written): (Vec<(Parsed, Permit)>, Vec<WrittenAhead>) =
            group.into_iter().map(|(parsed, written, permit)| ((parsed, permit), written)).unzip();
        let started = Instant::now();
        let durable = store.make_durable(written).await?;
        tracing::debug!(ms = started.elapsed().as_millis() as u64, batches = batches.len(), "stage flush");
        tracing::debug!(target: "arrival", "pass: raw mails durable");
        for ((mut parsed, permit), items) in batches.into_iter().zip(durable) {
            parsed.prepared.items = items;
            if commit_tx.send((parsed, permit)).await.is_err() {
                return Ok(());
            }
        }
    }
    Ok(())
}

/// What every stage of one pass shares.
struct PassCtx<'a> {
    store: &'a Store,
    mailbox: &'a MailboxRecord,
    clock: &'a Clock,
    mode: Mode,
}

async fn commit_stage(
    pass: PassCtx<'_>,
    dns: &DnsPass,
    mut commit_rx: tokio::sync::mpsc::Receiver<(Parsed, Permit)>,
    done_tx: tokio::sync::mpsc::UnboundedSender<Vec<String>>,
    words_tx: tokio::sync::mpsc::UnboundedSender<usize>,
    report: &mut RunReport,
) -> Result<(), ImportError> {
    let PassCtx { store, mailbox, clock, mode } = pass;
    while let Some((Parsed { prepared: Prepared { mut items, deferred, untried }, before_cutoff }, permit)) =
        commit_rx.recv().await
    {
        let started = Instant::now();
        report.deferred += deferred.len() + untried.len();
        if mode == Mode::DryRun {
            // The same decisions, cut-off and storm limit (it only reads), reported instead of stored.
            report.left_before_cutoff += before_cutoff.len();
            hold_storms(store, mailbox, &mut items, clock.now_ms()).await?;
            report.decided.extend(items.into_iter().map(|i| i.decision));
            drop(permit);
            continue;
        }
        store.save_dns_retries(mailbox.id, &deferred).await?;
        if !before_cutoff.is_empty() {
            report.left_before_cutoff += before_cutoff.len();
            store.record_ignored(mailbox.id, &before_cutoff, clock.now_ms()).await?;
        }
        hold_storms(store, mailbox, &mut items, clock.now_ms()).await?;
        let done_keys: Vec<String> = items.iter().map(|i| i.source_key.clone()).collect();
        let imported = commit(store, mailbox.id, items, clock).await?;
        tracing::debug!(target: "arrival", "pass: committed");
        drop(permit);
        // The batch's words go into the search's list beside the next commits; its new index
        // entries are its new Vorgänge (a duplicate or a kept mail has none).
        let entries = imported.iter().filter(|i| matches!(i.outcome, ImportOutcome::Case { .. })).count();
        report.imported.extend(imported);
        let _ = words_tx.send(entries);
        // Stored at last: these mails wait for DNS no more (rows of mails gone otherwise go too).
        let stored: Vec<String> = done_keys.iter().filter(|k| dns.waiting.contains_key(*k)).cloned().collect();
        if !stored.is_empty() {
            let stale_before = clock.now_ms() - dns.give_up_ms.saturating_mul(2).max(7 * 86_400_000);
            store.forget_dns_retries(mailbox.id, &stored, stale_before).await?;
        }
        tracing::debug!(ms = started.elapsed().as_millis() as u64, "stage commit");
        // Committed: now, and only now, the server copies may go.
        if done_tx.send(done_keys).is_err() {
            break;
        }
    }
    Ok(())
}

/// PostgreSQL: the search index's upkeep beside the commits, off their path: moves the words of
/// the new entries from their queue into the list (`Store::drain_search_words`) after each commit
/// it is told of, and merges GIN's list of pending entries into the index
/// (`Store::merge_search_pending`) after every [`MERGE_EVERY`] new entries and before the pass
/// ends. It ends when the committer has ended and its last commit is drained. A failed step
/// leaves its work — the search finds the entries all the same — for the next one.
async fn words_stage(store: &Store, mut committed: tokio::sync::mpsc::UnboundedReceiver<usize>) {
    let mut unmerged = 0;
    while let Some(entries) = committed.recv().await {
        unmerged += entries;
        while let Ok(entries) = committed.try_recv() {
            unmerged += entries;
        }
        if let Err(e) = store.drain_search_words().await {
            tracing::warn!(error = %e, "the search index's new words stay queued for the next drain");
        }
        if unmerged >= MERGE_EVERY {
            merge_pending(store).await;
            unmerged = 0;
        }
    }
    if unmerged > 0 {
        merge_pending(store).await;
    }
}

/// New index entries after which the importer merges GIN's pending list (≈ 4 MB of it, the
/// size at which PostgreSQL would merge it inside an insert; migration 0038 lets it grow larger
/// there, so the commits never do).
const MERGE_EVERY: usize = 1000;

async fn merge_pending(store: &Store) {
    if let Err(e) = store.merge_search_pending().await {
        tracing::warn!(error = %e, "the search index's pending entries stay for the next merge");
    }
}

#[cfg(test)]
mod tests {
    use super::{BATCH_BYTES, batches};

    #[test]
    fn batches_are_cut_by_count_and_by_bytes_and_a_big_mail_goes_alone() {
        let keys: Vec<String> = (0..7).map(|i| i.to_string()).collect();
        let small = |_: &str| 1_000;
        let lens: Vec<usize> = batches(&keys, small, 3).iter().map(|b| b.len()).collect();
        assert_eq!(lens, [3, 3, 1]);
        let big = |k: &str| if k == "2" { BATCH_BYTES * 2 } else { BATCH_BYTES / 3 };
        let lens: Vec<usize> = batches(&keys, big, 100).iter().map(|b| b.len()).collect();
        assert_eq!(lens, [2, 1, 3, 1]);
        assert!(batches(&[], small, 3).is_empty());
    }
}
