//! Vorgang: the facts, the mail as text or as sanitised HTML in a sandboxed frame (a switch
//! „Text | HTML“, `?ansicht=text|html`, no script), attachments, the original e-mail,
//! „Erledigt“ / „Wieder öffnen“ (with a notice), the forms of working it (issue 16: Weitergeben,
//! Zurückgeben, Notiz, Wiedervorlage; handled in `case_work.rs`) and the Verlauf
//! (`case_history.rs`).

use askama::Template;
use axum::extract::{Path, Query, State};
use axum::http::header;
use axum::response::{Html, IntoResponse, Redirect, Response};
use postkorb_store::CaseDetail;
use serde::Deserialize;

use super::{Nav, download, name_of};
use crate::WebState;
use crate::auth::CurrentUser;
use crate::error::WebError;
use crate::ui::{Notice, NoticeQuery};
use crate::util::{attachment_label, german_time, now_ms};
use crate::view::{Sender, frame_height};

/// The frame's sandbox: no scripts, no same origin; links (all `target="_blank"`, see
/// `postkorb_mail`'s sanitiser) may open a new tab that is not sandboxed itself.
const FRAME_SANDBOX: &str = "allow-popups allow-popups-to-escape-sandbox";

pub struct Att {
    pub id: i64,
    pub name: String,
    /// „PDF, 1,2 MB“.
    pub label: String,
}

/// One of „Hinweise zur E-Mail“: the German words, and the technical detail behind „Details“.
pub struct Hint {
    pub text: String,
    pub detail: Option<String>,
}

#[derive(Deserialize)]
pub struct CaseQuery {
    /// `text` or `html`; without it, HTML when the mail has HTML.
    ansicht: Option<String>,
}

pub struct Fwd {
    pub from: String,
    pub subject: String,
    pub date: String,
    pub text: String,
}

#[derive(Template)]
#[template(path = "case.html")]
struct CasePage {
    nav: Nav,
    id: i64,
    subject: String,
    received: String,
    /// The mail's own Date header, when it has one.
    sent: Option<String>,
    sender: String,
    assignee: String,
    status: &'static str,
    done: bool,
    can_change: bool,
    notice: Option<String>,
    warnings: Vec<Hint>,
    /// „Absender nicht verifiziert — von Hand zugeordnet von X“.
    unverified_routed_by: Option<String>,
    text: String,
    has_html: bool,
    /// The HTML is shown (else the text).
    show_html: bool,
    frame_height: u32,
    frame_sandbox: &'static str,
    forwarded: Option<Fwd>,
    attachments: Vec<Att>,
    history: Vec<super::case_history::Entry>,
    work: Option<Work>,
    /// „Wiedervorlage: 22.09.2026 08:00 (fällig) – Grund“.
    follow_up: Option<FollowUp>,
    note_max: usize,
    /// The Sperren, for holders of „Datenschutz verwalten“ (issue 18); `None` for everyone else.
    holds: Option<Vec<super::privacy::HoldView>>,
}

/// The forms of an open Vorgang for its Bearbeiter or an admin.
pub struct Work {
    /// The Bearbeiter the page shows (the forms send it back, so a change made meanwhile is
    /// refused instead of overwritten).
    pub assignee: i64,
    /// Who may receive it: (id, name), without the Bearbeiter.
    pub receivers: Vec<(i64, String)>,
    /// It came from a pool and another candidate may still receive it.
    pub can_give_back: bool,
    /// The date form's values (`YYYY-MM-DD`, `HH:MM`, reason).
    pub date: String,
    pub time: String,
    pub reason: String,
}

pub struct FollowUp {
    pub at: String,
    pub state: &'static str,
    /// `due` or `overdue` (highlighted) or `pending`.
    pub class: &'static str,
    pub reason: Option<String>,
}

/// The Wiedervorlage as the page shows it.
pub(crate) fn follow_up_of(s: &postkorb_store::CaseSummary, now: i64) -> Option<FollowUp> {
    let due = s.follow_up_ms.filter(|_| s.status == "open")?;
    let state = postkorb_core::workflow::follow_up_state(due, now);
    Some(FollowUp {
        at: german_time(due),
        state: state.german(),
        class: state.code(),
        reason: s.follow_up_reason.clone(),
    })
}

