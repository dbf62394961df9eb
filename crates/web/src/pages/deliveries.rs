//! „Zustellungen“ (issue 17, admins only): the delivery log of the outbox — per row the channel,
//! the event in German, the Vorgang or kept mail, the target (a webhook by its name, never its
//! secret), attempts, the last status (our own short words, never a receiver's answer), the next
//! try; a status filter, pages, and „Erneut senden“ (due again now).

use askama::Template;
use axum::extract::{Path, Query, State};
use axum::response::{Html, IntoResponse, Redirect, Response};
use postkorb_core::Permission;
use postkorb_store::{Delivery, Webhook};
use serde::Deserialize;

use super::Nav;
use super::webhooks::event_label;
use crate::WebState;
use crate::auth::{CsrfOnly, CurrentUser};
use crate::error::WebError;
use crate::ui::{Notice, NoticeQuery};
use crate::util::{german_time, now_ms};

const LIST: &str = "/optionen/zustellungen";
const PAGE: i64 = 50;

/// (stored status, German word) — also the filter's choices.
pub(crate) const STATUSES: [(&str, &str); 4] =
    [("pending", "wartet"), ("delivered", "zugestellt"), ("failed", "aufgegeben"), ("paused", "pausiert")];

pub struct DeliveryRow {
    pub id: i64,
    pub channel: String,
    pub event: String,
    /// (path, text): „Vorgang 12“ or „E-Mail 3“ (nicht zugeordnet).
    pub link: Option<(String, String)>,
    pub target: String,
    pub attempts: i64,
    pub status: String,
    pub last_status: String,
    pub next_try: String,
}

#[derive(Debug, Default, Deserialize)]
pub struct LogQuery {
    #[serde(default)]
    status: String,
    #[serde(default)]
    seite: Option<i64>,
    #[serde(default)]
    ok: Option<String>,
    #[serde(default)]
    n: Option<i64>,
}

#[derive(Template)]
#[template(path = "deliveries.html")]
struct Page {
    nav: Nav,
    message: Option<String>,
    paused: Vec<String>,
    rows: Vec<DeliveryRow>,
    /// (status, German word, selected)
    statuses: Vec<(String, String, bool)>,
    status: String,
    total: i64,
    page: i64,
    pages: i64,
}

fn channel_label(channel: &str) -> String {
    match channel {
        "webhook" => "Webhook".into(),
        other => other.to_string(),
    }
}

fn status_label(status: &str) -> String {
    STATUSES.iter().find(|(s, _)| *s == status).map(|(_, g)| g.to_string()).unwrap_or_else(|| status.to_string())
}

/// Who a delivery goes to, as the office names it: a webhook by its name.
pub(crate) fn target_label(d: &Delivery, hooks: &[Webhook]) -> String {
    match d.channel.as_str() {
        "webhook" => hooks
            .iter()
            .find(|w| w.id.to_string() == d.target)
            .map(|w| format!("Webhook „{}“", w.name))
            .unwrap_or_else(|| "gelöschter Webhook".into()),
        _ => d.target.clone(),
    }
}

fn row(d: &Delivery, hooks: &[Webhook]) -> DeliveryRow {
    let link = match (d.case_id, d.kept_id) {
        (Some(c), _) => Some((format!("/vorgang/{c}"), format!("Vorgang {c}"))),
        (None, Some(k)) => Some((format!("/nicht-zugeordnet/{k}"), format!("E-Mail {k}"))),
        _ => None,
    };
    DeliveryRow {
        id: d.id,
        channel: channel_label(&d.channel),
        event: event_label(&d.kind),
        link,
        target: target_label(d, hooks),
        attempts: d.attempts,
        status: status_label(&d.status),
        last_status: if d.last_status.is_empty() { "–".into() } else { d.last_status.clone() },
        next_try: if d.status == "pending" { german_time(d.next_try_ms) } else { "–".into() },
    }
}

