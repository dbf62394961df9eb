//! Startmaske: my Vorgänge in tabs — „Offen“ (due Wiedervorlagen first, in their own table,
//! then the open ones without a date), „Wiedervorlage“ (dated, not yet due), „Erledigt“, „Alle“ —
//! new ones marked, the waiting ones I may claim, „Synchronisieren“. A due Wiedervorlage counts
//! as „Offen“ again (issue 16). Opening it claims what waits for me, as logging in does (product.md
//! rule 6: the first candidate who „starts the program“ gets a pooled Vorgang).

use askama::Template;
use axum::extract::{Query, State};
use axum::response::{Html, IntoResponse, Redirect, Response};
use postkorb_store::CaseFilter;
use serde::Deserialize;

use super::Nav;
use crate::WebState;
use crate::auth::{CsrfOnly, CurrentUser};
use crate::error::WebError;
use crate::util::{german_time, now_ms};
use crate::view::Sender;

const PAGE: i64 = 25;
/// At most this many due Wiedervorlagen above the „Offen“ list (the rest under „Alle“).
const DUE_SHOWN: i64 = 100;

pub struct Row {
    pub id: i64,
    pub status: &'static str,
    pub status_class: &'static str,
    pub received: String,
    /// The employee's name when it came from an employee's work e-mail, else the display name or
    /// the address.
    pub from: String,
    pub from_addr: String,
    pub subject: String,
    pub attachments: i64,
    /// Given to me after my last visit.
    pub new: bool,
    /// The Wiedervorlage: („07.12.2026 08:00“, „fällig“, css class `due` / `overdue` / `pending`).
    pub follow_up: Option<(String, &'static str, &'static str)>,
    /// The Bearbeiter's name (the „In Vertretung“ sections name whose it is).
    pub assignee: String,
}

/// One of the filter's links: „Offen (3)“.
pub struct Tab {
    pub code: &'static str,
    pub label: &'static str,
    pub count: i64,
    pub current: bool,
}

#[derive(Template)]
#[template(path = "home.html")]
struct Home {
    nav: Nav,
    messages: Vec<String>,
    /// Admins: webhooks paused after days without success (issue 17).
    paused_webhooks: Vec<String>,
    /// „2 neue Vorgänge“ since the last visit, if any.
    new_label: Option<String>,
    waiting: Vec<Row>,
    /// „Offen“, first page: the due Wiedervorlagen, by date.
    due: Vec<Row>,
    /// „In Vertretung“: the open Vorgänge of the absent people I stand in for now.
    covering: Vec<Row>,
    /// Admins: open Vorgänge waiting for an absent recipient nobody can cover.
    absent_waiting: Vec<Row>,
    cases: Vec<Row>,
    filter: &'static str,
    tabs: Vec<Tab>,
    page: i64,
    pages: i64,
}

#[derive(Deserialize)]
pub struct HomeQuery {
    seite: Option<i64>,
    erhalten: Option<i64>,
    /// `offen` (default), `wiedervorlage`, `erledigt` or `alle`.
    filter: Option<String>,
    /// The notice after an action (`?ok=weitergegeben` …).
    ok: Option<String>,
}

/// „1 neuer Vorgang“, „2 neue Vorgänge“ (nominative).
pub fn new_cases(n: i64) -> String {
    if n == 1 { "1 neuer Vorgang".into() } else { format!("{n} neue Vorgänge") }
}

/// „1 Vorgang“, „2 Vorgänge“ (accusative, after „erhalten“): „Sie haben 1 neuen Vorgang erhalten“.
fn received(n: i64) -> String {
    match n {
        0 => "keine neuen Vorgänge".into(),
        1 => "1 neuen Vorgang".into(),
        n => format!("{n} neue Vorgänge"),
    }
}

/// What the Startmaske says after „Synchronisieren“ (`erhalten`) or after opening it claimed some.
fn message(synced: Option<i64>, claimed_now: usize) -> Vec<String> {
    let mut out = Vec::new();
    match synced {
        Some(0) => out.push("Synchronisiert: keine neuen Vorgänge.".to_string()),
        Some(n) => out.push(format!("Synchronisiert: Sie haben {} erhalten.", received(n))),
        None => {}
    }
    if claimed_now > 0 {
        let n = claimed_now as i64;
        let waited = if n == 1 { "der auf mehrere Empfänger wartete" } else { "die auf mehrere Empfänger warteten" };
        out.push(format!("Sie haben {} erhalten, {waited}.", received(n)));
    }
    out
}

