//! Protokoll: per mailbox the last successful fetch, the last error, and the counts; „Änderungen“,
//! the audit log in German with names (who did what to whom), filterable by kind, person and date,
//! paginated. Rows from before entries were typed show a German sentence for their action word and
//! their old text behind „Details“.

use askama::Template;
use axum::extract::{Query, State};
use axum::response::Html;
use postkorb_core::mailbox::AuthKind;
use postkorb_core::time::{parse_berlin_day, parse_berlin_day_end};
use postkorb_core::{Employee, Permission, audit};
use postkorb_store::{AuditFilter, AuditRow};
use serde::Deserialize;

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

/// One line of „Änderungen“.
pub struct ChangeRow {
    pub when: String,
    /// „Anna Admin hat die Zuordnung Von … → An … angelegt“.
    pub sentence: String,
    /// The old free text of a row from before entries were typed (behind „Details“).
    pub old_detail: Option<String>,
}

/// The filter of „Änderungen“ as the form sends it (all optional; dates `JJJJ-MM-TT`).
#[derive(Debug, Default, Deserialize)]
pub struct ChangesQuery {
    #[serde(default)]
    pub(crate) art: String,
    #[serde(default)]
    pub(crate) wer: String,
    #[serde(default)]
    pub(crate) von: String,
    #[serde(default)]
    pub(crate) bis: String,
    #[serde(default)]
    seite: Option<i64>,
}

const PAGE: i64 = 50;

#[derive(Template)]
#[template(path = "protokoll.html")]
struct Page {
    nav: Nav,
    mailboxes: Vec<MailboxRow>,
    changes: Vec<ChangeRow>,
    /// (action word, German name, selected)
    kinds: Vec<(String, String, bool)>,
    /// (actor, name, selected)
    actors: Vec<(String, String, bool)>,
    von: String,
    bis: String,
    /// A wrong date in the filter, in German.
    filter_error: Option<String>,
    total: i64,
    page: i64,
    pages: i64,
    /// The filter as query string (without `seite`), for the pager's links.
    query: String,
}

/// The name of who did it: the employee with that login, the command line, or Postkorb itself.
pub fn actor_name(actor: &str, employees: &[Employee]) -> String {
    match actor {
        "cli" => "Die Kommandozeile".into(),
        "postkorb" => "Postkorb (bei der Aktualisierung)".into(),
        _ if actor.starts_with("api:") => format!("{} (über die Schnittstelle)", actor_name(&actor[4..], employees)),
        _ => employees
            .iter()
            .find(|e| e.username.as_deref() == Some(actor))
            .or_else(|| employees.iter().find(|e| e.name == actor))
            .map(|e| e.name.clone())
            .unwrap_or_else(|| actor.to_string()),
    }
}

/// One audit row as a German sentence with names.
pub fn change_row(r: &AuditRow, employees: &[Employee]) -> ChangeRow {
    let who = actor_name(&r.actor, employees);
    let (what, old_detail) = match &r.entry {
        Some(entry) => (entry.german(), None),
        None => audit::untyped_german(&r.action, &r.detail),
    };
    ChangeRow { when: german_time(r.at_ms), sentence: format!("{who} {what}"), old_detail }
}

/// The filter of „Änderungen“ (page, CSV and `GET /api/v1/audit`): kind, actor, and the office
/// days `von` to `bis` (`JJJJ-MM-TT`, both included, Europe/Berlin); empty means „alle“. A wrong
/// date gives the German message.
pub fn audit_filter(art: &str, wer: &str, von: &str, bis: &str) -> Result<AuditFilter, String> {
    let day = |s: &str, parse: fn(&str) -> Option<i64>| match s.trim() {
        "" => Ok(None),
        s => parse(s)
            .map(Some)
            .ok_or_else(|| "Bitte geben Sie die Daten als Datum an (zum Beispiel 2026-03-31).".to_string()),
    };
    Ok(AuditFilter {
        action: (!art.is_empty()).then(|| art.to_string()),
        actor: (!wer.is_empty()).then(|| wer.to_string()),
        from_ms: day(von, parse_berlin_day)?,
        to_ms: day(bis, parse_berlin_day_end)?,
    })
}

