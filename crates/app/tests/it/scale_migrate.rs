//! An office that grows: `postkorb migrate-db --to postgres://…` copies the SQLite database into
//! PostgreSQL with every row and blob identical, refuses a target that holds data, and Postkorb
//! goes on working on PostgreSQL; `backup` / `restore` bring a SQLite database back.

use std::path::Path;
use std::process::Output;

use postkorb_store::Store;
use sqlx::Row;

use crate::common::Env;

/// The one runner on the data dir `dir`, on the database `db` instead of the SQLite file if given.
fn env(dir: &Path, db: Option<&str>) -> Env {
    let env = Env::in_dir(dir);
    match db {
        Some(db) => env.with("POSTKORB_DATABASE_URL", db),
        None => env,
    }
}

fn postkorb(dir: &Path, db: Option<&str>, args: &[&str], stdin: &str) -> Output {
    env(dir, db).run(args, Some(stdin))
}

fn ok(dir: &Path, db: Option<&str>, args: &[&str], stdin: &str) -> String {
    env(dir, db).ok_with_input(args, stdin)
}

/// An office on SQLite with a bit of everything: employees with logins and tokens, sender rows,
/// a mailbox with an encrypted password, Vorgänge with attachments (some claimed), kept mails.
fn office(dir: &Path) {
    ok(dir, None, &["employee", "add", "--name", "Anna Außendienst", "--email", "anna@mustermail.de"], "");
    for (name, user) in [("Bernd Berater", "bernd"), ("Clara Sachbearbeiterin", "clara")] {
        ok(dir, None, &["employee", "add", "--name", name, "--username", user, "--license", &format!("L-{user}")], "");
        ok(dir, None, &["route", "add", "--from", "Anna Außendienst", "--to", user], "");
    }
    ok(dir, None, &["employee", "set", "bernd", "--password-stdin"], "bernd-passwort-2026");
    ok(dir, None, &["employee", "token", "clara"], "");
    ok(
        dir,
        None,
        &[
            "mailbox",
            "set",
            "--protocol",
            "imap",
            "--host",
            "imap.example.de",
            "--username",
            "v@example.de",
            "--password-stdin",
            "--disabled",
        ],
        "Geheimnis-ß",
    );
    let maildir = dir.join("eingang");
    for sub in ["new", "cur", "tmp"] {
        std::fs::create_dir_all(maildir.join(sub)).unwrap();
    }
    for i in 0..40usize {
        let from = if i.is_multiple_of(5) { format!("fremd{i}@example.org") } else { "anna@mustermail.de".into() };
        let pdf: String = (0..600).map(|k| char::from(b'A' + ((i * 7 + k) % 26) as u8)).collect();
        let raw = format!(
            "From: {from}\r\nSubject: =?UTF-8?Q?Schaden_M=C3=BCller_{i}?=\r\nMessage-ID: <m{i}@mig.test>\r\n\
             MIME-Version: 1.0\r\nContent-Type: multipart/mixed; boundary=\"b\"\r\n\r\n--b\r\n\
             Content-Type: text/plain; charset=utf-8\r\n\r\nBitte Rückruf, Vertrag {i}.\r\n--b\r\n\
             Content-Type: application/pdf; name=\"Schaden{i}.pdf\"\r\nContent-Disposition: attachment; filename=\"Schaden{i}.pdf\"\r\n\
             Content-Transfer-Encoding: base64\r\n\r\n{}\r\n--b--\r\n",
            base64::Engine::encode(&base64::engine::general_purpose::STANDARD, pdf.as_bytes())
        );
        std::fs::write(maildir.join("new").join(format!("{i}.eml")), raw).unwrap();
    }
    // An archive of many mails from one sender: no storm limit.
    ok(dir, None, &["import", "--maildir", maildir.to_str().unwrap(), "--verify", "off", "--storm-max", "0"], "");
    ok(dir, None, &["sync", "--user", "bernd"], "");
}

/// The office's SQLite database with its blob directory (DATA_DIR/blobs, the default).
async fn open_sqlite(dir: &Path) -> Store {
    let db = format!("sqlite:{}", dir.join("postkorb.db").display());
    Store::open_with(&db, Some(dir.join("blobs"))).await.unwrap().with_mail_key(crate::common::mail_key(dir))
}

