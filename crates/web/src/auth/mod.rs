//! Login, sessions and permissions.
//!
//! A session is a random token in an HttpOnly, SameSite=Strict cookie (`Secure` behind HTTPS); the
//! database keeps only its hash. A new token is issued at every login (the session id changes), and
//! every form carries the session's CSRF token besides the Origin/Sec-Fetch-Site check of the CSRF
//! layer. Logins are limited per (user name, client address) and per address (login_limit.rs in the
//! store, client.rs here); passwords are hashed off the async threads (password.rs). A one-time
//! password (the bootstrap admin's) must be changed before any other page opens.

mod client;
mod password;

use axum::extract::{FromRequestParts, State};
use axum::http::request::Parts;
use axum::http::{HeaderMap, StatusCode, header};
use axum::response::{Html, IntoResponse, Redirect, Response};
use axum_extra::extract::cookie::{Cookie, CookieJar, SameSite};
use postkorb_core::{Employee, EmployeeId, Permission};
use postkorb_store::{ApiToken, CaseDetail, LoginLimits, LoginRefused, NewEmployee, Store};
use serde::Deserialize;

use crate::WebState;
use crate::error::WebError;
use crate::util::{now_ms, random_token, token_hash};

pub use client::ClientAddress;
pub use password::{hash_password, hash_password_limited, verify_password_limited};

pub const COOKIE: &str = "postkorb_session";
const SESSION_MS: i64 = 12 * 3600 * 1000;

/// Five wrong passwords for one user from one address, or twenty from one address, within 15
/// minutes: further attempts from there are refused without looking at the password.
pub const LOGIN_LIMITS: LoginLimits =
    LoginLimits { window_ms: 15 * 60 * 1000, per_user_and_address: 5, per_address: 20 };

/// Where a user with a one-time password is sent; with logout the only page they may open.
pub const PASSWORD_PAGE: &str = "/konto/passwort";

/// On an installation where nobody can log in yet, creates the user `admin` with every permission and
/// returns its one-time password (to be printed once on the console; it must be changed at the
/// first login).
pub async fn bootstrap_admin(store: &Store) -> Result<Option<String>, postkorb_store::StoreError> {
    let employees = store.employees().await?;
    for e in &employees {
        if let Some(u) = &e.username
            && store.password_hash(u).await?.is_some()
        {
            return Ok(None);
        }
    }
    let password = random_token()[..16].to_string();
    let admin = match employees.iter().find(|e| e.username.as_deref() == Some("admin")) {
        Some(a) => a.clone(),
        None => {
            let new = NewEmployee {
                name: "Administrator".into(),
                username: Some("admin".into()),
                is_current: true,
                license: None,
                work_email: None,
                permissions: Permission::ALL.to_vec(),
            };
            match store.add_employee(&new, now_ms()).await {
                Ok(a) => a,
                // Another instance created it a moment ago.
                Err(postkorb_store::StoreError::Invalid(_)) => store.find_employee("admin").await?,
                Err(e) => return Err(e),
            }
        }
    };
    // Only the instance that sets the first password prints it: the update is conditional.
    if store.set_one_time_password_if_unset(admin.id, &hash_password_limited(password.clone()).await).await? {
        Ok(Some(password))
    } else {
        Ok(None)
    }
}

/// The logged-in employee of this request, with the session's CSRF token.
pub struct CurrentUser {
    pub employee: Employee,
    pub csrf: String,
    /// The hash of this session's token (to end the others, or this one).
    pub session: String,
}

impl CurrentUser {
    pub fn require(&self, p: Permission) -> Result<(), WebError> {
        if self.employee.has(p) { Ok(()) } else { Err(p.into()) }
    }

    /// Who did it, for the audit log: the login name, or the name of an employee without one.
    pub fn actor(&self) -> String {
        self.employee.username.clone().unwrap_or_else(|| self.employee.name.clone())
    }

    /// Every state-changing form sends the session's token back.
    pub fn check_csrf(&self, token: &str) -> Result<(), WebError> {
        if !token.is_empty() && token == self.csrf {
            Ok(())
        } else {
            Err(WebError::BadRequest("Das Formular ist abgelaufen. Bitte laden Sie die Seite neu.".into()))
        }
    }
}

impl FromRequestParts<WebState> for CurrentUser {
    type Rejection = WebError;

    async fn from_request_parts(parts: &mut Parts, state: &WebState) -> Result<Self, Self::Rejection> {
        let jar = CookieJar::from_headers(&parts.headers);
        let token = jar.get(COOKIE).map(|c| c.value().to_string()).ok_or(WebError::Login)?;
        let session = token_hash(&token);
        let s = state.store.session(&session, now_ms()).await?.ok_or(WebError::Login)?;
        if !s.employee.is_current {
            return Err(WebError::Login);
        }
        if s.must_change_password && !matches!(parts.uri.path(), PASSWORD_PAGE | "/abmelden") {
            return Err(WebError::ChangePassword);
        }
        Ok(CurrentUser { employee: s.employee, csrf: s.csrf, session })
    }
}

