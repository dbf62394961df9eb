//! „Webhooks“ (issue 17, admins only): the endpoints that other programs are told through — list
//! with state and health, „Neu“ (the `whsec_…` secret shown once), „Neues Geheimnis“,
//! „Pausieren“/„Fortsetzen“, „Löschen“. The secret is made and sealed by the app (`Hooks`); the
//! list never shows it again. Where the URL points is checked against `allow_private_hosts` on
//! saving, too.

use askama::Template;
use axum::extract::{Path, Query, State};
use axum::response::{Html, IntoResponse, Redirect, Response};
use postkorb_core::webhook::{EVENT_TYPES, WebhookError, validate};
use postkorb_core::{AuditEntry, Permission};
use postkorb_store::{Store, Webhook};

use super::Nav;
use crate::WebState;
use crate::auth::{CsrfOnly, CurrentUser};
use crate::error::WebError;
use crate::ui::{Confirm, ConfirmForm, Notice, NoticeQuery, confirmed};
use crate::util::{german_time, now_ms};

pub(crate) const LIST: &str = "/optionen/webhooks";

pub struct HookRow {
    pub id: i64,
    pub name: String,
    pub url: String,
    /// The German names of the events sent, joined.
    pub events: String,
    pub active: bool,
    /// „aktiv“, or paused with since when and why.
    pub state: String,
    pub last_success: String,
    /// „seit …“ while deliveries fail.
    pub failing: String,
}

/// The form „Neu“ as typed, with a German error next to each field.
#[derive(Default)]
pub struct HookForm {
    pub name: String,
    pub url: String,
    pub name_error: Option<String>,
    pub url_error: Option<String>,
    pub events_error: Option<String>,
}

#[derive(Template)]
#[template(path = "webhooks.html")]
struct Page {
    nav: Nav,
    message: Option<String>,
    /// „Webhook „…“ wurde nach 3 Tagen ohne Erfolg pausiert.“
    paused: Vec<String>,
    rows: Vec<HookRow>,
    form: HookForm,
    /// (type, German name, checked)
    events: Vec<(String, String, bool)>,
    /// (endpoint name, secret): shown this once.
    new_secret: Option<(String, String)>,
}

/// The German name of a webhook event type (the type itself if unknown).
pub(crate) fn event_label(ty: &str) -> String {
    EVENT_TYPES.iter().find(|(t, _, _)| *t == ty).map(|(_, _, g)| g.to_string()).unwrap_or_else(|| ty.to_string())
}

/// The sentence for an endpoint paused because it failed for days (Startmaske and this page).
pub(crate) fn paused_sentence(w: &Webhook) -> Option<String> {
    (!w.active && w.paused_reason.as_deref() == Some("failing")).then(|| {
        format!(
            "Webhook „{}“ wurde nach 3 Tagen ohne Erfolg pausiert. Prüfen Sie die Adresse und wählen Sie „Fortsetzen“.",
            w.name
        )
    })
}

/// The endpoints paused for failing, as sentences (for admins' notices).
pub(crate) async fn paused_notices(store: &Store) -> Result<Vec<String>, WebError> {
    Ok(store.webhooks().await?.iter().filter_map(paused_sentence).collect())
}

fn row(w: &Webhook) -> HookRow {
    let state = match (w.active, w.paused_reason.as_deref(), w.paused_ms) {
        (true, _, _) => "aktiv".to_string(),
        (false, Some("failing"), Some(t)) => format!("pausiert seit {} – 3 Tage ohne Erfolg", german_time(t)),
        (false, _, Some(t)) => format!("pausiert seit {} – von Hand", german_time(t)),
        (false, _, None) => "pausiert".to_string(),
    };
    HookRow {
        id: w.id,
        name: w.name.clone(),
        url: w.url.clone(),
        events: w.events.iter().map(|e| event_label(e)).collect::<Vec<_>>().join(", "),
        active: w.active,
        state,
        last_success: w.last_success_ms.map(german_time).unwrap_or_else(|| "noch nie".into()),
        failing: w.failing_since_ms.map(|t| format!("seit {}", german_time(t))).unwrap_or_default(),
    }
}

async fn render(
    state: &WebState,
    user: &CurrentUser,
    message: Option<String>,
    form: HookForm,
    chosen: &[String],
    new_secret: Option<(String, String)>,
) -> Result<Html<String>, WebError> {
    let hooks = state.store.webhooks().await?;
    let page = Page {
        nav: Nav::new(user, "webhooks"),
        message,
        paused: hooks.iter().filter_map(paused_sentence).collect(),
        rows: hooks.iter().map(row).collect(),
        form,
        events: EVENT_TYPES
            .iter()
            .map(|(t, _, g)| (t.to_string(), g.to_string(), chosen.is_empty() || chosen.iter().any(|c| c == t)))
            .collect(),
        new_secret,
    };
    Ok(Html(page.render()?))
}

