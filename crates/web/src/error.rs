//! One place that maps failures to HTTP: German pages for the UI, JSON for the API, never a stack trace.

use axum::http::StatusCode;
use axum::response::{Html, IntoResponse, Redirect, Response};

#[derive(Debug)]
pub enum WebError {
    /// Not logged in: go to the login page.
    Login,
    /// Logged in but without the permission.
    Forbidden,
    /// Logged in with a one-time password that must be changed first.
    ChangePassword,
    NotFound,
    /// A wrong form or request, with the German message to show.
    BadRequest(String),
    Internal(String),
}

impl From<postkorb_store::StoreError> for WebError {
    fn from(e: postkorb_store::StoreError) -> Self {
        match e {
            postkorb_store::StoreError::NotFound(_) => WebError::NotFound,
            postkorb_store::StoreError::Invalid(m) => WebError::BadRequest(m),
            postkorb_store::StoreError::Employee(e) => WebError::BadRequest(e.german()),
            other => {
                tracing::error!(error = %other, "store error");
                WebError::Internal(other.to_string())
            }
        }
    }
}

impl From<askama::Error> for WebError {
    fn from(e: askama::Error) -> Self {
        WebError::Internal(e.to_string())
    }
}

impl WebError {
    pub fn status(&self) -> StatusCode {
        match self {
            WebError::Login => StatusCode::UNAUTHORIZED,
            WebError::Forbidden | WebError::ChangePassword => StatusCode::FORBIDDEN,
            WebError::NotFound => StatusCode::NOT_FOUND,
            WebError::BadRequest(_) => StatusCode::BAD_REQUEST,
            WebError::Internal(_) => StatusCode::INTERNAL_SERVER_ERROR,
        }
    }

    pub fn german(&self) -> String {
        match self {
            WebError::Login => "Bitte melden Sie sich an.".into(),
            WebError::Forbidden => "Keine Berechtigung: Für diese Seite fehlt Ihnen das nötige Zugriffsrecht.".into(),
            WebError::ChangePassword => "Bitte ändern Sie zuerst Ihr Einmalpasswort.".into(),
            WebError::NotFound => "Nicht gefunden.".into(),
            WebError::BadRequest(m) => m.clone(),
            WebError::Internal(_) => {
                "Ein interner Fehler ist aufgetreten. Bitte versuchen Sie es später erneut.".into()
            }
        }
    }
}

impl IntoResponse for WebError {
    fn into_response(self) -> Response {
        if matches!(self, WebError::Login) {
            return Redirect::to("/anmeldung").into_response();
        }
        if matches!(self, WebError::ChangePassword) {
            return Redirect::to(crate::auth::PASSWORD_PAGE).into_response();
        }
        if let WebError::Internal(detail) = &self {
            tracing::error!(%detail, "request failed");
        }
        let title = match self {
            WebError::Forbidden => "Keine Berechtigung",
            WebError::NotFound => "Nicht gefunden",
            WebError::BadRequest(_) => "Eingabe nicht möglich",
            _ => "Fehler",
        };
        let page = format!(
            "<!doctype html><html lang=\"de\"><head><meta charset=\"utf-8\"><title>{title} – Postkorb</title>\
             <link rel=\"stylesheet\" href=\"/static/postkorb.css\"></head><body><header class=\"top\">\
             <span class=\"brand\">Postkorb</span></header><main class=\"error\"><h1>{title}</h1>\
             <p>{}</p><p class=\"hint\">(HTTP {})</p><p><a href=\"/\">Zur Startmaske</a></p></main></body></html>",
            askama_escape(&self.german()),
            self.status().as_u16()
        );
        (self.status(), Html(page)).into_response()
    }
}

/// The API's error body.
pub struct ApiError(pub WebError);

impl From<WebError> for ApiError {
    fn from(e: WebError) -> Self {
        ApiError(e)
    }
}

impl From<postkorb_store::StoreError> for ApiError {
    fn from(e: postkorb_store::StoreError) -> Self {
        ApiError(e.into())
    }
}

impl IntoResponse for ApiError {
    fn into_response(self) -> Response {
        let msg = match &self.0 {
            WebError::Login => "authentication required: send 'Authorization: Bearer TOKEN'".to_string(),
            WebError::Forbidden => "forbidden: missing permission".into(),
            WebError::ChangePassword => {
                "password change required: log in to the web UI and change the one-time password first".into()
            }
            WebError::NotFound => "not found".into(),
            WebError::BadRequest(m) => m.clone(),
            WebError::Internal(_) => "internal error".into(),
        };
        (self.0.status(), axum::Json(serde_json::json!({ "error": msg }))).into_response()
    }
}

pub fn askama_escape(s: &str) -> String {
    s.replace('&', "&amp;").replace('<', "&lt;").replace('>', "&gt;").replace('"', "&quot;").replace('\'', "&#x27;")
}
