//! Datenschutz in the API (issue 18), only for holders of „Datenschutz verwalten“ (`privacy`):
//! `GET`/`PUT /api/v1/retention` (the Aufbewahrungsfristen and the daily run's time, checked by
//! `RetentionSettings::set` against each class's legal bounds, saved and audited like the page)
//! and `GET /api/v1/deletion-log` (the Löschprotokoll: ids and checksums, never contents).

use axum::Json;
use axum::extract::{Query, State};
use axum::http::{HeaderMap, StatusCode};
use axum::response::{IntoResponse, Response};
use postkorb_core::retention::{RetentionClass, RetentionSettings, Unit};
use postkorb_core::{AuditEntry, Employee, Permission};
use serde::Deserialize;
use serde_json::{Value, json};
use std::collections::BTreeMap;

use crate::WebState;
use crate::auth::api_user;
use crate::error::ApiError;
use crate::pages::privacy::{hhmm, parse_run_at, retention_changes};
use crate::util::now_ms;

async fn privacy_user(s: &WebState, h: &HeaderMap) -> Result<Employee, ApiError> {
    let me = api_user(s, h).await?;
    if me.has(Permission::ManagePrivacy) { Ok(me) } else { Err(ApiError(Permission::ManagePrivacy.into())) }
}

fn unit_code(u: Unit) -> &'static str {
    match u {
        Unit::YearsAfterYearEnd => "years_after_year_end",
        Unit::Years => "years",
        Unit::Days => "days",
    }
}

fn settings_json(s: &RetentionSettings) -> Value {
    let periods: Vec<Value> = s
        .all()
        .into_iter()
        .map(|(c, n)| {
            let (min, max) = c.bounds();
            json!({"class": c.code(), "period": n, "unit": unit_code(c.unit()), "default": c.default_period(),
                   "min": min, "max": max})
        })
        .collect();
    json!({"periods": periods, "run_at": hhmm(s.run_minute)})
}