/// The logged-in user behind `headers` for the menu of an error page: None without a live session,
/// for a former employee, or while a one-time password must be changed (no menu to offer then).
pub async fn menu_user(state: &WebState, headers: &HeaderMap) -> Option<CurrentUser> {
    let token = CookieJar::from_headers(headers).get(COOKIE)?.value().to_string();
    let session = token_hash(&token);
    let s = state.store.session(&session, now_ms()).await.ok()??;
    if !s.employee.is_current || s.must_change_password {
        return None;
    }
    Some(CurrentUser { employee: s.employee, csrf: s.csrf, session })
}

/// May `e` open this Vorgang? Its assignee, an admin („E-Mails automatisch einlesen“), or — while
/// it waits — a candidate who may still receive it: eligibility (Aktuell, licence) is checked again
/// at every read, as at the claim, so a candidate who lost it no longer sees the waiting mail.
/// `covering`: the absent people `e` stands in for now (`Store::covering`): their Vertreter may open
/// their Vorgänge, and a waiting one of theirs, during the absence only.
pub fn may_open(case: &CaseDetail, e: &Employee, covering: &[EmployeeId]) -> bool {
    // „Einschränkung der Verarbeitung“ (issue 18): only „Datenschutz verwalten“, not even the Bearbeiter.
    if case.summary.restricted {
        return e.has(Permission::ManagePrivacy);
    }
    let candidates: Vec<EmployeeId> = case.candidates.iter().map(|c| EmployeeId(*c)).collect();
    let stands_in = candidates.iter().any(|c| covering.contains(c)) && e.check_an().is_ok();
    may_work(case, e, covering)
        || (case.summary.status == "waiting" && (postkorb_core::may_claim(e, &candidates) || stands_in))
        || e.has(Permission::ManageMailImport)
}

/// The status rule („Erledigt“, „Wieder öffnen“): the assignee, or the current Vertreter of an
/// absent assignee (`covering`, see [`may_open`]).
pub fn may_work(case: &CaseDetail, e: &Employee, covering: &[EmployeeId]) -> bool {
    case.summary.assignee.is_some_and(|a| a == e.id.0 || covering.contains(&EmployeeId(a)))
}

/// Weitergeben, Zurückgeben, Wiedervorlage: the Bearbeiter or an admin (`postkorb_core::may_work`),
/// or the current Vertreter of an absent Bearbeiter (`covering`, see [`may_open`]).
pub fn may_pass_on(case: &CaseDetail, e: &Employee, covering: &[EmployeeId]) -> bool {
    let assignee = case.summary.assignee.map(EmployeeId);
    postkorb_core::may_work(e, assignee) || assignee.is_some_and(|a| covering.contains(&a))
}

/// Whom a search by `e` covers — the same rule as [`may_open`]: every Vorgang for someone with
/// „E-Mails automatisch einlesen“, else their own and the waiting ones they may still claim.
pub fn searcher(e: &Employee, covering: Vec<EmployeeId>) -> postkorb_store::Searcher {
    if e.has(Permission::ManageMailImport) {
        postkorb_store::Searcher::All
    } else {
        postkorb_store::Searcher::Covering(e.id, covering)
    }
}

#[derive(askama::Template)]
#[template(path = "login.html")]
struct LoginPage {
    error: Option<String>,
    username: String,
}

pub async fn login_form() -> Result<Html<String>, WebError> {
    Ok(Html(askama::Template::render(&LoginPage { error: None, username: String::new() })?))
}

#[derive(Deserialize)]
pub struct LoginForm {
    username: String,
    password: String,
}

