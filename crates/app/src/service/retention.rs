//! Deletion runs (issue 18): the daily run of `serve` at the office's time (default 02:30, one
//! instance per day via `Store::take_retention_day`), and the one run `postkorb retention run`
//! and the daily task share.

use postkorb_core::time::berlin_civil;
use postkorb_store::{ClassRun, Store};

/// Rows per transaction: small, so SQLite's one writer (the import) waits for one batch at most.
pub const BATCH: i64 = 200;

/// Deletes (or, `dry_run`, finds) what is due at `now_ms`.
pub async fn run(store: &Store, now_ms: i64, dry_run: bool) -> Result<Vec<ClassRun>, postkorb_store::StoreError> {
    store.retention_run(now_ms, dry_run, BATCH).await
}

/// The office day (yyyymmdd) whose daily run is due at `now_ms`, if its time has come.
pub fn due_day(now_ms: i64, run_minute: u32) -> Option<i64> {
    let (y, m, d, hh, mm) = berlin_civil(now_ms);
    (hh * 60 + mm >= i64::from(run_minute)).then_some(y * 10_000 + m * 100 + d)
}

/// Runs today's deletion once it is due and no instance took it yet; `true` if this call ran it.
pub async fn daily(store: &Store, now_ms: i64) -> Result<bool, postkorb_store::StoreError> {
    let settings = store.retention_settings().await?;
    let Some(day) = due_day(now_ms, settings.run_minute) else { return Ok(false) };
    if !store.take_retention_day(day).await? {
        return Ok(false);
    }
    let runs = run(store, now_ms, false).await?;
    for r in runs.iter().filter(|r| r.count > 0) {
        tracing::info!(class = r.class.code(), count = r.count, "retention run deleted");
    }
    Ok(true)
}

#[cfg(test)]
mod tests {
    use super::*;
    use postkorb_core::time::parse_berlin;

    #[test]
    fn the_daily_run_is_due_from_its_time_on_the_offices_clock() {
        // (now, due day)
        let cases: &[(&str, Option<i64>)] = &[
            ("2026-03-28 02:29", None),
            // 02:29 does not exist on 29 March 2026 (summer time begins): read as 03:29.
            ("2026-03-29 02:29", Some(20260329)),
            ("2026-03-29 03:00", Some(20260329)),
            ("2026-10-25 02:30", Some(20261025)),
            ("2026-12-31 23:59", Some(20261231)),
            ("2027-01-01 00:10", None),
        ];
        for (now, day) in cases {
            assert_eq!(due_day(parse_berlin(now).unwrap(), 150), *day, "{now}");
        }
    }
}
