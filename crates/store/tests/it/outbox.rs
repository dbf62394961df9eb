//! The outbox (issue 17): a committed change makes exactly one delivery per channel and target, a
//! rolled-back one none; deliveries of one Vorgang to one target go in order; a lease that
//! expired is taken again; concurrent fan-outs and takers (two instances) never double a
//! delivery. SQLite always, PostgreSQL with `POSTKORB_TEST_POSTGRES`.

use std::collections::{BTreeMap, BTreeSet};

use crate::common;
use common::backends;
use common::office::{item, office};
use postkorb_core::{Decision, KeepReason};
use postkorb_store::{Attempt, NewDelivery, OutboxItem, Store};

/// One delivery per item to each of `targets`, the body naming the item.
fn to(targets: &'static [&'static str]) -> impl FnMut(&OutboxItem) -> Vec<NewDelivery> {
    move |item| {
        targets
            .iter()
            .map(|t| NewDelivery {
                target: t.to_string(),
                kind: item.kind.clone(),
                body: format!("{} {}", item.key, item.subject),
                paused: false,
            })
            .collect()
    }
}

/// (target, event kind, body) of every delivery, oldest first.
async fn deliveries(store: &Store) -> Vec<(String, String, String)> {
    let (mut all, total) = store.deliveries(None, 1000, 0).await.unwrap();
    assert_eq!(total as usize, all.len());
    all.reverse();
    all.into_iter().map(|d| (d.target, d.kind, d.body)).collect()
}

fn delivered() -> Attempt {
    Attempt::Delivered { status: "HTTP 200".into() }
}

#[tokio::test]
async fn a_commit_makes_one_delivery_per_target_and_a_rollback_none() {
    for (store, _d) in backends().await {
        let o = office(&store).await;
        // A new channel starts at the end of the logs: what happened before is not sent.
        store.commit_batch(o.mailbox, &[item("k0", "alt", Decision::Keep(KeepReason::NoRoute))], 1).await.unwrap();
        assert_eq!(store.outbox_fan_out("test", 100, 2, to(&["a", "b"])).await.unwrap(), 0);

        let items = [
            item("k1", "eins", Decision::Assign { sender: o.anna, to: o.bernd }),
            item("k2", "zwei", Decision::Keep(KeepReason::NoRoute)),
        ];
        let out = store.commit_batch(o.mailbox, &items, 10).await.unwrap();
        assert_eq!(store.outbox_fan_out("test", 100, 11, to(&["a", "b"])).await.unwrap(), 3);
        assert_eq!(store.outbox_fan_out("test", 100, 12, to(&["a", "b"])).await.unwrap(), 0, "read once");
        // Another channel has its own cursor (and starts now: nothing).
        assert_eq!(store.outbox_fan_out("other", 100, 12, to(&["a"])).await.unwrap(), 0);

        // A change that rolls back (its ledger rows refused) leaves nothing to fan out.
        common::refuse_inserts_into(&store, "ledger").await;
        let batch = [item("k3", "drei", Decision::Assign { sender: o.anna, to: o.bernd })];
        assert!(store.commit_batch(o.mailbox, &batch, 20).await.is_err());
        assert_eq!(store.outbox_fan_out("test", 100, 21, to(&["a", "b"])).await.unwrap(), 0);

        let case = match &out[0] {
            postkorb_store::ImportOutcome::Case { case_id, .. } => *case_id,
            other => panic!("{other:?}"),
        };
        let events = store.case_events_after(0, 100).await.unwrap();
        let keys: Vec<String> = events.iter().filter(|e| e.case_id == case).map(|e| format!("evt_{}", e.id)).collect();
        let kept = match &out[1] {
            postkorb_store::ImportOutcome::Kept { kept_id, .. } => format!("kept_{kept_id}"),
            other => panic!("{other:?}"),
        };
        let expected: Vec<(String, String, String)> =
            [(&keys[0], "created", "eins"), (&keys[1], "assigned", "eins"), (&kept, "kept", "zwei")]
                .iter()
                .flat_map(|(key, kind, subject)| {
                    ["a", "b"].map(|t| (t.to_string(), kind.to_string(), format!("{key} {subject}")))
                })
                .collect();
        let mut got = deliveries(&store).await;
        got.sort();
        let mut expected = expected;
        expected.sort();
        assert_eq!(got, expected);
    }
}

