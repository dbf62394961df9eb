//! Optionen › Allgemeine Einstellungen › Register „E-Mail“: the list of every mailbox with its health
//! (`/optionen/e-mail`), „Neues Postfach“, „Einstellungen für den E-Mail Empfang“ of one mailbox
//! (`/optionen/e-mail/{name}`), „Deaktivieren“/„Aktivieren“ and „Löschen“.
//! The password is write-only: it is never sent back to the browser. „Verbindung testen“,
//! „Probelauf“ and „Ordner anzeigen“ (the folder picker) try the settings as typed and save nothing.
//! „Microsoft 365 (Graph)“ is one more protocol: no server or password, the mailbox's address as
//! user name, connected below by „Konto verbinden“ (delegated) or „Anwendung verbinden“ (pages/oauth.rs).

use askama::Template;
use axum::extract::{Path, State};
use axum::response::{Html, IntoResponse, Redirect, Response};
use postkorb_core::Permission;
use postkorb_core::mailbox::{
    AuthKind, Disposal, Field, Problem, Protocol, SettingsError, SettingsInput, TlsMode, VerifyChoice, validate,
};
use postkorb_store::{MailboxDeleted, MailboxRecord};
use postkorb_verify::Policy;
use serde::Deserialize;

use super::Nav;
use crate::WebState;
use crate::auth::CurrentUser;
use crate::error::WebError;
use crate::mailbox_health::MailboxHealth;
use crate::paths::FormPaths;
use crate::ui::{Confirm, ConfirmForm, Notice, NoticeQuery, confirmed};
use crate::util::now_ms;
use crate::{ProblemReport, Trial};

#[derive(Deserialize, Default)]
pub struct MailboxForm {
    #[serde(default)]
    csrf: String,
    #[serde(default)]
    action: String,
    /// Only when a new mailbox is created.
    #[serde(default)]
    name: String,
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
    /// Eingangsbestätigung (a checkbox: present when on).
    #[serde(default)]
    ack_enabled: Option<String>,
    #[serde(default)]
    ack_text: String,
    #[serde(default)]
    ack_hours: String,
    #[serde(default)]
    ack_unassigned: Option<String>,
    #[serde(default)]
    ack_unassigned_text: String,
}

/// The errors of a submitted form, each shown in German next to its field.
#[derive(Default)]
pub struct FieldErrors {
    settings: Vec<SettingsError>,
    /// The new mailbox's name (not a setting of the shared validator).
    name: Option<String>,
}

impl FieldErrors {
    fn of(settings: Vec<SettingsError>) -> FieldErrors {
        FieldErrors { settings, name: None }
    }

    /// The German message for the form field `name`, if it has one.
    pub fn get(&self, name: &str) -> Option<String> {
        if name == "name" {
            return self.name.clone();
        }
        self.settings.iter().find(|e| e.field.form_name() == name).map(SettingsError::german)
    }
}

#[derive(Template)]
#[template(path = "mailbox.html")]
struct MailboxPage {
    nav: Nav,
    /// The mailbox edited; empty for „Neues Postfach“ before it has a name.
    name: String,
    /// „Neues Postfach“: the form has a name field and posts to `/optionen/e-mail/neu`.
    is_new: bool,
    f: MailboxForm,
    errors: FieldErrors,
    password_set: bool,
    message: Option<String>,
    test_ok: Option<String>,
    /// What went wrong in a test or dry run: the German words and our own detail, if safe.
    test_error: Option<(String, Option<String>)>,
    /// The settings shown were tried, not saved (and a typed password used for this try only).
    tried: bool,
    /// Result lines of a „Probelauf“.
    dry_run: Vec<String>,
    /// The mailbox's folders after „Ordner anzeigen“ (None: not asked).
    folders: Option<Vec<String>>,
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
        ack_enabled: m.ack.enabled.then(|| "on".into()),
        ack_text: m.ack.text.clone(),
        ack_hours: m.ack.hours.to_string(),
        ack_unassigned: m.ack.unassigned.then(|| "on".into()),
        ack_unassigned_text: m.ack.unassigned_text.clone(),
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
            ack_enabled: self.ack_enabled.is_some(),
            ack_text: &self.ack_text,
            ack_hours: &self.ack_hours,
            ack_unassigned: self.ack_unassigned.is_some(),
            ack_unassigned_text: &self.ack_unassigned_text,
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
        ack_hours: postkorb_core::ack::DEFAULT_HOURS.to_string(),
        ..Default::default()
    }
}

