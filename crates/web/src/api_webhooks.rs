//! The JSON API of webhooks and the delivery log (issue 17), routed in `api.rs`; admins only
//! („E-Mails automatisch einlesen“). The same checks as the screen (`pages::webhooks::check`:
//! core's validator, the name free, where the URL points); the secret is in the answer of the
//! creation and of `POST /webhooks/{id}/secret` only, never in a list or a read.

use axum::Json;
use axum::extract::{Path, Query, State};
use axum::http::{HeaderMap, StatusCode};
use axum::response::{IntoResponse, Response};
use postkorb_core::{AuditEntry, Employee, Permission};
use postkorb_store::Webhook;
use serde::Deserialize;
use serde_json::{Value, json};

use crate::WebState;
use crate::auth::api_user;
use crate::error::{ApiError, WebError};
use crate::pages::deliveries::{STATUSES, target_label};
use crate::pages::webhooks::check;
use crate::util::now_ms;

type ApiResult = Result<Response, ApiError>;

async fn admin(s: &WebState, h: &HeaderMap) -> Result<Employee, ApiError> {
    let me = api_user(s, h).await?;
    if me.has(Permission::ManageMailImport) { Ok(me) } else { Err(ApiError(Permission::ManageMailImport.into())) }
}

fn actor(e: &Employee) -> String {
    format!("api:{}", e.username.clone().unwrap_or_else(|| e.name.clone()))
}

async fn hook(s: &WebState, id: i64) -> Result<Webhook, ApiError> {
    s.store.webhook(id).await?.ok_or(ApiError(WebError::NotFound))
}

fn refused(field: &str, english: String) -> Response {
    (StatusCode::UNPROCESSABLE_ENTITY, Json(json!({"error": english, "field": field}))).into_response()
}

pub async fn list(State(s): State<WebState>, h: HeaderMap) -> ApiResult {
    admin(&s, &h).await?;
    Ok(Json(s.store.webhooks().await?).into_response())
}

pub async fn get_one(State(s): State<WebState>, h: HeaderMap, Path(id): Path<i64>) -> ApiResult {
    admin(&s, &h).await?;
    Ok(Json(hook(&s, id).await?).into_response())
}

#[derive(Deserialize)]
pub struct NewWebhook {
    name: String,
    url: String,
    events: Vec<String>,
}

/// 201 with the endpoint and its secret (shown this once); 422 naming the field.
pub async fn create(State(s): State<WebState>, h: HeaderMap, Json(b): Json<NewWebhook>) -> ApiResult {
    let me = admin(&s, &h).await?;
    let (name, url, events) = match check(&s, None, &b.name, &b.url, &b.events).await {
        Ok(ok) => ok,
        Err((field, _, english)) => return Ok(refused(field, english)),
    };
    let secret = s.hooks.new_webhook_secret().map_err(|e| ApiError(WebError::Internal(e)))?;
    let id = s.store.add_webhook(&name, &url, &events, &secret.sealed, now_ms()).await?;
    s.store.audit_entry(now_ms(), &actor(&me), &AuditEntry::SaveWebhook { webhook: id, name }).await?;
    let body = json!({"webhook": hook(&s, id).await?, "secret": secret.plain});
    Ok((StatusCode::CREATED, Json(body)).into_response())
}

#[derive(Deserialize)]
pub struct WebhookPatch {
    name: Option<String>,
    url: Option<String>,
    events: Option<Vec<String>>,
    /// false: pause (deliveries are kept), true: resume.
    active: Option<bool>,
}

