//! „Auskunft und Löschen auf Antrag“ (issue 18, Art. 15/17/20 DSGVO), only for „Datenschutz
//! verwalten“: type an address or a name (`/optionen/datenschutz/auskunft?person=…`), see every
//! match and where it was found, download all as one ZIP (`…/auskunft/zip`), and per item
//! „Jetzt löschen“ or „Sperren statt löschen“ (`…/auskunft/loeschen`, a confirmation page first).
//! The store does the search, the ZIP and the erasure (`Store::find_person`, `export_person`,
//! `erase_plan`, `erase_item`); every POST checks the CSRF token.

use askama::Template;
use axum::extract::{Query, State};
use axum::http::header;
use axum::response::{Html, IntoResponse, Redirect, Response};
use postkorb_core::Permission;
use postkorb_store::{EraseAction, PersonItem, PersonMatch, PersonQuery};
use serde::Deserialize;

use super::Nav;
use crate::WebState;
use crate::auth::CurrentUser;
use crate::error::WebError;
use crate::ui::{Confirm, Notice, NoticeQuery, confirmed};
use crate::util::{german_time, now_ms};

pub const PAGE: &str = "/optionen/datenschutz/auskunft";
pub const ZIP: &str = "/optionen/datenschutz/auskunft/zip";
pub const ERASE: &str = "/optionen/datenschutz/auskunft/loeschen";

/// One match as shown.
pub struct Row {
    pub key: String,
    pub what: String,
    pub link: Option<String>,
    pub subject: String,
    pub at: String,
    pub places: String,
    pub bearbeiter: String,
    /// „Jetzt löschen“ / „Sperren statt löschen“ (with the button), or why it stays.
    pub button: Option<&'static str>,
    pub action: String,
}

#[derive(Template)]
#[template(path = "auskunft.html")]
struct Page {
    nav: Nav,
    message: Option<String>,
    error: Option<String>,
    person: String,
    searched: bool,
    rows: Vec<Row>,
}

#[derive(Deserialize, Default)]
pub struct PersonParams {
    #[serde(default)]
    person: String,
    #[serde(default)]
    ok: Option<String>,
    #[serde(default)]
    n: Option<i64>,
}

/// „case-12“ / „kept-4“ / „audit-7“.
pub(crate) fn key(item: PersonItem) -> String {
    match item {
        PersonItem::Case(id) => format!("case-{id}"),
        PersonItem::Kept(id) => format!("kept-{id}"),
        PersonItem::Audit(id) => format!("audit-{id}"),
    }
}

fn row(m: &PersonMatch, action: &EraseAction) -> Row {
    let (what, link) = match m.item {
        PersonItem::Case(id) => (format!("Vorgang {id}"), Some(format!("/vorgang/{id}"))),
        PersonItem::Kept(id) => (format!("Nicht zugeordnete E-Mail {id}"), None),
        PersonItem::Audit(id) => (format!("Protokolleintrag {id}"), None),
    };
    Row {
        key: key(m.item),
        what,
        link,
        subject: m.subject.clone(),
        at: german_time(m.at_ms),
        places: m.found_in.iter().map(|f| f.german()).collect::<Vec<_>>().join(", "),
        bearbeiter: m.by.clone().unwrap_or_default(),
        button: match action {
            EraseAction::Delete => Some("Jetzt löschen"),
            EraseAction::Restrict { .. } => Some("Sperren statt löschen"),
            _ => None,
        },
        action: action.german(),
    }
}

pub(crate) async fn search(
    state: &WebState,
    person: &str,
) -> Result<(PersonQuery, Vec<PersonMatch>, Vec<EraseAction>), WebError> {
    let q = PersonQuery::new(person).map_err(|_| {
        WebError::BadRequest("Bitte eine E-Mail-Adresse oder einen Namen (mindestens 3 Zeichen) eingeben.".into())
    })?;
    let found = state.store.find_person(&q).await?;
    let plan = state.store.erase_plan(&found, now_ms()).await?;
    Ok((q, found, plan))
}

