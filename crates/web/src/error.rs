//! One place that maps failures to HTTP: German pages for the UI, JSON for the API, never a stack trace.
//!
//! An error page is first rendered without the menu (the error does not know who asked); the
//! screens' layer [`with_menu`] renders it again with the menu and „Abmelden“ when the request
//! came from a logged-in user, so a 403, 404, 400 or 500 never strands anyone.

use askama::Template;
use axum::extract::{Request, State};
use axum::http::StatusCode;
use axum::middleware::Next;
use axum::response::{Html, IntoResponse, Redirect, Response};
use postkorb_core::Permission;

use crate::WebState;
use crate::pages::Nav;

#[derive(Debug)]
pub enum WebError {
    /// Not logged in: go to the login page.
    Login,
    /// Logged in but not allowed, and why.
    Forbidden(Denied),
    /// Logged in with a one-time password that must be changed first.
    ChangePassword,
    NotFound,
    /// A wrong form or request, with the German message to show.
    BadRequest(String),
    /// The store refused a change that the page offered (e.g. a kept mail routed meanwhile by
    /// someone else): the English detail goes to the log and the API, the page says it in German.
    Conflict(String),
    /// A change of a Vorgang its state no longer allows (issue 16), with what happened meanwhile.
    Refused(postkorb_core::CaseRefusal),
    Internal(String),
}

/// Why a logged-in user may not do something.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Denied {
    /// The employee lacks this Zugriffsrecht.
    Permission(Permission),
    /// The employee holds neither of these Zugriffsrechte.
    EitherPermission(Permission, Permission),
    /// The Vorgang is neither theirs nor waiting for them.
    Case,
    /// Only the Bearbeiter may change the Vorgang.
    NotAssignee,
    /// Weitergeben, Zurückgeben, Wiedervorlage: the Bearbeiter or a holder of „E-Mails
    /// automatisch einlesen“ (issue 16).
    NotWorker,
}

impl From<Permission> for WebError {
    fn from(p: Permission) -> Self {
        WebError::Forbidden(Denied::Permission(p))
    }
}

/// A Zugriffsrecht as the office names it, in quotes, with its area where it has one.
fn right_german(p: Permission) -> &'static str {
    match p {
        Permission::ManageMailImport => "„E-Mails automatisch einlesen“ (Bereich „Startmaske“)",
        Permission::ManageEmployees => "„Mitarbeiter verwalten“",
        Permission::ManagePrivacy => "„Datenschutz verwalten“",
    }
}

fn right_english(p: Permission) -> String {
    let what = match p {
        Permission::ManageMailImport => "import e-mails automatically",
        Permission::ManageEmployees => "manage employees",
        Permission::ManagePrivacy => "manage data protection",
    };
    format!("'{}' ({what})", p.code())
}

impl Denied {
    pub fn german(self) -> String {
        match self {
            Denied::Permission(p) => {
                format!("Dafür brauchen Sie das Zugriffsrecht {}. Fragen Sie Ihre Administration.", right_german(p))
            }
            Denied::EitherPermission(a, b) => format!(
                "Dafür brauchen Sie das Zugriffsrecht {} oder {}. Fragen Sie Ihre Administration.",
                right_german(a),
                right_german(b)
            ),
            Denied::Case => "Dieser Vorgang ist weder Ihnen zugeordnet, noch wartet er auf Sie. Fragen Sie Ihre \
                             Administration, wenn Sie ihn sehen müssen."
                .into(),
            Denied::NotAssignee => "Nur der Bearbeiter des Vorgangs kann ihn erledigen oder wieder öffnen.".into(),
            Denied::NotWorker => format!(
                "Nur der Bearbeiter des Vorgangs oder wer das Zugriffsrecht {} hat, kann ihn weitergeben, \
                 zurückgeben oder eine Wiedervorlage setzen.",
                right_german(Permission::ManageMailImport)
            ),
        }
    }

