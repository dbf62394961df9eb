//! Fenster › Mitarbeiter: list and edit employees — Aktuell, Lizenzstring, Vertragsdaten › Daten zur
//! Arbeit › E-Mail, login, permissions — and „Alle Sitzungen und Tokens beenden“ for one of them.
//!
//! A work e-mail another employee has (in any case) is refused, naming that employee. A save that
//! makes rows inactive or takes a waiting Vorgang's candidate away asks first (the confirmation page
//! lists each consequence) and says afterwards how many rows became inactive.

use askama::Template;
use axum::extract::{Path, Query, State};
use axum::response::{Html, IntoResponse, Redirect, Response};
use axum_extra::extract::cookie::CookieJar;
use postkorb_core::{
    AuditEntry, EmailAddress, Employee, EmployeeId, Permission, Person, check_work_email, rows_losing,
};
use postkorb_store::{NewEmployee, StoreError};
use serde::Deserialize;

use super::{Nav, name_of};
use crate::WebState;
use crate::auth::{CsrfOnly, CurrentUser, hash_password_limited};
use crate::error::WebError;
use crate::ui::{Confirm, Notice, NoticeQuery, confirmed};
use crate::util::{german_time, now_ms};

pub struct EmpRow {
    pub id: i64,
    pub name: String,
    pub username: String,
    pub current: bool,
    pub license: String,
    pub email: String,
    pub permissions: String,
}

#[derive(Template)]
#[template(path = "employees.html")]
struct ListPage {
    nav: Nav,
    message: Option<String>,
    employees: Vec<EmpRow>,
}

#[derive(Deserialize, Default)]
pub struct EmpForm {
    #[serde(default)]
    csrf: String,
    #[serde(default)]
    name: String,
    #[serde(default)]
    current: Option<String>,
    #[serde(default)]
    email: String,
    #[serde(default)]
    license: String,
    #[serde(default)]
    username: String,
    #[serde(default)]
    password: String,
    #[serde(default)]
    perm_mail_import: Option<String>,
    #[serde(default)]
    perm_employees: Option<String>,
    #[serde(default)]
    perm_privacy: Option<String>,
    /// `ja` once the consequences were confirmed.
    #[serde(default)]
    bestaetigt: String,
}

impl EmpForm {
    /// The fields as the confirmation page posts them again.
    fn fields(&self) -> Vec<(String, String)> {
        let mut out: Vec<(String, String)> = [
            ("name", &self.name),
            ("email", &self.email),
            ("license", &self.license),
            ("username", &self.username),
            ("password", &self.password),
        ]
        .into_iter()
        .filter(|(_, v)| !v.is_empty())
        .map(|(k, v)| (k.to_string(), v.clone()))
        .collect();
        for (k, on) in [
            ("current", self.current.is_some()),
            ("perm_mail_import", self.perm_mail_import.is_some()),
            ("perm_employees", self.perm_employees.is_some()),
            ("perm_privacy", self.perm_privacy.is_some()),
        ] {
            if on {
                out.push((k.to_string(), "1".to_string()));
            }
        }
        out
    }
}

pub struct EmpView {
    pub name: String,
    pub current: bool,
    pub email: String,
    pub license: String,
    pub username: String,
    pub perm_mail_import: bool,
    pub perm_employees: bool,
    pub perm_privacy: bool,
}

#[derive(Template)]
#[template(path = "employee_edit.html")]
struct EditPage {
    nav: Nav,
    id: i64,
    f: EmpView,
    errors: Vec<String>,
    message: Option<String>,
    /// The employee's API tokens: (label, created, last used).
    tokens: Vec<(String, String, String)>,
    /// The employee's current and future absences (entered on their own page).
    absences: Vec<super::absence::AbsRow>,
}

impl EditPage {
    fn new(user: &CurrentUser, id: i64, f: EmpView, errors: Vec<String>) -> EditPage {
        EditPage { nav: Nav::new(user, "mitarbeiter"), id, f, errors, message: None, tokens: vec![], absences: vec![] }
    }
}

#[derive(Deserialize)]
pub struct EditQuery {
    #[serde(default)]
    hinweis: String,
}

