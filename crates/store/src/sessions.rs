//! Login sessions of the web UI and the Startmaske's "new since my last visit". Session tokens are
//! stored only as SHA-256 hashes, so a copy of the database does not let anyone log in. API tokens
//! are in tokens.rs, login throttling in login_limit.rs.

use postkorb_core::{Employee, EmployeeId};
use sqlx::Row;

use crate::employees::employee_from_row;
use crate::{Result, Store};

pub(crate) const EMPLOYEE_COLUMNS: &str =
    "e.id, e.name, e.username, e.is_current, e.license, e.work_email, e.permissions, e.must_change_password";

/// Who a live session (or API token) belongs to.
#[derive(Clone, Debug)]
pub struct SessionUser {
    pub employee: Employee,
    /// The session's CSRF token ("" for an API token).
    pub csrf: String,
    /// The password is a one-time password that must be changed before anything else.
    pub must_change_password: bool,
}

pub(crate) fn session_user_from_row(r: &sqlx::any::AnyRow, csrf: String) -> Result<SessionUser> {
    Ok(SessionUser {
        employee: employee_from_row(r)?,
        csrf,
        must_change_password: r.try_get::<i64, _>("must_change_password")? != 0,
    })
}

/// An assignee's number of Vorgänge (`$1`), as [`Store::count_cases`] reads it: no row, none.
pub(crate) const COUNT_CASES_SQL: &str = "SELECT cases FROM case_counts WHERE employee_id = $1";
/// „neue Vorgänge seit Ihrem letzten Besuch“: a range of index `cases_assignee_claimed`.
pub(crate) const NEW_CASES_SINCE_SQL: &str = "SELECT COUNT(*) FROM cases WHERE assignee = $1 AND claimed_ms > $2";

impl Store {
    pub async fn create_session(
        &self,
        token_hash: &str,
        employee: EmployeeId,
        csrf: &str,
        now_ms: i64,
        expires_ms: i64,
    ) -> Result<()> {
        sqlx::query("DELETE FROM sessions WHERE expires_ms < $1").bind(now_ms).execute(&self.pool).await?;
        sqlx::query(
            "INSERT INTO sessions (token_hash, employee_id, csrf, created_ms, expires_ms) VALUES ($1, $2, $3, $4, $5)",
        )
        .bind(token_hash)
        .bind(employee.0)
        .bind(csrf)
        .bind(now_ms)
        .bind(expires_ms)
        .execute(&self.pool)
        .await?;
        Ok(())
    }

    /// The employee and CSRF token of a live session.
    pub async fn session(&self, token_hash: &str, now_ms: i64) -> Result<Option<SessionUser>> {
        let sql = format!(
            "SELECT {EMPLOYEE_COLUMNS}, s.csrf FROM sessions s JOIN employees e ON e.id = s.employee_id
             WHERE s.token_hash = $1 AND s.expires_ms > $2"
        );
        let row =
            sqlx::query(sqlx::AssertSqlSafe(sql)).bind(token_hash).bind(now_ms).fetch_optional(&self.pool).await?;
        match row {
            Some(r) => {
                let csrf = r.try_get("csrf")?;
                Ok(Some(session_user_from_row(&r, csrf)?))
            }
            None => Ok(None),
        }
    }

    pub async fn delete_session(&self, token_hash: &str) -> Result<()> {
        sqlx::query("DELETE FROM sessions WHERE token_hash = $1").bind(token_hash).execute(&self.pool).await?;
        Ok(())
    }

    /// Ends every session of `employee` except the one with `keep` (its hash); returns how many.
    pub async fn end_other_sessions(&self, employee: EmployeeId, keep: &str) -> Result<u64> {
        let done = sqlx::query("DELETE FROM sessions WHERE employee_id = $1 AND token_hash <> $2")
            .bind(employee.0)
            .bind(keep)
            .execute(&self.pool)
            .await?;
        Ok(done.rows_affected())
    }

    /// When the employee last looked at the Startmaske (for "new since my last visit").
    pub async fn last_seen(&self, employee: EmployeeId) -> Result<Option<i64>> {
        let r = sqlx::query("SELECT last_seen_ms FROM employees WHERE id = $1")
            .bind(employee.0)
            .fetch_one(&self.pool)
            .await?;
        Ok(r.try_get(0)?)
    }

    pub async fn set_last_seen(&self, employee: EmployeeId, now_ms: i64) -> Result<()> {
        sqlx::query("UPDATE employees SET last_seen_ms = $1 WHERE id = $2")
            .bind(now_ms)
            .bind(employee.0)
            .execute(&self.pool)
            .await?;
        Ok(())
    }

    /// Vorgänge assigned to `employee` since `since_ms`.
    pub async fn new_cases_since(&self, employee: EmployeeId, since_ms: i64) -> Result<i64> {
        let r = sqlx::query(NEW_CASES_SINCE_SQL).bind(employee.0).bind(since_ms).fetch_one(&self.pool).await?;
        Ok(r.try_get(0)?)
    }

    /// Number of Vorgänge of an assignee (or all), for pagination.
    ///
    /// An assignee's number is kept in `case_counts` (migration 0011, `cases::count_given`): the
    /// Startmaske asks on every view, and counting the rows costs as much as they are many.
    pub async fn count_cases(&self, assignee: Option<EmployeeId>) -> Result<i64> {
        match assignee {
            Some(a) => {
                let r = sqlx::query(COUNT_CASES_SQL).bind(a.0).fetch_optional(&self.pool).await?;
                Ok(r.map(|r| r.try_get(0)).transpose()?.unwrap_or(0))
            }
            None => {
                let r = sqlx::query("SELECT COUNT(*) FROM cases WHERE status <> 'moved'").fetch_one(&self.pool).await?;
                Ok(r.try_get(0)?)
            }
        }
    }
}
