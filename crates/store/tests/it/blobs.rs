//! The blob directory contract on both backends: bytes round-trip through files written before
//! the commit, identical bytes share a file, a failed transaction's file is swept only after the
//! grace period, a missing file is a clear error, and migrate-db keeps the references.

use crate::common;
use std::path::{Path, PathBuf};
use std::time::{Duration, SystemTime};

use postkorb_core::{Decision, EmailAddress, EmployeeId, KeepReason};
use postkorb_mail::{Attachment, InboundMail};
use postkorb_store::{ImportItem, ImportOutcome, Store, StoreError};

const HOUR: Duration = Duration::from_secs(3600);

/// One test database per backend: its URL, a blob directory, and what must live as long.
struct Db {
    url: String,
    blob_dir: PathBuf,
    _dirs: Vec<tempfile::TempDir>,
}

async fn backends() -> Vec<Db> {
    let mut out = Vec::new();
    for (url, dir) in common::database_urls().await {
        let blobs = tempfile::tempdir().unwrap();
        out.push(Db { url, blob_dir: blobs.path().join("blobs"), _dirs: dir.into_iter().chain([blobs]).collect() });
    }
    out
}

fn mail(subject: &str, attachment: &[u8]) -> InboundMail {
    InboundMail {
        sender: EmailAddress::parse("anna@mustermail.de").map_err(|e| e.to_string()),
        display_name: None,
        subject: subject.into(),
        date_ms: Some(1_700_000_000_000),
        message_id: Some(format!("{subject}@test")),
        text: "Text".into(),
        html: None,
        attachments: vec![Attachment {
            name: "Police.pdf".into(),
            content_type: "application/pdf".into(),
            content_id: None,
            size: attachment.len(),
        }],
        forwarded: None,
        automatic: None,
        malformed: None,
        warnings: vec![],
    }
}

fn item(key: &str, subject: &str, attachment: &[u8], decision: Decision) -> ImportItem {
    let raw = common::raw_with_attachment(subject, "body\0with NUL", attachment);
    ImportItem {
        source_key: key.into(),
        raw_digest: postkorb_mail::digests(&raw, None).raw_digest,
        legacy_fingerprint: None,
        raw: raw.into(),
        mail: mail(subject, attachment),
        fingerprint: format!("fp-{subject}"),
        decision,
        raw_file: None,
        ack: Default::default(),
        search_terms: None,
    }
}

/// Anna (sender), Bernd (receiver) and one mailbox: the store tests' office.
async fn office(store: &Store) -> (EmployeeId, EmployeeId, i64) {
    let o = common::office::office(store).await;
    (o.anna, o.bernd, o.mailbox)
}

fn blob_path(dir: &Path, bytes: &[u8]) -> PathBuf {
    use sha2::Digest;
    let hash: String = sha2::Sha256::digest(bytes).iter().map(|b| format!("{b:02x}")).collect();
    dir.join(&hash[..2]).join(&hash[2..4]).join(hash)
}

/// Every regular file under the blob directory.
fn files(dir: &Path) -> Vec<PathBuf> {
    let mut out = Vec::new();
    let Ok(rd) = std::fs::read_dir(dir) else { return out };
    for e in rd.flatten() {
        let p = e.path();
        if p.is_dir() { out.extend(files(&p)) } else { out.push(p) }
    }
    out.sort();
    out
}

fn age(path: &Path, by: Duration) {
    let f = std::fs::File::options().write(true).open(path).unwrap();
    f.set_modified(SystemTime::now() - by).unwrap();
}

async fn count(store: &Store, sql: &'static str) -> i64 {
    use sqlx::Row;
    sqlx::query(sql).fetch_one(store.pool()).await.unwrap().get(0)
}

