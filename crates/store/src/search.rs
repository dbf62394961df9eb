//! „Suche“: full-text search over the Vorgänge a person may see — Betreff, Absender (name and
//! address), the mail's text, attachment names and notes — ranked, with the matching words marked
//! and filters for status, Bearbeiter and date range, a page at a time.
//!
//! The index (`case_search`, migration 0020) holds one row per Vorgang that is not moved: its
//! words as terms (`analyze.rs`: umlauts and their spellings folded, a light German stemmer — the
//! same on both backends) and the text shown around a hit (`shown`: the mail's text, the
//! attachment names and the notes, as written). SQLite keeps it in an FTS5 table ranked by
//! `bm25`, PostgreSQL in a table with a `tsvector` (`simple` configuration: the terms are already
//! stemmed) and a GIN index, ranked by `ts_rank`; subject weighs most, then sender and attachment
//! names, then notes, then the text.
//!
//! **Invariant: a Vorgang is in the index exactly while it exists and is not moved.** A new one
//! is indexed by `case_write::apply` in the transaction that creates it ([`index_new`]), so a
//! committed Vorgang is findable and a rolled-back one leaves nothing; a moved one leaves it in
//! the same transaction ([`forget`]); a deleted row takes its entry along (SQLite: trigger
//! `case_search_gone`, PostgreSQL: `ON DELETE CASCADE`). Vorgänge from before migration 0020 are
//! indexed by [`Store::search_reindex_step`] (`serve` in the background, `postkorb search reindex`
//! in the foreground with progress).
//!
//! Notes: [`index_note`] appends a note's words in the transaction that adds the note (call it
//! next to `apply` for the note's event). The reindex of an older Vorgang does not read notes.

mod analyze;
mod highlight;

use postkorb_core::EmployeeId;
use serde::Serialize;
use sqlx::{Any, Row, Transaction};

use crate::cases::{CaseSummary, eligible_an, is_candidate, summary_columns, summary_from_row};
use crate::import::clean;
use crate::rows::{V, insert_rows};
use crate::{Backend, Result, Store};

pub use analyze::query_terms;

/// The mail's text is indexed (and kept for the snippet) up to this many bytes.
const MAX_BODY_BYTES: usize = 64 * 1024;

/// Hits per page, at most.
pub const MAX_PER_PAGE: u32 = 100;

/// What one new Vorgang gives the index.
pub(crate) struct Doc<'a> {
    pub case_id: i64,
    pub subject: &'a str,
    pub from_name: Option<&'a str>,
    pub from_addr: &'a str,
    pub text: &'a str,
    pub attachments: Vec<&'a str>,
}

/// Who searches: someone who may see every Vorgang („E-Mails automatisch einlesen“), or an
/// employee, who finds their own Vorgänge and the waiting ones they are an eligible candidate for
/// (the same rule as `auth::may_open`).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Searcher {
    All,
    Employee(EmployeeId),
}

/// A Vorgang's status as a search filter.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize)]
#[serde(rename_all = "lowercase")]
pub enum SearchStatus {
    Waiting,
    Open,
    Done,
}

impl SearchStatus {
    pub fn code(self) -> &'static str {
        match self {
            SearchStatus::Waiting => "waiting",
            SearchStatus::Open => "open",
            SearchStatus::Done => "done",
        }
    }

    pub fn from_code(code: &str) -> Option<SearchStatus> {
        [SearchStatus::Waiting, SearchStatus::Open, SearchStatus::Done].into_iter().find(|s| s.code() == code)
    }
}

/// A search: the words typed, the filters, and which page (1-based).
#[derive(Clone, Debug, Default)]
pub struct SearchQuery {
    pub text: String,
    pub status: Option<SearchStatus>,
    pub assignee: Option<EmployeeId>,
    /// Received at or after (unix ms).
    pub from_ms: Option<i64>,
    /// Received before (unix ms).
    pub until_ms: Option<i64>,
    pub page: u32,
    pub per_page: u32,
}

/// One hit: the Vorgang and its marked-up parts (escaped HTML whose only tag is `<mark>`).
#[derive(Clone, Debug, Serialize)]
pub struct SearchHit {
    pub case: CaseSummary,
    pub subject_html: String,
    pub from_html: String,
    /// Around the first matching word of the text, attachment names or notes, if one matched there.
    pub snippet_html: Option<String>,
}