/// The tab shown: its list (`None`: the pending Wiedervorlagen) and code.
fn filter_of(q: &HomeQuery) -> (Option<CaseFilter>, &'static str) {
    match q.filter.as_deref() {
        Some("erledigt") => (Some(CaseFilter::Done), "erledigt"),
        Some("alle") => (Some(CaseFilter::All), "alle"),
        Some("wiedervorlage") => (None, "wiedervorlage"),
        _ => (Some(CaseFilter::Undated), "offen"),
    }
}

/// A Vorgang's row as the Startmaske shows it (the live Startmaske sends the same, `live.rs`).
pub(crate) fn row(
    c: postkorb_store::CaseSummary,
    employees: &[postkorb_core::Employee],
    last_seen: Option<i64>,
    now: i64,
) -> Row {
    let (status, status_class) = match c.status.as_str() {
        "done" => ("erledigt", "done"),
        "waiting" => ("wartet", "waiting"),
        _ => ("offen", "open"),
    };
    let sender = Sender::of(employees, &c);
    Row {
        id: c.id,
        status,
        status_class,
        received: german_time(c.received_ms),
        from: sender.short().to_string(),
        from_addr: sender.addr.clone(),
        new: c.claimed_ms.is_some_and(|at| at > last_seen.unwrap_or(0)) && c.status != "waiting",
        follow_up: super::case::follow_up_of(&c, now).map(|f| (f.at, f.state, f.class)),
        assignee: c.assignee_name.clone().unwrap_or_default(),
        subject: if c.subject.is_empty() { "(ohne Betreff)".into() } else { c.subject },
        attachments: c.attachment_count,
    }
}

pub async fn show(
    State(state): State<WebState>,
    user: CurrentUser,
    Query(q): Query<HomeQuery>,
) -> Result<Html<String>, WebError> {
    let me = user.employee.id;
    let eligible = user.employee.check_an().is_ok();
    // Opening the Startmaske starts the program: claim what waits for me, as the login does
    // (`Store::claim_at_start` reads first and writes only when something waits; the absences and
    // what still waits, which it reads, are shown below and not read again).
    let start = state.store.claim_at_start(me, eligible, now_ms()).await?;
    let claimed = start.won;
    let now = now_ms();
    let (filter, filter_code) = filter_of(&q);
    let last_seen = state.store.last_seen(me).await?;
    let hidden = state.store.hidden_counts(me, last_seen.unwrap_or(0), now).await?;
    let all = state.store.start_counts(me, now).await?;
    let (total, open, pending) = counts(&all, &hidden);
    let due_count = all.due - hidden.due;
    // „Offen“ holds the due ones (their own table on the first page) and those without a date.
    let shown = match filter {
        Some(CaseFilter::Undated) => open - pending - due_count,
        Some(CaseFilter::Done) => total - open,
        Some(CaseFilter::Open) => open,
        Some(CaseFilter::All) => total,
        None => pending,
    };
    let pages = ((shown + PAGE - 1) / PAGE).max(1);
    let page = q.seite.unwrap_or(1).clamp(1, pages);
    let employees = state.store.employees().await?;
    let list = match filter {
        Some(f) => state.store.start_page(me, f, PAGE, (page - 1) * PAGE).await?,
        None => state.store.follow_ups(me, false, now, PAGE, (page - 1) * PAGE).await?,
    };
    let cases = list.into_iter().map(|c| row(c, &employees, last_seen, now)).collect();
    let due = if filter == Some(CaseFilter::Undated) && page == 1 && due_count > 0 {
        state
            .store
            .follow_ups(me, true, now, DUE_SHOWN, 0)
            .await?
            .into_iter()
            .map(|c| row(c, &employees, last_seen, now))
            .collect()
    } else {
        Vec::new()
    };
    let waiting = start.waiting.into_iter().map(|c| row(c, &employees, last_seen, now)).collect();
    let (absences, staff) = (start.absences, start.staff);
    let mut covering = Vec::new();
    for absent in postkorb_core::absence::covered_by(me, now_ms(), &absences, &staff) {
        let theirs = state.store.cases_filtered(Some(absent), CaseFilter::Open, PAGE, 0).await?;
        covering.extend(theirs.into_iter().map(|c| row(c, &employees, last_seen, now)));
    }
    let mut absent_waiting = Vec::new();
    let mut paused_webhooks = Vec::new();
    if user.employee.has(postkorb_core::Permission::ManageMailImport) {
        paused_webhooks = super::webhooks::paused_notices(&state.store).await?;
        for absent in postkorb_core::absence::waiting_absent(now_ms(), &absences, &staff) {
            let theirs = state.store.cases_filtered(Some(absent), CaseFilter::Open, PAGE, 0).await?;
            absent_waiting.extend(theirs.into_iter().map(|c| row(c, &employees, last_seen, now)));
        }
        // Pools whose candidates are all away without Vertreter: nobody can claim them now.
        for (c, candidates) in state.store.pools_waiting_on_absent(now_ms()).await? {
            let names: Vec<String> = candidates.iter().map(|e| super::name_of(&employees, Some(e.0))).collect();
            let mut r = row(c, &employees, last_seen, now);
            r.assignee = format!("noch offen – wartet auf: {}", names.join(", "));
            absent_waiting.push(r);
        }
    }
    let new_count = state.store.new_cases_since(me, last_seen.unwrap_or(0)).await? - hidden.new_since;
    // Moved on only when something was new. Nothing was claimed for me after `last_seen`, so
    // keeping it changes no later count (a claim racing this page is even counted next time
    // instead of never); and a page view that writes costs a commit (SQLite: an fsync, one writer
    // at a time), which made the Startmaske the slowest screen under load (bench/web.py).
    if new_count > 0 || last_seen.is_none() {
        state.store.set_last_seen(me, now_ms()).await?;
    }
    let tabs = tabs_of(total, open, pending)
        .into_iter()
        .zip(["Offen", "Wiedervorlage", "Erledigt", "Alle"])
        .map(|((code, count), label)| Tab { code, label, count, current: code == filter_code })
        .collect();
    let mut messages = message(q.erhalten, claimed.len());
    if let Some(n) = (crate::ui::NoticeQuery { ok: q.ok.clone(), n: None }).german() {
        messages.insert(0, n);
    }
    let page_html = Home {
        nav: Nav::new(&user, "start"),
        messages,
        paused_webhooks,
        new_label: (new_count > 0).then(|| new_cases(new_count)),
        waiting,
        due,
        covering,
        absent_waiting,
        cases,
        filter: filter_code,
        tabs,
        page,
        pages,
    };
    Ok(Html(page_html.render()?))
}

