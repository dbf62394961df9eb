//! The import ledger and the batch commit: the one place where a fetched mail becomes durable.
//!
//! **Invariant:** one transaction writes, per message, the ledger row (unique per mailbox and
//! source key), the raw bytes, and either the Vorgang or the kept entry. A message already in the
//! ledger is skipped; a message whose fingerprint is already known (same bytes and Message-ID,
//! e.g. after a UIDVALIDITY change) is recorded as a duplicate of the first and creates nothing.

use std::collections::{HashMap, HashSet};

use postkorb_core::{Decision, KeepReason};
use postkorb_mail::InboundMail;
use sqlx::{Any, Row, Transaction};

use crate::blobs::BlobDir;
use crate::{Backend, Result, Store, StoreError};

pub struct ImportItem {
    pub source_key: String,
    /// The raw mail (from IMAP: the response's own buffer, not a copy).
    pub raw: bytes::Bytes,
    pub mail: InboundMail,
    pub fingerprint: String,
    pub decision: Decision,
    /// SHA-256 (hex) of `raw` alone, computed in the fingerprint's pass
    /// ([`postkorb_mail::digests`]): the name of its file in a blob directory. A wrong value makes
    /// that file unreadable (reads check it), never other bytes.
    pub raw_sha256: String,
    /// Set by [`Store::write_raw_blobs`]: the file is durable in the blob directory already, and
    /// the commit only references it. Otherwise the commit stores the raw bytes itself.
    pub raw_written: bool,
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

    /// Writes the raw mails of a batch ahead of its commit. With a blob directory: writes them
    /// there (each under its `raw_sha256`) and makes them durable with one flush for the whole
    /// batch, before any of them is committed, and marks them `raw_written`. Without one, nothing
    /// happens. The importer calls this beside the commit of the previous batch, off its path.
    pub async fn write_raw_blobs(&self, items: Vec<ImportItem>) -> Result<Vec<ImportItem>> {
        let Some(dir) = self.blobs.clone() else { return Ok(items) };
        tokio::task::spawn_blocking(move || {
            let mut items = items;
            let files: Vec<(&str, &[u8])> = items.iter().map(|i| (i.raw_sha256.as_str(), &i.raw[..])).collect();
            dir.put_many_blocking(&files)?;
            for item in &mut items {
                item.raw_written = true;
            }
            Ok(items)
        })
        .await
        .map_err(|e| StoreError::Blob(format!("blob writer failed: {e}")))?
    }

    /// Stores a batch in one transaction. Returns one outcome per item, in order.
    ///
    /// A handful of multi-row statements per batch, not ≈ 10 statements per mail: which keys the
    /// ledger knows and which fingerprints it has seen are read once; then the raw mails, the
    /// Vorgänge, the kept entries, their candidates, attachments and events, and last the ledger
    /// rows are each inserted with one statement (per chunk of rows). The ledger insert keeps its
    /// `ON CONFLICT DO NOTHING`: should another importer have taken a key meanwhile (the mailbox
    /// lease prevents that), the batch is rolled back rather than importing a mail twice.
    pub async fn commit_batch(&self, mailbox_id: i64, items: &[ImportItem], now_ms: i64) -> Result<Vec<ImportOutcome>> {
        let mut tx = self.begin_write().await?;
        let outcomes = commit_items(&mut tx, self.backend, self.blobs.as_ref(), mailbox_id, items, now_ms).await?;
        let given = outcomes.iter().filter_map(|o| match o {
            ImportOutcome::Case { decision: Decision::Assign { to, .. }, .. } => Some(*to),
            _ => None,
        });
        crate::cases::count_given(&mut tx, given).await?;
        tx.commit().await?;
        self.checkpoint_soon();
        Ok(outcomes)
    }
}

/// What the batch commit does with one item.
#[derive(Clone, Copy)]
enum Plan {
    /// The ledger has its key (or the batch has it twice): nothing.
    Known,
    /// The same fingerprint is in the ledger already (that row's id).
    DuplicateOf(i64),
    /// The same fingerprint came earlier in this batch (that item's index).
    DuplicateInBatch(usize),
    /// Stored: the raw mail, then a Vorgang or a kept entry.
    New,
}

/// One bound value of a multi-row statement.
enum V<'a> {
    Int(Option<i64>),
    Str(Option<&'a str>),
    Owned(Option<String>),
    Bytes(&'a [u8]),
}

impl V<'_> {
    /// Bytes of text or data.
    fn len(&self) -> usize {
        match self {
            V::Int(_) => 8,
            V::Str(s) => s.map_or(0, str::len),
            V::Owned(s) => s.as_ref().map_or(0, String::len),
            V::Bytes(b) => b.len(),
        }
    }
}

