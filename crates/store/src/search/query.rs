//! The search statements. The cost of ranking grows with the matches (a frequent word such as
//! „Schaden“ is in half of a million Vorgänge), so the order is: the newest [`WINDOW`] matching
//! Vorgänge one may see, best first (rank, then newest), then every older match, newest first.
//! Each page reads at most that window from the index, newest first, which both databases do
//! without visiting the other matches (FTS5 walks its lists backwards by rowid; PostgreSQL walks
//! the primary key backwards, or for a rare word reads its GIN list); ranking happens on those
//! rows only. Nothing is left out: later pages go on into the older matches.

use postkorb_core::EmployeeId;
use sqlx::Row;

use super::{SearchHit, SearchPage, SearchQuery, Searcher, highlight, key, query_terms};
use crate::cases::{eligible_an, is_candidate, summary_columns, summary_from_row};
use crate::{Backend, Result, Store};

/// The newest matches ranked together (see the module comment): ten pages of 20. (It was 1,000:
/// reading five times as many matches cost a clerk's search at 1,000,000 Vorgänge most of its
/// time, bench/search.py, for a ranking nobody pages through.)
pub const WINDOW: u64 = 200;

/// SQLite: the longest prefix its prefix index answers (migration 0025: `prefix = '2 3 4 5 6'`,
/// in characters). A longer query word asks the index for its first six letters and the
/// statement checks the whole word on the entries found ([`matching`]), instead of FTS5 merging
/// the lists of every indexed word it begins (40 ms for „gutacht“ at 1,000,000, 0.6 ms for
/// „gutach“) — unless a sample shows the word rare among them ([`Store::long_words_asked_whole`]).
const PREFIX_INDEXED: usize = 6;

/// SQLite: how many of the newest entries with a long word's first letters the sample reads
/// ([`Store::long_words_asked_whole`]), and how many of them at most may hold the whole word
/// for FTS5 to be asked for the whole word: one in `r` of them costs the prefix walk ≈ 200/r
/// entries at ≈ 10 µs (read, joined, checked) and the whole word ≈ r · N list entries at
/// ≈ 0.075 µs; at N = 1,000,000 the two meet near r = 16 % (≈ 12 ms each), below it the whole
/// word is cheaper (the walk's cost grows as r falls, the list's shrinks).
const SAMPLE: u64 = 64;
const SAMPLE_RARE: i64 = 10;

/// PostgreSQL: how many of the newest index entries the window's walk reads at most, walking the
/// primary key backwards (see [`Store::window_postgres`]).
const WALK: u64 = 200_000;

/// PostgreSQL: the walk's first part: what it finds tells what the rest would cost
/// ([`Store::window_postgres`]).
const FIRST_WALK: u64 = 5_000;

/// PostgreSQL, the cost model of [`Store::window_postgres`], in entries walked (≈ 1 µs each at
/// 1,000,000 Vorgänge: the newest entries stay in memory): a row read through GIN in the newest
/// blocks ([`BLOCK_BITS`]) costs 12 of them (measured 13 µs under the search benchmark's load;
/// 3.6–6.5 µs when warm; anywhere below see [`GIN_ROW_ANYWHERE`]), an entry of a prefix's list
/// that GIN gathers first half of one (the 166,000 of „kell:*“ took 82 ms).
const GIN_ROW: f64 = 12.0;
const GIN_LIST_ENTRY: f64 = 0.5;

/// PostgreSQL, the cost model: an entry of an exact word's list (a query word asked as the
/// indexed words it begins, [`Store::pg_fragments`]): GIN skips through those lists instead of
/// gathering them („Schäfer Hausrat“, lists of 20,000 and 58,000: 2 ms).
const GIN_WORD_ENTRY: f64 = 0.03;

/// PostgreSQL: what an entry of the list of `fragment` costs GIN (in entries walked): a prefix's
/// is gathered, exact words' are skipped through.
fn list_entry(fragment: &str) -> f64 {
    if fragment.ends_with(":*") { GIN_LIST_ENTRY } else { GIN_WORD_ENTRY }
}

/// PostgreSQL: the Vorgänge by id in blocks of 2^14 = 16,384, each entry's block a lexeme of its
/// `tsvector` (`/block/{case_id >> 14}`, migration 0033). GIN keeps no order: asked for the words
/// alone it hands over every match, each read from the heap and all sorted for the newest few;
/// asked for the words and the newest blocks, only the matches in those blocks.
const BLOCK_BITS: u32 = 14;

/// PostgreSQL, the cost model: an entry of the blocks' lists that GIN goes through (in entries
/// walked, as [`GIN_ROW`]): where the blocks are rarer than the words GIN iterates their lists
/// (10 blocks, 163,840 ids, added 10 ms to „Schäfer Hausrat“ asked as words: 0.065 µs an entry);
/// where a word is rarer, it skips through them (8 blocks added 1–2 ms to a clerk's „Wildunfall“).
const GIN_BLOCK_ENTRY: f64 = 0.05;

/// PostgreSQL, the cost model: an id of the span when GIN is asked for groups of blocks
/// ([`GROUP`]): more frequent than most words, their lists are skipped through.
const GIN_GROUP_ENTRY: f64 = 0.01;