pub async fn list(
    State(state): State<WebState>,
    user: CurrentUser,
    Query(q): Query<NoticeQuery>,
) -> Result<Html<String>, WebError> {
    user.require(Permission::ManageMailImport)?;
    render(&state, &user, q.german(), HookForm::default(), &[], None).await
}

/// The one check of a new or changed endpoint (web and API): core's validator, the name not
/// taken by another endpoint, and where the URL points. The error names its field.
pub(crate) async fn check(
    state: &WebState,
    id: Option<i64>,
    name: &str,
    url: &str,
    events: &[String],
) -> Result<(String, String, Vec<String>), (&'static str, String, String)> {
    let (name, events) = validate(name, url, events).map_err(|e| {
        let field = match e {
            WebhookError::NoName => "name",
            WebhookError::BadUrl => "url",
            WebhookError::NoEvents | WebhookError::UnknownEvent(_) => "events",
        };
        (field, e.german(), e.english())
    })?;
    let taken = state.store.webhooks().await.map_err(|e| ("name", e.to_string(), e.to_string()))?;
    if taken.iter().any(|w| w.name == name && Some(w.id) != id) {
        let en = format!("a webhook named {name:?} exists already");
        return Err(("name", "Ein Webhook mit diesem Namen besteht schon.".into(), en));
    }
    let url = url.trim().to_string();
    if let Err(german) = state.hooks.check_webhook_url(url.clone()).await {
        let en = "the URL points into the own network and allow_private_hosts is off".to_string();
        return Err(("url", german, en));
    }
    Ok((name, url, events))
}

pub async fn create(
    State(state): State<WebState>,
    user: CurrentUser,
    axum::Form(fields): axum::Form<Vec<(String, String)>>,
) -> Result<Response, WebError> {
    user.require(Permission::ManageMailImport)?;
    let field = |k: &str| fields.iter().find(|(n, _)| n == k).map(|(_, v)| v.clone()).unwrap_or_default();
    user.check_csrf(&field("csrf"))?;
    let (name, url) = (field("name"), field("url"));
    let events: Vec<String> = fields.iter().filter(|(n, _)| n == "events").map(|(_, v)| v.clone()).collect();
    let (name, url, events) = match check(&state, None, &name, &url, &events).await {
        Ok(ok) => ok,
        Err((which, german, _)) => {
            let mut form = HookForm { name, url, ..Default::default() };
            match which {
                "name" => form.name_error = Some(german),
                "url" => form.url_error = Some(german),
                _ => form.events_error = Some(german),
            }
            let chosen = if events.is_empty() { vec![String::new()] } else { events };
            let page = render(&state, &user, None, form, &chosen, None).await?;
            return Ok((axum::http::StatusCode::UNPROCESSABLE_ENTITY, page).into_response());
        }
    };
    let secret = state.hooks.new_webhook_secret().map_err(WebError::Internal)?;
    let id = state.store.add_webhook(&name, &url, &events, &secret.sealed, now_ms()).await?;
    let entry = AuditEntry::SaveWebhook { webhook: id, name: name.clone() };
    state.store.audit_entry(now_ms(), &user.actor(), &entry).await?;
    let message = Some(format!("Webhook „{name}“ angelegt."));
    Ok(render(&state, &user, message, HookForm::default(), &[], Some((name, secret.plain))).await?.into_response())
}

async fn hook(state: &WebState, id: i64) -> Result<Webhook, WebError> {
    state.store.webhook(id).await?.ok_or(WebError::NotFound)
}

/// „Neues Geheimnis“ (confirmed first: the old one stops working at once).
pub async fn new_secret(
    State(state): State<WebState>,
    user: CurrentUser,
    Path(id): Path<i64>,
    axum::Form(f): axum::Form<ConfirmForm>,
) -> Result<Response, WebError> {
    user.require(Permission::ManageMailImport)?;
    user.check_csrf(&f.csrf)?;
    let w = hook(&state, id).await?;
    if !confirmed(&f.bestaetigt) {
        return Ok(Confirm {
            nav: Nav::new(&user, "webhooks"),
            title: "Neues Geheimnis erzeugen?".into(),
            question: format!("Der Webhook „{}“ bekommt ein neues Geheimnis.", w.name),
            details: vec![
                "Das bisherige Geheimnis gilt ab sofort nicht mehr: Tragen Sie das neue gleich im empfangenden Programm ein.".into(),
                "Das neue Geheimnis wird nur einmal angezeigt.".into(),
            ],
            action: format!("{LIST}/{id}/geheimnis"),
            fields: Vec::new(),
            button: "Ja, neues Geheimnis".into(),
            back: LIST.into(),
        }
        .html()?
        .into_response());
    }
    let secret = state.hooks.new_webhook_secret().map_err(WebError::Internal)?;
    state.store.set_webhook_secret(id, &secret.sealed).await?;
    let entry = AuditEntry::WebhookSecret { webhook: id, name: w.name.clone() };
    state.store.audit_entry(now_ms(), &user.actor(), &entry).await?;
    let message = Some(format!("Webhook „{}“ hat ein neues Geheimnis.", w.name));
    Ok(render(&state, &user, message, HookForm::default(), &[], Some((w.name, secret.plain))).await?.into_response())
}

