//! „Datenschutz“ (issue 18), only for „Datenschutz verwalten“: the Aufbewahrungsfristen with what
//! each means (`/optionen/datenschutz`), the Löschprotokoll (`/optionen/datenschutz/loeschprotokoll`),
//! and setting and lifting a Sperre on a Vorgang (`/vorgang/{id}/sperre`, `/vorgang/{id}/sperre/{hid}/aufheben`)
//! or a kept mail (the same under `/nicht-zugeordnet/{id}`; the form is `holds.html`).
//! Every POST checks the CSRF token; every change is audited.

use askama::Template;
use axum::extract::{Path, Query, State};
use axum::response::{Html, IntoResponse, Redirect, Response};
use postkorb_core::retention::{HoldKind, RetentionClass, RetentionSettings, check_hold};
use postkorb_core::time::parse_berlin;
use postkorb_core::{AuditEntry, Permission};
use postkorb_store::HoldTarget;
use serde::Deserialize;
use std::collections::HashMap;

use super::Nav;
use crate::WebState;
use crate::auth::CurrentUser;
use crate::error::WebError;
use crate::ui::{Notice, NoticeQuery};
use crate::util::{german_time, now_ms};

pub const PAGE: &str = "/optionen/datenschutz";
pub const LOG: &str = "/optionen/datenschutz/loeschprotokoll";
pub const ENCRYPTION: &str = "/optionen/datenschutz/verschluesselung";

/// „Inhalte verschlüsselt speichern“ as shown (issue 18 item 7; crates/store/src/sealing.rs).
pub struct EncryptionView {
    pub on: bool,
    /// Raw mails, attachments, texts and search texts still stored plain (counted only while a
    /// conversion may have something left: counting reads every raw mail and search text).
    pub plain: i64,
}

impl EncryptionView {
    async fn read(state: &WebState) -> Result<EncryptionView, WebError> {
        let on = state.store.seal_new().await?;
        let pending = !on || state.store.seal_pending().await?;
        let plain = if pending {
            let p = state.store.seal_progress().await?;
            p.raw_plain + p.attachments_plain + p.bodies_plain + p.search_plain
        } else {
            0
        };
        Ok(EncryptionView { on, plain })
    }
}

/// One period on the form.
pub struct PeriodRow {
    pub field: &'static str,
    pub label: &'static str,
    pub value: String,
    pub unit: &'static str,
    pub meaning: String,
}

#[derive(Template)]
#[template(path = "privacy.html")]
struct PrivacyPage {
    nav: Nav,
    message: Option<String>,
    errors: Vec<String>,
    rows: Vec<PeriodRow>,
    run_at: String,
    encryption: EncryptionView,
}

fn rows(s: &RetentionSettings, typed: Option<&HashMap<String, String>>) -> Vec<PeriodRow> {
    s.all()
        .into_iter()
        .map(|(c, n)| PeriodRow {
            field: c.code(),
            label: c.german(),
            value: typed.and_then(|t| t.get(c.code()).cloned()).unwrap_or_else(|| n.to_string()),
            unit: c.unit_german(),
            meaning: c.meaning(n),
        })
        .collect()
}

pub(crate) fn hhmm(minute: u32) -> String {
    format!("{:02}:{:02}", minute / 60, minute % 60)
}

/// The daily run's time from `HH:MM` (office clock), as minutes after midnight.
pub(crate) fn parse_run_at(text: &str) -> Option<u32> {
    parse_berlin(&format!("2000-01-01 {}", text.trim()))?;
    let (h, m) = text.trim().split_once(':')?;
    Some(h.parse::<u32>().ok()? * 60 + m.parse::<u32>().ok()?)
}

