//! The JSON API of working a Vorgang (issue 16), routed in `api.rs`: hand over, give back, add a
//! note, set or remove the Wiedervorlage. The same checks as the screens (`may_open`, `may_work`,
//! core's note and date rules); a change the Vorgang's state no longer allows is a 409 naming
//! what happened meanwhile.

use axum::Json;
use axum::extract::{Path, State};
use axum::http::HeaderMap;
use axum::response::{IntoResponse, Response};
use postkorb_core::workflow::{check_note, check_reason, follow_up_at};
use postkorb_core::{Employee, EmployeeId};
use serde::Deserialize;
use serde_json::json;

use crate::WebState;
use crate::auth::api_user;
use crate::error::{ApiError, Denied, WebError};
use crate::util::now_ms;

type ApiResult = Result<Response, ApiError>;

async fn case_for(s: &WebState, me: &Employee, id: i64, work: bool) -> Result<postkorb_store::CaseDetail, ApiError> {
    let c = s.store.case(id).await?;
    let covering = s.store.covering(me.id, now_ms()).await?;
    if !crate::auth::may_open(&c, me, &covering) {
        return Err(ApiError(WebError::Forbidden(Denied::Case)));
    }
    if work && !crate::auth::may_pass_on(&c, me, &covering) {
        return Err(ApiError(WebError::Forbidden(Denied::NotWorker)));
    }
    Ok(c)
}

/// The assignee the caller saw (`expected_assignee`), else the current one.
fn seen(c: &postkorb_store::CaseDetail, expected: Option<i64>) -> Result<EmployeeId, ApiError> {
    expected
        .or(c.summary.assignee)
        .map(EmployeeId)
        .ok_or(ApiError(WebError::Refused(postkorb_core::CaseRefusal::Waiting)))
}

/// The Vorgang after the change, as `GET /cases` lists it.
async fn summary(s: &WebState, id: i64) -> ApiResult {
    Ok(Json(s.store.case(id).await?.summary).into_response())
}

#[derive(Deserialize)]
pub struct HandOver {
    to: i64,
    expected_assignee: Option<i64>,
    note: Option<String>,
}

pub async fn hand_over(
    State(s): State<WebState>,
    h: HeaderMap,
    Path(id): Path<i64>,
    Json(b): Json<HandOver>,
) -> ApiResult {
    let me = api_user(&s, &h).await?;
    let c = case_for(&s, &me, id, true).await?;
    let note = match b.note.as_deref().filter(|n| !n.trim().is_empty()) {
        Some(n) => Some(check_note(n).map_err(|e| ApiError(WebError::BadRequest(e.english())))?),
        None => None,
    };
    let from = seen(&c, b.expected_assignee)?;
    s.store.hand_over(id, from, EmployeeId(b.to), me.id, note.as_deref(), now_ms()).await?;
    summary(&s, id).await
}

#[derive(Deserialize)]
pub struct GiveBack {
    expected_assignee: Option<i64>,
}

pub async fn give_back(
    State(s): State<WebState>,
    h: HeaderMap,
    Path(id): Path<i64>,
    Json(b): Json<GiveBack>,
) -> ApiResult {
    let me = api_user(&s, &h).await?;
    let c = case_for(&s, &me, id, true).await?;
    s.store.give_back(id, seen(&c, b.expected_assignee)?, me.id, now_ms()).await?;
    summary(&s, id).await
}

#[derive(Deserialize)]
pub struct NewNote {
    text: String,
}

pub async fn add_note(
    State(s): State<WebState>,
    h: HeaderMap,
    Path(id): Path<i64>,
    Json(b): Json<NewNote>,
) -> ApiResult {
    let me = api_user(&s, &h).await?;
    case_for(&s, &me, id, false).await?;
    let text = check_note(&b.text).map_err(|e| ApiError(WebError::BadRequest(e.english())))?;
    s.store.add_note(id, me.id, &text, now_ms()).await?;
    let note = s.store.notes(id).await?.into_iter().rev().find(|n| n.author == me.id.0);
    Ok((axum::http::StatusCode::CREATED, Json(json!(note))).into_response())
}

#[derive(Deserialize)]
pub struct FollowUp {
    /// `YYYY-MM-DD` on the office's clock (Europe/Berlin).
    date: String,
    /// `HH:MM`; default 08:00.
    #[serde(default)]
    time: String,
    #[serde(default)]
    reason: String,
}

pub async fn set_follow_up(
    State(s): State<WebState>,
    h: HeaderMap,
    Path(id): Path<i64>,
    Json(b): Json<FollowUp>,
) -> ApiResult {
    let me = api_user(&s, &h).await?;
    case_for(&s, &me, id, true).await?;
    let now = now_ms();
    let bad = |e: postkorb_core::FollowUpError| ApiError(WebError::BadRequest(e.english()));
    let due = follow_up_at(&b.date, &b.time, now).map_err(bad)?;
    let reason = check_reason(&b.reason).map_err(bad)?;
    s.store.set_follow_up(id, me.id, Some(due), reason.as_deref(), now).await?;
    summary(&s, id).await
}

pub async fn clear_follow_up(State(s): State<WebState>, h: HeaderMap, Path(id): Path<i64>) -> ApiResult {
    let me = api_user(&s, &h).await?;
    case_for(&s, &me, id, true).await?;
    s.store.set_follow_up(id, me.id, None, None, now_ms()).await?;
    summary(&s, id).await
}
