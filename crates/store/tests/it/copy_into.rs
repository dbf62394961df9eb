//! `migrate-db` (Store::copy_into) with a table larger than one PostgreSQL statement can take:
//! case_candidates, read at once (no integer key), has a row per Vorgang and candidate, and
//! PostgreSQL binds at most 65,535 parameters per statement (32,767 rows of two columns).

use postkorb_core::{Decision, EmailAddress, Permission};
use postkorb_store::{ImportItem, MailboxRecord, NewEmployee, Store};
use sqlx::Row;

async fn count(store: &Store, table: &str) -> i64 {
    sqlx::query(sqlx::AssertSqlSafe(format!("SELECT COUNT(*) FROM {table}")))
        .fetch_one(store.pool())
        .await
        .unwrap()
        .get(0)
}

#[tokio::test]
async fn a_link_table_with_more_rows_than_one_statement_takes_is_copied_whole() {
    let Some(pg_url) = postkorb_testkit::postgres::database("migrate-db of a large link table").await else { return };
    let dir = tempfile::tempdir().unwrap();
    let sqlite = Store::open(&format!("sqlite:{}", dir.path().join("t.db").display())).await.unwrap();
    let person = |name: &str, license: Option<&str>, email: Option<&str>| NewEmployee {
        name: name.into(),
        username: None,
        is_current: true,
        license: license.map(str::to_string),
        work_email: email.map(|e| EmailAddress::parse(e).unwrap()),
        permissions: vec![Permission::ManageMailImport],
    };
    let anna = sqlite.add_employee(&person("Anna", None, Some("anna@mustermail.de")), 1).await.unwrap().id;
    let bernd = sqlite.add_employee(&person("Bernd", Some("L"), None), 1).await.unwrap().id;
    let mb = MailboxRecord { name: "m".into(), protocol: "maildir".into(), ..Default::default() };
    let mb = sqlite.save_mailbox(&mb, 1).await.unwrap().id;
    let items: Vec<ImportItem> = (0..200)
        .map(|i| {
            let raw = format!("From: anna@mustermail.de\r\nSubject: {i}\r\n\r\nText\r\n").into_bytes();
            ImportItem {
                source_key: format!("maildir:{i}"),
                fingerprint: format!("fp-{i}"),
                mail: postkorb_mail::parse(&raw),
                raw_digest: postkorb_mail::digests(&raw, None).raw_digest,
                legacy_fingerprint: None,
                raw: raw.into(),
                decision: Decision::Assign { sender: anna, to: bernd },
                raw_file: None,
                ack: Default::default(),
                search_terms: None,
            }
        })
        .collect();
    sqlite.commit_batch(mb, &items, 10).await.unwrap();
    // 170 more employees, each a candidate of every Vorgang: 200 × 171 = 34,200 rows.
    sqlx::query(
        "WITH RECURSIVE n(i) AS (SELECT 1 UNION ALL SELECT i + 1 FROM n WHERE i < 170)
         INSERT INTO employees (name, license, created_ms) SELECT 'Kandidat ' || i, 'L', 1 FROM n",
    )
    .execute(sqlite.pool())
    .await
    .unwrap();
    sqlx::query(
        "INSERT OR IGNORE INTO case_candidates (case_id, employee_id)
         SELECT c.id, e.id FROM cases c CROSS JOIN employees e WHERE e.license IS NOT NULL",
    )
    .execute(sqlite.pool())
    .await
    .unwrap();
    assert_eq!(count(&sqlite, "case_candidates").await, 200 * 171);

    let pg = Store::open(&pg_url).await.unwrap();
    let sums = sqlite.copy_into(&pg).await.unwrap();
    let candidates = sums.iter().find(|s| s.table == "case_candidates").unwrap();
    assert_eq!(candidates.rows, 200 * 171);
    assert_eq!(count(&pg, "case_candidates").await, 200 * 171);
    assert_eq!(count(&pg, "cases").await, 200);
}
