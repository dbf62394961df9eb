//! Moving a whole database: SQLite → PostgreSQL (`postkorb migrate-db`), per-table counts and
//! checksums to prove nothing was lost, and the SQLite backup snapshot.
//!
//! The tables and columns are read from the SQLite schema itself (both migration folders build
//! the same tables), so tables added by later migrations are copied without changes here.

use sha2::{Digest, Sha256};
use sqlx::any::AnyRow;
use sqlx::{Executor, Row};

use crate::{Backend, Result, Store, StoreError};

/// Rows per SELECT page and per multi-row INSERT.
const PAGE: i64 = 200;

#[derive(Clone, Copy, Debug, PartialEq, Eq)]
enum Kind {
    Int,
    Real,
    Text,
    Bytes,
}

#[derive(Clone, Debug)]
struct Table {
    name: String,
    columns: Vec<(String, Kind)>,
    /// Primary key columns in key order (empty: none).
    key: Vec<String>,
    references: Vec<String>,
}

#[derive(Clone, Debug, PartialEq)]
enum Value {
    Null,
    Int(i64),
    Real(f64),
    Text(String),
    Bytes(Vec<u8>),
}

/// One table's row count and content checksum (SHA-256 over the sorted row hashes, so the
/// backends' different text orderings do not matter).
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct TableSum {
    pub table: String,
    pub rows: i64,
    pub checksum: String,
}

impl Store {
    /// Copies every row of this SQLite database into `target`, an empty PostgreSQL database at
    /// the same schema version: one transaction, tables in foreign-key order and rows in key
    /// order, sequences reset after the highest id. Then compares counts and checksums of every
    /// table on both sides and returns them.
    pub async fn copy_into(&self, target: &Store) -> Result<Vec<TableSum>> {
        if self.backend != Backend::Sqlite || target.backend != Backend::Postgres {
            return Err(StoreError::Invalid("migrate-db copies a SQLite database into PostgreSQL".into()));
        }
        if self.migrations().await? != target.migrations().await? {
            return Err(StoreError::Invalid("source and target are at different schema versions".into()));
        }
        let tables = self.tables().await?;
        for t in &tables {
            let sql = format!("SELECT COUNT(*) FROM {}", t.name);
            let n: i64 = sqlx::query(sqlx::AssertSqlSafe(sql)).fetch_one(&target.pool).await?.get(0);
            if n > 0 {
                return Err(StoreError::Invalid(format!(
                    "the target database is not empty (table {} has {n} rows): migrate into a new, empty database",
                    t.name
                )));
            }
        }
        let mut tx = target.begin_write().await?;
        for t in &tables {
            let mut pager = Pager::new(t);
            loop {
                let rows = pager.next(self).await?;
                if rows.is_empty() {
                    break;
                }
                // At most PAGE rows per INSERT: a table without an integer key is read at once, and
                // PostgreSQL takes at most 65,535 parameters in one statement (case_candidates has
                // a row per Vorgang and candidate: 32,768 rows were too many).
                for chunk in rows.chunks(PAGE as usize) {
                    insert(&mut tx, t, chunk).await?;
                }
            }
            if t.key == ["id"] && t.columns.iter().any(|(c, k)| c == "id" && *k == Kind::Int) {
                let sql = format!(
                    "SELECT setval(pg_get_serial_sequence('{0}', 'id'), COALESCE((SELECT MAX(id) FROM {0}), 0) + 1, false)",
                    t.name
                );
                tx.execute(sqlx::AssertSqlSafe(sql)).await?;
            }
        }
        tx.commit().await?;
        let here = self.sums(&tables).await?;
        let there = target.sums(&tables).await?;
        for (a, b) in here.iter().zip(&there) {
            if a != b {
                return Err(StoreError::Invalid(format!(
                    "table {} differs after the copy: {} rows ({}) here, {} rows ({}) in the target",
                    a.table, a.rows, a.checksum, b.rows, b.checksum
                )));
            }
        }
        Ok(here)
    }

    /// Row count and checksum of every table (read with the SQLite schema's column types; on
    /// PostgreSQL pass the tables of the SQLite side via `copy_into`).
    pub async fn table_sums(&self) -> Result<Vec<TableSum>> {
        if self.backend != Backend::Sqlite {
            return Err(StoreError::Invalid("table_sums reads the schema of a SQLite database".into()));
        }
        let tables = self.tables().await?;
        self.sums(&tables).await
    }

    /// A consistent snapshot of a SQLite database in a new file (`VACUUM INTO`), taken while
    /// Postkorb runs.
    pub async fn backup_sqlite(&self, file: &std::path::Path) -> Result<()> {
        if self.backend != Backend::Sqlite {
            return Err(StoreError::Invalid("backup_sqlite needs a SQLite database".into()));
        }
        if file.exists() {
            return Err(StoreError::Invalid(format!("{} exists already", file.display())));
        }
        sqlx::query("VACUUM INTO $1").bind(file.to_string_lossy().into_owned()).execute(&self.pool).await?;
        Ok(())
    }

