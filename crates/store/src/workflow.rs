//! Working a Vorgang (issue 16): „Weitergeben“, „Zurückgeben“, „Notiz“ and „Wiedervorlage“ —
//! each one `CaseChange` through `case_write::apply` with its event — and the lists and counts
//! of the Startmaske's tabs that depend on the Wiedervorlage.
//!
//! **Invariant:** of racing changes of one Vorgang (hand-overs, give-backs, claims) exactly one
//! wins: each is a conditional UPDATE on the state the caller saw; the losers get
//! `StoreError::Refused` naming what happened meanwhile, read in the same transaction.

use postkorb_core::{CaseRefusal, EmployeeId};
use sqlx::{Any, Row, Transaction};

use crate::case_write::{CaseChange, apply};
use crate::cases::{CaseNote, CaseSummary, START_SELECT, start_summary_from_row};
use crate::{Result, Store, StoreError};

/// An assignee's open Vorgänge with a Wiedervorlage date up to `$2` (due) or after it
/// (pending), in date order: a range of `cases_follow_up` (migration 0019). The Startmaske's
/// lists: its columns ([`START_SELECT`]).
fn follow_ups_sql(due: bool) -> String {
    let range = if due { "c.follow_up_ms <= $2" } else { "c.follow_up_ms > $2" };
    format!(
        "{START_SELECT} WHERE c.assignee = $1 AND c.status = 'open' AND c.follow_up_ms IS NOT NULL AND {range}
           AND NOT {}
         ORDER BY c.follow_up_ms, c.id LIMIT $3 OFFSET $4",
        crate::holds::hidden_sql("c.id")
    )
}

/// What [`Store::start_counts`] returns.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct StartCounts {
    /// All Vorgänge of the assignee (not moved).
    pub total: i64,
    /// Not done.
    pub open: i64,
    /// Open with a Wiedervorlage after `now`.
    pub pending: i64,
    /// Open with a Wiedervorlage up to `now` („fällig“).
    pub due: i64,
}

/// How many of them: the same index range.
fn count_follow_ups_sql(due: bool) -> String {
    let range = if due { "follow_up_ms <= $2" } else { "follow_up_ms > $2" };
    format!(
        "SELECT COUNT(*) FROM cases WHERE assignee = $1 AND status = 'open' AND follow_up_ms IS NOT NULL AND {range}"
    )
}

/// The Startmaske's counts of `$1` at `$2` in one statement ([`Store::start_counts`]): each is
/// the statement of its own method, as a scalar subquery reading the same row or index range.
pub(crate) fn start_counts_sql() -> String {
    format!(
        "SELECT COALESCE(({}), 0), COALESCE(({}), 0), ({}), ({})",
        crate::sessions::COUNT_CASES_SQL,
        crate::cases::COUNT_OPEN_SQL,
        count_follow_ups_sql(false),
        count_follow_ups_sql(true)
    )
}

/// What the state of the Vorgang says about a refused change (read in the change's transaction).
async fn explain(
    tx: &mut Transaction<'_, Any>,
    case_id: i64,
    from: EmployeeId,
    to: Option<EmployeeId>,
) -> Result<CaseRefusal> {
    let row = sqlx::query(
        "SELECT c.status, c.assignee, e.name,
            (SELECT COUNT(*) FROM case_events ev WHERE ev.case_id = c.id AND ev.kind = 'waiting') AS pooled
         FROM cases c LEFT JOIN employees e ON e.id = c.assignee WHERE c.id = $1",
    )
    .bind(case_id)
    .fetch_optional(&mut **tx)
    .await?
    .ok_or_else(|| StoreError::NotFound(format!("Vorgang {case_id}")))?;
    let status: String = row.try_get(0)?;
    let assignee: Option<i64> = row.try_get(1)?;
    let name: Option<String> = row.try_get(2)?;
    let pooled: i64 = row.try_get(3)?;
    Ok(match status.as_str() {
        "waiting" => CaseRefusal::Waiting,
        "open" if assignee != Some(from.0) => CaseRefusal::TakenBy(name.unwrap_or_default()),
        "open" => match to {
            Some(to) if to == from => CaseRefusal::SameReceiver,
            Some(to) => {
                let receiver = sqlx::query("SELECT name FROM employees WHERE id = $1")
                    .bind(to.0)
                    .fetch_optional(&mut **tx)
                    .await?
                    .ok_or_else(|| StoreError::NotFound(format!("employee {to}")))?;
                CaseRefusal::ReceiverNotEligible(receiver.try_get(0)?)
            }
            None if pooled == 0 => CaseRefusal::NotFromPool,
            None => CaseRefusal::NoOtherCandidate,
        },
        _ => CaseRefusal::NotOpen,
    })
}

