//! The import ledger and the batch commit: the one place where a fetched mail becomes durable.
//!
//! **Invariant:** one transaction writes, per message, the ledger row (unique per mailbox and
//! source key), the raw bytes, and either the Vorgang or the kept entry. A message already in the
//! ledger is skipped; a message whose fingerprint is already known (same bytes and Message-ID,
//! e.g. after a UIDVALIDITY change) is recorded as a duplicate of the first and creates nothing.

use std::collections::{HashMap, HashSet};

use postkorb_core::ack::AckFacts;
use postkorb_core::{Decision, KeepReason};
use postkorb_mail::InboundMail;
use sqlx::{Any, Row, Transaction};

use crate::blobs::BlobDir;
use crate::case_plan::{self, ItemPlan, PlanItem};
use crate::case_write::{self, CaseChange, NewCase};
use crate::events::Via;
use crate::rows::{V, ids_by, insert_rows};
use crate::seal::MailKey;
use crate::{Backend, Result, Store, StoreError, blocking};

pub struct ImportItem {
    pub source_key: String,
    /// The raw mail (from IMAP: the response's own buffer, not a copy).
    pub raw: bytes::Bytes,
    pub mail: InboundMail,
    pub fingerprint: String,
    pub decision: Decision,
    /// BLAKE3 (hex) of `raw` alone, computed in the fingerprint's pass
    /// ([`postkorb_mail::digests`]): what the name of the mail sealed is made from
    /// (`MailKey::name_of_digest`). A wrong value makes the mail unreadable (reads check it),
    /// never other bytes.
    pub raw_digest: String,
    /// The fingerprint as stored before BLAKE3 ([`postkorb_mail::legacy_fingerprint`]), while
    /// the ledger may hold such fingerprints ([`Store::legacy_fingerprints_until`]): a mail
    /// stored before the upgrade and delivered again is still a duplicate. `None`: not compared.
    pub legacy_fingerprint: Option<String>,
    /// Set by [`Store::prepare_commit`]: the file is durable in the blob directory already (its
    /// name, and whether it was written sealed), and the commit only references it; or, without
    /// a blob directory, the sealed bytes the commit stores. `None`:
    /// the commit stores the raw bytes itself (sealing them while the store seals).
    pub raw_file: Option<RawFile>,
    /// What the Eingangsbestätigung needs (verified sender, Message-ID, automatic class), made by
    /// the importer: in the `created` event's payload of a Vorgang, on the row of a kept mail.
    pub ack: AckFacts,
    /// The search entry, made with the parse (`IndexTerms::of_mail`) so the commit only writes
    /// it; `None`: the commit makes it.
    pub search_terms: Option<crate::search::IndexTerms>,
}

/// A raw mail's stored form, made ahead of its commit: its file in the blob directory, or —
/// without one — its sealed bytes, which the commit stores in the database.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct RawFile {
    /// Sealed: the sealed value's name (`MailKey::name_of_digest`); plain: the SHA-256 of the
    /// bytes (blob files are named by it, `blobs.rs`).
    pub name: String,
    pub sealed: bool,
    /// Without a blob directory: the sealed bytes (`Store::prepare_commit`). `None`: a file.
    pub bytes: Option<Vec<u8>>,
}

#[derive(Clone, Debug, PartialEq, Eq)]
pub enum ImportOutcome {
    /// A Vorgang was created: assigned, or waiting for a pool of candidates.
    Case { case_id: i64, decision: Decision },
    /// Kept for the admin with this reason.
    Kept { kept_id: i64, reason: KeepReason },
    /// The same message was imported before (ledger id of the first).
    Duplicate { of_ledger: i64 },
    /// This source key is in the ledger already (another run or instance took it).
    AlreadyKnown,
}

/// The facts worth recording: none when nothing is known (no sender, no subject, no Message-ID —
/// such a mail is never acknowledged anyway).
fn recorded(ack: &AckFacts) -> Option<&AckFacts> {
    Some(ack).filter(|a| **a != AckFacts::default())
}

/// PostgreSQL text cannot hold NUL; a mail can. Strip it (the raw bytes keep everything).
pub(crate) fn clean(s: &str) -> String {
    if s.contains('\0') { s.replace('\0', "") } else { s.to_string() }
}

