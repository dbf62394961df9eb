//! „Wiedervorlage fällig“ (issue 17): writes the `follow_up_due` event of every Wiedervorlage whose
//! date has come and that was not announced yet, in steps (`Store::announce_due_follow_ups`: once
//! per date, also with several instances). `serve` runs it every minute (`serve::follow_ups`),
//! `postkorb cases announce-due` once.

use postkorb_store::Store;

/// Vorgänge per step (one short write transaction each).
const STEP: i64 = 200;

/// Announces every due Wiedervorlage at `now_ms`; returns how many this call announced.
pub async fn announce_due(store: &Store, now_ms: i64) -> anyhow::Result<usize> {
    let mut total = 0;
    loop {
        let n = store.announce_due_follow_ups(now_ms, STEP).await?.len();
        total += n;
        if (n as i64) < STEP {
            return Ok(total);
        }
    }
}
