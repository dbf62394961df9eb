//! Vorgänge: listing and reading them, and the store's calls that change one (the claim of
//! pooled ones, closing and reopening, moving orphaned pools to the kept mails) — each written
//! through `case_write::apply`, the one write path, with its event.
//!
//! **Invariant:** a pooled Vorgang is claimed by exactly one candidate. The claim is a single
//! conditional UPDATE (`status = 'waiting'` → `'open'`, `case_write::claim_sql`) that re-checks the
//! candidate's eligibility inside the statement, so racing claims — threads or instances — cannot
//! both win.

use postkorb_core::EmployeeId;
use serde::Serialize;
use sqlx::Row;
use sqlx::any::AnyRow;

use crate::case_write::{CaseChange, apply};
use crate::{Result, Store, StoreError};

/// SQL condition on the employees table aliased `t`: may receive (Aktuell + licence).
/// Mirrors `Employee::check_an`.
pub(crate) fn eligible_an(t: &str) -> String {
    format!("{t}.is_current = 1 AND {t}.license IS NOT NULL AND TRIM({t}.license) <> ''")
}

#[derive(Clone, Debug, Serialize)]
pub struct CaseSummary {
    pub id: i64,
    pub subject: String,
    pub from_addr: String,
    pub from_name: Option<String>,
    pub sender_employee: Option<i64>,
    pub status: String,
    pub assignee: Option<i64>,
    pub assignee_name: Option<String>,
    pub received_ms: i64,
    pub attachment_count: i64,
    /// When the assignee got it (at import, by a claim, or routed by hand); the Startmaske marks
    /// what came after the last visit as „neu“.
    pub claimed_ms: Option<i64>,
    /// „Wiedervorlage“: when it returns (an open Vorgang is under „Offen“ again from then on,
    /// „fällig“), and why.
    pub follow_up_ms: Option<i64>,
    pub follow_up_reason: Option<String>,
    /// The text of the newest note, if any (`None` in the Startmaske's lists, which do not show it:
    /// [`Store::start_page`], [`Store::follow_ups`]).
    pub last_note: Option<String>,
    /// The assignee got it as Vertreter for this absent person („in Vertretung für“).
    pub on_behalf_of: Option<i64>,
    /// Their name (`None` in the Startmaske's lists, as `last_note`).
    pub on_behalf_of_name: Option<String>,
    /// Under an „Einschränkung der Verarbeitung“ (issue 18): only holders of „Datenschutz
    /// verwalten“ may open it (`auth::may_open`), and no list or search shows it (`holds::hidden_sql`).
    /// In the API's answers (`restricted`): a list never has such a row, so it is true only
    /// where the viewer may see it (a holder of „Datenschutz verwalten“ opening the Vorgang).
    pub restricted: bool,
}

/// Which of an assignee's Vorgänge a list shows (the Startmaske's „offen“ / „erledigt“ / „alle“).
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub enum CaseFilter {
    #[default]
    All,
    Open,
    Done,
    /// Open without a Wiedervorlage date (the Startmaske's „Offen“ lists the due ones apart, see
    /// `Store::follow_ups`).
    Undated,
}

#[derive(Clone, Debug, Serialize)]
pub struct StoredAttachment {
    pub id: i64,
    pub name: String,
    pub content_type: String,
    pub size: i64,
}

/// An attachment's bytes as the store has them.
#[derive(Debug)]
pub enum AttachmentBytes {
    /// Written at import by an older version.
    Stored(Vec<u8>),
    /// To be decoded from the case's raw mail: the `index`-th attachment, as at import.
    InRaw { raw: Vec<u8>, index: usize },
}

#[derive(Clone, Debug, Serialize)]
pub struct CaseEvent {
    pub at_ms: i64,
    pub kind: String,
    pub employee_id: Option<i64>,
    pub detail: String,
    /// Who acted and for whom (see `events::Event::payload`); `{}` on rows before migration 0016.
    pub payload: serde_json::Value,
}

/// A „Notiz“ on a Vorgang.
#[derive(Clone, Debug, Serialize)]
pub struct CaseNote {
    pub id: i64,
    pub at_ms: i64,
    pub author: i64,
    pub text: String,
}

