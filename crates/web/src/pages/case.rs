//! Vorgang: the facts, the mail as text or as sanitised HTML in a sandboxed frame (a switch
//! „Text | HTML“, `?ansicht=text|html`, no script), attachments, the original e-mail,
//! „Erledigt“ / „Wieder öffnen“ (with a notice) and the history.

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
    history: Vec<String>,
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
    let history = case
        .events
        .iter()
        .map(|e| {
            let who = name_of(&employees, e.employee_id);
            let what = match e.kind.as_str() {
                "created" => "Vorgang aus E-Mail angelegt".to_string(),
                "assigned" => match e.detail.split_once(':').and_then(|(_, of)| of.parse().ok()) {
                    Some(of) => format!("zugeordnet an {who} in Vertretung für {}", name_of(&employees, Some(of))),
                    None => format!("zugeordnet an {who}"),
                },
                "waiting" => format!(
                    "wartet auf den ersten von: {}",
                    e.detail
                        .split(',')
                        .filter_map(|i| i.parse().ok())
                        .map(|i| name_of(&employees, Some(i)))
                        .collect::<Vec<_>>()
                        .join(", ")
                ),
                "claimed" => match e.detail.parse().ok() {
                    Some(of) => format!(
                        "übernommen von {who} in Vertretung für {} (Synchronisieren/Anmeldung)",
                        name_of(&employees, Some(of))
                    ),
                    None => format!("übernommen von {who} (Synchronisieren/Anmeldung)"),
                },
                "absence" => serde_json::from_str::<postkorb_core::CoverNote>(&e.detail)
                    .map(|n| n.german())
                    .unwrap_or_else(|_| "Abwesenheit: Hinweis".into()),
                "closed" => format!("erledigt von {who}"),
                "reopened" => format!("wieder geöffnet von {who}"),
                "unverified_routed" => format!("Absender nicht verifiziert — von Hand zugeordnet von {}", e.detail),
                "routed_by_hand" => {
                    let (who, why) = e.detail.rsplit_once(':').unwrap_or((e.detail.as_str(), ""));
                    let why =
                        postkorb_core::KeepReason::from_legacy(why, "").map(|(r, _)| r.label()).unwrap_or("unbekannt");
                    format!("von Hand zugewiesen von {who}, ohne Zuordnung (zurückgehalten wegen: {why})")
                }
                "moved" => "zu „Nicht zugeordnete E-Mails“ verschoben: kein Empfänger mehr berechtigt".to_string(),
                other => other.to_string(),
            };
            format!("{} – {what}", german_time(e.at_ms))
        })
        .collect();
    let done = s.status == "done";
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
        can_change: crate::auth::may_work(
            &case,
            &user.employee,
            &state.store.covering(user.employee.id, now_ms()).await?,
        ),
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
    Ok(download(&meta.name, &meta.content_type, bytes))
}

pub async fn original(
    State(state): State<WebState>,
    user: CurrentUser,
    Path(id): Path<i64>,
) -> Result<Response, WebError> {
    let case = load(&state, &user, id).await?;
    let raw = state.store.raw(case.raw_id).await?;
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
        history: vec![],
    };
    page.render().expect("the Vorgang page renders")
}