#[tokio::test]
async fn raw_mails_round_trip_through_files_the_rows_hold_only_the_hash_and_attachments_come_from_them() {
    for db in backends().await {
        let store = Store::open_with(&db.url, Some(db.blob_dir.clone())).await.unwrap();
        let (anna, bernd, mb) = office(&store).await;
        let items = vec![
            item("maildir:1", "eins", b"%PDF-1.4 eins", Decision::Assign { sender: anna, to: bernd }),
            item("maildir:2", "zwei", b"%PDF-1.4 zwei", Decision::Keep(KeepReason::NoRoute)),
        ];
        let out = store.commit_batch(mb, &items, 10).await.unwrap();
        let ImportOutcome::Case { case_id, .. } = out[0] else { panic!("{out:?}") };
        let case = store.case(case_id).await.unwrap();
        assert_eq!(store.raw(case.raw_id).await.unwrap(), items[0].raw);
        let bytes = common::attachment_bytes(&store, case_id, case.attachments[0].id).await.unwrap();
        assert_eq!((bytes.as_slice(), case.attachments[0].size), (&b"%PDF-1.4 eins"[..], 13));
        let kept = store.kept(false, 10, 0).await.unwrap();
        assert_eq!(store.raw(kept[0].raw_id).await.unwrap(), items[1].raw);

        assert!(blob_path(&db.blob_dir, &items[0].raw).is_file());
        assert!(!blob_path(&db.blob_dir, b"%PDF-1.4 eins").exists(), "attachments are not stored a second time");
        assert_eq!(count(&store, "SELECT COUNT(*) FROM raw_messages WHERE blob IS NULL OR size = 0").await, 0);
        assert_eq!(count(&store, "SELECT COUNT(*) FROM raw_messages WHERE LENGTH(data) > 0").await, 0);
        let stored = "SELECT COUNT(*) FROM attachments WHERE in_raw = 0 OR blob IS NOT NULL OR LENGTH(data) > 0";
        assert_eq!(count(&store, stored).await, 0);
        assert_eq!(files(&db.blob_dir).len(), 2, "the two raw mails, nothing else");
    }
}

/// A raw mail larger than one write piece (`WRITE_PIECE`, 1 MiB: a blob file is written in pieces,
/// blobs.rs) comes back byte for byte, its last piece a short one.
#[tokio::test]
async fn a_raw_mail_of_several_write_pieces_round_trips_byte_for_byte() {
    let mut attachment = Vec::with_capacity(3 * 1024 * 1024 + 7);
    let mut x: u32 = 0x9e37_79b9;
    while attachment.len() < 3 * 1024 * 1024 + 7 {
        x ^= x << 13;
        x ^= x >> 17;
        x ^= x << 5;
        attachment.push(x as u8);
    }
    for db in backends().await {
        let store = Store::open_with(&db.url, Some(db.blob_dir.clone())).await.unwrap();
        let (anna, bernd, mb) = office(&store).await;
        let items = vec![item("maildir:big", "gross", &attachment, Decision::Assign { sender: anna, to: bernd })];
        assert!(items[0].raw.len() > 4 * 1024 * 1024, "base64 makes it longer than four pieces");
        let out = store.commit_batch(mb, &items, 10).await.unwrap();
        let ImportOutcome::Case { case_id, .. } = out[0] else { panic!("{out:?}") };
        let case = store.case(case_id).await.unwrap();
        assert_eq!(store.raw(case.raw_id).await.unwrap(), items[0].raw);
        let bytes = common::attachment_bytes(&store, case_id, case.attachments[0].id).await.unwrap();
        assert_eq!(bytes, attachment);
        assert_eq!(files(&db.blob_dir).len(), 1);
    }
}