#[derive(Clone, Debug, Serialize)]
pub struct CaseDetail {
    pub summary: CaseSummary,
    pub sent_ms: Option<i64>,
    pub text: String,
    pub html: Option<String>,
    pub forwarded: Option<postkorb_mail::Forwarded>,
    pub warnings: Vec<postkorb_mail::Warning>,
    pub candidates: Vec<i64>,
    pub attachments: Vec<StoredAttachment>,
    pub events: Vec<CaseEvent>,
    /// Oldest first; the Verlauf places each at its `note_added` or `handed_over` event.
    pub notes: Vec<CaseNote>,
    pub raw_id: i64,
    /// The bodies (text, HTML, forwarded original, warnings) are not stored: they are made from
    /// the raw mail when the Vorgang is shown (migration 0012). Older rows hold them.
    #[serde(skip)]
    pub body_in_raw: bool,
    /// Who routed this Vorgang by hand although its sender was not verified (kept mail
    /// „Absender nicht verifiziert“); the Vorgang shows that warning.
    pub unverified_routed_by: Option<String>,
}

/// The columns of a [`CaseSummary`] (`cases c`, `employees e` joined on the assignee), for
/// [`summary_from_row`], which reads them by position (this order); the search selects them too.
/// The Startmaske's lists select only the first of them ([`START_SELECT`]: up to
/// `attachment_count`); `restricted` last: lists that leave restricted Vorgänge out select a 0
/// there instead ([`VISIBLE_SELECT`]), one lookup per row less.
macro_rules! start_columns {
    () => {
        "c.id, c.subject, c.from_addr, c.from_name, c.sender_employee, c.status, c.assignee,
        e.name AS assignee_name, c.received_ms, c.claimed_ms, c.follow_up_ms, c.follow_up_reason, c.on_behalf_of,
        (SELECT COUNT(*) FROM attachments a WHERE a.case_id = c.id) AS attachment_count"
    };
}
macro_rules! summary_columns_but_restricted {
    () => {
        concat!(
            $crate::cases::start_columns!(),
            ",
        (SELECT o.name FROM employees o WHERE o.id = c.on_behalf_of) AS on_behalf_of_name,
        (SELECT n.text FROM case_notes n WHERE n.case_id = c.id ORDER BY n.id DESC LIMIT 1) AS last_note"
        )
    };
}
macro_rules! summary_columns {
    () => {
        concat!(
            $crate::cases::summary_columns_but_restricted!(),
            ",
        (SELECT COUNT(*) FROM holds hh WHERE hh.case_id = c.id AND hh.kind = 'restriction' AND hh.lifted_ms IS NULL)
            AS restricted"
        )
    };
}
pub(crate) use {start_columns, summary_columns, summary_columns_but_restricted};

/// An assignee's number of open Vorgänge (`$1`), as [`Store::count_open`] reads it: no row, none.
pub(crate) const COUNT_OPEN_SQL: &str = "SELECT open_cases FROM case_counts WHERE employee_id = $1";

pub(crate) const SUMMARY_SELECT: &str =
    concat!("SELECT ", summary_columns!(), " FROM cases c LEFT JOIN employees e ON e.id = c.assignee");

/// [`SUMMARY_SELECT`] for a list whose condition leaves restricted Vorgänge out
/// (`NOT hidden_sql`): `restricted` is 0 on every row it can return, so it is not looked up.
pub(crate) const VISIBLE_SELECT: &str = concat!(
    "SELECT ",
    summary_columns_but_restricted!(),
    ", 0 AS restricted FROM cases c LEFT JOIN employees e ON e.id = c.assignee"
);

/// The Startmaske's lists (issues 16 and 19: a view at a million Vorgänge lists 25 rows, each of
/// whose columns sqlx copies twice): what its rows show ([`start_columns`]), read by
/// [`start_summary_from_row`] — no last note, no Vertretung name (`None` in those rows), and only
/// lists that leave restricted Vorgänge out. Its conditions are [`VISIBLE_SELECT`]'s.
pub(crate) const START_SELECT: &str =
    concat!("SELECT ", start_columns!(), " FROM cases c LEFT JOIN employees e ON e.id = c.assignee");

/// Which columns a list reads: all of a [`CaseSummary`], or the Startmaske's ([`START_SELECT`]).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(crate) enum Columns {
    All,
    Start,
}