/// PostgreSQL: what an id of the span from `from` below `edge` costs GIN ([`pg_blocks`] asks for
/// groups where [`blocks_from`] made the span whole groups).
fn block_entry(from: i64, edge: i64) -> f64 {
    if ((edge - 1) >> BLOCK_BITS) - (from >> BLOCK_BITS) + 1 > GROUP / 2 { GIN_GROUP_ENTRY } else { GIN_BLOCK_ENTRY }
}

/// PostgreSQL: how many of the newest entries the words' shares are counted among
/// ([`Store::word_shares`]; they estimate the lists, which exact words make cheap anyway).
const SHARES_SAMPLE: u64 = 1_000;

/// PostgreSQL, the cost model: a row GIN finds anywhere below the walked part, not only in the
/// newest blocks. Old rows are less often in `shared_buffers`, and a page read from the OS cache
/// took 40–110 µs on this machine (a clerk's 1,944 „Leitungswasser“ rows: 99 ms cold, 12 ms
/// warm); under the search benchmark most were warm (2 GB of `shared_buffers` instead of 128 MB
/// changed its p99 by a few ms).
const GIN_ROW_ANYWHERE: f64 = 20.0;

/// PostgreSQL: the most blocks GIN is asked for at once (see [`GIN_BLOCK_ENTRY`]; 40 blocks with
/// two frequent prefixes took 220 ms); a longer span takes more rounds, each gathering the words'
/// lists again.
const MAX_BLOCKS: i64 = 16;

/// PostgreSQL: how many more ids than the density says the blocks asked for span (an estimate too
/// short costs another round).
const SPAN_MARGIN: f64 = 1.5;

/// A bound value of the search statements.
#[derive(Clone)]
enum Bind {
    Int(i64),
    Text(String),
}

/// „Matches `q` and `who` may see it“: the FROM … WHERE of the statements below, and its values:
/// `$1` the searcher, `$2` the words, the filters after.
struct Matching {
    /// `{source}` stands for the index table (or a part of it, see [`Store::window_postgres`]);
    /// PostgreSQL: `{match}` for the match condition ([`PG_MATCH`] unless narrowed).
    from_where: String,
    rank: String,
    binds: Vec<Bind>,
}

/// PostgreSQL: the match condition of [`Matching`]: the whole query (`$2`), through the index.
const PG_MATCH: &str = "case_search.doc @@ CAST($2 AS tsquery)";

impl Matching {
    /// PostgreSQL: the same matches with the GIN index asked for `index_query` only (one rare
    /// word and the searcher's `seen`), and that index condition (see [`Store::window_postgres`]'s
    /// last step): the whole query is checked on the rows it finds — `ts_match_vq` is `@@` as a
    /// function, which the planner never answers from an index.
    fn narrowed(&self, index_query: String) -> (Matching, String) {
        let mut binds: Vec<Bind> = self.binds.clone();
        binds.push(Bind::Text(index_query));
        let index_cond = format!("case_search.doc @@ CAST(${} AS tsquery)", binds.len());
        let whole = "ts_match_vq(case_search.doc, CAST($2 AS tsquery))";
        (Matching { from_where: self.from_where.replace("{match}", whole), rank: self.rank.clone(), binds }, index_cond)
    }
}

/// The least string above every string that begins with `prefix`, in the order of code points:
/// its last character the next one (the surrogates, which are no characters, stepped over; a
/// last character that is the last code point dropped, and the one before it stepped).
fn after_all_beginning(prefix: &str) -> String {
    let mut out = prefix.to_string();
    while let Some(last) = out.pop() {
        let next = if last == '\u{D7FF}' { Some('\u{E000}') } else { char::from_u32(last as u32 + 1) };
        if let Some(next) = next {
            out.push(next);
            return out;
        }
    }
    // Only last code points (no letter or digit, so never a term): no string is above all that
    // begin with it; the prefix followed by one more stands in.
    char::MAX.to_string().repeat(prefix.chars().count() + 1)
}

/// One's own Vorgänge (and those of the absent people in `covering`), and the waiting ones one
/// may still claim.
fn own(covering: &[EmployeeId]) -> String {
    let covered: String = covering.iter().map(|c| format!(" OR c.assignee = {}", c.0)).collect();
    format!(
        " AND (c.assignee = $1{covered} OR (c.status = 'waiting' AND {} AND EXISTS (
            SELECT 1 FROM employees me WHERE me.id = $1 AND {})))",
        is_candidate("c.id"),
        eligible_an("me")
    )
}

/// SQLite: the index expression of the words (`{cols} : ("word"* …)`), a long word cut to the
/// indexed prefix unless it is in `whole`, and — for a clerk — one of the `seen` terms.
fn sqlite_expr(terms: &[String], whole: &[String], seen: &[EmployeeId]) -> String {
    let head = |t: &String| {
        if whole.contains(t) { t.clone() } else { t.chars().take(PREFIX_INDEXED).collect::<String>() }
    };
    let words = terms.iter().map(|t| format!("\"{}\"*", head(t))).collect::<Vec<_>>().join(" ");
    let mut expr = format!("{{subject sender body attachments notes}} : ({words})");
    if !seen.is_empty() {
        let who = seen.iter().map(|e| format!("u{}", e.0)).collect::<Vec<_>>().join(" OR ");
        expr.push_str(&format!(" AND seen : ({who})"));
    }
    expr
}