    pub fn english(self) -> String {
        match self {
            Denied::Permission(p) => format!("forbidden: this needs the permission {}", right_english(p)),
            Denied::EitherPermission(a, b) => {
                format!("forbidden: this needs the permission {} or {}", right_english(a), right_english(b))
            }
            Denied::Case => "forbidden: this case is neither assigned to you nor waiting for you".into(),
            Denied::NotAssignee => "forbidden: only the case's assignee may change its status".into(),
            Denied::NotWorker => format!(
                "forbidden: only the case's assignee or a holder of {} may hand it over, give it back or set a follow-up",
                right_english(Permission::ManageMailImport)
            ),
        }
    }
}

impl From<postkorb_store::StoreError> for WebError {
    fn from(e: postkorb_store::StoreError) -> Self {
        match e {
            postkorb_store::StoreError::NotFound(_) => WebError::NotFound,
            postkorb_store::StoreError::Invalid(m) => WebError::Conflict(m),
            postkorb_store::StoreError::Employee(e) => WebError::BadRequest(e.german()),
            postkorb_store::StoreError::Refused(why) => WebError::Refused(why),
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
            WebError::Forbidden(_) | WebError::ChangePassword => StatusCode::FORBIDDEN,
            WebError::NotFound => StatusCode::NOT_FOUND,
            WebError::BadRequest(_) => StatusCode::BAD_REQUEST,
            WebError::Conflict(_) | WebError::Refused(_) => StatusCode::CONFLICT,
            WebError::Internal(_) => StatusCode::INTERNAL_SERVER_ERROR,
        }
    }

    pub fn german(&self) -> String {
        match self {
            WebError::Login => "Bitte melden Sie sich an.".into(),
            WebError::Forbidden(why) => why.german(),
            WebError::ChangePassword => "Bitte ändern Sie zuerst Ihr Einmalpasswort.".into(),
            WebError::NotFound => "Diese Seite gibt es nicht, oder der Eintrag wurde inzwischen gelöscht.".into(),
            WebError::BadRequest(m) => m.clone(),
            WebError::Conflict(detail) => {
                tracing::info!(%detail, "change refused");
                "Das ist nicht mehr möglich: Der Eintrag hat sich inzwischen geändert (zum Beispiel wurde er schon \
                 erledigt, zugeordnet oder verworfen). Bitte laden Sie die Seite neu."
                    .into()
            }
            WebError::Refused(why) => why.german(),
            WebError::Internal(_) => {
                "Ein interner Fehler ist aufgetreten. Bitte versuchen Sie es später erneut.".into()
            }
        }
    }

    /// The page's heading.
    fn title(&self) -> &'static str {
        match self {
            WebError::Forbidden(_) => "Keine Berechtigung",
            WebError::NotFound => "Nicht gefunden",
            WebError::BadRequest(_) | WebError::Conflict(_) | WebError::Refused(_) => "Eingabe nicht möglich",
            _ => "Fehler",
        }
    }
}

/// The error page; `nav` when a logged-in user asked.
#[derive(Template)]
#[template(path = "error.html")]
struct ErrorPage<'a> {
    nav: Option<Nav>,
    shown: &'a Shown,
}

/// What an error page shows, kept on the response so [`with_menu`] can render it again.
#[derive(Clone, Debug)]
struct Shown {
    title: &'static str,
    message: String,
    status: u16,
}

