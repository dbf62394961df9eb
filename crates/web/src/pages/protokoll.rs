//! Protokoll: per mailbox the last successful fetch, the last error, and the counts; the audit log.

use askama::Template;
use axum::extract::State;
use axum::response::Html;
use postkorb_core::Permission;
use postkorb_core::mailbox::AuthKind;

use super::Nav;
use crate::WebState;
use crate::auth::CurrentUser;
use crate::error::WebError;
use crate::util::german_time;

pub struct MailboxRow {
    pub name: String,
    pub last_success: String,
    pub last_error: String,
    pub has_error: bool,
    pub cases: i64,
    pub kept: i64,
    pub duplicates: i64,
    pub waiting: String,
    pub login: String,
}

#[derive(Template)]
#[template(path = "protokoll.html")]
struct Page {
    nav: Nav,
    mailboxes: Vec<MailboxRow>,
    audit: Vec<String>,
}

pub async fn show(State(state): State<WebState>, user: CurrentUser) -> Result<Html<String>, WebError> {
    user.require(Permission::ManageMailImport)?;
    let mut mailboxes = Vec::new();
    for m in state.store.mailboxes().await? {
        let (cases, kept, duplicates) = state.store.mailbox_counts(m.id).await?;
        let error_is_current = m.last_error.is_some();
        mailboxes.push(MailboxRow {
            name: m.name.clone(),
            last_success: m.last_success_ms.map(german_time).unwrap_or_else(|| "noch nie".into()),
            last_error: match (&m.last_error, m.last_error_ms) {
                (Some(e), Some(t)) => format!("{} – {}", german_time(t), german_error(e)),
                (Some(e), None) => german_error(e),
                _ => "keiner".into(),
            },
            has_error: error_is_current,
            cases,
            kept,
            duplicates,
            waiting: m.waiting_on_server.map(|w| w.to_string()).unwrap_or_else(|| "–".into()),
            login: match (AuthKind::of_stored(&m.auth), m.oauth.expires_ms) {
                (AuthKind::XOAuth2, Some(t)) => {
                    format!("OAuth2, Token bis {} (wird automatisch erneuert)", german_time(t))
                }
                (AuthKind::XOAuth2, None) => "OAuth2, noch nicht verbunden".into(),
                _ => "Passwort".into(),
            },
        });
    }
    let audit = state
        .store
        .audit_log(50)
        .await?
        .into_iter()
        .map(|(at, actor, action, detail)| format!("{} – {actor}: {action} {detail}", german_time(at)))
        .collect();
    Ok(Html(Page { nav: Nav::new(&user, "protokoll"), mailboxes, audit }.render()?))
}

/// The importer records English errors; the office reads German — classified, without the rest of
/// the line, which may quote a foreign server's words.
fn german_error(e: &str) -> String {
    let known = [
        ("login failed", "Anmeldung fehlgeschlagen: Benutzername oder Passwort falsch"),
        ("server not reachable", "Der Server hat die Verbindung abgelehnt"),
        ("server not found", "Der Server ist unter diesem Namen nicht zu finden"),
        ("connection refused", "Der Server nimmt auf diesem Port keine Verbindung an"),
        ("no answer", "Der Server antwortet nicht"),
        ("refused by the network policy", "Verbindungen ins eigene Netz sind gesperrt (allow_private_hosts)"),
        ("TLS failed", "Zertifikat nicht vertrauenswürdig oder TLS fehlgeschlagen"),
        ("folder missing", "Ordner fehlt"),
        ("protocol error", "Der Server hat unerwartet geantwortet"),
    ];
    for (en, de) in known {
        if e.starts_with(en) {
            return de.to_string();
        }
    }
    e.to_string()
}