#[derive(Deserialize)]
pub struct ShowQuery {
    verbunden: Option<u8>,
    #[serde(flatten)]
    notice: NoticeQuery,
}

/// „Anmeldung: …“ for the form.
fn login_method(m: Option<&MailboxRecord>) -> String {
    let Some(m) = m else { return "Passwort".into() };
    let kind = AuthKind::of_stored(&m.auth);
    if !kind.is_oauth() {
        return "Passwort".into();
    }
    let provider = match m.oauth.provider.as_deref() {
        Some("microsoft") => "Microsoft 365",
        Some("google") => "Google",
        _ => "OAuth2",
    };
    if kind == AuthKind::App {
        return format!("{provider} – Anwendungszugriff (Client-ID und geheimer Clientschlüssel)");
    }
    match m.oauth.expires_ms {
        Some(t) => format!(
            "{provider} (OAuth2) – Zugriffstoken gültig bis {}; es wird vor jedem Abruf automatisch erneuert",
            crate::util::german_time(t)
        ),
        None => format!("{provider} (OAuth2)"),
    }
}

/// The list of mailboxes.
pub const LIST: &str = "/optionen/e-mail";

/// The edit page of the mailbox `name`.
pub(crate) fn page_url(name: &str) -> String {
    format!("{LIST}/{}", url_segment(name))
}

/// `name` as one path segment.
fn url_segment(name: &str) -> String {
    name.bytes()
        .map(|b| {
            if b.is_ascii_alphanumeric() || b"-._".contains(&b) { (b as char).to_string() } else { format!("%{b:02X}") }
        })
        .collect()
}

/// Words under `/optionen/e-mail/` that are pages of their own, so no mailbox may be named so.
const RESERVED: [&str; 4] = ["neu", "oauth", "adressen", "versand"];

/// The German reason a new mailbox's name is refused, if it is.
fn name_problem(name: &str) -> Option<&'static str> {
    if name.is_empty() {
        return Some("Bitte geben Sie dem Postfach einen Namen.");
    }
    if name.chars().count() > 40 || !name.chars().all(|c| c.is_alphanumeric() || "-_.".contains(c)) {
        return Some(
            "Der Name darf nur Buchstaben, Ziffern, Punkt, Binde- und Unterstrich enthalten (höchstens 40 Zeichen).",
        );
    }
    if RESERVED.contains(&name) {
        return Some("Diesen Namen verwendet Postkorb selbst. Bitte wählen Sie einen anderen.");
    }
    None
}

pub struct ListRow {
    pub h: MailboxHealth,
    pub url: String,
}

#[derive(Template)]
#[template(path = "mailboxes.html")]
struct ListPage {
    nav: Nav,
    message: Option<String>,
    error: Option<String>,
    rows: Vec<ListRow>,
}

async fn render_list(
    state: &WebState,
    user: &CurrentUser,
    message: Option<String>,
    error: Option<String>,
) -> Result<Html<String>, WebError> {
    let rows =
        MailboxHealth::all(&state.store).await?.into_iter().map(|h| ListRow { url: page_url(&h.name), h }).collect();
    Ok(Html(ListPage { nav: Nav::new(user, "optionen"), message, error, rows }.render()?))
}

/// `/optionen/e-mail`: every mailbox with its health.
pub async fn list(
    State(state): State<WebState>,
    user: CurrentUser,
    axum::extract::Query(q): axum::extract::Query<NoticeQuery>,
) -> Result<Html<String>, WebError> {
    user.require(Permission::ManageMailImport)?;
    render_list(&state, &user, q.german(), None).await
}