impl Columns {
    /// The SELECT … FROM of a list that leaves restricted Vorgänge out.
    pub(crate) fn visible_select(self) -> &'static str {
        match self {
            Columns::All => VISIBLE_SELECT,
            Columns::Start => START_SELECT,
        }
    }

    pub(crate) fn read(self, r: &AnyRow) -> Result<CaseSummary> {
        match self {
            Columns::All => summary_from_row(r),
            Columns::Start => start_summary_from_row(r),
        }
    }
}

/// A page of Vorgänge (all, or one assignee's: `$1`), not done first, newest first.
///
/// The condition and the ORDER BY are exactly the expressions of the partial indexes
/// `cases_list_assignee` / `cases_list_all` (migration 0011): the page is read in index order and
/// the scan stops after LIMIT + OFFSET rows. Separate texts for the two cases, because an
/// `($1 = 0 OR assignee = $2)` would keep the database from using the index at all.
/// A status filter is the index's second expression fixed to 0 or 1, so it still reads in order.
///
/// `limit` and `offset` are written into the statement, not bound: PostgreSQL plans a statement
/// whose `LIMIT` is a parameter as if it asked for a tenth of the rows, finds that plan far dearer
/// than each call's own and so plans every call anew (0.4 ms of a 0.6 ms list at 1,000,000
/// Vorgänge); with the numbers in the text it keeps one plan per statement.
fn list_sql(columns: Columns, one_assignee: bool, filter: CaseFilter, limit: i64, offset: i64) -> String {
    let assignee = if one_assignee { "c.assignee = $1 AND " } else { "" };
    let limit = format!("LIMIT {} OFFSET {}", limit.max(0), offset.max(0));
    // With the status fixed, the order is the index's rest (SQLite would sort again otherwise).
    let (status, order) = match filter {
        CaseFilter::All => ("", "CASE c.status WHEN 'done' THEN 1 ELSE 0 END, "),
        CaseFilter::Open => ("(CASE c.status WHEN 'done' THEN 1 ELSE 0 END) = 0 AND ", ""),
        CaseFilter::Done => ("(CASE c.status WHEN 'done' THEN 1 ELSE 0 END) = 1 AND ", ""),
        // follow_up_ms is the index's last column (migration 0019): dated rows are skipped there.
        CaseFilter::Undated => {
            ("(CASE c.status WHEN 'done' THEN 1 ELSE 0 END) = 0 AND c.follow_up_ms IS NULL AND ", "")
        }
    };
    let hidden = crate::holds::hidden_sql("c.id");
    let select = columns.visible_select();
    format!(
        "{select} WHERE {assignee}{status}c.status <> 'moved' AND NOT {hidden}
         ORDER BY {order}c.received_ms DESC, c.id DESC {limit}"
    )
}

/// „Is employee `$1` a candidate of the Vorgang `{id}`“, as one lookup of the candidate key per
/// Vorgang. Written as a count, not EXISTS: both databases then evaluate it per waiting Vorgang,
/// whereas an EXISTS may be turned into a join that reads every candidate row of the employee —
/// one per Vorgang they ever got (PostgreSQL did, 15–35 ms at 25,000).
pub(crate) fn is_candidate(id: &str) -> String {
    format!("(SELECT COUNT(*) FROM case_candidates cc WHERE cc.case_id = {id} AND cc.employee_id = $1) > 0")
}

/// Waiting Vorgänge the employee `$1` is a candidate for: the waiting ones (index `cases_waiting`,
/// which holds their ids), each checked with [`is_candidate`]; only the rows found are read
/// (SQLite would otherwise read every waiting row for the join with employees before the check).
fn waiting_for_sql() -> String {
    format!(
        "{VISIBLE_SELECT} WHERE c.id IN (SELECT w.id FROM cases w WHERE w.status = 'waiting' AND {})
           AND NOT {}
         ORDER BY c.received_ms DESC, c.id DESC",
        is_candidate("w.id"),
        crate::holds::hidden_sql("c.id")
    )
}

/// What [`Store::claim_at_start`] returns.
#[derive(Debug)]
pub struct StartClaim {
    /// The Vorgänge this view won.
    pub won: Vec<i64>,
    /// What still waits for the employee afterwards (their candidate Vorgänge not won).
    pub waiting: Vec<CaseSummary>,
    /// The absences in force at the view's moment, and the employees for core's rules (empty
    /// when nobody is away).
    pub absences: Vec<postkorb_core::Absence>,
    pub staff: Vec<postkorb_core::Employee>,
}

