//! A mail source's state between passes (`source_state`, migration 0029): opaque text the source
//! hands out after a clean pass and gets back at the next (the Graph source's delta link and
//! waiting messages). The importer is its only writer.

use sqlx::Row;

use crate::{Result, Store};

impl Store {
    /// The state the last clean pass of `mailbox_id` left, if any.
    pub async fn source_state(&self, mailbox_id: i64) -> Result<Option<String>> {
        let row = sqlx::query("SELECT state FROM source_state WHERE mailbox_id = $1")
            .bind(mailbox_id)
            .fetch_optional(&self.pool)
            .await?;
        Ok(row.map(|r| r.get(0)))
    }

    /// Replaces the state of `mailbox_id` (after a clean pass).
    pub async fn save_source_state(&self, mailbox_id: i64, state: &str, now_ms: i64) -> Result<()> {
        sqlx::query(
            "INSERT INTO source_state (mailbox_id, state, updated_ms) VALUES ($1, $2, $3) \
             ON CONFLICT (mailbox_id) DO UPDATE SET state = excluded.state, updated_ms = excluded.updated_ms",
        )
        .bind(mailbox_id)
        .bind(state)
        .bind(now_ms)
        .execute(&self.pool)
        .await?;
        Ok(())
    }
}
