//! The JSON API of one's own notification preferences (issue 17), routed in `api.rs`:
//! `GET /account/notifications` and `PUT /account/notifications`. Only the caller's own, as on the
//! page „Benachrichtigungen“; the address names no employee, so nobody reaches another's.

use axum::Json;
use axum::extract::State;
use axum::http::{HeaderMap, StatusCode};
use axum::response::{IntoResponse, Response};
use postkorb_core::Employee;
use postkorb_core::notify::{NotifyPrefs, Timing, digest_time, parse_digest_time};
use serde::Deserialize;
use serde_json::json;

use crate::WebState;
use crate::auth::api_user;
use crate::error::ApiError;
use crate::util::now_ms;

type ApiResult = Result<Response, ApiError>;

fn body(s: &WebState, me: &Employee, p: &NotifyPrefs) -> serde_json::Value {
    json!({
        "new_case": p.new_case.code(),
        "pool": p.pool.code(),
        "follow_up_due": p.follow_up_due.code(),
        "handed_over": p.handed_over.code(),
        "digest_time": digest_time(p.digest_minute),
        "work_email": me.work_email.as_ref().map(|e| e.to_string()),
        "include_text": s.notify_include_text,
    })
}

pub async fn get(State(s): State<WebState>, h: HeaderMap) -> ApiResult {
    let me = api_user(&s, &h).await?;
    let prefs = s.store.notify_prefs(me.id).await?;
    Ok(Json(body(&s, &me, &prefs)).into_response())
}

/// Any field left out keeps its stored value.
#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
pub struct PrefsUpdate {
    new_case: Option<String>,
    pool: Option<String>,
    follow_up_due: Option<String>,
    handed_over: Option<String>,
    digest_time: Option<String>,
}

fn unprocessable(message: String) -> Response {
    (StatusCode::UNPROCESSABLE_ENTITY, Json(json!({ "error": message }))).into_response()
}

pub async fn put(State(s): State<WebState>, h: HeaderMap, Json(u): Json<PrefsUpdate>) -> ApiResult {
    let me = api_user(&s, &h).await?;
    let mut prefs = s.store.notify_prefs(me.id).await?;
    for (kind, word) in [
        (postkorb_core::notify::NotifyKind::NewCase, &u.new_case),
        (postkorb_core::notify::NotifyKind::Pool, &u.pool),
        (postkorb_core::notify::NotifyKind::FollowUpDue, &u.follow_up_due),
        (postkorb_core::notify::NotifyKind::HandedOver, &u.handed_over),
    ] {
        if let Some(word) = word {
            match Timing::from_code(word) {
                Some(t) => prefs.set(kind, t),
                None => return Ok(unprocessable(format!("{}: use now, daily or off", kind.code()))),
            }
        }
    }
    if let Some(time) = &u.digest_time {
        match parse_digest_time(time) {
            Some(minute) => prefs.digest_minute = minute,
            None => return Ok(unprocessable("digest_time: use HH:MM, e.g. 08:00".into())),
        }
    }
    s.store.set_notify_prefs(me.id, &prefs, now_ms()).await?;
    Ok(Json(body(&s, &me, &prefs)).into_response())
}