pub(crate) fn summary_from_row(r: &AnyRow) -> Result<CaseSummary> {
    // By position, the order of `summary_columns!` (a name costs a lookup per column and row; the
    // search's extra column comes after these).
    let mut c = start_summary_from_row(r)?;
    c.on_behalf_of_name = r.try_get(14)?;
    c.last_note = r.try_get(15)?;
    c.restricted = r.try_get::<i64, _>(16)? > 0;
    Ok(c)
}

/// A row of [`START_SELECT`]: the first columns of `summary_columns!`.
pub(crate) fn start_summary_from_row(r: &AnyRow) -> Result<CaseSummary> {
    Ok(CaseSummary {
        id: r.try_get(0)?,
        subject: r.try_get(1)?,
        from_addr: r.try_get(2)?,
        from_name: r.try_get(3)?,
        sender_employee: r.try_get(4)?,
        status: r.try_get(5)?,
        assignee: r.try_get(6)?,
        assignee_name: r.try_get(7)?,
        received_ms: r.try_get(8)?,
        claimed_ms: r.try_get(9)?,
        follow_up_ms: r.try_get(10)?,
        follow_up_reason: r.try_get(11)?,
        on_behalf_of: r.try_get(12)?,
        attachment_count: r.try_get(13)?,
        on_behalf_of_name: None,
        last_note: None,
        restricted: false,
    })
}

impl Store {
    /// „Synchronisieren“ / start: gives `employee` every waiting Vorgang they are an eligible candidate
    /// for. Exactly once across racing callers. Returns the ids won by this call.
    pub async fn claim(&self, employee: EmployeeId, now_ms: i64) -> Result<Vec<i64>> {
        // A Vertreter also claims for the absent people they stand in for (core's `covered_by`).
        let covering = self.covering(employee, now_ms).await?;
        let mine = self.waiting_for(employee).await?;
        self.claim_covering(employee, now_ms, covering, !mine.is_empty()).await
    }

    /// [`Store::claim`] as the Startmaske needs it: with what the claim read anyway and the page
    /// shows — the absences in force and what still waits for `employee` afterwards — so a view
    /// does not read them twice. Not `eligible` (no licence, not Aktuell): nothing is claimed.
    pub async fn claim_at_start(&self, employee: EmployeeId, eligible: bool, now_ms: i64) -> Result<StartClaim> {
        let (absences, staff) = self.absences_at(now_ms).await?;
        if !eligible {
            return Ok(StartClaim { won: Vec::new(), waiting: Vec::new(), absences, staff });
        }
        let covering = postkorb_core::absence::covered_by(employee, now_ms, &absences, &staff);
        let mut waiting = self.waiting_for(employee).await?;
        let won = self.claim_covering(employee, now_ms, covering, !waiting.is_empty()).await?;
        // Read again only after a claim; else the first read is what waits (as at the next view).
        if !won.is_empty() || !waiting.is_empty() {
            waiting = self.waiting_for(employee).await?;
        }
        Ok(StartClaim { won, waiting, absences, staff })
    }

    /// The claim once it is known whether something waits for `employee` (`mine_waiting`) and whom
    /// they stand in for (`covering`).
    async fn claim_covering(
        &self,
        employee: EmployeeId,
        now_ms: i64,
        covering: Vec<EmployeeId>,
        mine_waiting: bool,
    ) -> Result<Vec<i64>> {
        // Most Startmaske views find nothing waiting: they then take no write transaction (and on
        // PostgreSQL not the event log's lock). A Vorgang that starts waiting right after this read
        // is claimed at the next view.
        let mut nothing = !mine_waiting;
        for absent in &covering {
            nothing = nothing && self.waiting_for(*absent).await?.is_empty();
        }
        if nothing {
            return Ok(Vec::new());
        }
        let mut tx = self.begin_write().await?;
        let won = apply(&mut tx, self.backend, now_ms, CaseChange::Claim { by: employee, covering }).await?;
        tx.commit().await?;
        Ok(won)
    }