impl Store {
    /// Which of these keys the ledger knows, and whether their server copy was disposed of already.
    pub async fn known_keys(&self, mailbox_id: i64, keys: &[String]) -> Result<HashMap<String, bool>> {
        let keys: Vec<&str> = keys.iter().map(String::as_str).collect();
        let mut conn = self.pool.acquire().await?;
        let rows =
            ledger_lookup(&mut conn, self.backend, "source_key, disposed_ms", "source_key", "", mailbox_id, &keys);
        let mut known = HashMap::new();
        for row in rows.await? {
            let disposed: Option<i64> = row.try_get(1)?;
            known.insert(row.try_get(0)?, disposed.is_some());
        }
        Ok(known)
    }

    /// Records messages left on the server on purpose (dated before the onboarding cut-off): they
    /// are in the ledger so they are not fetched again, and never disposed of.
    pub async fn record_ignored(&self, mailbox_id: i64, keys: &[(String, String)], now_ms: i64) -> Result<()> {
        let mut tx = self.begin_write().await?;
        for (key, fingerprint) in keys {
            sqlx::query(
                "INSERT INTO ledger (mailbox_id, source_key, fingerprint, outcome, imported_ms)
                 VALUES ($1, $2, $3, 'ignored', $4) ON CONFLICT (mailbox_id, source_key) DO NOTHING",
            )
            .bind(mailbox_id)
            .bind(key)
            .bind(fingerprint)
            .bind(now_ms)
            .execute(&mut *tx)
            .await?;
        }
        tx.commit().await?;
        Ok(())
    }

    /// Until when the import compares a mail's fingerprint as stored before BLAKE3 too
    /// ([`ImportItem::legacy_fingerprint`], migration 0037): 30 days after the upgrade of an
    /// installation that had stored mails; `None` for a new one. A mail stored before and
    /// delivered again later is a new Vorgang (nothing is lost; it is not recognised as a
    /// duplicate).
    pub async fn legacy_fingerprints_until(&self) -> Result<Option<i64>> {
        Ok(sqlx::query_scalar("SELECT MAX(until_ms) FROM fingerprint_legacy").fetch_one(&self.pool).await?)
    }

    /// The retention run's step for mails left on the server (issue 18, class
    /// `RetentionClass::KeptOpen`, counted from when the row was recorded): their ledger rows
    /// recorded before `cutoff` forget the fingerprint and keep only the key, as a deleted mail's
    /// row does — the key (a server's UID, no personal data) must stay, or the mail would be
    /// fetched again; the outcome stays `ignored`, so it is never disposed of. Returns how many.
    pub(crate) async fn forget_ignored(&self, cutoff: i64, batch: i64) -> Result<u64> {
        const DUE: &str = "outcome = 'ignored' AND imported_ms < $1 AND (fingerprint <> '' OR message_id IS NOT NULL)";
        let mut total = 0;
        loop {
            // Found outside the write transaction (a read, no index: once a day), changed by id.
            let sql = format!("SELECT id FROM ledger WHERE {DUE} ORDER BY id LIMIT $2");
            let rows = sqlx::query(sqlx::AssertSqlSafe(sql)).bind(cutoff).bind(batch).fetch_all(&self.pool).await?;
            let ids = rows.iter().map(|r| r.try_get::<i64, _>(0)).collect::<std::result::Result<Vec<_>, _>>()?;
            if ids.is_empty() {
                return Ok(total);
            }
            let list = ids.iter().map(i64::to_string).collect::<Vec<_>>().join(", ");
            let sql = format!("UPDATE ledger SET fingerprint = '', message_id = NULL WHERE id IN ({list}) AND {DUE}");
            let mut tx = self.begin_write().await?;
            total += sqlx::query(sqlx::AssertSqlSafe(sql)).bind(cutoff).execute(&mut *tx).await?.rows_affected();
            tx.commit().await?;
            if (ids.len() as i64) < batch {
                return Ok(total);
            }
        }
    }

    /// Keys left on the server on purpose (see [`Store::record_ignored`]).
    pub async fn ignored_keys(&self, mailbox_id: i64) -> Result<std::collections::HashSet<String>> {
        let rows = sqlx::query("SELECT source_key FROM ledger WHERE mailbox_id = $1 AND outcome = 'ignored'")
            .bind(mailbox_id)
            .fetch_all(&self.pool)
            .await?;
        rows.iter().map(|r| Ok(r.try_get(0)?)).collect()
    }

