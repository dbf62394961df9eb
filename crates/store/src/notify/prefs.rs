//! Each employee's notification preferences (`notify_settings`, migration 0024): a timing per kind
//! and one time of day for the summary. No row: the defaults of `NotifyPrefs::default`.

use postkorb_core::EmployeeId;
use postkorb_core::notify::{NotifyPrefs, Timing};
use sqlx::Row;

use crate::{Result, Store, StoreError};

fn timing(employee: EmployeeId, word: &str) -> Result<Timing> {
    Timing::from_code(word)
        .ok_or_else(|| StoreError::Invalid(format!("notification setting {word:?} of employee {employee}")))
}

impl Store {
    /// The preferences of `employee` (the defaults when they never saved any).
    pub async fn notify_prefs(&self, employee: EmployeeId) -> Result<NotifyPrefs> {
        let row = sqlx::query(
            "SELECT new_case, pool, follow_up_due, handed_over, digest_minute FROM notify_settings
             WHERE employee_id = $1",
        )
        .bind(employee.0)
        .fetch_optional(&self.pool)
        .await?;
        let Some(r) = row else { return Ok(NotifyPrefs::default()) };
        Ok(NotifyPrefs {
            new_case: timing(employee, &r.try_get::<String, _>(0)?)?,
            pool: timing(employee, &r.try_get::<String, _>(1)?)?,
            follow_up_due: timing(employee, &r.try_get::<String, _>(2)?)?,
            handed_over: timing(employee, &r.try_get::<String, _>(3)?)?,
            digest_minute: r.try_get(4)?,
        })
    }

    /// Saves the preferences of `employee`. The first save counts as a summary sent at `now_ms`,
    /// so a new „täglich“ starts with the next digest time, not a summary at once.
    pub async fn set_notify_prefs(&self, employee: EmployeeId, prefs: &NotifyPrefs, now_ms: i64) -> Result<()> {
        if !(0..24 * 60).contains(&prefs.digest_minute) {
            return Err(StoreError::Invalid(format!("digest time {} minutes after midnight", prefs.digest_minute)));
        }
        sqlx::query(
            "INSERT INTO notify_settings
                 (employee_id, new_case, pool, follow_up_due, handed_over, digest_minute, last_digest_ms)
             VALUES ($1, $2, $3, $4, $5, $6, $7)
             ON CONFLICT (employee_id) DO UPDATE SET new_case = excluded.new_case, pool = excluded.pool,
                 follow_up_due = excluded.follow_up_due, handed_over = excluded.handed_over,
                 digest_minute = excluded.digest_minute",
        )
        .bind(employee.0)
        .bind(prefs.new_case.code())
        .bind(prefs.pool.code())
        .bind(prefs.follow_up_due.code())
        .bind(prefs.handed_over.code())
        .bind(prefs.digest_minute)
        .bind(now_ms)
        .execute(&self.pool)
        .await?;
        Ok(())
    }
}