async fn set_active(state: &WebState, user: &CurrentUser, id: i64, active: bool) -> Result<Response, WebError> {
    let w = hook(state, id).await?;
    if state.store.set_webhook_active(id, active, "admin", now_ms()).await? {
        let entry = if active {
            AuditEntry::ResumeWebhook { webhook: id, name: w.name }
        } else {
            AuditEntry::WebhookPaused { webhook: id, name: w.name }
        };
        state.store.audit_entry(now_ms(), &user.actor(), &entry).await?;
    }
    let notice = if active { Notice::WebhookResumed } else { Notice::WebhookPaused };
    Ok(Redirect::to(&notice.url(LIST, None)).into_response())
}

pub async fn pause(
    State(state): State<WebState>,
    user: CurrentUser,
    Path(id): Path<i64>,
    axum::Form(f): axum::Form<CsrfOnly>,
) -> Result<Response, WebError> {
    user.require(Permission::ManageMailImport)?;
    user.check_csrf(&f.csrf)?;
    set_active(&state, &user, id, false).await
}

pub async fn resume(
    State(state): State<WebState>,
    user: CurrentUser,
    Path(id): Path<i64>,
    axum::Form(f): axum::Form<CsrfOnly>,
) -> Result<Response, WebError> {
    user.require(Permission::ManageMailImport)?;
    user.check_csrf(&f.csrf)?;
    set_active(&state, &user, id, true).await
}

pub async fn delete(
    State(state): State<WebState>,
    user: CurrentUser,
    Path(id): Path<i64>,
    axum::Form(f): axum::Form<ConfirmForm>,
) -> Result<Response, WebError> {
    user.require(Permission::ManageMailImport)?;
    user.check_csrf(&f.csrf)?;
    let w = hook(&state, id).await?;
    if !confirmed(&f.bestaetigt) {
        return Ok(Confirm {
            nav: Nav::new(&user, "webhooks"),
            title: "Webhook löschen?".into(),
            question: format!("Der Webhook „{}“ wird gelöscht.", w.name),
            details: vec![format!(
                "{} erfährt danach nichts mehr von Postkorb; noch nicht zugestellte Ereignisse werden nicht mehr gesendet.",
                w.url
            )],
            action: format!("{LIST}/{id}/loeschen"),
            fields: Vec::new(),
            button: "Ja, Webhook löschen".into(),
            back: LIST.into(),
        }
        .html()?
        .into_response());
    }
    state.store.delete_webhook(id).await?;
    let entry = AuditEntry::DeleteWebhook { webhook: id, name: w.name };
    state.store.audit_entry(now_ms(), &user.actor(), &entry).await?;
    Ok(Redirect::to(&Notice::WebhookDeleted.url(LIST, None)).into_response())
}

/// The page with an active and a paused endpoint, the secret shown, and every field's error.
#[cfg(test)]
pub(crate) fn sample_pages(nav: Nav) -> Vec<(String, String)> {
    let hook = |id, active, reason: Option<&str>| Webhook {
        id,
        name: "Maklerverwaltung".into(),
        url: "https://crm.beispiel.de/eingang".into(),
        events: EVENT_TYPES.iter().map(|(t, _, _)| t.to_string()).collect(),
        active,
        paused_ms: reason.map(|_| 1_795_793_880_000),
        paused_reason: reason.map(str::to_string),
        failing_since_ms: reason.map(|_| 1_795_500_000_000),
        last_success_ms: Some(1_795_400_000_000),
        created_ms: 1,
    };
    let hooks = [hook(1, true, None), hook(2, false, Some("failing")), hook(3, false, Some("admin"))];
    let errors = [WebhookError::NoName, WebhookError::BadUrl, WebhookError::NoEvents];
    let page = Page {
        nav,
        message: Some("Webhook „Maklerverwaltung“ angelegt.".into()),
        paused: hooks.iter().filter_map(paused_sentence).collect(),
        rows: hooks.iter().map(row).collect(),
        form: HookForm {
            name: String::new(),
            url: "ftp://x".into(),
            name_error: Some(errors[0].german()),
            url_error: Some(errors[1].german()),
            events_error: Some(errors[2].german()),
        },
        events: EVENT_TYPES.iter().map(|(t, _, g)| (t.to_string(), g.to_string(), true)).collect(),
        new_secret: Some(("Maklerverwaltung".into(), "whsec_MfKQ9r8GKYqrTwjUPD8ILPZIo2LaLaSw".into())),
    };
    vec![("Webhooks".into(), page.render().unwrap())]
}