/// A page of hits, best first; `more` when a next page has hits.
#[derive(Clone, Debug, Serialize)]
pub struct SearchPage {
    pub hits: Vec<SearchHit>,
    pub page: u32,
    pub per_page: u32,
    pub more: bool,
}

/// How far the index is: Vorgänge indexed of those to index.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize)]
pub struct SearchProgress {
    pub indexed: i64,
    pub total: i64,
}

/// The column naming a Vorgang in the index.
fn key(backend: Backend) -> &'static str {
    match backend {
        Backend::Sqlite => "rowid",
        Backend::Postgres => "case_id",
    }
}

fn cut(text: &str, max: usize) -> &str {
    &text[..(0..=max.min(text.len())).rev().find(|&i| text.is_char_boundary(i)).unwrap_or(0)]
}

fn row_of(doc: &Doc<'_>) -> Vec<V<'static>> {
    let body = cut(doc.text, MAX_BODY_BYTES);
    let sender = format!("{} {}", doc.from_name.unwrap_or(""), doc.from_addr);
    let names = doc.attachments.join("\n");
    let mut shown = String::with_capacity(body.len() + names.len() + 1);
    shown.push_str(body);
    if !names.is_empty() {
        shown.push('\n');
        shown.push_str(&names);
    }
    vec![
        V::Int(Some(doc.case_id)),
        V::Owned(Some(analyze::terms(doc.subject))),
        V::Owned(Some(analyze::terms(&sender))),
        V::Owned(Some(analyze::terms(body))),
        V::Owned(Some(analyze::terms(&names))),
        V::Str(Some("")),
        // PostgreSQL takes no NUL in text (the stored subject and names are cleaned the same way).
        V::Owned(Some(clean(&shown))),
    ]
}

/// Indexes new Vorgänge in the caller's transaction (`case_write::apply`, `Create`).
pub(crate) async fn index_new(tx: &mut Transaction<'_, Any>, backend: Backend, docs: &[Doc<'_>]) -> Result<()> {
    let head = format!("case_search ({}, subject, sender, body, attachments, notes, shown)", key(backend));
    insert_rows(tx, backend, &head, "", docs.iter().map(row_of).collect()).await?;
    Ok(())
}

/// Takes a Vorgang out of the index (it was moved to the kept mails), in the caller's transaction.
pub(crate) async fn forget(tx: &mut Transaction<'_, Any>, backend: Backend, case_id: i64) -> Result<()> {
    let sql = format!("DELETE FROM case_search WHERE {} = $1", key(backend));
    sqlx::query(sqlx::AssertSqlSafe(sql)).bind(case_id).execute(&mut **tx).await?;
    Ok(())
}

/// Adds the words of a note to its Vorgang's entry, in the transaction that adds the note (next to
/// `case_write::apply` for its event). A Vorgang not indexed yet (from before migration 0020)
/// gets no entry here; `note_id` is for the caller's log only.
pub async fn index_note(
    tx: &mut Transaction<'_, Any>,
    backend: Backend,
    case_id: i64,
    note_id: i64,
    text: &str,
) -> Result<()> {
    let sql =
        format!("UPDATE case_search SET notes = notes || ' ' || $2, shown = shown || $3 WHERE {} = $1", key(backend));
    let changed = sqlx::query(sqlx::AssertSqlSafe(sql))
        .bind(case_id)
        .bind(analyze::terms(text))
        .bind(clean(&format!("\n{text}")))
        .execute(&mut **tx)
        .await?;
    tracing::debug!(case_id, note_id, indexed = changed.rows_affected(), "note indexed");
    Ok(())
}

/// A bound value of the search statement.
enum Bind {
    Int(i64),
    Text(String),
}

