//! Encryption at rest (issue 18 item 7) on both backends, in the database and in a blob directory:
//! the raw bytes of a mail — its text as written, its attachment, its headers — appear nowhere on
//! disk in plain form (every table scanned, SQLite's files and the blob directory read byte by
//! byte), yet the Vorgang, its attachment and its search hit read back whole; a sealed value moved to
//! another row, or read without the key, is refused; a plain installation converts in place,
//! resumably, and leaves nothing plain behind.

use std::path::{Path, PathBuf};

use postkorb_core::Decision;
use postkorb_store::{Backend, ImportItem, ImportOutcome, MailKey, SealCursor, SearchQuery, Searcher, Store};
use sqlx::Row;

use crate::common;
use crate::retention::{age_files, files_with, rows_with};

/// The text as the sender wrote it (punctuation and capitals: the search index keeps words only).
const SENTENCE: &str = "Befund: Schleudertrauma (HWS), Dr. Kübler, AU bis 12.12.!";
/// The attachment's bytes; their base64 is what the raw mail holds.
const SECRET_FILE: &[u8] = b"%PDF-1.4 Gutachten Nr. 4711-XK, Diagnose S13.4";
const HEADER: &str = "X-Postkorb-Test: versiegelt-9931";

struct Db {
    store: Store,
    sqlite_file: Option<PathBuf>,
    blob_dir: Option<PathBuf>,
    _dirs: Vec<tempfile::TempDir>,
}

fn key() -> MailKey {
    MailKey::derive(&[42; 32])
}

/// Each backend, with and without a blob directory, opened with the key.
async fn stores() -> Vec<Db> {
    let mut out = Vec::new();
    for with_blobs in [false, true] {
        for (url, dir) in common::database_urls().await {
            let blobs = tempfile::tempdir().unwrap();
            let blob_dir = with_blobs.then(|| blobs.path().join("blobs"));
            let store = Store::open_with(&url, blob_dir.clone()).await.unwrap().with_mail_key(key());
            let sqlite_file = dir.as_ref().map(|d| d.path().join("t.db"));
            out.push(Db { store, sqlite_file, blob_dir, _dirs: dir.into_iter().chain([blobs]).collect() });
        }
    }
    out
}

fn raw(n: usize) -> Vec<u8> {
    let mut raw = common::raw_with_attachment(&format!("Unfall {n}"), SENTENCE, SECRET_FILE);
    let mut with_header = format!("{HEADER}\r\n").into_bytes();
    with_header.append(&mut raw);
    with_header
}

fn item(n: usize, assign: &Decision) -> ImportItem {
    let mut i = common::office::item(&format!("maildir:{n}"), &format!("Unfall {n}"), assign.clone());
    let raw = raw(n);
    i.raw_digest = postkorb_mail::digests(&raw, None).raw_digest;
    i.raw = raw.into();
    i.mail.text = SENTENCE.into();
    i.mail.attachments[0].size = SECRET_FILE.len();
    i
}

fn sha256_hex(bytes: &[u8]) -> String {
    use sha2::Digest;
    sha2::Sha256::digest(bytes).iter().map(|b| format!("{b:02x}")).collect()
}

fn b64(bytes: &[u8]) -> String {
    use base64::Engine;
    base64::engine::general_purpose::STANDARD.encode(bytes)[..40].to_string()
}

/// What of a mail must never be found in plain form.
fn needles() -> Vec<String> {
    vec![SENTENCE.to_string(), b64(SECRET_FILE), HEADER.to_string(), "Gutachten Nr. 4711-XK".to_string()]
}

/// Every place on disk holding one of the needles: rows, SQLite's files (database and WAL), blob files.
async fn plain_anywhere(db: &Db) -> Vec<String> {
    let mut found = Vec::new();
    db.store.checkpoint().await.unwrap();
    for needle in needles() {
        found.extend(rows_with(&db.store, &needle).await);
        if let Some(file) = &db.sqlite_file {
            for f in [file.clone(), PathBuf::from(format!("{}-wal", file.display()))] {
                if std::fs::read(&f).is_ok_and(|b| b.windows(needle.len()).any(|w| w == needle.as_bytes())) {
                    found.push(format!("{}: {needle}", f.display()));
                }
            }
        }
        if let Some(dir) = &db.blob_dir {
            found.extend(files_with(dir, &needle).into_iter().map(|p| format!("{}: {needle}", p.display())));
        }
    }
    found
}