fn work_of(
    case: &CaseDetail,
    employees: &[postkorb_core::Employee],
    user: &CurrentUser,
    covering: &[postkorb_core::EmployeeId],
) -> Option<Work> {
    let s = &case.summary;
    let assignee = s.assignee.filter(|_| s.status == "open")?;
    if !crate::auth::may_pass_on(case, &user.employee, covering) {
        return None;
    }
    let eligible = |id: i64| employees.iter().any(|e| e.id.0 == id && e.check_an().is_ok());
    let (date, time) = match s.follow_up_ms {
        Some(ms) => {
            let (y, m, d, hh, mm) = postkorb_core::time::berlin_civil(ms);
            (format!("{y:04}-{m:02}-{d:02}"), format!("{hh:02}:{mm:02}"))
        }
        None => (String::new(), String::new()),
    };
    Some(Work {
        assignee,
        receivers: employees
            .iter()
            .filter(|e| e.id.0 != assignee && e.check_an().is_ok())
            .map(|e| (e.id.0, e.name.clone()))
            .collect(),
        can_give_back: case.events.iter().any(|e| e.kind == "waiting")
            && case.candidates.iter().any(|c| *c != assignee && eligible(*c)),
        date,
        time,
        reason: s.follow_up_reason.clone().unwrap_or_default(),
    })
}

/// The assignee, a still eligible candidate of a waiting Vorgang, or an admin may look at it.
async fn load(state: &WebState, user: &CurrentUser, id: i64) -> Result<CaseDetail, WebError> {
    let case = state.store.case(id).await?;
    let covering = state.store.covering(user.employee.id, now_ms()).await?;
    if !crate::auth::may_open(&case, &user.employee, &covering) {
        return Err(WebError::Forbidden(crate::error::Denied::Case));
    }
    Ok(case)
}

pub async fn show(
    State(state): State<WebState>,
    user: CurrentUser,
    Path(id): Path<i64>,
    Query(q): Query<CaseQuery>,
    Query(notice): Query<NoticeQuery>,
) -> Result<Html<String>, WebError> {
    let case = crate::view::with_bodies(&state.store, load(&state, &user, id).await?).await;
    let employees = state.store.employees().await?;
    let s = &case.summary;
    let sender = Sender::of(&employees, s).full();
    let has_html = case.html.is_some();
    let show_html = has_html && q.ansicht.as_deref() != Some("text");
    let assignee = match s.assignee {
        Some(_) => match &s.on_behalf_of_name {
            Some(absent) => format!("{} in Vertretung für {absent}", s.assignee_name.clone().unwrap_or_default()),
            None => s.assignee_name.clone().unwrap_or_default(),
        },
        None => format!(
            "noch offen – wartet auf: {}",
            case.candidates.iter().map(|c| name_of(&employees, Some(*c))).collect::<Vec<_>>().join(", ")
        ),
    };
    let history = super::case_history::entries(&case.events, &case.notes, &employees);
    let done = s.status == "done";
    let covering = state.store.covering(user.employee.id, now_ms()).await?;
    let page = CasePage {
        nav: Nav::new(&user, "start"),
        id,
        subject: if s.subject.is_empty() { "(ohne Betreff)".into() } else { s.subject.clone() },
        received: german_time(s.received_ms),
        sent: case.sent_ms.map(german_time),
        sender,
        assignee,
        status: match s.status.as_str() {
            "done" => "erledigt",
            "waiting" => "wartet",
            _ => "offen",
        },
        done,
        can_change: crate::auth::may_work(&case, &user.employee, &covering),
        notice: notice.german(),
        warnings: case.warnings.iter().map(|w| Hint { text: w.german(), detail: w.detail() }).collect(),
        unverified_routed_by: case.unverified_routed_by.clone(),
        text: case.text.clone(),
        has_html,
        show_html,
        frame_height: case.html.as_deref().map_or(0, frame_height),
        frame_sandbox: FRAME_SANDBOX,
        forwarded: case.forwarded.as_ref().map(|f| Fwd {
            from: f.from.clone().unwrap_or_default(),
            subject: f.subject.clone().unwrap_or_default(),
            date: f.date_ms.map(german_time).or_else(|| f.date.clone()).unwrap_or_default(),
            text: f.text.clone(),
        }),
        attachments: case
            .attachments
            .iter()
            .map(|a| Att { id: a.id, name: a.name.clone(), label: attachment_label(&a.content_type, &a.name, a.size) })
            .collect(),
        history,
        work: work_of(&case, &employees, &user, &covering),
        follow_up: follow_up_of(&case.summary, now_ms()),
        note_max: postkorb_core::workflow::NOTE_MAX_CHARS,
        holds: super::privacy::holds_of(&state, &user, id).await?,
    };
    Ok(Html(page.render()?))
}

#[derive(Deserialize)]
pub struct StatusForm {
    #[serde(default)]
    csrf: String,
    done: String,
}

pub async fn set_status(
    State(state): State<WebState>,
    user: CurrentUser,
    Path(id): Path<i64>,
    axum::Form(form): axum::Form<StatusForm>,
) -> Result<Response, WebError> {
    user.check_csrf(&form.csrf)?;
    let case = load(&state, &user, id).await?;
    let covering = state.store.covering(user.employee.id, now_ms()).await?;
    if !crate::auth::may_work(&case, &user.employee, &covering) {
        return Err(WebError::Forbidden(crate::error::Denied::NotAssignee));
    }
    let done = form.done == "1";
    state.store.set_case_done(id, done, user.employee.id, now_ms()).await.map_err(|_| {
        WebError::BadRequest(
            if done { "Der Vorgang ist bereits erledigt." } else { "Der Vorgang ist bereits offen." }.into(),
        )
    })?;
    let notice = if done { Notice::CaseDone } else { Notice::CaseReopened };
    Ok(Redirect::to(&notice.url(&format!("/vorgang/{id}"), None)).into_response())
}