/// The search statement and its values: `$1` the searcher, `$2` the query, filters after.
fn search_sql(backend: Backend, who: Searcher, q: &SearchQuery, terms: &[String]) -> (String, Vec<Bind>) {
    let (employee, mut visible) = match who {
        // `$1` is bound either way; the condition names it so both databases know its type.
        Searcher::All => (0, " AND $1 = 0".to_string()),
        Searcher::Employee(e) => (
            e.0,
            format!(
                " AND (c.assignee = $1 OR (c.status = 'waiting' AND {} AND EXISTS (
                    SELECT 1 FROM employees me WHERE me.id = $1 AND {})))",
                is_candidate("c.id"),
                eligible_an("me")
            ),
        ),
    };
    let mut binds = vec![Bind::Int(employee)];
    let (matches, rank) = match backend {
        Backend::Sqlite => {
            binds.push(Bind::Text(terms.iter().map(|t| format!("\"{t}\"*")).collect::<Vec<_>>().join(" ")));
            (
                "case_search MATCH $2",
                // subject, sender, body, attachments, notes, shown (not indexed); lower is better
                "bm25(case_search, 8.0, 4.0, 1.0, 4.0, 2.0, 0.0)",
            )
        }
        Backend::Postgres => {
            binds.push(Bind::Text(terms.iter().map(|t| format!("{t}:*")).collect::<Vec<_>>().join(" & ")));
            ("case_search.doc @@ to_tsquery('simple', $2)", "-ts_rank(case_search.doc, to_tsquery('simple', $2))")
        }
    };
    let mut filter = |cond: &str, value: Bind| {
        binds.push(value);
        visible.push_str(&format!(" AND {cond} ${}", binds.len()));
    };
    if let Some(s) = q.status {
        filter("c.status =", Bind::Text(s.code().into()));
    }
    if let Some(a) = q.assignee {
        filter("c.assignee =", Bind::Int(a.0));
    }
    if let Some(t) = q.from_ms {
        filter("c.received_ms >=", Bind::Int(t));
    }
    if let Some(t) = q.until_ms {
        filter("c.received_ms <", Bind::Int(t));
    }
    let (per_page, page) = page_of(q);
    let key = key(backend);
    // Three steps, each made a fixed plan (MATERIALIZED): the index's matches with their rank
    // first, then the Vorgänge among them one may see, ranked, one page; only then the page's
    // rows and texts. Left to itself, SQLite 3.51 turned the visibility's OR into the outer loop
    // and asked the full-text index once per Vorgang of the employee (seconds at 20,000).
    let sql = format!(
        "WITH hits AS MATERIALIZED (SELECT {key} AS id, {rank} AS rank FROM case_search WHERE {matches}),
         page AS MATERIALIZED (
            SELECT c.id, hits.rank FROM hits JOIN cases c ON c.id = hits.id
            WHERE c.status <> 'moved'{visible}
            ORDER BY hits.rank, c.received_ms DESC, c.id DESC LIMIT {} OFFSET {})
         SELECT {}, s.shown FROM page JOIN cases c ON c.id = page.id
            LEFT JOIN employees e ON e.id = c.assignee JOIN case_search s ON s.{key} = page.id
         ORDER BY page.rank, c.received_ms DESC, c.id DESC",
        per_page + 1,
        (page - 1) as u64 * per_page as u64,
        summary_columns!(),
    );
    (sql, binds)
}

fn page_of(q: &SearchQuery) -> (u32, u32) {
    (q.per_page.clamp(1, MAX_PER_PAGE), q.page.max(1))
}

impl Store {
    /// The Vorgänge `who` may see that match `q`, best first, a page of them. No words to search
    /// for (only stop words or signs): no hits.
    pub async fn search(&self, who: Searcher, q: &SearchQuery) -> Result<SearchPage> {
        let terms = query_terms(&q.text);
        let (per_page, page) = page_of(q);
        if terms.is_empty() {
            return Ok(SearchPage { hits: vec![], page, per_page, more: false });
        }
        let (sql, binds) = search_sql(self.backend, who, q, &terms);
        let mut query = sqlx::query(sqlx::AssertSqlSafe(sql));
        for b in binds {
            query = match b {
                Bind::Int(v) => query.bind(v),
                Bind::Text(v) => query.bind(v),
            };
        }
        let rows = query.fetch_all(&self.pool).await?;
        let more = rows.len() > per_page as usize;
        let mut hits = Vec::with_capacity(rows.len().min(per_page as usize));
        for r in rows.iter().take(per_page as usize) {
            let case = summary_from_row(r)?;
            let shown: String = r.try_get("shown")?;
            let from = match &case.from_name {
                Some(n) if !n.is_empty() => format!("{n} <{}>", case.from_addr),
                _ => case.from_addr.clone(),
            };
            hits.push(SearchHit {
                subject_html: highlight::mark(&case.subject, &terms),
                from_html: highlight::mark(&from, &terms),
                snippet_html: highlight::snippet(&shown, &terms),
                case,
            });
        }
        Ok(SearchPage { hits, page, per_page, more })
    }

