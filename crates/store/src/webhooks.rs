//! Webhook endpoints (issue 17), the first channel of the outbox: name, URL, the event types sent,
//! the secret (sealed by the caller with the app's key, never read back by a list), active or
//! paused, and their health (since when failing, last success).

use serde::Serialize;
use sqlx::Row;
use sqlx::any::AnyRow;

use crate::{Result, Store, StoreError};

/// A webhook endpoint as lists show it: without its secret.
#[derive(Clone, Debug, PartialEq, Eq, Serialize)]
pub struct Webhook {
    pub id: i64,
    pub name: String,
    pub url: String,
    /// The event types sent (`case.created`, …).
    pub events: Vec<String>,
    pub active: bool,
    pub paused_ms: Option<i64>,
    /// Why it was paused: `admin` or `failing`.
    pub paused_reason: Option<String>,
    pub failing_since_ms: Option<i64>,
    pub last_success_ms: Option<i64>,
    pub created_ms: i64,
}

const COLUMNS: &str =
    "id, name, url, events, active, paused_ms, paused_reason, failing_since_ms, last_success_ms, created_ms";

fn webhook(r: &AnyRow) -> Result<Webhook> {
    let events: String = r.try_get("events")?;
    Ok(Webhook {
        id: r.try_get("id")?,
        name: r.try_get("name")?,
        url: r.try_get("url")?,
        events: events.split(',').filter(|e| !e.is_empty()).map(str::to_string).collect(),
        active: r.try_get::<i64, _>("active")? != 0,
        paused_ms: r.try_get("paused_ms")?,
        paused_reason: r.try_get("paused_reason")?,
        failing_since_ms: r.try_get("failing_since_ms")?,
        last_success_ms: r.try_get("last_success_ms")?,
        created_ms: r.try_get("created_ms")?,
    })
}

impl Store {
    /// A new endpoint; `sealed_secret` is the sealed `whsec_…` secret. A name taken is refused.
    pub async fn add_webhook(
        &self,
        name: &str,
        url: &str,
        events: &[String],
        sealed_secret: &str,
        now_ms: i64,
    ) -> Result<i64> {
        if self.webhooks().await?.iter().any(|w| w.name == name) {
            return Err(StoreError::Invalid(format!("a webhook named {name:?} exists already")));
        }
        let row = sqlx::query(
            "INSERT INTO webhooks (name, url, events, secret, created_ms) VALUES ($1, $2, $3, $4, $5) RETURNING id",
        )
        .bind(name)
        .bind(url)
        .bind(events.join(","))
        .bind(sealed_secret)
        .bind(now_ms)
        .fetch_one(&self.pool)
        .await?;
        Ok(row.try_get(0)?)
    }

    /// Changes name, URL and events (not the secret). False: no such endpoint.
    pub async fn update_webhook(&self, id: i64, name: &str, url: &str, events: &[String]) -> Result<bool> {
        let done = sqlx::query("UPDATE webhooks SET name = $1, url = $2, events = $3 WHERE id = $4")
            .bind(name)
            .bind(url)
            .bind(events.join(","))
            .bind(id)
            .execute(&self.pool)
            .await?;
        Ok(done.rows_affected() == 1)
    }

    /// „Neues Geheimnis“: replaces the sealed secret.
    pub async fn set_webhook_secret(&self, id: i64, sealed_secret: &str) -> Result<bool> {
        let done = sqlx::query("UPDATE webhooks SET secret = $1 WHERE id = $2")
            .bind(sealed_secret)
            .bind(id)
            .execute(&self.pool)
            .await?;
        Ok(done.rows_affected() == 1)
    }

    /// Removes the endpoint; its undelivered deliveries give up when next tried.
    pub async fn delete_webhook(&self, id: i64) -> Result<bool> {
        let done = sqlx::query("DELETE FROM webhooks WHERE id = $1").bind(id).execute(&self.pool).await?;
        Ok(done.rows_affected() == 1)
    }

    pub async fn webhooks(&self) -> Result<Vec<Webhook>> {
        let rows = sqlx::query(sqlx::AssertSqlSafe(format!("SELECT {COLUMNS} FROM webhooks ORDER BY name, id")))
            .fetch_all(&self.pool)
            .await?;
        rows.iter().map(webhook).collect()
    }

    pub async fn webhook(&self, id: i64) -> Result<Option<Webhook>> {
        let row = sqlx::query(sqlx::AssertSqlSafe(format!("SELECT {COLUMNS} FROM webhooks WHERE id = $1")))
            .bind(id)
            .fetch_optional(&self.pool)
            .await?;
        row.as_ref().map(webhook).transpose()
    }

    /// The sealed secret, for signing only.
    pub async fn webhook_sealed_secret(&self, id: i64) -> Result<Option<String>> {
        let row = sqlx::query("SELECT secret FROM webhooks WHERE id = $1").bind(id).fetch_optional(&self.pool).await?;
        Ok(row.map(|r| r.try_get(0)).transpose()?)
    }

    /// Pauses (`reason`: `admin` or `failing`) or resumes the endpoint, and its deliveries with it
    /// (channel `webhook`, target = its id). Returns false if it was in that state already.
    pub async fn set_webhook_active(&self, id: i64, active: bool, reason: &str, now_ms: i64) -> Result<bool> {
        let done = sqlx::query(
            "UPDATE webhooks SET active = $1, paused_ms = $2, paused_reason = $3,
                 failing_since_ms = CASE WHEN $1 = 1 THEN NULL ELSE failing_since_ms END
             WHERE id = $4 AND active <> $1",
        )
        .bind(active as i64)
        .bind((!active).then_some(now_ms))
        .bind((!active).then_some(reason))
        .bind(id)
        .execute(&self.pool)
        .await?;
        self.outbox_pause_target("webhook", &id.to_string(), !active, now_ms).await?;
        Ok(done.rows_affected() == 1)
    }

    /// A delivery to the endpoint succeeded: it is healthy.
    pub async fn webhook_succeeded(&self, id: i64, now_ms: i64) -> Result<()> {
        sqlx::query("UPDATE webhooks SET failing_since_ms = NULL, last_success_ms = $1 WHERE id = $2")
            .bind(now_ms)
            .bind(id)
            .execute(&self.pool)
            .await?;
        Ok(())
    }

    /// A delivery to the endpoint failed: returns since when it has been failing (now, if it was
    /// healthy), or None if it is gone.
    pub async fn webhook_failed(&self, id: i64, now_ms: i64) -> Result<Option<i64>> {
        let row = sqlx::query(
            "UPDATE webhooks SET failing_since_ms = COALESCE(failing_since_ms, $1) WHERE id = $2
             RETURNING failing_since_ms",
        )
        .bind(now_ms)
        .bind(id)
        .fetch_optional(&self.pool)
        .await?;
        Ok(row.map(|r| r.try_get(0)).transpose()?)
    }
}
