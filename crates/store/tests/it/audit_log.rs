//! The audit log is append-only on both backends (issue 18, item 6; migration 0027): an UPDATE or
//! DELETE through sqlx fails, and only the retention run's `purge_audit_log` removes rows — those
//! older than its cut-off, and no others.

use postkorb_core::{AuditEntry, Person};
use postkorb_store::Store;
use sqlx::Row;

use crate::common::backends;

async fn count(store: &Store) -> i64 {
    sqlx::query("SELECT COUNT(*) FROM audit_log").fetch_one(store.pool()).await.unwrap().get(0)
}

async fn write_three(store: &Store) {
    for at in [10, 20, 30] {
        let entry = AuditEntry::ChangePassword { employee: Person { id: 1, name: "Anna Admin".into() } };
        store.audit_entry(at, "anna", &entry).await.unwrap();
    }
}

#[tokio::test]
async fn no_statement_changes_or_deletes_an_audit_row() {
    for (store, _d) in backends().await {
        write_three(&store).await;
        let attacks = [
            "UPDATE audit_log SET actor = 'mallory'",
            "UPDATE audit_log SET params = '' WHERE at_ms = 10",
            "DELETE FROM audit_log",
            "DELETE FROM audit_log WHERE at_ms = 10",
        ];
        for sql in attacks {
            let refused = sqlx::query(sql).execute(store.pool()).await;
            let message = format!("{:?}", refused.expect_err(sql));
            assert!(message.contains("append-only"), "{sql}: {message}");
        }
        if store.backend() == postkorb_store::Backend::Postgres {
            let refused = sqlx::query("TRUNCATE audit_log").execute(store.pool()).await;
            assert!(format!("{refused:?}").contains("append-only"), "{refused:?}");
        }
        // Inside a transaction the same: the refusal is not a matter of autocommit.
        let mut tx = store.pool().begin().await.unwrap();
        assert!(sqlx::query("DELETE FROM audit_log").execute(&mut *tx).await.is_err());
        drop(tx);
        assert_eq!(count(&store).await, 3);
        let actors: Vec<String> = sqlx::query("SELECT actor FROM audit_log")
            .fetch_all(store.pool())
            .await
            .unwrap()
            .iter()
            .map(|r| r.get(0))
            .collect();
        assert_eq!(actors, ["anna", "anna", "anna"]);
    }
}

#[tokio::test]
async fn the_retention_purge_deletes_only_rows_before_its_cut_off_and_leaves_no_opening() {
    for (store, _d) in backends().await {
        write_three(&store).await;
        // Rows at 10, 20, 30; the cut-off 25 takes the first two, one per run with limit 1.
        let ids = store.purge_audit_log(25, 1).await.unwrap();
        assert_eq!(ids.len(), 1, "the limit holds");
        let ids2 = store.purge_audit_log(25, 100).await.unwrap();
        assert_eq!(ids2.len(), 1);
        assert!(ids[0] < ids2[0], "oldest first");
        assert_eq!(store.purge_audit_log(25, 100).await.unwrap(), Vec::<i64>::new());
        assert_eq!(count(&store).await, 1);
        let left: i64 = sqlx::query("SELECT at_ms FROM audit_log").fetch_one(store.pool()).await.unwrap().get(0);
        assert_eq!(left, 30);
        // The declaration is gone after the run: a DELETE afterwards is refused again.
        let purge: i64 = sqlx::query("SELECT COUNT(*) FROM audit_purge").fetch_one(store.pool()).await.unwrap().get(0);
        assert_eq!(purge, 0);
        assert!(sqlx::query("DELETE FROM audit_log").execute(store.pool()).await.is_err());
        // A declared cut-off does not open newer rows: a DELETE of everything inside a purge
        // transaction that declared 25 still fails for the row at 30.
        let mut tx = store.pool().begin().await.unwrap();
        sqlx::query("INSERT INTO audit_purge (before_ms) VALUES (25)").execute(&mut *tx).await.unwrap();
        assert!(sqlx::query("DELETE FROM audit_log").execute(&mut *tx).await.is_err());
        drop(tx);
        assert_eq!(count(&store).await, 1);
    }
}