pub async fn show(
    State(state): State<WebState>,
    user: CurrentUser,
    Query(p): Query<PersonParams>,
) -> Result<Html<String>, WebError> {
    user.require(Permission::ManagePrivacy)?;
    let person = p.person.trim().to_string();
    let (mut rows, mut error) = (Vec::new(), None);
    if !person.is_empty() {
        match search(&state, &person).await {
            Ok((_, found, plan)) => rows = found.iter().zip(&plan).map(|(m, a)| row(m, a)).collect(),
            Err(WebError::BadRequest(e)) => error = Some(e),
            Err(e) => return Err(e),
        }
    }
    let page = Page {
        nav: Nav::new(&user, "datenschutz"),
        message: NoticeQuery { ok: p.ok, n: p.n }.german(),
        error,
        searched: !person.is_empty(),
        person,
        rows,
    };
    Ok(Html(page.render()?))
}

/// „Als ZIP herunterladen“: streamed as the store writes it (a few chunks in flight, so a large
/// Auskunft never sits in memory whole). An export that fails midway ends the download early and
/// is logged; a whole one is audited by the store.
pub async fn zip(
    State(state): State<WebState>,
    user: CurrentUser,
    Query(p): Query<PersonParams>,
) -> Result<Response, WebError> {
    user.require(Permission::ManagePrivacy)?;
    let (q, found, _) = search(&state, &p.person).await?;
    let (tx, rx) = tokio::sync::mpsc::channel::<std::io::Result<axum::body::Bytes>>(4);
    let store = state.store.clone();
    let actor = user.actor();
    tokio::spawn(async move {
        let out = ChunkWriter { tx, buf: Vec::with_capacity(CHUNK) };
        match store.export_person(&q, &found, out, &actor, now_ms()).await {
            // The rest after the last full chunk (the store has finished writing).
            Ok(out) if !out.buf.is_empty() => {
                let _ = out.tx.send(Ok(out.buf.into())).await;
            }
            Ok(_) => {}
            Err(e) => tracing::warn!(error = %e, "Auskunft: the ZIP could not be written to the end"),
        }
    });
    let body = futures_util::stream::unfold(rx, |mut rx| async move { rx.recv().await.map(|chunk| (chunk, rx)) });
    Ok((
        [
            (header::CONTENT_TYPE, "application/zip"),
            (header::CONTENT_DISPOSITION, "attachment; filename=\"auskunft.zip\""),
            (header::CACHE_CONTROL, "no-store"),
        ],
        axum::body::Body::from_stream(body),
    )
        .into_response())
}

/// Bytes per chunk of the streamed ZIP.
const CHUNK: usize = 64 * 1024;

/// The ZIP's writer: hands full chunks to the response. The store writes only on the blocking
/// pool, where waiting for the client (`blocking_send`) is allowed.
struct ChunkWriter {
    tx: tokio::sync::mpsc::Sender<std::io::Result<axum::body::Bytes>>,
    buf: Vec<u8>,
}

impl std::io::Write for ChunkWriter {
    fn write(&mut self, data: &[u8]) -> std::io::Result<usize> {
        self.buf.extend_from_slice(data);
        if self.buf.len() >= CHUNK {
            let chunk = std::mem::replace(&mut self.buf, Vec::with_capacity(CHUNK));
            self.tx
                .blocking_send(Ok(chunk.into()))
                .map_err(|_| std::io::Error::new(std::io::ErrorKind::BrokenPipe, "the download was stopped"))?;
        }
        Ok(data.len())
    }

    fn flush(&mut self) -> std::io::Result<()> {
        Ok(())
    }
}

#[derive(Deserialize)]
pub struct EraseForm {
    #[serde(default)]
    csrf: String,
    #[serde(default)]
    bestaetigt: String,
    #[serde(default)]
    person: String,
    #[serde(default)]
    item: String,
    #[serde(default)]
    grund: String,
}