pub async fn get(State(s): State<WebState>, h: HeaderMap) -> Result<Response, ApiError> {
    privacy_user(&s, &h).await?;
    Ok(Json(settings_json(&s.store.retention_settings().await?)).into_response())
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
pub struct RetentionBody {
    /// Class code → its new period; classes not named keep theirs.
    #[serde(default)]
    periods: BTreeMap<String, i64>,
    /// `HH:MM` on the office's clock.
    run_at: Option<String>,
}

fn refused(field: &str, english: String) -> Response {
    (StatusCode::UNPROCESSABLE_ENTITY, Json(json!({"error": english, "field": field}))).into_response()
}

/// 200 with the settings as now saved; 422 naming the first class (or `run_at`) refused; nothing
/// is saved unless everything is valid.
pub async fn put(State(s): State<WebState>, h: HeaderMap, Json(b): Json<RetentionBody>) -> Result<Response, ApiError> {
    let me = privacy_user(&s, &h).await?;
    let before = s.store.retention_settings().await?;
    let mut after = before.clone();
    for (code, value) in &b.periods {
        let Some(class) = RetentionClass::from_code(code) else {
            return Ok(refused(code, format!("unknown retention class {code}")));
        };
        if let Err(e) = after.set(class, *value) {
            return Ok(refused(code, e.to_string()));
        }
    }
    if let Some(run_at) = &b.run_at {
        match parse_run_at(run_at) {
            Some(m) => after.run_minute = m,
            None => return Ok(refused("run_at", "run_at is a time of day, HH:MM".into())),
        }
    }
    let changes = retention_changes(&before, &after);
    if !changes.is_empty() {
        s.store.save_retention_settings(&after).await?;
        let actor = format!("api:{}", me.username.clone().unwrap_or_else(|| me.name.clone()));
        s.store.audit_entry(now_ms(), &actor, &AuditEntry::SaveRetention { changes }).await?;
    }
    Ok(Json(settings_json(&after)).into_response())
}

#[derive(Deserialize)]
pub struct LogQuery {
    limit: Option<i64>,
    offset: Option<i64>,
}

pub async fn deletion_log(
    State(s): State<WebState>,
    h: HeaderMap,
    Query(q): Query<LogQuery>,
) -> Result<Response, ApiError> {
    privacy_user(&s, &h).await?;
    let (entries, total) =
        s.store.deletion_log(q.limit.unwrap_or(100).clamp(1, 1000), q.offset.unwrap_or(0).max(0)).await?;
    let entries: Vec<Value> = entries
        .iter()
        .map(|e| {
            json!({"id": e.id, "at_ms": e.at_ms, "class": e.class.map(RetentionClass::code), "count": e.count,
                   "items": e.items, "actor": e.actor})
        })
        .collect();
    Ok(Json(json!({"entries": entries, "total": total})).into_response())
}

/// The person asked for, checked with English words (the page says it in German).
fn person_query(person: &str) -> Result<(), ApiError> {
    postkorb_store::PersonQuery::new(person).map(|_| ()).map_err(|_| {
        ApiError(crate::error::WebError::BadRequest(
            "person: an e-mail address or a name of at least 3 characters".into(),
        ))
    })
}

#[derive(Deserialize)]
pub struct PersonQueryParams {
    #[serde(default)]
    person: String,
}

/// `GET /api/v1/privacy/person?person=…`: every Vorgang, kept mail and audit entry naming the
/// person, where it was found, and what an erasure request would do with it (the Auskunft's list;
/// the ZIP is the web page's and `postkorb privacy export`).
pub async fn person(
    State(s): State<WebState>,
    h: HeaderMap,
    Query(q): Query<PersonQueryParams>,
) -> Result<Response, ApiError> {
    privacy_user(&s, &h).await?;
    person_query(&q.person)?;
    let (_, found, plan) = crate::pages::auskunft::search(&s, &q.person).await?;
    let matches: Vec<Value> = found
        .iter()
        .zip(&plan)
        .map(|(m, action)| {
            json!({"item": crate::pages::auskunft::key(m.item), "found_in": m.found_in.iter().map(|f| f.code()).collect::<Vec<_>>(),
                   "subject": m.subject, "at_ms": m.at_ms, "status": m.status, "bearbeiter": m.by,
                   "action": action.code(), "action_german": action.german()})
        })
        .collect();
    Ok(Json(json!({"matches": matches})).into_response())
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
pub struct EraseBody {
    person: String,
    /// `case-12`, `kept-4` (as `GET /privacy/person` names it).
    item: String,
    #[serde(default)]
    reason: String,
}

/// `POST /api/v1/privacy/erase`: Löschen auf Antrag of one item — deleted now, or restricted where
/// a retention duty applies (its `action` in `GET /privacy/person`); 409 for an item that stays
/// (a Sperre holds it, or it is an audit entry), 404 for one the person's search does not find.
pub async fn erase(State(s): State<WebState>, h: HeaderMap, Json(b): Json<EraseBody>) -> Result<Response, ApiError> {
    let me = privacy_user(&s, &h).await?;
    person_query(&b.person)?;
    let (_, found, plan) = crate::pages::auskunft::search(&s, &b.person).await?;
    let Some((m, action)) = found.iter().zip(&plan).find(|(m, _)| crate::pages::auskunft::key(m.item) == b.item) else {
        return Err(ApiError(crate::error::WebError::NotFound));
    };
    let reason = if b.reason.trim().is_empty() { "Antrag der betroffenen Person" } else { b.reason.trim() };
    let actor = format!("api:{}", me.username.clone().unwrap_or_else(|| me.name.clone()));
    let done = matches!(action, postkorb_store::EraseAction::Delete | postkorb_store::EraseAction::Restrict { .. })
        && s.store.erase_item(m, action, &actor, reason, now_ms()).await?;
    if !done {
        return Err(ApiError(crate::error::WebError::Conflict(format!("{} stays: {}", b.item, action.code()))));
    }
    Ok(Json(json!({"item": b.item, "done": action.code()})).into_response())
}
