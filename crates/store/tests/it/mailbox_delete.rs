//! Deaktivieren, Aktivieren and Löschen of a mailbox on both backends: a deleted mailbox is listed
//! nowhere and frees its name, its Vorgänge and ledger stay (the ledger's keys still unique for it),
//! its secrets go, and deleting is refused while an instance holds its fetch lease.

use crate::common;
use common::backends;
use common::office::{item, mailbox_record, office};
use postkorb_core::Decision;
use postkorb_store::MailboxDeleted;

#[tokio::test]
async fn a_deleted_mailbox_keeps_its_vorgaenge_and_ledger_and_frees_its_name_but_not_while_leased() {
    for (store, _d) in backends().await {
        let o = office(&store).await;
        let other = store.save_mailbox(&mailbox_record("zweites"), 1).await.unwrap();
        let assign = Decision::Assign { sender: o.anna, to: o.bernd };
        store.commit_batch(o.mailbox, &[item("imap:INBOX:1:1", "Bleibt", assign.clone())], 2).await.unwrap();

        assert!(store.set_mailbox_enabled("default", false).await.unwrap());
        assert!(!store.mailbox("default").await.unwrap().enabled);
        assert!(store.set_mailbox_enabled("default", true).await.unwrap());
        assert!(!store.set_mailbox_enabled("gibt-es-nicht", true).await.unwrap());

        assert!(store.take_lease(o.mailbox, "a", 1_000, 60_000).await.unwrap().is_taken());
        assert_eq!(store.delete_mailbox("default", 2_000).await.unwrap(), MailboxDeleted::Busy);
        assert!(store.mailbox("default").await.is_ok());
        // An expired lease holds nothing.
        assert_eq!(store.delete_mailbox("default", 61_000).await.unwrap(), MailboxDeleted::Deleted);
        assert_eq!(store.delete_mailbox("default", 61_000).await.unwrap(), MailboxDeleted::NotFound);
        assert!(store.lease(o.mailbox).await.unwrap().is_none());

        let names: Vec<String> = store.mailboxes().await.unwrap().into_iter().map(|m| m.name).collect();
        assert_eq!(names, ["zweites"], "listed nowhere");
        assert_eq!(store.cases(Some(o.bernd), 10, 0).await.unwrap().len(), 1, "the Vorgang stays");
        let known = store.known_keys(o.mailbox, &["imap:INBOX:1:1".to_string()]).await.unwrap();
        assert_eq!(known.len(), 1, "the ledger stays with the old row");
        assert_eq!(store.mailbox_counts(other.id).await.unwrap(), (0, 0, 0));

        // The name starts afresh: a new row, its own ledger.
        let again = store.save_mailbox(&mailbox_record("default"), 3).await.unwrap();
        assert_ne!(again.id, o.mailbox);
        assert!(store.known_keys(again.id, &["imap:INBOX:1:1".to_string()]).await.unwrap().is_empty());
        store.commit_batch(again.id, &[item("imap:INBOX:1:1", "Neu", assign)], 4).await.unwrap();
        assert_eq!(store.mailbox_counts(again.id).await.unwrap(), (1, 0, 0));
    }
}
