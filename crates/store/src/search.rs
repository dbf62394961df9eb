//! „Suche“: full-text search over the Vorgänge a person may see — Betreff, Absender (name and
//! address), the mail's text, attachment names and notes — ranked, with the matching words marked
//! and filters for status, Bearbeiter and date range, a page at a time.
//!
//! The index (`case_search`, migration 0020) holds one row per Vorgang that is not moved: its
//! words as terms (`analyze.rs`: umlauts and their spellings folded, a light German stemmer — the
//! same on both backends) and the text shown around a hit (`shown`: the mail's text, the
//! attachment names and the notes, as written). SQLite keeps it in an FTS5 table ranked by
//! `bm25`, PostgreSQL in a table with a `tsvector` and a GIN index, ranked by `ts_rank`; subject
//! weighs most, then sender and attachment names, then notes, then the text. Postkorb writes the
//! `tsvector` itself (migration 0036: [`pg_doc`], its terms as lexemes with positions and weights,
//! no text parser; a trigger makes it again from the columns when a note or who may see it
//! changes) and the new words for `search_words` ([`queue_words`], moved into the list by
//! [`Store::drain_search_words`] off the commit path), and reads queries as written
//! (`CAST(… AS tsquery)`).
//!
//! **Invariant: a Vorgang is in the index exactly while it exists and is not moved.** A new one
//! is indexed by `case_write::apply` in the transaction that creates it ([`index_new`]), so a
//! committed Vorgang is findable and a rolled-back one leaves nothing; a moved one leaves it in
//! the same transaction ([`forget`]); a deleted row takes its entry along (SQLite: trigger
//! `case_search_gone`, PostgreSQL: `ON DELETE CASCADE`). Vorgänge from before migration 0020 are
//! indexed by [`Store::search_reindex_step`] (`serve` in the background, `postkorb search reindex`
//! in the foreground with progress).
//!
//! Who may see it: `seen` holds a term `u{id}` for the Bearbeiter, or for each candidate while the
//! Vorgang waits (migration 0025), so a clerk's search asks the index for „matches and is seen by
//! me“ instead of walking everyone's matches ([`seen_terms`]). `case_write::apply` writes it with a
//! new Vorgang and refreshes it in the transaction of every change of Bearbeiter or candidates
//! ([`refresh_seen`]: claim, hand-over, give-back). The search statement still checks the rule
//! itself (`query.rs`), so `seen` only narrows what is read; a Vorgang missing a term there would be
//! missing from the hits, which is why only those writers change who has it.
//!
//! Notes: [`index_note`] appends a note's words in the transaction that adds the note (call it
//! next to `apply` for the note's event; `case_write::insert_note` does). The reindex of an older Vorgang
//! adds the notes it already has.

mod analyze;
mod highlight;
mod query;

use postkorb_core::EmployeeId;
use serde::Serialize;
use sqlx::{Any, Row, Transaction};

use crate::cases::CaseSummary;
use crate::import::clean;
use crate::rows::{V, insert_rows};
use crate::{Backend, Result, Store};

pub use analyze::query_terms;
/// How many of the newest matches a search ranks together (the rest follow newest first).
pub use query::WINDOW as SEARCH_WINDOW;

/// The mail's text is indexed (and kept for the snippet) up to this many bytes: the start of a
/// mail says what it is about, and the index costs the import in proportion (bench: 64 KiB made
/// the import twice as slow, 8 KiB 1.36×).
const MAX_BODY_BYTES: usize = 8 * 1024;

/// Hits per page, at most.
pub const MAX_PER_PAGE: u32 = 100;

/// A mail's entry in the index before it has a Vorgang: its terms per column and the text shown
/// around a hit (not sealed yet). The importer makes it on its parser threads
/// ([`IndexTerms::of_mail`] → `ImportItem::search_terms`), beside the previous batch's commit, so
/// the commit only writes it; without it `case_write` makes it in the transaction.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct IndexTerms {
    subject: String,
    sender: String,
    body: String,
    names: String,
    /// The mail's text (the first [`MAX_BODY_BYTES`]) and the attachment names, as written.
    shown: String,
    /// What the commit writes beyond the terms, made ready before it ([`Self::make_ready`]).
    ready: Ready,
}

