//! The two migration folders stay in step: the same file names, the same DDL once the type names
//! are normalised, and — after all migrations — the same tables and columns on both backends.

use std::collections::BTreeSet;
use std::path::{Path, PathBuf};

use postkorb_store::Store;
use sqlx::Row;

/// Migrations whose DDL differs on purpose, and why. Their effect is still compared through the
/// schema both backends end up with (`both_backends_end_with_the_same_tables_and_columns`).
const DIFFERENT_ON_PURPOSE: &[(&str, &str)] = &[
    ("0013_tokens_sessions.sql", "SQLite cannot change a primary key in place: it rebuilds api_tokens"),
    ("0017_office.sql", "the audit entries of cleared duplicates: JSON and clock functions differ by name"),
    ("0020_search.sql", "the search index: an FTS5 table and a trigger on SQLite, a tsvector with GIN on PostgreSQL"),
    (
        "0026_retention.sql",
        "the deleted Vorgang's terms leave the search index at once: FTS5's secure-delete on SQLite, nothing to do for PostgreSQL's tsvector",
    ),
    (
        "0025_search_seen.sql",
        "who may see a Vorgang in the search index: FTS5 cannot add a column (the table is copied), PostgreSQL adds one with a GIN index on its terms",
    ),
    (
        "0032_search_seen_in_doc.sql",
        "who may see a Vorgang moves into PostgreSQL's tsvector; SQLite's FTS5 has it as a column of its index",
    ),
    (
        "0034_search_words.sql",
        "PostgreSQL keeps the words of its index in a table with triggers; SQLite's FTS5 has its own list of words",
    ),
    (
        "0035_search_words_faster_insert.sql",
        "PostgreSQL's trigger that keeps its list of the index's words, made cheaper; SQLite has no such list",
    ),
    (
        "0036_search_doc_written.sql",
        "Postkorb writes PostgreSQL's tsvector (no generated column, a function and a trigger for updates); SQLite's FTS5 takes the terms as they are",
    ),
    ("0037_fingerprint_blake3.sql", "the time now plus 30 days in each dialect (EXTRACT(EPOCH …) / julianday)"),
    (
        "0038_search_words_queue.sql",
        "the queue of new words for PostgreSQL's list of the index's words; FTS5 keeps its own",
    ),
    (
        "0033_search_blocks.sql",
        "each entry's block of Vorgänge by id goes into PostgreSQL's tsvector; SQLite's FTS5 walks its lists newest first already",
    ),
    (
        "0031_search_lean.sql",
        "the search index's FTS5 options (detail = column, ascii tokenizer) on SQLite; PostgreSQL's tsvector stays",
    ),
    (
        "0027_audit_append_only.sql",
        "the audit log's append-only triggers: RAISE(ABORT) on SQLite, a plpgsql function (and TRUNCATE) on PostgreSQL",
    ),
];

/// Tables that differ on purpose between the backends, and so are left out of the comparison:
/// the search index (`case_search`, with FTS5's own tables on SQLite; migration 0020) and
/// PostgreSQL's list of its words (`search_words`, `search_words_gone`; migration 0034).
fn compared(table: &str) -> bool {
    !table.starts_with("case_search") && !table.starts_with("search_words")
}

fn folder(backend: &str) -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("migrations").join(backend)
}

fn file_names(backend: &str) -> Vec<String> {
    let mut names: Vec<String> = std::fs::read_dir(folder(backend))
        .unwrap()
        .map(|e| e.unwrap().file_name().to_string_lossy().into_owned())
        .collect();
    names.sort();
    names
}

/// The statements of a migration without comments and layout, with SQLite's and PostgreSQL's
/// names for the same column types made one.
fn normalised(sql: &str) -> Vec<String> {
    let without_comments: String =
        sql.lines().map(|l| l.split("--").next().unwrap_or("")).collect::<Vec<_>>().join(" ");
    without_comments
        .split(';')
        .map(|statement| {
            // Punctuation apart, so `BIGINT,` and `BIGINT)` are words too.
            statement
                .replace('(', " ( ")
                .replace(')', " ) ")
                .replace(',', " , ")
                .split_whitespace()
                .collect::<Vec<_>>()
                .join(" ")
                .replace("INTEGER PRIMARY KEY AUTOINCREMENT", "<id>")
                .replace("BIGSERIAL PRIMARY KEY", "<id>")
                .split(' ')
                .map(|word| match word {
                    "INTEGER" | "BIGINT" => "<int>",
                    "BLOB" | "BYTEA" => "<bytes>",
                    other => other,
                })
                .collect::<Vec<_>>()
                .join(" ")
        })
        .filter(|s| !s.is_empty())
        .collect()
}

#[test]
fn both_folders_hold_the_same_migration_files() {
    let sqlite = file_names("sqlite");
    assert!(!sqlite.is_empty(), "no migrations found in {}", folder("sqlite").display());
    assert_eq!(sqlite, file_names("postgres"), "migrations/sqlite and migrations/postgres differ in file names");
}

#[test]
fn both_folders_hold_the_same_ddl_once_type_names_are_normalised() {
    let mut differ = Vec::new();
    for name in file_names("sqlite") {
        let read = |backend: &str| std::fs::read_to_string(folder(backend).join(&name)).unwrap();
        let (sqlite, postgres) = (normalised(&read("sqlite")), normalised(&read("postgres")));
        let on_purpose = DIFFERENT_ON_PURPOSE.iter().any(|(file, _)| *file == name);
        match (sqlite == postgres, on_purpose) {
            (false, false) => differ.push(format!("{name}:\n  sqlite:   {sqlite:?}\n  postgres: {postgres:?}")),
            (true, true) => differ.push(format!("{name} is listed in DIFFERENT_ON_PURPOSE but no longer differs")),
            _ => {}
        }
    }
    assert!(differ.is_empty(), "the migration folders drifted apart:\n{}", differ.join("\n"));
}

