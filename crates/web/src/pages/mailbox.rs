//! Optionen › Allgemeine Einstellungen › Register „E-Mail“ › „Einstellungen für den E-Mail Empfang“.
//! The password is write-only: it is never sent back to the browser.

use askama::Template;
use axum::extract::State;
use axum::response::Html;
use postkorb_core::Permission;
use postkorb_store::MailboxRecord;
use postkorb_verify::Policy;
use serde::Deserialize;

use super::Nav;
use crate::WebState;
use crate::auth::CurrentUser;
use crate::error::WebError;
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

#[derive(Default)]
pub struct FieldErrors {
    pub host: Option<String>,
    pub port: Option<String>,
    pub username: Option<String>,
    pub password: Option<String>,
    pub maildir_path: Option<String>,
    pub poll_secs: Option<String>,
    pub authserv_ids: Option<String>,
    pub since: Option<String>,
    pub ca_file: Option<String>,
}

impl FieldErrors {
    fn any(&self) -> bool {
        self.host.is_some()
            || self.port.is_some()
            || self.username.is_some()
            || self.password.is_some()
            || self.maildir_path.is_some()
            || self.poll_secs.is_some()
            || self.authserv_ids.is_some()
            || self.since.is_some()
            || self.ca_file.is_some()
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
    [
        ("dkim", Policy::DkimAligned { relaxed: true }),
        ("dkim-strict", Policy::DkimAligned { relaxed: false }),
        ("auth-results", Policy::AuthResults { authserv_ids: vec![] }),
        ("off", Policy::Off),
    ]
    .into_iter()
    .map(|(v, p)| (v, p.german_label(), p.german_explanation()))
    .collect()
}

/// The stored policy as the form's two fields.
fn verify_fields(stored: &str) -> (String, String) {
    let policy =
        if stored.trim().is_empty() { Policy::default() } else { Policy::from_storage(stored).unwrap_or_default() };
    match policy {
        Policy::Off => ("off".into(), String::new()),
        Policy::DkimAligned { relaxed: true } => ("dkim".into(), String::new()),
        Policy::DkimAligned { relaxed: false } => ("dkim-strict".into(), String::new()),
        Policy::AuthResults { authserv_ids } => ("auth-results".into(), authserv_ids.join(", ")),
    }
}

fn form_of(m: &MailboxRecord) -> MailboxForm {
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
        verify: verify_fields(&m.verify_policy).0,
        authserv_ids: verify_fields(&m.verify_policy).1,
        ..Default::default()
    }
}