/// What the commit writes of an entry beyond its terms, made before the commit's transaction
/// (`Store::prepare_commit`, beside the previous batch's commit) so the transaction — the
/// import's one serial step — only binds it: the shown text sealed, PostgreSQL's words as
/// `tsvector` text. Empty: the commit makes them itself.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
struct Ready {
    /// [`IndexTerms::shown`] sealed with the store's key (`MailKey::seal_text`).
    shown_sealed: Option<String>,
    /// [`pg_doc_words`] of the terms.
    pg_words: Option<(String, u32)>,
}

impl IndexTerms {
    /// The entry of a Vorgang made from `mail`.
    pub fn of_mail(mail: &postkorb_mail::InboundMail) -> IndexTerms {
        let names: Vec<&str> = mail.attachments.iter().map(|a| a.name.as_str()).collect();
        IndexTerms::of(
            &mail.subject,
            mail.display_name.as_deref(),
            mail.sender.as_ref().map(|a| a.as_str()).unwrap_or_default(),
            &mail.text,
            &names,
        )
    }

    fn of(subject: &str, from_name: Option<&str>, from_addr: &str, text: &str, attachments: &[&str]) -> IndexTerms {
        let body = cut(text, MAX_BODY_BYTES);
        let sender = format!("{} {}", from_name.unwrap_or(""), from_addr);
        let names = attachments.join("\n");
        let mut shown = String::with_capacity(body.len() + names.len() + 1);
        shown.push_str(body);
        if !names.is_empty() {
            shown.push('\n');
            shown.push_str(&names);
        }
        IndexTerms {
            subject: analyze::distinct_terms(subject),
            sender: analyze::distinct_terms(&sender),
            body: analyze::distinct_terms(body),
            names: analyze::distinct_terms(&names),
            // PostgreSQL takes no NUL in text (the stored subject and names are cleaned the same way).
            shown: clean(&shown),
            ready: Ready::default(),
        }
    }

    /// Makes ready what the commit writes of this entry beyond its terms: the shown text sealed
    /// with `key` (the store's, while it seals new mail) and, on PostgreSQL, the words' part of
    /// the `tsvector`. The commit uses the sealed text only when it seals with the store's key.
    pub(crate) fn make_ready(&mut self, backend: Backend, key: Option<&crate::seal::MailKey>) -> Result<()> {
        self.ready.shown_sealed = key.map(|key| key.seal_text(&self.shown)).transpose()?;
        self.ready.pg_words = (backend == Backend::Postgres).then(|| pg_doc_words(self));
        Ok(())
    }
}

/// What one new Vorgang gives the index.
pub(crate) struct Doc<'a> {
    pub case_id: i64,
    /// Made by the importer beforehand, or here from the mail (`IndexTerms::of_mail`).
    pub terms: std::borrow::Cow<'a, IndexTerms>,
    /// The Bearbeiter, or the candidates of a Vorgang that waits in a pool.
    pub seen: &'a [EmployeeId],
    /// Seals the shown text (`seal.rs`): the mail is stored sealed.
    pub seal: Option<&'a crate::seal::MailKey>,
}

/// The `seen` column's text for these employees: `u{id}` each, space-separated (the same on both
/// backends; PostgreSQL's GIN index splits it at the spaces).
pub(crate) fn seen_terms(who: &[EmployeeId]) -> String {
    who.iter().map(|e| format!("u{}", e.0)).collect::<Vec<_>>().join(" ")
}

