//! „Änderungen“ as a CSV file for Excel (Protokoll › Änderungen › „Als CSV-Datei herunterladen“):
//! every entry the page's filter finds, not only one page, newest first, in the German sentences of
//! the page. Only for those who may see the Protokoll (the same Zugriffsrecht as the page).

use axum::extract::{Query, State};
use axum::response::Response;
use postkorb_core::{Permission, audit};
use postkorb_store::AuditRow;

use super::download;
use super::protokoll::{ChangesQuery, audit_filter, change_row};
use crate::WebState;
use crate::auth::CurrentUser;
use crate::error::WebError;

pub const PATH: &str = "/protokoll/aenderungen.csv";

/// The columns, in German.
pub const HEADER: [&str; 6] = ["Nr.", "Zeitpunkt", "Wer", "Art", "Änderung", "Details"];

/// Rows read per store call while the file is built.
const CHUNK: i64 = 1000;

/// One line of the file.
pub fn line(r: &AuditRow, employees: &[postkorb_core::Employee]) -> Vec<String> {
    let row = change_row(r, employees);
    let kind = audit::KINDS.iter().find(|(code, _)| *code == r.action).map(|(_, name)| name.to_string());
    vec![
        r.id.to_string(),
        row.when,
        super::protokoll::actor_name(&r.actor, employees),
        kind.unwrap_or_else(|| r.action.clone()),
        row.sentence,
        row.old_detail.unwrap_or_default(),
    ]
}

pub async fn export(
    State(state): State<WebState>,
    user: CurrentUser,
    Query(q): Query<ChangesQuery>,
) -> Result<Response, WebError> {
    user.require(Permission::ManageMailImport)?;
    let filter = audit_filter(&q.art, &q.wer, &q.von, &q.bis).map_err(WebError::BadRequest)?;
    let employees = state.store.employees().await?;
    let mut lines = Vec::new();
    loop {
        let (rows, _) = state.store.audit_page(&filter, CHUNK, lines.len() as i64).await?;
        let done = (rows.len() as i64) < CHUNK;
        lines.extend(rows.iter().map(|r| line(r, &employees)));
        if done {
            break;
        }
    }
    let body = crate::csv::file(&HEADER, lines);
    Ok(download("protokoll-aenderungen.csv", "text/csv; charset=utf-8", body.into_bytes()))
}