    /// Moves waiting Vorgänge whose candidates all lost eligibility to the kept mails
    /// (reason „Kein Empfänger mehr berechtigt“). Returns the new kept ids.
    pub async fn sweep_orphan_pools(&self, now_ms: i64) -> Result<Vec<i64>> {
        let sql = format!(
            "SELECT c.id, c.raw_id, c.mailbox_id, c.from_addr, c.subject FROM cases c
             WHERE c.status = 'waiting' AND NOT EXISTS (
                SELECT 1 FROM case_candidates cc JOIN employees e ON e.id = cc.employee_id
                WHERE cc.case_id = c.id AND {}
             )",
            eligible_an("e")
        );
        let mut tx = self.begin_write().await?;
        // Before the kept rows: kept ids grow in commit order (`outbox.rs`).
        crate::case_write::lock_log(&mut tx, self.backend).await?;
        let orphans = sqlx::query(sqlx::AssertSqlSafe(sql)).fetch_all(&mut *tx).await?;
        let mut kept_ids = Vec::new();
        for r in orphans {
            let case_id: i64 = r.try_get(0)?;
            let row = sqlx::query(
                "INSERT INTO kept (mailbox_id, raw_id, reason_code, reason_detail, from_addr, subject, received_ms, kept_ms)
                 VALUES ($1, $2, 'no_candidate_left', '', $3, $4, $5, $5) RETURNING id",
            )
            .bind(r.try_get::<Option<i64>, _>(2)?)
            .bind(r.try_get::<i64, _>(1)?)
            .bind(r.try_get::<String, _>(3)?)
            .bind(r.try_get::<String, _>(4)?)
            .bind(now_ms)
            .fetch_one(&mut *tx)
            .await?;
            let kept_id: i64 = row.try_get(0)?;
            // Only if still waiting (a claim may have won meanwhile on another instance); the
            // event names the kept entry, so that is written first and taken back if not needed.
            let moved = apply(&mut tx, self.backend, now_ms, CaseChange::Move { case_id, kept_id }).await?;
            if moved.is_empty() {
                sqlx::query("DELETE FROM kept WHERE id = $1").bind(kept_id).execute(&mut *tx).await?;
                continue;
            }
            sqlx::query("UPDATE ledger SET outcome = 'kept', kept_id = $1, case_id = NULL WHERE case_id = $2")
                .bind(kept_id)
                .bind(case_id)
                .execute(&mut *tx)
                .await?;
            kept_ids.push(kept_id);
        }
        tx.commit().await?;
        Ok(kept_ids)
    }

    /// How many Vorgänge came from this sender address since `since_ms` (for the storm limit).
    pub async fn cases_from_since(&self, from_addr: &str, since_ms: i64) -> Result<i64> {
        let r = sqlx::query("SELECT COUNT(*) FROM cases WHERE from_addr = $1 AND received_ms >= $2")
            .bind(from_addr)
            .bind(since_ms)
            .fetch_one(&self.pool)
            .await?;
        Ok(r.try_get(0)?)
    }

    /// Vorgänge, optionally only those of one assignee, open first, newest first.
    ///
    /// The WHERE and ORDER BY are those of the indexes `cases_list_assignee` / `cases_list_all`
    /// (migration 0011), so a page is read in index order and the scan stops after `limit + offset`
    /// rows; keep them identical when changing either.
    pub async fn cases(&self, assignee: Option<EmployeeId>, limit: i64, offset: i64) -> Result<Vec<CaseSummary>> {
        self.cases_filtered(assignee, CaseFilter::All, limit, offset).await
    }

    /// [`Store::cases`], only the open or only the done ones when asked.
    pub async fn cases_filtered(
        &self,
        assignee: Option<EmployeeId>,
        filter: CaseFilter,
        limit: i64,
        offset: i64,
    ) -> Result<Vec<CaseSummary>> {
        self.list(Columns::All, assignee, filter, limit, offset).await
    }

    /// The Startmaske's page of `assignee`'s Vorgänge: [`Store::cases_filtered`] with the columns
    /// the Startmaske shows ([`START_SELECT`]): each row's `last_note` and `on_behalf_of_name` are
    /// `None` whatever the Vorgang holds. Every other list, the API's and the CLI's among them,
    /// reads [`Store::cases_filtered`].
    pub async fn start_page(
        &self,
        assignee: EmployeeId,
        filter: CaseFilter,
        limit: i64,
        offset: i64,
    ) -> Result<Vec<CaseSummary>> {
        self.list(Columns::Start, Some(assignee), filter, limit, offset).await
    }