/// All my Vorgänge, the open ones, and those on a pending Wiedervorlage — without those an
/// „Einschränkung der Verarbeitung“ hides (`hidden`: `Store::hidden_counts` at the same moment),
/// as the lists leave them out (issue 18).
fn counts(all: &postkorb_store::StartCounts, hidden: &postkorb_store::HiddenCounts) -> (i64, i64, i64) {
    (all.total - hidden.total, all.open - hidden.open, all.pending - hidden.pending)
}

/// The count of each tab by its code: „Offen“ (with the due Wiedervorlagen), „Wiedervorlage“,
/// „Erledigt“, „Alle“.
fn tabs_of(total: i64, open: i64, pending: i64) -> [(&'static str, i64); 4] {
    [("offen", open - pending), ("wiedervorlage", pending), ("erledigt", total - open), ("alle", total)]
}

/// The counts of the tabs of `me`'s Startmaske now (the live Startmaske sends them with each event).
pub(crate) async fn tab_counts(
    store: &postkorb_store::Store,
    me: postkorb_core::EmployeeId,
    now: i64,
) -> Result<[(&'static str, i64); 4], postkorb_store::StoreError> {
    let hidden = store.hidden_counts(me, i64::MAX, now).await?;
    let (total, open, pending) = counts(&store.start_counts(me, now).await?, &hidden);
    Ok(tabs_of(total, open, pending))
}

/// „Synchronisieren“: fetch now, then claim every waiting Vorgang I am an eligible candidate for.
pub async fn sync(
    State(state): State<WebState>,
    user: CurrentUser,
    axum::Form(form): axum::Form<CsrfOnly>,
) -> Result<Response, WebError> {
    user.check_csrf(&form.csrf)?;
    state.hooks.fetch_now().await;
    let won = if user.employee.check_an().is_ok() {
        state.store.claim(user.employee.id, now_ms()).await?
    } else {
        Vec::new()
    };
    state.store.sweep_orphan_pools(now_ms()).await?;
    Ok(Redirect::to(&format!("/?erhalten={}", won.len())).into_response())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn counts_are_said_in_correct_german() {
        assert_eq!(new_cases(1), "1 neuer Vorgang");
        assert_eq!(new_cases(2), "2 neue Vorgänge");
        assert_eq!(message(Some(0), 0), ["Synchronisiert: keine neuen Vorgänge."]);
        assert_eq!(message(Some(1), 0), ["Synchronisiert: Sie haben 1 neuen Vorgang erhalten."]);
        assert_eq!(message(Some(3), 0), ["Synchronisiert: Sie haben 3 neue Vorgänge erhalten."]);
        assert_eq!(message(None, 1), ["Sie haben 1 neuen Vorgang erhalten, der auf mehrere Empfänger wartete."]);
        assert_eq!(message(None, 2), ["Sie haben 2 neue Vorgänge erhalten, die auf mehrere Empfänger warteten."]);
        assert!(message(None, 0).is_empty());
    }
}
