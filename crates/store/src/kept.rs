//! „Nicht zugeordnete E-Mails“: mails kept with their reason instead of becoming a Vorgang.

use postkorb_core::{AuditEntry, Decision, EmployeeId, KeepReason, Person};
use postkorb_mail::InboundMail;
use serde::Serialize;
use sqlx::Row;
use sqlx::any::AnyRow;

use crate::audit::audit_in;
use crate::case_write::{CaseChange, NewCase, apply};
use crate::events::{ByHand, Via};
use crate::{Result, Store, StoreError};

#[derive(Clone, Debug, Serialize)]
pub struct KeptMail {
    pub id: i64,
    pub mailbox_id: Option<i64>,
    pub raw_id: i64,
    pub reason_code: String,
    /// The typed reason as JSON; on rows from before reasons were typed, a free English detail.
    pub reason_detail: String,
    pub from_addr: Option<String>,
    pub subject: String,
    pub received_ms: i64,
    /// open | routed | discarded
    pub status: String,
    pub case_id: Option<i64>,
    /// When it was kept (the retention run's moment for an open one, `RetentionClass::KeptOpen`).
    pub kept_ms: i64,
    /// A Sperre in force holds it (issue 18): no deletion run takes it, so no warning either.
    pub held: bool,
    /// An „Einschränkung der Verarbeitung“ is in force (art. 18): only holders of „Datenschutz
    /// verwalten“ see it (the screens and the API filter; not part of the API's answer).
    #[serde(skip)]
    pub restricted: bool,
}

impl KeptMail {
    /// The typed reason (for an old row: the kind, classified from its free detail).
    pub fn reason(&self) -> Option<KeepReason> {
        self.reason_with_old_text().map(|(r, _)| r)
    }

    /// The typed reason and, for a row from before reasons were typed, its old free detail (shown
    /// behind „Details“ only).
    pub fn reason_with_old_text(&self) -> Option<(KeepReason, Option<String>)> {
        match serde_json::from_str::<KeepReason>(&self.reason_detail) {
            Ok(r) if r.code() == self.reason_code => Some((r, None)),
            _ => KeepReason::from_legacy(&self.reason_code, &self.reason_detail),
        }
    }
}

/// What the `reason_detail` column holds for a new kept mail: the typed reason as JSON.
pub(crate) fn stored_reason(reason: &KeepReason) -> String {
    crate::import::clean(&serde_json::to_string(reason).unwrap_or_default())
}

const COLUMNS: &str = "id, mailbox_id, raw_id, reason_code, reason_detail, from_addr, subject, received_ms, status, case_id, \
     kept_ms, CAST((CASE WHEN EXISTS (SELECT 1 FROM holds h WHERE h.kept_id = kept.id AND h.lifted_ms IS NULL) \
     THEN 1 ELSE 0 END) AS BIGINT) AS held, \
     CAST((CASE WHEN EXISTS (SELECT 1 FROM holds h WHERE h.kept_id = kept.id AND h.kind = 'restriction' \
     AND h.lifted_ms IS NULL) THEN 1 ELSE 0 END) AS BIGINT) AS restricted";

fn from_row(r: &AnyRow) -> Result<KeptMail> {
    Ok(KeptMail {
        id: r.try_get("id")?,
        mailbox_id: r.try_get("mailbox_id")?,
        raw_id: r.try_get("raw_id")?,
        reason_code: r.try_get("reason_code")?,
        reason_detail: r.try_get("reason_detail")?,
        from_addr: r.try_get("from_addr")?,
        subject: r.try_get("subject")?,
        received_ms: r.try_get("received_ms")?,
        status: r.try_get("status")?,
        case_id: r.try_get("case_id")?,
        kept_ms: r.try_get("kept_ms")?,
        held: r.try_get::<i64, _>("held")? != 0,
        restricted: r.try_get::<i64, _>("restricted")? != 0,
    })
}

