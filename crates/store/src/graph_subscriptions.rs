//! Microsoft Graph change notifications (`graph_subscriptions`, migration 0029): the subscription
//! of each Graph mailbox, its expiry, and when a notification last arrived. A notification is
//! accepted only with the subscription's clientState, kept here as its SHA-256.

use sqlx::Row;

use crate::blobs::hash_hex;
use crate::{Result, Store};

/// A mailbox's subscription as stored.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct GraphSubscription {
    pub subscription_id: String,
    pub expires_ms: i64,
    /// When the last genuine notification arrived.
    pub notified_ms: Option<i64>,
}

impl Store {
    pub async fn graph_subscription(&self, mailbox_id: i64) -> Result<Option<GraphSubscription>> {
        let row = sqlx::query(
            "SELECT subscription_id, expires_ms, notified_ms FROM graph_subscriptions WHERE mailbox_id = $1",
        )
        .bind(mailbox_id)
        .fetch_optional(&self.pool)
        .await?;
        Ok(row.map(|r| GraphSubscription { subscription_id: r.get(0), expires_ms: r.get(1), notified_ms: r.get(2) }))
    }

    /// Stores a new or renewed subscription of `mailbox_id` (replacing any other), as notified at
    /// `now_ms`: Graph may notify of a change as soon as it has made the subscription, before this
    /// row exists — such a notification is ignored (`graph_notified` finds no row), so the
    /// mailbox's loop makes one pass now instead and nothing waits for the next poll.
    pub async fn save_graph_subscription(
        &self,
        mailbox_id: i64,
        subscription_id: &str,
        client_state: &str,
        expires_ms: i64,
        now_ms: i64,
    ) -> Result<()> {
        let mut tx = self.begin_write().await?;
        sqlx::query("DELETE FROM graph_subscriptions WHERE mailbox_id = $1 OR subscription_id = $2")
            .bind(mailbox_id)
            .bind(subscription_id)
            .execute(&mut *tx)
            .await?;
        sqlx::query(
            "INSERT INTO graph_subscriptions (mailbox_id, subscription_id, client_state_sha256, expires_ms, notified_ms) \
             VALUES ($1, $2, $3, $4, $5)",
        )
        .bind(mailbox_id)
        .bind(subscription_id)
        .bind(hash_hex(client_state.as_bytes()))
        .bind(expires_ms)
        .bind(now_ms)
        .execute(&mut *tx)
        .await?;
        tx.commit().await?;
        Ok(())
    }

    /// A renewal: the same subscription, a later expiry.
    pub async fn renew_graph_subscription(&self, mailbox_id: i64, expires_ms: i64) -> Result<()> {
        sqlx::query("UPDATE graph_subscriptions SET expires_ms = $1 WHERE mailbox_id = $2")
            .bind(expires_ms)
            .bind(mailbox_id)
            .execute(&self.pool)
            .await?;
        Ok(())
    }

    /// A notification for `subscription_id` arrived: true (and noted at `now_ms`) only when
    /// `client_state` is the subscription's own; anything else is ignored.
    pub async fn graph_notified(&self, subscription_id: &str, client_state: &str, now_ms: i64) -> Result<bool> {
        let done = sqlx::query(
            "UPDATE graph_subscriptions SET notified_ms = $1 WHERE subscription_id = $2 AND client_state_sha256 = $3",
        )
        .bind(now_ms)
        .bind(subscription_id)
        .bind(hash_hex(client_state.as_bytes()))
        .execute(&self.pool)
        .await?;
        Ok(done.rows_affected() > 0)
    }

    pub async fn forget_graph_subscription(&self, mailbox_id: i64) -> Result<()> {
        sqlx::query("DELETE FROM graph_subscriptions WHERE mailbox_id = $1")
            .bind(mailbox_id)
            .execute(&self.pool)
            .await?;
        Ok(())
    }
}
