//! Browser OAuth flows in progress (state → what to finish it with), shared by all instances.

use sqlx::Row;

use crate::{Result, Store};

impl Store {
    pub async fn put_oauth_pending(
        &self,
        state_hash: &str,
        mailbox: &str,
        employee_id: i64,
        payload: &[u8],
        now_ms: i64,
    ) -> Result<()> {
        // Old, unfinished flows go.
        sqlx::query("DELETE FROM oauth_pending WHERE created_ms < $1")
            .bind(now_ms - 15 * 60_000)
            .execute(&self.pool)
            .await?;
        sqlx::query(
            "INSERT INTO oauth_pending (state_hash, mailbox, employee_id, payload, created_ms) VALUES ($1, $2, $3, $4, $5)",
        )
        .bind(state_hash)
        .bind(mailbox)
        .bind(employee_id)
        .bind(payload.to_vec())
        .bind(now_ms)
        .execute(&self.pool)
        .await?;
        Ok(())
    }

    /// Takes (and removes) a pending flow not older than `max_age_ms`: (mailbox, employee id, payload).
    pub async fn take_oauth_pending(
        &self,
        state_hash: &str,
        now_ms: i64,
        max_age_ms: i64,
    ) -> Result<Option<(String, i64, Vec<u8>)>> {
        let row = sqlx::query(
            "DELETE FROM oauth_pending WHERE state_hash = $1 AND created_ms >= $2 RETURNING mailbox, employee_id, payload",
        )
        .bind(state_hash)
        .bind(now_ms - max_age_ms)
        .fetch_optional(&self.pool)
        .await?;
        match row {
            Some(r) => Ok(Some((r.try_get(0)?, r.try_get(1)?, r.try_get(2)?))),
            None => Ok(None),
        }
    }
}