    /// Ledger keys of this mailbox whose server copy is not yet disposed of (retried every run).
    pub async fn undisposed_keys(&self, mailbox_id: i64) -> Result<Vec<String>> {
        let rows =
            sqlx::query("SELECT source_key FROM ledger WHERE mailbox_id = $1 AND disposed_ms IS NULL ORDER BY id")
                .bind(mailbox_id)
                .fetch_all(&self.pool)
                .await?;
        rows.iter().map(|r| Ok(r.try_get(0)?)).collect()
    }

    pub async fn mark_disposed(&self, mailbox_id: i64, keys: &[String], now_ms: i64) -> Result<()> {
        let mut tx = self.begin_write().await?;
        for chunk in keys.chunks(500) {
            let b = self.backend;
            let sql = format!(
                "UPDATE ledger SET disposed_ms = {} WHERE mailbox_id = {} AND source_key IN ({})",
                b.placeholders(1, 1),
                b.placeholders(2, 1),
                b.placeholders(3, chunk.len())
            );
            let mut q = sqlx::query(sqlx::AssertSqlSafe(sql)).bind(now_ms).bind(mailbox_id);
            for k in chunk {
                q = q.bind(k);
            }
            q.execute(&mut *tx).await?;
        }
        tx.commit().await?;
        Ok(())
    }

    /// What the importer makes ready of a batch before its commit, beside the previous batch's
    /// commit (the import's one serial step), in one trip to the blocking pool: with a blob
    /// directory the raw mails' files, written there (each under its name, see [`RawFile`]) but
    /// not yet durable — [`Store::make_durable`] flushes them, and only then are they the items'
    /// `raw_file`; without one, kept in the database and sealed, their sealed bytes
    /// (`RawFile::bytes`); and the search entries' sealed text and PostgreSQL words
    /// (`IndexTerms::make_ready`).
    pub async fn prepare_commit(&self, items: Vec<ImportItem>) -> Result<WrittenAhead> {
        let key = self.sealing_in(&self.pool).await?;
        let (backend, dir) = (self.backend, self.blobs.clone());
        blocking("preparing the batch", move || {
            let mut items = items;
            let mut unflushed = Vec::new();
            match &dir {
                Some(dir) => unflushed = write_blobs(dir, key.as_ref(), &items)?,
                None => {
                    if let Some(k) = key.as_ref() {
                        for item in items.iter_mut().filter(|i| i.raw_file.is_none()) {
                            let name = k.name_of_digest(&item.raw_digest);
                            let bytes = k.seal(&item.raw, &name)?;
                            item.raw_file = Some(RawFile { name, sealed: true, bytes: Some(bytes) });
                        }
                    }
                }
            }
            for terms in items.iter_mut().filter_map(|i| i.search_terms.as_mut()) {
                terms.make_ready(backend, key.as_ref())?;
            }
            Ok(WrittenAhead { items, unflushed })
        })
        .await
    }

    /// Makes the files of these batches durable with one flush of the blob directory's file
    /// system (none when no batch wrote any) and returns each batch's items, each with its
    /// `raw_file` set: what a commit may reference. One flush for several batches when the
    /// writer got ahead of the flushes (the importer's flush stage waits on the disk while the
    /// next batch is written).
    pub async fn make_durable(&self, batches: Vec<WrittenAhead>) -> Result<Vec<Vec<ImportItem>>> {
        if let Some(dir) = self.blobs.clone().filter(|_| batches.iter().any(|b| !b.unflushed.is_empty())) {
            blocking("flushing the blob directory", move || dir.flush()).await?;
        }
        Ok(batches
            .into_iter()
            .map(|b| {
                let mut items = b.items;
                for (item, file) in items.iter_mut().zip(b.unflushed) {
                    item.raw_file = Some(file);
                }
                items
            })
            .collect())
    }