    async fn list(
        &self,
        columns: Columns,
        assignee: Option<EmployeeId>,
        filter: CaseFilter,
        limit: i64,
        offset: i64,
    ) -> Result<Vec<CaseSummary>> {
        // A later page is asked rarely (and its offset is the caller's): not kept as a statement.
        let q = sqlx::query(sqlx::AssertSqlSafe(list_sql(columns, assignee.is_some(), filter, limit, offset)))
            .persistent(offset == 0);
        let q = match assignee {
            Some(a) => q.bind(a.0),
            None => q,
        };
        let rows = q.fetch_all(&self.pool).await?;
        rows.iter().map(|r| columns.read(r)).collect()
    }

    /// How many open Vorgänge `assignee` has (the done ones are the rest of `count_cases`): kept
    /// in `case_counts` by `case_write::apply` (migration 0021), since counting them on every
    /// Startmaske view cost as much as they are many.
    pub async fn count_open(&self, assignee: EmployeeId) -> Result<i64> {
        let r = sqlx::query(COUNT_OPEN_SQL).bind(assignee.0).fetch_optional(&self.pool).await?;
        Ok(r.map(|r| r.try_get(0)).transpose()?.unwrap_or(0))
    }

    /// Waiting Vorgänge this employee is a candidate for (what „Synchronisieren“ would give them).
    pub async fn waiting_for(&self, employee: EmployeeId) -> Result<Vec<CaseSummary>> {
        let rows = sqlx::query(sqlx::AssertSqlSafe(waiting_for_sql())).bind(employee.0).fetch_all(&self.pool).await?;
        rows.iter().map(summary_from_row).collect()
    }

    pub async fn case(&self, id: i64) -> Result<CaseDetail> {
        let sql = format!("{SUMMARY_SELECT} WHERE c.id = $1");
        let row = sqlx::query(sqlx::AssertSqlSafe(sql))
            .bind(id)
            .fetch_optional(&self.pool)
            .await?
            .ok_or_else(|| StoreError::NotFound(format!("Vorgang {id}")))?;
        let summary = summary_from_row(&row)?;
        let body = sqlx::query(
            "SELECT sent_ms, body_text, body_html, forwarded_json, warnings_json, raw_id, body_in_raw,
                 unverified_routed_by
             FROM cases WHERE id = $1",
        )
        .bind(id)
        .fetch_one(&self.pool)
        .await?;
        let forwarded: Option<String> = body.try_get(3)?;
        let warnings: String = body.try_get(4)?;
        let raw_id: i64 = body.try_get(5)?;
        let in_raw: i64 = body.try_get(6)?;
        // Rows of older versions hold the bodies; newer ones leave them to the raw mail, from which
        // the caller makes the view (`body_in_raw`; crates/web/src/view.rs).
        let text: String = body.try_get(1)?;
        let html: Option<String> = body.try_get(2)?;
        let forwarded: Option<postkorb_mail::Forwarded> = forwarded.and_then(|f| serde_json::from_str(&f).ok());
        // Typed since issue #15; older rows hold English strings (`StoredWarning` reads both).
        let warnings: Vec<postkorb_mail::Warning> =
            serde_json::from_str::<Vec<postkorb_mail::StoredWarning>>(&warnings)
                .map(|all| all.into_iter().map(Into::into).collect())
                .unwrap_or_default();
        let candidates = sqlx::query("SELECT employee_id FROM case_candidates WHERE case_id = $1 ORDER BY employee_id")
            .bind(id)
            .fetch_all(&self.pool)
            .await?
            .iter()
            .map(|r| r.try_get(0))
            .collect::<Result<_, _>>()?;
        let attachments =
            sqlx::query("SELECT id, name, content_type, size FROM attachments WHERE case_id = $1 ORDER BY position")
                .bind(id)
                .fetch_all(&self.pool)
                .await?
                .iter()
                .map(|r| {
                    Ok(StoredAttachment {
                        id: r.try_get(0)?,
                        name: r.try_get(1)?,
                        content_type: r.try_get(2)?,
                        size: r.try_get(3)?,
                    })
                })
                .collect::<Result<_>>()?;
        let events = sqlx::query(
            "SELECT at_ms, kind, employee_id, detail, payload FROM case_events WHERE case_id = $1 ORDER BY id",
        )
        .bind(id)
        .fetch_all(&self.pool)
        .await?
        .iter()
        .map(|r| {
            Ok(CaseEvent {
                at_ms: r.try_get(0)?,
                kind: r.try_get(1)?,
                employee_id: r.try_get(2)?,
                detail: r.try_get(3)?,
                payload: serde_json::from_str(&r.try_get::<String, _>(4)?).unwrap_or_else(|_| serde_json::json!({})),
            })
        })
        .collect::<Result<_>>()?;
        let notes = self.notes(id).await?;
        Ok(CaseDetail {
            summary,
            sent_ms: body.try_get(0)?,
            unverified_routed_by: body.try_get(7)?,
            text,
            html,
            forwarded,
            warnings,
            candidates,
            attachments,
            events,
            notes,
            raw_id,
            body_in_raw: in_raw != 0,
        })
    }