impl MailboxPage {
    /// The page for `f`, with nothing to report yet.
    fn new(user: &CurrentUser, name: &str, existing: Option<&MailboxRecord>, f: MailboxForm) -> MailboxPage {
        MailboxPage {
            nav: Nav::new(user, "optionen"),
            name: name.to_string(),
            is_new: existing.is_none(),
            f,
            errors: FieldErrors::default(),
            password_set: existing.is_some_and(|m| m.secret.is_some()),
            message: None,
            test_ok: None,
            test_error: None,
            tried: false,
            dry_run: Vec::new(),
            folders: None,
            login_method: login_method(existing),
            connected: false,
            verify_modes: verify_modes(),
        }
    }

    fn html(&self) -> Result<Html<String>, WebError> {
        Ok(Html(self.render()?))
    }

    /// Where the form posts.
    fn action(&self) -> String {
        if self.is_new { format!("{LIST}/neu") } else { page_url(&self.name) }
    }

    fn failed(&mut self, what: &str, p: ProblemReport) {
        self.test_error = Some((format!("{what}: {}", p.german()), p.detail));
    }
}

/// „Neues Postfach“.
pub async fn new_form(user: CurrentUser) -> Result<Html<String>, WebError> {
    user.require(Permission::ManageMailImport)?;
    MailboxPage::new(&user, "", None, empty_form()).html()
}

/// `/optionen/e-mail/{name}`: the settings of one mailbox.
pub async fn show(
    State(state): State<WebState>,
    user: CurrentUser,
    Path(name): Path<String>,
    axum::extract::Query(q): axum::extract::Query<ShowQuery>,
) -> Result<Html<String>, WebError> {
    user.require(Permission::ManageMailImport)?;
    let existing = stored(&state, &name).await?.ok_or(WebError::NotFound)?;
    MailboxPage {
        connected: q.verbunden == Some(1),
        message: q.notice.german(),
        ..MailboxPage::new(&user, &name, Some(&existing), form_of(&existing))
    }
    .html()
}

/// The stored mailbox `name`, if there is one.
async fn stored(state: &WebState, name: &str) -> Result<Option<MailboxRecord>, WebError> {
    match state.store.mailbox(name).await {
        Ok(m) => Ok(Some(m)),
        Err(postkorb_store::StoreError::NotFound(_)) => Ok(None),
        Err(e) => Err(e.into()),
    }
}

/// „Neues Postfach“ submitted: the name must be free, then as [`save`].
pub async fn create(
    State(state): State<WebState>,
    user: CurrentUser,
    axum::Form(f): axum::Form<MailboxForm>,
) -> Result<Html<String>, WebError> {
    user.require(Permission::ManageMailImport)?;
    user.check_csrf(&f.csrf)?;
    let name = f.name.trim().to_string();
    let taken = !name.is_empty() && stored(&state, &name).await?.is_some();
    let problem = name_problem(&name).or(taken.then_some("Ein Postfach mit diesem Namen gibt es schon."));
    if let Some(problem) = problem {
        let mut page = MailboxPage::new(&user, "", None, f);
        page.errors.name = Some(problem.to_string());
        return page.html();
    }
    submit(&state, &user, &name, None, f).await
}

/// The form of the mailbox `name` submitted: „Speichern“ (the same validator as `mailbox set`), or
/// „Verbindung testen“ / „Probelauf“ with the settings as typed — then nothing is saved.
pub async fn save(
    State(state): State<WebState>,
    user: CurrentUser,
    Path(name): Path<String>,
    axum::Form(f): axum::Form<MailboxForm>,
) -> Result<Html<String>, WebError> {
    user.require(Permission::ManageMailImport)?;
    user.check_csrf(&f.csrf)?;
    let existing = stored(&state, &name).await?;
    if let (None, Some(problem)) = (&existing, name_problem(&name)) {
        return Err(WebError::BadRequest(problem.into()));
    }
    submit(&state, &user, &name, existing, f).await
}