    /// Stores a batch in one transaction. Returns one outcome per item, in order.
    ///
    /// A handful of multi-row statements per batch, not ≈ 10 statements per mail: which keys the
    /// ledger knows and which fingerprints it has seen are read once; the plan
    /// (`case_plan::plan`) says what becomes of each mail; then the raw mails, the Vorgänge with
    /// their candidates, attachments and events (`case_write::apply`), the kept entries, and last
    /// the ledger rows are each inserted with one statement (per chunk of rows). The ledger insert
    /// keeps its `ON CONFLICT DO NOTHING`: should another importer have taken a key meanwhile (the
    /// mailbox lease prevents that), the batch is rolled back rather than importing a mail twice.
    pub async fn commit_batch(&self, mailbox_id: i64, items: &[ImportItem], now_ms: i64) -> Result<Vec<ImportOutcome>> {
        let mut tx = self.begin_write().await?;
        // Sealed now: what this commit writes itself, while the setting is on. The store's key also
        // seals the search text of a raw mail written ahead sealed (the setting may have changed since).
        let seal_now = self.sealing_in(&mut *tx).await?.is_some();
        let keys = Keys { store: self.mail_key(), seal_now };
        let outcomes =
            commit_items(&mut tx, self.backend, self.blobs.as_ref(), keys, mailbox_id, items, now_ms).await?;
        tx.commit().await?;
        self.checkpoint_soon();
        Ok(outcomes)
    }
}

/// A batch whose raw mails [`Store::prepare_commit`] wrote into the blob directory, not yet
/// durable: its items get their `raw_file` only from [`Store::make_durable`], so nothing can
/// commit a reference to a file a crash could still lose.
pub struct WrittenAhead {
    items: Vec<ImportItem>,
    /// One per item when the batch wrote files (in order), else empty.
    unflushed: Vec<RawFile>,
}

impl WrittenAhead {
    /// A batch of which nothing was written ahead (the dry run): [`Store::make_durable`] hands
    /// its items back as they are, and a commit would write their raw mails itself.
    pub fn nothing_written(items: Vec<ImportItem>) -> WrittenAhead {
        WrittenAhead { items, unflushed: Vec::new() }
    }
}

/// Writes the batch's raw mails into the blob directory — sealed with `key` when given — and
/// returns each one's file, in order; not yet durable ([`BlobDir::flush`]). Blocking.
fn write_blobs(dir: &BlobDir, key: Option<&MailKey>, items: &[ImportItem]) -> Result<Vec<RawFile>> {
    // One mail at a time: named, sealed into one reused buffer and written (no sealed copy of the
    // whole batch held, no allocation per mail).
    let mut buf = Vec::new();
    let mut files = Vec::with_capacity(items.len());
    for item in items {
        files.push(match key {
            Some(k) => {
                let name = k.name_of_digest(&item.raw_digest);
                k.seal_into(&item.raw, &name, &mut buf)?;
                dir.write_blocking(&name, &buf)?;
                RawFile { name, sealed: true, bytes: None }
            }
            None => {
                let name = crate::blobs::hash_hex(&item.raw);
                dir.write_blocking(&name, &item.raw)?;
                RawFile { name, sealed: false, bytes: None }
            }
        });
    }
    Ok(files)
}

/// `SELECT {select} FROM ledger WHERE mailbox_id = $1 AND {column} IN (…) {tail}` in chunks.
async fn ledger_lookup(
    conn: &mut sqlx::AnyConnection,
    backend: Backend,
    select: &str,
    column: &str,
    tail: &str,
    mailbox_id: i64,
    values: &[&str],
) -> Result<Vec<sqlx::any::AnyRow>> {
    let mut out = Vec::new();
    for chunk in values.chunks(500) {
        let sql = format!(
            "SELECT {select} FROM ledger WHERE mailbox_id = {} AND {column} IN ({}) {tail}",
            backend.placeholders(1, 1),
            backend.placeholders(2, chunk.len())
        );
        let mut q = sqlx::query(sqlx::AssertSqlSafe(sql)).persistent(false).bind(mailbox_id);
        for v in chunk {
            q = q.bind(*v);
        }
        out.extend(q.fetch_all(&mut *conn).await?);
    }
    Ok(out)
}

/// The store's key for mail at rest, and whether this commit seals what it writes itself.
#[derive(Clone, Copy)]
struct Keys<'a> {
    store: Option<&'a MailKey>,
    seal_now: bool,
}

