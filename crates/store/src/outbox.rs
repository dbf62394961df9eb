//! The outbox (issue 17): deliveries of what happened to the channels that tell others (webhooks;
//! e-mail notifications and the Eingangsbestätigung later). The app's dispatcher
//! (`crates/app/src/service/dispatch/`) drives it in two steps:
//!
//! - **Fan-out** ([`Store::outbox_fan_out`]): reads the case events and kept mails after the
//!   channel's cursor, asks the channel which deliveries each makes, inserts them and moves the
//!   cursor — one transaction, so an event is fanned out exactly once per channel (on PostgreSQL
//!   the cursor row is locked `FOR UPDATE`; the unique (channel, target, event_key) is the
//!   backstop). Only committed events are read, so a rolled-back change makes no delivery.
//! - **Delivery** ([`Store::outbox_take`], [`Store::outbox_finish`]): due deliveries are taken
//!   with a lease (PostgreSQL `FOR UPDATE SKIP LOCKED`; SQLite has one writer), an expired lease
//!   is taken again (a killed instance), and a delivery is never taken while an earlier one of the
//!   same Vorgang to the same target is pending or paused.
//!
//! **Invariant: kept mails are read in commit order like events.** Kept ids come from a second
//! sequence; every insert into `kept` takes the event log's advisory lock first
//! (`case_write::lock_log`), so kept ids, too, grow in commit order, and the cursor keeps a
//! second position (`last_kept_id`).

use serde::Serialize;
use sqlx::Row;
use sqlx::any::AnyRow;

use crate::{Backend, Result, Store};

/// Where a new cursor starts: at the end of the logs, so a new channel does not send the past.
const NEW_CURSOR_SQL: &str = "INSERT INTO outbox_cursors (channel, last_event_id, last_kept_id)
     VALUES ($1, (SELECT COALESCE(MAX(id), 0) FROM case_events), (SELECT COALESCE(MAX(id), 0) FROM kept))
     ON CONFLICT (channel) DO NOTHING";

/// One thing that happened, as a channel's fan-out sees it: a case event (with the Vorgang's
/// facts) or a kept mail.
#[derive(Clone, Debug, PartialEq, Serialize)]
pub struct OutboxItem {
    /// `evt_<event id>` or `kept_<kept id>`: stable, the receiver's de-duplication key.
    pub key: String,
    pub event_id: Option<i64>,
    pub kept_id: Option<i64>,
    pub case_id: Option<i64>,
    /// The event kind (`created`, `claimed`, …) or `kept`.
    pub kind: String,
    pub at_ms: i64,
    /// The event's payload (`{}` for a kept mail).
    pub payload: serde_json::Value,
    pub subject: String,
    pub from_addr: Option<String>,
    /// The employee the event names (who got, claimed, closed it …), id and name.
    pub employee: Option<(i64, String)>,
    /// The Vorgang's Bearbeiter when it was fanned out.
    pub assignee: Option<(i64, String)>,
    /// A kept mail's reason code.
    pub reason: Option<String>,
    /// The mailbox the mail came from (none for a Vorgang made otherwise).
    pub mailbox_id: Option<i64>,
}

/// A delivery a channel's fan-out asks for.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct NewDelivery {
    pub target: String,
    /// The channel's name for the event (`case.created`).
    pub kind: String,
    pub body: String,
    /// Its target is paused: kept, sent after „Fortsetzen“.
    pub paused: bool,
}

/// One delivery.
#[derive(Clone, Debug, PartialEq, Eq, Serialize)]
pub struct Delivery {
    pub id: i64,
    pub channel: String,
    pub target: String,
    pub event_key: String,
    pub event_id: Option<i64>,
    pub kept_id: Option<i64>,
    pub case_id: Option<i64>,
    pub kind: String,
    #[serde(skip)]
    pub body: String,
    /// pending | delivered | failed | paused
    pub status: String,
    pub attempts: i64,
    pub last_status: String,
    pub next_try_ms: i64,
    pub created_ms: i64,
    pub delivered_ms: Option<i64>,
}

/// How one attempt ended.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum Attempt {
    Delivered {
        status: String,
    },
    /// Try again at `next_try_ms`; `reason` is short and ours (never the receiver's body).
    Retry {
        reason: String,
        next_try_ms: i64,
    },
    GiveUp {
        reason: String,
    },
    /// Its target is paused: waits for „Fortsetzen“.
    Paused {
        reason: String,
    },
}