pub async fn login(
    State(state): State<WebState>,
    ClientAddress(address): ClientAddress,
    jar: CookieJar,
    axum::Form(form): axum::Form<LoginForm>,
) -> Result<Response, WebError> {
    let now = now_ms();
    let username = form.username.trim().to_string();
    let fail = |status: StatusCode, msg: &str| -> Result<Response, WebError> {
        let page = LoginPage { error: Some(msg.into()), username: username.clone() };
        Ok((status, Html(askama::Template::render(&page)?)).into_response())
    };
    // Recorded before the password is checked, so racing attempts count each other.
    let attempt = match state.store.begin_login_attempt(&username, &address, now, LOGIN_LIMITS).await? {
        Ok(id) => id,
        Err(LoginRefused::UserAndAddress) => {
            return fail(
                StatusCode::TOO_MANY_REQUESTS,
                "Zu viele Fehlversuche. Bitte warten Sie 15 Minuten und versuchen Sie es dann erneut.",
            );
        }
        Err(LoginRefused::Address) => {
            return fail(
                StatusCode::TOO_MANY_REQUESTS,
                "Zu viele Fehlversuche von Ihrer Adresse aus. Bitte warten Sie 15 Minuten und versuchen Sie es dann erneut.",
            );
        }
    };
    let found = state.store.password_hash(&username).await?;
    let ok = verify_password_limited(form.password.clone(), found.as_ref().map(|(_, h)| h.clone())).await;
    let employee = match (ok, found) {
        (true, Some((id, _))) => state.store.employee(id).await?,
        // The attempt's row stays: it is the failure.
        _ => return fail(StatusCode::UNAUTHORIZED, "Anmeldung fehlgeschlagen: Benutzername oder Passwort ist falsch."),
    };
    state.store.login_succeeded(attempt, &username, &address).await?;
    if !employee.is_current {
        return fail(
            StatusCode::UNAUTHORIZED,
            "Anmeldung nicht möglich: Bei Ihrem Mitarbeiterdatensatz ist „Aktuell“ nicht gesetzt.",
        );
    }
    if let Some(old) = jar.get(COOKIE) {
        state.store.delete_session(&token_hash(old.value())).await?;
    }
    let jar = start_session(&state, jar, employee.id).await?;
    if state.store.must_change_password(employee.id).await? {
        return Ok((jar, Redirect::to(PASSWORD_PAGE)).into_response());
    }
    // Starting the program claims what waits for me (the seed's rule), after a fetch.
    state.hooks.fetch_now().await;
    if employee.check_an().is_ok() {
        state.store.claim(employee.id, now_ms()).await?;
    }
    Ok((jar, Redirect::to("/")).into_response())
}

/// Issues a new session for `employee` and puts its cookie into `jar`.
pub async fn start_session(state: &WebState, jar: CookieJar, employee: EmployeeId) -> Result<CookieJar, WebError> {
    let token = random_token();
    let now = now_ms();
    state.store.create_session(&token_hash(&token), employee, &random_token(), now, now + SESSION_MS).await?;
    let cookie = Cookie::build((COOKIE, token))
        .http_only(true)
        .same_site(SameSite::Strict)
        .secure(state.secure_cookies)
        .path("/")
        .build();
    Ok(jar.add(cookie))
}

#[derive(Deserialize)]
pub struct CsrfOnly {
    #[serde(default)]
    pub csrf: String,
}

pub async fn logout(
    State(state): State<WebState>,
    user: CurrentUser,
    jar: CookieJar,
    axum::Form(form): axum::Form<CsrfOnly>,
) -> Result<Response, WebError> {
    user.check_csrf(&form.csrf)?;
    if let Some(c) = jar.get(COOKIE) {
        state.store.delete_session(&token_hash(c.value())).await?;
    }
    Ok((jar.remove(Cookie::build(COOKIE).path("/").build()), Redirect::to("/anmeldung")).into_response())
}

/// The API's caller, by `Authorization: Bearer TOKEN` (a live token: not expired, not revoked).
pub async fn api_user(state: &WebState, headers: &HeaderMap) -> Result<Employee, WebError> {
    let token = headers
        .get(header::AUTHORIZATION)
        .and_then(|v| v.to_str().ok())
        .and_then(|v| v.strip_prefix("Bearer "))
        .ok_or(WebError::Login)?;
    let (u, _) = state.store.api_token_user(&token_hash(token.trim()), now_ms()).await?.ok_or(WebError::Login)?;
    if !u.employee.is_current {
        return Err(WebError::Login);
    }
    if u.must_change_password {
        return Err(WebError::ChangePassword);
    }
    Ok(u.employee)
}

/// Creates an API token for `employee` that lives until revoked and returns it; only its hash is stored.
pub async fn new_api_token(
    store: &Store,
    employee: EmployeeId,
    label: &str,
) -> Result<String, postkorb_store::StoreError> {
    Ok(new_api_token_until(store, employee, label, None).await?.0)
}

/// Creates an API token valid until `expires_ms` (None: until revoked): the token (shown once) and
/// its stored record.
pub async fn new_api_token_until(
    store: &Store,
    employee: EmployeeId,
    label: &str,
    expires_ms: Option<i64>,
) -> Result<(String, ApiToken), postkorb_store::StoreError> {
    let token = random_token();
    let record = store.create_api_token_until(&token_hash(&token), employee, label, now_ms(), expires_ms).await?;
    Ok((token, record))
}
