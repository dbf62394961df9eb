//! The daily summary („täglich um HH:MM als Zusammenfassung“): items queued by the e-mail channel
//! (`notify_digest_items`, migration 0024) and taken once per day and person.
//!
//! **Invariant:** a person's summary is taken once per digest time, also by two instances: the
//! taker moves `notify_settings.last_digest_ms` from the value it read to now in one conditional
//! UPDATE; the loser changes nothing and takes nothing.

use postkorb_core::EmployeeId;
use postkorb_core::notify::{NotifyKind, digest_due, last_digest_slot};
use serde::Serialize;
use sqlx::Row;

use crate::{Result, Store, StoreError};

/// One thing a summary tells about.
#[derive(Clone, Debug, PartialEq, Eq, Serialize)]
pub struct DigestItem {
    pub kind: NotifyKind,
    pub event_id: i64,
    pub case_id: i64,
    pub queued_ms: i64,
}

/// A summary to send to `employee`; after sending, `Store::digest_sent(employee, taken_ms)`.
#[derive(Clone, Debug, PartialEq, Eq, Serialize)]
pub struct Digest {
    pub employee: EmployeeId,
    pub taken_ms: i64,
    /// Oldest first.
    pub items: Vec<DigestItem>,
}

impl Store {
    /// Puts an event into `employee`'s next summary as `kind` (their timing for it is „täglich“).
    /// Queuing an event twice (a dispatcher delivering again) keeps one item.
    pub async fn queue_digest_item(
        &self,
        employee: EmployeeId,
        kind: NotifyKind,
        event_id: i64,
        case_id: i64,
        now_ms: i64,
    ) -> Result<()> {
        sqlx::query(
            "INSERT INTO notify_digest_items (employee_id, kind, event_id, case_id, queued_ms)
             VALUES ($1, $2, $3, $4, $5) ON CONFLICT (employee_id, kind, event_id) DO NOTHING",
        )
        .bind(employee.0)
        .bind(kind.code())
        .bind(event_id)
        .bind(case_id)
        .bind(now_ms)
        .execute(&self.pool)
        .await?;
        Ok(())
    }

    /// The summaries due at `now_ms`, taken: for each person whose digest time (office clock)
    /// came since their last summary (`digest_due`) and who has an item queued before that time,
    /// all their items. Each summary is taken once, also when two instances ask at once (see the
    /// module's invariant). An item stays until [`Store::digest_sent`]: one taken but not sent
    /// (crash) comes again with the next summary.
    pub async fn due_digests(&self, now_ms: i64) -> Result<Vec<Digest>> {
        let rows = sqlx::query(
            "SELECT s.employee_id, s.digest_minute, s.last_digest_ms, MIN(i.queued_ms)
             FROM notify_settings s JOIN notify_digest_items i ON i.employee_id = s.employee_id
             GROUP BY s.employee_id, s.digest_minute, s.last_digest_ms ORDER BY s.employee_id",
        )
        .fetch_all(&self.pool)
        .await?;
        let mut out = Vec::new();
        for r in rows {
            let (employee, minute, last, oldest): (i64, i64, i64, i64) =
                (r.try_get(0)?, r.try_get(1)?, r.try_get(2)?, r.try_get(3)?);
            if !digest_due(minute, last, now_ms) || oldest > last_digest_slot(minute, now_ms) {
                continue;
            }
            if let Some(d) = self.take_digest(EmployeeId(employee), last, now_ms).await? {
                out.push(d);
            }
        }
        Ok(out)
    }

    /// Takes `employee`'s summary if nobody took it since `last_seen`.
    async fn take_digest(&self, employee: EmployeeId, last_seen: i64, now_ms: i64) -> Result<Option<Digest>> {
        let mut tx = self.begin_write().await?;
        let won = sqlx::query(
            "UPDATE notify_settings SET last_digest_ms = $1 WHERE employee_id = $2 AND last_digest_ms = $3",
        )
        .bind(now_ms)
        .bind(employee.0)
        .bind(last_seen)
        .execute(&mut *tx)
        .await?;
        if won.rows_affected() == 0 {
            tx.rollback().await?;
            return Ok(None);
        }
        let rows = sqlx::query(
            "UPDATE notify_digest_items SET digest_ms = $1 WHERE employee_id = $2 AND queued_ms <= $1
             RETURNING kind, event_id, case_id, queued_ms, id",
        )
        .bind(now_ms)
        .bind(employee.0)
        .fetch_all(&mut *tx)
        .await?;
        tx.commit().await?;
        let mut items = rows
            .iter()
            .map(|r| {
                let kind: String = r.try_get(0)?;
                let id: i64 = r.try_get(4)?;
                let item = DigestItem {
                    kind: NotifyKind::from_code(&kind)
                        .ok_or_else(|| StoreError::Invalid(format!("digest item {id} of kind {kind:?}")))?,
                    event_id: r.try_get(1)?,
                    case_id: r.try_get(2)?,
                    queued_ms: r.try_get(3)?,
                };
                Ok((id, item))
            })
            .collect::<Result<Vec<_>>>()?;
        items.sort_by_key(|(id, _)| *id);
        Ok(Some(Digest { employee, taken_ms: now_ms, items: items.into_iter().map(|(_, i)| i).collect() }))
    }

    /// The summary taken at `taken_ms` was sent: its items are gone.
    pub async fn digest_sent(&self, employee: EmployeeId, taken_ms: i64) -> Result<()> {
        sqlx::query("DELETE FROM notify_digest_items WHERE employee_id = $1 AND digest_ms = $2")
            .bind(employee.0)
            .bind(taken_ms)
            .execute(&self.pool)
            .await?;
        Ok(())
    }
}