/// Whose Vorgänge the index's `seen` narrows a search to (none: every Vorgang, for admins).
fn seen_of(who: &Searcher) -> Vec<EmployeeId> {
    match who {
        Searcher::All => vec![],
        Searcher::Employee(e) => vec![*e],
        Searcher::Covering(e, covering) => std::iter::once(*e).chain(covering.iter().copied()).collect(),
    }
}

/// SQLite: an indexed word with no `%` or `_` (terms hold letters and digits only) begins some
/// word of the entry's term columns: `LIKE` this over [`TERM_COLUMNS`].
fn begins_a_word(term: &str) -> String {
    format!("% {term}%")
}

/// SQLite: the entry's term columns as one text, each word after a space (for [`begins_a_word`]).
const TERM_COLUMNS: &str = "(' ' || case_search.subject || ' ' || case_search.sender || ' ' || case_search.body
    || ' ' || case_search.attachments || ' ' || case_search.notes)";

fn matching(backend: Backend, who: Searcher, q: &SearchQuery, terms: &[String], whole: &[String]) -> Matching {
    // Whose Vorgänge: the index's `seen` narrows the matches to them (see search.rs), the
    // condition checks the rule itself.
    let seen = seen_of(&who);
    let (employee, mut cond) = match who {
        // `$1` is bound either way; the condition names it so both databases know its type.
        Searcher::All => (0, " AND $1 = 0".to_string()),
        Searcher::Employee(e) => (e.0, own(&[])),
        // The ids come from the database (integers), never from the request.
        Searcher::Covering(e, covering) => (e.0, own(&covering)),
    };
    let mut binds = vec![Bind::Int(employee)];
    // SQLite: CROSS JOIN keeps the index the outer loop (left to itself, SQLite 3.51 made the
    // visibility's OR the outer loop and asked the index once per Vorgang: seconds at 20,000).
    let (from, rank) = match backend {
        Backend::Sqlite => {
            // The words in the text columns only (never `seen`'s terms), and — for a clerk — one
            // of the searcher's `seen` terms.
            binds.push(Bind::Text(sqlite_expr(terms, whole, &seen)));
            // A word longer than the prefix index, asked by its first letters: some indexed word
            // must begin with all of it.
            for t in terms.iter().filter(|t| t.chars().count() > PREFIX_INDEXED && !whole.contains(t)) {
                binds.push(Bind::Text(begins_a_word(t)));
                cond.push_str(&format!(" AND {TERM_COLUMNS} LIKE ${}", binds.len()));
            }
            ("{source} CROSS JOIN cases c ON c.id = case_search.rowid WHERE case_search MATCH $2", sqlite_rank(terms))
        }
        Backend::Postgres => {
            let mut query = pg_words(terms);
            if !seen.is_empty() {
                // One of the searcher's `seen` lexemes, in the same `tsvector` (migration 0032):
                // GIN intersects the word's short list with the searcher's long one itself. (As a
                // second GIN index it built a bitmap of all of a clerk's Vorgänge first: 37 of a
                // 62 ms statement at 1,000,000.) The ids come from the database (integers).
                query.push_str(&pg_seen(&seen));
            }
            binds.push(Bind::Text(query));
            (
                "{source} case_search JOIN cases c ON c.id = case_search.case_id WHERE {match}",
                "CAST(-ts_rank(case_search.doc, CAST($2 AS tsquery)) AS DOUBLE PRECISION)".to_string(),
            )
        }
    };
    let mut filter = |sql: &str, value: Bind| {
        binds.push(value);
        cond.push_str(&format!(" AND {sql} ${}", binds.len()));
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
    // Under an „Einschränkung der Verarbeitung“: found by nobody (issue 18, `holds.rs`).
    let hidden = crate::holds::hidden_sql("c.id");
    Matching { from_where: format!("{from} AND c.status <> 'moved' AND NOT {hidden}{cond}"), rank, binds }
}

/// PostgreSQL: the query words as a `tsquery` text, all of them: each word is its `tsquery`
/// fragment ([`Store::pg_fragments`]), the indexed words it begins or the word as a prefix.
fn pg_words(fragments: &[String]) -> String {
    fragments.join(" & ")
}

/// PostgreSQL: how many indexed words a query word may stand for, asked for each (migration 0034:
/// GIN skips through exact words' lists; a prefix makes it gather every list the prefix begins
/// into a bitmap first — 21–48 ms instead of 2–6 for „Kfz Auffahrunfall“, „Leitungswasser
/// Keller“, „Schäfer Hausrat“ at 1,000,000). A word that begins more is asked as a prefix.
const MAX_EXPANSION: i64 = 32;

/// PostgreSQL: ` & (one of the searcher's `seen` lexemes)`, or nothing for who sees every Vorgang.
fn pg_seen(seen: &[EmployeeId]) -> String {
    if seen.is_empty() {
        return String::new();
    }
    format!(" & ({})", seen.iter().map(|e| pg_lexeme(&seen_lexeme(e.0))).collect::<Vec<_>>().join(" | "))
}

/// PostgreSQL: blocks ([`BLOCK_BITS`]) a group has (`/block8/{case_id >> 17}`, migration 0033).
const GROUP: i64 = 8;

/// PostgreSQL: the lowest id of the blocks ([`BLOCK_BITS`]) from the one holding `edge - 1` down
/// to the one holding `edge - span`, at most [`MAX_BLOCKS`] of them, and down to a whole group
/// ([`GROUP`]) when more than half of one: [`pg_blocks`] asks for groups then, which GIN skips
/// through instead of walking (see [`GIN_BLOCK_ENTRY`]). 0 when that reaches the first block (or
/// `span` is not finite): every block below the edge.
fn blocks_from(edge: i64, span: f64) -> i64 {
    let top = (edge - 1).max(0) >> BLOCK_BITS;
    let lowest = if !span.is_finite() || span >= edge as f64 {
        top + 1 - MAX_BLOCKS
    } else {
        ((edge - span.ceil() as i64).max(0) >> BLOCK_BITS).max(top + 1 - MAX_BLOCKS)
    };
    let lowest = if top - lowest + 1 > GROUP / 2 { lowest - lowest.rem_euclid(GROUP) } else { lowest };
    lowest.max(0) << BLOCK_BITS
}

/// PostgreSQL: ` & (/block8/{g} | /block/{n} | …)`, the ids from `from` (the lowest id of a block)
/// below `edge`: the whole groups from `from` up (the top one may reach above the edge, whose ids
/// the statement leaves out anyway), the single blocks below them; nothing when `from` is 0 (every
/// block below the edge).
fn pg_blocks(from: i64, edge: i64) -> String {
    if from <= 0 {
        return String::new();
    }
    let (lowest, top) = (from >> BLOCK_BITS, (edge - 1) >> BLOCK_BITS);
    let mut lexemes = Vec::new();
    let mut next = top;
    // Whole groups, newest first, while their first block is not below `lowest`.
    while next >= lowest && next - next.rem_euclid(GROUP) >= lowest {
        let group = next.div_euclid(GROUP);
        lexemes.push(pg_lexeme(&group_lexeme(group)));
        next = group * GROUP - 1;
    }
    lexemes.extend((lowest..=next).rev().map(|b| pg_lexeme(&block_lexeme(b))));
    format!(" & ({})", lexemes.join(" | "))
}

/// PostgreSQL: the lexeme of `seen`'s term `u{id}` in the index's `tsvector` (migration 0032 maps
/// the column the same way): written like a file path, which PostgreSQL's `simple` parser kept as
/// one lexeme (Postkorb writes it itself since migration 0036) and no query word can begin
/// (`analyze.rs` splits words at `/`, and a query word matches the lexemes it begins), so a
/// search for „u3“ never finds employee 3's Vorgänge by it.
pub(super) fn seen_lexeme(employee: i64) -> String {
    format!("/seen/u{employee}")
}

/// PostgreSQL: the lexemes of the block and the group of blocks holding `case_id` (migration
/// 0033, see [`BLOCK_BITS`] and [`GROUP`]).
pub(super) fn block_lexemes(case_id: i64) -> [String; 2] {
    let block = case_id >> BLOCK_BITS;
    [block_lexeme(block), group_lexeme(block.div_euclid(GROUP))]
}

/// PostgreSQL: the lexeme of block `block` ([`BLOCK_BITS`]).
fn block_lexeme(block: i64) -> String {
    format!("/block/{block}")
}

/// PostgreSQL: the lexeme of the group `group` of blocks ([`GROUP`]).
fn group_lexeme(group: i64) -> String {
    format!("/block8/{group}")
}

/// PostgreSQL: a lexeme as `tsquery` text, quoted (a quote doubled, a backslash escaped): the
/// query is read as written (`CAST(… AS tsquery)`), no parser splits or changes a word, the same
/// as the `tsvector` Postkorb writes (migration 0036).
fn pg_lexeme(word: &str) -> String {
    format!("'{}'", word.replace('\\', "\\\\").replace('\'', "''"))
}

/// SQLite: the rank of a match (lower is better) — per query word, the weights of the columns
/// with a word it begins: subject 8, sender 4, attachment names 4, notes 2, text 1 (the same
/// order as PostgreSQL's `ts_rank` weights). Not FTS5's `bm25`: that counts, for its IDF, every
/// row each word matches — the whole list of „Schaden“ (half a million Vorgänge) and of the
/// searcher's `seen` term — on every search, 8–20 ms of a 1,000,000-Vorgang window that takes
/// 0.2 ms without it (this costs about 1 ms: it reads the window's 200 entries); and for a word in
/// half the Vorgänge its IDF is about zero anyway. The column holds the terms separated by single
/// spaces, so `' ' || term` is where a word begins. A term holds only letters and digits
/// (`analyze.rs`); the quote is doubled all the same.
fn sqlite_rank(terms: &[String]) -> String {
    const WEIGHTS: [(&str, u32); 5] = [("subject", 8), ("sender", 4), ("attachments", 4), ("notes", 2), ("body", 1)];
    let parts: Vec<String> = terms
        .iter()
        .flat_map(|t| {
            let t = t.replace('\'', "''");
            WEIGHTS.map(|(col, w)| format!("{w} * (instr(' ' || case_search.{col}, ' {t}') > 0)"))
        })
        .collect();
    format!("CAST(-({}) AS REAL)", parts.join(" + "))
}

pub(super) fn page_of(q: &SearchQuery) -> (u32, u32) {
    (q.per_page.clamp(1, super::MAX_PER_PAGE), q.page.max(1))
}

impl Store {
    /// Matching Vorgänge `m` newest first (below id `below`, if given): `limit` from `offset`,
    /// each with its rank (lower is better).
    async fn newest(&self, m: &Matching, below: Option<i64>, limit: u64, offset: u64) -> Result<Vec<(i64, f64)>> {
        self.newest_in(m, "case_search", below, limit, offset).await
    }

    /// [`Store::newest`] over `source`: the index table, or a part of it.
    async fn newest_in(
        &self,
        m: &Matching,
        source: &str,
        below: Option<i64>,
        limit: u64,
        offset: u64,
    ) -> Result<Vec<(i64, f64)>> {
        let key = key(self.backend);
        let below = below.map(|id| format!(" AND c.id < {id}")).unwrap_or_default();
        let sql = format!(
            "SELECT c.id, {} FROM {}{below} ORDER BY case_search.{key} DESC LIMIT {limit} OFFSET {offset}",
            m.rank,
            m.from_where.replace("{source}", source).replace("{match}", PG_MATCH)
        );
        // Not a cached (named) statement: PostgreSQL would plan it once for all words after five
        // runs (a generic plan), and a plan that suits a rare word (combine both GIN indexes, then
        // sort every match) costs 0.8 s for a frequent one (bench/search.py). Unnamed, it is
        // planned with this query's words each time (~3 ms), and the planner picks per word.
        let mut query = sqlx::query(sqlx::AssertSqlSafe(sql)).persistent(false);
        for b in &m.binds {
            query = match b {
                Bind::Int(v) => query.bind(*v),
                Bind::Text(v) => query.bind(v.as_str()),
            };
        }
        let rows = query.fetch_all(&self.pool).await?;
        rows.iter().map(|r| Ok((r.try_get(0)?, r.try_get(1)?))).collect()
    }

    /// The Vorgänge `who` may see that match `q`, a page of them: the newest [`WINDOW`] best
    /// first, then the older ones newest first. No words to search for (only stop words or
    /// signs): no hits.
    pub async fn search(&self, who: Searcher, q: &SearchQuery) -> Result<SearchPage> {
        self.search_walking(who, q, WALK).await
    }

    /// [`Store::search`] with PostgreSQL's first step reading the newest `walk` entries (tests
    /// use a short walk to reach the second step with few Vorgänge).
    #[doc(hidden)]
    pub async fn search_walking(&self, who: Searcher, q: &SearchQuery, walk: u64) -> Result<SearchPage> {
        let terms = query_terms(&q.text);
        let (per_page, page) = page_of(q);
        if terms.is_empty() {
            return Ok(SearchPage { hits: vec![], page, per_page, more: false });
        }
        let seen = seen_of(&who);
        let (whole, words) = match self.backend {
            Backend::Sqlite => (self.long_words_asked_whole(&seen, &terms).await?, terms.clone()),
            // A word that begins no indexed word: nothing matches all of them.
            Backend::Postgres => match self.pg_fragments(&terms).await? {
                Some(fragments) => (vec![], fragments),
                None => return Ok(SearchPage { hits: vec![], page, per_page, more: false }),
            },
        };
        let m = matching(self.backend, who, q, &words, &whole);
        // This page and one more row (is there a next page?), as positions in the whole order.
        let (start, end) = ((page as u64 - 1) * per_page as u64, page as u64 * per_page as u64 + 1);
        let mut window = match self.backend {
            Backend::Sqlite => self.newest(&m, None, WINDOW, 0).await?,
            Backend::Postgres => self.window_postgres(&m, &seen, &words, walk.max(1)).await?,
        };
        let oldest = window.last().map(|(id, _)| *id);
        let full = window.len() as u64 == WINDOW;
        window.sort_by(|a, b| a.1.total_cmp(&b.1).then(b.0.cmp(&a.0)));
        let mut ids: Vec<i64> =
            window.iter().skip(start as usize).take((end - start) as usize).map(|(id, _)| *id).collect();
        if full && end > WINDOW {
            let from = start.max(WINDOW);
            let older = self.newest(&m, oldest, end - from, from - WINDOW).await?;
            ids.extend(older.into_iter().map(|(id, _)| id));
        }
        let more = ids.len() as u64 > end - start - 1;
        ids.truncate(per_page as usize);
        Ok(SearchPage { hits: self.hits(&ids, &terms).await?, page, per_page, more })
    }

    /// SQLite: the words longer than the prefix index that FTS5 is asked for whole. Asked by
    /// their first six letters (an indexed prefix, one list walked newest first) with the whole
    /// word checked on each entry, a word that is rare among the words sharing those letters
    /// reads and rejects many entries on the way to the window: „Fahrraddiebstahl“ is one in 20
    /// of the „fahrra…“ entries at 1,000,000, 4,000 entries read (3 µs each) for 200 — 52 ms for
    /// „Leitung“. Asked whole, FTS5 merges the lists of every indexed word it begins, a cost in
    /// proportion to how often they occur: 0.6 ms for „Fahrraddiebstahl“, 30 ms for „gutacht“
    /// (400,000 Vorgänge, where the prefix walk is cheap). So the newest [`SAMPLE`] entries with
    /// the first letters (and the searcher's `seen` term) are read: if at most [`SAMPLE_RARE`]
    /// of them hold the whole word (≈ 16 %), its list is short next to the walk (see there), and
    /// the word is asked whole.
    async fn long_words_asked_whole(&self, seen: &[EmployeeId], terms: &[String]) -> Result<Vec<String>> {
        let mut whole = Vec::new();
        for t in terms.iter().filter(|t| t.chars().count() > PREFIX_INDEXED) {
            let sql = format!(
                "SELECT count(*) FROM (SELECT subject, sender, body, attachments, notes FROM case_search
                   WHERE case_search MATCH $1 ORDER BY rowid DESC LIMIT {SAMPLE}) case_search
                 WHERE {TERM_COLUMNS} LIKE $2"
            );
            let holding: i64 = sqlx::query_scalar(sqlx::AssertSqlSafe(sql))
                .persistent(false)
                .bind(sqlite_expr(std::slice::from_ref(t), &[], seen))
                .bind(begins_a_word(t))
                .fetch_one(&self.pool)
                .await?;
            if holding <= SAMPLE_RARE {
                whole.push(t.clone());
            }
        }
        Ok(whole)
    }

    /// PostgreSQL: the newest [`WINDOW`] matches. Its planner misjudges how many Vorgänge a prefix
    /// matches (`polic:*` estimated at 8,000, matched 145,000) and then combines the GIN indexes
    /// and sorts every match (0.5 s) where walking the newest entries would have found the window
    /// in 30 ms; and it walks the primary key backwards for a word that turns out to be rare (0.9
    /// s through 1,000,000 entries for a word that is not there). So the choice is made here:
    ///
    /// 1. The newest [`FIRST_WALK`] entries are walked backwards (a `LIMIT` under the `ORDER BY`
    ///    of the primary key, which no other plan can serve): frequent words fill the window there.
    /// 2. What was found estimates the rest: walking on costs the entries still needed at that
    ///    density; GIN costs the lists of the words it is asked for ([`list_entry`]; each
    ///    word's share of the first part estimates its list), the lists of the newest blocks
    ///    ([`BLOCK_BITS`]) that should hold the rest of the window at that density
    ///    ([`GIN_BLOCK_ENTRY`]), and a row for each match in them ([`GIN_ROW`]). With several
    ///    words GIN may be asked for one of them only, the others checked on its rows, where that
    ///    is cheaper (a frequent word's list is long).
    /// 3. The cheaper is done: a walk on (at most `walk` entries in all), or the matches GIN finds
    ///    in those blocks below the walked part (every match below it where nothing was found
    ///    yet), fenced (`OFFSET 0`) so the planner cannot walk the primary key instead. Then, if
    ///    the window is not full, the choice is made again below.
    async fn window_postgres(
        &self,
        m: &Matching,
        seen: &[EmployeeId],
        terms: &[String],
        walk: u64,
    ) -> Result<Vec<(i64, f64)>> {
        let first = walk.min(FIRST_WALK);
        let walked = |below: Option<i64>, n: u64| {
            let below = below.map(|id| format!(" WHERE case_id < {id}")).unwrap_or_default();
            format!("(SELECT * FROM case_search{below} ORDER BY case_id DESC LIMIT {n})")
        };
        let mut window = self.newest_in(m, &walked(None, first), None, WINDOW, 0).await?;
        if window.len() as u64 == WINDOW {
            return Ok(window);
        }
        let mut done = first;
        let Some(mut edge) = self.walk_edge(None, first).await? else { return Ok(window) };
        // Each word's matches among the newest entries, for GIN's lists (one word: the window's own).
        let sample = first.min(SHARES_SAMPLE);
        let (lists, theirs) = self.word_shares(terms, seen, sample).await?;
        // The searcher's share of the entries (one word's rows through GIN are its matches among
        // them).
        let theirs = theirs as f64 / sample as f64;
        loop {
            let left = (WINDOW - window.len() as u64) as f64;
            let density = window.len() as f64 / done as f64;
            let below = edge.max(0) as f64;
            let need = if density > 0.0 { left / density } else { f64::INFINITY };
            // What GIN may be asked for: every word (its rows: the matches), or one word with
            // the others checked on its rows (its rows: the word's share of the entries).
            let mut asks: Vec<(Option<&String>, f64, f64)> = vec![(
                None,
                lists.iter().map(|(t, n)| *n as f64 / sample as f64 * below * list_entry(t)).sum::<f64>(),
                density,
            )];
            if lists.len() > 1 {
                asks.extend(lists.iter().map(|(t, n)| {
                    let share = *n as f64 / sample as f64;
                    (Some(*t), share * below * list_entry(t), share * theirs)
                }));
            }
            // … for every match below the edge, or for the newest blocks below it, at most
            // MAX_BLOCKS a round, as many rounds as the density says the window needs.
            let reach = need * SPAN_MARGIN;
            let from = blocks_from(edge, reach);
            let span = (edge - from) as f64;
            let rounds = if from > 0 { (reach / span).ceil().max(1.0) } else { 1.0 };
            let mut best = (f64::INFINITY, None, 0);
            for (word, list, rows) in asks {
                let all = list + rows * below * GIN_ROW_ANYWHERE;
                if all < best.0 {
                    best = (all, word, 0);
                }
                let blocks = rounds * (list + span * block_entry(from, edge)) + rows * reach.min(below) * GIN_ROW;
                if from > 0 && blocks < best.0 {
                    best = (blocks, word, from);
                }
            }
            let rest = walk.saturating_sub(done);
            if rest > 0 && need <= best.0 {
                // Walk on: twice the entries the density says (the walk stops when the window
                // is full), within the walk's bound; then choose again.
                let n = ((need * 2.0).ceil() as u64).clamp(1, rest);
                let more = self.newest_in(m, &walked(Some(edge), n), None, left as u64, 0).await?;
                window.extend(more);
                done += n;
                match self.walk_edge(Some(edge), n).await? {
                    Some(e) if (window.len() as u64) < WINDOW => edge = e,
                    _ => return Ok(window),
                }
                continue;
            }
            // Below the walked part (the edge itself was walked): the matches GIN finds (in the
            // blocks from `from` on).
            let (_, word, from) = best;
            let words = match word {
                Some(t) => pg_words(std::slice::from_ref(t)),
                None => pg_words(terms),
            };
            let narrowed = (word.is_some() || from > 0)
                .then(|| m.narrowed(format!("{words}{}{}", pg_seen(seen), pg_blocks(from, edge))));
            let (m, index_cond) = narrowed.as_ref().map_or((m, PG_MATCH), |(m, c)| (m, c.as_str()));
            let gin = format!("(SELECT * FROM case_search WHERE case_id < {edge} AND {index_cond} OFFSET 0)");
            window.extend(self.newest_in(m, &gin, None, left as u64, 0).await?);
            if window.len() as u64 == WINDOW || from == 0 {
                return Ok(window);
            }
            done += (edge - from) as u64;
            edge = from;
        }
    }

    /// PostgreSQL: the id of the oldest of the `n` newest index entries (below `below`), or none
    /// if there are not that many: the edge of a walk.
    async fn walk_edge(&self, below: Option<i64>, n: u64) -> Result<Option<i64>> {
        let below = below.map(|id| format!(" WHERE case_id < {id}")).unwrap_or_default();
        Ok(sqlx::query_scalar(sqlx::AssertSqlSafe(format!(
            "SELECT case_id FROM case_search{below} ORDER BY case_id DESC LIMIT 1 OFFSET {}",
            n - 1
        )))
        .persistent(false)
        .fetch_optional(&self.pool)
        .await?)
    }

    /// PostgreSQL: each query word's `tsquery` fragment: the indexed words it begins (from
    /// `search_words`, migration 0034, and its queue, 0038, which hold every word of the index), at most
    /// [`MAX_EXPANSION`] of them, or else the word as a prefix (`word:*`); none if some query
    /// word begins no indexed word.
    async fn pg_fragments(&self, terms: &[String]) -> Result<Option<Vec<String>>> {
        let mut fragments = Vec::with_capacity(terms.len());
        for t in terms {
            // The words from `t` up to the first string after all that begin with it: in the
            // column's "C" collation (bytes, the order of code points) exactly those beginning
            // with `t`. A range, not `LIKE $1`: PostgreSQL keeps one plan for it (an index range
            // scan), where a bound LIKE pattern had it plan the statement on every search.
            // The words queued for the list (migration 0038: entries committed, their words not
            // drained yet) count as the list's; the queue is short, and empty between imports.
            let words: Vec<String> = sqlx::query_scalar(sqlx::AssertSqlSafe(format!(
                r#"SELECT word FROM (
                       (SELECT word FROM search_words WHERE word >= $1 AND word < $2 ORDER BY word LIMIT {n})
                       UNION
                       (SELECT w COLLATE "C" FROM search_words_queue q, unnest(string_to_array(q.words, ' ')) w
                         WHERE w COLLATE "C" >= $1 AND w COLLATE "C" < $2)
                   ) x ORDER BY word LIMIT {n}"#,
                n = MAX_EXPANSION + 1
            )))
            .bind(t)
            .bind(after_all_beginning(t))
            .fetch_all(&self.pool)
            .await?;
            fragments.push(match words.len() as i64 {
                0 => return Ok(None),
                n if n <= MAX_EXPANSION => {
                    format!("({})", words.iter().map(|w| pg_lexeme(w)).collect::<Vec<_>>().join(" | "))
                }
                _ => format!("{}:*", pg_lexeme(t)),
            });
        }
        Ok(Some(fragments))
    }

    /// PostgreSQL: each query word with how many of the newest `sample` entries hold it (every
    /// entry, not only the searcher's: GIN gathers a word's whole list), and how many of them
    /// the searcher's `seen` lexemes are in (all of them for who sees every Vorgang).
    async fn word_shares<'t>(
        &self,
        terms: &'t [String],
        seen: &[EmployeeId],
        sample: u64,
    ) -> Result<(Vec<(&'t String, i64)>, i64)> {
        let count = |i: usize| format!("COUNT(*) FILTER (WHERE doc @@ CAST(${i} AS tsquery))");
        let mut counts: Vec<String> = (1..=terms.len()).map(count).collect();
        if !seen.is_empty() {
            counts.push(count(terms.len() + 1));
        }
        let sql = format!(
            "SELECT {} FROM (SELECT doc FROM case_search ORDER BY case_id DESC LIMIT {sample}) s",
            counts.join(", ")
        );
        let mut query = sqlx::query(sqlx::AssertSqlSafe(sql)).persistent(false);
        for t in terms {
            query = query.bind(pg_words(std::slice::from_ref(t)));
        }
        if !seen.is_empty() {
            // `pg_seen` without its leading ` & `.
            query = query.bind(pg_seen(seen).trim_start_matches(" & ").to_string());
        }
        let row = query.fetch_one(&self.pool).await?;
        let words = terms.iter().enumerate().map(|(i, t)| Ok((t, row.try_get::<i64, _>(i)?))).collect::<Result<_>>()?;
        let theirs = if seen.is_empty() { sample as i64 } else { row.try_get::<i64, _>(terms.len())? };
        Ok((words, theirs))
    }

    /// The Vorgänge `ids`, in that order, with their marked-up parts.
    async fn hits(&self, ids: &[i64], terms: &[String]) -> Result<Vec<SearchHit>> {
        if ids.is_empty() {
            return Ok(Vec::new());
        }
        let key = key(self.backend);
        // SQLite: the Vorgänge first, then their entries by rowid (never a scan of the index).
        let join = if self.backend == Backend::Sqlite { "CROSS JOIN" } else { "JOIN" };
        let list = ids.iter().map(i64::to_string).collect::<Vec<_>>().join(",");
        // PostgreSQL: the ids as one bound text, so the statement is the same every time — kept
        // prepared, and planned once instead of on every search (its subqueries made planning
        // dearer than running it: 0.75 against 0.5 ms at 1,000,000 Vorgänge, bench/search.py).
        let (ids_cond, bind) = match self.backend {
            Backend::Sqlite => (format!("c.id IN ({list})"), None),
            Backend::Postgres => ("c.id = ANY(CAST(string_to_array($1, ',') AS BIGINT[]))".to_string(), Some(list)),
        };
        let sql = format!(
            "SELECT {}, s.shown FROM cases c {join} case_search s ON s.{key} = c.id
               LEFT JOIN employees e ON e.id = c.assignee WHERE {ids_cond}",
            summary_columns!()
        );
        let mut query = sqlx::query(sqlx::AssertSqlSafe(sql));
        if let Some(list) = bind {
            query = query.bind(list);
        }
        let rows = query.fetch_all(&self.pool).await?;
        let mut hits = Vec::with_capacity(rows.len());
        for r in &rows {
            let case = summary_from_row(r)?;
            let shown: String = r.try_get("shown")?;
            let from = match &case.from_name {
                Some(n) if !n.is_empty() => format!("{n} <{}>", case.from_addr),
                _ => case.from_addr.clone(),
            };
            hits.push(SearchHit {
                subject_html: highlight::mark(&case.subject, terms),
                from_html: highlight::mark(&from, terms),
                snippet_html: highlight::snippet(&crate::seal::MailKey::open_text(self.mail_key(), &shown), terms),
                case,
            });
        }
        hits.sort_by_key(|h| ids.iter().position(|id| *id == h.case.id));
        Ok(hits)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use proptest::prelude::*;

    /// A lexeme of the query is quoted as `tsquery` reads it (a quote doubled, a backslash
    /// escaped), so it is read as written, with no operator in it.
    #[test]
    fn a_query_lexeme_is_quoted() {
        assert_eq!(pg_lexeme("kell"), "'kell'");
        assert_eq!(pg_lexeme("o'brien"), "'o''brien'");
        assert_eq!(pg_lexeme("a\\b"), "'a\\\\b'");
        assert_eq!(pg_lexeme("/seen/u5"), "'/seen/u5'");
        assert_eq!(pg_blocks(9 << BLOCK_BITS, 11 << BLOCK_BITS), " & ('/block/10' | '/block/9')");
        assert_eq!(pg_blocks(8 << BLOCK_BITS, 10 << BLOCK_BITS), " & ('/block8/1')");
    }

    #[test]
    fn the_bound_after_a_prefix_is_its_last_character_stepped() {
        assert_eq!(after_all_beginning("kell"), "kelm");
        assert_eq!(after_all_beginning("kö"), "k÷");
        assert_eq!(after_all_beginning("a\u{D7FF}"), "a\u{E000}");
        assert_eq!(after_all_beginning("a\u{10FFFF}"), "b");
    }

    proptest! {
        /// Byte order is the order of code points: every string beginning with the prefix lies
        /// between it and the bound, as PostgreSQL's "C" collation compares them.
        #[test]
        fn every_string_beginning_with_the_prefix_is_below_the_bound(p in "\\PC{1,6}", rest in "\\PC{0,6}", other in "\\PC{1,8}") {
            let bound = after_all_beginning(&p);
            let w = format!("{p}{rest}");
            prop_assert!(p.as_bytes() <= w.as_bytes() && w.as_bytes() < bound.as_bytes());
            // and a string that does not begin with it is outside
            if !other.starts_with(&p) {
                prop_assert!(other.as_bytes() < p.as_bytes() || other.as_bytes() >= bound.as_bytes());
            }
        }
    }
}