/// The importer's path: the files of a batch are written and flushed before the commit, which then
/// only references them; the bytes read back are the same, and without a blob directory the
/// items come back untouched (the commit stores the bytes in the database).
#[tokio::test]
async fn a_batch_written_ahead_is_durable_before_its_commit_and_read_back_the_same() {
    for db in backends().await {
        let store = Store::open_with(&db.url, Some(db.blob_dir.clone())).await.unwrap();
        let (anna, bernd, mb) = office(&store).await;
        let batch = || {
            vec![
                item("maildir:1", "eins", b"%PDF-1.4 eins", Decision::Assign { sender: anna, to: bernd }),
                item("maildir:2", "zwei", b"%PDF-1.4 zwei", Decision::Keep(KeepReason::NoRoute)),
            ]
        };
        let items = batch();
        let ahead = store.prepare_commit(batch()).await.unwrap();
        for i in &items {
            assert_eq!(std::fs::read(blob_path(&db.blob_dir, &i.raw)).unwrap(), i.raw, "written before the flush");
        }
        // A second batch written before the first one's flush shares it.
        let later = store.prepare_commit(vec![item("maildir:4", "vier", b"vier", Decision::Keep(KeepReason::NoRoute))]);
        let mut durable = store.make_durable(vec![ahead, later.await.unwrap()]).await.unwrap();
        assert_eq!(durable.iter().map(Vec::len).collect::<Vec<_>>(), [2, 1], "each batch's items, in order");
        assert!(durable[1][0].raw_file.as_ref().is_some_and(|f| !f.sealed && f.bytes.is_none()));
        let written = durable.remove(0);
        for (w, i) in written.iter().zip(&items) {
            assert!(w.raw_file.as_ref().is_some_and(|f| !f.sealed), "written, plain (no key)");
            assert_eq!(std::fs::read(blob_path(&db.blob_dir, &i.raw)).unwrap(), i.raw, "on disk before the commit");
        }
        assert_eq!(count(&store, "SELECT COUNT(*) FROM raw_messages").await, 0);
        let out = store.commit_batch(mb, &written, 10).await.unwrap();
        let ImportOutcome::Case { case_id, .. } = out[0] else { panic!("{out:?}") };
        let case = store.case(case_id).await.unwrap();
        assert_eq!(store.raw(case.raw_id).await.unwrap(), items[0].raw);
        let kept = store.kept(false, 10, 0).await.unwrap();
        assert_eq!(store.raw(kept[0].raw_id).await.unwrap(), items[1].raw);
        assert_eq!(count(&store, "SELECT COUNT(*) FROM raw_messages WHERE blob IS NULL OR LENGTH(data) > 0").await, 0);
        assert_eq!(files(&db.blob_dir).len(), 3, "one file per mail, no temp files left");
        // The second batch was never committed: its file is unreferenced and swept.
        let swept = store.sweep_blobs(Duration::ZERO).await.unwrap();
        assert_eq!((swept.referenced, swept.removed), (2, 1));

        let plain = Store::open(&db.url).await.unwrap();
        let item3 = item("maildir:3", "drei", b"x", Decision::Keep(KeepReason::NoRoute));
        let back = plain.make_durable(vec![plain.prepare_commit(vec![item3]).await.unwrap()]).await.unwrap();
        assert!(back[0][0].raw_file.is_none(), "no blob directory: nothing written");
    }
}

#[tokio::test]
async fn identical_bytes_share_one_file() {
    for db in backends().await {
        let store = Store::open_with(&db.url, Some(db.blob_dir.clone())).await.unwrap();
        let (anna, bernd, mb) = office(&store).await;
        let logo = b"GIF89a same logo in every signature";
        // The same raw bytes under three keys and fingerprints (say, a Message-ID told apart).
        let items: Vec<ImportItem> = (0..3)
            .map(|i| {
                let mut it =
                    item(&format!("maildir:{i}"), "gleich", logo, Decision::Assign { sender: anna, to: bernd });
                it.fingerprint = format!("fp-{i}");
                it
            })
            .collect();
        store.commit_batch(mb, &items, 10).await.unwrap();
        assert_eq!(count(&store, "SELECT COUNT(DISTINCT blob) FROM raw_messages").await, 1);
        assert_eq!(count(&store, "SELECT COUNT(blob) FROM attachments").await, 0);
        assert_eq!(files(&db.blob_dir).len(), 1, "three raw mails with the same bytes, one file");
        for c in store.cases(None, 10, 0).await.unwrap() {
            let detail = store.case(c.id).await.unwrap();
            assert_eq!(common::attachment_bytes(&store, c.id, detail.attachments[0].id).await.unwrap(), logo);
        }
    }
}