pub async fn list(
    State(state): State<WebState>,
    user: CurrentUser,
    Query(q): Query<NoticeQuery>,
) -> Result<Html<String>, WebError> {
    user.require(Permission::ManageEmployees)?;
    let employees = state
        .store
        .employees()
        .await?
        .into_iter()
        .map(|e| EmpRow {
            id: e.id.0,
            name: e.name.clone(),
            username: e.username.clone().unwrap_or_default(),
            current: e.is_current,
            license: e.license.clone().unwrap_or_default(),
            email: e.work_email.as_ref().map(|a| a.to_string()).unwrap_or_default(),
            permissions: e.permissions.iter().map(|p| p.german()).collect::<Vec<_>>().join(", "),
        })
        .collect();
    Ok(Html(ListPage { nav: Nav::new(&user, "mitarbeiter"), message: q.german(), employees }.render()?))
}

fn view_of(e: &Employee) -> EmpView {
    EmpView {
        name: e.name.clone(),
        current: e.is_current,
        email: e.work_email.as_ref().map(|a| a.to_string()).unwrap_or_default(),
        license: e.license.clone().unwrap_or_default(),
        username: e.username.clone().unwrap_or_default(),
        perm_mail_import: e.has(Permission::ManageMailImport),
        perm_employees: e.has(Permission::ManageEmployees),
        perm_privacy: e.has(Permission::ManagePrivacy),
    }
}

fn view_of_form(f: &EmpForm) -> EmpView {
    EmpView {
        name: f.name.clone(),
        current: f.current.is_some(),
        email: f.email.clone(),
        license: f.license.clone(),
        username: f.username.clone(),
        perm_mail_import: f.perm_mail_import.is_some(),
        perm_employees: f.perm_employees.is_some(),
        perm_privacy: f.perm_privacy.is_some(),
    }
}

pub async fn new_form(user: CurrentUser) -> Result<Html<String>, WebError> {
    user.require(Permission::ManageEmployees)?;
    let f = EmpView {
        name: String::new(),
        current: true,
        email: String::new(),
        license: String::new(),
        username: String::new(),
        perm_mail_import: false,
        perm_employees: false,
        perm_privacy: false,
    };
    Ok(Html(EditPage::new(&user, 0, f, vec![]).render()?))
}

pub async fn edit_form(
    State(state): State<WebState>,
    user: CurrentUser,
    Path(id): Path<i64>,
    Query(q): Query<EditQuery>,
) -> Result<Html<String>, WebError> {
    user.require(Permission::ManageEmployees)?;
    let e = state.store.employee(EmployeeId(id)).await?;
    let mut page = EditPage::new(&user, id, view_of(&e), vec![]);
    page.tokens = state
        .store
        .api_tokens(e.id)
        .await?
        .into_iter()
        .map(|t| (t.label, german_time(t.created_ms), t.last_used_ms.map(german_time).unwrap_or_else(|| "nie".into())))
        .collect();
    page.absences = super::absence::rows(state.store.absence_list(Some(e.id), now_ms()).await?, now_ms());
    if q.hinweis == "beendet" {
        page.message = Some("Alle Sitzungen und API-Tokens wurden beendet.".into());
    }
    Ok(Html(page.render()?))
}

/// „Alle Sitzungen und Tokens beenden“: logs the employee out everywhere and revokes their API tokens.
pub async fn revoke_all(
    State(state): State<WebState>,
    user: CurrentUser,
    Path(id): Path<i64>,
    axum::Form(f): axum::Form<CsrfOnly>,
) -> Result<Response, WebError> {
    user.require(Permission::ManageEmployees)?;
    user.check_csrf(&f.csrf)?;
    let e = state.store.employee(EmployeeId(id)).await?;
    let (sessions, tokens) = state.store.revoke_all(e.id).await?;
    let entry = AuditEntry::RevokeAll { employee: Person::of(&e), sessions: sessions as i64, tokens: tokens as i64 };
    state.store.audit_entry(now_ms(), &user.actor(), &entry).await?;
    Ok(Redirect::to(&format!("/mitarbeiter/{id}?hinweis=beendet")).into_response())
}