impl Store {
    /// Kept mails, newest first; `open_only` hides the routed and discarded ones.
    pub async fn kept(&self, open_only: bool, limit: i64, offset: i64) -> Result<Vec<KeptMail>> {
        let sql = format!(
            "SELECT {COLUMNS} FROM kept WHERE ($1 = 0 OR status = 'open') ORDER BY kept_ms DESC, id DESC LIMIT $2 OFFSET $3"
        );
        let rows = sqlx::query(sqlx::AssertSqlSafe(sql))
            .bind(open_only as i64)
            .bind(limit)
            .bind(offset)
            .fetch_all(&self.pool)
            .await?;
        rows.iter().map(from_row).collect()
    }

    /// How many kept mails wait for an admin.
    pub async fn count_open_kept(&self) -> Result<i64> {
        let r = sqlx::query("SELECT COUNT(*) FROM kept WHERE status = 'open'").fetch_one(&self.pool).await?;
        Ok(r.try_get(0)?)
    }

    pub async fn kept_mail(&self, id: i64) -> Result<KeptMail> {
        let sql = format!("SELECT {COLUMNS} FROM kept WHERE id = $1");
        let row = sqlx::query(sqlx::AssertSqlSafe(sql))
            .bind(id)
            .fetch_optional(&self.pool)
            .await?
            .ok_or_else(|| StoreError::NotFound(format!("kept mail {id}")))?;
        from_row(&row)
    }

    /// Discards a kept mail (the raw bytes stay; the audit log says who).
    pub async fn discard_kept(&self, id: i64, actor: &str, now_ms: i64) -> Result<()> {
        let mut tx = self.begin_write().await?;
        let done = sqlx::query("UPDATE kept SET status = 'discarded', resolved_by = $1, resolved_ms = $2 WHERE id = $3 AND status = 'open'")
            .bind(actor)
            .bind(now_ms)
            .bind(id)
            .execute(&mut *tx)
            .await?;
        if done.rows_affected() == 0 {
            return Err(StoreError::Invalid(format!("kept mail {id} is not open")));
        }
        let subject: String =
            sqlx::query("SELECT subject FROM kept WHERE id = $1").bind(id).fetch_one(&mut *tx).await?.try_get(0)?;
        audit_in(&mut tx, now_ms, actor, &AuditEntry::DiscardKept { kept: id, subject }).await?;
        tx.commit().await?;
        Ok(())
    }

    /// Routes a kept mail again (after the admin created the missing row): if the decision is a
    /// Vorgang, it is created from the kept raw bytes (through `case_write::apply`, like the
    /// import's) and the kept entry is marked routed.
    /// Returns the new Vorgang's id, or the reason it still cannot be routed (nothing changes then).
    pub async fn reroute_kept(
        &self,
        id: i64,
        mail: &InboundMail,
        decision: &Decision,
        actor: &str,
        now_ms: i64,
    ) -> Result<Result<i64, KeepReason>> {
        if let Decision::Keep(reason) = decision {
            return Ok(Err(reason.clone()));
        }
        let kept = self.kept_mail(id).await?;
        if kept.status != "open" {
            return Err(StoreError::Invalid(format!("kept mail {id} is not open")));
        }
        let mut tx = self.begin_write().await?;
        take_open(&mut tx, id, actor, now_ms).await?;
        let seal = self.sealed_raw(&mut tx, kept.raw_id).await?;
        // The sender of this mail was never verified: the Vorgang says so, and who decided.
        let unverified = kept.reason().is_some_and(|r| r.is_unverified());
        let new = NewCase {
            mailbox_id: kept.mailbox_id,
            raw_id: kept.raw_id,
            mail,
            decision,
            via: Via::Kept { kept_id: id, actor, unverified, by_hand: None },
            seal: seal.as_ref(),
            terms: None,
        };
        let case_id = apply(&mut tx, self.backend, now_ms, CaseChange::Create(vec![new])).await?[0];
        sqlx::query("UPDATE kept SET case_id = $1 WHERE id = $2").bind(case_id).bind(id).execute(&mut *tx).await?;
        sqlx::query("UPDATE ledger SET outcome = 'case', case_id = $1 WHERE kept_id = $2")
            .bind(case_id)
            .bind(id)
            .execute(&mut *tx)
            .await?;
        let entry = AuditEntry::RerouteKept { kept: id, subject: kept.subject.clone(), case: case_id, unverified };
        audit_in(&mut tx, now_ms, actor, &entry).await?;
        tx.commit().await?;
        Ok(Ok(case_id))
    }