/// SQL computing the `seen` text of the Vorgang `c` (an alias of `cases`) from its rows.
fn seen_sql(backend: Backend) -> &'static str {
    match backend {
        Backend::Sqlite => {
            "CASE WHEN c.status = 'waiting'
                THEN COALESCE((SELECT group_concat('u' || cc.employee_id, ' ') FROM case_candidates cc WHERE cc.case_id = c.id), '')
                ELSE COALESCE('u' || c.assignee, '') END"
        }
        Backend::Postgres => {
            "CASE WHEN c.status = 'waiting'
                THEN COALESCE((SELECT string_agg('u' || cc.employee_id, ' ' ORDER BY cc.employee_id) FROM case_candidates cc WHERE cc.case_id = c.id), '')
                ELSE COALESCE('u' || c.assignee, '') END"
        }
    }
}

/// Writes again who may see the Vorgänge `case_ids` (after a claim, hand-over or give-back), in
/// the caller's transaction. Vorgänge without an entry (not indexed yet) are left alone.
pub(crate) async fn refresh_seen(tx: &mut Transaction<'_, Any>, backend: Backend, case_ids: &[i64]) -> Result<()> {
    if case_ids.is_empty() {
        return Ok(());
    }
    let key = key(backend);
    let ids = case_ids.iter().map(i64::to_string).collect::<Vec<_>>().join(", ");
    let sql = format!(
        "UPDATE case_search SET seen = (SELECT {} FROM cases c WHERE c.id = case_search.{key})
         WHERE case_search.{key} IN ({ids})",
        seen_sql(backend)
    );
    sqlx::query(sqlx::AssertSqlSafe(sql)).execute(&mut **tx).await?;
    Ok(())
}

/// Who searches: someone who may see every Vorgang („E-Mails automatisch einlesen“), or an
/// employee, who finds their own Vorgänge and the waiting ones they are an eligible candidate for
/// (the same rule as `auth::may_open`); as Vertreter also the open Vorgänge of the absent people
/// they stand in for now (`Store::covering`).
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum Searcher {
    All,
    Employee(EmployeeId),
    Covering(EmployeeId, Vec<EmployeeId>),
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
pub(crate) fn key(backend: Backend) -> &'static str {
    match backend {
        Backend::Sqlite => "rowid",
        Backend::Postgres => "case_id",
    }
}

fn cut(text: &str, max: usize) -> &str {
    &text[..(0..=max.min(text.len())).rev().find(|&i| text.is_char_boundary(i)).unwrap_or(0)]
}

/// The values of an entry but its PostgreSQL `tsvector` (the columns of [`columns`]).
fn row_of<'d>(doc: &'d Doc<'_>) -> Result<Vec<V<'d>>> {
    let t: &'d IndexTerms = &doc.terms;
    Ok(vec![
        V::Int(Some(doc.case_id)),
        V::Str(Some(&t.subject)),
        V::Str(Some(&t.sender)),
        V::Str(Some(&t.body)),
        V::Str(Some(&t.names)),
        V::Str(Some("")),
        V::Owned(Some(seen_terms(doc.seen))),
        match doc.seal {
            Some(_) if t.ready.shown_sealed.is_some() => V::Str(t.ready.shown_sealed.as_deref()),
            Some(key) => V::Owned(Some(key.seal_text(&t.shown)?)),
            None => V::Str(Some(&t.shown)),
        },
    ])
}

/// The columns of an entry: [`row_of`]'s, and PostgreSQL's `tsvector`.
fn columns(backend: Backend) -> String {
    let doc = if backend == Backend::Postgres { ", doc" } else { "" };
    format!("{}, subject, sender, body, attachments, notes, seen, shown{doc}", key(backend))
}

/// PostgreSQL: the lexemes of a term column as `tsvector` text, each at the next position with
/// `weight` (migration 0036: Postkorb writes the `tsvector`; PostgreSQL's text parser was most of
/// its cost at import). Positions run on over the columns as in the expression this replaced
/// (`setweight(to_tsvector('simple', subject), 'A') || …`, each column's positions after the
/// last one of those before it, 16,383 at most), so ranking is unchanged; the SQL function
/// `case_search_doc` makes the same from the stored columns (tested equal).
fn push_lexemes<'w>(out: &mut String, words: impl Iterator<Item = &'w str>, weight: &str, position: &mut u32) {
    use std::fmt::Write;
    for w in words.filter(|w| !w.is_empty()) {
        *position += 1;
        if !out.is_empty() {
            out.push(' ');
        }
        out.push('\'');
        for c in w.chars() {
            match c {
                '\'' => out.push_str("''"),
                '\\' => out.push_str("\\\\"),
                c => out.push(c),
            }
        }
        let _ = write!(out, "':{}{weight}", (*position).min(16_383));
    }
}

