//! Optionen › „E-Mail-Versand“ (`/optionen/e-mail/versand`): the office's SMTP account for the mails
//! Postkorb sends (notifications, Eingangsbestätigungen), and „Testnachricht senden“. Only with
//! „E-Mails automatisch einlesen“. The password is write-only: never sent back to the browser, kept
//! when the field stays empty — but only while server, port, encryption and user name stay (the
//! store drops it otherwise). Saving and the test go through the `Hooks` (sealing, sending).

use askama::Template;
use axum::extract::State;
use axum::response::{Html, IntoResponse, Redirect, Response};
use postkorb_core::Permission;
use postkorb_core::mailbox::{SettingsError, SmtpInput, TlsMode, validate_smtp};
use postkorb_store::SmtpRecord;
use serde::Deserialize;

use super::Nav;
use crate::WebState;
use crate::auth::CurrentUser;
use crate::error::WebError;
use crate::paths::FormPaths;
use crate::ui::{Notice, NoticeQuery};
use crate::util::now_ms;

/// The page's address.
pub const PAGE: &str = "/optionen/e-mail/versand";

#[derive(Deserialize, Default)]
pub struct SmtpForm {
    #[serde(default)]
    csrf: String,
    #[serde(default)]
    host: String,
    #[serde(default)]
    port: String,
    #[serde(default)]
    tls: String,
    #[serde(default)]
    username: String,
    #[serde(default)]
    password: String,
    #[serde(default)]
    ca_file: String,
    #[serde(default)]
    sender_address: String,
    #[serde(default)]
    sender_name: String,
}

#[derive(Deserialize, Default)]
pub struct TestForm {
    #[serde(default)]
    csrf: String,
    #[serde(default)]
    to: String,
}

#[derive(Template)]
#[template(path = "smtp.html")]
struct SmtpPage {
    nav: Nav,
    f: SmtpForm,
    errors: Vec<SettingsError>,
    password_set: bool,
    configured: bool,
    message: Option<String>,
    /// The test's address (default: one's own work e-mail).
    test_to: String,
    test_ok: Option<String>,
    test_error: Option<String>,
}

impl SmtpPage {
    fn error(&self, field: &str) -> Option<String> {
        self.errors.iter().find(|e| e.field.form_name() == field).map(SettingsError::german)
    }

    fn html(self) -> Result<Html<String>, WebError> {
        Ok(Html(self.render()?))
    }
}

fn form_of(s: &SmtpRecord) -> SmtpForm {
    SmtpForm {
        host: s.host.clone(),
        port: s.port.to_string(),
        tls: s.tls.clone(),
        username: s.username.clone(),
        ca_file: s.ca_file.clone().unwrap_or_default(),
        sender_address: s.sender_address.clone(),
        sender_name: s.sender_name.clone(),
        ..SmtpForm::default()
    }
}

async fn page(state: &WebState, user: &CurrentUser) -> Result<SmtpPage, WebError> {
    let stored = state.store.smtp_settings().await?;
    let f = stored
        .as_ref()
        .map(form_of)
        .unwrap_or_else(|| SmtpForm { tls: TlsMode::StartTls.code().into(), ..Default::default() });
    Ok(SmtpPage {
        nav: Nav::new(user, "optionen"),
        f,
        errors: Vec::new(),
        password_set: stored.as_ref().is_some_and(|s| s.secret.is_some()),
        configured: stored.is_some(),
        message: None,
        test_to: user.employee.work_email.as_ref().map(|e| e.as_str().to_string()).unwrap_or_default(),
        test_ok: None,
        test_error: None,
    })
}

/// `GET /optionen/e-mail/versand`.
pub async fn show(
    State(state): State<WebState>,
    user: CurrentUser,
    axum::extract::Query(q): axum::extract::Query<NoticeQuery>,
) -> Result<Html<String>, WebError> {
    user.require(Permission::ManageMailImport)?;
    SmtpPage { message: q.german(), ..page(&state, &user).await? }.html()
}

/// `POST /optionen/e-mail/versand`: validate, seal a typed password for the new endpoint, save.
pub async fn save(
    State(state): State<WebState>,
    user: CurrentUser,
    axum::Form(f): axum::Form<SmtpForm>,
) -> Result<Response, WebError> {
    user.require(Permission::ManageMailImport)?;
    user.check_csrf(&f.csrf)?;
    let stored = state.store.smtp_settings().await?;
    let base = page(&state, &user).await?;
    let paths = FormPaths {
        rules: &state.paths,
        stored_maildir: None,
        stored_ca_file: stored.as_ref().and_then(|s| s.ca_file.as_deref()),
    };
    let mut record = match checked(&f, stored.as_ref(), &paths) {
        Ok(record) => record,
        Err(errors) => {
            let f = SmtpForm { password: String::new(), ..f };
            return Ok(SmtpPage { f, errors, ..base }.html()?.into_response());
        }
    };
    if !f.password.is_empty() {
        let sealed = state.hooks.seal_smtp_password(&record, &f.password).map_err(WebError::Internal)?;
        record.secret = Some(sealed);
    }
    state.store.save_smtp_by(&record, now_ms(), &user.actor()).await?;
    Ok(Redirect::to(&Notice::SmtpSaved.url(PAGE, None)).into_response())
}

