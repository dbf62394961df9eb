//! Aufbewahrungsfristen (issue 18): the stored periods, the deletion run and the Löschprotokoll
//! (migration 0026; the rules are `postkorb_core::retention`).
//!
//! [`Store::retention_run`] deletes, class by class, what is due at `now_ms`, in batches of short
//! transactions (SQLite has one writer: the import waits for one batch at most). Every delete is
//! conditional — it re-checks the period and the Sperre in its statement (a Vorgang under the
//! log's lock, `case_write::apply` with `CaseChange::Delete`) — so two instances at once delete
//! each row once, and only the one that deleted it logs it. A Vorgang or a kept mail goes with
//! everything about it: its raw mail (unless another row still references the same bytes), the
//! ledger row's fingerprint and Message-ID (the row itself stays as `deleted`, so the server copy is
//! never fetched again), the ledger's duplicates of it, deliveries, and its blob files right away
//! ([`Store::remove_blobs_now`]). Each run and class that deleted something has one Löschprotokoll
//! entry (ids and the raw mail's SHA-256, never content), written in the batches' transactions.
//! Ledger rows of mails left on the server (`ignored`, onboarding) go by `KeptOpen`'s period: they
//! keep only their key afterwards (`Store::forget_ignored`; no mail of theirs is stored to log).

use std::collections::HashMap;

use postkorb_core::retention::{RetentionClass, RetentionSettings};
use serde::{Deserialize, Serialize};
use sqlx::{Any, Row, Transaction};

use crate::blobs::hash_hex;
use crate::case_write::{CaseChange, DeleteOnly, apply, lock_log};
use crate::{Result, Store, StoreError};

/// One thing deleted (or that a dry run would delete): its id, and for a mail the SHA-256 of its
/// raw bytes.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct Deleted {
    pub id: i64,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub sha256: Option<String>,
}

/// What a run did (or would do) in one class.
#[derive(Clone, Debug)]
pub struct ClassRun {
    pub class: RetentionClass,
    pub count: i64,
    /// Empty for classes whose rows have no id worth naming (sessions, login failures).
    pub items: Vec<Deleted>,
}

/// One Löschprotokoll entry.
#[derive(Clone, Debug)]
pub struct DeletionEntry {
    pub id: i64,
    pub at_ms: i64,
    pub class: Option<RetentionClass>,
    /// Löschen auf Antrag (Art. 17 DSGVO) rather than a period's run: the class „Antrag“.
    pub on_request: bool,
    pub count: i64,
    pub items: Vec<Deleted>,
    pub actor: String,
}

/// The name of the setting row of the daily run's time.
const RUN_MINUTE: &str = "run_minute";
/// The actor of the deletion runs in the Löschprotokoll.
const SYSTEM: &str = "postkorb";
/// The Löschprotokoll's class of a deletion on request (Art. 17 DSGVO, `person.rs`): „Antrag“.
pub(crate) const REQUEST: &str = "request";
/// The office day (yyyymmdd) whose run was taken.
const LAST_RUN_DAY: &str = "last_run_day";

impl Store {
    /// The periods and the run's time as stored (defaults for what was never set).
    pub async fn retention_settings(&self) -> Result<RetentionSettings> {
        let rows = sqlx::query("SELECT name, value FROM retention_settings").fetch_all(&self.pool).await?;
        let mut s = RetentionSettings::default();
        for r in rows {
            let name: String = r.try_get(0)?;
            let value: i64 = r.try_get(1)?;
            if name == RUN_MINUTE {
                s.run_minute = u32::try_from(value).unwrap_or(s.run_minute).min(24 * 60 - 1);
            } else if let Some(class) = RetentionClass::from_code(&name) {
                // A stored value the bounds refuse (changed rules) falls back to the default.
                let _ = s.set(class, value);
            }
        }
        Ok(s)
    }

    /// Stores the periods and the run's time of `settings` (checked by core when they were set).
    pub async fn save_retention_settings(&self, settings: &RetentionSettings) -> Result<()> {
        let mut tx = self.begin_write().await?;
        let mut values: Vec<(&str, i64)> = settings.all().into_iter().map(|(c, n)| (c.code(), i64::from(n))).collect();
        values.push((RUN_MINUTE, i64::from(settings.run_minute)));
        for (name, value) in values {
            sqlx::query(
                "INSERT INTO retention_settings (name, value) VALUES ($1, $2)
                 ON CONFLICT (name) DO UPDATE SET value = excluded.value",
            )
            .bind(name)
            .bind(value)
            .execute(&mut *tx)
            .await?;
        }
        tx.commit().await?;
        Ok(())
    }

