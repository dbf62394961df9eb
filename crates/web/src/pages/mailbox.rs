//! Optionen › Allgemeine Einstellungen › Register „E-Mail“ › „Einstellungen für den E-Mail Empfang“.
//! The password is write-only: it is never sent back to the browser.

use askama::Template;
use axum::extract::State;
use axum::response::Html;
use postkorb_core::Permission;
use postkorb_core::mailbox::{
    AuthKind, Disposal, Field, Problem, Protocol, SettingsError, SettingsInput, TlsMode, VerifyChoice, validate,
};
use postkorb_store::MailboxRecord;
use postkorb_verify::Policy;
use serde::Deserialize;

use super::Nav;
use crate::WebState;
use crate::auth::CurrentUser;
use crate::error::WebError;
use crate::paths::FormPaths;
use crate::util::now_ms;

const NAME: &str = "default";

#[derive(Deserialize, Default)]
pub struct MailboxForm {
    #[serde(default)]
    csrf: String,
    #[serde(default)]
    action: String,
    protocol: String,
    #[serde(default)]
    host: String,
    #[serde(default)]
    port: String,
    tls: String,
    #[serde(default)]
    username: String,
    #[serde(default)]
    password: String,
    #[serde(default)]
    folder: String,
    disposal: String,
    #[serde(default)]
    target_folder: String,
    #[serde(default)]
    maildir_path: String,
    #[serde(default)]
    poll_secs: String,
    /// dkim | dkim-strict | auth-results | off
    #[serde(default)]
    verify: String,
    #[serde(default)]
    authserv_ids: String,
    /// Onboarding cut-off, YYYY-MM-DD (empty = all mails).
    #[serde(default)]
    since: String,
    #[serde(default)]
    ca_file: String,
}

/// The errors of a submitted form, each shown in German next to its field.
#[derive(Default)]
pub struct FieldErrors(Vec<SettingsError>);

impl FieldErrors {
    /// The German message for the form field `name`, if it has one.
    pub fn get(&self, name: &str) -> Option<String> {
        self.0.iter().find(|e| e.field.form_name() == name).map(SettingsError::german)
    }
}

#[derive(Template)]
#[template(path = "mailbox.html")]
struct MailboxPage {
    nav: Nav,
    f: MailboxForm,
    errors: FieldErrors,
    password_set: bool,
    message: Option<String>,
    test_ok: Option<String>,
    test_error: Option<String>,
    /// Result lines of a „Probelauf“.
    dry_run: Vec<String>,
    /// How the mailbox logs in, in German (password, or OAuth2 with the token's state).
    login_method: String,
    /// „Konto verbunden“ after the provider sent the browser back.
    connected: bool,
    /// (value, label, explanation) of each verification mode, for the select and its help text.
    verify_modes: Vec<(&'static str, &'static str, &'static str)>,
}

fn verify_modes() -> Vec<(&'static str, &'static str, &'static str)> {
    VerifyChoice::all().iter().map(|c| (c.word(), c.german_label(), c.german_explanation())).collect()
}

/// The stored policy as the form's two fields.
fn verify_fields(stored: &str) -> (String, String) {
    let policy =
        if stored.trim().is_empty() { Policy::default() } else { Policy::from_storage(stored).unwrap_or_default() };
    let choice = VerifyChoice::from(&policy);
    let ids = match &choice {
        VerifyChoice::AuthResults(ids) => ids.join(", "),
        _ => String::new(),
    };
    (choice.word().into(), ids)
}

fn form_of(m: &MailboxRecord) -> MailboxForm {
    let (verify, authserv_ids) = verify_fields(&m.verify_policy);
    MailboxForm {
        protocol: m.protocol.clone(),
        host: m.host.clone(),
        port: if m.port > 0 { m.port.to_string() } else { String::new() },
        tls: m.tls.clone(),
        username: m.username.clone(),
        folder: m.folder.clone(),
        disposal: m.disposal.clone(),
        target_folder: m.target_folder.clone(),
        maildir_path: m.maildir_path.clone().unwrap_or_default(),
        poll_secs: m.poll_secs.to_string(),
        since: if m.import_since_ms > 0 { postkorb_core::time::iso_date(m.import_since_ms) } else { String::new() },
        ca_file: m.ca_file.clone().unwrap_or_default(),
        verify,
        authserv_ids,
        ..Default::default()
    }
}

impl MailboxForm {
    /// The fields for the shared validator.
    fn input(&self, password_set: bool) -> SettingsInput<'_> {
        SettingsInput {
            protocol: &self.protocol,
            host: &self.host,
            port: &self.port,
            tls: &self.tls,
            username: &self.username,
            has_password: password_set || !self.password.is_empty(),
            folder: &self.folder,
            disposal: &self.disposal,
            target_folder: &self.target_folder,
            maildir_path: &self.maildir_path,
            poll_secs: &self.poll_secs,
            verify: &self.verify,
            authserv_ids: &self.authserv_ids,
            since: &self.since,
            ca_file: &self.ca_file,
        }
    }
}

fn empty_form() -> MailboxForm {
    MailboxForm {
        protocol: Protocol::Imap.code().into(),
        tls: TlsMode::Implicit.code().into(),
        folder: "INBOX".into(),
        disposal: Disposal::Move.code().into(),
        target_folder: "Postkorb/Importiert".into(),
        poll_secs: "60".into(),
        verify: VerifyChoice::default().word().into(),
        ..Default::default()
    }
}

#[derive(Deserialize)]
pub struct ShowQuery {
    verbunden: Option<u8>,
}