impl Shown {
    fn render(&self, nav: Option<Nav>) -> Response {
        let status = StatusCode::from_u16(self.status).unwrap_or(StatusCode::INTERNAL_SERVER_ERROR);
        match (ErrorPage { nav, shown: self }).render() {
            Ok(html) => {
                let mut res = (status, Html(html)).into_response();
                res.extensions_mut().insert(self.clone());
                res
            }
            Err(e) => {
                tracing::error!(error = %e, "error page failed");
                (status, self.message.clone()).into_response()
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
        Shown { title: self.title(), message: self.german(), status: self.status().as_u16() }.render(None)
    }
}

/// The layer of the screens: an error page answered to a logged-in user gets the menu.
pub async fn with_menu(State(state): State<WebState>, req: Request, next: Next) -> Response {
    let headers = req.headers().clone();
    let res = next.run(req).await;
    let Some(shown) = res.extensions().get::<Shown>().cloned() else { return res };
    match crate::auth::menu_user(&state, &headers).await {
        Some(user) => shown.render(Some(Nav::new(&user, ""))),
        None => res,
    }
}

/// What no route answers: a 404 page for the screens, a JSON 404 under `/api`.
pub async fn not_found(uri: axum::http::Uri) -> Response {
    if uri.path().starts_with("/api/") {
        ApiError(WebError::NotFound).into_response()
    } else {
        WebError::NotFound.into_response()
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
            WebError::Forbidden(why) => why.english(),
            WebError::ChangePassword => {
                "password change required: log in to the web UI and change the one-time password first".into()
            }
            WebError::NotFound => "not found".into(),
            WebError::BadRequest(m) | WebError::Conflict(m) => m.clone(),
            WebError::Refused(why) => why.english(),
            WebError::Internal(_) => "internal error".into(),
        };
        (self.0.status(), axum::Json(serde_json::json!({ "error": msg }))).into_response()
    }
}

pub fn askama_escape(s: &str) -> String {
    s.replace('&', "&amp;").replace('<', "&lt;").replace('>', "&gt;").replace('"', "&quot;").replace('\'', "&#x27;")
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_forbidden_page_names_the_missing_right_in_the_offices_words() {
        assert_eq!(
            WebError::from(Permission::ManageMailImport).german(),
            "Dafür brauchen Sie das Zugriffsrecht „E-Mails automatisch einlesen“ (Bereich „Startmaske“). \
             Fragen Sie Ihre Administration."
        );
        assert_eq!(
            WebError::from(Permission::ManageEmployees).german(),
            "Dafür brauchen Sie das Zugriffsrecht „Mitarbeiter verwalten“. Fragen Sie Ihre Administration."
        );
    }

    #[test]
    fn the_apis_403_names_the_permission_in_english() {
        for p in Permission::ALL {
            let msg = Denied::Permission(p).english();
            assert!(msg.contains(p.code()), "{msg}");
            assert!(msg.is_ascii(), "{msg}");
        }
    }

    #[tokio::test]
    async fn an_error_page_without_a_user_has_no_menu_but_the_way_back() {
        let res = WebError::from(Permission::ManageMailImport).into_response();
        assert_eq!(res.status(), StatusCode::FORBIDDEN);
        let body = axum::body::to_bytes(res.into_body(), 1 << 20).await.unwrap();
        let html = String::from_utf8(body.to_vec()).unwrap();
        assert!(html.contains("<h1>Keine Berechtigung</h1>"), "{html}");
        assert!(html.contains("„E-Mails automatisch einlesen“"), "{html}");
        assert!(html.contains("href=\"/\""), "{html}");
        assert!(!html.contains("Abmelden"), "{html}");
    }

    #[tokio::test]
    async fn an_unknown_address_is_a_german_page_but_json_under_the_api() {
        let page = not_found("/gibt-es-nicht".parse().unwrap()).await;
        assert_eq!(page.status(), StatusCode::NOT_FOUND);
        let html = axum::body::to_bytes(page.into_body(), 1 << 20).await.unwrap();
        assert!(String::from_utf8_lossy(&html).contains("<h1>Nicht gefunden</h1>"));
        let api = not_found("/api/v1/gibt-es-nicht".parse().unwrap()).await;
        assert_eq!(api.status(), StatusCode::NOT_FOUND);
        let json = axum::body::to_bytes(api.into_body(), 1 << 20).await.unwrap();
        assert_eq!(&json[..], br#"{"error":"not found"}"#);
    }
}