#[tokio::test]
async fn a_failed_transaction_leaves_a_file_that_is_swept_only_after_the_grace_period() {
    for db in backends().await {
        let store = Store::open_with(&db.url, Some(db.blob_dir.clone())).await.unwrap();
        let (anna, bernd, mb) = office(&store).await;
        let good = item("maildir:1", "gut", b"%PDF gut", Decision::Assign { sender: anna, to: bernd });
        store.commit_batch(mb, std::slice::from_ref(&good), 10).await.unwrap();
        // The second item names an employee that does not exist: the batch fails after its raw
        // mail was written — the file is there although nothing committed.
        let lost =
            item("maildir:2", "verloren", b"%PDF verloren", Decision::Assign { sender: anna, to: EmployeeId(9999) });
        assert!(store.commit_batch(mb, std::slice::from_ref(&lost), 11).await.is_err(), "the batch must fail");
        let orphan = blob_path(&db.blob_dir, &lost.raw);
        assert!(orphan.is_file(), "the blob is written before the commit");
        assert_eq!(count(&store, "SELECT COUNT(*) FROM raw_messages").await, 1, "nothing of the failed batch");

        let fresh = store.sweep_blobs(HOUR).await.unwrap();
        assert_eq!((fresh.removed, fresh.young, fresh.referenced), (0, 1, 1), "{fresh:?}");
        assert!(orphan.is_file(), "a file younger than the grace period stays (its transaction may be in flight)");

        for f in files(&db.blob_dir) {
            age(&f, 2 * HOUR);
        }
        let check = store.check_blobs().await.unwrap();
        assert_eq!((check.removed, check.young, check.referenced), (0, 1, 1), "a check removes nothing: {check:?}");
        assert!(orphan.is_file());
        let old = store.sweep_blobs(HOUR).await.unwrap();
        assert_eq!((old.removed, old.young, old.referenced), (1, 0, 1), "{old:?}");
        assert!(old.missing.is_empty());
        assert!(!orphan.exists(), "the unreferenced file is gone after the grace period");
        assert_eq!(files(&db.blob_dir).len(), 1, "the referenced file stays however old");
        let case = store.case(store.cases(None, 10, 0).await.unwrap()[0].id).await.unwrap();
        assert_eq!(store.raw(case.raw_id).await.unwrap(), good.raw);
    }
}

#[tokio::test]
async fn leftovers_of_a_crashed_writer_are_removed_and_of_a_crashed_sweep_put_back() {
    for db in backends().await {
        let store = Store::open_with(&db.url, Some(db.blob_dir.clone())).await.unwrap();
        let (anna, bernd, mb) = office(&store).await;
        let it = item("maildir:1", "eins", b"%PDF eins", Decision::Assign { sender: anna, to: bernd });
        store.commit_batch(mb, std::slice::from_ref(&it), 10).await.unwrap();
        let raw_file = blob_path(&db.blob_dir, &it.raw);
        let name = raw_file.file_name().unwrap().to_str().unwrap().to_string();
        // A sweep that died after setting a referenced file aside, and a writer that died mid-write.
        let aside = raw_file.with_file_name(format!("{name}.sweep-1-1"));
        std::fs::rename(&raw_file, &aside).unwrap();
        let tmp = raw_file.with_file_name(format!("{name}.tmp-1-2"));
        std::fs::write(&tmp, b"%PDF halb").unwrap();
        age(&aside, 2 * HOUR);
        age(&tmp, 2 * HOUR);
        let r = store.sweep_blobs(HOUR).await.unwrap();
        assert_eq!(r.removed, 1, "{r:?}");
        assert!(!tmp.exists() && !aside.exists());
        let case = store.case(store.cases(None, 10, 0).await.unwrap()[0].id).await.unwrap();
        assert_eq!(store.raw(case.raw_id).await.unwrap(), it.raw, "the referenced file is back");
    }
}

#[tokio::test]
async fn a_missing_or_damaged_file_is_a_clear_error_naming_the_file() {
    for db in backends().await {
        let store = Store::open_with(&db.url, Some(db.blob_dir.clone())).await.unwrap();
        let (anna, bernd, mb) = office(&store).await;
        let it = item("maildir:1", "eins", b"%PDF eins", Decision::Assign { sender: anna, to: bernd });
        let out = store.commit_batch(mb, std::slice::from_ref(&it), 10).await.unwrap();
        let ImportOutcome::Case { case_id, .. } = out[0] else { panic!("{out:?}") };
        let case = store.case(case_id).await.unwrap();
        let raw_file = blob_path(&db.blob_dir, &it.raw);

        std::fs::write(&raw_file, b"something else").unwrap();
        let err = store.raw(case.raw_id).await.unwrap_err();
        assert!(matches!(&err, StoreError::Blob(m) if m.contains("damaged")), "{err}");

        std::fs::remove_file(&raw_file).unwrap();
        let err = store.raw(case.raw_id).await.unwrap_err();
        let msg = err.to_string();
        assert!(matches!(err, StoreError::Blob(_)), "{msg}");
        assert!(msg.contains("raw message") && msg.contains(&raw_file.display().to_string()), "{msg}");
        // The Vorgang's rows are still there (its view says why the text is missing: crates/web/src/view.rs).
        let shown = store.case(case_id).await.unwrap();
        assert!(shown.body_in_raw && shown.text.is_empty());
        let report = store.sweep_blobs(HOUR).await.unwrap();
        assert_eq!(report.missing.len(), 1, "the sweep reports the referenced file that is missing");
        assert_eq!(store.check_blobs().await.unwrap().missing, report.missing);

        // Opened without the blob directory, the reference is explained, not returned as empty bytes.
        let plain = Store::open(&db.url).await.unwrap();
        let err = plain.attachment(case_id, case.attachments[0].id).await.unwrap_err().to_string();
        assert!(err.contains("no blob_dir is set"), "{err}");
    }
}