/// The blob files under a directory (`ab/cd/<hash>`).
fn walk(dir: &Path) -> Vec<std::path::PathBuf> {
    let mut out = Vec::new();
    for top in std::fs::read_dir(dir).unwrap().flatten() {
        for mid in std::fs::read_dir(top.path()).unwrap().flatten() {
            for f in std::fs::read_dir(mid.path()).unwrap().flatten() {
                out.push(f.path());
            }
        }
    }
    out
}

async fn tables(store: &Store) -> Vec<String> {
    sqlx::query("SELECT name FROM sqlite_master WHERE type = 'table' AND name NOT LIKE 'sqlite_%' ORDER BY name")
        .fetch_all(store.pool())
        .await
        .unwrap()
        .iter()
        .map(|r| r.get(0))
        .collect()
}

async fn count(store: &Store, table: &str) -> i64 {
    sqlx::query(sqlx::AssertSqlSafe(format!("SELECT COUNT(*) FROM {table}")))
        .fetch_one(store.pool())
        .await
        .unwrap()
        .get(0)
}

/// Everything a user can see, as JSON, plus every raw message and attachment byte for byte.
async fn snapshot(store: &Store) -> Vec<String> {
    let mut out = Vec::new();
    out.push(format!("{:?}", store.employees().await.unwrap()));
    out.push(format!("{:?}", store.routes().await.unwrap()));
    for m in store.mailboxes().await.unwrap() {
        out.push(format!("{m:?} {:?} {}", m.secret, m.updated_ms));
    }
    out.push(serde_json::to_string(&store.kept(false, 10_000, 0).await.unwrap()).unwrap());
    out.push(format!("{:?}", store.audit_log(10_000).await.unwrap()));
    for c in store.cases(None, 10_000, 0).await.unwrap() {
        let detail = store.case(c.id).await.unwrap();
        out.push(serde_json::to_string(&detail).unwrap());
        out.push(format!("{:?}", store.raw(detail.raw_id).await.unwrap()));
        for a in &detail.attachments {
            out.push(format!("{:?}", postkorb_web::view::attachment(store, c.id, a.id).await.unwrap().1));
        }
    }
    out
}

#[tokio::test(flavor = "multi_thread")]
async fn migrating_sqlite_to_postgres_keeps_every_row_and_blob_identical() {
    let Some(target) = postkorb_testkit::postgres::database("migrate-db to PostgreSQL").await else { return };
    let dir = tempfile::tempdir().unwrap();
    office(dir.path());
    let sqlite = open_sqlite(dir.path()).await;
    let before = snapshot(&sqlite).await;
    assert_eq!(count(&sqlite, "attachments").await, 32, "the office has attachments");

    let out = ok(dir.path(), None, &["migrate-db", "--to", &target], "");
    assert!(out.contains("every table has the same rows and checksum"), "{out}");
    // The raw mails are files beside SQLite (the default); the rows keep referencing them.
    let blobs = dir.path().join("blobs");
    assert!(out.contains(&format!("Keep blob_dir = \"{}\"", blobs.display())), "{out}");

    // Encrypted mails (the default) move as they are: the same key file reads them there.
    let pg = Store::open_with(&target, Some(blobs)).await.unwrap().with_mail_key(crate::common::mail_key(dir.path()));
    // The search index is not copied (its layout differs by backend): the target builds its own.
    let copied = |t: &&String| *t != "_sqlx_migrations" && !t.starts_with("case_search");
    for table in tables(&sqlite).await.iter().filter(copied) {
        assert_eq!(count(&pg, table).await, count(&sqlite, table).await, "rows of {table}");
    }
    assert_eq!(count(&pg, "case_search").await, 0);
    while pg.search_reindex_step(0, 500).await.unwrap().is_some() {}
    assert_eq!(count(&pg, "case_search").await, count(&sqlite, "case_search").await, "reindexed");
    assert_eq!(snapshot(&pg).await, before, "what users see differs after the migration");

    // Into a database that holds data: refused, nothing changed.
    let again = postkorb(dir.path(), None, &["migrate-db", "--to", &target], "");
    assert!(!again.status.success());
    assert!(String::from_utf8_lossy(&again.stderr).contains("not empty"), "{}", String::from_utf8_lossy(&again.stderr));
    assert_eq!(snapshot(&pg).await, before);

    // Postkorb goes on on PostgreSQL: new rows get fresh ids (sequences follow the copied ids),
    // logins and the mailbox password still work with the same key file.
    ok(
        dir.path(),
        Some(&target),
        &["employee", "add", "--name", "Dora Neu", "--username", "dora", "--license", "L-d"],
        "",
    );
    ok(dir.path(), Some(&target), &["route", "add", "--from", "Anna Außendienst", "--to", "dora"], "");
    let shown = ok(dir.path(), Some(&target), &["mailbox", "show"], "");
    assert!(shown.contains("imap.example.de"), "{shown}");
    assert_eq!(count(&pg, "employees").await, count(&sqlite, "employees").await + 1);
}

