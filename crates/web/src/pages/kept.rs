//! „Nicht zugeordnete E-Mails“: every kept mail with its reason; view it, create the missing row and
//! route it (it then follows the normal rules), or discard it (audited).

use askama::Template;
use axum::extract::{Path, State};
use axum::response::{Html, IntoResponse, Redirect, Response};
use postkorb_core::{EmployeeId, KeepReason, Permission, an_choices, decide};
use postkorb_store::{KeptMail, StoreError};
use serde::Deserialize;

use super::{Nav, download};
use crate::WebState;
use crate::auth::{CsrfOnly, CurrentUser};
use crate::error::WebError;
use crate::util::{german_time, now_ms};

pub struct KeptRow {
    pub id: i64,
    pub received: String,
    pub from: String,
    pub subject: String,
    pub reason: String,
}

#[derive(Template)]
#[template(path = "kept.html")]
struct ListPage {
    nav: Nav,
    message: Option<String>,
    rows: Vec<KeptRow>,
}

#[derive(Template)]
#[template(path = "kept_detail.html")]
struct DetailPage {
    nav: Nav,
    id: i64,
    subject: String,
    from: String,
    received: String,
    reason: String,
    status: &'static str,
    open: bool,
    text: String,
    sender_employee: Option<String>,
    an: Vec<(i64, String)>,
    errors: Vec<String>,
}

fn reason_german(k: &KeptMail) -> String {
    k.reason().map(|r| r.german()).unwrap_or_else(|| k.reason_code.clone())
}

pub async fn list(State(state): State<WebState>, user: CurrentUser) -> Result<Html<String>, WebError> {
    user.require(Permission::ManageMailImport)?;
    let rows = state
        .store
        .kept(true, 500, 0)
        .await?
        .iter()
        .map(|k| KeptRow {
            id: k.id,
            received: german_time(k.received_ms),
            from: k.from_addr.clone().unwrap_or_else(|| "(kein Absender)".into()),
            subject: if k.subject.is_empty() { "(ohne Betreff)".into() } else { k.subject.clone() },
            reason: reason_german(k),
        })
        .collect();
    Ok(Html(ListPage { nav: Nav::new(&user, "kept"), message: None, rows }.render()?))
}

async fn detail(state: &WebState, user: &CurrentUser, id: i64, errors: Vec<String>) -> Result<Html<String>, WebError> {
    let k = state.store.kept_mail(id).await?;
    let mail = crate::view::parsed_raw(&state.store, k.raw_id).await?;
    let employees = state.store.employees().await?;
    let sender_employee = mail.sender.as_ref().ok().and_then(|addr| {
        employees
            .iter()
            .find(|e| e.work_email.as_ref() == Some(addr) && e.check_von().is_ok())
            .map(|e| format!("{} <{addr}>", e.name))
    });
    let page = DetailPage {
        nav: Nav::new(user, "kept"),
        id,
        subject: if k.subject.is_empty() { "(ohne Betreff)".into() } else { k.subject.clone() },
        from: k.from_addr.clone().unwrap_or_else(|| "(kein Absender)".into()),
        received: german_time(k.received_ms),
        reason: reason_german(&k),
        status: match k.status.as_str() {
            "routed" => "zugeordnet",
            "discarded" => "verworfen",
            _ => "offen",
        },
        open: k.status == "open",
        text: mail.text,
        sender_employee,
        an: an_choices(&employees).iter().map(|e| (e.id.0, e.name.clone())).collect(),
        errors,
    };
    Ok(Html(page.render()?))
}

pub async fn show(
    State(state): State<WebState>,
    user: CurrentUser,
    Path(id): Path<i64>,
) -> Result<Html<String>, WebError> {
    user.require(Permission::ManageMailImport)?;
    detail(&state, &user, id, Vec::new()).await
}

pub async fn original(
    State(state): State<WebState>,
    user: CurrentUser,
    Path(id): Path<i64>,
) -> Result<Response, WebError> {
    user.require(Permission::ManageMailImport)?;
    let k = state.store.kept_mail(id).await?;
    Ok(download(&format!("nicht-zugeordnet-{id}.eml"), "message/rfc822", state.store.raw(k.raw_id).await?))
}

#[derive(Deserialize)]
pub struct RouteForm {
    #[serde(default)]
    csrf: String,
    #[serde(default)]
    to: String,
}

/// Creates the missing row (when `to` is given) and routes the mail by the normal rules.
pub async fn route_again(
    State(state): State<WebState>,
    user: CurrentUser,
    Path(id): Path<i64>,
    axum::Form(f): axum::Form<RouteForm>,
) -> Result<Response, WebError> {
    user.require(Permission::ManageMailImport)?;
    user.check_csrf(&f.csrf)?;
    let actor = user.actor();
    let k = state.store.kept_mail(id).await?;
    let mail = crate::view::parsed_raw(&state.store, k.raw_id).await?;
    let to: i64 = f.to.trim().parse().unwrap_or(0);
    if to > 0 {
        let employees = state.store.employees().await?;
        let Some(sender) =
            mail.sender.as_ref().ok().and_then(|a| employees.iter().find(|e| e.work_email.as_ref() == Some(a)))
        else {
            return Ok(detail(&state, &user, id, vec!["Kein Mitarbeiter hat diese Absenderadresse.".into()])
                .await?
                .into_response());
        };
        match state.store.add_route(sender.id, EmployeeId(to), now_ms()).await {
            Ok(_) => {
                state
                    .store
                    .audit(now_ms(), &actor, "add_route", &format!("{} -> {to} (from kept mail {id})", sender.id))
                    .await?
            }
            Err(StoreError::Rules(rules)) if rules.0 == vec![postkorb_core::RouteError::Duplicate] => {}
            Err(StoreError::Rules(rules)) => {
                let errors = rules.0.iter().map(|r| r.german()).collect();
                return Ok(detail(&state, &user, id, errors).await?.into_response());
            }
            Err(e) => return Err(e.into()),
        }
    }
    let decision = decide(&mail.facts(), &state.store.employees().await?, &state.store.routes().await?);
    match state.store.reroute_kept(id, &mail, &decision, &actor, now_ms()).await? {
        Ok(case_id) => Ok(Redirect::to(&format!("/vorgang/{case_id}")).into_response()),
        Err(reason) => {
            let why = match reason {
                KeepReason::NoRoute => "Es gibt noch keine Zuordnung für diesen Absender.".to_string(),
                other => format!("Die E-Mail kann weiterhin nicht zugeordnet werden: {}", other.german()),
            };
            Ok(detail(&state, &user, id, vec![why]).await?.into_response())
        }
    }
}

pub async fn discard(
    State(state): State<WebState>,
    user: CurrentUser,
    Path(id): Path<i64>,
    axum::Form(f): axum::Form<CsrfOnly>,
) -> Result<Response, WebError> {
    user.require(Permission::ManageMailImport)?;
    user.check_csrf(&f.csrf)?;
    let actor = user.actor();
    state.store.discard_kept(id, &actor, now_ms()).await?;
    Ok(Redirect::to("/nicht-zugeordnet").into_response())
}
