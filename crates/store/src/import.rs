//! The import ledger and the batch commit: the one place where a fetched mail becomes durable.
//!
//! **Invariant:** one transaction writes, per message, the ledger row (unique per mailbox and
//! source key), the raw bytes, and either the Vorgang or the kept entry. A message already in the
//! ledger is skipped; a message whose fingerprint is already known (same bytes and Message-ID,
//! e.g. after a UIDVALIDITY change) is recorded as a duplicate of the first and creates nothing.

use std::collections::HashMap;

use postkorb_core::{Decision, KeepReason};
use postkorb_mail::InboundMail;
use sqlx::{Any, Row, Transaction};

use crate::blobs::BlobDir;
use crate::{Result, Store};

pub struct ImportItem {
    pub source_key: String,
    pub raw: Vec<u8>,
    pub mail: InboundMail,
    pub fingerprint: String,
    pub decision: Decision,
    /// The SHA-256 (hex) under which the raw bytes are already durable in the blob directory,
    /// set by [`Store::write_raw_blobs`]; `None`: the commit stores them itself.
    pub raw_blob: Option<String>,
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
        let mut known = HashMap::new();
        for chunk in keys.chunks(500) {
            let placeholders: Vec<String> = (0..chunk.len()).map(|i| format!("${}", i + 2)).collect();
            let sql = format!(
                "SELECT source_key, disposed_ms FROM ledger WHERE mailbox_id = $1 AND source_key IN ({})",
                placeholders.join(",")
            );
            let mut q = sqlx::query(sqlx::AssertSqlSafe(sql)).bind(mailbox_id);
            for k in chunk {
                q = q.bind(k);
            }
            for row in q.fetch_all(&self.pool).await? {
                let disposed: Option<i64> = row.try_get(1)?;
                known.insert(row.try_get(0)?, disposed.is_some());
            }
        }
        Ok(known)
    }

    /// Records messages left on the server on purpose (dated before the onboarding cut-off): they
    /// are in the ledger so they are not fetched again, and never disposed of.
    pub async fn record_ignored(&self, mailbox_id: i64, keys: &[(String, String)], now_ms: i64) -> Result<()> {
        let mut tx = self.pool.begin().await?;
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
        let mut tx = self.pool.begin().await?;
        for chunk in keys.chunks(500) {
            let placeholders: Vec<String> = (0..chunk.len()).map(|i| format!("${}", i + 3)).collect();
            let sql = format!(
                "UPDATE ledger SET disposed_ms = $1 WHERE mailbox_id = $2 AND source_key IN ({})",
                placeholders.join(",")
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

    /// Stores a batch in one transaction. Returns one outcome per item, in order.
    /// With a blob directory: writes the raw mails of `items` there and makes them durable with
    /// one flush for the whole batch, before any of them is committed; each item then carries its
    /// file's hash (`raw_blob`, the SHA-256 given per item). Without one, nothing happens. The
    /// importer calls this beside the commit of the previous batch, off the commit's path.
    pub async fn write_raw_blobs(&self, items: Vec<(ImportItem, String)>) -> Result<Vec<ImportItem>> {
        let Some(dir) = self.blobs.clone() else {
            return Ok(items.into_iter().map(|(item, _)| item).collect());
        };
        tokio::task::spawn_blocking(move || {
            let files: Vec<(&str, &[u8])> = items.iter().map(|(i, hash)| (hash.as_str(), i.raw.as_slice())).collect();
            dir.put_many_blocking(&files)?;
            Ok(items
                .into_iter()
                .map(|(mut item, hash)| {
                    item.raw_blob = Some(hash);
                    item
                })
                .collect())
        })
        .await
        .map_err(|e| crate::StoreError::Blob(format!("blob writer failed: {e}")))?
    }

    pub async fn commit_batch(&self, mailbox_id: i64, items: &[ImportItem], now_ms: i64) -> Result<Vec<ImportOutcome>> {
        let mut tx = self.pool.begin().await?;
        let mut outcomes = Vec::with_capacity(items.len());
        for item in items {
            outcomes.push(import_one(&mut tx, self.blobs.as_ref(), mailbox_id, item, now_ms).await?);
        }
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

async fn import_one(
    tx: &mut Transaction<'_, Any>,
    blobs: Option<&BlobDir>,
    mailbox_id: i64,
    item: &ImportItem,
    now: i64,
) -> Result<ImportOutcome> {
    let inserted = sqlx::query(
        "INSERT INTO ledger (mailbox_id, source_key, fingerprint, message_id, outcome, imported_ms)
         VALUES ($1, $2, $3, $4, 'pending', $5)
         ON CONFLICT (mailbox_id, source_key) DO NOTHING RETURNING id",
    )
    .bind(mailbox_id)
    .bind(&item.source_key)
    .bind(&item.fingerprint)
    .bind(item.mail.message_id.as_deref().map(clean))
    .bind(now)
    .fetch_optional(&mut **tx)
    .await?;
    let Some(row) = inserted else { return Ok(ImportOutcome::AlreadyKnown) };
    let ledger_id: i64 = row.try_get(0)?;

    let first = sqlx::query(
        "SELECT id FROM ledger WHERE mailbox_id = $1 AND fingerprint = $2 AND id <> $3 AND outcome <> 'duplicate'
         ORDER BY id LIMIT 1",
    )
    .bind(mailbox_id)
    .bind(&item.fingerprint)
    .bind(ledger_id)
    .fetch_optional(&mut **tx)
    .await?;
    if let Some(first) = first {
        let of: i64 = first.try_get(0)?;
        sqlx::query("UPDATE ledger SET outcome = 'duplicate', duplicate_of = $1 WHERE id = $2")
            .bind(of)
            .bind(ledger_id)
            .execute(&mut **tx)
            .await?;
        return Ok(ImportOutcome::Duplicate { of_ledger: of });
    }

    let raw_id = match (&item.raw_blob, blobs) {
        (Some(hash), Some(_)) => insert_raw_ref(tx, &item.fingerprint, item.raw.len(), hash).await?,
        _ => insert_raw(tx, blobs, &item.fingerprint, &item.raw).await?,
    };
    let outcome = match &item.decision {
        Decision::Keep(reason) => {
            let kept_id = insert_kept(tx, Some(mailbox_id), raw_id, reason, &item.mail, now).await?;
            sqlx::query("UPDATE ledger SET outcome = 'kept', kept_id = $1 WHERE id = $2")
                .bind(kept_id)
                .bind(ledger_id)
                .execute(&mut **tx)
                .await?;
            ImportOutcome::Kept { kept_id, reason: reason.clone() }
        }
        decision => {
            let case_id = crate::cases::insert_case(tx, Some(mailbox_id), raw_id, &item.mail, decision, now).await?;
            sqlx::query("UPDATE ledger SET outcome = 'case', case_id = $1 WHERE id = $2")
                .bind(case_id)
                .bind(ledger_id)
                .execute(&mut **tx)
                .await?;
            ImportOutcome::Case { case_id, decision: decision.clone() }
        }
    };
    Ok(outcome)
}

/// With a blob directory the file is written (durably) here, before the caller commits.
pub(crate) async fn insert_raw(
    tx: &mut Transaction<'_, Any>,
    blobs: Option<&BlobDir>,
    fingerprint: &str,
    raw: &[u8],
) -> Result<i64> {
    // Without a blob directory the bytes are bound by reference (no copy of every mail here).
    let (data, blob): (&[u8], Option<String>) = match blobs {
        None => (raw, None),
        Some(dir) => (&[], Some(dir.put(raw.to_vec()).await?)),
    };
    let row =
        sqlx::query("INSERT INTO raw_messages (fingerprint, size, data, blob) VALUES ($1, $2, $3, $4) RETURNING id")
            .bind(fingerprint)
            .bind(raw.len() as i64)
            .bind(data)
            .bind(blob)
            .fetch_one(&mut **tx)
            .await?;
    Ok(row.try_get(0)?)
}

/// A raw mail whose file is already durable in the blob directory.
async fn insert_raw_ref(tx: &mut Transaction<'_, Any>, fingerprint: &str, size: usize, hash: &str) -> Result<i64> {
    let row =
        sqlx::query("INSERT INTO raw_messages (fingerprint, size, data, blob) VALUES ($1, $2, $3, $4) RETURNING id")
            .bind(fingerprint)
            .bind(size as i64)
            .bind(&[][..])
            .bind(hash)
            .fetch_one(&mut **tx)
            .await?;
    Ok(row.try_get(0)?)
}

pub(crate) async fn insert_kept(
    tx: &mut Transaction<'_, Any>,
    mailbox_id: Option<i64>,
    raw_id: i64,
    reason: &KeepReason,
    mail: &InboundMail,
    now: i64,
) -> Result<i64> {
    let from = match &mail.sender {
        Ok(a) => Some(a.to_string()),
        Err(_) => mail.display_name.clone(),
    };
    let row = sqlx::query(
        "INSERT INTO kept (mailbox_id, raw_id, reason_code, reason_detail, from_addr, subject, received_ms, kept_ms)
         VALUES ($1, $2, $3, $4, $5, $6, $7, $8) RETURNING id",
    )
    .bind(mailbox_id)
    .bind(raw_id)
    .bind(reason.code())
    .bind(clean(reason.detail()))
    .bind(from.as_deref().map(clean))
    .bind(clean(&mail.subject))
    .bind(now)
    .bind(now)
    .fetch_one(&mut **tx)
    .await?;
    Ok(row.try_get(0)?)
}