async fn commit_items(
    tx: &mut Transaction<'_, Any>,
    backend: Backend,
    blobs: Option<&BlobDir>,
    keys: Keys<'_>,
    mailbox_id: i64,
    items: &[ImportItem],
    now: i64,
) -> Result<Vec<ImportOutcome>> {
    let seal = keys.store.filter(|_| keys.seal_now);
    let missing = |what: &str, n: usize| {
        StoreError::Invalid(format!("the {what} of {} was not returned by its insert", items[n].source_key))
    };

    // 1. What the ledger knows, and the plan: what becomes of each mail.
    let (known, earlier) = ledger_knows(tx, backend, mailbox_id, items).await?;
    let plan_items: Vec<PlanItem<'_>> = items
        .iter()
        .map(|i| PlanItem {
            key: &i.source_key,
            fingerprint: &i.fingerprint,
            keep: matches!(i.decision, Decision::Keep(_)),
        })
        .collect();
    let plan = case_plan::plan(&plan_items, &known, &earlier);

    // 2. The raw mails.
    let (raw_by_print, sealed_raw) = insert_raw(tx, backend, blobs, seal, items, &plan.new).await?;
    let raw_id = |n: usize| raw_by_print.get(&items[n].fingerprint).copied().ok_or_else(|| missing("raw mail", n));

    // 3. The Vorgänge (with candidates, attachments and events) and the kept entries.
    let new_cases = plan
        .cases
        .iter()
        .map(|n| {
            let item = &items[*n];
            Ok(NewCase {
                mailbox_id: Some(mailbox_id),
                raw_id: raw_id(*n)?,
                mail: &item.mail,
                decision: &item.decision,
                via: Via::Import(recorded(&item.ack)),
                seal: keys.store.filter(|_| sealed_raw.contains(&item.fingerprint)),
                terms: item.search_terms.as_ref(),
            })
        })
        .collect::<Result<Vec<_>>>()?;
    let case_ids = case_write::apply(tx, backend, now, CaseChange::Create(new_cases)).await?;
    let case_of: HashMap<usize, i64> = plan.cases.iter().copied().zip(case_ids).collect();
    let mut kept_rows = Vec::with_capacity(plan.kept.len());
    for n in &plan.kept {
        let item = &items[*n];
        let Decision::Keep(reason) = &item.decision else { return Err(missing("kept reason", *n)) };
        let from = match &item.mail.sender {
            Ok(a) => Some(a.to_string()),
            Err(_) => item.mail.display_name.clone(),
        };
        kept_rows.push(vec![
            V::Int(Some(mailbox_id)),
            V::Int(Some(raw_id(*n)?)),
            V::Str(Some(reason.code())),
            V::Owned(Some(crate::kept::stored_reason(reason))),
            V::Owned(from.as_deref().map(clean)),
            V::Owned(Some(clean(&item.mail.subject))),
            V::Int(Some(now)),
            V::Int(Some(now)),
            V::Owned(recorded(&item.ack).and_then(|a| serde_json::to_string(a).ok()).map(|j| clean(&j))),
        ]);
    }
    if !kept_rows.is_empty() {
        // Kept ids in commit order, like event ids (the outbox reads both by id; `outbox.rs`).
        case_write::lock_log(tx, backend).await?;
    }
    let returned = insert_rows(
        tx,
        backend,
        "kept (mailbox_id, raw_id, reason_code, reason_detail, from_addr, subject, received_ms, kept_ms, ack_facts)",
        "RETURNING id, raw_id",
        kept_rows,
    )
    .await?;
    let kept_by_raw: HashMap<i64, i64> = ids_by(&returned)?;
    let mut kept_of: HashMap<usize, i64> = HashMap::new();
    for n in &plan.kept {
        kept_of.insert(*n, *kept_by_raw.get(&raw_id(*n)?).ok_or_else(|| missing("kept entry", *n))?);
    }

    // 4. The ledger rows, in item order, each with its outcome.
    let mut ledger_rows = Vec::new();
    for (n, item) in items.iter().enumerate() {
        let Some(outcome) = plan.items[n].ledger_outcome() else { continue };
        let (case_id, kept_id, duplicate_of) = match plan.items[n] {
            ItemPlan::DuplicateOf(of) => (None, None, Some(of)),
            ItemPlan::Case => (Some(*case_of.get(&n).ok_or_else(|| missing("Vorgang", n))?), None, None),
            ItemPlan::Kept => (None, Some(kept_of[&n]), None),
            // A duplicate in the batch: set below, once the first one's ledger row has its id.
            ItemPlan::DuplicateInBatch(_) | ItemPlan::Known => (None, None, None),
        };
        ledger_rows.push(vec![
            V::Int(Some(mailbox_id)),
            V::Str(Some(&item.source_key)),
            V::Str(Some(&item.fingerprint)),
            V::Owned(item.mail.message_id.as_deref().map(clean)),
            V::Str(Some(outcome)),
            V::Int(case_id),
            V::Int(kept_id),
            V::Int(duplicate_of),
            V::Int(Some(now)),
        ]);
    }
    let expected = ledger_rows.len();
    let returned = insert_rows(
        tx,
        backend,
        "ledger (mailbox_id, source_key, fingerprint, message_id, outcome, case_id, kept_id, duplicate_of, imported_ms)",
        "ON CONFLICT (mailbox_id, source_key) DO NOTHING RETURNING id, source_key",
        ledger_rows,
    )
    .await?;
    if returned.len() != expected {
        // Another importer recorded some of these keys meanwhile: nothing of this batch is kept,
        // and the next pass skips what the other one took.
        return Err(StoreError::Invalid(format!(
            "{} of {expected} mails were recorded meanwhile by another import; the batch was rolled back",
            expected - returned.len()
        )));
    }
    let ledger_by_key: HashMap<String, i64> = ids_by(&returned)?;
    let ledger_id = |n: usize| ledger_by_key.get(&items[n].source_key).copied().ok_or_else(|| missing("ledger row", n));

    let mut outcomes = Vec::with_capacity(items.len());
    for (n, item) in items.iter().enumerate() {
        outcomes.push(match (plan.items[n], &item.decision) {
            (ItemPlan::Known, _) => ImportOutcome::AlreadyKnown,
            (ItemPlan::DuplicateOf(of), _) => ImportOutcome::Duplicate { of_ledger: of },
            (ItemPlan::DuplicateInBatch(first), _) => {
                let of = ledger_id(first)?;
                sqlx::query("UPDATE ledger SET duplicate_of = $1 WHERE id = $2")
                    .bind(of)
                    .bind(ledger_id(n)?)
                    .execute(&mut **tx)
                    .await?;
                ImportOutcome::Duplicate { of_ledger: of }
            }
            (ItemPlan::Case, decision) => ImportOutcome::Case { case_id: case_of[&n], decision: decision.clone() },
            (ItemPlan::Kept, Decision::Keep(reason)) => {
                ImportOutcome::Kept { kept_id: kept_of[&n], reason: reason.clone() }
            }
            (ItemPlan::Kept, _) => return Err(missing("kept reason", n)),
        });
    }
    Ok(outcomes)
}