/// What changed, for the audit entry (German, like every audit sentence).
pub(crate) fn retention_changes(before: &RetentionSettings, after: &RetentionSettings) -> Vec<String> {
    let mut changes: Vec<String> = RetentionClass::ALL
        .into_iter()
        .filter(|c| before.period(*c) != after.period(*c))
        .map(|c| format!("{}: {} → {} {}", c.german(), before.period(c), after.period(c), c.unit_german()))
        .collect();
    if before.run_minute != after.run_minute {
        changes.push(format!("Löschlauf: {} → {} Uhr", hhmm(before.run_minute), hhmm(after.run_minute)));
    }
    changes
}

pub async fn show(
    State(state): State<WebState>,
    user: CurrentUser,
    Query(q): Query<NoticeQuery>,
) -> Result<Html<String>, WebError> {
    user.require(Permission::ManagePrivacy)?;
    let s = state.store.retention_settings().await?;
    let page = PrivacyPage {
        nav: Nav::new(&user, "datenschutz"),
        message: q.german(),
        errors: vec![],
        rows: rows(&s, None),
        run_at: hhmm(s.run_minute),
        encryption: EncryptionView::read(&state).await?,
    };
    Ok(Html(page.render()?))
}

pub async fn save(
    State(state): State<WebState>,
    user: CurrentUser,
    axum::Form(form): axum::Form<HashMap<String, String>>,
) -> Result<Response, WebError> {
    user.require(Permission::ManagePrivacy)?;
    user.check_csrf(form.get("csrf").map(String::as_str).unwrap_or_default())?;
    let before = state.store.retention_settings().await?;
    let mut s = before.clone();
    let mut errors = Vec::new();
    for class in RetentionClass::ALL {
        let Some(v) = form.get(class.code()) else { continue };
        match v.trim().parse::<i64>() {
            Ok(n) => {
                if let Err(e) = s.set(class, n) {
                    errors.push(e.german());
                }
            }
            Err(_) => errors.push(format!("{}: bitte eine ganze Zahl angeben.", class.german())),
        }
    }
    let run_at = form.get("run_at").cloned().unwrap_or_default();
    match parse_run_at(&run_at) {
        Some(m) => s.run_minute = m,
        None => errors.push("Uhrzeit des Löschlaufs: bitte als SS:MM angeben, z. B. 02:30.".into()),
    }
    if !errors.is_empty() {
        let page = PrivacyPage {
            nav: Nav::new(&user, "datenschutz"),
            message: None,
            errors,
            rows: rows(&before, Some(&form)),
            run_at,
            encryption: EncryptionView::read(&state).await?,
        };
        return Ok((axum::http::StatusCode::UNPROCESSABLE_ENTITY, Html(page.render()?)).into_response());
    }
    let changes = retention_changes(&before, &s);
    state.store.save_retention_settings(&s).await?;
    let actor = user.actor();
    state.store.audit_entry(now_ms(), &actor, &AuditEntry::SaveRetention { changes }).await?;
    Ok(Redirect::to(&Notice::RetentionSaved.url(PAGE, None)).into_response())
}

#[derive(Deserialize)]
pub struct EncryptionForm {
    csrf: String,
    /// "an" or "aus".
    verschluesseln: String,
}

/// Switches „Inhalte verschlüsselt speichern“; `serve` converts what is stored plain in the
/// background once it is on (crates/app/src/service/sealing.rs).
pub async fn set_encryption(
    State(state): State<WebState>,
    user: CurrentUser,
    axum::Form(form): axum::Form<EncryptionForm>,
) -> Result<Response, WebError> {
    user.require(Permission::ManagePrivacy)?;
    user.check_csrf(&form.csrf)?;
    let on = match form.verschluesseln.as_str() {
        "an" => true,
        "aus" => false,
        _ => return Err(WebError::BadRequest("Unbekannte Auswahl.".into())),
    };
    if state.store.seal_new().await? != on {
        state.store.set_seal_new(on).await?;
        let actor = user.actor();
        state.store.audit_entry(now_ms(), &actor, &AuditEntry::MailEncryption { on }).await?;
    }
    let notice = if on { Notice::EncryptionOn } else { Notice::EncryptionOff };
    Ok(Redirect::to(&notice.url(PAGE, None)).into_response())
}

