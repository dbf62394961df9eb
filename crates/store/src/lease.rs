//! The fetch lease: at most one instance reads a mailbox at a time, across every instance that
//! shares the database.
//!
//! A lease row (mailbox, holder, expiry) is taken and renewed by one atomic upsert that succeeds
//! only when the row is free, expired, or already held by the same holder; a holder that dies is
//! taken over once its lease has expired. The ledger's unique key stays the backstop: even two
//! fetchers could not import a message twice, the lease only keeps them from racing.

use sqlx::Row;

use crate::{Result, Store};

/// Who holds a mailbox's lease, and until when (unix ms).
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct LeaseInfo {
    pub mailbox_id: i64,
    pub holder: String,
    pub expires_ms: i64,
    pub taken_ms: i64,
}

/// What an attempt to take (or renew) a lease gave.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum LeaseOutcome {
    /// Ours until `expires_ms`.
    Taken { expires_ms: i64 },
    /// Another holder's lease has not expired yet.
    Busy(LeaseInfo),
}

impl LeaseOutcome {
    pub fn is_taken(&self) -> bool {
        matches!(self, LeaseOutcome::Taken { .. })
    }
}

impl Store {
    /// Takes or renews the lease on `mailbox_id` for `holder` until `now_ms + ttl_ms`: one
    /// statement that wins only if the lease is free, expired, or `holder`'s own.
    pub async fn take_lease(&self, mailbox_id: i64, holder: &str, now_ms: i64, ttl_ms: i64) -> Result<LeaseOutcome> {
        let expires_ms = now_ms + ttl_ms.max(1);
        let row = sqlx::query(
            "INSERT INTO mailbox_leases (mailbox_id, holder, expires_ms, taken_ms) VALUES ($1, $2, $3, $4) \
             ON CONFLICT (mailbox_id) DO UPDATE SET holder = excluded.holder, expires_ms = excluded.expires_ms, \
               taken_ms = CASE WHEN mailbox_leases.holder = excluded.holder THEN mailbox_leases.taken_ms \
                               ELSE excluded.taken_ms END \
             WHERE mailbox_leases.expires_ms <= $4 OR mailbox_leases.holder = $2 \
             RETURNING expires_ms",
        )
        .bind(mailbox_id)
        .bind(holder)
        .bind(expires_ms)
        .bind(now_ms)
        .fetch_optional(&self.pool)
        .await?;
        if let Some(row) = row {
            return Ok(LeaseOutcome::Taken { expires_ms: row.get(0) });
        }
        // Held by someone else (or released a moment ago: report it as held until now).
        let info = self.lease(mailbox_id).await?.unwrap_or(LeaseInfo {
            mailbox_id,
            holder: String::new(),
            expires_ms: now_ms,
            taken_ms: now_ms,
        });
        Ok(LeaseOutcome::Busy(info))
    }

    /// Takes the lease on `mailbox_id` over from `dead` (a holder known to be gone, e.g. a crashed
    /// process on this host) before it expires: one statement that wins only while `dead` still
    /// holds it. Otherwise the ordinary rules of [`Store::take_lease`] apply.
    pub async fn take_over_lease(
        &self,
        mailbox_id: i64,
        holder: &str,
        dead: &str,
        now_ms: i64,
        ttl_ms: i64,
    ) -> Result<LeaseOutcome> {
        let expires_ms = now_ms + ttl_ms.max(1);
        let row = sqlx::query(
            "UPDATE mailbox_leases SET holder = $2, expires_ms = $3, taken_ms = $4 \
             WHERE mailbox_id = $1 AND holder = $5 RETURNING expires_ms",
        )
        .bind(mailbox_id)
        .bind(holder)
        .bind(expires_ms)
        .bind(now_ms)
        .bind(dead)
        .fetch_optional(&self.pool)
        .await?;
        match row {
            Some(row) => Ok(LeaseOutcome::Taken { expires_ms: row.get(0) }),
            None => self.take_lease(mailbox_id, holder, now_ms, ttl_ms).await,
        }
    }

    /// The current lease row of a mailbox, expired or not.
    pub async fn lease(&self, mailbox_id: i64) -> Result<Option<LeaseInfo>> {
        let row = sqlx::query("SELECT holder, expires_ms, taken_ms FROM mailbox_leases WHERE mailbox_id = $1")
            .bind(mailbox_id)
            .fetch_optional(&self.pool)
            .await?;
        Ok(row.map(|r| LeaseInfo { mailbox_id, holder: r.get(0), expires_ms: r.get(1), taken_ms: r.get(2) }))
    }

    /// Gives the lease up (clean stop) if `holder` still has it; true if it did.
    pub async fn release_lease(&self, mailbox_id: i64, holder: &str) -> Result<bool> {
        let done = sqlx::query("DELETE FROM mailbox_leases WHERE mailbox_id = $1 AND holder = $2")
            .bind(mailbox_id)
            .bind(holder)
            .execute(&self.pool)
            .await?;
        Ok(done.rows_affected() > 0)
    }

    /// Gives up every lease `holder` has (an instance stopping); returns how many.
    pub async fn release_leases_of(&self, holder: &str) -> Result<u64> {
        let done = sqlx::query("DELETE FROM mailbox_leases WHERE holder = $1").bind(holder).execute(&self.pool).await?;
        Ok(done.rows_affected())
    }
}
