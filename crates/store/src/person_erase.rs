//! Löschen auf Antrag (issue 18, Art. 17 DSGVO): per item of a person's search
//! (`person.rs`) what an erasure does — delete it completely now, or, where a legal duty keeps
//! it (`postkorb_core::retention::erase_duty`), set a Sperre „Einschränkung der Verarbeitung“ with
//! the legal reason instead (Art. 17 Abs. 3 lit. b, Art. 18 DSGVO).
//!
//! [`Store::delete_case_now`] and [`Store::delete_kept_now`] delete one Vorgang or kept mail with
//! everything about it (rows, raw mail, blob files, search entry, events, notes, deliveries) in
//! one transaction through the retention run's helpers, and write a Löschprotokoll entry of class
//! „Antrag“ and an audit entry in it.

use postkorb_core::AuditEntry;
use postkorb_core::retention::{CaseFacts, HoldKind, RetentionClass, erase_duty, erase_duty_reason};
use serde::Serialize;
use sqlx::Row;

use crate::audit::audit_in;
use crate::case_write::DeleteOnly;
use crate::person::{PersonItem, PersonMatch};
use crate::retention::{Deleted, REQUEST, delete_cases, delete_kept, log};
use crate::{HoldTarget, Result, Store};

/// What an erasure request does with one item.
#[derive(Clone, Debug, PartialEq, Eq, Serialize)]
#[serde(tag = "action", rename_all = "snake_case")]
pub enum EraseAction {
    /// „Jetzt löschen“: nothing of it is left.
    Delete,
    /// „Sperren statt löschen“: a legal duty keeps it until `until_ms`.
    Restrict { until_ms: i64, reason: String },
    /// A Sperre holds it already: it stays (whoever set it lifts it first).
    Held,
    /// An entry of the Änderungsprotokoll: the proof of what was done (Art. 5 Abs. 2 DSGVO) stays
    /// for its own period.
    Proof,
}

impl EraseAction {
    pub fn code(&self) -> &'static str {
        match self {
            EraseAction::Delete => "delete",
            EraseAction::Restrict { .. } => "restrict",
            EraseAction::Held => "held",
            EraseAction::Proof => "proof",
        }
    }

    pub fn german(&self) -> String {
        match self {
            EraseAction::Delete => "Jetzt löschen".into(),
            EraseAction::Restrict { reason, .. } => format!("Sperren statt löschen: {reason}"),
            EraseAction::Held => "Bleibt: eine Sperre besteht bereits".into(),
            EraseAction::Proof => "Bleibt als Nachweis (Änderungsprotokoll, Art. 5 Abs. 2 DSGVO)".into(),
        }
    }
}

impl Store {
    /// What an erasure request does with each match at `now_ms`, in the same order.
    pub async fn erase_plan(&self, matches: &[PersonMatch], now_ms: i64) -> Result<Vec<EraseAction>> {
        let years = self.retention_settings().await?.period(RetentionClass::Cases);
        Ok(matches
            .iter()
            .map(|m| match m.item {
                PersonItem::Audit(_) => EraseAction::Proof,
                _ if m.held => EraseAction::Held,
                PersonItem::Kept(_) => EraseAction::Delete,
                PersonItem::Case(_) => {
                    let facts = CaseFacts { done: m.status == "done", closed_ms: m.closed_ms, held: m.held };
                    match erase_duty(facts, now_ms, years) {
                        Some(until_ms) => EraseAction::Restrict { until_ms, reason: erase_duty_reason(until_ms) },
                        None => EraseAction::Delete,
                    }
                }
            })
            .collect())
    }

    /// Carries out `action` for `m` (from [`Store::erase_plan`]); false when nothing was done
    /// (deleted or held meanwhile, or nothing to do).
    pub async fn erase_item(
        &self,
        m: &PersonMatch,
        action: &EraseAction,
        actor: &str,
        reason: &str,
        now_ms: i64,
    ) -> Result<bool> {
        match (m.item, action) {
            (PersonItem::Case(id), EraseAction::Delete) => self.delete_case_now(id, actor, reason, now_ms).await,
            (PersonItem::Kept(id), EraseAction::Delete) => self.delete_kept_now(id, actor, reason, now_ms).await,
            (PersonItem::Case(id), EraseAction::Restrict { until_ms, reason }) => {
                let target = HoldTarget::Case(id);
                self.set_hold(target, HoldKind::Restriction, reason, *until_ms, actor, now_ms).await?;
                Ok(true)
            }
            _ => Ok(false),
        }
    }

    /// Deletes a Vorgang (any state but moved; not under a Sperre) completely now, with a
    /// Löschprotokoll entry „Antrag“ and an audit entry; false when there is none such.
    pub async fn delete_case_now(&self, case: i64, actor: &str, reason: &str, now_ms: i64) -> Result<bool> {
        let mut tx = self.begin_write().await?;
        let sha256 = raw_hash_of(&mut tx, "cases", case).await?;
        let (deleted, gone) = delete_cases(&mut tx, self.backend, &[case], DeleteOnly::OnRequest, now_ms).await?;
        if deleted.is_empty() {
            tx.rollback().await?;
            return Ok(false);
        }
        log(&mut tx, None, now_ms, REQUEST, 1, &[Deleted { id: case, sha256 }], actor).await?;
        let entry = AuditEntry::EraseOnRequest { case: Some(case), kept: None, reason: reason.trim().to_string() };
        audit_in(&mut tx, now_ms, actor, &entry).await?;
        tx.commit().await?;
        self.remove_blobs_now(&gone).await?;
        // Its words out of PostgreSQL's list of the index's words.
        self.sweep_search_words().await?;
        Ok(true)
    }

    /// Deletes a kept mail (not routed; not under a Sperre) completely now, like
    /// [`Store::delete_case_now`].
    pub async fn delete_kept_now(&self, kept: i64, actor: &str, reason: &str, now_ms: i64) -> Result<bool> {
        let mut tx = self.begin_write().await?;
        let sha256 = raw_hash_of(&mut tx, "kept", kept).await?;
        let (deleted, gone) = delete_kept(&mut tx, self.backend, &[kept], "status <> 'routed'", now_ms).await?;
        if deleted.is_empty() {
            tx.rollback().await?;
            return Ok(false);
        }
        log(&mut tx, None, now_ms, REQUEST, 1, &[Deleted { id: kept, sha256 }], actor).await?;
        let entry = AuditEntry::EraseOnRequest { case: None, kept: Some(kept), reason: reason.trim().to_string() };
        audit_in(&mut tx, now_ms, actor, &entry).await?;
        tx.commit().await?;
        self.remove_blobs_now(&gone).await?;
        Ok(true)
    }
}

/// The content hash (`retention::raw_hash`) of the raw mail of a row of `table` (cases or kept), for the Löschprotokoll.
async fn raw_hash_of(tx: &mut sqlx::Transaction<'_, sqlx::Any>, table: &str, id: i64) -> Result<Option<String>> {
    let sql = format!(
        "SELECT r.blob, r.data, r.sealed FROM {table} t JOIN raw_messages r ON r.id = t.raw_id WHERE t.id = $1"
    );
    let row = sqlx::query(sqlx::AssertSqlSafe(sql)).bind(id).fetch_optional(&mut **tx).await?;
    let Some(row) = row else { return Ok(None) };
    Ok(Some(crate::retention::raw_hash(row.try_get(0)?, row.try_get(1)?, row.try_get(2)?)))
}
