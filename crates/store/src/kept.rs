//! „Nicht zugeordnete E-Mails“: mails kept with their reason instead of becoming a Vorgang.

use postkorb_core::{Decision, KeepReason};
use postkorb_mail::InboundMail;
use serde::Serialize;
use sqlx::Row;
use sqlx::any::AnyRow;

use crate::case_write::{CaseChange, NewCase, apply};
use crate::events::Via;
use crate::{Result, Store, StoreError};

#[derive(Clone, Debug, Serialize)]
pub struct KeptMail {
    pub id: i64,
    pub mailbox_id: Option<i64>,
    pub raw_id: i64,
    pub reason_code: String,
    pub reason_detail: String,
    pub from_addr: Option<String>,
    pub subject: String,
    pub received_ms: i64,
    /// open | routed | discarded
    pub status: String,
    pub case_id: Option<i64>,
}

impl KeptMail {
    pub fn reason(&self) -> Option<KeepReason> {
        KeepReason::from_code(&self.reason_code, &self.reason_detail)
    }
}

const COLUMNS: &str =
    "id, mailbox_id, raw_id, reason_code, reason_detail, from_addr, subject, received_ms, status, case_id";

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
        sqlx::query("INSERT INTO audit_log (at_ms, actor, action, detail) VALUES ($1, $2, 'discard_kept', $3)")
            .bind(now_ms)
            .bind(actor)
            .bind(format!("kept mail {id}"))
            .execute(&mut *tx)
            .await?;
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
        let claimed = sqlx::query(
            "UPDATE kept SET status = 'routed', resolved_by = $1, resolved_ms = $2 WHERE id = $3 AND status = 'open'",
        )
        .bind(actor)
        .bind(now_ms)
        .bind(id)
        .execute(&mut *tx)
        .await?;
        if claimed.rows_affected() == 0 {
            return Err(StoreError::Invalid(format!("kept mail {id} is not open")));
        }
        // The sender of this mail was never verified: the Vorgang says so, and who decided.
        let unverified = kept.reason().is_some_and(|r| r.is_unverified());
        let new = NewCase {
            mailbox_id: kept.mailbox_id,
            raw_id: kept.raw_id,
            mail,
            decision,
            via: Via::Kept { kept_id: id, actor, unverified },
        };
        let case_id = apply(&mut tx, self.backend, now_ms, CaseChange::Create(vec![new])).await?[0];
        sqlx::query("UPDATE kept SET case_id = $1 WHERE id = $2").bind(case_id).bind(id).execute(&mut *tx).await?;
        sqlx::query("UPDATE ledger SET outcome = 'case', case_id = $1 WHERE kept_id = $2")
            .bind(case_id)
            .bind(id)
            .execute(&mut *tx)
            .await?;
        sqlx::query("INSERT INTO audit_log (at_ms, actor, action, detail) VALUES ($1, $2, 'reroute_kept', $3)")
            .bind(now_ms)
            .bind(actor)
            .bind(if unverified {
                format!("kept mail {id} (Absender nicht verifiziert) -> Vorgang {case_id}, von Hand zugeordnet")
            } else {
                format!("kept mail {id} -> Vorgang {case_id}")
            })
            .execute(&mut *tx)
            .await?;
        tx.commit().await?;
        Ok(Ok(case_id))
    }
}