/// Table, column, normalised type and whether it may be NULL.
type Column = (String, String, String, bool);

async fn sqlite_columns(store: &Store) -> BTreeSet<Column> {
    let rows = sqlx::query(
        "SELECT m.name, p.name, p.type, p.\"notnull\", p.pk FROM sqlite_master m JOIN pragma_table_info(m.name) p \
         WHERE m.type = 'table' AND m.name NOT LIKE 'sqlite_%' AND m.name NOT LIKE '_sqlx%'",
    )
    .fetch_all(store.pool())
    .await
    .unwrap();
    rows.iter()
        .filter(|r| compared(&r.get::<String, _>(0)))
        .map(|r| {
            let nullable = r.get::<i64, _>(3) == 0 && r.get::<i64, _>(4) == 0;
            (r.get(0), r.get(1), normal_type(&r.get::<String, _>(2)), nullable)
        })
        .collect()
}

async fn postgres_columns(store: &Store) -> BTreeSet<Column> {
    let rows = sqlx::query(
        "SELECT table_name::text, column_name::text, data_type::text, is_nullable::text \
         FROM information_schema.columns WHERE table_schema = 'public' AND table_name NOT LIKE '_sqlx%'",
    )
    .fetch_all(store.pool())
    .await
    .unwrap();
    rows.iter()
        .filter(|r| compared(&r.get::<String, _>(0)))
        .map(|r| (r.get(0), r.get(1), normal_type(&r.get::<String, _>(2)), r.get::<String, _>(3) == "YES"))
        .collect()
}

fn normal_type(name: &str) -> String {
    match name.to_ascii_lowercase().as_str() {
        "integer" | "bigint" => "int".into(),
        "blob" | "bytea" => "bytes".into(),
        other => other.into(),
    }
}

#[tokio::test]
async fn both_backends_end_with_the_same_tables_and_columns() {
    let Some(pg_url) = postkorb_testkit::postgres::database("the schema comparison of the migrations").await else {
        return;
    };
    let dir = tempfile::tempdir().unwrap();
    let sqlite = Store::open(&format!("sqlite:{}", dir.path().join("t.db").display())).await.unwrap();
    let postgres = Store::open(&pg_url).await.unwrap();
    let (sqlite, postgres) = (sqlite_columns(&sqlite).await, postgres_columns(&postgres).await);
    assert!(sqlite.len() > 50, "too few columns read: {sqlite:?}");
    let only = |a: &BTreeSet<Column>, b: &BTreeSet<Column>| a.difference(b).cloned().collect::<Vec<_>>();
    assert!(
        sqlite == postgres,
        "the schemas differ\nonly in SQLite: {:?}\nonly in PostgreSQL: {:?}",
        only(&sqlite, &postgres),
        only(&postgres, &sqlite)
    );
}

/// PostgreSQL: a large table left without a visibility map (as a migration that rewrites a table
/// leaves it: 0032 and 0033 rewrite the search index's) is vacuumed in the background when the
/// store opens, so index-only scans stop reading every row; small tables are left to autovacuum.
#[tokio::test]
async fn a_large_table_rewritten_without_a_visibility_map_is_vacuumed_when_the_store_opens() {
    let Some(url) = postkorb_testkit::postgres::database("the vacuum after a rewrite").await else { return };
    let store = Store::open(&url).await.unwrap();
    // 2,000 pages (16 MB), then rewritten as a migration would (a new file, no visibility map);
    // and a small one, also rewritten.
    for (table, rows) in [("rewritten_big", 20_000), ("rewritten_small", 100)] {
        for sql in [
            // Without autovacuum, which would otherwise come for the inserted rows on its own.
            format!("CREATE TABLE {table} (id bigint PRIMARY KEY, filler text) WITH (autovacuum_enabled = false)"),
            format!("INSERT INTO {table} SELECT g, repeat('x', 700) FROM generate_series(1, {rows}) g"),
            format!("VACUUM {table}"),
            format!("ALTER TABLE {table} ADD COLUMN doubled bigint GENERATED ALWAYS AS (id * 2) STORED"),
            format!("ANALYZE {table}"),
        ] {
            sqlx::query(sqlx::AssertSqlSafe(sql)).execute(store.pool()).await.unwrap();
        }
    }
    let visible = |table: &'static str| {
        let pool = store.pool().clone();
        async move {
            let sql = format!("SELECT relallvisible::bigint, relpages::bigint FROM pg_class WHERE relname = '{table}'");
            let r = sqlx::query(sqlx::AssertSqlSafe(sql)).fetch_one(&pool).await.unwrap();
            (r.get::<i64, _>(0), r.get::<i64, _>(1))
        }
    };
    let (all_visible, pages) = visible("rewritten_big").await;
    assert_eq!(all_visible, 0, "the rewrite left no visibility map");
    assert!(pages > 1000, "{pages} pages");
    let _again = Store::open(&url).await.unwrap();
    let mut waited = 0;
    while visible("rewritten_big").await.0 < pages {
        assert!(waited < 300, "not vacuumed after 30 s: {:?}", visible("rewritten_big").await);
        tokio::time::sleep(std::time::Duration::from_millis(100)).await;
        waited += 1;
    }
    assert_eq!(visible("rewritten_small").await.0, 0, "a small table is left to autovacuum");
}