const COLUMNS: &str = "id, channel, target, event_key, event_id, kept_id, case_id, kind, body, status, attempts,
     last_status, next_try_ms, created_ms, delivered_ms";

fn delivery(r: &AnyRow) -> Result<Delivery> {
    Ok(Delivery {
        id: r.try_get("id")?,
        channel: r.try_get("channel")?,
        target: r.try_get("target")?,
        event_key: r.try_get("event_key")?,
        event_id: r.try_get("event_id")?,
        kept_id: r.try_get("kept_id")?,
        case_id: r.try_get("case_id")?,
        kind: r.try_get("kind")?,
        body: r.try_get("body")?,
        status: r.try_get("status")?,
        attempts: r.try_get("attempts")?,
        last_status: r.try_get("last_status")?,
        next_try_ms: r.try_get("next_try_ms")?,
        created_ms: r.try_get("created_ms")?,
        delivered_ms: r.try_get("delivered_ms")?,
    })
}

fn person(id: Option<i64>, name: Option<String>) -> Option<(i64, String)> {
    id.map(|id| (id, name.unwrap_or_default()))
}

impl Store {
    /// Whether `channel` has events or kept mails to fan out (or no cursor yet): one cheap read, so
    /// a dispatcher round with nothing new does not prepare a fan-out (which may read much).
    pub async fn outbox_has_new(&self, channel: &str) -> Result<bool> {
        let new: i64 = sqlx::query_scalar(
            "SELECT CASE WHEN NOT EXISTS (SELECT 1 FROM outbox_cursors WHERE channel = $1)
                  OR EXISTS (SELECT 1 FROM case_events WHERE id > (SELECT last_event_id FROM outbox_cursors WHERE channel = $1))
                  OR EXISTS (SELECT 1 FROM kept WHERE id > (SELECT last_kept_id FROM outbox_cursors WHERE channel = $1))
                THEN CAST(1 AS BIGINT) ELSE CAST(0 AS BIGINT) END",
        )
        .bind(channel)
        .fetch_one(&self.pool)
        .await?;
        Ok(new == 1)
    }

