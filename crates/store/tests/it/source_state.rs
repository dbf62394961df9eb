//! A source's state between clean passes (`source_state`, migration 0029) on both backends: none at
//! first, replaced by each save, gone with the deleted mailbox; and Graph subscriptions
//! (`graph_subscriptions`): a notification counts only with the subscription's clientState.

use crate::common;
use common::backends;

#[tokio::test]
async fn the_state_is_replaced_by_each_save_and_goes_with_the_mailbox() {
    for (store, _dir) in backends().await {
        let m = store.save_mailbox(&common::office::mailbox_record("m365"), 1).await.unwrap();
        assert_eq!(store.source_state(m.id).await.unwrap(), None);
        store.save_source_state(m.id, r#"{"delta":"a"}"#, 10).await.unwrap();
        store.save_source_state(m.id, r#"{"delta":"b"}"#, 20).await.unwrap();
        assert_eq!(store.source_state(m.id).await.unwrap().as_deref(), Some(r#"{"delta":"b"}"#));
        store.save_mailbox(&m, 21).await.unwrap();
        assert!(store.source_state(m.id).await.unwrap().is_some(), "saved unchanged: kept");
        let other_folder = postkorb_store::MailboxRecord { folder: "Vorgänge".into(), ..m.clone() };
        store.save_mailbox(&other_folder, 22).await.unwrap();
        assert_eq!(store.source_state(m.id).await.unwrap(), None, "another folder is listed afresh");
        store.save_source_state(m.id, r#"{"delta":"b"}"#, 23).await.unwrap();
        store.delete_mailbox("m365", 30).await.unwrap();
        assert_eq!(store.source_state(m.id).await.unwrap(), None, "deleted with the mailbox's secrets");
    }
}

#[tokio::test]
async fn a_graph_notification_counts_only_with_the_subscriptions_client_state() {
    for (store, _dir) in backends().await {
        let m = store.save_mailbox(&common::office::mailbox_record("m365"), 1).await.unwrap();
        // Saved as notified at the save: a notification Graph sent before it was ignored.
        store.save_graph_subscription(m.id, "sub-1", "geheim-1", 1_000, 3).await.unwrap();
        assert_eq!(store.graph_subscription(m.id).await.unwrap().unwrap().notified_ms, Some(3));
        assert!(!store.graph_notified("sub-1", "geraten", 5).await.unwrap(), "a forged clientState");
        assert!(!store.graph_notified("sub-2", "geheim-1", 5).await.unwrap(), "another subscription");
        assert_eq!(store.graph_subscription(m.id).await.unwrap().unwrap().notified_ms, Some(3));
        assert!(store.graph_notified("sub-1", "geheim-1", 7).await.unwrap());
        let moved = postkorb_store::MailboxRecord { host: "127.0.0.2".into(), ..m.clone() };
        store.save_mailbox(&moved, 8).await.unwrap();
        assert_eq!(store.graph_subscription(m.id).await.unwrap(), None, "another endpoint subscribes anew");
        store.save_graph_subscription(m.id, "sub-1", "geheim-1", 1_000, 6).await.unwrap();
        assert!(store.graph_notified("sub-1", "geheim-1", 7).await.unwrap());
        store.renew_graph_subscription(m.id, 2_000).await.unwrap();
        let s = store.graph_subscription(m.id).await.unwrap().unwrap();
        assert_eq!((s.subscription_id.as_str(), s.expires_ms, s.notified_ms), ("sub-1", 2_000, Some(7)));
        store.save_graph_subscription(m.id, "sub-3", "geheim-3", 3_000, 8).await.unwrap();
        assert!(!store.graph_notified("sub-1", "geheim-1", 9).await.unwrap(), "the replaced one");
        store.delete_mailbox("m365", 30).await.unwrap();
        assert_eq!(store.graph_subscription(m.id).await.unwrap(), None);
    }
}