    /// Takes the daily run of office day `day` (yyyymmdd): true for exactly one caller (one
    /// conditional upsert), so of several instances one runs it.
    pub async fn take_retention_day(&self, day: i64) -> Result<bool> {
        let taken = sqlx::query(
            "INSERT INTO retention_settings (name, value) VALUES ($1, $2)
             ON CONFLICT (name) DO UPDATE SET value = excluded.value WHERE retention_settings.value < excluded.value",
        )
        .bind(LAST_RUN_DAY)
        .bind(day)
        .execute(&self.pool)
        .await?;
        Ok(taken.rows_affected() > 0)
    }

    /// Deletes what is due at `now_ms` (or, `dry_run`, only finds it), every class in turn, at
    /// most `batch` rows per transaction. Returns per class what was (would be) deleted.
    pub async fn retention_run(&self, now_ms: i64, dry_run: bool, batch: i64) -> Result<Vec<ClassRun>> {
        let settings = self.retention_settings().await?;
        let batch = batch.clamp(1, 1000);
        let mut out = Vec::new();
        for class in RetentionClass::ALL {
            let cutoff = class.cutoff(now_ms, settings.period(class));
            let mut run = ClassRun { class, count: 0, items: Vec::new() };
            let mut log_id = None;
            let mut after = 0i64;
            if class == RetentionClass::Sessions {
                run.count = self.delete_sessions(cutoff, dry_run, batch, now_ms).await?;
                out.push(run);
                continue;
            }
            loop {
                let (found, last) = self.due(class, cutoff, after, batch).await?;
                if found.is_empty() {
                    break;
                }
                after = last;
                let full = found.len() as i64 == batch;
                let done = if dry_run {
                    found
                } else {
                    let mut tx = self.begin_write().await?;
                    let (done, blobs) = delete_batch(&mut tx, self.backend, class, cutoff, &found, now_ms).await?;
                    if !done.is_empty() {
                        let listed: &[Deleted] = if has_ids(class) { &done } else { &[] };
                        log_id = Some(log(&mut tx, log_id, now_ms, class.code(), done.len(), listed, SYSTEM).await?);
                    }
                    tx.commit().await?;
                    self.remove_blobs_now(&blobs).await?;
                    done
                };
                run.count += done.len() as i64;
                if has_ids(class) {
                    run.items.extend(done);
                }
                if !full {
                    break;
                }
            }
            if class == RetentionClass::KeptOpen && !dry_run {
                // Mails left on the server at onboarding: their ledger rows keep only the key.
                self.forget_ignored(cutoff, batch).await?;
            }
            out.push(run);
        }
        if !dry_run {
            // The deleted Vorgänge's words out of PostgreSQL's list of the index's words.
            self.sweep_search_words().await?;
        }
        Ok(out)
    }

    /// Ended sessions (they have no id: the token's hash is a secret's trace), in batches; the
    /// Löschprotokoll has their number.
    async fn delete_sessions(&self, cutoff: i64, dry_run: bool, batch: i64, now_ms: i64) -> Result<i64> {
        if dry_run {
            let row = sqlx::query("SELECT COUNT(*) FROM sessions WHERE expires_ms < $1")
                .bind(cutoff)
                .fetch_one(&self.pool)
                .await?;
            return Ok(row.try_get(0)?);
        }
        let (mut total, mut log_id) = (0, None);
        loop {
            let mut tx = self.begin_write().await?;
            let n = sqlx::query(
                "DELETE FROM sessions WHERE token_hash IN
                   (SELECT token_hash FROM sessions WHERE expires_ms < $1 ORDER BY expires_ms LIMIT $2)",
            )
            .bind(cutoff)
            .bind(batch)
            .execute(&mut *tx)
            .await?
            .rows_affected() as i64;
            if n > 0 {
                log_id =
                    Some(log(&mut tx, log_id, now_ms, RetentionClass::Sessions.code(), n as usize, &[], SYSTEM).await?);
            }
            tx.commit().await?;
            total += n;
            if n < batch {
                return Ok(total);
            }
        }
    }