/// The sanitised HTML, for the sandboxed frame only: no scripts, no remote content, no forms.
pub async fn html(State(state): State<WebState>, user: CurrentUser, Path(id): Path<i64>) -> Result<Response, WebError> {
    let case = crate::view::with_bodies(&state.store, load(&state, &user, id).await?).await;
    let body = case.html.unwrap_or_default();
    // `<base target>` as well, for HTML stored by older versions whose links lack it.
    let doc = format!(
        "<!doctype html><html><head><meta charset=\"utf-8\"><base target=\"_blank\"></head><body>{body}</body></html>"
    );
    Ok((
        [
            (header::CONTENT_TYPE, "text/html; charset=utf-8"),
            (
                header::CONTENT_SECURITY_POLICY,
                "sandbox allow-popups allow-popups-to-escape-sandbox; default-src 'none'; style-src 'unsafe-inline'; \
                 img-src data:; frame-ancestors 'self'",
            ),
        ],
        doc,
    )
        .into_response())
}

pub async fn attachment(
    State(state): State<WebState>,
    user: CurrentUser,
    Path((id, aid)): Path<(i64, i64)>,
) -> Result<Response, WebError> {
    load(&state, &user, id).await?;
    let (meta, bytes) = crate::view::attachment(&state.store, id, aid).await?;
    let entry = postkorb_core::AuditEntry::DownloadAttachment { case: id, attachment: aid, name: meta.name.clone() };
    state.store.audit_entry(now_ms(), &user.actor(), &entry).await?;
    Ok(download(&meta.name, &meta.content_type, bytes))
}

pub async fn original(
    State(state): State<WebState>,
    user: CurrentUser,
    Path(id): Path<i64>,
) -> Result<Response, WebError> {
    let case = load(&state, &user, id).await?;
    let raw = state.store.raw(case.raw_id).await?;
    let entry = postkorb_core::AuditEntry::DownloadCase { case: id, subject: case.summary.subject.clone() };
    state.store.audit_entry(now_ms(), &user.actor(), &entry).await?;
    Ok(download(&format!("vorgang-{id}.eml"), "message/rfc822", raw))
}

/// The Vorgang page with one hint of every parser warning kind, for the no-English test
/// (crates/web/src/german.rs).
#[cfg(test)]
pub(crate) fn sample_page(nav: Nav) -> String {
    let warnings =
        postkorb_mail::Warning::examples().iter().map(|w| Hint { text: w.german(), detail: w.detail() }).collect();
    let page = CasePage {
        nav,
        id: 7,
        subject: "Schadenmeldung Leitungswasser".into(),
        received: "05.12.2026 10:46".into(),
        sent: Some("05.12.2026 10:40".into()),
        sender: "Anna Außendienst <anna@mustermail.de>".into(),
        assignee: "Bernd Büro".into(),
        status: "offen",
        done: false,
        can_change: true,
        notice: Some(crate::ui::Notice::CaseReopened.german(0)),
        warnings,
        unverified_routed_by: Some("Anna Admin".into()),
        text: "Der Keller ist nass.".into(),
        has_html: true,
        show_html: false,
        frame_height: 400,
        frame_sandbox: FRAME_SANDBOX,
        forwarded: None,
        attachments: vec![Att {
            id: 1,
            name: "schaden.pdf".into(),
            label: crate::util::attachment_label("application/pdf", "schaden.pdf", 1_250_000),
        }],
        history: vec![super::case_history::Entry {
            at: "05.12.2026 11:00".into(),
            what: "Bernd Büro hat den Vorgang an Clara Czerny weitergegeben".into(),
            note: Some("Bitte heute anrufen".into()),
        }],
        work: Some(Work {
            assignee: 2,
            receivers: vec![(3, "Clara Czerny".into())],
            can_give_back: true,
            date: "2026-12-07".into(),
            time: "08:00".into(),
            reason: "Antwort der Versicherung".into(),
        }),
        follow_up: Some(FollowUp {
            at: "07.12.2026 08:00".into(),
            state: "überfällig",
            class: "overdue",
            reason: Some("Antwort der Versicherung".into()),
        }),
        note_max: postkorb_core::workflow::NOTE_MAX_CHARS,
        holds: Some(vec![super::privacy::HoldView {
            id: 1,
            kind: "Aufbewahrung",
            reason: "Rechtsstreit".into(),
            until: "01.01.2028 00:00".into(),
            in_force: true,
            review_due: false,
        }]),
    };
    page.render().expect("the Vorgang page renders")
}
