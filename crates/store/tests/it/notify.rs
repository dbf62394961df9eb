//! Notifications (issue 17) on both backends: „Wiedervorlage fällig“ is written once per date,
//! also by two instances at once, and again for a changed date; preferences are kept; the daily
//! summary is taken once per day and person, also by two instances, on the office's clock.
//! SQLite always, PostgreSQL with `POSTKORB_TEST_POSTGRES`.

use std::collections::BTreeSet;

use crate::common;
use common::database_urls;
use common::office::{item, office};
use postkorb_core::notify::{NotifyKind, NotifyPrefs, Timing};
use postkorb_core::time::berlin_to_utc;
use postkorb_core::{Decision, EmployeeId};
use postkorb_store::{ImportOutcome, Store};
use serde_json::json;

async fn one_case(store: &Store, mailbox: i64, key: &str, to: EmployeeId, sender: EmployeeId) -> i64 {
    let decision = Decision::Assign { sender, to };
    match &store.commit_batch(mailbox, &[item(key, key, decision)], 10).await.unwrap()[0] {
        ImportOutcome::Case { case_id, .. } => *case_id,
        other => panic!("not a Vorgang: {other:?}"),
    }
}

/// The `follow_up_due` events after `*last`: (Vorgang, payload); moves `*last` past all events.
async fn due_events(store: &Store, last: &mut i64) -> Vec<(i64, serde_json::Value)> {
    let all = store.case_events_after(*last, 10_000).await.unwrap();
    if let Some(e) = all.last() {
        *last = e.id;
    }
    all.into_iter().filter(|e| e.kind == "follow_up_due").map(|e| (e.case_id, e.payload)).collect()
}

/// Two instances on one database.
async fn two_instances() -> Vec<(Store, Store, Option<tempfile::TempDir>)> {
    let mut out = Vec::new();
    for (url, dir) in database_urls().await {
        let first = Store::open(&url).await.unwrap();
        out.push((first, Store::open(&url).await.unwrap(), dir));
    }
    out
}

#[tokio::test]
async fn a_due_wiedervorlage_is_announced_once_per_date_also_by_two_instances_at_once() {
    for (one, two, _dir) in two_instances().await {
        let o = office(&one).await;
        let mut cases = Vec::new();
        for i in 0..12 {
            let c = one_case(&one, o.mailbox, &format!("c{i}"), o.bernd, o.anna).await;
            // Due at 100 + i (the first ten by 200), the last two later.
            let due = if i < 10 { 100 + i } else { 5_000 + i };
            one.set_follow_up(c, o.bernd, Some(due), Some("Rückruf"), 20).await.unwrap();
            cases.push(c);
        }
        // A done Vorgang with a due date is not announced.
        let done = one_case(&one, o.mailbox, "done", o.bernd, o.anna).await;
        one.set_follow_up(done, o.bernd, Some(50), None, 20).await.unwrap();
        one.set_case_done(done, true, o.bernd, 30).await.unwrap();
        let mut last = one.case_events_after(0, 10_000).await.unwrap().last().unwrap().id;

        // Not yet due: nothing.
        assert!(one.announce_due_follow_ups(99, 100).await.unwrap().is_empty());
        // Both instances at once, several rounds with small limits: each due date once.
        let mut won = Vec::new();
        for _ in 0..4 {
            let (a, b) = tokio::join!(one.announce_due_follow_ups(300, 3), two.announce_due_follow_ups(300, 3));
            won.extend(a.unwrap());
            won.extend(b.unwrap());
        }
        let unique: BTreeSet<i64> = won.iter().copied().collect();
        assert_eq!((won.len(), unique), (10, cases[..10].iter().copied().collect()), "each once");
        let events = due_events(&one, &mut last).await;
        assert_eq!(events.len(), 10, "{events:?}");
        assert_eq!(events[0], (cases[0], json!({"assignee": o.bernd.0, "due_ms": 100, "reason": "Rückruf"})));
        assert!(one.announce_due_follow_ups(1_000, 100).await.unwrap().is_empty(), "announced already");

        // The same date set again is no change; a changed date comes again when it is reached.
        one.set_follow_up(cases[0], o.bernd, Some(100), Some("Rückruf"), 400).await.unwrap();
        one.set_follow_up(cases[1], o.bernd, Some(2_000), None, 400).await.unwrap();
        assert!(two.announce_due_follow_ups(1_999, 100).await.unwrap().is_empty());
        assert_eq!(two.announce_due_follow_ups(2_000, 100).await.unwrap(), [cases[1]]);
        // Removed and set to the old date again: a new date, announced again.
        one.set_follow_up(cases[2], o.bernd, None, None, 2_100).await.unwrap();
        one.set_follow_up(cases[2], o.bernd, Some(102), None, 2_100).await.unwrap();
        assert_eq!(one.announce_due_follow_ups(2_200, 100).await.unwrap(), [cases[2]]);
        let events = due_events(&one, &mut last).await;
        assert_eq!(
            events.iter().filter(|e| e.0 != cases[0]).map(|e| e.0).collect::<Vec<_>>(),
            [cases[1], cases[2]],
            "{events:?}"
        );
        assert!(events.iter().all(|e| e.0 != cases[0]), "unchanged date: not again");

        // The Verlauf of a Vorgang shows it.
        let detail = one.case(cases[1]).await.unwrap();
        assert!(detail.events.iter().any(|e| e.kind == "follow_up_due"), "{:?}", detail.events);
    }
}