/// Validates the form; returns the German messages next to the fields' names.
fn validate(f: &EmpForm) -> (Option<EmailAddress>, Vec<String>) {
    let mut errors = Vec::new();
    if f.name.trim().is_empty() {
        errors.push("Bitte geben Sie einen Namen ein.".to_string());
    }
    let email = if f.email.trim().is_empty() {
        None
    } else {
        match EmailAddress::parse(&f.email) {
            Ok(a) => Some(a),
            Err(e) => {
                errors.push(format!("E-Mail (Daten zur Arbeit): {}", e.german()));
                None
            }
        }
    };
    if !f.password.is_empty() && f.password.chars().count() < 10 {
        errors.push("Das Passwort muss mindestens 10 Zeichen lang sein.".to_string());
    }
    if !f.password.is_empty() && f.username.trim().is_empty() {
        errors.push("Für ein Passwort wird ein Benutzername benötigt.".to_string());
    }
    (email, errors)
}

fn permissions(f: &EmpForm) -> Vec<Permission> {
    let mut p = Vec::new();
    if f.perm_mail_import.is_some() {
        p.push(Permission::ManageMailImport);
    }
    if f.perm_employees.is_some() {
        p.push(Permission::ManageEmployees);
    }
    if f.perm_privacy.is_some() {
        p.push(Permission::ManagePrivacy);
    }
    p
}

async fn finish(
    state: &WebState,
    user: &CurrentUser,
    id: EmployeeId,
    f: &EmpForm,
    entry: AuditEntry,
    done: String,
) -> Result<Response, WebError> {
    // A new password ends the employee's sessions and tokens (the store does it); one's own
    // password changed here would log oneself out, so this browser gets a new session.
    let mut jar = None;
    if !f.password.is_empty() {
        state.store.set_password_hash(id, &hash_password_limited(f.password.clone()).await).await?;
        if id == user.employee.id {
            jar = Some(crate::auth::start_session(state, CookieJar::default(), id).await?);
        }
    }
    state.store.audit_entry(now_ms(), &user.actor(), &entry).await?;
    Ok((jar, Redirect::to(&done)).into_response())
}

/// What saving `after` takes away: each row that becomes inactive (with why) and each waiting
/// Vorgang that loses `after` as a candidate, in German; and the number of rows.
async fn consequences(state: &WebState, before: &Employee, after: &Employee) -> Result<(Vec<String>, i64), WebError> {
    let employees = state.store.employees().await?;
    let lost = rows_losing(after, &employees, &state.store.routes().await?);
    let mut out: Vec<String> = lost
        .iter()
        .map(|(r, why)| {
            let why: Vec<String> = why.iter().map(|e| e.german()).collect();
            format!(
                "Die Zuordnung Von {} → An {} wird inaktiv. {}",
                name_of(&employees, Some(r.from.0)),
                name_of(&employees, Some(r.to.0)),
                why.join(" ")
            )
        })
        .collect();
    if before.check_an().is_ok() && after.check_an().is_err() {
        for c in state.store.waiting_for(before.id).await? {
            let subject =
                if c.subject.trim().is_empty() { "(ohne Betreff)".to_string() } else { format!("„{}“", c.subject) };
            out.push(format!(
                "Der wartende Vorgang {subject} kann dann nicht mehr an {} gehen, nur noch an die anderen möglichen Empfänger.",
                before.name
            ));
        }
    }
    Ok((out, lost.len() as i64))
}

pub async fn create(
    State(state): State<WebState>,
    user: CurrentUser,
    axum::Form(f): axum::Form<EmpForm>,
) -> Result<Response, WebError> {
    user.require(Permission::ManageEmployees)?;
    user.check_csrf(&f.csrf)?;
    let (email, mut errors) = validate(&f);
    if let Err(e) = check_work_email(None, email.as_ref(), &state.store.employees().await?) {
        errors.push(e.german());
    }
    if errors.is_empty() {
        let new = NewEmployee {
            name: f.name.clone(),
            username: Some(f.username.clone()),
            is_current: f.current.is_some(),
            license: Some(f.license.clone()),
            work_email: email,
            permissions: permissions(&f),
        };
        match state.store.add_employee(&new, now_ms()).await {
            Ok(e) => {
                let entry = AuditEntry::AddEmployee { employee: Person::of(&e) };
                return finish(&state, &user, e.id, &f, entry, Notice::EmployeeCreated.url("/mitarbeiter", None)).await;
            }
            Err(StoreError::Employee(e)) => errors.push(e.german()),
            Err(StoreError::Invalid(_)) => errors.push("Dieser Benutzername ist bereits vergeben.".into()),
            Err(e) => return Err(e.into()),
        }
    }
    let page = EditPage::new(&user, 0, view_of_form(&f), errors);
    Ok((axum::http::StatusCode::UNPROCESSABLE_ENTITY, Html(page.render()?)).into_response())
}