    /// How many Vorgänge (not moved) are in the index, of how many.
    pub async fn search_progress(&self) -> Result<SearchProgress> {
        let total: i64 =
            sqlx::query_scalar("SELECT COUNT(*) FROM cases WHERE status <> 'moved'").fetch_one(&self.pool).await?;
        let indexed: i64 = sqlx::query_scalar("SELECT COUNT(*) FROM case_search").fetch_one(&self.pool).await?;
        Ok(SearchProgress { indexed, total })
    }

    /// Indexes up to `limit` Vorgänge with an id above `after` that are not in the index yet
    /// (written before migration 0020); returns the highest id looked at, `None` when none is
    /// left. Safe beside the import and another instance: each row is written only if the Vorgang
    /// is still there, not moved, and not indexed meanwhile.
    pub async fn search_reindex_step(&self, after: i64, limit: i64) -> Result<Option<i64>> {
        let key = key(self.backend);
        let sql = format!(
            "SELECT c.id, c.raw_id, c.subject, c.from_name, c.from_addr, c.body_in_raw, c.body_text FROM cases c
             WHERE c.id > $1 AND c.status <> 'moved'
               AND NOT EXISTS (SELECT 1 FROM case_search s WHERE s.{key} = c.id)
             ORDER BY c.id LIMIT $2"
        );
        let rows = sqlx::query(sqlx::AssertSqlSafe(sql)).bind(after).bind(limit).fetch_all(&self.pool).await?;
        let Some(last) = rows.last().map(|r| r.try_get::<i64, _>(0)).transpose()? else { return Ok(None) };
        let mut owned = Vec::with_capacity(rows.len());
        for r in &rows {
            let case_id: i64 = r.try_get(0)?;
            let in_raw: i64 = r.try_get(5)?;
            let text = if in_raw == 1 {
                match self.raw(r.try_get(1)?).await {
                    Ok(raw) => postkorb_mail::parse_for_import(&raw).text,
                    Err(e) => {
                        tracing::warn!(case_id, error = %e, "search index: raw mail unreadable, indexed without text");
                        String::new()
                    }
                }
            } else {
                r.try_get(6)?
            };
            let names: Vec<String> =
                sqlx::query_scalar("SELECT name FROM attachments WHERE case_id = $1 ORDER BY position")
                    .bind(case_id)
                    .fetch_all(&self.pool)
                    .await?;
            let (subject, from_name, from_addr): (String, Option<String>, String) =
                (r.try_get(2)?, r.try_get(3)?, r.try_get(4)?);
            owned.push((case_id, subject, from_name, from_addr, text, names));
        }
        let insert = format!(
            "INSERT INTO case_search ({key}, subject, sender, body, attachments, notes, shown)
             SELECT $1, $2, $3, $4, $5, $6, $7 WHERE EXISTS (SELECT 1 FROM cases WHERE id = $1 AND status <> 'moved')
               AND NOT EXISTS (SELECT 1 FROM case_search s WHERE s.{key} = $1)"
        );
        let mut tx = self.begin_write().await?;
        for (case_id, subject, from_name, from_addr, text, names) in &owned {
            let doc = Doc {
                case_id: *case_id,
                subject,
                from_name: from_name.as_deref(),
                from_addr,
                text,
                attachments: names.iter().map(String::as_str).collect(),
            };
            let mut q = sqlx::query(sqlx::AssertSqlSafe(insert.clone()));
            for v in row_of(&doc) {
                q = match v {
                    V::Int(x) => q.bind(x),
                    V::Str(x) => q.bind(x),
                    V::Owned(x) => q.bind(x),
                    V::Bytes(x) => q.bind(x),
                };
            }
            q.execute(&mut *tx).await?;
        }
        tx.commit().await?;
        Ok(Some(last))
    }
}