/// A batch made ready as the importer makes it: written ahead, then made durable.
async fn made_ready(store: &Store, items: Vec<ImportItem>) -> Vec<ImportItem> {
    let written = store.prepare_commit(items).await.unwrap();
    store.make_durable(vec![written]).await.unwrap().remove(0)
}

fn case_of(out: &ImportOutcome) -> i64 {
    match out {
        ImportOutcome::Case { case_id, .. } => *case_id,
        other => panic!("{other:?}"),
    }
}

async fn reads_back(store: &Store, case_id: i64, n: usize) {
    let case = store.case(case_id).await.unwrap();
    assert_eq!(store.raw(case.raw_id).await.unwrap(), raw(n), "the raw mail reads back whole");
    let attachment = case.attachments[0].id;
    assert_eq!(common::attachment_bytes(store, case_id, attachment).await.unwrap(), SECRET_FILE);
    let q = SearchQuery { text: "Schleudertrauma".into(), per_page: 20, page: 1, ..Default::default() };
    let page = store.search(Searcher::All, &q).await.unwrap();
    let hit = page.hits.iter().find(|h| h.case.id == case_id).expect("found by a word of its text");
    let snippet = hit.snippet_html.as_deref().unwrap_or_default();
    assert!(snippet.contains("<mark>Schleudertrauma</mark>"), "{snippet}");
}

fn blob_count(dir: &Option<PathBuf>) -> usize {
    fn walk(p: &Path) -> usize {
        std::fs::read_dir(p)
            .map_or(0, |rd| rd.flatten().map(|e| if e.path().is_dir() { walk(&e.path()) } else { 1 }).sum())
    }
    dir.as_deref().map_or(0, walk)
}

#[tokio::test]
async fn a_sealed_mail_appears_nowhere_in_plain_form_and_reads_back_whole() {
    for db in stores().await {
        let store = &db.store;
        let o = common::office::office(store).await;
        assert!(store.seal_new().await.unwrap(), "on by default for a new installation");
        let assign = Decision::Assign { sender: o.anna, to: o.bernd };
        let mut items = vec![item(1, &assign), item(2, &assign)];
        // One made ready ahead (its raw mail only: no search entry), one sealed by the commit itself.
        let ahead = made_ready(store, vec![items.remove(0)]).await;
        items.splice(0..0, ahead);
        // And one made ready as the importer makes every batch ready: its raw mail sealed ahead
        // (a file, or the bytes the commit stores in the database) and its search entry's text.
        let mut third = item(3, &assign);
        third.search_terms = Some(postkorb_store::IndexTerms::of_mail(&third.mail));
        let ready = made_ready(store, vec![third]).await;
        let ahead = ready[0].raw_file.as_ref().expect("made ready ahead");
        assert!(ahead.sealed && ahead.bytes.is_some() == db.blob_dir.is_none(), "{ahead:?}");
        items.extend(ready);
        let out = store.commit_batch(o.mailbox, &items, 1_000).await.unwrap();
        let (one, two, three) = (case_of(&out[0]), case_of(&out[1]), case_of(&out[2]));
        let found = plain_anywhere(&db).await;
        assert!(found.is_empty(), "{:?} {:?}: plain on disk: {found:?}", store.backend(), db.blob_dir);
        reads_back(store, one, 1).await;
        reads_back(store, two, 2).await;
        reads_back(store, three, 3).await;

        // The file names reveal nothing: not the plain SHA-256 of the mail.
        let plain_sha = sha256_hex(&raw(1));
        let names: Vec<(Option<String>, Option<String>)> =
            sqlx::query("SELECT blob, sealed FROM raw_messages ORDER BY id")
                .fetch_all(store.pool())
                .await
                .unwrap()
                .iter()
                .map(|r| (r.get(0), r.get(1)))
                .collect();
        // Named by the keyed hash of the BLAKE3 digest the importer computed anyway (one pass over
        // the mail, not two), written ahead or by the commit alike.
        for (n, (_, sealed)) in names.iter().enumerate() {
            let digest = postkorb_mail::digests(&raw(n + 1), None).raw_digest;
            assert_eq!(sealed.as_deref(), Some(key().name_of_digest(&digest).as_str()), "mail {}", n + 1);
        }
        for (blob, sealed) in &names {
            let sealed = sealed.as_deref().expect("stored sealed");
            assert_ne!(sealed, plain_sha);
            assert_eq!(blob.is_some(), db.blob_dir.is_some());
            if let Some(blob) = blob {
                assert_eq!(blob, sealed, "a sealed file is named by its keyed hash");
            }
        }

        // Moved to another row (the other mail's sealed value under this row's name): refused.
        let ids: Vec<i64> =
            sqlx::query_scalar("SELECT raw_id FROM cases ORDER BY id").fetch_all(store.pool()).await.unwrap();
        if db.blob_dir.is_none() {
            sqlx::query("UPDATE raw_messages SET data = (SELECT data FROM raw_messages WHERE id = $1) WHERE id = $2")
                .bind(ids[1])
                .bind(ids[0])
                .execute(store.pool())
                .await
                .unwrap();
        } else {
            let other = names[1].0.clone().unwrap();
            sqlx::query("UPDATE raw_messages SET blob = $1 WHERE id = $2")
                .bind(other)
                .bind(ids[0])
                .execute(store.pool())
                .await
                .unwrap();
        }
        let err = store.raw(ids[0]).await.unwrap_err().to_string();
        assert!(err.contains("cannot be decrypted"), "{err}");

        // Without the key (or with another): refused with a clear message, never shown as bytes.
        let url = match store.backend() {
            Backend::Sqlite => format!("sqlite:{}", db.sqlite_file.as_ref().unwrap().display()),
            Backend::Postgres => continue,
        };
        let keyless = Store::open_with(&url, db.blob_dir.clone()).await.unwrap();
        let err = keyless.raw(ids[1]).await.unwrap_err().to_string();
        assert!(err.contains("key file"), "{err}");
        let wrong = Store::open_with(&url, db.blob_dir.clone()).await.unwrap().with_mail_key(MailKey::derive(&[7; 32]));
        assert!(wrong.raw(ids[1]).await.is_err());
    }
}

