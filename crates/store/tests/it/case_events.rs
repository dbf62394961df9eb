//! The Vorgang event log (issue 14): every path that changes a Vorgang leaves exactly its events,
//! a change that rolls back leaves none, and a reader following the log by id misses nothing
//! while writers commit concurrently. SQLite always, PostgreSQL with `POSTKORB_TEST_POSTGRES`.

use crate::common;
use common::backends;
use common::office::{item, mail, office};
use postkorb_core::{Decision, EmployeeId, KeepReason};
use postkorb_store::{ImportOutcome, Store};
use serde_json::{Value, json};

/// (Vorgang, kind, employee, payload) of one event.
type Seen = (i64, String, Option<i64>, Value);

/// The events after `*last`, oldest first; moves `*last` past them.
async fn events_after(store: &Store, last: &mut i64) -> Vec<Seen> {
    let events = store.case_events_after(*last, 1000).await.unwrap();
    if let Some(e) = events.last() {
        *last = e.id;
    }
    events.into_iter().map(|e| (e.case_id, e.kind, e.employee_id, e.payload)).collect()
}

fn ev(case_id: i64, kind: &str, employee: Option<EmployeeId>, payload: Value) -> Seen {
    (case_id, kind.to_string(), employee.map(|e| e.0), payload)
}

fn case_of(outcome: &ImportOutcome) -> i64 {
    match outcome {
        ImportOutcome::Case { case_id, .. } => *case_id,
        other => panic!("not a Vorgang: {other:?}"),
    }
}

fn kept_of(outcome: &ImportOutcome) -> i64 {
    match outcome {
        ImportOutcome::Kept { kept_id, .. } => *kept_id,
        other => panic!("not kept: {other:?}"),
    }
}