/// PostgreSQL: the `tsvector` of a new entry, as text: its words by column with their weights
/// (subject A, sender and attachment names B, notes C, text D), who may see it (`/seen/u{id}`,
/// migration 0032) and its blocks of ids (`/block/…`, `/block8/…`, migration 0033).
pub(crate) fn pg_doc(t: &IndexTerms, seen: &[EmployeeId], case_id: i64) -> String {
    let (mut out, mut position) = match &t.ready.pg_words {
        Some((words, position)) => {
            let mut out = String::with_capacity(words.len() + 64);
            out.push_str(words);
            (out, *position)
        }
        None => pg_doc_words(t),
    };
    let seen: Vec<String> = seen.iter().map(|e| query::seen_lexeme(e.0)).collect();
    push_lexemes(&mut out, seen.iter().map(String::as_str), "", &mut position);
    let blocks = query::block_lexemes(case_id);
    push_lexemes(&mut out, blocks.iter().map(String::as_str), "", &mut position);
    out
}

/// PostgreSQL: the words' part of [`pg_doc`], and the last position it used. The rest (who may
/// see it, the blocks) may follow in SQL as `… || case_search_doc('', '', '', '', '', seen,
/// case_id)`: `||` puts the right side's positions after the left side's last one, as here.
fn pg_doc_words(t: &IndexTerms) -> (String, u32) {
    let mut out = String::with_capacity(t.subject.len() + t.sender.len() + t.body.len() + t.names.len() + 256);
    let mut position = 0;
    push_lexemes(&mut out, t.subject.split(' '), "A", &mut position);
    push_lexemes(&mut out, t.sender.split(' '), "B", &mut position);
    push_lexemes(&mut out, t.names.split(' '), "B", &mut position);
    // A new entry has no notes yet (`index_note` adds them; the trigger of migration 0036 makes
    // the `tsvector` again then).
    push_lexemes(&mut out, t.body.split(' '), "", &mut position);
    (out, position)
}

/// Indexes new Vorgänge in the caller's transaction (`case_write::apply`, `Create`).
pub(crate) async fn index_new(tx: &mut Transaction<'_, Any>, backend: Backend, docs: &[Doc<'_>]) -> Result<()> {
    let head = format!("case_search ({})", columns(backend));
    let mut rows = Vec::with_capacity(docs.len());
    for d in docs {
        let mut row = row_of(d)?;
        if backend == Backend::Postgres {
            row.push(V::Cast(pg_doc(&d.terms, d.seen, d.case_id), "tsvector"));
        }
        rows.push(row);
    }
    insert_rows(tx, backend, &head, "", rows).await?;
    if backend == Backend::Postgres {
        queue_words(tx, docs.iter().map(|d| &*d.terms)).await?;
    }
    Ok(())
}

/// PostgreSQL: queues the words of new entries for `search_words` (migration 0038), in the
/// caller's transaction: one row holding the entries' terms — the lexemes of their `tsvector`
/// (`pg_doc`) — each once, sorted, space-separated. Looking each word up in the list and inserting
/// the new ones was a tenth of the import's time with the index; [`Store::drain_search_words`]
/// does it off the commit path. A search reads the list and the queue together, so the entries
/// are found by every word they hold once this commits.
async fn queue_words<'t>(tx: &mut Transaction<'_, Any>, entries: impl Iterator<Item = &'t IndexTerms>) -> Result<()> {
    // Each entry's terms are distinct already; across entries they repeat (sorted and deduplicated
    // once: cheaper than a sorted set of every word).
    let mut words: Vec<&str> = Vec::new();
    for t in entries {
        for column in [&t.subject, &t.sender, &t.names, &t.body] {
            words.extend(column.split(' ').filter(|w| !w.is_empty()));
        }
    }
    if words.is_empty() {
        return Ok(());
    }
    words.sort_unstable();
    words.dedup();
    sqlx::query("INSERT INTO search_words_queue (words) VALUES ($1)").bind(words.join(" ")).execute(&mut **tx).await?;
    Ok(())
}