#[tokio::test(flavor = "multi_thread")]
async fn a_sqlite_backup_restores_every_row_and_refuses_to_overwrite_data_without_force() {
    let dir = tempfile::tempdir().unwrap();
    office(dir.path());
    let before = snapshot(&open_sqlite(dir.path()).await).await;
    let file = dir.path().join("sicherung.db");
    let out = ok(dir.path(), None, &["backup", file.to_str().unwrap()], "");
    assert!(out.contains("key file"), "{out}");
    // The raw mails are files (the default beside SQLite): the backup has them beside it.
    let beside = dir.path().join("sicherung.db.blobs");
    let files = walk(&beside);
    assert_eq!(files.len(), 40, "one file per imported mail: {out}");
    assert!(out.contains("40 files"), "{out}");

    // Later changes, and the blob directory is lost …
    ok(dir.path(), None, &["employee", "add", "--name", "Erst später", "--license", "L-x"], "");
    std::fs::remove_dir_all(dir.path().join("blobs")).unwrap();

    // A backup without its files is refused, and the database stays as it is.
    let moved = dir.path().join("elsewhere.blobs");
    std::fs::rename(&beside, &moved).unwrap();
    let incomplete = postkorb(dir.path(), None, &["restore", file.to_str().unwrap(), "--force"], "");
    let err = String::from_utf8_lossy(&incomplete.stderr);
    assert!(!incomplete.status.success() && err.contains("40 raw mails or attachments"), "{err}");
    assert_eq!(count(&open_sqlite(dir.path()).await, "employees").await, 4, "the database was changed");
    std::fs::rename(&moved, &beside).unwrap();

    let refused = postkorb(dir.path(), None, &["restore", file.to_str().unwrap()], "");
    assert!(!refused.status.success(), "restore overwrote data without --force");

    ok(dir.path(), None, &["restore", file.to_str().unwrap(), "--force"], "");
    // … are gone, everything else is back as it was, every raw mail byte for byte.
    assert_eq!(snapshot(&open_sqlite(dir.path()).await).await, before);
    assert_eq!(walk(&dir.path().join("blobs")).len(), 40);
    let kept_aside = std::fs::read_dir(dir.path())
        .unwrap()
        .flatten()
        .any(|e| e.file_name().to_string_lossy().contains("before-restore"));
    assert!(kept_aside, "the replaced database was not kept");
}

#[tokio::test(flavor = "multi_thread")]
async fn backup_and_restore_on_postgres_point_to_pg_dump_and_pg_restore() {
    let dir = tempfile::tempdir().unwrap();
    let Some(url) = postkorb_testkit::postgres::database("backup on PostgreSQL").await else { return };
    let out = postkorb(dir.path(), Some(&url), &["backup", dir.path().join("x").to_str().unwrap()], "");
    assert!(!out.status.success());
    assert!(String::from_utf8_lossy(&out.stderr).contains("pg_dump"), "{}", String::from_utf8_lossy(&out.stderr));
    let out = postkorb(dir.path(), Some(&url), &["restore", dir.path().join("x").to_str().unwrap()], "");
    assert!(!out.status.success());
    assert!(String::from_utf8_lossy(&out.stderr).contains("pg_restore"), "{}", String::from_utf8_lossy(&out.stderr));
}
