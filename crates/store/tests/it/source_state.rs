//! A source's state between clean passes (`source_state`, migration 0029) on both backends: none at
//! first, replaced by each save, gone with the deleted mailbox.

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
        store.delete_mailbox("m365", 30).await.unwrap();
        assert_eq!(store.source_state(m.id).await.unwrap(), None, "deleted with the mailbox's secrets");
    }
}