/// „Jetzt löschen“ / „Sperren statt löschen“ of one item: the confirmation page, then the deed.
pub async fn erase(
    State(state): State<WebState>,
    user: CurrentUser,
    axum::Form(f): axum::Form<EraseForm>,
) -> Result<Response, WebError> {
    user.require(Permission::ManagePrivacy)?;
    user.check_csrf(&f.csrf)?;
    let (_, found, plan) = search(&state, &f.person).await?;
    let Some((m, action)) = found.iter().zip(&plan).find(|(m, _)| key(m.item) == f.item) else {
        return Err(WebError::NotFound);
    };
    let back = format!("{PAGE}?person={}", urlencoding(&f.person));
    if !confirmed(&f.bestaetigt) {
        let r = row(m, action);
        let restrict = matches!(action, EraseAction::Restrict { .. });
        let confirm = Confirm {
            nav: Nav::new(&user, "datenschutz"),
            title: if restrict { "Sperren statt löschen?".into() } else { "Endgültig löschen?".into() },
            question: format!("{} „{}“: {}", r.what, r.subject, r.action),
            details: if restrict {
                vec!["Nur wer „Datenschutz verwalten“ darf, sieht den Vorgang dann noch.".into()]
            } else {
                vec![
                    "E-Mail, Anhänge, Notizen und Verlauf werden gelöscht. Das lässt sich nicht rückgängig machen."
                        .into(),
                ]
            },
            action: ERASE.into(),
            fields: vec![
                ("person".into(), f.person.clone()),
                ("item".into(), f.item.clone()),
                ("grund".into(), f.grund.clone()),
            ],
            button: r.button.unwrap_or("Ausführen").into(),
            back,
        };
        return Ok(confirm.html()?.into_response());
    }
    let reason = if f.grund.trim().is_empty() { "Antrag der betroffenen Person" } else { f.grund.trim() };
    if !state.store.erase_item(m, action, &user.actor(), reason, now_ms()).await? {
        return Err(WebError::BadRequest("Das ist nicht mehr möglich: Der Eintrag wurde inzwischen geändert.".into()));
    }
    let notice = if matches!(action, EraseAction::Restrict { .. }) {
        Notice::RestrictedOnRequest
    } else {
        Notice::ErasedOnRequest
    };
    Ok(Redirect::to(&notice.url(&back, None)).into_response())
}

/// Percent-encodes a query value.
fn urlencoding(s: &str) -> String {
    s.bytes()
        .map(|b| match b {
            b'A'..=b'Z' | b'a'..=b'z' | b'0'..=b'9' | b'-' | b'.' | b'_' | b'~' | b'@' => (b as char).to_string(),
            _ => format!("%{b:02X}"),
        })
        .collect()
}

#[cfg(test)]
mod tests {
    use askama::Template;

    use super::{Page, Row};
    use crate::pages::Nav;
    use crate::ui::Notice;

    #[test]
    fn the_page_is_german() {
        let nav = Nav {
            name: "Dora".into(),
            csrf: "t".into(),
            can_import: false,
            can_employees: false,
            can_privacy: true,
            active: "datenschutz",
        };
        let row = |button: Option<&'static str>, action: &str| Row {
            key: "case-1".into(),
            what: "Vorgang 1".into(),
            link: Some("/vorgang/1".into()),
            subject: "Schaden".into(),
            at: "01.03.2026 10:00".into(),
            places: "als Absender, in Cc".into(),
            bearbeiter: "Bernd".into(),
            button,
            action: action.into(),
        };
        let page = Page {
            nav,
            message: Some(Notice::ErasedOnRequest.german(0)),
            error: None,
            person: "karl@example.org".into(),
            searched: true,
            rows: vec![
                row(Some("Jetzt löschen"), "Jetzt löschen"),
                row(Some("Sperren statt löschen"), "Sperren statt löschen: Aufbewahrungspflicht"),
                row(None, "Bleibt als Nachweis"),
            ],
        };
        let html = page.render().unwrap();
        crate::german::assert_german(&html, "Auskunft");
        assert!(html.contains("Als ZIP herunterladen") && html.contains("person=karl%40example.org"));
    }
}