    /// One attachment's metadata and its bytes as stored: its own bytes (older versions), or the
    /// raw mail it is to be decoded from (`in_raw`; the caller decodes and checks the size, see
    /// crates/web/src/view.rs).
    pub async fn attachment(&self, case_id: i64, attachment_id: i64) -> Result<(StoredAttachment, AttachmentBytes)> {
        let r = sqlx::query(
            "SELECT a.id, a.name, a.content_type, a.size, a.data, a.blob, a.in_raw, a.position, c.raw_id, a.sealed
             FROM attachments a JOIN cases c ON c.id = a.case_id WHERE a.case_id = $1 AND a.id = $2",
        )
        .bind(case_id)
        .bind(attachment_id)
        .fetch_optional(&self.pool)
        .await?
        .ok_or_else(|| StoreError::NotFound(format!("attachment {attachment_id}")))?;
        let what = format!("attachment {attachment_id}");
        let meta = StoredAttachment {
            id: r.try_get(0)?,
            name: r.try_get(1)?,
            content_type: r.try_get(2)?,
            size: r.try_get(3)?,
        };
        let in_raw: i64 = r.try_get(6)?;
        let bytes = if in_raw != 0 {
            let (position, raw_id): (i64, i64) = (r.try_get(7)?, r.try_get(8)?);
            AttachmentBytes::InRaw {
                raw: self.raw(raw_id).await?,
                index: usize::try_from(position).unwrap_or(usize::MAX),
            }
        } else {
            AttachmentBytes::Stored(
                crate::blobs::resolve(self, r.try_get(4)?, r.try_get(5)?, r.try_get(9)?, &what).await?,
            )
        };
        Ok((meta, bytes))
    }

    /// The original message bytes (.eml).
    pub async fn raw(&self, raw_id: i64) -> Result<Vec<u8>> {
        let r = sqlx::query("SELECT data, blob, sealed FROM raw_messages WHERE id = $1")
            .bind(raw_id)
            .fetch_optional(&self.pool)
            .await?
            .ok_or_else(|| StoreError::NotFound(format!("raw message {raw_id}")))?;
        let what = format!("raw message {raw_id}");
        crate::blobs::resolve(self, r.try_get(0)?, r.try_get(1)?, r.try_get(2)?, &what).await
    }

