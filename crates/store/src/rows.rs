//! Multi-row INSERT statements: the batch commit and the one write path of a Vorgang write a
//! batch's rows with a few statements (chunked below both backends' parameter limits) instead of
//! one statement per row.

use std::collections::HashMap;

use sqlx::{Any, Row, Transaction};

use crate::{Backend, Result, StoreError};

/// One bound value of a multi-row statement.
pub(crate) enum V<'a> {
    Int(Option<i64>),
    Str(Option<&'a str>),
    Owned(Option<String>),
    Bytes(&'a [u8]),
    /// Text the database reads as this type (PostgreSQL: `CAST($n AS tsvector)`).
    Cast(String, &'static str),
}

impl<'a> V<'a> {
    /// Bytes of text or data.
    fn len(&self) -> usize {
        match self {
            V::Int(_) => 8,
            V::Str(s) => s.map_or(0, str::len),
            V::Owned(s) => s.as_ref().map_or(0, String::len),
            V::Bytes(b) => b.len(),
            V::Cast(s, _) => s.len(),
        }
    }

    /// Binds the value to `q`.
    pub(crate) fn bind<'q>(
        self,
        q: sqlx::query::Query<'q, Any, sqlx::any::AnyArguments>,
    ) -> sqlx::query::Query<'q, Any, sqlx::any::AnyArguments>
    where
        'a: 'q,
    {
        match self {
            V::Int(x) => q.bind(x),
            V::Str(x) => q.bind(x),
            V::Owned(x) => q.bind(x),
            V::Bytes(x) => q.bind(x),
            V::Cast(x, _) => q.bind(x),
        }
    }
}

/// Parameters per statement: below SQLite's 32,766 and PostgreSQL's 65,535.
const MAX_PARAMS: usize = 30_000;

/// Bytes of values per statement, roughly (a row is never split).
const MAX_STATEMENT_BYTES: usize = 1 << 20;

/// `INSERT INTO {head} VALUES (…), (…) {tail}` over `rows` (all of the same width), in chunks;
/// returns what a `RETURNING` tail yields.
pub(crate) async fn insert_rows(
    tx: &mut Transaction<'_, Any>,
    backend: Backend,
    head: &str,
    tail: &str,
    rows: Vec<Vec<V<'_>>>,
) -> Result<Vec<sqlx::any::AnyRow>> {
    let mut out = Vec::new();
    let Some(width) = rows.first().map(Vec::len) else { return Ok(out) };
    let per_chunk = (MAX_PARAMS / width.max(1)).clamp(1, 500);
    let mut rows = rows.into_iter().peekable();
    while rows.peek().is_some() {
        // Up to `per_chunk` rows and about `MAX_STATEMENT_BYTES` of values: the driver copies
        // the values of a statement, so a batch of large mails goes in a few statements, not one.
        let mut chunk: Vec<Vec<V<'_>>> = Vec::new();
        let mut bytes = 0;
        while chunk.len() < per_chunk && (chunk.is_empty() || bytes < MAX_STATEMENT_BYTES) {
            let Some(row) = rows.next() else { break };
            bytes += row.iter().map(V::len).sum::<usize>();
            chunk.push(row);
        }
        let mut sql = format!("INSERT INTO {head} VALUES ");
        let mut n = 0;
        for (r, row) in chunk.iter().enumerate() {
            if row.len() != width {
                return Err(StoreError::Invalid(format!("a row of {} values among rows of {width}", row.len())));
            }
            sql.push_str(if r == 0 { "(" } else { ", (" });
            for (i, v) in row.iter().enumerate() {
                if i > 0 {
                    sql.push_str(", ");
                }
                let p = backend.placeholders(n + 1 + i, 1);
                match v {
                    V::Cast(_, ty) => sql.push_str(&format!("CAST({p} AS {ty})")),
                    _ => sql.push_str(&p),
                }
            }
            n += width;
            sql.push(')');
        }
        sql.push(' ');
        sql.push_str(tail);
        // Not kept in the statement cache: the row count differs from batch to batch.
        let mut q = sqlx::query(sqlx::AssertSqlSafe(sql)).persistent(false);
        for v in chunk.into_iter().flatten() {
            q = v.bind(q);
        }
        out.extend(q.fetch_all(&mut **tx).await?);
    }
    Ok(out)
}

/// `key → id` from rows returned as `RETURNING id, key`.
pub(crate) fn ids_by<K>(rows: &[sqlx::any::AnyRow]) -> Result<HashMap<K, i64>>
where
    K: for<'r> sqlx::Decode<'r, Any> + sqlx::Type<Any> + std::hash::Hash + Eq,
{
    rows.iter().map(|r| Ok((r.try_get::<K, _>(1)?, r.try_get::<i64, _>(0)?))).collect()
}