/// An office whose setting is off, with `n` Vorgänge stored plain (mails 1..=n).
async fn plain_installation(store: &Store, n: usize) -> (common::office::Office, Decision, Vec<i64>) {
    let o = common::office::office(store).await;
    store.set_seal_new(false).await.unwrap();
    let assign = Decision::Assign { sender: o.anna, to: o.bernd };
    let items: Vec<ImportItem> = (1..=n).map(|n| item(n, &assign)).collect();
    let out = store.commit_batch(o.mailbox, &items, 1_000).await.unwrap();
    (o, assign, out.iter().map(case_of).collect())
}

#[tokio::test]
async fn a_plain_installation_converts_in_place_resumably_and_leaves_nothing_plain() {
    for db in stores().await {
        let store = &db.store;
        let (o, assign, cases) = plain_installation(store, 3).await;
        // The third as older versions stored it: its text beside the raw mail (before migration
        // 0012), its attachment's bytes apart from it (before 0010).
        sqlx::query("UPDATE cases SET body_text = $1, body_in_raw = 0 WHERE id = $2")
            .bind(SENTENCE)
            .bind(cases[2])
            .execute(store.pool())
            .await
            .unwrap();
        sqlx::query("UPDATE attachments SET data = $1, in_raw = 0 WHERE case_id = $2")
            .bind(SECRET_FILE)
            .bind(cases[2])
            .execute(store.pool())
            .await
            .unwrap();
        assert!(!plain_anywhere(&db).await.is_empty(), "stored plain while the setting is off");
        let before = store.seal_progress().await.unwrap();
        assert_eq!(
            (before.raw_plain, before.raw_sealed, before.search_plain, before.bodies_plain, before.attachments_plain),
            (3, 0, 3, 1, 1)
        );
        // Plain files older than the grace go at once (younger ones stay for the sweep).
        if let Some(dir) = &db.blob_dir {
            age_files(dir);
        }

        // Interrupted after one step of one item each: resumable, the rest converts later.
        store.set_seal_new(true).await.unwrap();
        let mut cursor = SealCursor::default();
        assert!(store.seal_step(1, &mut cursor).await.unwrap() >= 2);
        assert!(store.seal_pending().await.unwrap());
        let mid = store.seal_progress().await.unwrap();
        assert_eq!((mid.raw_plain, mid.raw_sealed), (2, 1));
        reads_back(store, cases[0], 1).await;
        // A mail arriving meanwhile is stored sealed at once.
        let out = store.commit_batch(o.mailbox, &[item(4, &assign)], 2_000).await.unwrap();
        let fourth = case_of(&out[0]);
        while store.seal_step(1, &mut cursor).await.unwrap() > 0 {}
        let after = store.seal_progress().await.unwrap();
        assert!(after.done(), "{after:?}");
        assert_eq!(after.raw_sealed, 4);
        let found = plain_anywhere(&db).await;
        assert!(found.is_empty(), "{:?} {:?}: plain after the conversion: {found:?}", store.backend(), db.blob_dir);
        for (n, case_id) in cases.iter().enumerate() {
            reads_back(store, *case_id, n + 1).await;
        }
        reads_back(store, fourth, 4).await;
        // Four raw mails and the attachment stored apart, each sealed; no plain file left.
        assert_eq!(blob_count(&db.blob_dir), if db.blob_dir.is_some() { 5 } else { 0 }, "no plain file left");
        // Nothing more to do, and that is remembered (no scan at the next start or page view)
        // until the setting is switched off, when plain mails may be written again.
        assert_eq!(store.seal_step(10, &mut SealCursor::default()).await.unwrap(), 0);
        assert!(!store.seal_pending().await.unwrap());
        store.set_seal_new(false).await.unwrap();
        assert!(!store.seal_pending().await.unwrap(), "off: nothing to convert");
        store.set_seal_new(true).await.unwrap();
        assert!(store.seal_pending().await.unwrap(), "on again: what came meanwhile is looked for");
    }
}