fn empty_form() -> MailboxForm {
    MailboxForm {
        protocol: "imap".into(),
        tls: "implicit".into(),
        folder: "INBOX".into(),
        disposal: "move".into(),
        target_folder: "Postkorb/Importiert".into(),
        poll_secs: "60".into(),
        verify: "dkim".into(),
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
    if m.auth != "xoauth2" {
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

pub async fn show(
    State(state): State<WebState>,
    user: CurrentUser,
    axum::extract::Query(q): axum::extract::Query<ShowQuery>,
) -> Result<Html<String>, WebError> {
    user.require(Permission::ManageMailImport)?;
    let existing = state.store.mailbox(NAME).await.ok();
    let page = MailboxPage {
        nav: Nav::new(&user, "optionen"),
        f: existing.as_ref().map(form_of).unwrap_or_else(empty_form),
        errors: FieldErrors::default(),
        password_set: existing.as_ref().is_some_and(|m| m.secret.is_some()),
        message: None,
        test_ok: None,
        test_error: None,
        dry_run: Vec::new(),
        login_method: login_method(existing.as_ref()),
        connected: q.verbunden == Some(1),
        verify_modes: verify_modes(),
    };
    Ok(Html(page.render()?))
}

pub async fn save(
    State(state): State<WebState>,
    user: CurrentUser,
    axum::Form(f): axum::Form<MailboxForm>,
) -> Result<Html<String>, WebError> {
    user.require(Permission::ManageMailImport)?;
    user.check_csrf(&f.csrf)?;
    let wants_test = f.action == "test";
    let wants_dry_run = f.action == "dryrun";
    let existing = state.store.mailbox(NAME).await.ok();
    let password_set = existing.as_ref().is_some_and(|m| m.secret.is_some());
    let mut errors = FieldErrors::default();
    let is_maildir = f.protocol == "maildir";
    if !matches!(f.protocol.as_str(), "imap" | "pop3" | "maildir")
        || !matches!(f.tls.as_str(), "implicit" | "starttls" | "none")
    {
        return Err(WebError::BadRequest("Unbekanntes Protokoll oder unbekannte Verschlüsselung.".into()));
    }
    if !is_maildir && f.host.trim().is_empty() {
        errors.host = Some("Bitte geben Sie den Server an (z. B. imap.ihr-anbieter.de).".into());
    }
    if !is_maildir && f.host.trim().contains(char::is_whitespace) {
        errors.host = Some("Der Servername darf keine Leerzeichen enthalten.".into());
    }
    let default_port = match (f.protocol.as_str(), f.tls.as_str()) {
        ("imap", "implicit") => 993,
        ("imap", _) => 143,
        ("pop3", "implicit") => 995,
        ("pop3", _) => 110,
        _ => 0,
    };
    let port = if f.port.trim().is_empty() {
        default_port
    } else {
        match f.port.trim().parse::<u16>() {
            Ok(p) if p > 0 => p,
            _ => {
                errors.port = Some("Der Port muss eine Zahl zwischen 1 und 65535 sein.".into());
                0
            }
        }
    };
    if !is_maildir && f.username.trim().is_empty() {
        errors.username = Some("Bitte geben Sie den Benutzernamen an – die eigene E-Mail-Adresse für Postkorb.".into());
    }
    if !is_maildir && f.password.is_empty() && !password_set {
        errors.password = Some("Bitte geben Sie das Passwort des Postfachs an.".into());
    }
    let maildir_path = if !is_maildir {
        None
    } else if f.maildir_path.trim().is_empty() {
        errors.maildir_path = Some("Bitte geben Sie das Maildir-Verzeichnis an.".into());
        None
    } else {
        let stored = existing.as_ref().and_then(|m| m.maildir_path.clone());
        allowed_path(&f.maildir_path, stored, state.paths.maildir_root.as_deref(), true, &mut errors.maildir_path)
    };
    let poll_secs = match f.poll_secs.trim().parse::<i64>() {
        Ok(s) if (1..=86_400).contains(&s) => s,
        _ => {
            errors.poll_secs = Some("Das Abrufintervall muss zwischen 1 und 86400 Sekunden liegen.".into());
            60
        }
    };
    let ids: Vec<String> =
        f.authserv_ids.split([',', ' ']).map(str::trim).filter(|s| !s.is_empty()).map(str::to_string).collect();
    let policy = match f.verify.as_str() {
        "off" => Policy::Off,
        "dkim-strict" => Policy::DkimAligned { relaxed: false },
        "auth-results" => {
            if ids.is_empty() {
                errors.authserv_ids = Some(
                    "Bitte tragen Sie die Kennung (authserv-id) Ihres Mailservers ein, z. B. mx.ihr-anbieter.de."
                        .into(),
                );
            }
            Policy::AuthResults { authserv_ids: ids }
        }
        _ => Policy::DkimAligned { relaxed: true },
    };
    let since_ms = if f.since.trim().is_empty() {
        0
    } else {
        match postkorb_core::time::parse_iso_date(f.since.trim()) {
            Some(ms) => ms,
            None => {
                errors.since = Some(
                    "Bitte geben Sie das Datum als JJJJ-MM-TT an (z. B. 2026-01-01) oder lassen Sie das Feld leer."
                        .into(),
                );
                0
            }
        }
    };
    let ca_file = if f.ca_file.trim().is_empty() {
        None
    } else {
        let stored = existing.as_ref().and_then(|m| m.ca_file.clone());
        allowed_path(&f.ca_file, stored, state.paths.ca_dir.as_deref(), false, &mut errors.ca_file)
    };
    let render = |f: MailboxForm,
                  errors: FieldErrors,
                  password_set: bool,
                  message: Option<String>,
                  ok: Option<String>,
                  err: Option<String>,
                  dry_run: Vec<String>| {
        MailboxPage {
            nav: Nav::new(&user, "optionen"),
            f,
            errors,
            password_set,
            message,
            test_ok: ok,
            test_error: err,
            dry_run,
            login_method: login_method(existing.as_ref()),
            connected: false,
            verify_modes: verify_modes(),
        }
        .render()
        .map(Html)
        .map_err(WebError::from)
    };
    let mut record = MailboxRecord {
        name: NAME.into(),
        protocol: f.protocol.clone(),
        host: f.host.trim().to_string(),
        port: i64::from(port),
        tls: f.tls.clone(),
        username: f.username.trim().to_string(),
        secret: None,
        folder: if f.folder.trim().is_empty() { "INBOX".into() } else { f.folder.trim().to_string() },
        disposal: if f.protocol == "pop3" || f.disposal == "delete" { "delete".into() } else { "move".into() },
        target_folder: if f.target_folder.trim().is_empty() {
            "Postkorb/Importiert".into()
        } else {
            f.target_folder.trim().to_string()
        },
        maildir_path,
        poll_secs,
        verify_policy: policy.to_storage(),
        import_since_ms: since_ms,
        ca_file,
        storm_max: existing.as_ref().map(|m| m.storm_max).unwrap_or(30),
        storm_minutes: existing.as_ref().map(|m| m.storm_minutes).unwrap_or(10),
        enabled: true,
        ..Default::default()
    };
    // A stored secret belongs to the endpoint it was entered for (engineering rule 9): changing the
    // server, port, encryption, protocol or user name needs the password again. OAuth tokens are
    // dropped by the store; the account is then connected again.
    let moved = existing.as_ref().is_some_and(|m| m.endpoint() != record.endpoint());
    let oauth_dropped = moved && existing.as_ref().is_some_and(|m| m.auth == "xoauth2" && m.oauth.refresh.is_some());
    if moved && password_set && f.password.is_empty() && existing.as_ref().is_some_and(|m| m.auth != "xoauth2") {
        errors.password = Some(
            "Sie haben Server, Port, Verschlüsselung, Protokoll oder Benutzernamen geändert: Bitte geben Sie das \
             Passwort erneut ein. Ein gespeichertes Passwort wird nur an den Server geschickt, für den es \
             eingegeben wurde."
                .into(),
        );
    }
    if errors.any() {
        return render(f, errors, password_set, None, None, None, Vec::new());
    }
    if !f.password.is_empty() {
        record.secret = Some(state.hooks.seal_password(&record, &f.password).map_err(WebError::Internal)?);
    }
    let saved = state.store.save_mailbox_by(&record, now_ms(), &user.actor()).await?;
    state.store.audit(now_ms(), &user.actor(), "save_mailbox", NAME).await?;
    let mut dry_run = Vec::new();
    let (ok, err) = if wants_dry_run {
        match state.hooks.dry_run(NAME.into()).await {
            Ok(lines) => {
                dry_run = lines;
                (None, None)
            }
            Err(e) => (None, Some(format!("Probelauf nicht möglich: {e}"))),
        }
    } else if wants_test {
        match state.hooks.test_mailbox(NAME.into()).await {
            Ok(1) => (Some("Verbindung erfolgreich: 1 E-Mail wartet im Postfach.".to_string()), None),
            Ok(n) => (Some(format!("Verbindung erfolgreich: {n} E-Mails warten im Postfach.")), None),
            Err(e) => (None, Some(format!("Verbindung fehlgeschlagen: {e}"))),
        }
    } else {
        (None, None)
    };
    let saved_note = if oauth_dropped {
        "Gespeichert. Weil sich die Verbindung geändert hat, ist das Konto nicht mehr verbunden: Bitte „Konto \
         verbinden“ erneut."
    } else {
        "Gespeichert."
    };
    render(form_of(&saved), FieldErrors::default(), saved.secret.is_some(), Some(saved_note.into()), ok, err, dry_run)
}

/// A path from the form: the stored one unchanged, or one below `root` (see `crate::paths`).
fn allowed_path(
    input: &str,
    stored: Option<String>,
    root: Option<&std::path::Path>,
    want_dir: bool,
    error: &mut Option<String>,
) -> Option<String> {
    if stored.as_deref() == Some(input.trim()) {
        return stored;
    }
    let (the, what) = if want_dir { ("Das", "Maildir-Verzeichnis") } else { ("Die", "Zertifikatsdatei") };
    let shown_root = root.map(|r| r.display().to_string()).unwrap_or_default();
    match crate::paths::below(root, input, want_dir) {
        Ok(p) => Some(p.display().to_string()),
        Err(crate::paths::PathRefusal::NoRoot) => {
            *error = Some(if want_dir {
                "Ein Maildir-Verzeichnis auf dem Server kann nur der Betreiber einrichten (postkorb mailbox set \
                 --protocol maildir) oder dafür ein Verzeichnis freigeben (maildir_root)."
                    .into()
            } else {
                "Eine eigene Zertifizierungsstelle kann nur der Betreiber einrichten (postkorb mailbox set --ca-file) \
                 oder dafür ein Verzeichnis freigeben (ca_dir)."
                    .into()
            });
            None
        }
        Err(crate::paths::PathRefusal::Outside) => {
            *error = Some(format!("{the} {what} muss im freigegebenen Verzeichnis {shown_root} liegen."));
            None
        }
        Err(crate::paths::PathRefusal::Missing) => {
            *error = Some(format!(
                "Im Verzeichnis {shown_root} gibt es {} {what} nicht.",
                if want_dir { "dieses" } else { "diese" }
            ));
            None
        }
    }
}