/// PostgreSQL: moves queued words (at most this many rows a statement) into `search_words`.
const DRAIN_ROWS: i64 = 8;

/// PostgreSQL: the statement of a drain: takes up to [`DRAIN_ROWS`] rows of the queue that no
/// other drain holds, inserts their words the list lacks — in byte order, so two drains inserting
/// the same new words never wait for each other in a circle — and counts the rows taken.
const DRAIN: &str = r#"WITH taken AS (
        DELETE FROM search_words_queue
         WHERE id IN (SELECT id FROM search_words_queue ORDER BY id LIMIT $1 FOR UPDATE SKIP LOCKED)
        RETURNING words),
    added AS (
        INSERT INTO search_words
        SELECT w FROM (SELECT DISTINCT w COLLATE "C" AS w FROM taken, unnest(string_to_array(taken.words, ' ')) w) d
         WHERE NOT EXISTS (SELECT 1 FROM search_words s WHERE s.word = d.w)
         ORDER BY w
        ON CONFLICT DO NOTHING
        RETURNING 1)
    SELECT count(*) FROM taken"#;

/// PostgreSQL: the advisory lock over `search_words` (migration 0034): its triggers take it
/// shared, [`Store::sweep_search_words`] alone.
const WORDS_LOCK: i64 = 7_305_518_305_385_967_474;

/// PostgreSQL: how often [`Store::sweep_search_words`] tries for the lock over `search_words`
/// (every 20 ms) before it leaves the words for the next sweep.
const SWEEP_TRIES: u32 = 250;

impl Store {
    /// PostgreSQL: moves the queued words of new index entries (migration 0038, [`queue_words`])
    /// into `search_words`, until the queue is empty, and returns how many queue rows it took. Each
    /// step is a transaction under the list's lock taken shared (see [`Self::sweep_search_words`]);
    /// rows another drain holds are left to it. The importer drains beside its commits and before
    /// its pass ends; a sweep drains first. SQLite: nothing.
    pub async fn drain_search_words(&self) -> Result<u64> {
        if self.backend != Backend::Postgres {
            return Ok(0);
        }
        let mut taken = 0;
        loop {
            let mut tx = self.pool.begin().await?;
            sqlx::query("SELECT pg_advisory_xact_lock_shared($1)").bind(WORDS_LOCK).execute(&mut *tx).await?;
            let rows: i64 = sqlx::query_scalar(DRAIN).bind(DRAIN_ROWS).fetch_one(&mut *tx).await?;
            tx.commit().await?;
            taken += rows as u64;
            if rows < DRAIN_ROWS {
                return Ok(taken);
            }
        }
    }

    /// PostgreSQL: merges the pending list of the index's GIN (its `fastupdate` list of new
    /// entries) into the index, off the import's commit path: migration 0038 lets the list grow
    /// to 32 MB before an insert merges it itself, and the importer merges after every thousand
    /// new entries and before its pass ends, so its commits do not. SQLite: nothing.
    pub async fn merge_search_pending(&self) -> Result<()> {
        if self.backend == Backend::Postgres {
            sqlx::query("SELECT gin_clean_pending_list('case_search_doc'::regclass)").execute(&self.pool).await?;
        }
        Ok(())
    }