    /// „Nur diese E-Mail zuweisen an …“: makes a Vorgang of the open kept mail `id` for `to` alone,
    /// without creating a row (so the next mail of this sender is kept again). The Vorgang keeps the
    /// mail's arrival time; its Verlauf says who routed it by hand and why it had been kept (and, for
    /// an unverified sender, the usual warning); the audit log has a `route_once` entry.
    /// `to` must be eligible as An now (Aktuell, licence): checked here, in the transaction.
    pub async fn route_once(
        &self,
        id: i64,
        mail: &InboundMail,
        to: EmployeeId,
        actor: &str,
        now_ms: i64,
    ) -> Result<i64> {
        let kept = self.kept_mail(id).await?;
        let reason = kept.reason();
        let employees = self.employees().await?;
        let Some(person) = employees.iter().find(|e| e.id == to) else {
            return Err(StoreError::NotFound(format!("employee {to}")));
        };
        if let Err(rule) = person.check_an() {
            return Err(StoreError::Rules(crate::RuleErrors(vec![rule])));
        }
        let sender = mail
            .sender
            .as_ref()
            .ok()
            .and_then(|a| employees.iter().find(|e| e.work_email.as_ref() == Some(a)))
            .map(|e| e.id);
        let mut tx = self.begin_write().await?;
        take_open(&mut tx, id, actor, now_ms).await?;
        let seal = self.sealed_raw(&mut tx, kept.raw_id).await?;
        let unverified = reason.as_ref().is_some_and(|r| r.is_unverified());
        let decision = Decision::Assign { sender: sender.unwrap_or(to), to };
        let by_hand = ByHand { reason: &kept.reason_code, sender, received_ms: kept.received_ms };
        let new = NewCase {
            mailbox_id: kept.mailbox_id,
            raw_id: kept.raw_id,
            mail,
            decision: &decision,
            via: Via::Kept { kept_id: id, actor, unverified, by_hand: Some(by_hand) },
            seal: seal.as_ref(),
            terms: None,
        };
        let case_id = apply(&mut tx, self.backend, now_ms, CaseChange::Create(vec![new])).await?[0];
        sqlx::query("UPDATE kept SET case_id = $1 WHERE id = $2").bind(case_id).bind(id).execute(&mut *tx).await?;
        sqlx::query("UPDATE ledger SET outcome = 'case', case_id = $1 WHERE kept_id = $2")
            .bind(case_id)
            .bind(id)
            .execute(&mut *tx)
            .await?;
        let entry = AuditEntry::RouteOnce {
            kept: id,
            subject: kept.subject.clone(),
            to: Person::of(person),
            case: case_id,
            unverified,
        };
        audit_in(&mut tx, now_ms, actor, &entry).await?;
        tx.commit().await?;
        Ok(case_id)
    }
}

/// Marks the open kept mail `id` as routed by `actor` in `tx`; refused when someone else routed or
/// discarded it meanwhile (the row is no longer open).
async fn take_open(tx: &mut sqlx::Transaction<'_, sqlx::Any>, id: i64, actor: &str, now_ms: i64) -> Result<()> {
    let claimed = sqlx::query(
        "UPDATE kept SET status = 'routed', resolved_by = $1, resolved_ms = $2 WHERE id = $3 AND status = 'open'",
    )
    .bind(actor)
    .bind(now_ms)
    .bind(id)
    .execute(&mut **tx)
    .await?;
    if claimed.rows_affected() == 0 {
        return Err(StoreError::Invalid(format!("kept mail {id} is not open")));
    }
    Ok(())
}
