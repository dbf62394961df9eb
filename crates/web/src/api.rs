//! JSON API under `/api/v1` for an existing broker program, authenticated by a per-user token
//! (`Authorization: Bearer …`). Same permission rules as the screens; English error messages.

use axum::extract::{Path, Query, State};
use axum::http::HeaderMap;
use axum::response::{IntoResponse, Response};
use axum::routing::{delete, get, post, put};
use axum::{Json, Router};
use postkorb_core::{Employee, EmployeeId, Permission, RouteStatus, route_status};
use postkorb_store::StoreError;
use serde::Deserialize;
use serde_json::{Value, json};

use crate::WebState;
use crate::auth::api_user;
use crate::error::{ApiError, Denied, WebError};
use crate::pages::download;
use crate::util::now_ms;

type ApiResult = Result<Response, ApiError>;

pub fn routes() -> Router<WebState> {
    Router::new()
        .route("/openapi.json", get(openapi))
        .route("/cases", get(list_cases))
        .route("/cases/{id}", get(get_case))
        .route("/cases/{id}/raw", get(raw_case))
        .route("/cases/{id}/done", post(done))
        .route("/cases/{id}/reopen", post(reopen))
        .route("/cases/{id}/handover", post(crate::api_work::hand_over))
        .route("/cases/{id}/giveback", post(crate::api_work::give_back))
        .route("/cases/{id}/notes", post(crate::api_work::add_note))
        .route("/cases/{id}/follow-up", put(crate::api_work::set_follow_up).delete(crate::api_work::clear_follow_up))
        .route("/sync", post(sync))
        .route("/employees", get(employees))
        .route("/routes", get(list_routes).post(add_route))
        .route("/routes/{id}", delete(remove_route))
        .route("/kept", get(list_kept))
        .route("/kept/{id}/discard", post(discard_kept))
        .route("/mailboxes", get(mailboxes))
        .route("/tokens", get(list_tokens))
        .route("/tokens/{id}", delete(revoke_token))
        .route("/absences", get(list_absences).post(add_absence))
        .route("/absences/{id}/end", post(end_absence))
        .route("/search", get(search))
        .route("/account/notifications", get(crate::api_notify::get).put(crate::api_notify::put))
        .route("/webhooks", get(crate::api_webhooks::list).post(crate::api_webhooks::create))
        .route(
            "/webhooks/{id}",
            get(crate::api_webhooks::get_one).patch(crate::api_webhooks::patch).delete(crate::api_webhooks::delete),
        )
        .route("/webhooks/{id}/secret", post(crate::api_webhooks::new_secret))
        .route("/deliveries", get(crate::api_webhooks::deliveries))
        .route("/deliveries/{id}/retry", post(crate::api_webhooks::retry))
        .route("/audit", get(crate::api_audit::list))
        .route("/retention", get(crate::api_privacy::get).put(crate::api_privacy::put))
        .route("/deletion-log", get(crate::api_privacy::deletion_log))
        .route("/privacy/person", get(crate::api_privacy::person))
        .route("/privacy/erase", post(crate::api_privacy::erase))
}

fn require(e: &Employee, p: Permission) -> Result<(), ApiError> {
    if e.has(p) { Ok(()) } else { Err(ApiError(p.into())) }
}

fn actor(e: &Employee) -> String {
    format!("api:{}", e.username.clone().unwrap_or_else(|| e.name.clone()))
}

#[derive(Deserialize)]
struct CasesQuery {
    /// `all=true`: every Vorgang (needs „E-Mails automatisch einlesen“); default: mine.
    #[serde(default)]
    all: bool,
    #[serde(default = "default_limit")]
    limit: i64,
    #[serde(default)]
    offset: i64,
}

fn default_limit() -> i64 {
    100
}

async fn list_cases(State(s): State<WebState>, h: HeaderMap, Query(q): Query<CasesQuery>) -> ApiResult {
    let me = api_user(&s, &h).await?;
    if q.all {
        require(&me, Permission::ManageMailImport)?;
    }
    let assignee = if q.all { None } else { Some(me.id) };
    let cases = s.store.cases(assignee, q.limit.clamp(1, 1000), q.offset.max(0)).await?;
    Ok(Json(cases).into_response())
}

async fn visible_case(s: &WebState, me: &Employee, id: i64) -> Result<postkorb_store::CaseDetail, ApiError> {
    let c = s.store.case(id).await?;
    let covering = s.store.covering(me.id, now_ms()).await?;
    if crate::auth::may_open(&c, me, &covering) { Ok(c) } else { Err(ApiError(WebError::Forbidden(Denied::Case))) }
}