async fn submit(
    state: &WebState,
    user: &CurrentUser,
    name: &str,
    existing: Option<MailboxRecord>,
    f: MailboxForm,
) -> Result<Html<String>, WebError> {
    let record = match checked(state, name, &f, existing.as_ref()) {
        Ok(record) => record,
        Err(errors) => return MailboxPage { errors, ..MailboxPage::new(user, name, existing.as_ref(), f) }.html(),
    };
    let password = Some(f.password.clone()).filter(|p| !p.is_empty());
    match f.action.as_str() {
        "test" | "dryrun" | "folders" => {
            let typed = password.is_some();
            let trial = Trial { record, password };
            let dry = f.action == "dryrun";
            let folders = f.action == "folders";
            let mut page =
                MailboxPage::new(user, name, existing.as_ref(), MailboxForm { password: String::new(), ..f });
            page.tried = true;
            page.message = Some(if typed {
                "Nicht gespeichert: Getestet wurden die eingegebenen Einstellungen; das eingegebene Passwort galt nur \
                 für diesen Test."
            } else {
                "Nicht gespeichert: Getestet wurden die eingegebenen Einstellungen."
            }
            .into());
            if folders {
                match state.hooks.folders(trial).await {
                    Ok(folders) => page.folders = Some(folders),
                    Err(p) => page.failed("Ordner nicht abrufbar", p),
                }
            } else if dry {
                match state.hooks.dry_run(trial).await {
                    Ok(lines) => page.dry_run = lines,
                    Err(p) => page.failed("Probelauf nicht möglich", p),
                }
            } else {
                match state.hooks.test_mailbox(trial).await {
                    Ok(1) => page.test_ok = Some("Verbindung erfolgreich: 1 E-Mail wartet im Postfach.".into()),
                    Ok(n) => page.test_ok = Some(format!("Verbindung erfolgreich: {n} E-Mails warten im Postfach.")),
                    Err(p) => page.failed("Verbindung fehlgeschlagen", p),
                }
            }
            page.html()
        }
        _ => {
            let mut record = record;
            if let Some(password) = &password {
                record.secret = Some(state.hooks.seal_password(&record, password).map_err(WebError::Internal)?);
            }
            // OAuth tokens are dropped by the store when the endpoint changes; the account is connected again.
            let oauth_dropped = existing.as_ref().is_some_and(|m| {
                m.endpoint() != record.endpoint()
                    && AuthKind::of_stored(&m.auth).is_oauth()
                    && (m.oauth.refresh.is_some() || m.oauth.access.is_some())
            });
            let saved = state.store.save_mailbox_by(&record, now_ms(), &user.actor()).await?;
            state.store.audit(now_ms(), &user.actor(), "save_mailbox", name).await?;
            let mut page = MailboxPage::new(user, name, Some(&saved), form_of(&saved));
            page.message = Some(
                if oauth_dropped {
                    "Gespeichert. Weil sich die Verbindung geändert hat, ist das Konto nicht mehr verbunden: Bitte \
                     „Konto verbinden“ erneut."
                } else if saved.protocol == Protocol::Graph.code() && saved.oauth.access.is_none() {
                    "Gespeichert. Verbinden Sie jetzt unten das Postfach: „Konto verbinden“ (Anmeldung einer Person) \
                     oder „Anwendung verbinden“ (ohne Anmeldung einer Person)."
                } else {
                    "Gespeichert."
                }
                .into(),
            );
            page.html()
        }
    }
}

