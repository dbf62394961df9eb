//! „Mein Konto“: change one's password (also the forced change of a one-time password), one's API
//! tokens (make one, see label, created, last used, expiry; revoke), and end one's other sessions.

use askama::Template;
use axum::extract::{Path, Query, State};
use axum::response::{Html, IntoResponse, Redirect, Response};
use axum_extra::extract::cookie::CookieJar;
use postkorb_core::{AuditEntry, Person};
use serde::Deserialize;

use super::Nav;
use crate::WebState;
use crate::auth::{
    ClientAddress, CsrfOnly, CurrentUser, LOGIN_LIMITS, hash_password_limited, new_api_token_until, start_session,
    verify_password_limited,
};
use crate::error::WebError;
use crate::util::{german_time, now_ms};

const DAY_MS: i64 = 24 * 3600 * 1000;

pub struct TokenRow {
    pub id: i64,
    pub label: String,
    pub created: String,
    pub last_used: String,
    pub expires: String,
}

#[derive(Template)]
#[template(path = "account.html")]
struct AccountPage {
    nav: Nav,
    message: Option<String>,
    errors: Vec<String>,
    /// A token just made: shown this once.
    new_token: Option<String>,
    tokens: Vec<TokenRow>,
}

#[derive(Template)]
#[template(path = "password.html")]
struct PasswordPage {
    nav: Nav,
    forced: bool,
    errors: Vec<String>,
}

#[derive(Deserialize)]
pub struct AccountQuery {
    #[serde(default)]
    hinweis: String,
}

async fn page(
    state: &WebState,
    user: &CurrentUser,
    message: Option<String>,
    errors: Vec<String>,
    new_token: Option<String>,
) -> Result<AccountPage, WebError> {
    let now = now_ms();
    let tokens = state
        .store
        .api_tokens(user.employee.id)
        .await?
        .into_iter()
        .map(|t| TokenRow {
            id: t.id,
            label: if t.label.is_empty() { "(ohne Bezeichnung)".into() } else { t.label },
            created: german_time(t.created_ms),
            last_used: t.last_used_ms.map(german_time).unwrap_or_else(|| "nie".into()),
            expires: match t.expires_ms {
                None => "unbefristet".into(),
                Some(e) if e <= now => format!("abgelaufen am {}", german_time(e)),
                Some(e) => german_time(e),
            },
        })
        .collect();
    Ok(AccountPage { nav: Nav::new(user, "konto"), message, errors, new_token, tokens })
}

pub async fn show(
    State(state): State<WebState>,
    user: CurrentUser,
    Query(q): Query<AccountQuery>,
) -> Result<Html<String>, WebError> {
    let message = match q.hinweis.as_str() {
        "passwort" => {
            Some("Ihr Passwort wurde geändert. Alle anderen Sitzungen und Ihre API-Tokens wurden beendet.".into())
        }
        "sitzungen" => Some("Alle anderen Sitzungen wurden beendet.".into()),
        "widerrufen" => Some("Das API-Token wurde widerrufen.".into()),
        _ => None,
    };
    Ok(Html(page(&state, &user, message, vec![], None).await?.render()?))
}

#[derive(Deserialize)]
pub struct TokenForm {
    #[serde(default)]
    csrf: String,
    #[serde(default)]
    label: String,
    /// Days until it expires; empty: until revoked.
    #[serde(default)]
    days: String,
}

pub async fn create_token(
    State(state): State<WebState>,
    user: CurrentUser,
    axum::Form(f): axum::Form<TokenForm>,
) -> Result<Response, WebError> {
    user.check_csrf(&f.csrf)?;
    let mut errors = Vec::new();
    let label = f.label.trim();
    if label.chars().count() > 100 {
        errors.push("Die Bezeichnung darf höchstens 100 Zeichen lang sein.".to_string());
    }
    let days = match f.days.trim() {
        "" => None,
        d => match d.parse::<i64>() {
            Ok(n) if (1..=3650).contains(&n) => Some(n),
            _ => {
                errors.push(
                    "Gültig für: bitte eine Zahl von Tagen zwischen 1 und 3650, oder leer für unbefristet.".into(),
                );
                None
            }
        },
    };
    if !errors.is_empty() {
        let p = page(&state, &user, None, errors, None).await?;
        return Ok((axum::http::StatusCode::UNPROCESSABLE_ENTITY, Html(p.render()?)).into_response());
    }
    let expires = days.map(|d| now_ms() + d * DAY_MS);
    let (token, record) = new_api_token_until(&state.store, user.employee.id, label, expires).await?;
    let entry = AuditEntry::CreateToken { employee: Person::of(&user.employee), label: record.label.clone() };
    state.store.audit_entry(now_ms(), &user.actor(), &entry).await?;
    let message = Some("Das API-Token wird nur jetzt angezeigt. Bitte kopieren Sie es an einen sicheren Ort.".into());
    Ok(Html(page(&state, &user, message, vec![], Some(token)).await?.render()?).into_response())
}