    /// Moves everything from SQLite's write-ahead log into the database file (no-op elsewhere).
    pub async fn checkpoint(&self) -> Result<()> {
        if self.backend == Backend::Sqlite {
            sqlx::query("PRAGMA wal_checkpoint(TRUNCATE)").fetch_all(&self.pool).await?;
        }
        Ok(())
    }

    async fn migrations(&self) -> Result<Vec<i64>> {
        let rows = sqlx::query("SELECT version FROM _sqlx_migrations WHERE success ORDER BY version")
            .fetch_all(&self.pool)
            .await;
        // SQLite stores the flag as an integer, PostgreSQL as a boolean.
        let rows = match rows {
            Ok(rows) => rows,
            Err(_) => {
                sqlx::query("SELECT version FROM _sqlx_migrations WHERE success = 1 ORDER BY version")
                    .fetch_all(&self.pool)
                    .await?
            }
        };
        Ok(rows.iter().map(|r| r.get(0)).collect())
    }

    /// The SQLite schema: every table but SQLite's and sqlx's own, parents before children.
    /// Not the search index (`case_search` and FTS5's tables, migration 0020): its layout differs
    /// by backend, and the target builds its own (`search reindex`, or `serve` in the background).
    async fn tables(&self) -> Result<Vec<Table>> {
        let names: Vec<String> = sqlx::query(
            "SELECT name FROM sqlite_master WHERE type = 'table' AND name NOT LIKE 'sqlite_%' \
             AND name <> '_sqlx_migrations' AND name NOT LIKE 'case_search%' ORDER BY name",
        )
        .fetch_all(&self.pool)
        .await?
        .iter()
        .map(|r| r.get(0))
        .collect();
        let mut tables = Vec::new();
        for name in names {
            let info = sqlx::query(sqlx::AssertSqlSafe(format!(
                "SELECT name, type, pk FROM pragma_table_info('{name}') ORDER BY cid"
            )))
            .fetch_all(&self.pool)
            .await?;
            let columns = info.iter().map(|r| (r.get::<String, _>(0), kind(&r.get::<String, _>(1)))).collect();
            let mut key: Vec<(i64, String)> =
                info.iter().filter(|r| r.get::<i64, _>(2) > 0).map(|r| (r.get(2), r.get(0))).collect();
            key.sort();
            let references = sqlx::query(sqlx::AssertSqlSafe(format!(
                "SELECT DISTINCT \"table\" FROM pragma_foreign_key_list('{name}')"
            )))
            .fetch_all(&self.pool)
            .await?
            .iter()
            .map(|r| r.get::<String, _>(0))
            .filter(|t| *t != name)
            .collect();
            tables.push(Table { name, columns, key: key.into_iter().map(|(_, c)| c).collect(), references });
        }
        parents_first(tables)
    }

    async fn sums(&self, tables: &[Table]) -> Result<Vec<TableSum>> {
        let mut out = Vec::new();
        for t in tables {
            let mut hashes: Vec<[u8; 32]> = Vec::new();
            let mut pager = Pager::new(t);
            loop {
                let rows = pager.next(self).await?;
                if rows.is_empty() {
                    break;
                }
                hashes.extend(rows.iter().map(|r| row_hash(r)));
            }
            hashes.sort_unstable();
            let mut all = Sha256::new();
            for h in &hashes {
                all.update(h);
            }
            let checksum = all.finalize().iter().map(|b| format!("{b:02x}")).collect();
            out.push(TableSum { table: t.name.clone(), rows: hashes.len() as i64, checksum });
        }
        Ok(out)
    }
}

/// Reads a table page by page: by id when the key is one integer column, all at once otherwise
/// (link tables: a few integers per row, but case_candidates has a row per Vorgang and candidate).
struct Pager<'a> {
    table: &'a Table,
    after: Option<i64>,
    done: bool,
}

