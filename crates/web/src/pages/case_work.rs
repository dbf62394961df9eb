//! Working a Vorgang on its page (issue 16): „Weitergeben“, „Zurückgeben“, „Notiz“ and
//! „Wiedervorlage“. Each form carries the CSRF token; each handler checks that the user may see
//! the Vorgang (`auth::may_open`) and, except for a note, that they may work it
//! (`postkorb_core::may_work`: the Bearbeiter or „E-Mails automatisch einlesen“). What the store
//! refuses (taken meanwhile …) is a 409 page in German naming what happened.

use axum::extract::{Path, State};
use axum::response::{IntoResponse, Redirect, Response};
use postkorb_core::EmployeeId;
use postkorb_core::workflow::{check_note, check_reason, follow_up_at};
use postkorb_store::CaseDetail;
use serde::Deserialize;

use crate::WebState;
use crate::auth::CurrentUser;
use crate::error::{Denied, WebError};
use crate::ui::Notice;
use crate::util::now_ms;

/// The Vorgang, if the user may see it and (when `work`) work it.
pub(crate) async fn load_for(
    state: &WebState,
    user: &CurrentUser,
    id: i64,
    work: bool,
) -> Result<CaseDetail, WebError> {
    let case = state.store.case(id).await?;
    let covering = state.store.covering(user.employee.id, now_ms()).await?;
    if !crate::auth::may_open(&case, &user.employee, &covering) {
        return Err(WebError::Forbidden(Denied::Case));
    }
    if work && !crate::auth::may_pass_on(&case, &user.employee, &covering) {
        return Err(WebError::Forbidden(Denied::NotWorker));
    }
    Ok(case)
}

/// The Bearbeiter the form was made for (so a change made meanwhile is not overwritten), else the
/// current one.
fn seen_assignee(case: &CaseDetail, form: Option<i64>) -> Result<EmployeeId, WebError> {
    form.or(case.summary.assignee).map(EmployeeId).ok_or(WebError::Refused(postkorb_core::CaseRefusal::Waiting))
}

#[derive(Deserialize)]
pub struct HandOverForm {
    #[serde(default)]
    csrf: String,
    /// The receiver's employee id.
    an: i64,
    /// The Bearbeiter shown when the page was made.
    bearbeiter: Option<i64>,
    #[serde(default)]
    notiz: String,
}

pub async fn hand_over(
    State(state): State<WebState>,
    user: CurrentUser,
    Path(id): Path<i64>,
    axum::Form(form): axum::Form<HandOverForm>,
) -> Result<Response, WebError> {
    user.check_csrf(&form.csrf)?;
    let case = load_for(&state, &user, id, true).await?;
    let from = seen_assignee(&case, form.bearbeiter)?;
    let note = if form.notiz.trim().is_empty() {
        None
    } else {
        Some(check_note(&form.notiz).map_err(|e| WebError::BadRequest(e.german()))?)
    };
    state.store.hand_over(id, from, EmployeeId(form.an), user.employee.id, note.as_deref(), now_ms()).await?;
    // The giver may no longer see it (unless an admin): back to the Startmaske.
    Ok(Redirect::to(&Notice::CaseHandedOver.url("/", None)).into_response())
}

#[derive(Deserialize)]
pub struct GiveBackForm {
    #[serde(default)]
    csrf: String,
    bearbeiter: Option<i64>,
}

pub async fn give_back(
    State(state): State<WebState>,
    user: CurrentUser,
    Path(id): Path<i64>,
    axum::Form(form): axum::Form<GiveBackForm>,
) -> Result<Response, WebError> {
    user.check_csrf(&form.csrf)?;
    let case = load_for(&state, &user, id, true).await?;
    let from = seen_assignee(&case, form.bearbeiter)?;
    state.store.give_back(id, from, user.employee.id, now_ms()).await?;
    Ok(Redirect::to(&Notice::CaseGivenBack.url("/", None)).into_response())
}

#[derive(Deserialize)]
pub struct NoteForm {
    #[serde(default)]
    csrf: String,
    #[serde(default)]
    text: String,
}

pub async fn note(
    State(state): State<WebState>,
    user: CurrentUser,
    Path(id): Path<i64>,
    axum::Form(form): axum::Form<NoteForm>,
) -> Result<Response, WebError> {
    user.check_csrf(&form.csrf)?;
    load_for(&state, &user, id, false).await?;
    let text = check_note(&form.text).map_err(|e| WebError::BadRequest(e.german()))?;
    state.store.add_note(id, user.employee.id, &text, now_ms()).await?;
    Ok(Redirect::to(&format!("{}#verlauf", Notice::NoteAdded.url(&format!("/vorgang/{id}"), None))).into_response())
}

#[derive(Deserialize)]
pub struct FollowUpForm {
    #[serde(default)]
    csrf: String,
    #[serde(default)]
    datum: String,
    #[serde(default)]
    uhrzeit: String,
    #[serde(default)]
    grund: String,
    /// „Wiedervorlage entfernen“.
    #[serde(default)]
    entfernen: String,
}

pub async fn follow_up(
    State(state): State<WebState>,
    user: CurrentUser,
    Path(id): Path<i64>,
    axum::Form(form): axum::Form<FollowUpForm>,
) -> Result<Response, WebError> {
    user.check_csrf(&form.csrf)?;
    load_for(&state, &user, id, true).await?;
    let now = now_ms();
    let (due, reason, notice) = if form.entfernen == "1" {
        (None, None, Notice::FollowUpCleared)
    } else {
        let due = follow_up_at(&form.datum, &form.uhrzeit, now).map_err(|e| WebError::BadRequest(e.german()))?;
        let reason = check_reason(&form.grund).map_err(|e| WebError::BadRequest(e.german()))?;
        (Some(due), reason, Notice::FollowUpSet)
    };
    state.store.set_follow_up(id, user.employee.id, due, reason.as_deref(), now).await?;
    Ok(Redirect::to(&notice.url(&format!("/vorgang/{id}"), None)).into_response())
}