    /// Fans out up to `limit` events and `limit` kept mails after `channel`'s cursor: `plan` says
    /// which deliveries each makes; they are inserted (an existing one is left alone) and the
    /// cursor moved, in one transaction. Returns how many items were read (0: up to date).
    pub async fn outbox_fan_out(
        &self,
        channel: &str,
        limit: i64,
        now_ms: i64,
        mut plan: impl FnMut(&OutboxItem) -> Vec<NewDelivery>,
    ) -> Result<usize> {
        let mut tx = self.begin_write().await?;
        sqlx::query(NEW_CURSOR_SQL).bind(channel).execute(&mut *tx).await?;
        let lock = if self.backend == Backend::Postgres { " FOR UPDATE" } else { "" };
        let cursor = sqlx::query(sqlx::AssertSqlSafe(format!(
            "SELECT last_event_id, last_kept_id FROM outbox_cursors WHERE channel = $1{lock}"
        )))
        .bind(channel)
        .fetch_one(&mut *tx)
        .await?;
        let (mut last_event, mut last_kept): (i64, i64) = (cursor.try_get(0)?, cursor.try_get(1)?);
        let events = sqlx::query(
            "SELECT e.id, e.case_id, e.at_ms, e.kind, e.payload, c.subject, c.from_addr,
                    e.employee_id, emp.name AS emp_name, c.assignee, a.name AS a_name, c.mailbox_id
             FROM case_events e JOIN cases c ON c.id = e.case_id
             LEFT JOIN employees emp ON emp.id = e.employee_id
             LEFT JOIN employees a ON a.id = c.assignee
             WHERE e.id > $1 ORDER BY e.id LIMIT $2",
        )
        .bind(last_event)
        .bind(limit)
        .fetch_all(&mut *tx)
        .await?;
        let mut items = Vec::with_capacity(events.len());
        for r in &events {
            let id: i64 = r.try_get(0)?;
            let payload: String = r.try_get(4)?;
            last_event = last_event.max(id);
            items.push(OutboxItem {
                key: format!("evt_{id}"),
                event_id: Some(id),
                kept_id: None,
                case_id: Some(r.try_get(1)?),
                kind: r.try_get(3)?,
                at_ms: r.try_get(2)?,
                payload: serde_json::from_str(&payload).unwrap_or_else(|_| serde_json::json!({})),
                subject: r.try_get(5)?,
                from_addr: r.try_get(6)?,
                employee: person(r.try_get(7)?, r.try_get(8)?),
                assignee: person(r.try_get(9)?, r.try_get(10)?),
                reason: None,
                mailbox_id: r.try_get(11)?,
            });
        }
        let kept = sqlx::query(
            "SELECT id, kept_ms, subject, from_addr, reason_code, mailbox_id, ack_facts FROM kept
             WHERE id > $1 ORDER BY id LIMIT $2",
        )
        .bind(last_kept)
        .bind(limit)
        .fetch_all(&mut *tx)
        .await?;
        for r in &kept {
            let id: i64 = r.try_get(0)?;
            last_kept = last_kept.max(id);
            // What the Eingangsbestätigung needs, as a Vorgang's `created` event has it (`"ack"`).
            let ack: Option<String> = r.try_get(6)?;
            let ack = ack.and_then(|a| serde_json::from_str::<serde_json::Value>(&a).ok());
            items.push(OutboxItem {
                key: format!("kept_{id}"),
                event_id: None,
                kept_id: Some(id),
                case_id: None,
                kind: "kept".into(),
                at_ms: r.try_get(1)?,
                payload: ack.map_or_else(|| serde_json::json!({}), |a| serde_json::json!({ "ack": a })),
                subject: r.try_get(2)?,
                from_addr: r.try_get(3)?,
                employee: None,
                assignee: None,
                reason: Some(r.try_get(4)?),
                mailbox_id: r.try_get(5)?,
            });
        }
        for item in &items {
            for d in plan(item) {
                sqlx::query(
                    "INSERT INTO deliveries (channel, target, event_key, event_id, kept_id, case_id, kind, body,
                         status, next_try_ms, created_ms)
                     VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $10)
                     ON CONFLICT (channel, target, event_key) DO NOTHING",
                )
                .bind(channel)
                .bind(&d.target)
                .bind(&item.key)
                .bind(item.event_id)
                .bind(item.kept_id)
                .bind(item.case_id)
                .bind(&d.kind)
                .bind(&d.body)
                .bind(if d.paused { "paused" } else { "pending" })
                .bind(now_ms)
                .execute(&mut *tx)
                .await?;
            }
        }
        sqlx::query("UPDATE outbox_cursors SET last_event_id = $1, last_kept_id = $2 WHERE channel = $3")
            .bind(last_event)
            .bind(last_kept)
            .bind(channel)
            .execute(&mut *tx)
            .await?;
        tx.commit().await?;
        Ok(items.len())
    }

    /// Takes up to `limit` due deliveries of `channel` for `holder` until `now_ms + lease_ms`:
    /// pending, due, not leased (or the lease expired), and no earlier delivery of the same
    /// Vorgang to the same target still pending or paused. Oldest first.
    pub async fn outbox_take(
        &self,
        channel: &str,
        holder: &str,
        now_ms: i64,
        lease_ms: i64,
        limit: i64,
    ) -> Result<Vec<Delivery>> {
        let skip = if self.backend == Backend::Postgres { " FOR UPDATE SKIP LOCKED" } else { "" };
        let sql = format!(
            "UPDATE deliveries SET lease_holder = $1, lease_until_ms = $2
             WHERE id IN (
                SELECT d.id FROM deliveries d
                WHERE d.channel = $3 AND d.status = 'pending' AND d.next_try_ms <= $4
                  AND (d.lease_until_ms IS NULL OR d.lease_until_ms <= $4)
                  AND NOT EXISTS (
                    SELECT 1 FROM deliveries e
                    WHERE e.channel = d.channel AND e.target = d.target AND e.case_id = d.case_id
                      AND e.id < d.id AND e.status IN ('pending', 'paused'))
                ORDER BY d.id LIMIT $5{skip})
             RETURNING {COLUMNS}"
        );
        let mut tx = self.begin_write().await?;
        let rows = sqlx::query(sqlx::AssertSqlSafe(sql))
            .bind(holder)
            .bind(now_ms + lease_ms)
            .bind(channel)
            .bind(now_ms)
            .bind(limit)
            .fetch_all(&mut *tx)
            .await?;
        tx.commit().await?;
        let mut taken = rows.iter().map(delivery).collect::<Result<Vec<_>>>()?;
        taken.sort_by_key(|d| d.id);
        Ok(taken)
    }

    /// Records the attempt on delivery `id` by `holder` (if it still holds the lease: an instance
    /// that lost it records nothing). Returns whether it was recorded.
    pub async fn outbox_finish(&self, id: i64, holder: &str, attempt: &Attempt, now_ms: i64) -> Result<bool> {
        let (status, text, next_try, delivered) = match attempt {
            Attempt::Delivered { status } => ("delivered", status.as_str(), now_ms, Some(now_ms)),
            Attempt::Retry { reason, next_try_ms } => ("pending", reason.as_str(), *next_try_ms, None),
            Attempt::GiveUp { reason } => ("failed", reason.as_str(), now_ms, None),
            Attempt::Paused { reason } => ("paused", reason.as_str(), now_ms, None),
        };
        let done = sqlx::query(
            "UPDATE deliveries SET status = $1, last_status = $2, next_try_ms = $3, delivered_ms = $4,
                 attempts = attempts + 1, lease_holder = NULL, lease_until_ms = NULL
             WHERE id = $5 AND lease_holder = $6",
        )
        .bind(status)
        .bind(crate::import::clean(&text.chars().take(200).collect::<String>()))
        .bind(next_try)
        .bind(delivered)
        .bind(id)
        .bind(holder)
        .execute(&self.pool)
        .await?;
        Ok(done.rows_affected() == 1)
    }

    /// „Erneut senden“: the delivery is due again now (whatever its status). False: no such one.
    pub async fn outbox_retry(&self, id: i64, now_ms: i64) -> Result<bool> {
        let done = sqlx::query(
            "UPDATE deliveries SET status = 'pending', next_try_ms = $1, lease_holder = NULL, lease_until_ms = NULL
             WHERE id = $2",
        )
        .bind(now_ms)
        .bind(id)
        .execute(&self.pool)
        .await?;
        Ok(done.rows_affected() == 1)
    }

    /// A target paused (`paused`: its pending deliveries wait) or resumed (its paused ones are due
    /// now). Returns how many deliveries changed.
    pub async fn outbox_pause_target(&self, channel: &str, target: &str, paused: bool, now_ms: i64) -> Result<u64> {
        let (from, to) = if paused { ("pending", "paused") } else { ("paused", "pending") };
        let done = sqlx::query(
            "UPDATE deliveries SET status = $1, next_try_ms = $2, lease_holder = NULL, lease_until_ms = NULL
             WHERE channel = $3 AND target = $4 AND status = $5",
        )
        .bind(to)
        .bind(now_ms)
        .bind(channel)
        .bind(target)
        .bind(from)
        .execute(&self.pool)
        .await?;
        Ok(done.rows_affected())
    }

    /// The delivery log, newest first, optionally of one status; and how many match in all.
    pub async fn deliveries(&self, status: Option<&str>, limit: i64, offset: i64) -> Result<(Vec<Delivery>, i64)> {
        let status = status.unwrap_or("");
        let rows = sqlx::query(sqlx::AssertSqlSafe(format!(
            "SELECT {COLUMNS} FROM deliveries WHERE ($1 = '' OR status = $1) ORDER BY id DESC LIMIT $2 OFFSET $3"
        )))
        .bind(status)
        .bind(limit)
        .bind(offset)
        .fetch_all(&self.pool)
        .await?;
        let total: i64 = sqlx::query("SELECT COUNT(*) FROM deliveries WHERE ($1 = '' OR status = $1)")
            .bind(status)
            .fetch_one(&self.pool)
            .await?
            .try_get(0)?;
        Ok((rows.iter().map(delivery).collect::<Result<_>>()?, total))
    }

    /// One delivery.
    pub async fn delivery(&self, id: i64) -> Result<Option<Delivery>> {
        let row = sqlx::query(sqlx::AssertSqlSafe(format!("SELECT {COLUMNS} FROM deliveries WHERE id = $1")))
            .bind(id)
            .fetch_optional(&self.pool)
            .await?;
        row.as_ref().map(delivery).transpose()
    }
}