/// The record to save, or every error. A login needs a password — typed now, or stored for the
/// same endpoint (a changed endpoint needs it anew: the stored one is never sent elsewhere).
fn checked(f: &SmtpForm, stored: Option<&SmtpRecord>, paths: &FormPaths) -> Result<SmtpRecord, Vec<SettingsError>> {
    let draft = |username: &str, host: &str, port: i64, tls: &str| SmtpRecord {
        host: host.into(),
        port,
        tls: tls.into(),
        username: username.into(),
        ..SmtpRecord::default()
    };
    let input = |has_password| SmtpInput {
        host: &f.host,
        port: &f.port,
        tls: &f.tls,
        username: &f.username,
        has_password,
        ca_file: &f.ca_file,
        sender_address: &f.sender_address,
        sender_name: &f.sender_name,
    };
    // First as if a password were there, to learn the endpoint; then with the truth.
    let s = validate_smtp(&input(true), paths)?;
    let record = SmtpRecord {
        ca_file: s.ca_file.clone(),
        sender_address: s.sender.as_str().to_string(),
        sender_name: s.sender_name.clone(),
        ..draft(&s.username, &s.host, i64::from(s.port), s.tls.code())
    };
    let same_endpoint =
        stored.is_some_and(|old| old.secret.is_some() && old.secret_binding() == record.secret_binding());
    validate_smtp(&input(!f.password.is_empty() || same_endpoint), paths)?;
    Ok(record)
}

/// `POST /optionen/e-mail/versand/test`: „Testnachricht senden“ with the saved settings.
pub async fn test(
    State(state): State<WebState>,
    user: CurrentUser,
    axum::Form(t): axum::Form<TestForm>,
) -> Result<Html<String>, WebError> {
    user.require(Permission::ManageMailImport)?;
    user.check_csrf(&t.csrf)?;
    let base = page(&state, &user).await?;
    let to = t.to.trim().to_string();
    let outcome = match postkorb_core::EmailAddress::parse(&to) {
        Err(e) => Err(format!("Die Empfängeradresse ist ungültig: {}", e.german())),
        Ok(address) => state.hooks.send_test_mail(address.as_str().to_string()).await,
    };
    let (test_ok, test_error) = match outcome {
        Ok(()) => (Some(format!("Die Testnachricht an {to} wurde gesendet. Bitte prüfen Sie den Posteingang.")), None),
        Err(e) => (None, Some(format!("Die Testnachricht wurde nicht gesendet. {e}"))),
    };
    SmtpPage { test_to: to, test_ok, test_error, ..base }.html()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_page_is_german_and_never_shows_the_password() {
        let nav = Nav {
            name: "Anna Admin".into(),
            csrf: "t0k3n".into(),
            can_import: true,
            can_employees: true,
            can_privacy: false,
            active: "optionen",
        };
        let page = SmtpPage {
            nav,
            f: SmtpForm {
                host: "smtp.buero.de".into(),
                port: "587".into(),
                tls: "starttls".into(),
                username: "versand@buero.de".into(),
                password: "Geheim-123".into(),
                sender_address: "vorgaenge@buero.de".into(),
                sender_name: "<script>alert(1)</script>".into(),
                ..SmtpForm::default()
            },
            errors: vec![SettingsError::new(
                postkorb_core::mailbox::Field::Tls,
                postkorb_core::mailbox::Problem::PlainLoginRemote,
            )],
            password_set: true,
            configured: true,
            message: Some(Notice::SmtpSaved.german(0)),
            test_to: "admin@buero.de".into(),
            test_ok: None,
            test_error: Some("Die Testnachricht wurde nicht gesendet. Die Anmeldung wurde abgelehnt.".into()),
        };
        let html = page.render().unwrap();
        crate::german::assert_german(&html, "E-Mail-Versand");
        assert!(!html.contains("Geheim-123"), "the password is write-only");
        assert!(!html.contains("<script>alert"), "escaped");
        assert!(html.contains("Testnachricht senden") && html.contains("admin@buero.de"));
    }
}
