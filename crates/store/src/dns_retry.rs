//! Mails left on the server because their sender check failed on DNS: when that first happened
//! and when to fetch them again (`dns_retries`, migration 0014). The importer gives up after a
//! configured time and keeps such a mail as „Absender nicht verifiziert (DNS nicht erreichbar)“.

use std::collections::HashMap;

use sqlx::Row;

use crate::{Result, Store};

/// One mail waiting for its sender's DNS.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct DnsRetry {
    pub source_key: String,
    /// When its check first failed on DNS (unix ms).
    pub first_ms: i64,
    /// Failed checks so far.
    pub tries: i64,
    /// Not fetched again before this (unix ms).
    pub next_ms: i64,
}

impl Store {
    /// Every mail of `mailbox_id` waiting for DNS, by ledger key.
    pub async fn dns_retries(&self, mailbox_id: i64) -> Result<HashMap<String, DnsRetry>> {
        let rows = sqlx::query("SELECT source_key, first_ms, tries, next_ms FROM dns_retries WHERE mailbox_id = $1")
            .bind(mailbox_id)
            .fetch_all(&self.pool)
            .await?;
        Ok(rows
            .iter()
            .map(|r| {
                let retry = DnsRetry { source_key: r.get(0), first_ms: r.get(1), tries: r.get(2), next_ms: r.get(3) };
                (retry.source_key.clone(), retry)
            })
            .collect())
    }

    /// Writes (inserts or replaces) these rows in one transaction.
    pub async fn save_dns_retries(&self, mailbox_id: i64, rows: &[DnsRetry]) -> Result<()> {
        if rows.is_empty() {
            return Ok(());
        }
        let mut tx = self.begin_write().await?;
        for r in rows {
            sqlx::query(
                "INSERT INTO dns_retries (mailbox_id, source_key, first_ms, tries, next_ms) VALUES ($1, $2, $3, $4, $5) \
                 ON CONFLICT (mailbox_id, source_key) DO UPDATE SET first_ms = excluded.first_ms, \
                   tries = excluded.tries, next_ms = excluded.next_ms",
            )
            .bind(mailbox_id)
            .bind(&r.source_key)
            .bind(r.first_ms)
            .bind(r.tries)
            .bind(r.next_ms)
            .execute(&mut *tx)
            .await?;
        }
        tx.commit().await?;
        Ok(())
    }

    /// Forgets these keys (their mails are stored now) and rows whose first failure is older than
    /// `stale_before_ms` (their mails left the server some other way).
    pub async fn forget_dns_retries(&self, mailbox_id: i64, keys: &[String], stale_before_ms: i64) -> Result<()> {
        let mut tx = self.begin_write().await?;
        for key in keys {
            sqlx::query("DELETE FROM dns_retries WHERE mailbox_id = $1 AND source_key = $2")
                .bind(mailbox_id)
                .bind(key)
                .execute(&mut *tx)
                .await?;
        }
        sqlx::query("DELETE FROM dns_retries WHERE mailbox_id = $1 AND first_ms < $2")
            .bind(mailbox_id)
            .bind(stale_before_ms)
            .execute(&mut *tx)
            .await?;
        tx.commit().await?;
        Ok(())
    }
}
