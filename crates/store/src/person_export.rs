//! Auskunft (issue 18, Art. 15/20 DSGVO): a person's data as one ZIP, written item by item
//! ([`crate::zip::ZipWriter`], on the blocking pool): `index.json` (what, where it was found, ids,
//! dates, Bearbeiter, notes, audit entries), each mail as its raw bytes (`.eml`) and its
//! attachments as files with safe names. One raw mail is held at a time. The export is audited
//! (`AuditEntry::PrivacyExport`, the number of items, never the person).

use std::io::Write;

use postkorb_core::AuditEntry;
use serde::Serialize;
use sqlx::Row;

use crate::person::{FoundIn, PersonItem, PersonMatch, PersonQuery};
use crate::zip::ZipWriter;
use crate::{Result, Store, StoreError};

/// The name of the index in the ZIP.
pub const INDEX: &str = "index.json";

#[derive(Serialize)]
struct Index<'a> {
    query: &'a str,
    created_ms: i64,
    items: Vec<IndexItem<'a>>,
}

#[derive(Serialize)]
struct IndexItem<'a> {
    #[serde(flatten)]
    item: PersonItem,
    found_in: &'a [FoundIn],
    found_in_german: Vec<&'static str>,
    subject: &'a str,
    at_ms: i64,
    status: &'a str,
    closed_ms: Option<i64>,
    bearbeiter: Option<&'a str>,
    /// Paths in the ZIP: the mail, then its attachments.
    files: Vec<String>,
    #[serde(skip_serializing_if = "Vec::is_empty")]
    notes: Vec<Note>,
    /// An audit entry's stored detail (JSON of the typed entry, or an older row's text).
    #[serde(skip_serializing_if = "Option::is_none")]
    detail: Option<String>,
}

#[derive(Serialize)]
struct Note {
    at_ms: i64,
    author: String,
    text: String,
}

fn io(e: std::io::Error) -> StoreError {
    StoreError::Invalid(format!("writing the ZIP: {e}"))
}

impl Store {
    /// Writes the ZIP of `matches` (a [`Store::find_person`] result for `q`) to `out`, audits it
    /// as done by `actor`, and returns the sink.
    pub async fn export_person<W: Write + Send + 'static>(
        &self,
        q: &PersonQuery,
        matches: &[PersonMatch],
        out: W,
        actor: &str,
        now_ms: i64,
    ) -> Result<W> {
        let mut zip = ZipWriter::new(out);
        let mut items = Vec::with_capacity(matches.len());
        for m in matches {
            let (dir, id) = match m.item {
                PersonItem::Case(id) => ("vorgang", id),
                PersonItem::Kept(id) => ("email", id),
                PersonItem::Audit(id) => ("protokoll", id),
            };
            let mut files = Vec::new();
            if let Some(raw_id) = m.raw_id {
                let raw = self.raw(raw_id).await?;
                let prefix = format!("{dir}-{id}");
                let (z, names) = tokio::task::spawn_blocking(move || write_mail(zip, &prefix, &raw))
                    .await
                    .map_err(|e| StoreError::Invalid(e.to_string()))??;
                zip = z;
                files = names;
            }
            let notes = match m.item {
                PersonItem::Case(id) => self.notes_for_export(id).await?,
                _ => vec![],
            };
            let detail = match m.item {
                PersonItem::Audit(id) => Some(
                    sqlx::query("SELECT detail FROM audit_log WHERE id = $1")
                        .bind(id)
                        .fetch_one(&self.pool)
                        .await?
                        .try_get(0)?,
                ),
                _ => None,
            };
            items.push(IndexItem {
                item: m.item,
                found_in: &m.found_in,
                found_in_german: m.found_in.iter().map(|f| f.german()).collect(),
                subject: &m.subject,
                at_ms: m.at_ms,
                status: &m.status,
                closed_ms: m.closed_ms,
                bearbeiter: m.by.as_deref(),
                files,
                notes,
                detail,
            });
        }
        let index = serde_json::to_vec_pretty(&Index { query: q.text(), created_ms: now_ms, items })
            .map_err(|e| StoreError::Invalid(e.to_string()))?;
        let out = tokio::task::spawn_blocking(move || {
            zip.add(INDEX, &index)?;
            zip.finish()
        })
        .await
        .map_err(|e| StoreError::Invalid(e.to_string()))?
        .map_err(io)?;
        self.audit_entry(now_ms, actor, &AuditEntry::PrivacyExport { items: matches.len() as i64 }).await?;
        Ok(out)
    }

    async fn notes_for_export(&self, case: i64) -> Result<Vec<Note>> {
        let rows = sqlx::query(
            "SELECT n.at_ms, COALESCE(e.name, ''), n.text FROM case_notes n LEFT JOIN employees e ON e.id = n.author
             WHERE n.case_id = $1 ORDER BY n.id",
        )
        .bind(case)
        .fetch_all(&self.pool)
        .await?;
        rows.iter()
            .map(|r| Ok(Note { at_ms: r.try_get(0)?, author: r.try_get(1)?, text: r.try_get(2)? }))
            .collect::<Result<_, sqlx::Error>>()
            .map_err(Into::into)
    }
}

/// Adds a mail (`{prefix}/email.eml`) and its attachments (`{prefix}/{n}-{safe name}`); returns
/// the writer and the paths.
fn write_mail<W: Write>(mut zip: ZipWriter<W>, prefix: &str, raw: &[u8]) -> Result<(ZipWriter<W>, Vec<String>)> {
    let mut names = vec![format!("{prefix}/email.eml")];
    zip.add(&names[0], raw).map_err(io)?;
    let count = postkorb_mail::parse(raw).attachments.len();
    for i in 0..count {
        if let Some((a, bytes)) = postkorb_mail::attachment_at(raw, i) {
            let name = format!("{prefix}/{}-{}", i + 1, postkorb_mail::safe_name(&a.name, i + 1));
            zip.add(&name, &bytes).map_err(io)?;
            names.push(name);
        }
    }
    Ok((zip, names))
}