    /// PostgreSQL: removes from `search_words` (migration 0034) the words of removed or changed
    /// index entries that no entry holds any more, and returns how many. It takes the lock over
    /// the list alone — trying, never waiting in line, so no writer ever waits behind it — and
    /// so sees every writer committed or not begun. It drains the queue of new words first, under
    /// that lock (or a queued word of an entry deleted before its drain would come into the list
    /// after the sweep, held by no entry). Called after deletions and by the importer's passes;
    /// when no entry went, it only drains the queue. SQLite: nothing (FTS5 keeps its own).
    pub async fn sweep_search_words(&self) -> Result<u64> {
        if self.backend != Backend::Postgres {
            return Ok(0);
        }
        let pending: bool =
            sqlx::query_scalar("SELECT EXISTS (SELECT 1 FROM search_words_gone)").fetch_one(&self.pool).await?;
        if !pending {
            // Nothing to sweep: the queue drained all the same (words of Vorgänge made outside
            // an import pass — routed by hand, the reindex — wait there for a drain).
            self.drain_search_words().await?;
            return Ok(0);
        }
        let mut tx = self.pool.begin().await?;
        let mut tries = 0;
        while !sqlx::query_scalar::<_, bool>("SELECT pg_try_advisory_xact_lock($1)")
            .bind(WORDS_LOCK)
            .fetch_one(&mut *tx)
            .await?
        {
            tries += 1;
            if tries == SWEEP_TRIES {
                tracing::warn!(
                    "the index's words were not swept: writers held them for 5 s; the next sweep takes them"
                );
                return Ok(0);
            }
            tokio::time::sleep(std::time::Duration::from_millis(20)).await;
        }
        // A new snapshot after the lock: every writer committed or not begun, every drain done.
        // The queue's rows committed since are drained under the lock, before the words are swept.
        sqlx::query(DRAIN).bind(i64::MAX).fetch_one(&mut *tx).await?;
        // The lexeme is quoted as `tsquery` text (a quote doubled, a backslash escaped).
        let removed = sqlx::query(
            r"WITH gone AS (DELETE FROM search_words_gone RETURNING word)
              DELETE FROM search_words sw USING gone
               WHERE sw.word = gone.word
                 AND NOT EXISTS (SELECT 1 FROM case_search cs WHERE cs.doc @@
                       ('''' || replace(replace(gone.word, '\', '\\'), '''', '''''') || '''')::tsquery)",
        )
        .execute(&mut *tx)
        .await?
        .rows_affected();
        tx.commit().await?;
        Ok(removed)
    }
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
        .bind(analyze::distinct_terms(text))
        .bind(clean(&format!("\n{text}")))
        .execute(&mut **tx)
        .await?;
    tracing::debug!(case_id, note_id, indexed = changed.rows_affected(), "note indexed");
    Ok(())
}

impl Store {
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
            // The terms are made before the write transaction begins.
            let names: Vec<&str> = names.iter().map(String::as_str).collect();
            owned.push((case_id, IndexTerms::of(&subject, from_name.as_deref(), &from_addr, &text, &names)));
        }
        // Who may see it is read in the insert's own statement (`$7` is left empty), so a claim
        // between the read above and this write cannot leave it stale. PostgreSQL: the words'
        // part of the `tsvector` from here (`$9`), who may see it and the blocks appended in the
        // statement by `case_search_doc` (migration 0036; together the same as `pg_doc`).
        let doc = match self.backend {
            Backend::Sqlite => String::new(),
            Backend::Postgres => {
                format!(", CAST($9 AS tsvector) || case_search_doc('', '', '', '', '', {}, $1)", seen_sql(self.backend))
            }
        };
        let insert = format!(
            "INSERT INTO case_search ({columns})
             SELECT $1, $2, $3, $4, $5, $6, {seen}, $8{doc} FROM cases c
             WHERE c.id = $1 AND c.status <> 'moved' AND $7 = ''
               AND NOT EXISTS (SELECT 1 FROM case_search s WHERE s.{key} = $1)",
            columns = columns(self.backend),
            seen = seen_sql(self.backend),
        );
        let mut tx = self.begin_write().await?;
        let seal = self.sealing_in(&mut *tx).await?;
        // The words of the entries written go into PostgreSQL's list once for the step.
        let mut added = Vec::new();
        for (case_id, terms) in &owned {
            let doc =
                Doc { case_id: *case_id, terms: std::borrow::Cow::Borrowed(terms), seen: &[], seal: seal.as_ref() };
            let mut q = sqlx::query(sqlx::AssertSqlSafe(insert.clone()));
            for v in row_of(&doc)? {
                q = v.bind(q);
            }
            if self.backend == Backend::Postgres {
                q = q.bind(pg_doc_words(terms).0);
            }
            if q.execute(&mut *tx).await?.rows_affected() == 1 {
                added.push(terms);
                // Notes written before the Vorgang had an entry (index_note found none to add to).
                let notes: Vec<(i64, String)> =
                    sqlx::query_as("SELECT id, text FROM case_notes WHERE case_id = $1 ORDER BY id")
                        .bind(case_id)
                        .fetch_all(&mut *tx)
                        .await?;
                for (note_id, text) in notes {
                    index_note(&mut tx, self.backend, *case_id, note_id, &text).await?;
                }
            }
        }
        if self.backend == Backend::Postgres {
            queue_words(&mut tx, added.into_iter()).await?;
        }
        tx.commit().await?;
        Ok(Some(last))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// PostgreSQL's `tsvector` as Postkorb writes it: each column's terms at the next positions
    /// with its weight, then who may see it and the blocks; a quote or backslash in a lexeme
    /// escaped (terms hold neither today: the writer does not count on it).
    #[test]
    fn the_postgresql_tsvector_text_runs_positions_over_the_columns_and_quotes_each_lexeme() {
        let t = IndexTerms {
            subject: "schad kell".into(),
            sender: "anna".into(),
            names: String::new(),
            body: "o'brien a\\b  kell".into(),
            shown: String::new(),
            ready: Ready::default(),
        };
        let doc = "'schad':1A 'kell':2A 'anna':3B 'o''brien':4 'a\\\\b':5 'kell':6 '/seen/u5':7 '/seen/u7':8 \
                   '/block/7':9 '/block8/0':10";
        assert_eq!(pg_doc(&t, &[EmployeeId(5), EmployeeId(7)], 123_456), doc);
        // Made ready before the commit (`make_ready`): the same text.
        let mut ready = t.clone();
        ready.make_ready(Backend::Postgres, None).unwrap();
        assert!(ready.ready.pg_words.is_some() && ready.ready.shown_sealed.is_none());
        assert_eq!(pg_doc(&ready, &[EmployeeId(5), EmployeeId(7)], 123_456), doc);
        let mut sqlite = t.clone();
        sqlite.make_ready(Backend::Sqlite, None).unwrap();
        assert_eq!(sqlite.ready, Ready::default(), "nothing to make for SQLite without sealing");
        assert_eq!(pg_doc_words(&t), ("'schad':1A 'kell':2A 'anna':3B 'o''brien':4 'a\\\\b':5 'kell':6".into(), 6));
        // Positions stop at PostgreSQL's last one, as its parser's do.
        let long = IndexTerms { body: (0..16_390).map(|i| format!("w{i}")).collect::<Vec<_>>().join(" "), ..t };
        assert!(pg_doc(&long, &[], 1).ends_with("'w16389':16383 '/block/0':16383 '/block8/0':16383"));
    }

    #[test]
    fn an_entry_holds_each_columns_terms_once_and_the_text_as_written() {
        let t = IndexTerms::of(
            "Schaden Schäden",
            Some("Anna Außendienst"),
            "anna@example.org",
            "Der Schaden im Keller. Schaden am Dach!\0",
            &["Foto Keller.jpg", "Foto Dach.jpg"],
        );
        assert_eq!(t.subject, "schad");
        // Stop words („der“, „im“, „am“) are not indexed.
        assert_eq!(t.body, "schad kell dach");
        assert_eq!(t.names, "foto kell jpg dach");
        assert_eq!(t.shown, "Der Schaden im Keller. Schaden am Dach!\nFoto Keller.jpg\nFoto Dach.jpg");
    }
}