async fn get_case(State(s): State<WebState>, h: HeaderMap, Path(id): Path<i64>) -> ApiResult {
    let me = api_user(&s, &h).await?;
    let case = crate::view::with_bodies(&s.store, visible_case(&s, &me, id).await?).await;
    // Warnings as their code and English words (the stored form has kind-specific fields).
    let warnings: Vec<Value> =
        case.warnings.iter().map(|w| json!({"code": w.code(), "message": w.english()})).collect();
    let mut body = serde_json::to_value(&case).map_err(|e| ApiError(WebError::Internal(e.to_string())))?;
    body["warnings"] = Value::Array(warnings);
    Ok(Json(body).into_response())
}

async fn raw_case(State(s): State<WebState>, h: HeaderMap, Path(id): Path<i64>) -> ApiResult {
    let me = api_user(&s, &h).await?;
    let c = visible_case(&s, &me, id).await?;
    let raw = s.store.raw(c.raw_id).await?;
    let entry = postkorb_core::AuditEntry::DownloadCase { case: id, subject: c.summary.subject };
    s.store.audit_entry(now_ms(), &actor(&me), &entry).await?;
    Ok(download(&format!("vorgang-{id}.eml"), "message/rfc822", raw))
}

async fn set_done(s: &WebState, h: &HeaderMap, id: i64, done: bool) -> ApiResult {
    let me = api_user(s, h).await?;
    let c = visible_case(s, &me, id).await?;
    if !crate::auth::may_work(&c, &me, &s.store.covering(me.id, now_ms()).await?) {
        return Err(ApiError(WebError::Forbidden(Denied::NotAssignee)));
    }
    s.store.set_case_done(id, done, me.id, now_ms()).await?;
    Ok(Json(json!({"id": id, "status": if done { "done" } else { "open" }})).into_response())
}

async fn done(State(s): State<WebState>, h: HeaderMap, Path(id): Path<i64>) -> ApiResult {
    set_done(&s, &h, id, true).await
}

async fn reopen(State(s): State<WebState>, h: HeaderMap, Path(id): Path<i64>) -> ApiResult {
    set_done(&s, &h, id, false).await
}

/// „Synchronisieren“: fetch now, then claim what waits for the caller.
async fn sync(State(s): State<WebState>, h: HeaderMap) -> ApiResult {
    let me = api_user(&s, &h).await?;
    s.hooks.fetch_now().await;
    let claimed = if me.check_an().is_ok() { s.store.claim(me.id, now_ms()).await? } else { Vec::new() };
    Ok(Json(json!({ "claimed": claimed })).into_response())
}

async fn employees(State(s): State<WebState>, h: HeaderMap) -> ApiResult {
    let me = api_user(&s, &h).await?;
    if !me.has(Permission::ManageEmployees) && !me.has(Permission::ManageMailImport) {
        let why = Denied::EitherPermission(Permission::ManageEmployees, Permission::ManageMailImport);
        return Err(ApiError(WebError::Forbidden(why)));
    }
    let list: Vec<Value> = s
        .store
        .employees()
        .await?
        .iter()
        .map(|e| {
            json!({"id": e.id, "name": e.name, "username": e.username, "is_current": e.is_current,
                   "has_license": e.has_active_license(), "work_email": e.work_email,
                   "may_send": e.check_von().is_ok(), "may_receive": e.check_an().is_ok()})
        })
        .collect();
    Ok(Json(list).into_response())
}

async fn list_routes(State(s): State<WebState>, h: HeaderMap) -> ApiResult {
    let me = api_user(&s, &h).await?;
    require(&me, Permission::ManageMailImport)?;
    let employees = s.store.employees().await?;
    let rows: Vec<Value> = s
        .store
        .routes()
        .await?
        .iter()
        .map(|r| match route_status(r, &employees) {
            RouteStatus::Active { sender } => {
                json!({"id": r.id, "from": r.from, "to": r.to, "active": true, "sender": sender})
            }
            RouteStatus::Inactive(p) => json!({"id": r.id, "from": r.from, "to": r.to, "active": false,
                "problems": p.iter().map(|e| e.to_string()).collect::<Vec<_>>()}),
        })
        .collect();
    Ok(Json(rows).into_response())
}

#[derive(Deserialize)]
struct NewRoute {
    from: i64,
    to: i64,
}

