//! The pool hands a connection back without a test after each use on SQLite (vendor/sqlx-core):
//! what the test on the way back used to settle — a transaction dropped before its end, a read
//! dropped after its first row — must still be settled for the next caller, on both backends.

use crate::common::backends;
use futures_util::StreamExt;
use sqlx::Row;
use std::time::Duration;

#[tokio::test]
async fn connections_given_back_after_a_dropped_transaction_or_read_serve_the_next_caller() {
    for (store, _dir) in backends().await {
        let pool = store.pool();
        let sqlite = store.backend() == postkorb_store::Backend::Sqlite;
        sqlx::query("CREATE TABLE pool_probe (n BIGINT NOT NULL)").execute(pool).await.unwrap();
        let work = async {
            // 32 transactions, one after the other (SQLite has one writer at a time), each dropped
            // with a row written and not committed: every one rolled back before the next begins.
            // On SQLite every other one as the store's writers begin (`BEGIN IMMEDIATE`, which
            // the worker refuses inside a transaction it still thinks open).
            for n in 0..32i64 {
                let mut tx = if sqlite && n % 2 == 1 {
                    pool.begin_with("BEGIN IMMEDIATE").await.unwrap()
                } else {
                    pool.begin().await.unwrap()
                };
                sqlx::query("INSERT INTO pool_probe (n) VALUES ($1)").bind(n).execute(&mut *tx).await.unwrap();
                drop(tx);
            }
            // Reads of 100,000 rows dropped after the first: the next statement on that connection
            // gets its own answer, and the writer is not kept waiting by a read left open.
            for _ in 0..32 {
                let mut rows = sqlx::query(
                    "WITH RECURSIVE s(i) AS (SELECT 1 UNION ALL SELECT i + 1 FROM s WHERE i < 100000) SELECT i FROM s",
                )
                .fetch(pool);
                let first = rows.next().await.unwrap().unwrap();
                assert_eq!(first.try_get::<i64, _>(0).unwrap(), 1);
            }
            // 16 concurrent callers over every connection: all see nothing of the dropped writes,
            // then one committed write is seen by all.
            let counts = futures_util::future::join_all(
                (0..16).map(|_| sqlx::query_scalar::<_, i64>("SELECT COUNT(*) FROM pool_probe").fetch_one(pool)),
            )
            .await;
            assert!(counts.iter().all(|c| *c.as_ref().unwrap() == 0), "{counts:?}");
            let mut tx = if sqlite { pool.begin_with("BEGIN IMMEDIATE").await } else { pool.begin().await }.unwrap();
            sqlx::query("INSERT INTO pool_probe (n) VALUES (7)").execute(&mut *tx).await.unwrap();
            tx.commit().await.unwrap();
            let sums =
                futures_util::future::join_all((0..16).map(|_| {
                    sqlx::query_scalar::<_, i64>("SELECT COALESCE(MAX(n), 0) FROM pool_probe").fetch_one(pool)
                }))
                .await;
            assert!(sums.iter().all(|s| *s.as_ref().unwrap() == 7), "{sums:?}");
        };
        // A connection left waiting on its dropped work would hang here: fail instead.
        tokio::time::timeout(Duration::from_secs(60), work).await.expect("the pool served every caller");
    }
}