/// One Löschprotokoll entry as shown.
pub struct LogRow {
    pub at: String,
    pub class: &'static str,
    pub count: i64,
    pub items: Vec<(i64, String)>,
}

#[derive(Template)]
#[template(path = "deletion_log.html")]
struct LogPage {
    nav: Nav,
    rows: Vec<LogRow>,
    total: i64,
}

pub async fn log(State(state): State<WebState>, user: CurrentUser) -> Result<Html<String>, WebError> {
    user.require(Permission::ManagePrivacy)?;
    let (entries, total) = state.store.deletion_log(100, 0).await?;
    let rows = entries
        .into_iter()
        .map(|e| LogRow {
            at: german_time(e.at_ms),
            class: if e.on_request { "Antrag" } else { e.class.map_or("Unbekannt", RetentionClass::german) },
            count: e.count,
            items: e.items.into_iter().map(|d| (d.id, d.sha256.unwrap_or_default())).collect(),
        })
        .collect();
    Ok(Html(LogPage { nav: Nav::new(&user, "datenschutz"), rows, total }.render()?))
}

/// One Sperre on the Vorgang page.
pub struct HoldView {
    pub id: i64,
    pub kind: &'static str,
    pub reason: String,
    pub until: String,
    pub in_force: bool,
    /// Its end or review date has passed while it still holds: „Überprüfung fällig“.
    pub review_due: bool,
}

/// The Sperren of a Vorgang for its page, only for „Datenschutz verwalten“.
pub async fn holds_of(state: &WebState, user: &CurrentUser, id: i64) -> Result<Option<Vec<HoldView>>, WebError> {
    holds_on(state, user, HoldTarget::Case(id)).await
}

/// The Sperren of a Vorgang or a kept mail, only for „Datenschutz verwalten“ (`None` for everyone else).
pub async fn holds_on(
    state: &WebState,
    user: &CurrentUser,
    target: HoldTarget,
) -> Result<Option<Vec<HoldView>>, WebError> {
    if !user.employee.has(Permission::ManagePrivacy) {
        return Ok(None);
    }
    let now = now_ms();
    let holds = state.store.holds(target).await?;
    Ok(Some(
        holds
            .into_iter()
            .map(|h| HoldView {
                id: h.id,
                kind: h.kind.german(),
                reason: h.reason,
                until: german_time(h.until_ms),
                in_force: h.lifted_ms.is_none(),
                review_due: h.lifted_ms.is_none() && h.until_ms <= now,
            })
            .collect(),
    ))
}

/// The page a Sperre's form belongs to.
pub fn page_of(target: HoldTarget) -> String {
    match target {
        HoldTarget::Case(id) => format!("/vorgang/{id}"),
        HoldTarget::Kept(id) => format!("/nicht-zugeordnet/{id}"),
    }
}

#[derive(Deserialize)]
pub struct HoldForm {
    #[serde(default)]
    csrf: String,
    #[serde(default)]
    kind: String,
    #[serde(default)]
    reason: String,
    #[serde(default)]
    until: String,
}

/// „Sperre setzen“ on a Vorgang.
pub async fn set_hold(
    State(state): State<WebState>,
    user: CurrentUser,
    Path(id): Path<i64>,
    axum::Form(f): axum::Form<HoldForm>,
) -> Result<Response, WebError> {
    set_hold_on(&state, &user, HoldTarget::Case(id), f).await
}

/// „Sperre setzen“ on a kept mail („Nicht zugeordnete E-Mails“).
pub async fn set_kept_hold(
    State(state): State<WebState>,
    user: CurrentUser,
    Path(id): Path<i64>,
    axum::Form(f): axum::Form<HoldForm>,
) -> Result<Response, WebError> {
    set_hold_on(&state, &user, HoldTarget::Kept(id), f).await
}