async fn add_route(State(s): State<WebState>, h: HeaderMap, Json(body): Json<NewRoute>) -> ApiResult {
    let me = api_user(&s, &h).await?;
    require(&me, Permission::ManageMailImport)?;
    match s.store.add_route(EmployeeId(body.from), EmployeeId(body.to), now_ms()).await {
        Ok(r) => {
            let (from, to) = (s.store.person(r.from).await?, s.store.person(r.to).await?);
            let entry = postkorb_core::AuditEntry::AddRoute { row: r.id, from, to, kept: None };
            s.store.audit_entry(now_ms(), &actor(&me), &entry).await?;
            Ok((axum::http::StatusCode::CREATED, Json(r)).into_response())
        }
        Err(StoreError::Rules(rules)) => Ok((
            axum::http::StatusCode::UNPROCESSABLE_ENTITY,
            Json(json!({"error": "the row breaks the rules", "rules": rules.0.iter().map(|r| r.to_string()).collect::<Vec<_>>()})),
        )
            .into_response()),
        Err(e) => Err(e.into()),
    }
}

async fn remove_route(State(s): State<WebState>, h: HeaderMap, Path(id): Path<i64>) -> ApiResult {
    let me = api_user(&s, &h).await?;
    require(&me, Permission::ManageMailImport)?;
    let Some(r) = s.store.routes().await?.into_iter().find(|r| r.id == id) else {
        return Err(ApiError(WebError::NotFound));
    };
    s.store.remove_route(id).await?;
    let (from, to) = (s.store.person(r.from).await?, s.store.person(r.to).await?);
    s.store.audit_entry(now_ms(), &actor(&me), &postkorb_core::AuditEntry::RemoveRoute { row: id, from, to }).await?;
    Ok(axum::http::StatusCode::NO_CONTENT.into_response())
}

async fn list_kept(State(s): State<WebState>, h: HeaderMap) -> ApiResult {
    let me = api_user(&s, &h).await?;
    require(&me, Permission::ManageMailImport)?;
    let rows: Vec<Value> = s
        .store
        .kept(true, 500, 0)
        .await?
        .iter()
        // Under an „Einschränkung der Verarbeitung“: only for „Datenschutz verwalten“ (art. 18).
        .filter(|k| !k.restricted || me.has(Permission::ManagePrivacy))
        .map(|k| {
            let mut v = serde_json::to_value(k).unwrap_or_default();
            v["reason"] = k.reason().map(|r| r.english()).unwrap_or_default().into();
            v
        })
        .collect();
    Ok(Json(rows).into_response())
}

async fn discard_kept(State(s): State<WebState>, h: HeaderMap, Path(id): Path<i64>) -> ApiResult {
    let me = api_user(&s, &h).await?;
    require(&me, Permission::ManageMailImport)?;
    s.store.discard_kept(id, &actor(&me), now_ms()).await?;
    Ok(Json(json!({"id": id, "status": "discarded"})).into_response())
}

async fn mailboxes(State(s): State<WebState>, h: HeaderMap) -> ApiResult {
    let me = api_user(&s, &h).await?;
    require(&me, Permission::ManageMailImport)?;
    let health = crate::mailbox_health::MailboxHealth::all(&s.store).await?;
    Ok(Json(health.iter().map(|m| m.json()).collect::<Vec<_>>()).into_response())
}

/// The caller's own API tokens (never the tokens themselves).
async fn list_tokens(State(s): State<WebState>, h: HeaderMap) -> ApiResult {
    let me = api_user(&s, &h).await?;
    Ok(Json(s.store.api_tokens(me.id).await?).into_response())
}

/// Revokes one of the caller's own tokens (the one in use, too).
async fn revoke_token(State(s): State<WebState>, h: HeaderMap, Path(id): Path<i64>) -> ApiResult {
    let me = api_user(&s, &h).await?;
    let label = s.store.api_tokens(me.id).await?.into_iter().find(|t| t.id == id).map(|t| t.label).unwrap_or_default();
    if !s.store.revoke_api_token(me.id, id).await? {
        return Err(ApiError(WebError::NotFound));
    }
    let entry = postkorb_core::AuditEntry::RevokeToken { employee: postkorb_core::Person::of(&me), label };
    s.store.audit_entry(now_ms(), &actor(&me), &entry).await?;
    Ok(axum::http::StatusCode::NO_CONTENT.into_response())
}

#[derive(Deserialize)]
struct AbsencesQuery {
    /// Another employee's absences (needs „Mitarbeiter verwalten“); default: mine.
    #[serde(default)]
    employee: Option<i64>,
    /// Everyone's (needs „Mitarbeiter verwalten“).
    #[serde(default)]
    all: bool,
}

/// Abwesenheiten of someone other than the caller need „Mitarbeiter verwalten“.
fn may_manage_absences_of(me: &Employee, employee: Option<EmployeeId>) -> Result<(), ApiError> {
    if employee == Some(me.id) { Ok(()) } else { require(me, Permission::ManageEmployees) }
}