/// The record to save or try, or the form's errors: the shared validator with the web's path rule,
/// then the endpoint rule (engineering rule 9): changing server, port, encryption, protocol or user
/// name of a password login needs the password again.
fn checked(
    state: &WebState,
    name: &str,
    f: &MailboxForm,
    existing: Option<&MailboxRecord>,
) -> Result<MailboxRecord, FieldErrors> {
    let password_set = existing.is_some_and(|m| m.secret.is_some());
    let paths = FormPaths {
        rules: &state.paths,
        stored_maildir: existing.and_then(|m| m.maildir_path.as_deref()),
        stored_ca_file: existing.and_then(|m| m.ca_file.as_deref()),
    };
    let s = validate(&f.input(password_set), &paths).map_err(FieldErrors::of)?;
    let record = MailboxRecord {
        storm_max: existing.map_or(30, |m| m.storm_max),
        storm_minutes: existing.map_or(10, |m| m.storm_minutes),
        enabled: existing.is_none_or(|m| m.enabled),
        ..MailboxRecord::from_settings(name, &s, Policy::from(s.verify.clone()).to_storage())
    };
    let moved = existing.is_some_and(|m| m.endpoint() != record.endpoint());
    let password_login = existing.is_some_and(|m| AuthKind::of_stored(&m.auth) == AuthKind::Password);
    if moved && password_set && password_login && f.password.is_empty() {
        return Err(FieldErrors::of(vec![SettingsError::new(Field::Password, Problem::PasswordForNewEndpoint)]));
    }
    Ok(record)
}

/// „Deaktivieren“: `serve` and `fetch` leave the mailbox alone until „Aktivieren“.
pub async fn disable(
    State(state): State<WebState>,
    user: CurrentUser,
    Path(name): Path<String>,
    axum::Form(f): axum::Form<ConfirmForm>,
) -> Result<Response, WebError> {
    switch(&state, &user, &name, &f, false).await
}

/// „Aktivieren“.
pub async fn enable(
    State(state): State<WebState>,
    user: CurrentUser,
    Path(name): Path<String>,
    axum::Form(f): axum::Form<ConfirmForm>,
) -> Result<Response, WebError> {
    switch(&state, &user, &name, &f, true).await
}

async fn switch(
    state: &WebState,
    user: &CurrentUser,
    name: &str,
    f: &ConfirmForm,
    on: bool,
) -> Result<Response, WebError> {
    user.require(Permission::ManageMailImport)?;
    user.check_csrf(&f.csrf)?;
    if !state.store.set_mailbox_enabled(name, on).await? {
        return Err(WebError::NotFound);
    }
    let action = if on { "enable_mailbox" } else { "disable_mailbox" };
    state.store.audit(now_ms(), &user.actor(), action, name).await?;
    let notice = if on { Notice::MailboxEnabled } else { Notice::MailboxDisabled };
    Ok(Redirect::to(&notice.url(LIST, None)).into_response())
}