pub async fn update(
    State(state): State<WebState>,
    user: CurrentUser,
    Path(id): Path<i64>,
    axum::Form(f): axum::Form<EmpForm>,
) -> Result<Response, WebError> {
    user.require(Permission::ManageEmployees)?;
    user.check_csrf(&f.csrf)?;
    let before = state.store.employee(EmployeeId(id)).await?;
    let mut e = before.clone();
    let (email, mut errors) = validate(&f);
    if let Err(err) = check_work_email(Some(e.id), email.as_ref(), &state.store.employees().await?) {
        errors.push(err.german());
    }
    if e.id == user.employee.id && f.perm_employees.is_none() {
        errors.push("Sie können sich das Recht „Mitarbeiter verwalten“ nicht selbst entziehen.".into());
    }
    if errors.is_empty() {
        e.name = f.name.clone();
        e.is_current = f.current.is_some();
        e.work_email = email;
        e.license = Some(f.license.clone());
        e.username = Some(f.username.clone());
        e.permissions = permissions(&f);
        let (details, inactive) = consequences(&state, &before, &e).await?;
        if !details.is_empty() && !confirmed(&f.bestaetigt) {
            return Ok(Confirm {
                nav: Nav::new(&user, "mitarbeiter"),
                title: "Mitarbeiter speichern?".into(),
                question: format!("Wenn Sie die Änderungen an {} speichern, hat das Folgen:", before.name),
                details,
                action: format!("/mitarbeiter/{id}"),
                fields: f.fields(),
                button: "Ja, trotzdem speichern".into(),
                back: format!("/mitarbeiter/{id}"),
            }
            .html()?
            .into_response());
        }
        match state.store.update_employee(&e).await {
            Ok(()) => {
                let entry = AuditEntry::UpdateEmployee { employee: Person::of(&e), inactive };
                let done = Notice::EmployeeSaved.url("/mitarbeiter", (inactive > 0).then_some(inactive));
                return finish(&state, &user, e.id, &f, entry, done).await;
            }
            Err(StoreError::Employee(err)) => errors.push(err.german()),
            Err(StoreError::Invalid(_)) => errors.push("Dieser Benutzername ist bereits vergeben.".into()),
            Err(err) => return Err(err.into()),
        }
    }
    let page = EditPage::new(&user, id, view_of_form(&f), errors);
    Ok((axum::http::StatusCode::UNPROCESSABLE_ENTITY, Html(page.render()?)).into_response())
}

/// The edit page with the refusal of a taken work e-mail, and the list with a notice, for the
/// no-English test.
#[cfg(test)]
pub(crate) fn sample_pages(nav: Nav) -> Vec<(String, String)> {
    let err = postkorb_core::EmployeeError::DuplicateWorkEmail {
        email: "bernd@firma.de".into(),
        other: "Bernd Büro".into(),
    };
    let f = EmpView {
        name: "Bernd Zwei".into(),
        current: true,
        email: "Bernd@Firma.de".into(),
        license: String::new(),
        username: String::new(),
        perm_mail_import: false,
        perm_employees: false,
        perm_privacy: false,
    };
    let edit = EditPage {
        nav: Nav { name: nav.name.clone(), csrf: nav.csrf.clone(), ..nav },
        id: 2,
        f,
        errors: vec![err.german()],
        message: None,
        tokens: vec![],
        absences: vec![],
    };
    vec![("Mitarbeiter bearbeiten".into(), edit.render().unwrap())]
}
