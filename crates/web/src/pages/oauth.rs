//! „Konto verbinden“: the OAuth2 authorization code flow (with PKCE) for Microsoft 365 and Google
//! mailboxes, started from the mailbox form; the provider sends the browser back to `/oauth/callback`.
//! „Anwendung verbinden“ ([`app`]): application access to a Microsoft Graph mailbox.

use axum::extract::{Path, Query, State};
use axum::response::{IntoResponse, Response};
use postkorb_core::Permission;
use serde::Deserialize;

use crate::auth::CurrentUser;
use crate::error::WebError;
use crate::{OAuthRequest, WebState};

#[derive(Deserialize)]
pub struct ConnectForm {
    #[serde(default)]
    csrf: String,
    #[serde(flatten)]
    request: OAuthRequest,
}

pub async fn start(
    State(state): State<WebState>,
    user: CurrentUser,
    Path(mailbox): Path<String>,
    axum::Form(f): axum::Form<ConnectForm>,
) -> Result<Response, WebError> {
    user.require(Permission::ManageMailImport)?;
    user.check_csrf(&f.csrf)?;
    if !matches!(f.request.provider.as_str(), "microsoft" | "google" | "custom") {
        return Err(WebError::BadRequest("Bitte wählen Sie Microsoft 365 oder Google.".into()));
    }
    let provider = match f.request.provider.as_str() {
        "microsoft" => "Microsoft 365",
        "google" => "Google",
        _ => "dem Anbieter",
    };
    let back = crate::error::askama_escape(&super::mailbox::page_url(&mailbox));
    match state.hooks.oauth_start(mailbox, f.request, user.employee.id.0).await {
        // A page with a link, not a redirect: the form's CSP (form-action 'self') rightly forbids
        // a form submission that ends on another site.
        Ok(url) => Ok(axum::response::Html(format!(
            "<!doctype html><html lang=\"de\"><head><meta charset=\"utf-8\"><title>Konto verbinden – Postkorb</title>\
             <link rel=\"stylesheet\" href=\"/static/postkorb.css\"></head><body><main class=\"error\">\
             <h1>Konto verbinden</h1><p>Melden Sie sich jetzt bei {provider} mit dem Postfach an, das Postkorb abholen soll.\
             Danach kommen Sie automatisch hierher zurück.</p>\
             <p><a id=\"provider-link\" href=\"{}\">Weiter zur Anmeldung bei {provider}</a></p>\
             <p><a href=\"{back}\">Abbrechen</a></p></main></body></html>",
            crate::error::askama_escape(&url)
        ))
        .into_response()),
        Err(e) => Err(WebError::BadRequest(e)),
    }
}

/// „Anwendung verbinden“ (Microsoft Graph, application access): no browser round trip — the
/// client ID and secret are exchanged for a token at once, then back to the form.
pub async fn app(
    State(state): State<WebState>,
    user: CurrentUser,
    Path(mailbox): Path<String>,
    axum::Form(f): axum::Form<ConnectForm>,
) -> Result<Response, WebError> {
    user.require(Permission::ManageMailImport)?;
    user.check_csrf(&f.csrf)?;
    if !matches!(f.request.provider.as_str(), "microsoft" | "custom") {
        return Err(WebError::BadRequest("Anwendungszugriff gibt es nur für Microsoft 365.".into()));
    }
    let back = super::mailbox::page_url(&mailbox);
    match state.hooks.oauth_app(mailbox, f.request, user.employee.id.0).await {
        Ok(()) => Ok(axum::response::Redirect::to(&format!("{back}?verbunden=1")).into_response()),
        Err(e) => Err(WebError::BadRequest(e)),
    }
}

#[derive(Deserialize)]
pub struct Callback {
    #[serde(default)]
    code: String,
    #[serde(default)]
    state: String,
    #[serde(default)]
    error: String,
}

/// The provider sends the browser back here after a cross-site redirect, so the session cookie
/// (SameSite=Strict) is not sent: the flow authenticates itself by its single-use `state`, which is
/// bound to the employee who started it (still required to hold „E-Mails automatisch einlesen“) and
/// to the PKCE verifier kept on the server. The answer is a page of our own that moves on with a
/// same-site navigation, where the session cookie is sent again.
pub async fn callback(State(state): State<WebState>, Query(q): Query<Callback>) -> Result<Response, WebError> {
    if !q.error.is_empty() {
        let why = if q.error == "access_denied" {
            "Die Anmeldung beim Anbieter wurde abgebrochen oder abgelehnt.".to_string()
        } else {
            // The provider's own text is not shown: it is a foreign server's words.
            "Der Anbieter hat die Anmeldung mit einem Fehler beendet. Bitte versuchen Sie es noch einmal.".to_string()
        };
        return Err(WebError::BadRequest(why));
    }
    if q.code.is_empty() || q.state.is_empty() {
        return Err(WebError::BadRequest("Die Rückmeldung des Anbieters ist unvollständig.".into()));
    }
    match state.hooks.oauth_finish(q.state, q.code).await {
        Ok(mailbox) => Ok(axum::response::Html(format!(
            "<!doctype html><html lang=\"de\"><head><meta charset=\"utf-8\">\
             <meta http-equiv=\"refresh\" content=\"0; url={back}?verbunden=1\">\
             <title>Konto verbunden – Postkorb</title><link rel=\"stylesheet\" href=\"/static/postkorb.css\"></head>\
             <body><main class=\"error\"><h1>Konto verbunden</h1>\
             <p id=\"oauth-done\">Postkorb meldet sich ab jetzt mit OAuth2 am Postfach an.</p>\
             <p><a href=\"{back}?verbunden=1\">Weiter zu den Einstellungen</a></p></main></body></html>",
            back = crate::error::askama_escape(&super::mailbox::page_url(&mailbox))
        ))
        .into_response()),
        Err(e) => Err(WebError::BadRequest(e)),
    }
}