    /// Up to `batch` due rows of `class` with an id above `after`, in id order, with the raw
    /// mail's hash for a mail; and the last id read.
    async fn due(&self, class: RetentionClass, cutoff: i64, after: i64, batch: i64) -> Result<(Vec<Deleted>, i64)> {
        let sql = match class {
            RetentionClass::Cases => {
                "SELECT c.id, r.blob, r.data, r.sealed FROM cases c JOIN raw_messages r ON r.id = c.raw_id
                 WHERE c.status = 'done' AND c.closed_ms < $1 AND c.id > $2
                   AND NOT EXISTS (SELECT 1 FROM holds h WHERE h.case_id = c.id AND h.lifted_ms IS NULL)
                 ORDER BY c.id LIMIT $3"
            }
            RetentionClass::KeptDiscarded | RetentionClass::KeptOpen => {
                if class == RetentionClass::KeptDiscarded {
                    "SELECT k.id, r.blob, r.data, r.sealed FROM kept k JOIN raw_messages r ON r.id = k.raw_id
                     WHERE k.status = 'discarded' AND k.resolved_ms < $1 AND k.id > $2
                       AND NOT EXISTS (SELECT 1 FROM holds h WHERE h.kept_id = k.id AND h.lifted_ms IS NULL)
                     ORDER BY k.id LIMIT $3"
                } else {
                    "SELECT k.id, r.blob, r.data, r.sealed FROM kept k JOIN raw_messages r ON r.id = k.raw_id
                     WHERE k.status = 'open' AND k.kept_ms < $1 AND k.id > $2
                       AND NOT EXISTS (SELECT 1 FROM holds h WHERE h.kept_id = k.id AND h.lifted_ms IS NULL)
                     ORDER BY k.id LIMIT $3"
                }
            }
            RetentionClass::Audit => "SELECT id FROM audit_log WHERE at_ms < $1 AND id > $2 ORDER BY id LIMIT $3",
            RetentionClass::DeletionLog => {
                "SELECT id FROM deletion_log WHERE at_ms < $1 AND id > $2 ORDER BY id LIMIT $3"
            }
            RetentionClass::Sessions => return Ok((vec![], after)),
            RetentionClass::LoginFailures => {
                "SELECT id FROM login_failures WHERE at_ms < $1 AND id > $2 ORDER BY id LIMIT $3"
            }
            RetentionClass::Deliveries => {
                "SELECT id FROM deliveries WHERE status IN ('delivered', 'failed')
                   AND COALESCE(delivered_ms, created_ms) < $1 AND id > $2 ORDER BY id LIMIT $3"
            }
        };
        let rows =
            sqlx::query(sqlx::AssertSqlSafe(sql)).bind(cutoff).bind(after).bind(batch).fetch_all(&self.pool).await?;
        let mut out = Vec::with_capacity(rows.len());
        for r in &rows {
            let id: i64 = r.try_get(0)?;
            let sha256 =
                if is_mail(class) { Some(raw_hash(r.try_get(1)?, r.try_get(2)?, r.try_get(3)?)) } else { None };
            out.push(Deleted { id, sha256 });
        }
        let last = out.last().map_or(after, |d| d.id);
        Ok((out, last))
    }

    /// The Löschprotokoll, newest first, and how many entries it has.
    pub async fn deletion_log(&self, limit: i64, offset: i64) -> Result<(Vec<DeletionEntry>, i64)> {
        let rows = sqlx::query(
            "SELECT id, at_ms, class, count, items, actor FROM deletion_log ORDER BY id DESC LIMIT $1 OFFSET $2",
        )
        .bind(limit)
        .bind(offset)
        .fetch_all(&self.pool)
        .await?;
        let total: i64 = sqlx::query("SELECT COUNT(*) FROM deletion_log").fetch_one(&self.pool).await?.try_get(0)?;
        let entries = rows
            .iter()
            .map(|r| {
                let class: String = r.try_get(2)?;
                let items: String = r.try_get(4)?;
                Ok(DeletionEntry {
                    id: r.try_get(0)?,
                    at_ms: r.try_get(1)?,
                    class: RetentionClass::from_code(&class),
                    on_request: class == REQUEST,
                    count: r.try_get(3)?,
                    items: serde_json::from_str(&items).unwrap_or_default(),
                    actor: r.try_get(5)?,
                })
            })
            .collect::<Result<Vec<_>, sqlx::Error>>()?;
        Ok((entries, total))
    }
}

