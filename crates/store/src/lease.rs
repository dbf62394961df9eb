//! The fetch lease: at most one instance reads a mailbox at a time, across every instance that
//! shares the database.
//!
//! A lease row (mailbox, holder, expiry) is taken and renewed by one atomic upsert that succeeds
//! only when the row is free, expired, or already held by the same holder; a holder that dies is
//! taken over once its lease has expired. The ledger's unique key stays the backstop: even two
//! fetchers could not import a message twice, the lease only keeps them from racing.
//!
//! For a fair split of the mailboxes between instances (`postkorb_app::service::lease`), each
//! `serve` shows that it runs ([`Store::announce_instance`]) and counts the others
//! ([`Store::live_instances`]) and its own leases ([`Store::leases_held`]).

use sqlx::{Connection, Executor, Row};

use crate::{Backend, Result, Store};

/// How a running `serve` names its presence connection in PostgreSQL's `pg_stat_activity`.
const PRESENCE: &str = "postkorb serve ";

/// A running instance's presence: while this connection stays open, [`Store::live_instances`]
/// counts the instance (PostgreSQL). It goes away with the process, however that ends.
pub struct Presence(sqlx::AnyConnection);

impl Presence {
    /// Whether the connection still works (false: announce again).
    pub async fn alive(&mut self) -> bool {
        self.0.ping().await.is_ok()
    }
}

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

    /// How many leases `holder` has that have not expired at `now_ms`.
    pub async fn leases_held(&self, holder: &str, now_ms: i64) -> Result<usize> {
        let n: i64 = sqlx::query_scalar("SELECT count(*) FROM mailbox_leases WHERE holder = $1 AND expires_ms > $2")
            .bind(holder)
            .bind(now_ms)
            .fetch_one(&self.pool)
            .await?;
        Ok(usize::try_from(n).unwrap_or(0))
    }

    /// Shows `holder` as a running instance to every instance that shares the database, for as
    /// long as the returned [`Presence`] lives: on PostgreSQL a connection of its own, named after
    /// the holder in `pg_stat_activity` (no table to clean up after a crash: the server drops the
    /// connection of a dead process). SQLite (one host, one `serve`): None.
    pub async fn announce_instance(&self, holder: &str) -> Result<Option<Presence>> {
        if self.backend != Backend::Postgres {
            return Ok(None);
        }
        let mut conn = self.pool.acquire().await?.detach();
        let mut name = format!("{PRESENCE}{holder}");
        // PostgreSQL keeps 63 bytes of an application_name; the count below needs only the prefix.
        while name.len() > 63 {
            name.pop();
        }
        conn.execute(sqlx::query("SELECT set_config('application_name', $1, false)").bind(name)).await?;
        Ok(Some(Presence(conn)))
    }

    /// How many instances run on this database: announced presences (PostgreSQL), at least 1
    /// (the caller). SQLite: always 1.
    pub async fn live_instances(&self) -> Result<usize> {
        if self.backend != Backend::Postgres {
            return Ok(1);
        }
        let n: i64 = sqlx::query_scalar(
            "SELECT count(*) FROM pg_stat_activity WHERE datname = current_database() AND application_name LIKE $1",
        )
        .bind(format!("{PRESENCE}%"))
        .fetch_one(&self.pool)
        .await?;
        Ok(usize::try_from(n).unwrap_or(0).max(1))
    }

    /// Gives up every lease `holder` has (an instance stopping); returns how many.
    pub async fn release_leases_of(&self, holder: &str) -> Result<u64> {
        let done = sqlx::query("DELETE FROM mailbox_leases WHERE holder = $1").bind(holder).execute(&self.pool).await?;
        Ok(done.rows_affected())
    }
}