/// The batch's keys the ledger knows, and the first ledger row of each of its fingerprints (a row
/// left on the server on purpose, `ignored`, counts: the mail is not imported under another key
/// either).
async fn ledger_knows(
    tx: &mut Transaction<'_, Any>,
    backend: Backend,
    mailbox_id: i64,
    items: &[ImportItem],
) -> Result<(HashSet<String>, HashMap<String, i64>)> {
    let keys: Vec<&str> = items.iter().map(|i| i.source_key.as_str()).collect();
    let mut known = HashSet::new();
    for row in ledger_lookup(&mut *tx, backend, "source_key", "source_key", "", mailbox_id, &keys).await? {
        known.insert(row.try_get::<String, _>(0)?);
    }
    // With each item's fingerprint as stored before BLAKE3, where given: a ledger row found by it
    // counts as one found by the item's fingerprint (the first of the two, if both are found).
    let mut prints: Vec<&str> = items
        .iter()
        .flat_map(|i| std::iter::once(i.fingerprint.as_str()).chain(i.legacy_fingerprint.as_deref()))
        .collect();
    prints.sort_unstable();
    prints.dedup();
    let mut by_print: HashMap<String, i64> = HashMap::new();
    let rows = ledger_lookup(
        &mut *tx,
        backend,
        "fingerprint, MIN(id)",
        "fingerprint",
        "AND outcome <> 'duplicate' GROUP BY fingerprint",
        mailbox_id,
        &prints,
    )
    .await?;
    for row in rows {
        by_print.insert(row.try_get(0)?, row.try_get(1)?);
    }
    let mut earlier: HashMap<String, i64> = HashMap::new();
    for item in items {
        let found = [Some(item.fingerprint.as_str()), item.legacy_fingerprint.as_deref()]
            .into_iter()
            .flatten()
            .filter_map(|p| by_print.get(p).copied())
            .min();
        if let Some(id) = found {
            earlier.insert(item.fingerprint.clone(), id);
        }
    }
    Ok((known, earlier))
}