pub async fn revoke_token(
    State(state): State<WebState>,
    user: CurrentUser,
    Path(id): Path<i64>,
    axum::Form(f): axum::Form<CsrfOnly>,
) -> Result<Response, WebError> {
    user.check_csrf(&f.csrf)?;
    let tokens = state.store.api_tokens(user.employee.id).await?;
    let label = tokens.into_iter().find(|t| t.id == id).map(|t| t.label).unwrap_or_default();
    if !state.store.revoke_api_token(user.employee.id, id).await? {
        return Err(WebError::NotFound);
    }
    let entry = AuditEntry::RevokeToken { employee: Person::of(&user.employee), label };
    state.store.audit_entry(now_ms(), &user.actor(), &entry).await?;
    Ok(Redirect::to("/konto?hinweis=widerrufen").into_response())
}

/// „Alle anderen Sitzungen beenden“: every session of mine except this one.
pub async fn end_other_sessions(
    State(state): State<WebState>,
    user: CurrentUser,
    axum::Form(f): axum::Form<CsrfOnly>,
) -> Result<Response, WebError> {
    user.check_csrf(&f.csrf)?;
    let n = state.store.end_other_sessions(user.employee.id, &user.session).await?;
    let entry = AuditEntry::EndSessions { employee: Person::of(&user.employee), count: n as i64 };
    state.store.audit_entry(now_ms(), &user.actor(), &entry).await?;
    Ok(Redirect::to("/konto?hinweis=sitzungen").into_response())
}

pub async fn password_form(State(state): State<WebState>, user: CurrentUser) -> Result<Html<String>, WebError> {
    let forced = state.store.must_change_password(user.employee.id).await?;
    Ok(Html(PasswordPage { nav: Nav::new(&user, "konto"), forced, errors: vec![] }.render()?))
}

#[derive(Deserialize)]
pub struct PasswordForm {
    #[serde(default)]
    csrf: String,
    #[serde(default)]
    current: String,
    #[serde(default)]
    new: String,
    #[serde(default)]
    repeat: String,
}

/// Changes my password: the store ends every session and token of mine; this browser gets a new session.
pub async fn change_password(
    State(state): State<WebState>,
    user: CurrentUser,
    ClientAddress(address): ClientAddress,
    jar: CookieJar,
    axum::Form(f): axum::Form<PasswordForm>,
) -> Result<Response, WebError> {
    user.check_csrf(&f.csrf)?;
    let username = user.employee.username.clone().unwrap_or_default();
    let mut errors = Vec::new();
    if f.new.chars().count() < 10 {
        errors.push("Das neue Passwort muss mindestens 10 Zeichen lang sein.".to_string());
    } else if f.new != f.repeat {
        errors.push("Die beiden Eingaben des neuen Passworts stimmen nicht überein.".to_string());
    } else if f.new == f.current {
        errors.push("Das neue Passwort muss sich vom bisherigen unterscheiden.".to_string());
    }
    if errors.is_empty() {
        // Guessing the current password through a stolen session is limited like a login.
        match state.store.begin_login_attempt(&username, &address, now_ms(), LOGIN_LIMITS).await? {
            Err(_) => errors.push(
                "Zu viele Fehlversuche. Bitte warten Sie 15 Minuten und versuchen Sie es dann erneut.".to_string(),
            ),
            Ok(attempt) => {
                let hash = state.store.password_hash(&username).await?.map(|(_, h)| h);
                if verify_password_limited(f.current.clone(), hash).await {
                    state.store.login_succeeded(attempt, &username, &address).await?;
                } else {
                    errors.push("Das bisherige Passwort ist falsch.".to_string());
                }
            }
        }
    }
    if !errors.is_empty() {
        let forced = state.store.must_change_password(user.employee.id).await?;
        let p = PasswordPage { nav: Nav::new(&user, "konto"), forced, errors };
        return Ok((axum::http::StatusCode::UNPROCESSABLE_ENTITY, Html(p.render()?)).into_response());
    }
    state.store.set_password_hash(user.employee.id, &hash_password_limited(f.new.clone()).await).await?;
    let entry = AuditEntry::ChangePassword { employee: Person::of(&user.employee) };
    state.store.audit_entry(now_ms(), &user.actor(), &entry).await?;
    let jar = start_session(&state, jar, user.employee.id).await?;
    Ok((jar, Redirect::to("/konto?hinweis=passwort")).into_response())
}