#[tokio::test]
async fn bytes_stored_in_the_database_stay_readable_after_a_blob_directory_is_set() {
    for db in backends().await {
        let plain = Store::open(&db.url).await.unwrap();
        let (anna, bernd, mb) = office(&plain).await;
        let before = item("maildir:1", "vorher", b"%PDF vorher", Decision::Assign { sender: anna, to: bernd });
        plain.commit_batch(mb, std::slice::from_ref(&before), 10).await.unwrap();
        let store = Store::open_with(&db.url, Some(db.blob_dir.clone())).await.unwrap();
        let after = item("maildir:2", "nachher", b"%PDF nachher", Decision::Assign { sender: anna, to: bernd });
        store.commit_batch(mb, std::slice::from_ref(&after), 11).await.unwrap();
        let mut raws = Vec::new();
        for c in store.cases(None, 10, 0).await.unwrap() {
            raws.push(store.raw(store.case(c.id).await.unwrap().raw_id).await.unwrap());
        }
        raws.sort();
        let mut want = vec![before.raw.clone(), after.raw.clone()];
        want.sort();
        assert_eq!(raws, want);
        assert_eq!(files(&db.blob_dir).len(), 1, "only the new mail went to a file");
    }
}

#[tokio::test]
async fn migrate_db_copies_the_blob_references_and_the_target_reads_the_same_files() {
    let Some(pg_url) = postkorb_testkit::postgres::database("migrate-db with blobs").await else { return };
    let dir = tempfile::tempdir().unwrap();
    let blobs = dir.path().join("blobs");
    let sqlite =
        Store::open_with(&format!("sqlite:{}", dir.path().join("t.db").display()), Some(blobs.clone())).await.unwrap();
    let (anna, bernd, mb) = office(&sqlite).await;
    let it = item("maildir:1", "eins", b"%PDF eins", Decision::Assign { sender: anna, to: bernd });
    let out = sqlite.commit_batch(mb, std::slice::from_ref(&it), 10).await.unwrap();
    let ImportOutcome::Case { case_id, .. } = out[0] else { panic!("{out:?}") };
    let pg = Store::open_with(&pg_url, Some(blobs.clone())).await.unwrap();
    sqlite.copy_into(&pg).await.unwrap();
    let case = pg.case(case_id).await.unwrap();
    assert_eq!(pg.raw(case.raw_id).await.unwrap(), it.raw);
    assert_eq!(common::attachment_bytes(&pg, case_id, case.attachments[0].id).await.unwrap(), b"%PDF eins");
    assert_eq!(count(&pg, "SELECT COUNT(*) FROM raw_messages WHERE blob IS NOT NULL").await, 1);
    assert_eq!(files(&blobs).len(), 1, "the file is shared, not copied");
    assert_eq!(pg.sweep_blobs(Duration::ZERO).await.unwrap().removed, 0, "the target references every file");
}

/// A new SQLite database gets 4 KiB pages with a blob directory (small rows) and 64 KiB pages
/// where raw mails are kept inside; an existing database keeps its pages whichever way it is opened.
#[tokio::test]
async fn a_new_sqlite_database_gets_pages_sized_for_where_raw_mails_live() {
    let dir = tempfile::tempdir().unwrap();
    let page_size = |store: &Store| {
        let pool = store.pool().clone();
        async move { sqlx::query_scalar::<_, i64>("PRAGMA page_size").fetch_one(&pool).await.unwrap() }
    };
    let with_files = format!("sqlite:{}", dir.path().join("files.db").display());
    let store = Store::open_with(&with_files, Some(dir.path().join("blobs"))).await.unwrap();
    assert_eq!(page_size(&store).await, 4096);
    let inside = format!("sqlite:{}", dir.path().join("inside.db").display());
    let store = Store::open(&inside).await.unwrap();
    assert_eq!(page_size(&store).await, 65536);
    // Reopened the other way: the pages stay as they are.
    drop(store);
    let store = Store::open_with(&inside, Some(dir.path().join("blobs"))).await.unwrap();
    assert_eq!(page_size(&store).await, 65536);
}
