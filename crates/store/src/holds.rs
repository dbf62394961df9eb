//! Sperren (issue 18, migration 0026): a legal hold („Aufbewahrung“) or a restriction of processing
//! („Einschränkung der Verarbeitung“, Art. 18 DSGVO) on a Vorgang or a kept mail, with a reason and
//! an end or review date. While one holds (not lifted), no deletion run touches what it is on
//! (`retention.rs`, `case_write::delete`); a restriction also hides a Vorgang from everyone without
//! „Datenschutz verwalten“ (`auth::may_open`, and the lists and the search through
//! [`hidden_sql`]). Setting and lifting are audited in the same transaction.

use postkorb_core::AuditEntry;
use postkorb_core::retention::HoldKind;
use sqlx::Row;

use crate::audit::audit_in;
use crate::import::clean;
use crate::{Result, Store, StoreError};

/// What a Sperre is on.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum HoldTarget {
    Case(i64),
    Kept(i64),
}

/// One Sperre as stored.
#[derive(Clone, Debug)]
pub struct Hold {
    pub id: i64,
    pub target: HoldTarget,
    pub kind: HoldKind,
    pub reason: String,
    pub until_ms: i64,
    pub created_ms: i64,
    pub created_by: String,
    pub lifted_ms: Option<i64>,
    pub lifted_by: Option<String>,
}

/// How many of one assignee's Vorgänge an „Einschränkung der Verarbeitung“ hides, by the
/// Startmaske's counts: the lists leave them out ([`hidden_sql`]), so the counts subtract these
/// (`case_counts` counts every Vorgang; a Sperre changes no Vorgang, so it stays as it is).
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct HiddenCounts {
    /// Every non-moved one (`count_cases`).
    pub total: i64,
    /// Not done (`count_open`).
    pub open: i64,
    /// Open with a Wiedervorlage after `now` (`count_follow_ups(.., false, now)`).
    pub pending: i64,
    /// Open with a Wiedervorlage up to `now` (`count_follow_ups(.., true, now)`).
    pub due: i64,
    /// Claimed after `since` (`new_cases_since`).
    pub new_since: i64,
}

/// SQL: the Vorgang `{case}` (an expression) is under an „Einschränkung der Verarbeitung“ in force.
/// Lists and the search add `AND NOT ({hidden_sql})` for anyone without „Datenschutz verwalten“.
pub fn hidden_sql(case: &str) -> String {
    format!(
        "EXISTS (SELECT 1 FROM holds hh WHERE hh.case_id = {case} AND hh.kind = 'restriction' AND hh.lifted_ms IS NULL)"
    )
}

impl Store {
    /// Sets a Sperre (checked by `postkorb_core::retention::check_hold` before) and audits it.
    pub async fn set_hold(
        &self,
        target: HoldTarget,
        kind: HoldKind,
        reason: &str,
        until_ms: i64,
        actor: &str,
        now_ms: i64,
    ) -> Result<i64> {
        let mut tx = self.begin_write().await?;
        let (case, kept) = match target {
            HoldTarget::Case(id) => (Some(id), None),
            HoldTarget::Kept(id) => (None, Some(id)),
        };
        let exists = match target {
            HoldTarget::Case(id) => sqlx::query("SELECT 1 FROM cases WHERE id = $1 AND status <> 'moved'").bind(id),
            HoldTarget::Kept(id) => sqlx::query("SELECT 1 FROM kept WHERE id = $1").bind(id),
        }
        .fetch_optional(&mut *tx)
        .await?;
        if exists.is_none() {
            return Err(StoreError::NotFound(format!("{target:?}")));
        }
        let row = sqlx::query(
            "INSERT INTO holds (case_id, kept_id, kind, reason, until_ms, created_ms, created_by)
             VALUES ($1, $2, $3, $4, $5, $6, $7) RETURNING id",
        )
        .bind(case)
        .bind(kept)
        .bind(kind.code())
        .bind(clean(reason.trim()))
        .bind(until_ms)
        .bind(now_ms)
        .bind(actor)
        .fetch_one(&mut *tx)
        .await?;
        let hold: i64 = row.try_get(0)?;
        let entry = AuditEntry::SetHold { hold, case, kept, kind: kind.code().into(), until_ms };
        audit_in(&mut tx, now_ms, actor, &entry).await?;
        tx.commit().await?;
        Ok(hold)
    }