/// Parameters per statement: below SQLite's 32,766 and PostgreSQL's 65,535.
const MAX_PARAMS: usize = 30_000;

/// Bytes of values per statement, roughly (a row is never split).
const MAX_STATEMENT_BYTES: usize = 1 << 20;

/// `INSERT INTO {head} VALUES (…), (…) {tail}` over `rows` (all of the same width), in chunks;
/// returns what a `RETURNING` tail yields.
async fn insert_rows(
    tx: &mut Transaction<'_, Any>,
    backend: Backend,
    head: &str,
    tail: &str,
    rows: Vec<Vec<V<'_>>>,
) -> Result<Vec<sqlx::any::AnyRow>> {
    let mut out = Vec::new();
    let Some(width) = rows.first().map(Vec::len) else { return Ok(out) };
    let per_chunk = (MAX_PARAMS / width.max(1)).clamp(1, 500);
    let mut rows = rows.into_iter().peekable();
    while rows.peek().is_some() {
        // Up to `per_chunk` rows and about `MAX_STATEMENT_BYTES` of values: the driver copies
        // the values of a statement, so a batch of large mails goes in a few statements, not one.
        let mut chunk: Vec<Vec<V<'_>>> = Vec::new();
        let mut bytes = 0;
        while chunk.len() < per_chunk && (chunk.is_empty() || bytes < MAX_STATEMENT_BYTES) {
            let Some(row) = rows.next() else { break };
            bytes += row.iter().map(V::len).sum::<usize>();
            chunk.push(row);
        }
        let mut sql = format!("INSERT INTO {head} VALUES ");
        let mut n = 0;
        for (r, row) in chunk.iter().enumerate() {
            if row.len() != width {
                return Err(StoreError::Invalid(format!("a row of {} values among rows of {width}", row.len())));
            }
            sql.push_str(if r == 0 { "(" } else { ", (" });
            sql.push_str(&backend.placeholders(n + 1, width));
            n += width;
            sql.push(')');
        }
        sql.push(' ');
        sql.push_str(tail);
        // Not kept in the statement cache: the row count differs from batch to batch.
        let mut q = sqlx::query(sqlx::AssertSqlSafe(sql)).persistent(false);
        for v in chunk.into_iter().flatten() {
            q = match v {
                V::Int(x) => q.bind(x),
                V::Str(x) => q.bind(x),
                V::Owned(x) => q.bind(x),
                V::Bytes(x) => q.bind(x),
            };
        }
        out.extend(q.fetch_all(&mut **tx).await?);
    }
    Ok(out)
}