async fn set_hold_on(
    state: &WebState,
    user: &CurrentUser,
    target: HoldTarget,
    f: HoldForm,
) -> Result<Response, WebError> {
    user.require(Permission::ManagePrivacy)?;
    user.check_csrf(&f.csrf)?;
    let now = now_ms();
    let kind =
        HoldKind::from_code(&f.kind).ok_or_else(|| WebError::BadRequest("Bitte die Art der Sperre wählen.".into()))?;
    let until =
        parse_berlin(&f.until).ok_or_else(|| WebError::BadRequest("Datum: bitte als JJJJ-MM-TT angeben.".into()))?;
    check_hold(&f.reason, until, now).map_err(|e| WebError::BadRequest(e.into()))?;
    let actor = user.actor();
    state.store.set_hold(target, kind, &f.reason, until, &actor, now).await?;
    Ok(Redirect::to(&page_of(target)).into_response())
}

#[derive(Deserialize)]
pub struct CsrfForm {
    #[serde(default)]
    csrf: String,
}

/// „Sperre aufheben“ on a Vorgang.
pub async fn lift_hold(
    State(state): State<WebState>,
    user: CurrentUser,
    Path((id, hold)): Path<(i64, i64)>,
    axum::Form(f): axum::Form<CsrfForm>,
) -> Result<Response, WebError> {
    lift_hold_on(&state, &user, HoldTarget::Case(id), hold, f).await
}

/// „Sperre aufheben“ on a kept mail.
pub async fn lift_kept_hold(
    State(state): State<WebState>,
    user: CurrentUser,
    Path((id, hold)): Path<(i64, i64)>,
    axum::Form(f): axum::Form<CsrfForm>,
) -> Result<Response, WebError> {
    lift_hold_on(&state, &user, HoldTarget::Kept(id), hold, f).await
}

async fn lift_hold_on(
    state: &WebState,
    user: &CurrentUser,
    target: HoldTarget,
    hold: i64,
    f: CsrfForm,
) -> Result<Response, WebError> {
    user.require(Permission::ManagePrivacy)?;
    user.check_csrf(&f.csrf)?;
    // Only a Sperre on this very Vorgang or mail: an id of another's is „not found“.
    if !state.store.holds(target).await?.iter().any(|h| h.id == hold) {
        return Err(WebError::NotFound);
    }
    let actor = user.actor();
    state.store.lift_hold(hold, &actor, now_ms()).await?;
    Ok(Redirect::to(&page_of(target)).into_response())
}

#[cfg(test)]
mod tests {
    use super::*;

    fn nav() -> Nav {
        Nav {
            name: "Dora".into(),
            csrf: "t".into(),
            can_import: false,
            can_employees: false,
            can_privacy: true,
            active: "datenschutz",
        }
    }

    #[test]
    fn the_pages_are_german() {
        let s = RetentionSettings::default();
        let page = PrivacyPage {
            nav: nav(),
            message: Some(Notice::RetentionSaved.german(0)),
            errors: vec!["Erledigte Vorgänge: erlaubt sind 6 bis 30 Jahre.".into()],
            rows: rows(&s, None),
            run_at: hhmm(s.run_minute),
            encryption: EncryptionView { on: true, plain: 3 },
        };
        let html = page.render().unwrap();
        crate::german::assert_german(&html, "Datenschutz");
        assert!(html.contains("Noch unverschlüsselt: 3") && html.contains("id=\"encryption-off\""));
        assert!(html.contains("02:30") && html.contains("Kalenderjahres"));
        let log = LogPage {
            nav: nav(),
            total: 1,
            rows: vec![LogRow {
                at: german_time(0),
                class: RetentionClass::Cases.german(),
                count: 1,
                items: vec![(7, "ab".repeat(32))],
            }],
        };
        crate::german::assert_german(&log.render().unwrap(), "Löschprotokoll");
    }
}