    /// Lifts a Sperre in force (false: none such, or lifted already) and audits it.
    pub async fn lift_hold(&self, id: i64, actor: &str, now_ms: i64) -> Result<bool> {
        let mut tx = self.begin_write().await?;
        let row = sqlx::query(
            "UPDATE holds SET lifted_ms = $1, lifted_by = $2 WHERE id = $3 AND lifted_ms IS NULL
             RETURNING case_id, kept_id, kind",
        )
        .bind(now_ms)
        .bind(actor)
        .bind(id)
        .fetch_optional(&mut *tx)
        .await?;
        let Some(row) = row else { return Ok(false) };
        let entry =
            AuditEntry::LiftHold { hold: id, case: row.try_get(0)?, kept: row.try_get(1)?, kind: row.try_get(2)? };
        audit_in(&mut tx, now_ms, actor, &entry).await?;
        tx.commit().await?;
        Ok(true)
    }

    /// The Sperren of a Vorgang or a kept mail, those in force first, newest first.
    pub async fn holds(&self, target: HoldTarget) -> Result<Vec<Hold>> {
        let (column, id) = match target {
            HoldTarget::Case(id) => ("case_id", id),
            HoldTarget::Kept(id) => ("kept_id", id),
        };
        let sql = format!(
            "SELECT id, case_id, kept_id, kind, reason, until_ms, created_ms, created_by, lifted_ms, lifted_by
             FROM holds WHERE {column} = $1 ORDER BY (CASE WHEN lifted_ms IS NULL THEN 0 ELSE 1 END), id DESC"
        );
        let rows = sqlx::query(sqlx::AssertSqlSafe(sql)).bind(id).fetch_all(&self.pool).await?;
        rows.iter()
            .map(|r| {
                let kind: String = r.try_get(3)?;
                Ok(Hold {
                    id: r.try_get(0)?,
                    target,
                    kind: HoldKind::from_code(&kind).unwrap_or(HoldKind::Retention),
                    reason: r.try_get(4)?,
                    until_ms: r.try_get(5)?,
                    created_ms: r.try_get(6)?,
                    created_by: r.try_get(7)?,
                    lifted_ms: r.try_get(8)?,
                    lifted_by: r.try_get(9)?,
                })
            })
            .collect()
    }

    /// The assignee's Vorgänge hidden by a restriction in force, counted as the Startmaske counts
    /// (read through the few Sperren in force, never the assignee's Vorgänge).
    pub async fn hidden_counts(
        &self,
        assignee: postkorb_core::EmployeeId,
        since_ms: i64,
        now_ms: i64,
    ) -> Result<HiddenCounts> {
        let rows = sqlx::query(
            // CROSS JOIN: SQLite walks the few Sperren and looks each Vorgang up; with `IN (…)`
            // it walked the assignee's Vorgänge instead (22 ms a Startmaske view at 1,000,000,
            // bench/search.py). PostgreSQL reads CROSS JOIN … WHERE as the inner join it is.
            // (DISTINCT: a Vorgang under two Sperren counts once.)
            "SELECT c.status, c.follow_up_ms, c.claimed_ms
             FROM (SELECT DISTINCT case_id FROM holds
                   WHERE kind = 'restriction' AND lifted_ms IS NULL AND case_id IS NOT NULL) h
             CROSS JOIN cases c
             WHERE c.id = h.case_id AND c.assignee = $1",
        )
        .bind(assignee.0)
        .fetch_all(&self.pool)
        .await?;
        let mut n = HiddenCounts::default();
        for r in &rows {
            let status: String = r.try_get(0)?;
            let follow_up: Option<i64> = r.try_get(1)?;
            let claimed: Option<i64> = r.try_get(2)?;
            // `new_cases_since` counts a moved one too; no other count does.
            if claimed.is_some_and(|c| c > since_ms) {
                n.new_since += 1;
            }
            if status == "moved" {
                continue;
            }
            n.total += 1;
            if status != "done" {
                n.open += 1;
            }
            if status == "open" {
                match follow_up {
                    Some(f) if f > now_ms => n.pending += 1,
                    Some(_) => n.due += 1,
                    None => {}
                }
            }
        }
        Ok(n)
    }

    /// Whether a Vorgang is under an „Einschränkung der Verarbeitung“ in force.
    pub async fn case_restricted(&self, case_id: i64) -> Result<bool> {
        let sql = format!("SELECT 1 FROM cases WHERE id = $1 AND {}", hidden_sql("cases.id"));
        Ok(sqlx::query(sqlx::AssertSqlSafe(sql)).bind(case_id).fetch_optional(&self.pool).await?.is_some())
    }
}