    /// „Erledigt“ (done = true) or „Wieder öffnen“. Only an assigned Vorgang can change.
    pub async fn set_case_done(&self, id: i64, done: bool, by: EmployeeId, now_ms: i64) -> Result<()> {
        let mut tx = self.begin_write().await?;
        let (change, from) = if done {
            (CaseChange::Close { case_id: id, by }, "open")
        } else {
            (CaseChange::Reopen { case_id: id, by }, "done")
        };
        if apply(&mut tx, self.backend, now_ms, change).await?.is_empty() {
            return Err(StoreError::Invalid(format!("Vorgang {id} is not {from}")));
        }
        tx.commit().await?;
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::sessions::NEW_CASES_SINCE_SQL;

    /// SQLite's plan for `sql` (parameters 1, 2, …), one line per step.
    async fn plan(store: &Store, sql: &str, params: i64) -> String {
        let mut q = sqlx::query(sqlx::AssertSqlSafe(format!("EXPLAIN QUERY PLAN {sql}")));
        for p in 1..=params {
            q = q.bind(p);
        }
        let rows = q.fetch_all(&store.pool).await.unwrap();
        rows.iter().map(|r| r.try_get::<String, _>(3).unwrap()).collect::<Vec<_>>().join("\n")
    }

    /// The Startmaske and GET /api/v1/cases must cost the same with 100,000 Vorgänge as with 100
    /// (issue 6, bench/web.py): the lists, the „neue Vorgänge“ count and the claim read an index
    /// range and stop, they never scan or sort all Vorgänge of the office or of the employee (the
    /// pager's number comes from `case_counts`, see the contract test). SQLite, the default, has
    /// no statistics (Postkorb runs no ANALYZE), so its plan does not depend on the data and is
    /// checked here; PostgreSQL plans with statistics and has the same indexes.
    #[tokio::test]
    async fn lists_counts_and_the_claim_read_an_index_range_not_every_vorgang() {
        let dir = tempfile::tempdir().unwrap();
        let store = Store::open(&format!("sqlite:{}", dir.path().join("t.db").display())).await.unwrap();
        let no_scan_no_sort = |plan: &str| {
            !plan.contains("TEMP B-TREE") && !plan.lines().any(|l| l.starts_with("SCAN c") && !l.contains("INDEX"))
        };

        let mine = plan(&store, &list_sql(Columns::All, true, CaseFilter::All, 25, 0), 1).await;
        assert!(mine.contains("SEARCH c USING INDEX cases_list_assignee (assignee=?)"), "{mine}");
        assert!(no_scan_no_sort(&mine), "{mine}");
        // The Startmaske's „offen“ / „erledigt“ and their count: the same index, one status.
        for filter in [CaseFilter::Open, CaseFilter::Done] {
            let p = plan(&store, &list_sql(Columns::Start, true, filter, 25, 50), 1).await;
            assert!(p.contains("SEARCH c USING INDEX cases_list_assignee (assignee=? AND <expr>=?)"), "{p}");
            assert!(no_scan_no_sort(&p), "{p}");
        }
        // „Offen“ without a Wiedervorlage date: the same range, dated rows skipped in the index.
        let undated = plan(&store, &list_sql(Columns::Start, true, CaseFilter::Undated, 25, 0), 1).await;
        assert!(undated.contains("SEARCH c USING INDEX cases_list_assignee (assignee=? AND <expr>=?)"), "{undated}");
        assert!(no_scan_no_sort(&undated), "{undated}");
        // „fällig“ and „Wiedervorlage“ and their counts: a range of cases_follow_up, in date order.
        for (what, sql, params) in crate::workflow::plan_sqls() {
            let p = plan(&store, &sql, params).await;
            assert!(p.contains("INDEX cases_follow_up (assignee=? AND follow_up_ms"), "{what}: {p}");
            assert!(no_scan_no_sort(&p), "{what}: {p}");
        }
        // The same four counts of a Startmaske view in one statement: each its own range.
        let counts = plan(&store, &crate::workflow::start_counts_sql(), 2).await;
        assert!(counts.contains("INDEX cases_follow_up (assignee=? AND follow_up_ms>?)"), "pending: {counts}");
        assert!(
            counts.contains("INDEX cases_follow_up (assignee=? AND follow_up_ms>? AND follow_up_ms<?)"),
            "due: {counts}"
        );
        assert!(counts.matches("SEARCH case_counts").count() == 2, "{counts}");
        assert!(no_scan_no_sort(&counts), "{counts}");
        let all = plan(&store, &list_sql(Columns::All, false, CaseFilter::All, 100, 0), 0).await;
        assert!(all.contains("SCAN c USING INDEX cases_list_all"), "read in index order: {all}");
        assert!(no_scan_no_sort(&all), "{all}");

        let new = plan(&store, NEW_CASES_SINCE_SQL, 2).await;
        assert!(new.contains("cases_assignee_claimed (assignee=? AND claimed_ms>?)"), "{new}");

        // Waiting Vorgänge are found through the status (their ids, from the index alone), not
        // through the employee's candidate rows (one per Vorgang they ever got).
        for (what, sql, params) in [("waiting_for", waiting_for_sql(), 1), ("claim", crate::case_write::claim_sql(), 2)]
        {
            let p = plan(&store, &sql, params).await;
            assert!(p.contains("USING COVERING INDEX cases_waiting (status=?)"), "{what}: {p}");
            assert!(p.contains("(case_id=? AND employee_id=?)"), "one candidate key per waiting Vorgang: {p}");
            assert!(!p.contains("case_candidates_employee"), "{what}: {p}");
        }
    }
}