impl<'a> Pager<'a> {
    fn new(table: &'a Table) -> Pager<'a> {
        Pager { table, after: Some(i64::MIN), done: false }
    }

    async fn next(&mut self, store: &Store) -> Result<Vec<Vec<Value>>> {
        if self.done {
            return Ok(Vec::new());
        }
        let t = self.table;
        let cols: Vec<&str> = t.columns.iter().map(|(c, _)| c.as_str()).collect();
        let by_id = t.key.len() == 1 && t.columns.iter().any(|(c, k)| *c == t.key[0] && *k == Kind::Int);
        let rows: Vec<AnyRow> = if by_id {
            let key = &t.key[0];
            let sql =
                format!("SELECT {} FROM {} WHERE {key} > $1 ORDER BY {key} LIMIT {PAGE}", cols.join(", "), t.name);
            sqlx::query(sqlx::AssertSqlSafe(sql)).bind(self.after.unwrap_or(i64::MIN)).fetch_all(&store.pool).await?
        } else {
            self.done = true;
            let order = if t.key.is_empty() { cols.join(", ") } else { t.key.join(", ") };
            let sql = format!("SELECT {} FROM {} ORDER BY {order}", cols.join(", "), t.name);
            sqlx::query(sqlx::AssertSqlSafe(sql)).fetch_all(&store.pool).await?
        };
        let values = rows.iter().map(|r| read_row(t, r)).collect::<Result<Vec<_>>>()?;
        if by_id {
            let pos = t.columns.iter().position(|(c, _)| *c == t.key[0]).unwrap_or(0);
            match values.last().map(|v| &v[pos]) {
                Some(Value::Int(id)) => self.after = Some(*id),
                _ => self.done = true,
            }
        }
        Ok(values)
    }
}

fn kind(declared: &str) -> Kind {
    let d = declared.to_ascii_uppercase();
    if d.contains("INT") {
        Kind::Int
    } else if d.contains("BLOB") || d.contains("BYTEA") {
        Kind::Bytes
    } else if d.contains("REAL") || d.contains("FLOA") || d.contains("DOUB") {
        Kind::Real
    } else {
        Kind::Text
    }
}

fn read_row(t: &Table, r: &AnyRow) -> Result<Vec<Value>> {
    t.columns
        .iter()
        .enumerate()
        .map(|(i, (_, k))| {
            let v = match k {
                Kind::Int => r.try_get::<Option<i64>, _>(i)?.map(Value::Int),
                Kind::Real => r.try_get::<Option<f64>, _>(i)?.map(Value::Real),
                Kind::Text => r.try_get::<Option<String>, _>(i)?.map(Value::Text),
                Kind::Bytes => r.try_get::<Option<Vec<u8>>, _>(i)?.map(Value::Bytes),
            };
            Ok(v.unwrap_or(Value::Null))
        })
        .collect()
}

async fn insert(tx: &mut sqlx::Transaction<'_, sqlx::Any>, t: &Table, rows: &[Vec<Value>]) -> Result<()> {
    let cols: Vec<&str> = t.columns.iter().map(|(c, _)| c.as_str()).collect();
    let width = cols.len();
    let tuples: Vec<String> = (0..rows.len())
        .map(|r| format!("({})", (1..=width).map(|c| format!("${}", r * width + c)).collect::<Vec<_>>().join(", ")))
        .collect();
    let sql = format!("INSERT INTO {} ({}) VALUES {}", t.name, cols.join(", "), tuples.join(", "));
    let mut q = sqlx::query(sqlx::AssertSqlSafe(sql));
    for row in rows {
        for (v, (_, k)) in row.iter().zip(&t.columns) {
            q = match (v, k) {
                (Value::Int(x), _) => q.bind(*x),
                (Value::Real(x), _) => q.bind(*x),
                (Value::Text(x), _) => q.bind(x.clone()),
                (Value::Bytes(x), _) => q.bind(x.clone()),
                (Value::Null, Kind::Int) => q.bind(None::<i64>),
                (Value::Null, Kind::Real) => q.bind(None::<f64>),
                (Value::Null, Kind::Text) => q.bind(None::<String>),
                (Value::Null, Kind::Bytes) => q.bind(None::<Vec<u8>>),
            };
        }
    }
    q.execute(&mut **tx).await?;
    Ok(())
}

fn row_hash(row: &[Value]) -> [u8; 32] {
    let mut h = Sha256::new();
    for v in row {
        let (tag, bytes): (u8, Vec<u8>) = match v {
            Value::Null => (0, Vec::new()),
            Value::Int(x) => (1, x.to_be_bytes().to_vec()),
            Value::Real(x) => (2, x.to_bits().to_be_bytes().to_vec()),
            Value::Text(x) => (3, x.as_bytes().to_vec()),
            Value::Bytes(x) => (4, x.clone()),
        };
        h.update([tag]);
        h.update((bytes.len() as u64).to_be_bytes());
        h.update(&bytes);
    }
    h.finalize().into()
}

/// Orders tables so every table comes after the tables it references.
fn parents_first(mut rest: Vec<Table>) -> Result<Vec<Table>> {
    let mut out: Vec<Table> = Vec::new();
    while !rest.is_empty() {
        let ready = rest.iter().position(|t| t.references.iter().all(|r| out.iter().any(|o| o.name == *r)));
        match ready {
            Some(i) => out.push(rest.remove(i)),
            None => {
                let names: Vec<&str> = rest.iter().map(|t| t.name.as_str()).collect();
                return Err(StoreError::Invalid(format!("circular foreign keys between {}", names.join(", "))));
            }
        }
    }
    Ok(out)
}