impl Store {
    /// „Weitergeben“: `by` hands the open Vorgang `case_id` of `from` (the Bearbeiter the caller
    /// saw) to `to`, with an optional note (checked by `postkorb_core::workflow::check_note`).
    /// The caller has checked that `by` may (`postkorb_core::may_work`); whether `to` may receive
    /// is checked inside the write. `to` gets it as new (`claimed_ms` = now).
    pub async fn hand_over(
        &self,
        case_id: i64,
        from: EmployeeId,
        to: EmployeeId,
        by: EmployeeId,
        note: Option<&str>,
        now_ms: i64,
    ) -> Result<()> {
        let mut tx = self.begin_write().await?;
        let change = CaseChange::HandOver { case_id, from, to, by, note };
        if apply(&mut tx, self.backend, now_ms, change).await?.is_empty() {
            let why = explain(&mut tx, case_id, from, Some(to)).await?;
            tx.rollback().await?;
            return Err(StoreError::Refused(why));
        }
        tx.commit().await?;
        Ok(())
    }

    /// „Zurückgeben“: the open Vorgang of `from`, which came from a pool, waits again for the
    /// pool's other candidates (see `CaseChange::GiveBack`).
    pub async fn give_back(&self, case_id: i64, from: EmployeeId, by: EmployeeId, now_ms: i64) -> Result<()> {
        let mut tx = self.begin_write().await?;
        if apply(&mut tx, self.backend, now_ms, CaseChange::GiveBack { case_id, from, by }).await?.is_empty() {
            let why = explain(&mut tx, case_id, from, None).await?;
            tx.rollback().await?;
            return Err(StoreError::Refused(why));
        }
        tx.commit().await?;
        Ok(())
    }

    /// „Notiz“ by `by` (the caller checked that they may see the Vorgang and the text, see
    /// `postkorb_core::workflow::check_note`). Refused on a Vorgang moved to the kept mails.
    pub async fn add_note(&self, case_id: i64, by: EmployeeId, text: &str, now_ms: i64) -> Result<()> {
        let mut tx = self.begin_write().await?;
        if apply(&mut tx, self.backend, now_ms, CaseChange::AddNote { case_id, by, text }).await?.is_empty() {
            tx.rollback().await?;
            return Err(StoreError::Refused(CaseRefusal::NotOpen));
        }
        tx.commit().await?;
        Ok(())
    }

    /// „Wiedervorlage“ of an open Vorgang: set or change it (`due_ms`, see
    /// `postkorb_core::workflow::follow_up_at`), or remove it (`None`).
    pub async fn set_follow_up(
        &self,
        case_id: i64,
        by: EmployeeId,
        due_ms: Option<i64>,
        reason: Option<&str>,
        now_ms: i64,
    ) -> Result<()> {
        let mut tx = self.begin_write().await?;
        let change = CaseChange::SetFollowUp { case_id, by, due_ms, reason };
        if apply(&mut tx, self.backend, now_ms, change).await?.is_empty() {
            tx.rollback().await?;
            return Err(StoreError::Refused(CaseRefusal::NotOpen));
        }
        tx.commit().await?;
        Ok(())
    }