pub(crate) fn query_string(q: &ChangesQuery) -> String {
    let enc = |s: &str| {
        s.bytes()
            .map(|b| match b {
                b'A'..=b'Z' | b'a'..=b'z' | b'0'..=b'9' | b'-' | b'_' | b'.' => (b as char).to_string(),
                _ => format!("%{b:02X}"),
            })
            .collect::<String>()
    };
    format!("art={}&wer={}&von={}&bis={}", enc(&q.art), enc(&q.wer), enc(&q.von), enc(&q.bis))
}

pub async fn show(
    State(state): State<WebState>,
    user: CurrentUser,
    Query(q): Query<ChangesQuery>,
) -> Result<Html<String>, WebError> {
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
                (AuthKind::App, Some(t)) => {
                    format!("Anwendungszugriff, Token bis {} (wird automatisch neu geholt)", german_time(t))
                }
                (AuthKind::App, None) => "Anwendungszugriff, noch nicht verbunden".into(),
                _ => "Passwort".into(),
            },
        });
    }
    let employees = state.store.employees().await?;
    let (filter, filter_error) = match audit_filter(&q.art, &q.wer, &q.von, &q.bis) {
        Ok(f) => (f, None),
        Err(e) => (audit_filter(&q.art, &q.wer, "", "").unwrap_or_default(), Some(e)),
    };
    let (from_ms, to_ms) = (filter.from_ms, filter.to_ms);
    let page = q.seite.unwrap_or(1).max(1);
    let (rows, total) = state.store.audit_page(&filter, PAGE, (page - 1) * PAGE).await?;
    let changes = rows.iter().map(|r| change_row(r, &employees)).collect();
    let kinds = audit::KINDS.iter().map(|(code, name)| (code.to_string(), name.to_string(), q.art == *code)).collect();
    let actors = state
        .store
        .audit_actors()
        .await?
        .into_iter()
        .map(|a| {
            let name = actor_name(&a, &employees);
            let selected = q.wer == a;
            (a, name, selected)
        })
        .collect();
    let page = Page {
        nav: Nav::new(&user, "protokoll"),
        mailboxes,
        changes,
        kinds,
        actors,
        von: from_ms.map(|_| q.von.trim().to_string()).unwrap_or_default(),
        bis: to_ms.map(|_| q.bis.trim().to_string()).unwrap_or_default(),
        filter_error,
        total,
        page,
        pages: ((total + PAGE - 1) / PAGE).max(1),
        query: query_string(&q),
    };
    Ok(Html(page.render()?))
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

/// „Änderungen“ with one row per kind of entry and old untyped rows, for the no-English test.
#[cfg(test)]
pub(crate) fn sample_pages(nav: Nav) -> Vec<(String, String)> {
    let mut rows: Vec<AuditRow> = postkorb_core::AuditEntry::samples()
        .into_iter()
        .map(|e| AuditRow {
            id: 1,
            at_ms: 0,
            actor: "anna".into(),
            action: e.code().into(),
            detail: String::new(),
            entry: Some(e),
        })
        .collect();
    for (action, detail) in
        [("add_route", "6 -> 2"), ("discard_kept", "kept mail 1"), ("save_mailbox", "default"), ("what_is_this", "x")]
    {
        rows.push(AuditRow {
            id: 2,
            at_ms: 0,
            actor: "cli".into(),
            action: action.into(),
            detail: detail.into(),
            entry: None,
        });
    }
    let employees = vec![Employee {
        id: postkorb_core::EmployeeId(1),
        name: "Anna Admin".into(),
        username: Some("anna".into()),
        is_current: true,
        license: None,
        work_email: None,
        permissions: vec![],
    }];
    let page = Page {
        nav,
        mailboxes: vec![],
        changes: rows.iter().map(|r| change_row(r, &employees)).collect(),
        kinds: audit::KINDS.iter().map(|(c, n)| (c.to_string(), n.to_string(), false)).collect(),
        actors: vec![("anna".into(), "Anna Admin".into(), true)],
        von: String::new(),
        bis: String::new(),
        filter_error: Some("Bitte geben Sie die Daten als Datum an (zum Beispiel 2026-03-31).".into()),
        total: 120,
        page: 2,
        pages: 3,
        query: String::new(),
    };
    vec![("Protokoll › Änderungen".into(), page.render().unwrap())]
}