#[tokio::test]
async fn deliveries_of_one_vorgang_go_in_order_and_an_expired_lease_is_taken_again() {
    for (store, _d) in backends().await {
        let o = office(&store).await;
        store.outbox_fan_out("test", 100, 1, to(&["a"])).await.unwrap();
        let out = store
            .commit_batch(
                o.mailbox,
                &[
                    item("k1", "eins", Decision::Assign { sender: o.anna, to: o.bernd }),
                    item("k2", "zwei", Decision::Keep(KeepReason::NoRoute)),
                ],
                10,
            )
            .await
            .unwrap();
        let case = match &out[0] {
            postkorb_store::ImportOutcome::Case { case_id, .. } => *case_id,
            other => panic!("{other:?}"),
        };
        store.set_case_done(case, true, o.bernd, 11).await.unwrap();
        store.outbox_fan_out("test", 100, 12, to(&["a"])).await.unwrap();
        let kinds = |taken: &[postkorb_store::Delivery]| taken.iter().map(|d| d.kind.clone()).collect::<Vec<_>>();

        // Only the first of the Vorgang (created), and the kept mail, which belongs to no Vorgang.
        let taken = store.outbox_take("test", "A", 100, 1_000, 10).await.unwrap();
        assert_eq!(kinds(&taken), ["created", "kept"]);
        let (created, kept) = (taken[0].id, taken[1].id);
        assert!(store.outbox_finish(kept, "A", &delivered(), 101).await.unwrap());
        // It fails: retried at 500; nothing later of that Vorgang goes before it.
        let retry = Attempt::Retry { reason: "HTTP 503".into(), next_try_ms: 500 };
        assert!(store.outbox_finish(created, "A", &retry, 102).await.unwrap());
        assert!(store.outbox_take("test", "A", 200, 1_000, 10).await.unwrap().is_empty());
        let again = store.outbox_take("test", "A", 500, 1_000, 10).await.unwrap();
        assert_eq!(
            (kinds(&again), again[0].attempts, again[0].last_status.as_str()),
            (vec!["created".into()], 1, "HTTP 503")
        );
        assert!(store.outbox_finish(created, "A", &delivered(), 501).await.unwrap());

        // The next one, leased by A, which dies: B takes it only when the lease has expired,
        // and A's late answer is not recorded.
        assert_eq!(kinds(&store.outbox_take("test", "A", 600, 1_000, 10).await.unwrap()), ["assigned"]);
        assert!(store.outbox_take("test", "B", 1_599, 1_000, 10).await.unwrap().is_empty());
        let taken = store.outbox_take("test", "B", 1_600, 1_000, 10).await.unwrap();
        assert_eq!(kinds(&taken), ["assigned"]);
        assert!(!store.outbox_finish(taken[0].id, "A", &delivered(), 1_601).await.unwrap());
        let give_up = Attempt::GiveUp { reason: "gone".into() };
        assert!(store.outbox_finish(taken[0].id, "B", &give_up, 1_602).await.unwrap());
        // Given up does not block the rest; „Erneut senden“ makes it due again.
        assert_eq!(kinds(&store.outbox_take("test", "B", 1_700, 1_000, 10).await.unwrap()), ["closed"]);
        assert!(store.outbox_retry(taken[0].id, 1_800).await.unwrap());
        let (pending, n) = store.deliveries(Some("pending"), 10, 0).await.unwrap();
        assert_eq!((n, kinds(&pending)), (2, vec!["closed".to_string(), "assigned".into()]), "newest first");
    }
}

#[tokio::test]
async fn a_paused_target_keeps_its_deliveries_until_it_is_resumed() {
    for (store, _d) in backends().await {
        let o = office(&store).await;
        store.outbox_fan_out("test", 100, 1, to(&["a"])).await.unwrap();
        store.commit_batch(o.mailbox, &[item("k1", "eins", Decision::Keep(KeepReason::NoRoute))], 2).await.unwrap();
        store.outbox_fan_out("test", 100, 3, to(&["a"])).await.unwrap();
        assert_eq!(store.outbox_pause_target("test", "a", true, 4).await.unwrap(), 1);
        assert!(store.outbox_take("test", "A", 5, 1_000, 10).await.unwrap().is_empty());
        assert_eq!(store.outbox_pause_target("test", "a", false, 6).await.unwrap(), 1);
        assert_eq!(store.outbox_take("test", "A", 6, 1_000, 10).await.unwrap().len(), 1);
    }
}

#[tokio::test]
async fn two_instances_fan_out_and_deliver_each_event_once() {
    const CASES: usize = 12;
    for (store, _d) in backends().await {
        let o = office(&store).await;
        store.outbox_fan_out("test", 100, 1, to(&["a", "b"])).await.unwrap();
        for n in 0..CASES {
            let decision = Decision::Assign { sender: o.anna, to: if n % 2 == 0 { o.bernd } else { o.clara } };
            store.commit_batch(o.mailbox, &[item(&format!("k{n}"), &format!("s{n}"), decision)], 10).await.unwrap();
        }
        // Two instances, each fanning out (a few items at a time) and delivering until done.
        let instance = |holder: &'static str| {
            let store = store.clone();
            tokio::spawn(async move {
                let mut sent = Vec::new();
                let mut idle = 0;
                while idle < 3 {
                    let read = store.outbox_fan_out("test", 5, 20, to(&["a", "b"])).await.unwrap();
                    let taken = store.outbox_take("test", holder, 20, 60_000, 4).await.unwrap();
                    idle = if read == 0 && taken.is_empty() { idle + 1 } else { 0 };
                    for d in taken {
                        sent.push((d.target.clone(), d.event_key.clone(), d.case_id));
                        assert!(store.outbox_finish(d.id, holder, &delivered(), 21).await.unwrap());
                    }
                    tokio::task::yield_now().await;
                }
                sent
            })
        };
        let (a, b) = (instance("A"), instance("B"));
        let mut all = a.await.unwrap();
        all.extend(b.await.unwrap());
        let unique: BTreeSet<_> = all.iter().map(|(t, k, _)| (t.clone(), k.clone())).collect();
        assert_eq!(unique.len(), all.len(), "nothing sent twice");
        assert_eq!(all.len(), CASES * 2 * 2, "created + assigned of each Vorgang to both targets");
        let (pending, _) = store.deliveries(Some("pending"), 10, 0).await.unwrap();
        assert!(pending.is_empty());
        // Each Vorgang's two events to each target.
        let (done, _) = store.deliveries(Some("delivered"), 1000, 0).await.unwrap();
        let mut per: BTreeMap<(String, Option<i64>), usize> = BTreeMap::new();
        for d in done {
            *per.entry((d.target, d.case_id)).or_default() += 1;
        }
        assert_eq!((per.len(), per.values().all(|n| *n == 2)), (CASES * 2, true));
    }
}