#[tokio::test]
async fn every_change_of_a_vorgang_leaves_exactly_its_events_in_order() {
    for (store, _d) in backends().await {
        let o = office(&store).await;
        let mut last = 0;
        let import = json!({ "via": "import" });

        // The batch import: a Vorgang for Bernd, one waiting for Bernd or Clara, two kept mails.
        let pool = Decision::Pool { sender: o.anna, candidates: vec![o.bernd, o.clara] };
        let items = [
            item("k1", "eins", Decision::Assign { sender: o.anna, to: o.bernd }),
            item("k2", "zwei", pool.clone()),
            item("k3", "drei", Decision::Keep(KeepReason::NoRoute)),
            item("k4", "vier", Decision::Keep(KeepReason::Unverified("kein DKIM".into()))),
        ];
        let out = store.commit_batch(o.mailbox, &items, 10).await.unwrap();
        let (assigned, waiting) = (case_of(&out[0]), case_of(&out[1]));
        let candidates = json!({ "candidates": [o.bernd.0, o.clara.0] });
        assert_eq!(
            events_after(&store, &mut last).await,
            [
                ev(assigned, "created", None, import.clone()),
                ev(assigned, "assigned", Some(o.bernd), json!({})),
                ev(waiting, "created", None, import.clone()),
                ev(waiting, "waiting", None, candidates.clone()),
            ]
        );
        // A second import of the same keys, and a duplicate under a new key, change nothing.
        store.commit_batch(o.mailbox, &items, 11).await.unwrap();
        store.commit_batch(o.mailbox, &[item("k9", "eins", Decision::Keep(KeepReason::NoRoute))], 11).await.unwrap();
        assert_eq!(events_after(&store, &mut last).await, []);

        // The claim: Clara wins, Bernd finds nothing left.
        assert_eq!(store.claim(o.clara, 20).await.unwrap(), [waiting]);
        assert_eq!(store.claim(o.bernd, 21).await.unwrap(), Vec::<i64>::new());
        assert_eq!(events_after(&store, &mut last).await, [ev(waiting, "claimed", Some(o.clara), json!({}))]);

        // Done and reopened; a change whose condition does not hold writes nothing.
        store.set_case_done(assigned, true, o.bernd, 30).await.unwrap();
        assert!(store.set_case_done(assigned, true, o.bernd, 31).await.is_err(), "already done");
        store.set_case_done(assigned, false, o.bernd, 32).await.unwrap();
        assert!(store.set_case_done(assigned, false, o.bernd, 33).await.is_err(), "not done");
        assert_eq!(
            events_after(&store, &mut last).await,
            [ev(assigned, "closed", Some(o.bernd), json!({})), ev(assigned, "reopened", Some(o.bernd), json!({})),]
        );

        // Kept mails routed by hand: one to Clara, one unverified to a pool.
        let (kept_plain, kept_unverified) = (kept_of(&out[2]), kept_of(&out[3]));
        let to_clara = Decision::Assign { sender: o.anna, to: o.clara };
        let m = mail("anna@mustermail.de", "drei");
        let routed = store.reroute_kept(kept_plain, &m, &to_clara, "admin", 40).await.unwrap().unwrap();
        let m = mail("anna@mustermail.de", "vier");
        let pooled = store.reroute_kept(kept_unverified, &m, &pool, "admin", 41).await.unwrap().unwrap();
        let by_hand = |kept_id: i64, unverified: bool| json!({ "via": "kept", "kept_id": kept_id, "actor": "admin", "unverified": unverified });
        assert_eq!(
            events_after(&store, &mut last).await,
            [
                ev(routed, "created", None, by_hand(kept_plain, false)),
                ev(routed, "assigned", Some(o.clara), json!({})),
                ev(pooled, "created", None, by_hand(kept_unverified, true)),
                ev(pooled, "waiting", None, candidates),
                ev(pooled, "unverified_routed", None, json!({ "actor": "admin" })),
            ]
        );
        assert_eq!(store.case(pooled).await.unwrap().unverified_routed_by.as_deref(), Some("admin"));

        // The sweep: nobody may receive the pooled Vorgang any more.
        for e in [o.bernd, o.clara] {
            let mut employee = store.employee(e).await.unwrap();
            employee.license = None;
            store.update_employee(&employee).await.unwrap();
        }
        let moved = store.sweep_orphan_pools(50).await.unwrap();
        assert_eq!(moved.len(), 1);
        assert_eq!(
            events_after(&store, &mut last).await,
            [ev(pooled, "moved", None, json!({ "kept_id": moved[0], "reason": "no_candidate_left" }))]
        );
        assert!(store.sweep_orphan_pools(51).await.unwrap().is_empty());
        assert_eq!(events_after(&store, &mut last).await, []);

        // The Verlauf reads the same rows; the pager's numbers follow the assigned and claimed events.
        let kinds: Vec<String> = store.case(waiting).await.unwrap().events.into_iter().map(|e| e.kind).collect();
        assert_eq!(kinds, ["created", "waiting", "claimed"]);
        assert_eq!(store.count_cases(Some(o.bernd)).await.unwrap(), 1);
        assert_eq!(store.count_cases(Some(o.clara)).await.unwrap(), 2);
    }
}

async fn count(store: &Store, table: &str) -> i64 {
    let row: (i64,) = sqlx::query_as(sqlx::AssertSqlSafe(format!("SELECT COUNT(*) FROM {table}")))
        .fetch_one(store.pool())
        .await
        .unwrap();
    row.0
}

#[tokio::test]
async fn a_change_that_rolls_back_leaves_no_event() {
    for (store, _d) in backends().await {
        let o = office(&store).await;
        let kept = store.commit_batch(o.mailbox, &[item("k0", "k", Decision::Keep(KeepReason::NoRoute))], 1).await;
        let kept_id = kept_of(&kept.unwrap()[0]);
        let pool = Decision::Pool { sender: o.anna, candidates: vec![o.bernd, o.clara] };
        store.commit_batch(o.mailbox, &[item("k1", "pool", pool)], 2).await.unwrap();
        let before = (count(&store, "cases").await, count(&store, "case_events").await);
        assert_eq!(before, (1, 2));

        // Each fails after its events were written: the ledger rows come last in a batch, the
        // audit entry last when a kept mail is routed, the pager's count last in a claim.
        common::refuse_inserts_into(&store, "ledger").await;
        let batch = [item("k2", "eins", Decision::Assign { sender: o.anna, to: o.bernd })];
        assert!(store.commit_batch(o.mailbox, &batch, 3).await.is_err());
        common::refuse_inserts_into(&store, "audit_log").await;
        let to_bernd = Decision::Assign { sender: o.anna, to: o.bernd };
        assert!(store.reroute_kept(kept_id, &mail("anna@mustermail.de", "k"), &to_bernd, "admin", 4).await.is_err());
        common::refuse_inserts_into(&store, "case_counts").await;
        assert!(store.claim(o.clara, 5).await.is_err());

        assert_eq!((count(&store, "cases").await, count(&store, "case_events").await), before);
        assert_eq!(count(&store, "case_counts").await, 0);
        assert_eq!(store.waiting_for(o.clara).await.unwrap().len(), 1, "still waiting");
        assert_eq!(store.kept_mail(kept_id).await.unwrap().status, "open");
    }
}