/// A mail class: its items name the raw mail's hash.
fn is_mail(class: RetentionClass) -> bool {
    matches!(class, RetentionClass::Cases | RetentionClass::KeptDiscarded | RetentionClass::KeptOpen)
}

/// Whether the Löschprotokoll names the ids of a class.
fn has_ids(class: RetentionClass) -> bool {
    !matches!(class, RetentionClass::Sessions)
}

/// The content hash of a raw mail: the SHA-256 of its bytes (the plain blob's name, or of the
/// bytes in the row), or for a sealed mail its name — the keyed hash of its bytes (`seal.rs`), which
/// proves what was deleted to whom holds the key and reveals nothing to anyone else.
pub(crate) fn raw_hash(blob: Option<String>, data: Vec<u8>, sealed: Option<String>) -> String {
    sealed.or(blob).unwrap_or_else(|| hash_hex(&data))
}

fn list(ids: &[i64]) -> String {
    ids.iter().map(i64::to_string).collect::<Vec<_>>().join(", ")
}

/// Deletes one batch of `class` (the statements re-check what is due), returns what was deleted
/// and the blob hashes that may have lost their last reference.
async fn delete_batch(
    tx: &mut Transaction<'_, Any>,
    backend: crate::Backend,
    class: RetentionClass,
    cutoff: i64,
    found: &[Deleted],
    now_ms: i64,
) -> Result<(Vec<Deleted>, Vec<String>)> {
    let ids: Vec<i64> = found.iter().map(|d| d.id).collect();
    let by_id: HashMap<i64, &Deleted> = found.iter().map(|d| (d.id, d)).collect();
    let kept_of = |done: Vec<i64>| done.iter().filter_map(|id| by_id.get(id).map(|d| (*d).clone())).collect();
    match class {
        RetentionClass::Cases => {
            let (deleted, gone) = delete_cases(tx, backend, &ids, DeleteOnly::DoneBefore(cutoff), now_ms).await?;
            Ok((kept_of(deleted), gone))
        }
        RetentionClass::KeptDiscarded | RetentionClass::KeptOpen => {
            let (status, column) =
                if class == RetentionClass::KeptDiscarded { ("discarded", "resolved_ms") } else { ("open", "kept_ms") };
            let due = format!("status = '{status}' AND {column} < {cutoff}");
            let (deleted, gone) = delete_kept(tx, backend, &ids, &due, now_ms).await?;
            Ok((kept_of(deleted), gone))
        }
        // The audit log is append-only (migration 0027): its one way out is `purge_audit_in`,
        // the oldest rows before the cut-off, as many as this batch found.
        RetentionClass::Audit => {
            let deleted = crate::audit::purge_audit_in(tx, cutoff, ids.len() as i64).await?;
            Ok((kept_of(deleted), vec![]))
        }
        RetentionClass::DeletionLog | RetentionClass::LoginFailures | RetentionClass::Deliveries => {
            let (table, condition) = match class {
                RetentionClass::DeletionLog => ("deletion_log", format!("at_ms < {cutoff}")),
                RetentionClass::LoginFailures => ("login_failures", format!("at_ms < {cutoff}")),
                _ => (
                    "deliveries",
                    format!("status IN ('delivered', 'failed') AND COALESCE(delivered_ms, created_ms) < {cutoff}"),
                ),
            };
            let deleted = returning_ids(
                tx,
                &format!("DELETE FROM {table} WHERE id IN ({}) AND {condition} RETURNING id", list(&ids)),
            )
            .await?;
            Ok((kept_of(deleted), vec![]))
        }
        RetentionClass::Sessions => Ok((vec![], vec![])),
    }
}

/// Deletes the Vorgänge of `ids` that `only` allows (and no Sperre holds) with everything about
/// them: a kept mail routed into one, its ledger rows, its raw mail. Returns the ids deleted and
/// the blob hashes that may have lost their last reference (for [`Store::remove_blobs_now`]).
pub(crate) async fn delete_cases(
    tx: &mut Transaction<'_, Any>,
    backend: crate::Backend,
    ids: &[i64],
    only: DeleteOnly,
    now_ms: i64,
) -> Result<(Vec<i64>, Vec<String>)> {
    if ids.is_empty() {
        return Ok((vec![], vec![]));
    }
    let blobs = blobs_of_cases(tx, ids).await?;
    let raws = raw_ids(tx, "cases", ids).await?;
    let deleted = apply(tx, backend, now_ms, CaseChange::Delete { case_ids: ids, only }).await?;
    if deleted.is_empty() {
        return Ok((vec![], vec![]));
    }
    // A kept mail routed into a deleted Vorgang shares its raw mail and goes with it.
    let routed = returning_ids(tx, &format!("SELECT id FROM kept WHERE case_id IN ({})", list(&deleted))).await?;
    delete_kept_rows(tx, &routed).await?;
    forget_in_ledger(tx, &format!("case_id IN ({})", list(&deleted)), &routed).await?;
    let raws: Vec<i64> = deleted.iter().filter_map(|id| raws.get(id).copied()).collect();
    let mut gone = purge_raws(tx, &raws).await?;
    gone.extend(blobs);
    Ok((deleted, gone))
}

