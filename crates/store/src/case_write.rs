//! The one write path of a Vorgang: every change — made (at import or from a kept mail), claimed,
//! closed, reopened, moved to the kept mails — goes through [`apply`], which writes the rows and
//! appends the change's events to `case_events` in the caller's transaction, and keeps
//! `case_counts` (the Startmaske's pager) from those events. It keeps the search index too: a new
//! Vorgang is indexed, a moved one leaves it (`search.rs`), in the same transaction.
//!
//! **Invariant:** nothing else in the store writes `cases`, `case_candidates`, `case_counts` or
//! `case_events` (checked by `crates/store/tests/invariants.rs`), so nothing changes a Vorgang
//! without its event, and an event exists only if its change committed.
//! Notes (`case_notes`) are written here too, each with its event.
//! A new Vorgang action is a variant of [`CaseChange`] (its statement here) and of
//! [`crate::events::Event`] (how it is logged), and a `Store` method that calls [`apply`].

use std::collections::{BTreeMap, HashMap};

use postkorb_core::absence::receiver;
use postkorb_core::{Decision, EmployeeId, Receiver};
use postkorb_mail::InboundMail;
use sqlx::{Any, Row, Transaction};

use crate::cases::{eligible_an, is_candidate};
use crate::events::{self, Event, Via};
use crate::import::clean;
use crate::rows::{V, ids_by, insert_rows};
use crate::search;
use crate::{Backend, Result, StoreError};

/// A Vorgang to be made from a stored raw mail.
pub(crate) struct NewCase<'a> {
    pub mailbox_id: Option<i64>,
    pub raw_id: i64,
    pub mail: &'a InboundMail,
    /// Assign or Pool (a Keep is refused).
    pub decision: &'a Decision,
    pub via: Via<'a>,
    /// The raw mail is stored sealed: so is the search entry's text (`seal.rs`).
    pub seal: Option<&'a crate::seal::MailKey>,
    /// The search entry made beforehand (the importer's parser threads), or `None`: made here.
    pub terms: Option<&'a search::IndexTerms>,
}

