//! The fetch lease contract on both backends: one holder at a time, renewal by the holder,
//! takeover after expiry, release on a clean stop, and exactly one winner among racing instances.

use crate::common;
use common::backends;
use postkorb_store::{LeaseOutcome, Store};

async fn mailbox(store: &Store, name: &str) -> i64 {
    store.save_mailbox(&common::office::mailbox_record(name), 1).await.unwrap().id
}

#[tokio::test]
async fn a_held_lease_is_refused_to_others_renewed_by_its_holder_and_taken_over_after_expiry() {
    for (store, _d) in backends().await {
        let m = mailbox(&store, "default").await;
        assert_eq!(store.take_lease(m, "a", 1_000, 60_000).await.unwrap(), LeaseOutcome::Taken { expires_ms: 61_000 });
        match store.take_lease(m, "b", 2_000, 60_000).await.unwrap() {
            LeaseOutcome::Busy(info) => assert_eq!((info.holder.as_str(), info.expires_ms), ("a", 61_000)),
            other => panic!("b took a held lease: {other:?}"),
        }
        // The holder renews; the taken time stays.
        assert!(store.take_lease(m, "a", 30_000, 60_000).await.unwrap().is_taken());
        let info = store.lease(m).await.unwrap().unwrap();
        assert_eq!((info.expires_ms, info.taken_ms), (90_000, 1_000));
        assert!(!store.take_lease(m, "b", 89_999, 60_000).await.unwrap().is_taken());
        // a died: once expired, b takes over, and a cannot come back while b holds it.
        assert!(store.take_lease(m, "b", 90_000, 60_000).await.unwrap().is_taken());
        assert!(!store.take_lease(m, "a", 90_001, 60_000).await.unwrap().is_taken());
        assert_eq!(store.lease(m).await.unwrap().unwrap().taken_ms, 90_000);
    }
}

#[tokio::test]
async fn a_released_lease_is_free_at_once_and_only_the_holder_can_release_it() {
    for (store, _d) in backends().await {
        let m = mailbox(&store, "default").await;
        let other = mailbox(&store, "zweites").await;
        assert!(store.take_lease(m, "a", 1_000, 60_000).await.unwrap().is_taken());
        assert!(store.take_lease(other, "a", 1_000, 60_000).await.unwrap().is_taken());
        assert!(!store.release_lease(m, "b").await.unwrap(), "b released a's lease");
        assert!(store.release_lease(m, "a").await.unwrap());
        assert!(store.take_lease(m, "b", 1_001, 60_000).await.unwrap().is_taken());
        // Stopping instance a gives up whatever it still holds.
        assert_eq!(store.release_leases_of("a").await.unwrap(), 1);
        assert!(store.lease(other).await.unwrap().is_none());
        assert_eq!(store.lease(m).await.unwrap().unwrap().holder, "b");
    }
}

#[tokio::test]
async fn of_many_instances_racing_for_a_free_or_expired_lease_exactly_one_wins() {
    for (store, _d) in backends().await {
        let m = mailbox(&store, "default").await;
        for round in 0..5i64 {
            // Round 0: no row yet (insert race); later rounds: the previous lease has expired.
            let now = 1_000_000 + round * 100_000;
            let tasks: Vec<_> = (0..16)
                .map(|i| {
                    let store = store.clone();
                    tokio::spawn(async move { store.take_lease(m, &format!("i{round}-{i}"), now, 60_000).await })
                })
                .collect();
            let mut winners = 0;
            for t in tasks {
                if t.await.unwrap().unwrap().is_taken() {
                    winners += 1;
                }
            }
            assert_eq!(winners, 1, "round {round}: {winners} instances hold the lease at once");
        }
    }
}

#[tokio::test]
async fn a_lease_of_a_holder_known_dead_is_taken_over_at_once_but_only_from_that_holder() {
    for (store, _d) in backends().await {
        let m = mailbox(&store, "default").await;
        assert!(store.take_lease(m, "crashed", 1_000, 60_000).await.unwrap().is_taken());
        // Long before expiry: the new process takes it from the dead one.
        assert_eq!(
            store.take_over_lease(m, "new", "crashed", 2_000, 60_000).await.unwrap(),
            LeaseOutcome::Taken { expires_ms: 62_000 }
        );
        let info = store.lease(m).await.unwrap().unwrap();
        assert_eq!((info.holder.as_str(), info.taken_ms), ("new", 2_000));
        // A stale claim of death does not take a live holder's lease.
        assert!(!store.take_over_lease(m, "third", "crashed", 3_000, 60_000).await.unwrap().is_taken());
        assert_eq!(store.lease(m).await.unwrap().unwrap().holder, "new");
    }
}

#[tokio::test]
async fn running_instances_are_counted_while_their_presence_lives_and_each_counts_only_its_unexpired_leases() {
    for (store, _d) in backends().await {
        let (m, other) = (mailbox(&store, "default").await, mailbox(&store, "zweites").await);
        assert!(store.take_lease(m, "a", 1_000, 60_000).await.unwrap().is_taken());
        assert!(store.take_lease(other, "a", 1_000, 1_000).await.unwrap().is_taken());
        assert_eq!(store.leases_held("a", 1_500).await.unwrap(), 2);
        assert_eq!(store.leases_held("a", 2_000).await.unwrap(), 1, "the second expired at 2,000");
        assert_eq!(store.leases_held("b", 1_500).await.unwrap(), 0);

        let postgres = store.backend() == postkorb_store::Backend::Postgres;
        assert_eq!(store.live_instances().await.unwrap(), 1, "nobody announced: the caller alone");
        let a = store.announce_instance("host-1-2-aaaa").await.unwrap();
        let mut b = store.announce_instance(&format!("{}-1-3-bbbb", "h".repeat(80))).await.unwrap();
        assert_eq!(a.is_some(), postgres, "SQLite counts one instance and needs no presence");
        if !postgres {
            assert_eq!(store.live_instances().await.unwrap(), 1);
            continue;
        }
        assert!(b.as_mut().unwrap().alive().await);
        assert_eq!(store.live_instances().await.unwrap(), 2, "two presences (a holder id longer than 63 bytes too)");
        drop(a);
        let started = std::time::Instant::now();
        while store.live_instances().await.unwrap() != 1 {
            assert!(started.elapsed() < std::time::Duration::from_secs(10), "a stopped instance is still counted");
            tokio::time::sleep(std::time::Duration::from_millis(50)).await;
        }
    }
}