/// Deletes the kept mails of `ids` that match `condition` (SQL on `kept`) and no Sperre holds,
/// with a Vorgang moved to them (it shares the raw mail), their ledger rows and raw mail. Returns
/// the ids deleted and the blob hashes that may have lost their last reference.
pub(crate) async fn delete_kept(
    tx: &mut Transaction<'_, Any>,
    backend: crate::Backend,
    ids: &[i64],
    condition: &str,
    now_ms: i64,
) -> Result<(Vec<i64>, Vec<String>)> {
    if ids.is_empty() {
        return Ok((vec![], vec![]));
    }
    // Kept ids grow in commit order under the log's lock; a deletion takes it too.
    lock_log(tx, backend).await?;
    let raws = raw_ids(tx, "kept", ids).await?;
    let deleted = returning_ids(
        tx,
        &format!(
            "SELECT id FROM kept WHERE id IN ({}) AND {condition}
               AND NOT EXISTS (SELECT 1 FROM holds h WHERE h.kept_id = kept.id AND h.lifted_ms IS NULL)",
            list(ids)
        ),
    )
    .await?;
    if deleted.is_empty() {
        return Ok((vec![], vec![]));
    }
    delete_kept_rows(tx, &deleted).await?;
    forget_in_ledger(tx, "1 = 0", &deleted).await?;
    let raws: Vec<i64> = deleted.iter().filter_map(|id| raws.get(id).copied()).collect();
    // A Vorgang moved to the kept mails shares the raw mail: it goes too.
    if !raws.is_empty() {
        let moved =
            returning_ids(tx, &format!("SELECT id FROM cases WHERE status = 'moved' AND raw_id IN ({})", list(&raws)))
                .await?;
        apply(tx, backend, now_ms, CaseChange::Delete { case_ids: &moved, only: DeleteOnly::Moved }).await?;
    }
    let gone = purge_raws(tx, &raws).await?;
    Ok((deleted, gone))
}

/// Runs a statement that yields ids in its first column.
async fn returning_ids(tx: &mut Transaction<'_, Any>, sql: &str) -> Result<Vec<i64>> {
    let rows = sqlx::query(sqlx::AssertSqlSafe(sql.to_string())).fetch_all(&mut **tx).await?;
    Ok(rows.iter().map(|r| r.try_get::<i64, _>(0)).collect::<Result<Vec<i64>, sqlx::Error>>()?)
}

/// raw_id by id of the rows of `table` (cases or kept).
async fn raw_ids(tx: &mut Transaction<'_, Any>, table: &str, ids: &[i64]) -> Result<HashMap<i64, i64>> {
    let sql = format!("SELECT id, raw_id FROM {table} WHERE id IN ({})", list(ids));
    let rows = sqlx::query(sqlx::AssertSqlSafe(sql)).fetch_all(&mut **tx).await?;
    rows.iter().map(|r| Ok((r.try_get(0)?, r.try_get(1)?))).collect::<Result<_, sqlx::Error>>().map_err(Into::into)
}

/// Blob hashes of attachments stored as files (older versions) of these Vorgänge.
async fn blobs_of_cases(tx: &mut Transaction<'_, Any>, ids: &[i64]) -> Result<Vec<String>> {
    let sql = format!("SELECT blob FROM attachments WHERE case_id IN ({}) AND blob IS NOT NULL", list(ids));
    let rows = sqlx::query(sqlx::AssertSqlSafe(sql)).fetch_all(&mut **tx).await?;
    Ok(rows.iter().map(|r| r.try_get::<String, _>(0)).collect::<Result<_, sqlx::Error>>()?)
}