/// A change of one or more Vorgänge.
pub(crate) enum CaseChange<'a> {
    /// New Vorgänge; a batch takes a few multi-row statements, not a few per Vorgang.
    Create(Vec<NewCase<'a>>),
    /// „Synchronisieren“: `by` gets every waiting Vorgang they are an eligible candidate for, or
    /// one of the absent people in `covering` is (then „in Vertretung für“ them; core's
    /// `absence::covered_by`, read at the claim).
    Claim { by: EmployeeId, covering: Vec<EmployeeId> },
    /// „Erledigt“: only an open Vorgang.
    Close { case_id: i64, by: EmployeeId },
    /// „Wieder öffnen“: only a done Vorgang.
    Reopen { case_id: i64, by: EmployeeId },
    /// A waiting Vorgang whose candidates all lost eligibility became the kept mail `kept_id`.
    Move { case_id: i64, kept_id: i64 },
    /// „Weitergeben“ by `by`: an open Vorgang of `from` (the Bearbeiter the caller saw) to `to`,
    /// who must still be eligible (checked inside the statement), with an optional note.
    HandOver { case_id: i64, from: EmployeeId, to: EmployeeId, by: EmployeeId, note: Option<&'a str> },
    /// „Zurückgeben“ by `by`: an open Vorgang of `from` that came from a pool waits again for the
    /// pool's other candidates (`from` leaves the pool, else the Startmaske they open next would
    /// claim it straight back); refused unless another candidate is eligible.
    GiveBack { case_id: i64, from: EmployeeId, by: EmployeeId },
    /// „Notiz“: a note by `by` on a Vorgang that is not moved.
    AddNote { case_id: i64, by: EmployeeId, text: &'a str },
    /// „Wiedervorlage“ of an open Vorgang: set or changed (`due_ms`), or removed (`None`).
    /// Setting what is set already writes nothing and is no refusal.
    SetFollowUp { case_id: i64, by: EmployeeId, due_ms: Option<i64>, reason: Option<&'a str> },
    /// „Wiedervorlage fällig“ (issue 17): up to `limit` open Vorgänge whose Wiedervorlage date has
    /// come (at the change's time) and is not yet announced get their `follow_up_due` event; the
    /// marker `follow_up_announced_ms` is set by the same conditional UPDATE, so racing callers
    /// (two instances) announce each date once.
    AnnounceDue { limit: i64 },
    /// Deletes Vorgänge completely (issue 18: a retention run; later „Löschen auf Antrag“): their
    /// candidates, attachments, notes, events, digest items, deliveries, Sperren and search entry
    /// (SQLite trigger, PostgreSQL cascade); `case_counts` follows. Only those `only` allows at
    /// this moment and no Sperre holds — read under the log's lock, so one reopened or held
    /// meanwhile stays, and of two callers the second finds nothing. Writes no event: the
    /// Vorgang's log goes with it, and the Löschprotokoll records the deletion (`retention.rs`).
    /// Its raw mail is the caller's (`retention::purge_raws`, the same transaction).
    Delete { case_ids: &'a [i64], only: DeleteOnly },
    /// Storage only (issue 18 item 7, `sealing.rs`): what the Vorgänge hold is unchanged, only how
    /// it is stored — text columns kept beside the raw mail by versions before migration 0012 are
    /// dropped (`bodies`; shown from the raw mail), stored attachments replaced by their sealed
    /// form, each only while still plain. Writes no event: nothing a person did or sees changed.
    /// Returns one entry per row converted (Vorgang ids for bodies, attachment ids).
    SealStorage { bodies: &'a [i64], attachments: &'a [SealedAttachment<'a>] },
}

/// A stored attachment in its sealed form ([`CaseChange::SealStorage`]): `data` in the row, or
/// the blob file `blob`; `name` its keyed hash (`seal.rs`).
pub(crate) struct SealedAttachment<'a> {
    pub id: i64,
    pub data: &'a [u8],
    pub blob: Option<&'a str>,
    pub name: &'a str,
}

/// Which of the Vorgänge named a [`CaseChange::Delete`] may delete.
#[derive(Clone, Copy, Debug)]
pub(crate) enum DeleteOnly {
    /// „Erledigt“ before this moment (the retention cut-off).
    DoneBefore(i64),
    /// Moved to the kept mails (they go with their kept mail).
    Moved,
    /// Löschen auf Antrag (`person.rs`): any state but moved.
    OnRequest,
}

/// Writes `change` and its events in `tx`, and returns the Vorgänge changed: for `Create` one per
/// [`NewCase`], in order; for `Claim` the ones won, ascending; otherwise the one named, or none
/// when it was not in the required state (not open, not done, no longer waiting: nothing written).
pub(crate) async fn apply(
    tx: &mut Transaction<'_, Any>,
    backend: Backend,
    at: i64,
    change: CaseChange<'_>,
) -> Result<Vec<i64>> {
    if matches!(&change, CaseChange::Create(new) if new.is_empty()) {
        return Ok(Vec::new());
    }
    // The event log's order (see `lock_log`). A new Vorgang's own rows (the Vorgang, its search
    // entry, candidates, attachments) are seen by no other transaction before the commit, so
    // `create` writes them first and takes the lock only for its events and the shared counts:
    // every import batch of every instance queued on this lock through the whole batch
    // (bench/multi.py: 17 of 18 PostgreSQL sessions waiting on it). Every other change reads and
    // changes rows others change too, under the lock from its start.
    if !matches!(&change, CaseChange::Create(_)) {
        lock_log(tx, backend).await?;
    }
    // „Erledigt“ / „Wieder öffnen“: the Bearbeiter whose open Vorgänge change by one.
    let mut opened: Option<(EmployeeId, i64)> = None;
    // Deleted Vorgänge: (Bearbeiter, all, open) they take from `case_counts`.
    let mut removed: Vec<(EmployeeId, i64, i64)> = Vec::new();
    let (cases, events): (Vec<i64>, Vec<(i64, Event<'_>)>) = match change {
        CaseChange::Create(new) => {
            let made = create(tx, backend, at, new).await?;
            lock_log(tx, backend).await?;
            made
        }
        CaseChange::Claim { by, covering } => {
            let sql = if covering.is_empty() { claim_sql() } else { claim_covering_sql(&covering) };
            let rows = sqlx::query(sqlx::AssertSqlSafe(sql)).bind(by.0).bind(at).fetch_all(&mut **tx).await?;
            let mut won: Vec<(i64, Option<EmployeeId>)> = rows
                .iter()
                .map(|r| Ok((r.try_get(0)?, r.try_get::<Option<i64>, _>(1)?.map(EmployeeId))))
                .collect::<Result<_, sqlx::Error>>()?;
            won.sort();
            let events = won.iter().map(|(id, of)| (*id, Event::Claimed { by, on_behalf_of: *of })).collect();
            (won.into_iter().map(|(id, _)| id).collect(), events)
        }
        CaseChange::Close { case_id, by } => {
            let (changed, assignee) = set_status(tx, case_id, "open", "done", Some(at), Event::Closed { by }).await?;
            opened = assignee.map(|a| (a, -1));
            changed
        }
        CaseChange::Reopen { case_id, by } => {
            let (changed, assignee) = set_status(tx, case_id, "done", "open", None, Event::Reopened { by }).await?;
            opened = assignee.map(|a| (a, 1));
            changed
        }
        CaseChange::Move { case_id, kept_id } => {
            let moved = sqlx::query("UPDATE cases SET status = 'moved' WHERE id = $1 AND status = 'waiting'")
                .bind(case_id)
                .execute(&mut **tx)
                .await?;
            if moved.rows_affected() == 0 {
                (vec![], vec![])
            } else {
                crate::search::forget(tx, backend, case_id).await?;
                (vec![case_id], vec![(case_id, Event::Moved { kept_id })])
            }
        }
        CaseChange::HandOver { case_id, from, to, by, note } => {
            hand_over(tx, backend, at, case_id, from, to, by, note).await?
        }
        CaseChange::GiveBack { case_id, from, by } => give_back(tx, case_id, from, by).await?,
        CaseChange::AddNote { case_id, by, text } => {
            let Some(assignee) = state(tx, case_id).await?.filter(|s| s.0 != "moved").map(|s| s.1) else {
                return Ok(vec![]);
            };
            let note_id = insert_note(tx, backend, at, case_id, by, text).await?;
            (vec![case_id], vec![(case_id, Event::NoteAdded { by, note_id, assignee })])
        }
        CaseChange::SetFollowUp { case_id, by, due_ms, reason } => {
            set_follow_up(tx, case_id, by, due_ms, reason).await?
        }
        CaseChange::AnnounceDue { limit } => announce_due(tx, at, limit).await?,
        CaseChange::Delete { case_ids, only } => {
            let (deleted, counts) = delete(tx, case_ids, only).await?;
            removed = counts;
            (deleted, vec![])
        }
        CaseChange::SealStorage { bodies, attachments } => (seal_storage(tx, bodies, attachments).await?, vec![]),
    };
    append(tx, backend, at, &events).await?;
    // Who may see it changed: the search index's `seen` follows (a new one got it when indexed).
    let reassigned: Vec<i64> = events
        .iter()
        .filter(|(_, e)| matches!(e, Event::Claimed { .. } | Event::HandedOver { .. } | Event::GivenBack { .. }))
        .map(|(id, _)| *id)
        .collect();
    crate::search::refresh_seen(tx, backend, &reassigned).await?;
    // Given and taken Vorgänge are open ones (an assignment, a claim, a hand-over; a hand-over
    // or give-back takes only an open one): both numbers change. (employee, all, open)
    let given = events.iter().filter_map(|(_, e)| e.gives()).map(|e| (e, 1, 1));
    let taken = events.iter().filter_map(|(_, e)| e.takes()).map(|e| (e, -1, -1));
    let closed = opened.map(|(e, n)| (e, 0, n));
    count_given(tx, given.chain(taken).chain(closed).chain(removed)).await?;
    Ok(cases)
}

/// PostgreSQL: makes event ids grow in commit order. A sequence hands out ids when rows are
/// inserted, not when they commit, so without this a reader could see id 11 committed while
/// id 10 is still in flight, move on, and never see 10. Every transaction that changes a
/// Vorgang takes this transaction lock before it touches any existing row of a Vorgang (so two of
/// them never wait for each other's rows in a cycle) — a new Vorgang's own rows, which no other
/// transaction can see or wait for, are written before it (`apply`, `Create`) — and holds it
/// until it ends; the next one gets its ids
/// only after the previous one's are visible. SQLite has one writer at a time: ids are in
/// commit order already. Every insert into `kept` takes it too, so kept ids also grow in commit
/// order (the outbox reads both logs by id, `outbox.rs`).
pub(crate) async fn lock_log(tx: &mut Transaction<'_, Any>, backend: Backend) -> Result<()> {
    /// „Postkorb“ in ASCII: the one advisory lock key of the Vorgang event log.
    const CASE_LOG_LOCK: i64 = 0x506f_7374_6b6f_7262;
    if backend == Backend::Postgres {
        // `::text`: the function returns void, which the Any driver cannot read.
        sqlx::query("SELECT pg_advisory_xact_lock($1)::text").bind(CASE_LOG_LOCK).execute(&mut **tx).await?;
    }
    Ok(())
}

/// The claim: one conditional UPDATE that re-checks the candidate's eligibility inside the
/// statement (see `cases.rs`), found the same way as the waiting list. `$1` the employee, `$2` now.
pub(crate) fn claim_sql() -> String {
    format!(
        "UPDATE cases SET status = 'open', assignee = $1, claimed_ms = $2, on_behalf_of = NULL
         WHERE status = 'waiting' AND {}
           AND EXISTS (SELECT 1 FROM employees e WHERE e.id = $1 AND {})
         RETURNING id, on_behalf_of",
        is_candidate("cases.id"),
        eligible_an("e")
    )
}

/// The claim of a Vertreter (`$1`) who stands in for the absent `covering`: a waiting Vorgang of
/// which `$1` or one of them is a candidate; for one of theirs it names (the lowest of) them in
/// `on_behalf_of`. Eligibility of `$1` is re-checked inside the statement, as in [`claim_sql`].
fn claim_covering_sql(covering: &[EmployeeId]) -> String {
    let ids = covering.iter().map(|e| e.0.to_string()).collect::<Vec<_>>().join(", ");
    let theirs = format!("FROM case_candidates cc WHERE cc.case_id = cases.id AND cc.employee_id IN ({ids})");
    format!(
        "UPDATE cases SET status = 'open', assignee = $1, claimed_ms = $2,
             on_behalf_of = CASE WHEN {mine} THEN NULL ELSE (SELECT MIN(cc.employee_id) {theirs}) END
         WHERE status = 'waiting' AND ({mine} OR (SELECT COUNT(*) {theirs}) > 0)
           AND EXISTS (SELECT 1 FROM employees e WHERE e.id = $1 AND {eligible})
         RETURNING id, on_behalf_of",
        mine = is_candidate("cases.id"),
        eligible = eligible_an("e")
    )
}

/// „Erledigt“ / „Wieder öffnen“: `from` → `to` if the Vorgang is `from`; also its Bearbeiter.
async fn set_status<'a>(
    tx: &mut Transaction<'_, Any>,
    case_id: i64,
    from: &str,
    to: &str,
    closed_ms: Option<i64>,
    event: Event<'a>,
) -> Result<((Vec<i64>, Vec<(i64, Event<'a>)>), Option<EmployeeId>)> {
    let changed =
        sqlx::query("UPDATE cases SET status = $1, closed_ms = $2 WHERE id = $3 AND status = $4 RETURNING assignee")
            .bind(to)
            .bind(closed_ms)
            .bind(case_id)
            .bind(from)
            .fetch_optional(&mut **tx)
            .await?;
    Ok(match changed {
        None => ((vec![], vec![]), None),
        Some(r) => ((vec![case_id], vec![(case_id, event)]), r.try_get::<Option<i64>, _>(0)?.map(EmployeeId)),
    })
}

/// New Vorgänge with their candidates and attachments, a few multi-row statements in all.
async fn create<'a>(
    tx: &mut Transaction<'_, Any>,
    backend: Backend,
    at: i64,
    new: Vec<NewCase<'a>>,
) -> Result<(Vec<i64>, Vec<(i64, Event<'a>)>)> {
    // Abwesenheit: a Vorgang for someone away goes to their Vertreter or waits for them (core's
    // `absence::receiver`, with the absences in force now, read in this transaction).
    let (absences, employees) = crate::absences::active_in(tx, at).await?;
    let receivers: Vec<Option<Receiver>> = new
        .iter()
        .map(|c| match c.decision {
            Decision::Assign { to, .. } => Some(receiver(*to, at, &absences, &employees)),
            _ => None,
        })
        .collect();
    let mut case_rows = Vec::with_capacity(new.len());
    for (c, receiver) in new.iter().zip(&receivers) {
        let mail = c.mail;
        let (sender, status, assignee) = match c.decision {
            Decision::Assign { sender, .. } => (*sender, "open", receiver.as_ref().map(Receiver::to)),
            Decision::Pool { sender, .. } => (*sender, "waiting", None),
            Decision::Keep(_) => return Err(StoreError::Invalid("a kept mail is not a Vorgang".into())),
        };
        // By hand: the sender is whoever has the address (perhaps nobody), and the Vorgang keeps
        // the time the mail arrived.
        let (sender, received) = match c.via {
            Via::Kept { by_hand: Some(h), .. } => (h.sender, h.received_ms),
            _ => (Some(sender), at),
        };
        let unverified_routed_by = match c.via {
            Via::Kept { actor, unverified: true, .. } => Some(actor),
            _ => None,
        };
        let warnings = serde_json::to_string(&mail.warnings).unwrap_or_else(|_| "[]".into());
        case_rows.push(vec![
            V::Int(c.mailbox_id),
            V::Int(Some(c.raw_id)),
            V::Owned(Some(clean(&mail.subject))),
            V::Owned(Some(mail.sender.as_ref().map(|a| a.to_string()).unwrap_or_default())),
            V::Owned(mail.display_name.as_deref().map(clean)),
            V::Int(sender.map(|s| s.0)),
            V::Int(mail.date_ms),
            V::Int(Some(received)),
            // The text, the HTML and the forwarded original come from the raw mail when the
            // Vorgang is shown (`body_in_raw`, migration 0012).
            V::Str(Some("")),
            V::Str(None),
            V::Str(None),
            V::Owned(Some(clean(&warnings))),
            V::Str(Some(status)),
            V::Int(assignee.map(|a| a.0)),
            V::Int(assignee.map(|_| at)),
            V::Int(Some(1)),
            V::Str(unverified_routed_by),
            V::Int(receiver.as_ref().and_then(Receiver::on_behalf_of).map(|e| e.0)),
        ]);
    }
    let returned = insert_rows(
        tx,
        backend,
        "cases (mailbox_id, raw_id, subject, from_addr, from_name, sender_employee, sent_ms, received_ms,
             body_text, body_html, forwarded_json, warnings_json, status, assignee, claimed_ms, body_in_raw,
             unverified_routed_by, on_behalf_of)",
        "RETURNING id, raw_id",
        case_rows,
    )
    .await?;
    // Each new Vorgang is found by its raw mail, which is why two in one change may not share one.
    let case_by_raw: HashMap<i64, i64> = ids_by(&returned)?;
    if case_by_raw.len() != new.len() {
        return Err(StoreError::Invalid(format!("{} Vorgänge written for {} new ones", case_by_raw.len(), new.len())));
    }
    let mut cases = Vec::with_capacity(new.len());
    let mut candidate_rows = Vec::new();
    let mut attachment_rows = Vec::new();
    let mut events = Vec::with_capacity(2 * new.len());
    let mut docs = Vec::with_capacity(new.len());
    let assignees: Vec<Option<EmployeeId>> = receivers.iter().map(|r| r.as_ref().map(Receiver::to)).collect();
    for ((c, receiver), assignee) in new.iter().zip(receivers).zip(&assignees) {
        let case_id = case_by_raw[&c.raw_id];
        cases.push(case_id);
        let candidates = match c.decision {
            Decision::Assign { to, .. } => std::slice::from_ref(to),
            Decision::Pool { candidates, .. } => candidates.as_slice(),
            Decision::Keep(_) => &[],
        };
        for e in candidates {
            candidate_rows.push(vec![V::Int(Some(case_id)), V::Int(Some(e.0))]);
        }
        // The bytes of an attachment stay in the raw mail (`in_raw`) and are decoded from it on
        // download, instead of being written a second time.
        for (i, a) in c.mail.attachments.iter().enumerate() {
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
        events.extend(events::created(c.decision, c.via, receiver)?.into_iter().map(|e| (case_id, e)));
        docs.push(search::Doc {
            case_id,
            terms: match c.terms {
                Some(t) => std::borrow::Cow::Borrowed(t),
                None => std::borrow::Cow::Owned(search::IndexTerms::of_mail(c.mail)),
            },
            // The Bearbeiter (a Vertreter, perhaps), or the pool's candidates.
            seen: match assignee {
                Some(a) => std::slice::from_ref(a),
                None => candidates,
            },
            seal: c.seal,
        });
    }
    // Findable exactly when committed: the index is written in this transaction.
    search::index_new(tx, backend, &docs).await?;
    insert_rows(tx, backend, "case_candidates (case_id, employee_id)", "", candidate_rows).await?;
    insert_rows(
        tx,
        backend,
        "attachments (case_id, position, name, content_type, content_id, size, data, blob, in_raw)",
        "",
        attachment_rows,
    )
    .await?;
    Ok((cases, events))
}

/// [`CaseChange::SealStorage`].
async fn seal_storage(
    tx: &mut Transaction<'_, Any>,
    bodies: &[i64],
    attachments: &[SealedAttachment<'_>],
) -> Result<Vec<i64>> {
    let mut changed = Vec::new();
    for id in bodies {
        let done = sqlx::query(
            "UPDATE cases SET body_text = '', body_html = NULL, forwarded_json = NULL, body_in_raw = 1
             WHERE id = $1 AND body_in_raw = 0",
        )
        .bind(id)
        .execute(&mut **tx)
        .await?;
        if done.rows_affected() == 1 {
            changed.push(*id);
        }
    }
    for a in attachments {
        let done =
            sqlx::query("UPDATE attachments SET data = $1, blob = $2, sealed = $3 WHERE id = $4 AND sealed IS NULL")
                .bind(a.data)
                .bind(a.blob)
                .bind(a.name)
                .bind(a.id)
                .execute(&mut **tx)
                .await?;
        if done.rows_affected() == 1 {
            changed.push(a.id);
        }
    }
    Ok(changed)
}

/// Appends the events, in order, with one statement per chunk of rows. Readers find them by id
/// (`Store::case_events_after`), so no id is returned here.
async fn append(tx: &mut Transaction<'_, Any>, backend: Backend, at: i64, events: &[(i64, Event<'_>)]) -> Result<()> {
    let rows = events
        .iter()
        .map(|(case_id, e)| {
            vec![
                V::Int(Some(*case_id)),
                V::Int(Some(at)),
                V::Str(Some(e.kind())),
                V::Int(e.employee().map(|e| e.0)),
                V::Owned(Some(e.detail())),
                V::Owned(Some(e.payload())),
            ]
        })
        .collect();
    insert_rows(tx, backend, "case_events (case_id, at_ms, kind, employee_id, detail, payload)", "", rows).await?;
    Ok(())
}

/// Adds Vorgänge given to employees (+1 per Vorgang) and taken from them (-1: handed over, given
/// back) to `case_counts`, the numbers the Startmaske shows: all of them (the pager, migration
/// 0011) and the open ones („Offen“, migration 0021; also -1 for „Erledigt“, +1 for „Wieder
/// öffnen“). One row per employee, in id order, so that concurrent transactions (PostgreSQL) lock
/// the rows in the same order. Items: (employee, all, open).
async fn count_given(
    tx: &mut Transaction<'_, Any>,
    changes: impl IntoIterator<Item = (EmployeeId, i64, i64)>,
) -> Result<()> {
    let mut per_employee = BTreeMap::<i64, (i64, i64)>::new();
    for (e, all, open) in changes {
        let n = per_employee.entry(e.0).or_default();
        *n = (n.0 + all, n.1 + open);
    }
    for (employee, (all, open)) in per_employee.into_iter().filter(|(_, n)| *n != (0, 0)) {
        sqlx::query(
            "INSERT INTO case_counts (employee_id, cases, open_cases) VALUES ($1, $2, $3)
             ON CONFLICT (employee_id) DO UPDATE
             SET cases = case_counts.cases + excluded.cases, open_cases = case_counts.open_cases + excluded.open_cases",
        )
        .bind(employee)
        .bind(all)
        .bind(open)
        .execute(&mut **tx)
        .await?;
    }
    Ok(())
}

/// (status, assignee) of a Vorgang, read inside the change's transaction (which holds the log's
/// lock on PostgreSQL, and is the one writer on SQLite).
async fn state(tx: &mut Transaction<'_, Any>, case_id: i64) -> Result<Option<(String, Option<EmployeeId>)>> {
    let row =
        sqlx::query("SELECT status, assignee FROM cases WHERE id = $1").bind(case_id).fetch_optional(&mut **tx).await?;
    row.map(|r| Ok((r.try_get(0)?, r.try_get::<Option<i64>, _>(1)?.map(EmployeeId)))).transpose()
}

async fn insert_note(
    tx: &mut Transaction<'_, Any>,
    backend: Backend,
    at: i64,
    case_id: i64,
    by: EmployeeId,
    text: &str,
) -> Result<i64> {
    let rows = insert_rows(
        tx,
        backend,
        "case_notes (case_id, author, at_ms, text)",
        "RETURNING id",
        vec![vec![V::Int(Some(case_id)), V::Int(Some(by.0)), V::Int(Some(at)), V::Owned(Some(clean(text)))]],
    )
    .await?;
    let row = rows.first().ok_or_else(|| StoreError::Invalid("note not written".into()))?;
    let note_id = row.try_get(0)?;
    // Findable as soon as it is committed, like the Vorgang's own words.
    search::index_note(tx, backend, case_id, note_id, text).await?;
    Ok(note_id)
}

/// „Weitergeben“: one conditional UPDATE — still open, still `from`'s, and `to` still eligible —
/// so of racing hand-overs, claims and give-backs exactly one changes the row.
#[allow(clippy::too_many_arguments)]
async fn hand_over<'a>(
    tx: &mut Transaction<'_, Any>,
    backend: Backend,
    at: i64,
    case_id: i64,
    from: EmployeeId,
    to: EmployeeId,
    by: EmployeeId,
    note: Option<&str>,
) -> Result<(Vec<i64>, Vec<(i64, Event<'a>)>)> {
    let sql = format!(
        "UPDATE cases SET assignee = $1, claimed_ms = $2, on_behalf_of = NULL
         WHERE id = $3 AND status = 'open' AND assignee = $4 AND assignee <> $1
           AND EXISTS (SELECT 1 FROM employees e WHERE e.id = $1 AND {})",
        eligible_an("e")
    );
    let changed =
        sqlx::query(sqlx::AssertSqlSafe(sql)).bind(to.0).bind(at).bind(case_id).bind(from.0).execute(&mut **tx).await?;
    if changed.rows_affected() == 0 {
        return Ok((vec![], vec![]));
    }
    let note_id = match note {
        Some(text) => Some(insert_note(tx, backend, at, case_id, by, text).await?),
        None => None,
    };
    Ok((vec![case_id], vec![(case_id, Event::HandedOver { by, from, to, note_id })]))
}

/// „Zurückgeben“: open and `from`'s → waiting, only for a Vorgang that came from a pool (it has
/// a `waiting` event) and only while another candidate may receive it; `from` leaves the pool.
async fn give_back<'a>(
    tx: &mut Transaction<'_, Any>,
    case_id: i64,
    from: EmployeeId,
    by: EmployeeId,
) -> Result<(Vec<i64>, Vec<(i64, Event<'a>)>)> {
    let sql = format!(
        "UPDATE cases SET status = 'waiting', assignee = NULL, claimed_ms = NULL, on_behalf_of = NULL
         WHERE id = $1 AND status = 'open' AND assignee = $2
           AND EXISTS (SELECT 1 FROM case_events ev WHERE ev.case_id = cases.id AND ev.kind = 'waiting')
           AND EXISTS (SELECT 1 FROM case_candidates cc JOIN employees e ON e.id = cc.employee_id
                       WHERE cc.case_id = cases.id AND cc.employee_id <> $2 AND {})",
        eligible_an("e")
    );
    let changed = sqlx::query(sqlx::AssertSqlSafe(sql)).bind(case_id).bind(from.0).execute(&mut **tx).await?;
    if changed.rows_affected() == 0 {
        return Ok((vec![], vec![]));
    }
    sqlx::query("DELETE FROM case_candidates WHERE case_id = $1 AND employee_id = $2")
        .bind(case_id)
        .bind(from.0)
        .execute(&mut **tx)
        .await?;
    let candidates = sqlx::query("SELECT employee_id FROM case_candidates WHERE case_id = $1 ORDER BY employee_id")
        .bind(case_id)
        .fetch_all(&mut **tx)
        .await?
        .iter()
        .map(|r| r.try_get(0).map(EmployeeId))
        .collect::<Result<Vec<_>, _>>()?;
    Ok((vec![case_id], vec![(case_id, Event::GivenBack { by, from, candidates })]))
}

/// „Wiedervorlage“ set, changed or removed on an open Vorgang; the event names the previous date.
async fn set_follow_up<'a>(
    tx: &mut Transaction<'_, Any>,
    case_id: i64,
    by: EmployeeId,
    due_ms: Option<i64>,
    reason: Option<&'a str>,
) -> Result<(Vec<i64>, Vec<(i64, Event<'a>)>)> {
    let Some(row) = sqlx::query("SELECT status, assignee, follow_up_ms, follow_up_reason FROM cases WHERE id = $1")
        .bind(case_id)
        .fetch_optional(&mut **tx)
        .await?
    else {
        return Ok((vec![], vec![]));
    };
    let status: String = row.try_get(0)?;
    let assignee = row.try_get::<Option<i64>, _>(1)?.map(EmployeeId);
    let previous_ms: Option<i64> = row.try_get(2)?;
    let previous_reason: Option<String> = row.try_get(3)?;
    if status != "open" {
        return Ok((vec![], vec![]));
    }
    let reason = due_ms.and(reason);
    if previous_ms == due_ms && previous_reason.as_deref() == reason {
        return Ok((vec![case_id], vec![]));
    }
    // A new date (or none) is not announced yet: `follow_up_due` comes again when it is reached.
    sqlx::query(
        "UPDATE cases SET follow_up_ms = $1, follow_up_reason = $2, follow_up_announced_ms = NULL
         WHERE id = $3 AND status = 'open'",
    )
    .bind(due_ms)
    .bind(reason.map(clean))
    .bind(case_id)
    .execute(&mut **tx)
    .await?;
    let event = match due_ms {
        Some(due_ms) => Event::FollowUpSet { by, due_ms, reason, previous_ms, assignee },
        None => Event::FollowUpCleared { by, previous_ms, assignee },
    };
    Ok((vec![case_id], vec![(case_id, event)]))
}

/// „Wiedervorlage fällig“: marks up to `limit` due, unannounced Wiedervorlagen (oldest date first)
/// as announced and returns their events. The UPDATE re-checks the marker on each row, so a
/// second caller (another instance; on PostgreSQL after the log lock) finds nothing left.
async fn announce_due<'a>(
    tx: &mut Transaction<'_, Any>,
    now: i64,
    limit: i64,
) -> Result<(Vec<i64>, Vec<(i64, Event<'a>)>)> {
    const DUE: &str = "status = 'open' AND assignee IS NOT NULL AND follow_up_ms IS NOT NULL
        AND follow_up_announced_ms IS NULL AND follow_up_ms <= $1";
    let sql = format!(
        "UPDATE cases SET follow_up_announced_ms = follow_up_ms
         WHERE id IN (SELECT id FROM cases WHERE {DUE} ORDER BY follow_up_ms, id LIMIT $2) AND {DUE}
         RETURNING id, assignee, follow_up_ms, follow_up_reason"
    );
    let rows = sqlx::query(sqlx::AssertSqlSafe(sql)).bind(now).bind(limit).fetch_all(&mut **tx).await?;
    let mut due = rows
        .iter()
        .map(|r| {
            let case_id: i64 = r.try_get(0)?;
            let event = Event::FollowUpDue {
                assignee: EmployeeId(r.try_get(1)?),
                due_ms: r.try_get(2)?,
                reason: r.try_get(3)?,
            };
            Ok((case_id, event))
        })
        .collect::<Result<Vec<_>, sqlx::Error>>()?;
    due.sort_by_key(|(id, _)| *id);
    Ok((due.iter().map(|(id, _)| *id).collect(), due))
}

/// Deletes the named Vorgänge that `only` allows and no Sperre holds, with every row about them;
/// returns the ids deleted and what they take from `case_counts`.
async fn delete(
    tx: &mut Transaction<'_, Any>,
    case_ids: &[i64],
    only: DeleteOnly,
) -> Result<(Vec<i64>, Vec<(EmployeeId, i64, i64)>)> {
    if case_ids.is_empty() {
        return Ok((vec![], vec![]));
    }
    // Integers only, formatted into the statement.
    let list = |ids: &[i64]| ids.iter().map(i64::to_string).collect::<Vec<_>>().join(", ");
    let allowed = match only {
        DeleteOnly::DoneBefore(cutoff) => format!("status = 'done' AND closed_ms < {cutoff}"),
        DeleteOnly::Moved => "status = 'moved'".to_string(),
        DeleteOnly::OnRequest => "status <> 'moved'".to_string(),
    };
    let sql = format!(
        "SELECT id, assignee, status FROM cases WHERE id IN ({}) AND {allowed}
           AND NOT EXISTS (SELECT 1 FROM holds h WHERE h.case_id = cases.id AND h.lifted_ms IS NULL)
         ORDER BY id",
        list(case_ids)
    );
    let rows = sqlx::query(sqlx::AssertSqlSafe(sql)).fetch_all(&mut **tx).await?;
    let mut ids = Vec::with_capacity(rows.len());
    let mut counts = Vec::new();
    for r in &rows {
        ids.push(r.try_get::<i64, _>(0)?);
        let status: String = r.try_get(2)?;
        if let Some(a) = r.try_get::<Option<i64>, _>(1)?
            && status != "moved"
        {
            counts.push((EmployeeId(a), -1, if status == "open" { -1 } else { 0 }));
        }
    }
    if ids.is_empty() {
        return Ok((ids, counts));
    }
    let list = list(&ids);
    for table in
        ["deliveries", "notify_digest_items", "case_events", "case_candidates", "attachments", "case_notes", "holds"]
    {
        let sql = format!("DELETE FROM {table} WHERE case_id IN ({list})");
        sqlx::query(sqlx::AssertSqlSafe(sql)).execute(&mut **tx).await?;
    }
    // The search entry goes with the row (trigger / ON DELETE CASCADE).
    let sql = format!("DELETE FROM cases WHERE id IN ({list})");
    sqlx::query(sqlx::AssertSqlSafe(sql)).execute(&mut **tx).await?;
    Ok((ids, counts))
}