/// A conversion reads on from where its last step stopped; an item that is plain again behind
/// its cursor (its row changed while it was sealed, or written while the setting was off) is
/// found by the look from the first rows before the conversion counts as done.
#[tokio::test]
async fn a_conversion_reads_on_from_its_cursor_and_finds_what_went_plain_behind_it() {
    for db in stores().await {
        let store = &db.store;
        let (_, _, cases) = plain_installation(store, 4).await;
        // The plain files old enough to go at once (younger ones stay for the sweep).
        if let Some(dir) = &db.blob_dir {
            age_files(dir);
        }
        store.set_seal_new(true).await.unwrap();
        let mut cursor = SealCursor::default();
        // Two steps of two items: every raw mail and search text sealed, each read once.
        assert_eq!(store.seal_step(2, &mut cursor).await.unwrap(), 4);
        assert_eq!(store.seal_step(2, &mut cursor).await.unwrap(), 4);
        assert_eq!(store.seal_progress().await.unwrap().search_plain, 0);
        // The first Vorgang's search text plain again, behind the cursor.
        let id = match store.backend() {
            Backend::Sqlite => "rowid",
            Backend::Postgres => "case_id",
        };
        sqlx::query(sqlx::AssertSqlSafe(format!("UPDATE case_search SET shown = $1 WHERE {id} = $2")))
            .bind(SENTENCE)
            .bind(cases[0])
            .execute(store.pool())
            .await
            .unwrap();
        // The next step finds nothing after the cursors, looks again from the first rows and
        // seals it; only the step after that, finding nothing anywhere, counts the conversion done.
        assert_eq!(store.seal_step(2, &mut cursor).await.unwrap(), 1);
        assert!(store.seal_pending().await.unwrap(), "not done while something was still plain");
        assert_eq!(store.seal_progress().await.unwrap().search_plain, 0);
        assert_eq!(store.seal_step(2, &mut cursor).await.unwrap(), 0);
        assert!(!store.seal_pending().await.unwrap());
        let found = plain_anywhere(&db).await;
        assert!(found.is_empty(), "{:?}: plain after the conversion: {found:?}", store.backend());
        for (n, case_id) in cases.iter().enumerate() {
            reads_back(store, *case_id, n + 1).await;
        }
    }
}

/// The importer writes a batch's files ahead of its commit: one written sealed stays sealed (row
/// and search text) even if the setting is switched off before the commit.
#[tokio::test]
async fn a_mail_written_ahead_sealed_stays_sealed_when_the_setting_changes_before_its_commit() {
    for db in stores().await.into_iter().filter(|db| db.blob_dir.is_some()) {
        let store = &db.store;
        let o = common::office::office(store).await;
        let assign = Decision::Assign { sender: o.anna, to: o.bernd };
        let ahead = made_ready(store, vec![item(1, &assign)]).await;
        assert!(ahead[0].raw_file.as_ref().is_some_and(|f| f.sealed));
        store.set_seal_new(false).await.unwrap();
        let out = store.commit_batch(o.mailbox, &ahead, 1_000).await.unwrap();
        let found = plain_anywhere(&db).await;
        assert!(found.is_empty(), "{:?}: plain on disk: {found:?}", store.backend());
        reads_back(store, case_of(&out[0]), 1).await;
        let p = store.seal_progress().await.unwrap();
        assert_eq!((p.raw_sealed, p.search_plain), (1, 0));
    }
}