/// Deletes kept rows with their deliveries and Sperren.
async fn delete_kept_rows(tx: &mut Transaction<'_, Any>, ids: &[i64]) -> Result<()> {
    if ids.is_empty() {
        return Ok(());
    }
    for table in ["deliveries", "holds"] {
        let sql = format!("DELETE FROM {table} WHERE kept_id IN ({})", list(ids));
        sqlx::query(sqlx::AssertSqlSafe(sql)).execute(&mut **tx).await?;
    }
    let sql = format!("DELETE FROM kept WHERE id IN ({})", list(ids));
    sqlx::query(sqlx::AssertSqlSafe(sql)).execute(&mut **tx).await?;
    Ok(())
}

/// The ledger rows of deleted mails keep only their key (so the server copy is never fetched
/// again) and become `deleted`: no fingerprint (a mail with the same bytes later is new, not a
/// duplicate of nothing), no Message-ID. Their duplicates go.
async fn forget_in_ledger(tx: &mut Transaction<'_, Any>, cases: &str, kept: &[i64]) -> Result<()> {
    let kept = if kept.is_empty() { "1 = 0".to_string() } else { format!("kept_id IN ({})", list(kept)) };
    let rows = returning_ids(
        tx,
        &format!(
            "UPDATE ledger SET outcome = 'deleted', case_id = NULL, kept_id = NULL, message_id = NULL, fingerprint = ''
             WHERE ({cases}) OR ({kept}) RETURNING id"
        ),
    )
    .await?;
    if !rows.is_empty() {
        let sql = format!("DELETE FROM ledger WHERE duplicate_of IN ({})", list(&rows));
        sqlx::query(sqlx::AssertSqlSafe(sql)).execute(&mut **tx).await?;
    }
    Ok(())
}

/// Deletes the raw mails no Vorgang and no kept mail references any more; returns the blob hashes
/// of those stored as files.
pub(crate) async fn purge_raws(tx: &mut Transaction<'_, Any>, raw_ids: &[i64]) -> Result<Vec<String>> {
    if raw_ids.is_empty() {
        return Ok(vec![]);
    }
    let sql = format!(
        "DELETE FROM raw_messages WHERE id IN ({})
           AND NOT EXISTS (SELECT 1 FROM cases c WHERE c.raw_id = raw_messages.id)
           AND NOT EXISTS (SELECT 1 FROM kept k WHERE k.raw_id = raw_messages.id)
         RETURNING blob",
        list(raw_ids)
    );
    let rows = sqlx::query(sqlx::AssertSqlSafe(sql)).fetch_all(&mut **tx).await?;
    Ok(rows.iter().filter_map(|r| r.try_get::<Option<String>, _>(0).ok().flatten()).collect())
}

/// Writes (or, for a later batch of the same run and class, extends) the run's Löschprotokoll entry.
/// `class` is a [`RetentionClass`] code or [`REQUEST`]; `count` things went, `listed` are named.
pub(crate) async fn log(
    tx: &mut Transaction<'_, Any>,
    id: Option<i64>,
    now_ms: i64,
    class: &str,
    count: usize,
    listed: &[Deleted],
    actor: &str,
) -> Result<i64> {
    match id {
        None => {
            let items = serde_json::to_string(listed).map_err(|e| StoreError::Invalid(e.to_string()))?;
            let row = sqlx::query(
                "INSERT INTO deletion_log (at_ms, class, count, items, actor) VALUES ($1, $2, $3, $4, $5) RETURNING id",
            )
            .bind(now_ms)
            .bind(class)
            .bind(count as i64)
            .bind(items)
            .bind(actor)
            .fetch_one(&mut **tx)
            .await?;
            Ok(row.try_get(0)?)
        }
        Some(id) => {
            let row = sqlx::query("SELECT items FROM deletion_log WHERE id = $1").bind(id).fetch_one(&mut **tx).await?;
            let mut items: Vec<Deleted> = serde_json::from_str(&row.try_get::<String, _>(0)?).unwrap_or_default();
            items.extend(listed.iter().cloned());
            let items = serde_json::to_string(&items).map_err(|e| StoreError::Invalid(e.to_string()))?;
            sqlx::query("UPDATE deletion_log SET count = count + $1, items = $2 WHERE id = $3")
                .bind(count as i64)
                .bind(items)
                .bind(id)
                .execute(&mut **tx)
                .await?;
            Ok(id)
        }
    }
}