/// Inserts the raw mails of the items `new` (whose fingerprints differ: a repeat is a duplicate)
/// and returns their ids by fingerprint, and the fingerprints of those stored sealed. With a blob
/// directory, files the importer did not write ahead (no `raw_file`) are written and made
/// durable now, before the commit references them. With `seal`, what is written now is sealed
/// (`seal.rs`); what was written ahead is as it was written.
async fn insert_raw(
    tx: &mut Transaction<'_, Any>,
    backend: Backend,
    blobs: Option<&BlobDir>,
    seal: Option<&MailKey>,
    items: &[ImportItem],
    new: &[usize],
) -> Result<(HashMap<String, i64>, HashSet<String>)> {
    let late: Vec<&ImportItem> = new.iter().map(|n| &items[*n]).filter(|i| i.raw_file.is_none()).collect();
    // Sealed here, for the late ones: (name, sealed bytes) by fingerprint.
    let mut sealed_now: HashMap<String, Sealed> = HashMap::new();
    if let Some(key) = seal.filter(|_| !late.is_empty()) {
        let (key, raws) = (
            key.clone(),
            late.iter().map(|i| (i.fingerprint.clone(), i.raw_digest.clone(), i.raw.clone())).collect::<Vec<_>>(),
        );
        sealed_now = blocking("sealing", move || {
            raws.into_iter()
                .map(|(print, digest, raw)| {
                    let name = key.name_of_digest(&digest);
                    let bytes = key.seal(&raw, &name)?;
                    Ok((print, (name, bytes)))
                })
                .collect::<Result<HashMap<_, _>>>()
        })
        .await?;
    }
    // The late ones' files, by fingerprint: sealed, named as sealed; plain, by their SHA-256.
    let mut files_now: HashMap<String, String> = HashMap::new();
    if let Some(dir) = blobs.filter(|_| !late.is_empty()) {
        let files: Vec<(String, Option<String>, bytes::Bytes)> = late
            .iter()
            .map(|i| match sealed_now.get(&i.fingerprint) {
                Some((name, bytes)) => {
                    (i.fingerprint.clone(), Some(name.clone()), bytes::Bytes::copy_from_slice(bytes))
                }
                None => (i.fingerprint.clone(), None, i.raw.clone()),
            })
            .collect();
        let dir = dir.clone();
        files_now = blocking("blob writer", move || {
            let named: Vec<(String, String, bytes::Bytes)> = files
                .into_iter()
                .map(|(print, name, bytes)| {
                    let name = name.unwrap_or_else(|| crate::blobs::hash_hex(&bytes));
                    (print, name, bytes)
                })
                .collect();
            let list: Vec<(&str, &[u8])> = named.iter().map(|(_, n, b)| (n.as_str(), &b[..])).collect();
            dir.put_many_blocking(&list)?;
            Ok(named.into_iter().map(|(print, name, _)| (print, name)).collect())
        })
        .await?;
    }
    let mut sealed_prints = HashSet::new();
    let raw_rows: Vec<Vec<V<'_>>> = new
        .iter()
        .map(|n| {
            let item = &items[*n];
            let now = sealed_now.get(&item.fingerprint);
            let ahead = item.raw_file.as_ref();
            let sealed: Option<&str> =
                ahead.filter(|f| f.sealed).map(|f| f.name.as_str()).or(now.map(|(name, _)| name.as_str()));
            if sealed.is_some() {
                sealed_prints.insert(item.fingerprint.clone());
            }
            let blob: Option<&str> = blobs.and_then(|_| {
                ahead.map(|f| f.name.as_str()).or_else(|| files_now.get(&item.fingerprint).map(String::as_str))
            });
            // Without a blob directory the bytes are bound by reference (no copy of every mail).
            let data: &[u8] = match (blob, now, ahead.and_then(|f| f.bytes.as_deref())) {
                (Some(_), _, _) => &[],
                (None, Some((_, bytes)), _) => bytes,
                (None, None, Some(sealed)) => sealed,
                (None, None, None) => &item.raw,
            };
            vec![
                V::Str(Some(&item.fingerprint)),
                V::Int(Some(item.raw.len() as i64)),
                V::Bytes(data),
                V::Str(blob),
                V::Str(sealed),
            ]
        })
        .collect();
    let returned = insert_rows(
        tx,
        backend,
        "raw_messages (fingerprint, size, data, blob, sealed)",
        "RETURNING id, fingerprint",
        raw_rows,
    )
    .await?;
    Ok((ids_by(&returned)?, sealed_prints))
}

/// A raw mail sealed: its name and its sealed bytes (`seal.rs`).
type Sealed = (String, Vec<u8>);
