//! The audit log (Protokoll › Änderungen): who did what to which mail, row, person or mailbox.
//!
//! New entries are typed ([`AuditEntry`], core's `audit.rs`): the action word in its own column (the
//! filter) and the entry as JSON in `params` (migration 0017). Older rows, and callers that still
//! pass a free detail ([`Store::audit`]), have empty `params`; the page shows them with a German
//! sentence for the action word and the old text behind „Details“.

use postkorb_core::AuditEntry;
use sqlx::Row;

use crate::{Result, Store};

/// One row of the audit log as the Protokoll reads it.
#[derive(Clone, Debug)]
pub struct AuditRow {
    pub id: i64,
    pub at_ms: i64,
    /// The login name (or name) of who did it; `cli` for the command line.
    pub actor: String,
    pub action: String,
    /// The free text of older rows (empty for typed ones).
    pub detail: String,
    /// The typed entry, when the row has one.
    pub entry: Option<AuditEntry>,
}

/// Which rows the Protokoll shows: by action word, by actor, by time (`from_ms` ≤ at < `to_ms`).
#[derive(Clone, Debug, Default)]
pub struct AuditFilter {
    pub action: Option<String>,
    pub actor: Option<String>,
    pub from_ms: Option<i64>,
    pub to_ms: Option<i64>,
}

impl Store {
    /// Appends a free-text entry (for callers without a typed entry yet; prefer [`Store::audit_entry`]).
    pub async fn audit(&self, now_ms: i64, actor: &str, action: &str, detail: &str) -> Result<()> {
        sqlx::query("INSERT INTO audit_log (at_ms, actor, action, detail) VALUES ($1, $2, $3, $4)")
            .bind(now_ms)
            .bind(actor)
            .bind(action)
            .bind(detail)
            .execute(&self.pool)
            .await?;
        Ok(())
    }

    /// Appends a typed entry.
    pub async fn audit_entry(&self, now_ms: i64, actor: &str, entry: &AuditEntry) -> Result<()> {
        let mut conn = self.pool.acquire().await?;
        audit_in(&mut conn, now_ms, actor, entry).await
    }

    /// The audit log, newest first: (at, actor, action, what) — `what` is a typed entry's German
    /// sentence, or an older row's free detail.
    pub async fn audit_log(&self, limit: i64) -> Result<Vec<(i64, String, String, String)>> {
        let (rows, _) = self.audit_page(&AuditFilter::default(), limit, 0).await?;
        Ok(rows
            .into_iter()
            .map(|r| {
                let what = r.entry.as_ref().map(AuditEntry::german).unwrap_or(r.detail);
                (r.at_ms, r.actor, r.action, what)
            })
            .collect())
    }

    /// One page of the audit log, newest first, and how many rows match in all.
    pub async fn audit_page(&self, f: &AuditFilter, limit: i64, offset: i64) -> Result<(Vec<AuditRow>, i64)> {
        const WHERE: &str = "WHERE ($1 = '' OR action = $1) AND ($2 = '' OR actor = $2)
               AND ($3 < 0 OR at_ms >= $3) AND ($4 < 0 OR at_ms < $4)";
        let bind = |sql: String| {
            sqlx::query(sqlx::AssertSqlSafe(sql))
                .bind(f.action.clone().unwrap_or_default())
                .bind(f.actor.clone().unwrap_or_default())
                .bind(f.from_ms.unwrap_or(-1))
                .bind(f.to_ms.unwrap_or(-1))
        };
        let total: i64 =
            bind(format!("SELECT COUNT(*) FROM audit_log {WHERE}")).fetch_one(&self.pool).await?.try_get(0)?;
        let rows = bind(format!(
            "SELECT id, at_ms, actor, action, detail, params FROM audit_log {WHERE} ORDER BY id DESC LIMIT $5 OFFSET $6"
        ))
        .bind(limit)
        .bind(offset)
        .fetch_all(&self.pool)
        .await?;
        let rows = rows
            .iter()
            .map(|r| {
                let params: String = r.try_get(5)?;
                Ok(AuditRow {
                    id: r.try_get(0)?,
                    at_ms: r.try_get(1)?,
                    actor: r.try_get(2)?,
                    action: r.try_get(3)?,
                    detail: r.try_get(4)?,
                    entry: serde_json::from_str(&params).ok(),
                })
            })
            .collect::<Result<Vec<_>>>()?;
        Ok((rows, total))
    }

    /// Deletes at most `limit` of the oldest audit rows written before `before_ms`, in a transaction
    /// of its own, and returns their ids: the retention run's one way to shorten the log
    /// ([`purge_audit_in`] inside a larger transaction).
    pub async fn purge_audit_log(&self, before_ms: i64, limit: i64) -> Result<Vec<i64>> {
        let mut tx = self.begin_write().await?;
        let ids = purge_audit_in(&mut tx, before_ms, limit).await?;
        tx.commit().await?;
        Ok(ids)
    }

    /// Everyone who appears as actor in the log (for the filter).
    pub async fn audit_actors(&self) -> Result<Vec<String>> {
        let rows = sqlx::query("SELECT DISTINCT actor FROM audit_log ORDER BY actor").fetch_all(&self.pool).await?;
        rows.iter().map(|r| Ok(r.try_get(0)?)).collect()
    }
}

/// The only way rows leave the audit log (append-only, migration 0027): deletes at most `limit` of
/// the oldest rows written before `before_ms` and returns their ids, oldest first — for the
/// retention run, which records them in its Löschprotokoll. Runs in a transaction of its own on
/// `conn`, or in a savepoint when `conn` is already inside the caller's: it declares the cut-off in
/// `audit_purge` (the triggers let a DELETE through only for rows older than a declared cut-off),
/// deletes, and removes the declaration before it commits, so no other transaction ever sees it.
/// Nothing else — no page, API route or command — changes or deletes an audit row.
pub(crate) async fn purge_audit_in(conn: &mut sqlx::AnyConnection, before_ms: i64, limit: i64) -> Result<Vec<i64>> {
    use sqlx::Connection;
    let mut tx = conn.begin().await?;
    sqlx::query("INSERT INTO audit_purge (before_ms) VALUES ($1)").bind(before_ms).execute(&mut *tx).await?;
    let rows = sqlx::query(
        "DELETE FROM audit_log WHERE id IN \
         (SELECT id FROM audit_log WHERE at_ms < $1 ORDER BY id LIMIT $2) RETURNING id",
    )
    .bind(before_ms)
    .bind(limit)
    .fetch_all(&mut *tx)
    .await?;
    sqlx::query("DELETE FROM audit_purge").execute(&mut *tx).await?;
    tx.commit().await?;
    let mut ids = rows.iter().map(|r| r.try_get(0)).collect::<std::result::Result<Vec<i64>, _>>()?;
    ids.sort_unstable();
    Ok(ids)
}

/// Appends a typed entry on `conn` (inside the caller's transaction where there is one).
pub(crate) async fn audit_in(
    conn: &mut sqlx::AnyConnection,
    now_ms: i64,
    actor: &str,
    entry: &AuditEntry,
) -> Result<()> {
    let params = serde_json::to_string(entry).map_err(|e| crate::StoreError::Invalid(e.to_string()))?;
    sqlx::query("INSERT INTO audit_log (at_ms, actor, action, detail, params) VALUES ($1, $2, $3, '', $4)")
        .bind(now_ms)
        .bind(actor)
        .bind(entry.code())
        .bind(params)
        .execute(&mut *conn)
        .await?;
    Ok(())
}
