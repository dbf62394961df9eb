//! Login, sessions and permissions.
//!
//! A session is a random token in an HttpOnly, SameSite=Strict cookie; the database keeps only its
//! hash. A new token is issued at every login (the session id changes), and every form carries the
//! session's CSRF token besides the Origin/Sec-Fetch-Site check of the CSRF layer.

use argon2::Argon2;
use argon2::password_hash::phc::PasswordHash;
use argon2::password_hash::{PasswordHasher, PasswordVerifier};
use axum::extract::{FromRequestParts, State};
use axum::http::request::Parts;
use axum::http::{HeaderMap, header};
use axum::response::{Html, IntoResponse, Redirect, Response};
use axum_extra::extract::cookie::{Cookie, CookieJar, SameSite};
use postkorb_core::{Employee, Permission};
use postkorb_store::{NewEmployee, Store};
use serde::Deserialize;

use crate::WebState;
use crate::error::WebError;
use crate::util::{now_ms, random_token, token_hash};

pub const COOKIE: &str = "postkorb_session";
const SESSION_MS: i64 = 12 * 3600 * 1000;
const MAX_FAILURES: i64 = 5;
const FAILURE_WINDOW_MS: i64 = 15 * 60 * 1000;

pub fn hash_password(pw: &str) -> String {
    Argon2::default().hash_password(pw.as_bytes()).map(|h| h.to_string()).expect("argon2 hashing")
}

fn verify_password(pw: &str, hash: &str) -> bool {
    PasswordHash::new(hash).is_ok_and(|h| Argon2::default().verify_password(pw.as_bytes(), &h).is_ok())
}

/// On an installation where nobody can log in yet, creates the user `admin` with every permission and
/// returns its one-time password (to be printed once on the console).
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
    if store.set_password_hash_if_unset(admin.id, &hash_password(&password)).await? {
        Ok(Some(password))
    } else {
        Ok(None)
    }
}

/// The logged-in employee of this request, with the session's CSRF token.
pub struct CurrentUser {
    pub employee: Employee,
    pub csrf: String,
}

impl CurrentUser {
    pub fn require(&self, p: Permission) -> Result<(), WebError> {
        if self.employee.has(p) { Ok(()) } else { Err(WebError::Forbidden) }
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
        let (employee, csrf) = state.store.session(&token_hash(&token), now_ms()).await?.ok_or(WebError::Login)?;
        if !employee.is_current {
            return Err(WebError::Login);
        }
        Ok(CurrentUser { employee, csrf })
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
    jar: CookieJar,
    axum::Form(form): axum::Form<LoginForm>,
) -> Result<Response, WebError> {
    let now = now_ms();
    let username = form.username.trim().to_string();
    let fail = |msg: &str| -> Result<Response, WebError> {
        let page = LoginPage { error: Some(msg.into()), username: username.clone() };
        Ok((axum::http::StatusCode::UNAUTHORIZED, Html(askama::Template::render(&page)?)).into_response())
    };
    if state.store.login_failures(&username, now - FAILURE_WINDOW_MS).await? >= MAX_FAILURES {
        return fail("Zu viele Fehlversuche. Bitte warten Sie 15 Minuten und versuchen Sie es dann erneut.");
    }
    let found = state.store.password_hash(&username).await?;
    let ok = match &found {
        Some((_, hash)) => verify_password(&form.password, hash),
        None => {
            // Same work for unknown users, so timing does not reveal who exists.
            let _ = verify_password(
                &form.password,
                "$argon2id$v=19$m=19456,t=2,p=1$c2FsdHNhbHRzYWx0$0Xk3pK1x0l2N5b8Z0y2W7wZ3hB4m1yN6oXcQ9rA8f2E",
            );
            false
        }
    };
    let employee = match (ok, found) {
        (true, Some((id, _))) => state.store.employee(id).await?,
        _ => {
            state.store.record_login_failure(&username, now).await?;
            return fail("Anmeldung fehlgeschlagen: Benutzername oder Passwort ist falsch.");
        }
    };
    if !employee.is_current {
        return fail("Anmeldung nicht möglich: Bei Ihrem Mitarbeiterdatensatz ist „Aktuell“ nicht gesetzt.");
    }
    state.store.clear_login_failures(&username).await?;
    if let Some(old) = jar.get(COOKIE) {
        state.store.delete_session(&token_hash(old.value())).await?;
    }
    let token = random_token();
    state.store.create_session(&token_hash(&token), employee.id, &random_token(), now, now + SESSION_MS).await?;
    // Starting the program claims what waits for me (the seed's rule), after a fetch.
    state.hooks.fetch_now().await;
    if employee.check_an().is_ok() {
        state.store.claim(employee.id, now_ms()).await?;
    }
    let cookie = Cookie::build((COOKIE, token))
        .http_only(true)
        .same_site(SameSite::Strict)
        .secure(state.secure_cookies)
        .path("/")
        .build();
    Ok((jar.add(cookie), Redirect::to("/")).into_response())
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

/// The API's caller, by `Authorization: Bearer TOKEN`.
pub async fn api_user(state: &WebState, headers: &HeaderMap) -> Result<Employee, WebError> {
    let token = headers
        .get(header::AUTHORIZATION)
        .and_then(|v| v.to_str().ok())
        .and_then(|v| v.strip_prefix("Bearer "))
        .ok_or(WebError::Login)?;
    let e = state.store.api_token_employee(&token_hash(token.trim())).await?.ok_or(WebError::Login)?;
    if !e.is_current {
        return Err(WebError::Login);
    }
    Ok(e)
}

/// Creates an API token for `employee` and returns it; only its hash is stored.
pub async fn new_api_token(
    store: &Store,
    employee: postkorb_core::EmployeeId,
    label: &str,
) -> Result<String, postkorb_store::StoreError> {
    let token = random_token();
    store.create_api_token(&token_hash(&token), employee, label, now_ms()).await?;
    Ok(token)
}