/// „Anmeldung: …“ for the form.
fn login_method(m: Option<&MailboxRecord>) -> String {
    let Some(m) = m else { return "Passwort".into() };
    if AuthKind::of_stored(&m.auth) != AuthKind::XOAuth2 {
        return "Passwort".into();
    }
    let provider = match m.oauth.provider.as_deref() {
        Some("microsoft") => "Microsoft 365",
        Some("google") => "Google",
        _ => "OAuth2",
    };
    match m.oauth.expires_ms {
        Some(t) => format!(
            "{provider} (OAuth2) – Zugriffstoken gültig bis {}; es wird vor jedem Abruf automatisch erneuert",
            crate::util::german_time(t)
        ),
        None => format!("{provider} (OAuth2)"),
    }
}

impl MailboxPage {
    /// The page for `f`, with nothing to report yet.
    fn new(user: &CurrentUser, existing: Option<&MailboxRecord>, f: MailboxForm) -> MailboxPage {
        MailboxPage {
            nav: Nav::new(user, "optionen"),
            f,
            errors: FieldErrors::default(),
            password_set: existing.is_some_and(|m| m.secret.is_some()),
            message: None,
            test_ok: None,
            test_error: None,
            dry_run: Vec::new(),
            login_method: login_method(existing),
            connected: false,
            verify_modes: verify_modes(),
        }
    }

    fn html(&self) -> Result<Html<String>, WebError> {
        Ok(Html(self.render()?))
    }
}

pub async fn show(
    State(state): State<WebState>,
    user: CurrentUser,
    axum::extract::Query(q): axum::extract::Query<ShowQuery>,
) -> Result<Html<String>, WebError> {
    user.require(Permission::ManageMailImport)?;
    let existing = state.store.mailbox(NAME).await.ok();
    let f = existing.as_ref().map(form_of).unwrap_or_else(empty_form);
    MailboxPage { connected: q.verbunden == Some(1), ..MailboxPage::new(&user, existing.as_ref(), f) }.html()
}

/// Saves the settings (the same validator as `mailbox set`), then tests the connection or runs a
/// „Probelauf“ if that button was pressed.
pub async fn save(
    State(state): State<WebState>,
    user: CurrentUser,
    axum::Form(f): axum::Form<MailboxForm>,
) -> Result<Html<String>, WebError> {
    user.require(Permission::ManageMailImport)?;
    user.check_csrf(&f.csrf)?;
    let existing = state.store.mailbox(NAME).await.ok();
    let record = match checked(&state, &f, existing.as_ref()) {
        Ok(record) => record,
        Err(errors) => return MailboxPage { errors, ..MailboxPage::new(&user, existing.as_ref(), f) }.html(),
    };
    let mut record = record;
    if !f.password.is_empty() {
        record.secret = Some(state.hooks.seal_password(&record, &f.password).map_err(WebError::Internal)?);
    }
    // OAuth tokens are dropped by the store when the endpoint changes; the account is connected again.
    let oauth_dropped = existing.as_ref().is_some_and(|m| {
        m.endpoint() != record.endpoint()
            && AuthKind::of_stored(&m.auth) == AuthKind::XOAuth2
            && m.oauth.refresh.is_some()
    });
    let saved = state.store.save_mailbox_by(&record, now_ms(), &user.actor()).await?;
    state.store.audit(now_ms(), &user.actor(), "save_mailbox", NAME).await?;
    let mut page = MailboxPage::new(&user, existing.as_ref(), form_of(&saved));
    page.password_set = saved.secret.is_some();
    page.message = Some(
        if oauth_dropped {
            "Gespeichert. Weil sich die Verbindung geändert hat, ist das Konto nicht mehr verbunden: Bitte „Konto \
             verbinden“ erneut."
        } else {
            "Gespeichert."
        }
        .into(),
    );
    match f.action.as_str() {
        "dryrun" => match state.hooks.dry_run(NAME.into()).await {
            Ok(lines) => page.dry_run = lines,
            Err(e) => page.test_error = Some(format!("Probelauf nicht möglich: {e}")),
        },
        "test" => match state.hooks.test_mailbox(NAME.into()).await {
            Ok(1) => page.test_ok = Some("Verbindung erfolgreich: 1 E-Mail wartet im Postfach.".into()),
            Ok(n) => page.test_ok = Some(format!("Verbindung erfolgreich: {n} E-Mails warten im Postfach.")),
            Err(e) => page.test_error = Some(format!("Verbindung fehlgeschlagen: {e}")),
        },
        _ => {}
    }
    page.html()
}

/// The record to save, or the form's errors: the shared validator with the web's path rule, then
/// the endpoint rule (engineering rule 9): changing server, port, encryption, protocol or user name
/// of a password login needs the password again.
fn checked(state: &WebState, f: &MailboxForm, existing: Option<&MailboxRecord>) -> Result<MailboxRecord, FieldErrors> {
    let password_set = existing.is_some_and(|m| m.secret.is_some());
    let paths = FormPaths {
        rules: &state.paths,
        stored_maildir: existing.and_then(|m| m.maildir_path.as_deref()),
        stored_ca_file: existing.and_then(|m| m.ca_file.as_deref()),
    };
    let s = validate(&f.input(password_set), &paths).map_err(FieldErrors)?;
    let record = MailboxRecord {
        storm_max: existing.map_or(30, |m| m.storm_max),
        storm_minutes: existing.map_or(10, |m| m.storm_minutes),
        enabled: true,
        ..MailboxRecord::from_settings(NAME, &s, Policy::from(s.verify.clone()).to_storage())
    };
    let moved = existing.is_some_and(|m| m.endpoint() != record.endpoint());
    let password_login = existing.is_some_and(|m| AuthKind::of_stored(&m.auth) == AuthKind::Password);
    if moved && password_set && password_login && f.password.is_empty() {
        return Err(FieldErrors(vec![SettingsError::new(Field::Password, Problem::PasswordForNewEndpoint)]));
    }
    Ok(record)
}