pub async fn list(
    State(state): State<WebState>,
    user: CurrentUser,
    Query(q): Query<LogQuery>,
) -> Result<Html<String>, WebError> {
    user.require(Permission::ManageMailImport)?;
    let status = STATUSES.iter().find(|(s, _)| *s == q.status).map(|(s, _)| s.to_string()).unwrap_or_default();
    let page = q.seite.unwrap_or(1).max(1);
    let filter = (!status.is_empty()).then_some(status.as_str());
    let (deliveries, total) = state.store.deliveries(filter, PAGE, (page - 1) * PAGE).await?;
    let hooks = state.store.webhooks().await?;
    let page = Page {
        nav: Nav::new(&user, "zustellungen"),
        message: NoticeQuery { ok: q.ok, n: q.n }.german(),
        paused: hooks.iter().filter_map(super::webhooks::paused_sentence).collect(),
        rows: deliveries.iter().map(|d| row(d, &hooks)).collect(),
        statuses: STATUSES.iter().map(|(s, g)| (s.to_string(), g.to_string(), *s == status)).collect(),
        status,
        total,
        page,
        pages: ((total + PAGE - 1) / PAGE).max(1),
    };
    Ok(Html(page.render()?))
}

/// „Erneut senden“: the delivery is due again now (a failed one, too).
pub async fn retry(
    State(state): State<WebState>,
    user: CurrentUser,
    Path(id): Path<i64>,
    axum::Form(f): axum::Form<CsrfOnly>,
) -> Result<Response, WebError> {
    user.require(Permission::ManageMailImport)?;
    user.check_csrf(&f.csrf)?;
    if !state.store.outbox_retry(id, now_ms()).await? {
        return Err(WebError::NotFound);
    }
    Ok(Redirect::to(&Notice::DeliveryRetried.url(LIST, None)).into_response())
}

/// The log with a row of every status, for the no-English test.
#[cfg(test)]
pub(crate) fn sample_pages(nav: Nav) -> Vec<(String, String)> {
    let delivery = |id, status: &str, last: &str, case: Option<i64>| Delivery {
        id,
        channel: "webhook".into(),
        target: "1".into(),
        event_key: format!("evt_{id}"),
        event_id: case.map(|_| id),
        kept_id: case.is_none().then_some(3),
        case_id: case,
        kind: if case.is_some() { "case.created".into() } else { "mail.kept".into() },
        body: "{}".into(),
        status: status.into(),
        attempts: 2,
        last_status: last.into(),
        next_try_ms: 1_795_793_880_000,
        created_ms: 1,
        delivered_ms: None,
    };
    let hooks = vec![Webhook {
        id: 1,
        name: "Maklerverwaltung".into(),
        url: "https://crm.beispiel.de/eingang".into(),
        events: vec![],
        active: false,
        paused_ms: Some(1),
        paused_reason: Some("failing".into()),
        failing_since_ms: Some(1),
        last_success_ms: None,
        created_ms: 1,
    }];
    let rows = [
        delivery(1, "pending", "HTTP 503", Some(12)),
        delivery(2, "delivered", "HTTP 200", Some(12)),
        delivery(3, "failed", "Adresse im eigenen Netz gesperrt (allow_private_hosts)", None),
        delivery(4, "paused", "Zeitüberschreitung; Webhook pausiert", Some(13)),
        Delivery { target: "9".into(), ..delivery(5, "pending", "", Some(14)) },
    ];
    let page = Page {
        nav,
        message: Some(Notice::DeliveryRetried.german(0)),
        paused: hooks.iter().filter_map(super::webhooks::paused_sentence).collect(),
        rows: rows.iter().map(|d| row(d, &hooks)).collect(),
        statuses: STATUSES.iter().map(|(s, g)| (s.to_string(), g.to_string(), *s == "failed")).collect(),
        status: "failed".into(),
        total: 120,
        page: 2,
        pages: 3,
    };
    vec![("Zustellungen".into(), page.render().unwrap())]
}