#[tokio::test]
async fn a_reader_following_the_log_by_id_misses_no_event_of_concurrent_writers() {
    const WRITERS: usize = 6;
    const BATCHES: usize = 8;
    for (store, _d) in backends().await {
        let o = office(&store).await;
        let done = std::sync::Arc::new(std::sync::atomic::AtomicBool::new(false));
        let reader = tokio::spawn({
            let (store, done) = (store.clone(), done.clone());
            async move {
                let (mut last, mut seen) = (0, Vec::new());
                loop {
                    // Read the flag first: a read after the writers finished sees all of them.
                    let finished = done.load(std::sync::atomic::Ordering::SeqCst);
                    for e in store.case_events_after(last, 50).await.unwrap() {
                        assert!(e.id > last, "ids only grow");
                        last = e.id;
                        seen.push(e.id);
                    }
                    if finished && store.case_events_after(last, 1).await.unwrap().is_empty() {
                        return seen;
                    }
                    tokio::time::sleep(std::time::Duration::from_millis(1)).await;
                }
            }
        });
        let writers: Vec<_> = (0..WRITERS)
            .map(|w| {
                let store = store.clone();
                let (anna, bernd, clara, mailbox) = (o.anna, o.bernd, o.clara, o.mailbox);
                tokio::spawn(async move {
                    for b in 0..BATCHES {
                        let items: Vec<_> = (0..3)
                            .map(|i| {
                                let decision = match i {
                                    0 => Decision::Assign { sender: anna, to: bernd },
                                    _ => Decision::Pool { sender: anna, candidates: vec![bernd, clara] },
                                };
                                item(&format!("w{w}-{b}-{i}"), &format!("w{w}-{b}-{i}"), decision)
                            })
                            .collect();
                        store.commit_batch(mailbox, &items, 1).await.unwrap();
                        store.claim(if w % 2 == 0 { bernd } else { clara }, 2).await.unwrap();
                    }
                })
            })
            .collect();
        for w in writers {
            w.await.unwrap();
        }
        done.store(true, std::sync::atomic::Ordering::SeqCst);
        let seen = reader.await.unwrap();
        let all: Vec<(i64,)> =
            sqlx::query_as("SELECT id FROM case_events ORDER BY id").fetch_all(store.pool()).await.unwrap();
        let all: Vec<i64> = all.into_iter().map(|r| r.0).collect();
        // Each batch: 3 created, 1 assigned, 2 waiting; each pooled Vorgang claimed once.
        assert_eq!(all.len(), WRITERS * BATCHES * (6 + 2));
        let missed: Vec<&i64> = all.iter().filter(|id| !seen.contains(id)).collect();
        assert_eq!(missed, Vec::<&i64>::new(), "events the reader passed over");
        assert_eq!(seen, all, "the reader saw every event, each once");
    }
}

#[tokio::test]
async fn the_end_of_the_log_is_its_newest_event() {
    for (store, _d) in backends().await {
        assert_eq!(store.case_events_end().await.unwrap(), 0, "an empty log");
        let o = office(&store).await;
        store
            .commit_batch(o.mailbox, &[item("e1", "eins", Decision::Assign { sender: o.anna, to: o.bernd })], 10)
            .await
            .unwrap();
        let newest = store.case_events_after(0, 1000).await.unwrap().last().unwrap().id;
        assert_eq!(store.case_events_end().await.unwrap(), newest);
        assert!(store.case_events_after(newest, 10).await.unwrap().is_empty());
    }
}