/// `key → id` from rows returned as `RETURNING id, key`.
fn ids_by<K>(rows: &[sqlx::any::AnyRow]) -> Result<HashMap<K, i64>>
where
    K: for<'r> sqlx::Decode<'r, Any> + sqlx::Type<Any> + std::hash::Hash + Eq,
{
    rows.iter().map(|r| Ok((r.try_get::<K, _>(1)?, r.try_get::<i64, _>(0)?))).collect()
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

async fn commit_items(
    tx: &mut Transaction<'_, Any>,
    backend: Backend,
    blobs: Option<&BlobDir>,
    mailbox_id: i64,
    items: &[ImportItem],
    now: i64,
) -> Result<Vec<ImportOutcome>> {
    let missing = |what: &str, n: usize| {
        StoreError::Invalid(format!("the {what} of {} was not returned by its insert", items[n].source_key))
    };

    // 1. Keys the ledger knows, and the first ledger row of each fingerprint (a row left on the
    // server on purpose, `ignored`, counts: the mail is not imported under another key either).
    let keys: Vec<&str> = items.iter().map(|i| i.source_key.as_str()).collect();
    let mut known = HashSet::new();
    for row in ledger_lookup(&mut *tx, backend, "source_key", "source_key", "", mailbox_id, &keys).await? {
        known.insert(row.try_get::<String, _>(0)?);
    }
    let mut prints: Vec<&str> = items.iter().map(|i| i.fingerprint.as_str()).collect();
    prints.sort_unstable();
    prints.dedup();
    let mut earlier: HashMap<String, i64> = HashMap::new();
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
        earlier.insert(row.try_get(0)?, row.try_get(1)?);
    }
    let mut first_in_batch: HashMap<&str, usize> = HashMap::new();
    let mut seen_keys = HashSet::new();
    let plans: Vec<Plan> = items
        .iter()
        .enumerate()
        .map(|(n, item)| {
            if known.contains(&item.source_key) || !seen_keys.insert(item.source_key.as_str()) {
                Plan::Known
            } else if let Some(id) = earlier.get(&item.fingerprint) {
                Plan::DuplicateOf(*id)
            } else if let Some(first) = first_in_batch.get(item.fingerprint.as_str()) {
                Plan::DuplicateInBatch(*first)
            } else {
                first_in_batch.insert(&item.fingerprint, n);
                Plan::New
            }
        })
        .collect();
    let new: Vec<usize> = (0..items.len()).filter(|n| matches!(plans[*n], Plan::New)).collect();

    // 2. The raw mails. With a blob directory, files the importer did not write ahead
    // (`raw_written` unset) are written and made durable now, before the commit references them.
    if let Some(dir) = blobs {
        let late: Vec<(String, bytes::Bytes)> = new
            .iter()
            .map(|n| &items[*n])
            .filter(|i| !i.raw_written)
            .map(|i| (i.raw_sha256.clone(), i.raw.clone()))
            .collect();
        if !late.is_empty() {
            let dir = dir.clone();
            tokio::task::spawn_blocking(move || {
                let files: Vec<(&str, &[u8])> = late.iter().map(|(h, raw)| (h.as_str(), &raw[..])).collect();
                dir.put_many_blocking(&files)
            })
            .await
            .map_err(|e| StoreError::Blob(format!("blob writer failed: {e}")))??;
        }
    }
    let raw_rows: Vec<Vec<V<'_>>> = new
        .iter()
        .map(|n| {
            let item = &items[*n];
            let blob = blobs.map(|_| item.raw_sha256.as_str());
            // Without a blob directory the bytes are bound by reference (no copy of every mail).
            let data: &[u8] = if blob.is_some() { &[] } else { &item.raw };
            vec![V::Str(Some(&item.fingerprint)), V::Int(Some(item.raw.len() as i64)), V::Bytes(data), V::Str(blob)]
        })
        .collect();
    // The fingerprints of the new items differ from each other (a repeat is a duplicate).
    let returned =
        insert_rows(tx, backend, "raw_messages (fingerprint, size, data, blob)", "RETURNING id, fingerprint", raw_rows)
            .await?;
    let raw_by_print: HashMap<String, i64> = ids_by(&returned)?;
    let raw_id = |n: usize| raw_by_print.get(&items[n].fingerprint).copied().ok_or_else(|| missing("raw mail", n));

    // 3. Vorgänge and kept entries.
    let (kept_new, case_new): (Vec<usize>, Vec<usize>) =
        new.iter().partition(|n| matches!(items[**n].decision, Decision::Keep(_)));
    let mut case_rows = Vec::with_capacity(case_new.len());
    for n in &case_new {
        let item = &items[*n];
        let mail = &item.mail;
        let (sender, status, assignee) = match &item.decision {
            Decision::Assign { sender, to } => (*sender, "open", Some(*to)),
            Decision::Pool { sender, .. } => (*sender, "waiting", None),
            Decision::Keep(_) => return Err(StoreError::Invalid("a kept mail is not a Vorgang".into())),
        };
        let warnings = serde_json::to_string(&mail.warnings).unwrap_or_else(|_| "[]".into());
        case_rows.push(vec![
            V::Int(Some(mailbox_id)),
            V::Int(Some(raw_id(*n)?)),
            V::Owned(Some(clean(&mail.subject))),
            V::Owned(Some(mail.sender.as_ref().map(|a| a.to_string()).unwrap_or_default())),
            V::Owned(mail.display_name.as_deref().map(clean)),
            V::Int(Some(sender.0)),
            V::Int(mail.date_ms),
            V::Int(Some(now)),
            // The text, the HTML and the forwarded original come from the raw mail when the
            // Vorgang is shown (`body_in_raw`, migration 0012).
            V::Str(Some("")),
            V::Str(None),
            V::Str(None),
            V::Owned(Some(clean(&warnings))),
            V::Str(Some(status)),
            V::Int(assignee.map(|a| a.0)),
            V::Int(assignee.map(|_| now)),
            V::Int(Some(1)),
        ]);
    }
    let returned = insert_rows(
        tx,
        backend,
        "cases (mailbox_id, raw_id, subject, from_addr, from_name, sender_employee, sent_ms, received_ms,
             body_text, body_html, forwarded_json, warnings_json, status, assignee, claimed_ms, body_in_raw)",
        "RETURNING id, raw_id",
        case_rows,
    )
    .await?;
    let case_by_raw: HashMap<i64, i64> = ids_by(&returned)?;
    let mut kept_rows = Vec::with_capacity(kept_new.len());
    for n in &kept_new {
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
            V::Owned(Some(clean(reason.detail()))),
            V::Owned(from.as_deref().map(clean)),
            V::Owned(Some(clean(&item.mail.subject))),
            V::Int(Some(now)),
            V::Int(Some(now)),
        ]);
    }
    let returned = insert_rows(
        tx,
        backend,
        "kept (mailbox_id, raw_id, reason_code, reason_detail, from_addr, subject, received_ms, kept_ms)",
        "RETURNING id, raw_id",
        kept_rows,
    )
    .await?;
    let kept_by_raw: HashMap<i64, i64> = ids_by(&returned)?;
    let mut case_of: HashMap<usize, i64> = HashMap::new();
    for n in &case_new {
        case_of.insert(*n, *case_by_raw.get(&raw_id(*n)?).ok_or_else(|| missing("Vorgang", *n))?);
    }
    let mut kept_of: HashMap<usize, i64> = HashMap::new();
    for n in &kept_new {
        kept_of.insert(*n, *kept_by_raw.get(&raw_id(*n)?).ok_or_else(|| missing("kept entry", *n))?);
    }

    // 4. Candidates, attachments (their bytes stay in the raw mail, `in_raw`, and are decoded from
    // it on download, instead of being written a second time) and each Vorgang's two events.
    let mut candidate_rows = Vec::new();
    let mut attachment_rows = Vec::new();
    let mut event_rows = Vec::new();
    for n in &case_new {
        let case_id = case_of[n];
        let item = &items[*n];
        let (candidates, assignee) = match &item.decision {
            Decision::Assign { to, .. } => (vec![*to], Some(*to)),
            Decision::Pool { candidates, .. } => (candidates.clone(), None),
            Decision::Keep(_) => return Err(StoreError::Invalid("a kept mail is not a Vorgang".into())),
        };
        for c in &candidates {
            candidate_rows.push(vec![V::Int(Some(case_id)), V::Int(Some(c.0))]);
        }
        for (i, a) in item.mail.attachments.iter().enumerate() {
            attachment_rows.push(vec![
                V::Int(Some(case_id)),
                V::Int(Some(i as i64)),
                V::Owned(Some(clean(&a.name))),
                V::Owned(Some(clean(&a.content_type))),
                V::Owned(a.content_id.as_deref().map(clean)),
                V::Int(Some(a.size as i64)),
                V::Bytes(&[]),
                V::Str(None),
                V::Int(Some(1)),
            ]);
        }
        let (kind, who) = match assignee {
            Some(to) => ("assigned", Some(to.0)),
            None => ("waiting", None),
        };
        let detail = candidates.iter().map(|c| c.0.to_string()).collect::<Vec<_>>().join(",");
        let event =
            |kind, who, detail| vec![V::Int(Some(case_id)), V::Int(Some(now)), V::Str(Some(kind)), V::Int(who), detail];
        event_rows.push(event("created", None, V::Str(Some(""))));
        event_rows.push(event(kind, who, V::Owned(Some(detail))));
    }
    insert_rows(tx, backend, "case_candidates (case_id, employee_id)", "", candidate_rows).await?;
    insert_rows(
        tx,
        backend,
        "attachments (case_id, position, name, content_type, content_id, size, data, blob, in_raw)",
        "",
        attachment_rows,
    )
    .await?;
    insert_rows(tx, backend, "case_events (case_id, at_ms, kind, employee_id, detail)", "", event_rows).await?;

    // 5. The ledger rows, in item order, each with its outcome.
    let mut ledger_rows = Vec::new();
    for (n, item) in items.iter().enumerate() {
        let (outcome, case_id, kept_id, duplicate_of) = match plans[n] {
            Plan::Known => continue,
            Plan::DuplicateOf(of) => ("duplicate", None, None, Some(of)),
            // Set below, once the first one's ledger row has its id.
            Plan::DuplicateInBatch(_) => ("duplicate", None, None, None),
            Plan::New => match (case_of.get(&n), kept_of.get(&n)) {
                (Some(c), _) => ("case", Some(*c), None, None),
                (None, Some(k)) => ("kept", None, Some(*k), None),
                (None, None) => return Err(missing("Vorgang", n)),
            },
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
        outcomes.push(match plans[n] {
            Plan::Known => ImportOutcome::AlreadyKnown,
            Plan::DuplicateOf(of) => ImportOutcome::Duplicate { of_ledger: of },
            Plan::DuplicateInBatch(first) => {
                let of = ledger_id(first)?;
                sqlx::query("UPDATE ledger SET duplicate_of = $1 WHERE id = $2")
                    .bind(of)
                    .bind(ledger_id(n)?)
                    .execute(&mut **tx)
                    .await?;
                ImportOutcome::Duplicate { of_ledger: of }
            }
            Plan::New => match (case_of.get(&n), &item.decision) {
                (Some(case_id), decision) => ImportOutcome::Case { case_id: *case_id, decision: decision.clone() },
                (None, Decision::Keep(reason)) => ImportOutcome::Kept { kept_id: kept_of[&n], reason: reason.clone() },
                (None, _) => return Err(missing("Vorgang", n)),
            },
        });
    }
    Ok(outcomes)
}
