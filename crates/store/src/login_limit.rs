//! The login limit's bookkeeping: one row per login attempt in the window, by user name and client
//! address. An attempt is written *before* the password is checked and counted after, so racing
//! attempts all see each other (no check-then-insert gap); a refused attempt deletes its row again,
//! a successful one clears its (user, address) rows, and every attempt prunes rows older than the
//! window, so the table holds at most one window's failures.

use sqlx::Row;

use crate::{Result, Store};

/// How many failures are allowed in the window before the next attempt is refused unchecked.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct LoginLimits {
    pub window_ms: i64,
    /// Failures for one user name from one address.
    pub per_user_and_address: i64,
    /// Failures from one address, whatever the user name.
    pub per_address: i64,
}

/// Why an attempt was refused before its password was looked at.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum LoginRefused {
    UserAndAddress,
    Address,
}

impl Store {
    /// Records an attempt of `username` from `address` at `now_ms`: its id, to be passed to
    /// [`Store::login_succeeded`] when the password is right (a wrong one leaves the row as the
    /// failure), or why it is refused (then nothing stays recorded).
    pub async fn begin_login_attempt(
        &self,
        username: &str,
        address: &str,
        now_ms: i64,
        limits: LoginLimits,
    ) -> Result<std::result::Result<i64, LoginRefused>> {
        let since = now_ms - limits.window_ms;
        sqlx::query("DELETE FROM login_failures WHERE at_ms < $1").bind(since).execute(&self.pool).await?;
        let id: i64 =
            sqlx::query("INSERT INTO login_failures (username, address, at_ms) VALUES ($1, $2, $3) RETURNING id")
                .bind(username)
                .bind(address)
                .bind(now_ms)
                .fetch_one(&self.pool)
                .await?
                .try_get(0)?;
        let row = sqlx::query(
            "SELECT COALESCE(SUM(CASE WHEN username = $1 THEN 1 ELSE 0 END), 0), COUNT(*)
             FROM login_failures WHERE address = $2 AND at_ms >= $3",
        )
        .bind(username)
        .bind(address)
        .bind(since)
        .fetch_one(&self.pool)
        .await?;
        // Both counts include this attempt.
        let (user_and_address, per_address): (i64, i64) = (row.try_get(0)?, row.try_get(1)?);
        let refused = if user_and_address > limits.per_user_and_address {
            Some(LoginRefused::UserAndAddress)
        } else if per_address > limits.per_address {
            Some(LoginRefused::Address)
        } else {
            None
        };
        match refused {
            Some(why) => {
                sqlx::query("DELETE FROM login_failures WHERE id = $1").bind(id).execute(&self.pool).await?;
                Ok(Err(why))
            }
            None => Ok(Ok(id)),
        }
    }

    /// The attempt `id` had the right password: forget it and the earlier failures of this user
    /// name from this address (not those from other addresses, nor other names from this one).
    pub async fn login_succeeded(&self, id: i64, username: &str, address: &str) -> Result<()> {
        sqlx::query("DELETE FROM login_failures WHERE id = $1 OR (username = $2 AND address = $3)")
            .bind(id)
            .bind(username)
            .bind(address)
            .execute(&self.pool)
            .await?;
        Ok(())
    }

    /// Rows in the failure table (for tests of the pruning).
    pub async fn login_failure_rows(&self) -> Result<i64> {
        Ok(sqlx::query("SELECT COUNT(*) FROM login_failures").fetch_one(&self.pool).await?.try_get(0)?)
    }
}