/// Current and future absences: mine, one employee's or everyone's.
async fn list_absences(State(s): State<WebState>, h: HeaderMap, Query(q): Query<AbsencesQuery>) -> ApiResult {
    let me = api_user(&s, &h).await?;
    let whose = if q.all { None } else { Some(q.employee.map(EmployeeId).unwrap_or(me.id)) };
    may_manage_absences_of(&me, whose)?;
    Ok(Json(s.store.absence_list(whose, now_ms()).await?).into_response())
}

#[derive(Deserialize)]
struct NewAbsence {
    /// Default: the caller.
    #[serde(default)]
    employee: Option<i64>,
    from_ms: i64,
    /// None: open end.
    #[serde(default)]
    until_ms: Option<i64>,
    #[serde(default)]
    substitute: Option<i64>,
}

/// Enters an absence (core's `check_absence`; a broken rule is a 422 naming it).
async fn add_absence(State(s): State<WebState>, h: HeaderMap, Json(body): Json<NewAbsence>) -> ApiResult {
    let me = api_user(&s, &h).await?;
    let employee = body.employee.map(EmployeeId).unwrap_or(me.id);
    may_manage_absences_of(&me, Some(employee))?;
    let new = postkorb_core::Absence {
        id: 0,
        employee,
        from_ms: body.from_ms,
        until_ms: body.until_ms,
        substitute: body.substitute.map(EmployeeId),
    };
    let now = now_ms();
    match s.store.add_absence(&new, &actor(&me), now).await? {
        Ok(id) => {
            let saved = s.store.absence_list(Some(employee), now).await?.into_iter().find(|a| a.id == id);
            let saved = saved.ok_or(ApiError(WebError::NotFound))?;
            Ok((axum::http::StatusCode::CREATED, Json(saved)).into_response())
        }
        Err(e) => {
            Ok((axum::http::StatusCode::UNPROCESSABLE_ENTITY, Json(json!({"error": e.to_string()}))).into_response())
        }
    }
}

/// Ends an absence now (one not begun yet is cancelled); 404 when unknown or over already.
async fn end_absence(State(s): State<WebState>, h: HeaderMap, Path(id): Path<i64>) -> ApiResult {
    let me = api_user(&s, &h).await?;
    let Some(a) = s.store.absence(id).await? else { return Err(ApiError(WebError::NotFound)) };
    may_manage_absences_of(&me, Some(a.employee))?;
    let status = match s.store.end_absence(id, &actor(&me), now_ms()).await? {
        postkorb_store::Ended::Now => "ended",
        postkorb_store::Ended::Cancelled => "cancelled",
    };
    Ok(Json(json!({"id": id, "status": status})).into_response())
}

async fn openapi() -> Response {
    ([(axum::http::header::CONTENT_TYPE, "application/json")], include_str!("../openapi.json")).into_response()
}

#[derive(Deserialize)]
struct SearchParams {
    q: String,
    status: Option<String>,
    assignee: Option<i64>,
    /// YYYY-MM-DD, office time, inclusive.
    from: Option<String>,
    until: Option<String>,
    #[serde(default)]
    page: Option<u32>,
    #[serde(default)]
    per_page: Option<u32>,
}

/// Full-text search over the Vorgänge the caller may see (`auth::searcher`, as the screen).
async fn search(State(s): State<WebState>, h: HeaderMap, Query(p): Query<SearchParams>) -> ApiResult {
    let me = api_user(&s, &h).await?;
    let bad = |m: String| ApiError(WebError::BadRequest(m));
    let day = |d: &Option<String>| match d.as_deref() {
        None | Some("") => Ok(None),
        Some(v) => postkorb_core::time::parse_berlin_day(v)
            .map(Some)
            .ok_or_else(|| bad(format!("not a day (YYYY-MM-DD): {v}"))),
    };
    let status = match p.status.as_deref() {
        None | Some("") => None,
        Some(v) => Some(
            postkorb_store::SearchStatus::from_code(v)
                .ok_or_else(|| bad(format!("status is waiting, open or done: {v}")))?,
        ),
    };
    if postkorb_store::search::query_terms(&p.q).is_empty() {
        return Err(bad("q holds no word to search for".into()));
    }
    let q = postkorb_store::SearchQuery {
        text: p.q,
        status,
        assignee: p.assignee.map(EmployeeId),
        from_ms: day(&p.from)?,
        until_ms: day(&p.until)?.and(p.until.as_deref().and_then(postkorb_core::time::parse_berlin_day_end)),
        page: p.page.unwrap_or(1),
        per_page: p.per_page.unwrap_or(20),
    };
    let covering = s.store.covering(me.id, now_ms()).await?;
    Ok(Json(s.store.search(crate::auth::searcher(&me, covering), &q).await?).into_response())
}
