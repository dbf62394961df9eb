//! „E-Mail-Adressen verwalten“: the table Von | An, „Neu“ and „Löschen“. The dropdowns offer exactly
//! the eligible employees; rows that became inactive are shown with why.

use askama::Template;
use axum::extract::{Path, State};
use axum::response::{Html, IntoResponse, Redirect, Response};
use postkorb_core::{AuditEntry, EmployeeId, Permission, RouteStatus, an_choices, route_status, von_choices};
use postkorb_store::StoreError;
use serde::Deserialize;

use super::{Nav, name_of};
use crate::WebState;
use crate::auth::CurrentUser;
use crate::error::WebError;
use crate::ui::{Confirm, ConfirmForm, Notice, NoticeQuery, confirmed};
use crate::util::now_ms;

const LIST: &str = "/optionen/e-mail/adressen";

pub struct RouteRow {
    pub id: i64,
    pub from: String,
    pub to: String,
    pub active: bool,
    pub why: String,
}

#[derive(Template)]
#[template(path = "routes.html")]
struct RoutesPage {
    nav: Nav,
    message: Option<String>,
    errors: Vec<String>,
    rows: Vec<RouteRow>,
    von: Vec<(i64, String)>,
    an: Vec<(i64, String)>,
}

async fn render(
    state: &WebState,
    user: &CurrentUser,
    message: Option<String>,
    errors: Vec<String>,
) -> Result<Html<String>, WebError> {
    let employees = state.store.employees().await?;
    let rows = state
        .store
        .routes()
        .await?
        .into_iter()
        .map(|r| {
            let (active, why) = match route_status(&r, &employees) {
                RouteStatus::Active { .. } => (true, String::new()),
                RouteStatus::Inactive(p) => (false, p.iter().map(|e| e.german()).collect::<Vec<_>>().join(" ")),
            };
            let from = employees.iter().find(|e| e.id == r.from);
            let from = match from.and_then(|e| e.work_email.as_ref()) {
                Some(addr) => format!("{} <{addr}>", name_of(&employees, Some(r.from.0))),
                None => name_of(&employees, Some(r.from.0)),
            };
            RouteRow { id: r.id, from, to: name_of(&employees, Some(r.to.0)), active, why }
        })
        .collect();
    let von = von_choices(&employees)
        .iter()
        .map(|e| (e.id.0, format!("{} <{}>", e.name, e.work_email.as_ref().map(|a| a.as_str()).unwrap_or(""))))
        .collect();
    let an = an_choices(&employees).iter().map(|e| (e.id.0, e.name.clone())).collect();
    let page = RoutesPage { nav: Nav::new(user, "adressen"), message, errors, rows, von, an };
    Ok(Html(page.render()?))
}

pub async fn show(
    State(state): State<WebState>,
    user: CurrentUser,
    axum::extract::Query(q): axum::extract::Query<NoticeQuery>,
) -> Result<Html<String>, WebError> {
    user.require(Permission::ManageMailImport)?;
    render(&state, &user, q.german(), Vec::new()).await
}

#[derive(Deserialize)]
pub struct NewRoute {
    #[serde(default)]
    csrf: String,
    from: String,
    to: String,
}

pub async fn add(
    State(state): State<WebState>,
    user: CurrentUser,
    axum::Form(f): axum::Form<NewRoute>,
) -> Result<Response, WebError> {
    user.require(Permission::ManageMailImport)?;
    user.check_csrf(&f.csrf)?;
    let (Ok(from), Ok(to)) = (f.from.parse::<i64>(), f.to.parse::<i64>()) else {
        let errors = vec!["Bitte wählen Sie in „Von“ und „An“ je einen Mitarbeiter aus.".to_string()];
        return Ok(render(&state, &user, None, errors).await?.into_response());
    };
    match state.store.add_route(EmployeeId(from), EmployeeId(to), now_ms()).await {
        Ok(row) => {
            let (from, to) = (state.store.person(row.from).await?, state.store.person(row.to).await?);
            let entry = AuditEntry::AddRoute { row: row.id, from, to, kept: None };
            state.store.audit_entry(now_ms(), &user.actor(), &entry).await?;
            Ok(Redirect::to(&Notice::RouteSaved.url(LIST, None)).into_response())
        }
        Err(StoreError::Rules(rules)) => {
            let errors = rules.0.iter().map(|r| r.german()).collect();
            Ok((axum::http::StatusCode::UNPROCESSABLE_ENTITY, render(&state, &user, None, errors).await?)
                .into_response())
        }
        Err(e) => Err(e.into()),
    }
}

pub async fn remove(
    State(state): State<WebState>,
    user: CurrentUser,
    Path(id): Path<i64>,
    axum::Form(f): axum::Form<ConfirmForm>,
) -> Result<Response, WebError> {
    user.require(Permission::ManageMailImport)?;
    user.check_csrf(&f.csrf)?;
    let Some(r) = state.store.routes().await?.into_iter().find(|r| r.id == id) else {
        return Err(WebError::NotFound);
    };
    if !confirmed(&f.bestaetigt) {
        let employees = state.store.employees().await?;
        let (from, to) = (name_of(&employees, Some(r.from.0)), name_of(&employees, Some(r.to.0)));
        return Ok(Confirm {
            nav: Nav::new(&user, "adressen"),
            title: "Zuordnung löschen?".into(),
            question: format!("Die Zuordnung Von {from} → An {to} wird gelöscht."),
            details: vec![format!(
                "E-Mails von {from} erhält {to} danach nicht mehr; ohne andere Zuordnung werden sie als \
                 „Nicht zugeordnete E-Mails“ aufbewahrt."
            )],
            action: format!("{LIST}/{id}/loeschen"),
            fields: Vec::new(),
            button: "Ja, Zuordnung löschen".into(),
            back: LIST.into(),
        }
        .html()?
        .into_response());
    }
    state.store.remove_route(id).await?;
    let entry = AuditEntry::RemoveRoute {
        row: id,
        from: state.store.person(r.from).await?,
        to: state.store.person(r.to).await?,
    };
    state.store.audit_entry(now_ms(), &user.actor(), &entry).await?;
    Ok(Redirect::to(&Notice::RouteDeleted.url(LIST, None)).into_response())
}