#[tokio::test]
async fn preferences_are_kept_per_employee_with_sensible_defaults() {
    for (store, _dir) in common::backends().await {
        let o = office(&store).await;
        assert_eq!(store.notify_prefs(o.bernd).await.unwrap(), NotifyPrefs::default());
        let mine = NotifyPrefs {
            pool: Timing::Daily,
            handed_over: Timing::Off,
            digest_minute: 7 * 60 + 30,
            ..Default::default()
        };
        store.set_notify_prefs(o.bernd, &mine, 1).await.unwrap();
        let changed = NotifyPrefs { new_case: Timing::Daily, ..mine };
        store.set_notify_prefs(o.bernd, &changed, 2).await.unwrap();
        assert_eq!(store.notify_prefs(o.bernd).await.unwrap(), changed);
        assert_eq!(store.notify_prefs(o.clara).await.unwrap(), NotifyPrefs::default(), "another's are their own");
        let bad = NotifyPrefs { digest_minute: 24 * 60, ..Default::default() };
        assert!(store.set_notify_prefs(o.clara, &bad, 3).await.is_err());
    }
}

#[tokio::test]
async fn the_daily_summary_is_taken_once_a_day_at_its_local_time_also_by_two_instances() {
    let at = |d: i64, hh: i64, mm: i64| berlin_to_utc(2026, 3, d, hh, mm);
    for (one, two, _dir) in two_instances().await {
        let o = office(&one).await;
        let a = one_case(&one, o.mailbox, "a", o.bernd, o.anna).await;
        let b = one_case(&one, o.mailbox, "b", o.bernd, o.anna).await;
        // Summary at 08:00, chosen on Saturday 28 March 2026 at noon (the clocks change that night).
        let prefs = NotifyPrefs { pool: Timing::Daily, digest_minute: 8 * 60, ..Default::default() };
        one.set_notify_prefs(o.bernd, &prefs, at(28, 12, 0)).await.unwrap();
        one.queue_digest_item(o.bernd, NotifyKind::Pool, 41, a, at(28, 13, 0)).await.unwrap();
        one.queue_digest_item(o.bernd, NotifyKind::Pool, 41, a, at(28, 13, 1)).await.unwrap();
        two.queue_digest_item(o.bernd, NotifyKind::Pool, 42, b, at(28, 14, 0)).await.unwrap();
        assert!(one.due_digests(at(28, 23, 0)).await.unwrap().is_empty(), "today's 08:00 was before the items");
        assert!(one.due_digests(at(29, 7, 59)).await.unwrap().is_empty(), "summer time: 07:59 local");

        // 08:00 local on the first day of summer time, both instances at once: one summary.
        let (x, y) = tokio::join!(one.due_digests(at(29, 8, 0)), two.due_digests(at(29, 8, 0)));
        let taken: Vec<_> = x.unwrap().into_iter().chain(y.unwrap()).collect();
        assert_eq!(taken.len(), 1, "{taken:?}");
        let d = &taken[0];
        assert_eq!(d.employee, o.bernd);
        assert_eq!(
            d.items.iter().map(|i| (i.event_id, i.case_id, i.kind)).collect::<Vec<_>>(),
            [(41, a, NotifyKind::Pool), (42, b, NotifyKind::Pool)]
        );
        assert!(one.due_digests(at(29, 8, 5)).await.unwrap().is_empty(), "once a day");
        one.digest_sent(o.bernd, d.taken_ms).await.unwrap();

        // An item after today's time waits for tomorrow's 08:00 …
        one.queue_digest_item(o.bernd, NotifyKind::NewCase, 43, a, at(29, 10, 0)).await.unwrap();
        assert!(one.due_digests(at(29, 11, 0)).await.unwrap().is_empty());
        let next = two.due_digests(at(30, 8, 0)).await.unwrap();
        assert_eq!(next.iter().map(|d| d.items.len()).collect::<Vec<_>>(), [1]);
        // … and one taken but never sent (a crash) comes with the next summary.
        let again = one.due_digests(at(31, 8, 0)).await.unwrap();
        assert_eq!(again.iter().flat_map(|d| d.items.iter().map(|i| i.event_id)).collect::<Vec<_>>(), [43]);
        one.digest_sent(o.bernd, again[0].taken_ms).await.unwrap();
        assert!(one.due_digests(berlin_to_utc(2026, 4, 1, 8, 0)).await.unwrap().is_empty(), "nothing left");
    }
}