/// Changes what is given; `active` pauses or resumes.
pub async fn patch(
    State(s): State<WebState>,
    h: HeaderMap,
    Path(id): Path<i64>,
    Json(b): Json<WebhookPatch>,
) -> ApiResult {
    let me = admin(&s, &h).await?;
    let w = hook(&s, id).await?;
    if b.name.is_some() || b.url.is_some() || b.events.is_some() {
        let (name, url, events) =
            (b.name.unwrap_or(w.name.clone()), b.url.unwrap_or(w.url.clone()), b.events.unwrap_or(w.events.clone()));
        let (name, url, events) = match check(&s, Some(id), &name, &url, &events).await {
            Ok(ok) => ok,
            Err((field, _, english)) => return Ok(refused(field, english)),
        };
        s.store.update_webhook(id, &name, &url, &events).await?;
        s.store.audit_entry(now_ms(), &actor(&me), &AuditEntry::SaveWebhook { webhook: id, name }).await?;
    }
    if let Some(active) = b.active
        && s.store.set_webhook_active(id, active, "admin", now_ms()).await?
    {
        let name = hook(&s, id).await?.name;
        let entry = if active {
            AuditEntry::ResumeWebhook { webhook: id, name }
        } else {
            AuditEntry::WebhookPaused { webhook: id, name }
        };
        s.store.audit_entry(now_ms(), &actor(&me), &entry).await?;
    }
    Ok(Json(hook(&s, id).await?).into_response())
}

pub async fn delete(State(s): State<WebState>, h: HeaderMap, Path(id): Path<i64>) -> ApiResult {
    let me = admin(&s, &h).await?;
    let w = hook(&s, id).await?;
    s.store.delete_webhook(id).await?;
    s.store.audit_entry(now_ms(), &actor(&me), &AuditEntry::DeleteWebhook { webhook: id, name: w.name }).await?;
    Ok(StatusCode::NO_CONTENT.into_response())
}

/// A new secret, shown this once; the old one stops working at once.
pub async fn new_secret(State(s): State<WebState>, h: HeaderMap, Path(id): Path<i64>) -> ApiResult {
    let me = admin(&s, &h).await?;
    let w = hook(&s, id).await?;
    let secret = s.hooks.new_webhook_secret().map_err(|e| ApiError(WebError::Internal(e)))?;
    s.store.set_webhook_secret(id, &secret.sealed).await?;
    s.store.audit_entry(now_ms(), &actor(&me), &AuditEntry::WebhookSecret { webhook: id, name: w.name }).await?;
    Ok(Json(json!({"webhook_id": id, "secret": secret.plain})).into_response())
}

#[derive(Deserialize)]
pub struct DeliveriesQuery {
    /// pending | delivered | failed | paused
    status: Option<String>,
    limit: Option<i64>,
    offset: Option<i64>,
}

fn delivery_json(d: &postkorb_store::Delivery, hooks: &[Webhook]) -> Value {
    let mut v = serde_json::to_value(d).unwrap_or_default();
    v["target_name"] = target_label(d, hooks).into();
    v
}

/// The delivery log, newest first.
pub async fn deliveries(State(s): State<WebState>, h: HeaderMap, Query(q): Query<DeliveriesQuery>) -> ApiResult {
    admin(&s, &h).await?;
    let status = match q.status.as_deref() {
        None | Some("") => None,
        Some(v) if STATUSES.iter().any(|(s, _)| *s == v) => Some(v),
        Some(v) => {
            return Err(ApiError(WebError::BadRequest(format!("status is pending, delivered, failed or paused: {v}"))));
        }
    };
    let (rows, total) =
        s.store.deliveries(status, q.limit.unwrap_or(100).clamp(1, 1000), q.offset.unwrap_or(0).max(0)).await?;
    let hooks = s.store.webhooks().await?;
    let list: Vec<Value> = rows.iter().map(|d| delivery_json(d, &hooks)).collect();
    Ok(Json(json!({"deliveries": list, "total": total})).into_response())
}

/// „Erneut senden“: due again now.
pub async fn retry(State(s): State<WebState>, h: HeaderMap, Path(id): Path<i64>) -> ApiResult {
    admin(&s, &h).await?;
    if !s.store.outbox_retry(id, now_ms()).await? {
        return Err(ApiError(WebError::NotFound));
    }
    let d = s.store.delivery(id).await?.ok_or(ApiError(WebError::NotFound))?;
    Ok(Json(delivery_json(&d, &s.store.webhooks().await?)).into_response())
}
