//! API tokens (`Authorization: Bearer …`): stored only as SHA-256 hashes, each with an id, a label,
//! when it was made and last used, and an optional expiry; and revoking them — one, or all of an
//! employee's tokens and sessions at once (`Store::revoke_all`).

use postkorb_core::EmployeeId;
use serde::Serialize;
use sqlx::Row;

use crate::sessions::{EMPLOYEE_COLUMNS, SessionUser, session_user_from_row};
use crate::{Result, Store};

/// `last_used_ms` is written at most this often per token: not one write per API call.
pub const LAST_USED_GRANULARITY_MS: i64 = 60_000;

/// One API token as its owner sees it (never the token itself).
#[derive(Clone, Debug, PartialEq, Eq, Serialize)]
pub struct ApiToken {
    pub id: i64,
    pub employee_id: i64,
    pub label: String,
    pub created_ms: i64,
    pub last_used_ms: Option<i64>,
    pub expires_ms: Option<i64>,
}

fn token_from_row(r: &sqlx::any::AnyRow) -> Result<ApiToken> {
    Ok(ApiToken {
        id: r.try_get("id")?,
        employee_id: r.try_get("employee_id")?,
        label: r.try_get("label")?,
        created_ms: r.try_get("created_ms")?,
        last_used_ms: r.try_get("last_used_ms")?,
        expires_ms: r.try_get("expires_ms")?,
    })
}

const TOKEN_COLUMNS: &str = "id, employee_id, label, created_ms, last_used_ms, expires_ms";

impl Store {
    /// Stores a new token (its hash) that never expires.
    pub async fn create_api_token(
        &self,
        token_hash: &str,
        employee: EmployeeId,
        label: &str,
        now_ms: i64,
    ) -> Result<()> {
        self.create_api_token_until(token_hash, employee, label, now_ms, None).await.map(|_| ())
    }

    /// Stores a new token (its hash), valid until `expires_ms` (None: until revoked).
    pub async fn create_api_token_until(
        &self,
        token_hash: &str,
        employee: EmployeeId,
        label: &str,
        now_ms: i64,
        expires_ms: Option<i64>,
    ) -> Result<ApiToken> {
        let sql = format!(
            "INSERT INTO api_tokens (token_hash, employee_id, label, created_ms, expires_ms)
             VALUES ($1, $2, $3, $4, $5) RETURNING {TOKEN_COLUMNS}"
        );
        let row = sqlx::query(sqlx::AssertSqlSafe(sql))
            .bind(token_hash)
            .bind(employee.0)
            .bind(label.trim())
            .bind(now_ms)
            .bind(expires_ms)
            .fetch_one(&self.pool)
            .await?;
        token_from_row(&row)
    }

    /// The owner of a live (not expired, not revoked) token and the token's id; notes its use.
    pub async fn api_token_user(&self, token_hash: &str, now_ms: i64) -> Result<Option<(SessionUser, i64)>> {
        let sql = format!(
            "SELECT {EMPLOYEE_COLUMNS}, t.id AS token_id, t.last_used_ms FROM api_tokens t
             JOIN employees e ON e.id = t.employee_id
             WHERE t.token_hash = $1 AND (t.expires_ms IS NULL OR t.expires_ms > $2)"
        );
        let Some(row) =
            sqlx::query(sqlx::AssertSqlSafe(sql)).bind(token_hash).bind(now_ms).fetch_optional(&self.pool).await?
        else {
            return Ok(None);
        };
        let id: i64 = row.try_get("token_id")?;
        let last: Option<i64> = row.try_get("last_used_ms")?;
        if last.is_none_or(|l| l <= now_ms - LAST_USED_GRANULARITY_MS) {
            // Conditional, so concurrent calls within the minute write once.
            sqlx::query(
                "UPDATE api_tokens SET last_used_ms = $1 WHERE id = $2
                 AND (last_used_ms IS NULL OR last_used_ms <= $3)",
            )
            .bind(now_ms)
            .bind(id)
            .bind(now_ms - LAST_USED_GRANULARITY_MS)
            .execute(&self.pool)
            .await?;
        }
        Ok(Some((session_user_from_row(&row, String::new())?, id)))
    }

    /// The tokens of `employee`, newest first (expired ones too, marked by `expires_ms`).
    pub async fn api_tokens(&self, employee: EmployeeId) -> Result<Vec<ApiToken>> {
        let sql = format!("SELECT {TOKEN_COLUMNS} FROM api_tokens WHERE employee_id = $1 ORDER BY id DESC");
        let rows = sqlx::query(sqlx::AssertSqlSafe(sql)).bind(employee.0).fetch_all(&self.pool).await?;
        rows.iter().map(token_from_row).collect()
    }

    /// Revokes one token of `employee`; false when that employee has no such token.
    pub async fn revoke_api_token(&self, employee: EmployeeId, id: i64) -> Result<bool> {
        let done = sqlx::query("DELETE FROM api_tokens WHERE id = $1 AND employee_id = $2")
            .bind(id)
            .bind(employee.0)
            .execute(&self.pool)
            .await?;
        Ok(done.rows_affected() == 1)
    }

    /// Ends every session and revokes every API token of `employee`: (sessions, tokens) ended.
    pub async fn revoke_all(&self, employee: EmployeeId) -> Result<(u64, u64)> {
        let mut tx = self.begin_write().await?;
        let n = revoke_all_in(&mut tx, employee).await?;
        tx.commit().await?;
        Ok(n)
    }
}

/// [`Store::revoke_all`] inside the caller's transaction: the change that demands it (a new
/// password, a licence or „Aktuell“ removed) and the revocation commit together.
pub(crate) async fn revoke_all_in(
    tx: &mut sqlx::Transaction<'static, sqlx::Any>,
    employee: EmployeeId,
) -> Result<(u64, u64)> {
    let sessions =
        sqlx::query("DELETE FROM sessions WHERE employee_id = $1").bind(employee.0).execute(&mut **tx).await?;
    let tokens =
        sqlx::query("DELETE FROM api_tokens WHERE employee_id = $1").bind(employee.0).execute(&mut **tx).await?;
    Ok((sessions.rows_affected(), tokens.rows_affected()))
}