    /// „Wiedervorlage fällig“ (issue 17): writes the `follow_up_due` event of up to `limit` open
    /// Vorgänge whose Wiedervorlage date came by `now_ms` and was not announced yet (oldest date
    /// first), and returns them. Once per date, also with two instances at once (a conditional
    /// UPDATE of `follow_up_announced_ms` in `case_write::apply`); a changed date comes again.
    /// Run by `serve` every minute and by `postkorb cases announce-due`.
    pub async fn announce_due_follow_ups(&self, now_ms: i64, limit: i64) -> Result<Vec<i64>> {
        let mut tx = self.begin_write().await?;
        let announced = apply(&mut tx, self.backend, now_ms, CaseChange::AnnounceDue { limit }).await?;
        tx.commit().await?;
        Ok(announced)
    }

    /// The notes of a Vorgang, oldest first.
    pub async fn notes(&self, case_id: i64) -> Result<Vec<CaseNote>> {
        let rows = sqlx::query("SELECT id, at_ms, author, text FROM case_notes WHERE case_id = $1 ORDER BY id")
            .bind(case_id)
            .fetch_all(&self.pool)
            .await?;
        rows.iter()
            .map(|r| {
                Ok(CaseNote { id: r.try_get(0)?, at_ms: r.try_get(1)?, author: r.try_get(2)?, text: r.try_get(3)? })
            })
            .collect()
    }

    /// The assignee's open Vorgänge with a Wiedervorlage date: the due ones (date reached at
    /// `now_ms`: back under „Offen“, „fällig“) or the pending ones („Wiedervorlage“), by date.
    /// The Startmaske's lists, so with its columns ([`Store::start_page`]): no `last_note`, no
    /// `on_behalf_of_name`.
    pub async fn follow_ups(
        &self,
        assignee: EmployeeId,
        due: bool,
        now_ms: i64,
        limit: i64,
        offset: i64,
    ) -> Result<Vec<CaseSummary>> {
        let rows = sqlx::query(sqlx::AssertSqlSafe(follow_ups_sql(due)))
            .bind(assignee.0)
            .bind(now_ms)
            .bind(limit)
            .bind(offset)
            .fetch_all(&self.pool)
            .await?;
        rows.iter().map(start_summary_from_row).collect()
    }

    /// The counts a Startmaske view shows, in one trip to the database instead of four:
    /// [`Store::count_cases`] and [`Store::count_open`] of `assignee`, and
    /// [`Store::count_follow_ups`] pending and due at `now_ms`. (Restricted Vorgänge included, as
    /// in each of those: the caller takes [`Store::hidden_counts`] off.)
    pub async fn start_counts(&self, assignee: EmployeeId, now_ms: i64) -> Result<StartCounts> {
        let r = sqlx::query(sqlx::AssertSqlSafe(start_counts_sql()))
            .bind(assignee.0)
            .bind(now_ms)
            .fetch_one(&self.pool)
            .await?;
        Ok(StartCounts { total: r.try_get(0)?, open: r.try_get(1)?, pending: r.try_get(2)?, due: r.try_get(3)? })
    }

    /// How many [`Store::follow_ups`] there are.
    pub async fn count_follow_ups(&self, assignee: EmployeeId, due: bool, now_ms: i64) -> Result<i64> {
        let r = sqlx::query(sqlx::AssertSqlSafe(count_follow_ups_sql(due)))
            .bind(assignee.0)
            .bind(now_ms)
            .fetch_one(&self.pool)
            .await?;
        Ok(r.try_get(0)?)
    }
}

#[cfg(test)]
pub(crate) fn plan_sqls() -> [(&'static str, String, i64); 4] {
    [
        ("due", follow_ups_sql(true), 4),
        ("pending", follow_ups_sql(false), 4),
        ("count due", count_follow_ups_sql(true), 2),
        ("count pending", count_follow_ups_sql(false), 2),
    ]
}