/// „Löschen“, after the confirmation step. The Vorgänge, kept mails and the ledger stay; refused
/// while an instance fetches the mailbox (its fetch lease).
pub async fn delete(
    State(state): State<WebState>,
    user: CurrentUser,
    Path(name): Path<String>,
    axum::Form(f): axum::Form<ConfirmForm>,
) -> Result<Response, WebError> {
    user.require(Permission::ManageMailImport)?;
    user.check_csrf(&f.csrf)?;
    let m = stored(&state, &name).await?.ok_or(WebError::NotFound)?;
    if !confirmed(&f.bestaetigt) {
        let (cases, kept, _) = state.store.mailbox_counts(m.id).await?;
        return Ok(Confirm {
            nav: Nav::new(&user, "optionen"),
            title: "Postfach löschen?".into(),
            question: format!("Das Postfach „{name}“ wird gelöscht; Postkorb ruft es nicht mehr ab."),
            details: vec![
                format!("Die {cases} eingelesenen Vorgänge und {kept} nicht zugeordneten E-Mails bleiben erhalten."),
                "Die gespeicherten Zugangsdaten (Passwort, Anmeldung beim Anbieter) werden entfernt.".into(),
                "Die E-Mails auf dem Server bleiben, wie sie sind.".into(),
            ],
            action: format!("{}/loeschen", page_url(&name)),
            fields: Vec::new(),
            button: "Ja, Postfach löschen".into(),
            back: LIST.into(),
        }
        .html()?
        .into_response());
    }
    match state.store.delete_mailbox(&name, now_ms()).await? {
        MailboxDeleted::Deleted => {
            state.store.audit(now_ms(), &user.actor(), "delete_mailbox", &name).await?;
            Ok(Redirect::to(&Notice::MailboxDeleted.url(LIST, None)).into_response())
        }
        MailboxDeleted::NotFound => Err(WebError::NotFound),
        MailboxDeleted::Busy => {
            let why = format!(
                "Das Postfach „{name}“ wird gerade abgerufen und kann deshalb nicht gelöscht werden. Bitte \
                 deaktivieren Sie es zuerst und versuchen Sie es in einer Minute erneut."
            );
            Ok((axum::http::StatusCode::CONFLICT, render_list(&state, &user, None, Some(why)).await?).into_response())
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_graph_form_with_its_help_folder_list_and_application_access_is_plain_german() {
        let nav = Nav {
            name: "Anna Admin".into(),
            csrf: "t0k3n".into(),
            can_import: true,
            can_employees: true,
            can_privacy: true,
            active: "optionen",
        };
        let mut m = MailboxRecord {
            name: "vorgaenge".into(),
            protocol: "graph".into(),
            host: "graph.microsoft.com".into(),
            port: 443,
            tls: "implicit".into(),
            username: "vorgaenge@buero.de".into(),
            auth: AuthKind::App.code().into(),
            ..Default::default()
        };
        m.oauth.provider = Some("microsoft".into());
        let page = MailboxPage {
            errors: FieldErrors::of(vec![
                SettingsError::new(Field::Host, Problem::GraphHost),
                SettingsError::new(Field::Username, Problem::GraphAddress),
            ]),
            tried: true,
            folders: Some(vec!["Inbox".into(), "Inbox/Vorgänge".into(), "<b>Fremd</b>".into()]),
            connected: true,
            ..MailboxPage::new_for_test(nav, &m)
        };
        let html = page.render().unwrap();
        // The Eingangsbestätigung's placeholders ({betreff}) are words to type, not Debug output.
        let (before, rest) = html.split_once("<fieldset id=\"ack\">").unwrap();
        let after = &rest[rest.find("</fieldset>").unwrap()..];
        crate::german::assert_german(&format!("{before}{after}"), "Postfach „Microsoft 365 (Graph)“");
        for id in ["graph-hinweis", "graph-berechtigungen", "app-form", "folder-list", "folder-choices", "folders"] {
            assert!(html.contains(&format!("id=\"{id}\"")), "{id} missing");
        }
        assert!(html.contains("Mail.ReadWrite.Shared") && html.contains("New-ApplicationAccessPolicy"));
        assert!(html.contains("value=\"graph\" selected"));
        assert!(html.contains("Anwendungszugriff (Client-ID und geheimer Clientschlüssel)"), "the login method");
        assert!(!html.contains("<b>Fremd</b>"), "a folder name from the server is escaped");
        // An IMAP mailbox gets no application access form.
        let imap = MailboxRecord { protocol: "imap".into(), ..m };
        let nav = Nav { active: "optionen", ..page.nav };
        assert!(!MailboxPage::new_for_test(nav, &imap).render().unwrap().contains("id=\"app-form\""));
    }

    impl MailboxPage {
        /// The edit page of `m` as `nav`'s user sees it (no request needed).
        fn new_for_test(nav: Nav, m: &MailboxRecord) -> MailboxPage {
            MailboxPage {
                nav,
                name: m.name.clone(),
                is_new: false,
                f: form_of(m),
                errors: FieldErrors::default(),
                password_set: false,
                message: None,
                test_ok: None,
                test_error: None,
                tried: false,
                dry_run: Vec::new(),
                folders: None,
                login_method: login_method(Some(m)),
                connected: false,
                verify_modes: verify_modes(),
            }
        }
    }
}
