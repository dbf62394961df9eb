//! Startmaske: my Vorgänge, the waiting ones I may claim, „Synchronisieren“.

use askama::Template;
use axum::extract::{Query, State};
use axum::response::{Html, IntoResponse, Redirect, Response};
use serde::Deserialize;

use super::Nav;
use crate::WebState;
use crate::auth::{CsrfOnly, CurrentUser};
use crate::error::WebError;
use crate::util::{german_time, now_ms};

const PAGE: i64 = 25;

pub struct Row {
    pub id: i64,
    pub status: &'static str,
    pub status_class: &'static str,
    pub received: String,
    pub from: String,
    pub subject: String,
    pub attachments: i64,
}

#[derive(Template)]
#[template(path = "home.html")]
struct Home {
    nav: Nav,
    message: Option<String>,
    new_count: i64,
    waiting: Vec<Row>,
    cases: Vec<Row>,
    page: i64,
    pages: i64,
}

#[derive(Deserialize)]
pub struct HomeQuery {
    seite: Option<i64>,
    erhalten: Option<i64>,
}

fn row(c: postkorb_store::CaseSummary) -> Row {
    let (status, status_class) = match c.status.as_str() {
        "done" => ("erledigt", "done"),
        "waiting" => ("wartet", "waiting"),
        _ => ("offen", "open"),
    };
    let from = match &c.from_name {
        Some(n) if !n.is_empty() => format!("{n} <{}>", c.from_addr),
        _ => c.from_addr.clone(),
    };
    Row {
        id: c.id,
        status,
        status_class,
        received: german_time(c.received_ms),
        from,
        subject: c.subject,
        attachments: c.attachment_count,
    }
}

pub async fn show(
    State(state): State<WebState>,
    user: CurrentUser,
    Query(q): Query<HomeQuery>,
) -> Result<Html<String>, WebError> {
    let me = user.employee.id;
    let total = state.store.count_cases(Some(me)).await?;
    let pages = ((total + PAGE - 1) / PAGE).max(1);
    let page = q.seite.unwrap_or(1).clamp(1, pages);
    let cases = state.store.cases(Some(me), PAGE, (page - 1) * PAGE).await?.into_iter().map(row).collect();
    let waiting = if user.employee.check_an().is_ok() {
        state.store.waiting_for(me).await?.into_iter().map(row).collect()
    } else {
        Vec::new()
    };
    let last_seen = state.store.last_seen(me).await?;
    let new_count = state.store.new_cases_since(me, last_seen.unwrap_or(0)).await?;
    // Moved on only when something was new. Nothing was claimed for me after `last_seen`, so
    // keeping it changes no later count (a claim racing this page is even counted next time
    // instead of never); and a page view that writes costs a commit (SQLite: an fsync, one writer
    // at a time), which made the Startmaske the slowest screen under load (bench/web.py).
    if new_count > 0 || last_seen.is_none() {
        state.store.set_last_seen(me, now_ms()).await?;
    }
    let message = q.erhalten.map(|n| match n {
        0 => "Synchronisiert: keine neuen Vorgänge.".to_string(),
        1 => "Synchronisiert: Sie haben 1 Vorgang erhalten.".to_string(),
        n => format!("Synchronisiert: Sie haben {n} Vorgänge erhalten."),
    });
    let page_html = Home { nav: Nav::new(&user, "start"), message, new_count, waiting, cases, page, pages };
    Ok(Html(page_html.render()?))
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
