//! Deletion runs (issue 18) on both backends: a due Vorgang leaves no row, no index entry and no
//! blob file behind — checked by scanning every table's text and blob columns and the blob
//! directory for a marker of its bytes; a blob shared with another mail stays; two runs at once
//! delete once; a Sperre and a reopen keep a Vorgang; kept mails go by their own periods.

use std::path::{Path, PathBuf};
use std::time::{Duration, SystemTime};

use postkorb_core::notify::NotifyKind;
use postkorb_core::retention::{HoldKind, RetentionClass};
use postkorb_core::time::parse_berlin;
use postkorb_core::{Decision, KeepReason};
use postkorb_store::{Backend, HoldTarget, ImportItem, ImportOutcome, Store};
use sqlx::Row;

use crate::common;

const MARKER: &str = "qzx7731";
const DAY: i64 = 86_400_000;

fn at(s: &str) -> i64 {
    parse_berlin(s).unwrap()
}

pub(crate) struct Db {
    pub store: Store,
    pub blob_dir: PathBuf,
    _dirs: Vec<tempfile::TempDir>,
}

pub(crate) async fn backends() -> Vec<Db> {
    let mut out = Vec::new();
    for (url, dir) in common::database_urls().await {
        let blobs = tempfile::tempdir().unwrap();
        let blob_dir = blobs.path().join("blobs");
        let store = Store::open_with(&url, Some(blob_dir.clone())).await.unwrap();
        out.push(Db { store, blob_dir, _dirs: dir.into_iter().chain([blobs]).collect() });
    }
    out
}

/// A mail whose subject, text, attachment and raw bytes carry `word`.
fn item(key: &str, subject: &str, word: &str, decision: Decision) -> ImportItem {
    let mut i = common::office::item(key, subject, decision);
    let raw = common::raw_with_attachment(&format!("{subject} {word}"), &format!("Text {word}"), b"%PDF-1.4");
    i.raw_digest = postkorb_mail::digests(&raw, None).raw_digest;
    i.raw = raw.into();
    i.mail.subject = format!("{subject} {word}");
    i.mail.text = format!("Kunde {word} ruft zurück");
    i.mail.attachments[0].name = format!("{word}.pdf");
    i
}

fn case_of(out: &ImportOutcome) -> i64 {
    match out {
        ImportOutcome::Case { case_id, .. } => *case_id,
        other => panic!("{other:?}"),
    }
}

fn hex(s: &str) -> String {
    s.bytes().map(|b| format!("{b:02x}")).collect()
}

/// Every table of the database, each row as lower-case text (blobs as hex), that contains `word`.
pub(crate) async fn rows_with(store: &Store, word: &str) -> Vec<String> {
    let (needle, needle_hex) = (word.to_lowercase(), hex(word));
    let tables_sql = match store.backend() {
        Backend::Sqlite => "SELECT name FROM sqlite_master WHERE type = 'table'",
        Backend::Postgres => "SELECT tablename::text FROM pg_tables WHERE schemaname = current_schema()",
    };
    let tables: Vec<String> =
        sqlx::query(tables_sql).fetch_all(store.pool()).await.unwrap().iter().map(|r| r.get(0)).collect();
    assert!(tables.len() > 20, "the scan sees the schema: {tables:?}");
    let mut found = Vec::new();
    for table in tables {
        let sql = match store.backend() {
            Backend::Sqlite => {
                let cols: Vec<String> =
                    sqlx::query(sqlx::AssertSqlSafe(format!("SELECT name FROM pragma_table_info('{table}')")))
                        .fetch_all(store.pool())
                        .await
                        .unwrap()
                        .iter()
                        .map(|r| r.get(0))
                        .collect();
                if cols.is_empty() {
                    continue;
                }
                let joined = cols.iter().map(|c| format!("quote(\"{c}\")")).collect::<Vec<_>>().join(" || '|' || ");
                format!("SELECT {joined} FROM \"{table}\"")
            }
            Backend::Postgres => format!("SELECT t::text FROM \"{table}\" t"),
        };
        for r in sqlx::query(sqlx::AssertSqlSafe(sql)).fetch_all(store.pool()).await.unwrap() {
            let text: String = r.try_get::<Option<String>, _>(0).unwrap().unwrap_or_default().to_lowercase();
            if text.contains(&needle) || text.contains(&needle_hex) {
                found.push(format!("{table}: {}", &text[..text.len().min(200)]));
            }
        }
    }
    found
}

fn files(dir: &Path) -> Vec<PathBuf> {
    let mut out = Vec::new();
    let Ok(rd) = std::fs::read_dir(dir) else { return out };
    for e in rd.flatten() {
        let p = e.path();
        if p.is_dir() { out.extend(files(&p)) } else { out.push(p) }
    }
    out
}

pub(crate) fn files_with(dir: &Path, word: &str) -> Vec<PathBuf> {
    files(dir).into_iter().filter(|f| String::from_utf8_lossy(&std::fs::read(f).unwrap()).contains(word)).collect()
}

/// The mails of a retention run are years old: so are their files (a file younger than the grace
/// may be a concurrent import's and stays for the sweep).
pub(crate) fn age_files(dir: &Path) {
    for f in files(dir) {
        let file = std::fs::File::options().write(true).open(&f).unwrap();
        file.set_modified(SystemTime::now() - Duration::from_secs(2 * 3600)).unwrap();
    }
}

async fn one(store: &Store, sql: &str) -> i64 {
    sqlx::query(sqlx::AssertSqlSafe(sql.to_string())).fetch_one(store.pool()).await.unwrap().get(0)
}

#[tokio::test]
async fn a_due_vorgang_leaves_no_row_no_index_entry_and_no_blob_file_behind() {
    for db in backends().await {
        let store = &db.store;
        let o = common::office::office(store).await;
        let assign = Decision::Assign { sender: o.anna, to: o.bernd };
        let t0 = at("2019-03-01 10:00");
        let out = store
            .commit_batch(
                o.mailbox,
                &[
                    item("maildir:1", "Schaden", MARKER, assign.clone()),
                    item("maildir:2", "Police", "bleibt", assign.clone()),
                ],
                t0,
            )
            .await
            .unwrap();
        let (gone, stays) = (case_of(&out[0]), case_of(&out[1]));
        // The same mail again: a duplicate in the ledger.
        let again =
            store.commit_batch(o.mailbox, &[item("maildir:3", "Schaden", MARKER, assign.clone())], t0 + 1).await;
        assert!(matches!(again.unwrap()[0], ImportOutcome::Duplicate { .. }));
        store.add_note(gone, o.bernd, &format!("Rückruf {MARKER}"), t0 + 2).await.unwrap();
        let event = one(store, &format!("SELECT MIN(id) FROM case_events WHERE case_id = {gone}")).await;
        store.queue_digest_item(o.bernd, NotifyKind::NewCase, event, gone, t0 + 3).await.unwrap();
        sqlx::query(
            "INSERT INTO deliveries (channel, target, event_key, event_id, case_id, kind, body, next_try_ms, created_ms, status)
             VALUES ('webhook', '1', $1, $2, $3, 'case.created', $4, 0, 0, 'pending')",
        )
        .bind(format!("evt_{event}"))
        .bind(event)
        .bind(gone)
        .bind(format!("{{\"subject\":\"Schaden {MARKER}\"}}"))
        .execute(store.pool())
        .await
        .unwrap();
        store.set_case_done(gone, true, o.bernd, at("2019-12-31 23:30")).await.unwrap();
        // The file's name (no key: stored plain, named by its SHA-256).
        let raw_hash: String = {
            use sha2::Digest;
            let raw = item("x", "Schaden", MARKER, assign.clone()).raw;
            sha2::Sha256::digest(&raw).iter().map(|b| format!("{b:02x}")).collect()
        };
        age_files(&db.blob_dir);

        // The scan sees the marker while the Vorgang exists (in rows and in its file).
        assert!(!rows_with(store, MARKER).await.is_empty(), "{:?}", store.backend());
        assert_eq!(files_with(&db.blob_dir, MARKER).len(), 1);

        // Not yet on New Year's Eve 2025 (office clock), deleted on 1 January 2026.
        let early = store.retention_run(at("2025-12-31 23:59"), false, 10).await.unwrap();
        assert_eq!(early.iter().find(|r| r.class == RetentionClass::Cases).unwrap().count, 0);
        let dry = store.retention_run(at("2026-01-01 00:00"), true, 10).await.unwrap();
        assert_eq!(dry[0].count, 1, "the dry run finds it");
        assert!(store.case(gone).await.is_ok(), "and deletes nothing");

        let run = store.retention_run(at("2026-01-01 00:00"), false, 10).await.unwrap();
        let cases = run.iter().find(|r| r.class == RetentionClass::Cases).unwrap();
        assert_eq!((cases.count, cases.items[0].id), (1, gone));
        assert_eq!(cases.items[0].sha256.as_deref(), Some(raw_hash.as_str()));

        let left = rows_with(store, MARKER).await;
        assert!(left.is_empty(), "{:?} rows left behind: {left:#?}", store.backend());
        assert!(files_with(&db.blob_dir, MARKER).is_empty(), "the blob file went at once");
        assert!(store.case(gone).await.is_err());
        for table in
            ["case_events", "case_candidates", "attachments", "case_notes", "notify_digest_items", "deliveries"]
        {
            assert_eq!(one(store, &format!("SELECT COUNT(*) FROM {table} WHERE case_id = {gone}")).await, 0, "{table}");
        }
        // The ledger keeps the key (never fetched again) without fingerprint; the duplicate went.
        assert_eq!(one(store, "SELECT COUNT(*) FROM ledger WHERE outcome = 'deleted' AND fingerprint = ''").await, 1);
        assert_eq!(one(store, "SELECT COUNT(*) FROM ledger WHERE outcome = 'duplicate'").await, 0);
        // The other Vorgang is whole, and the counts are right.
        assert!(store.raw(store.case(stays).await.unwrap().raw_id).await.unwrap().windows(6).any(|w| w == b"bleibt"));
        let counts = format!("SELECT cases * 10 + open_cases FROM case_counts WHERE employee_id = {}", o.bernd.0);
        assert_eq!(one(store, &counts).await, 11);

        // The Löschprotokoll: one entry for the class, ids and hash, no content.
        let (log, total) = store.deletion_log(10, 0).await.unwrap();
        assert_eq!(total, 1);
        assert_eq!(
            (log[0].class, log[0].count, log[0].items.clone()),
            (Some(RetentionClass::Cases), 1, cases.items.clone())
        );
        // A second run finds nothing and logs nothing.
        let again = store.retention_run(at("2026-01-01 00:00"), false, 10).await.unwrap();
        assert!(again.iter().all(|r| r.count == 0));
        assert_eq!(store.deletion_log(10, 0).await.unwrap().1, 1);
    }
}

#[tokio::test]
async fn a_blob_shared_with_identical_bytes_of_another_mail_stays() {
    for db in backends().await {
        let store = &db.store;
        let o = common::office::office(store).await;
        let assign = Decision::Assign { sender: o.anna, to: o.bernd };
        let first = item("maildir:1", "Schaden", MARKER, assign.clone());
        let mut twin = item("maildir:2", "Schaden", MARKER, Decision::Keep(KeepReason::NoRoute));
        twin.fingerprint = "fp-twin".into();
        let twin_raw = twin.raw.clone();
        let out = store.commit_batch(o.mailbox, &[first, twin], at("2019-03-01 10:00")).await.unwrap();
        let gone = case_of(&out[0]);
        let ImportOutcome::Kept { kept_id, .. } = out[1] else { panic!("{out:?}") };
        // Held, so the kept twin outlives its own period (a year) in this run.
        let until = at("2030-01-01 00:00");
        store.set_hold(HoldTarget::Kept(kept_id), HoldKind::Retention, "Prüfung", until, "dsb", 0).await.unwrap();
        store.set_case_done(gone, true, o.bernd, at("2019-05-01 10:00")).await.unwrap();
        age_files(&db.blob_dir);
        let run = store.retention_run(at("2026-02-01 00:00"), false, 10).await.unwrap();
        assert_eq!(run[0].count, 1);
        assert!(store.case(gone).await.is_err());
        let kept = store.kept(false, 10, 0).await.unwrap();
        assert_eq!(store.raw(kept[0].raw_id).await.unwrap(), twin_raw, "the kept twin still reads its file");
    }
}

#[tokio::test]
async fn two_runs_at_once_delete_each_vorgang_once() {
    for db in backends().await {
        let store = &db.store;
        let o = common::office::office(store).await;
        let assign = Decision::Assign { sender: o.anna, to: o.bernd };
        let items: Vec<ImportItem> =
            (0..5).map(|n| item(&format!("maildir:{n}"), &format!("Mail {n}"), "alt", assign.clone())).collect();
        let out = store.commit_batch(o.mailbox, &items, at("2018-01-05 10:00")).await.unwrap();
        for c in &out {
            store.set_case_done(case_of(c), true, o.bernd, at("2018-02-01 10:00")).await.unwrap();
        }
        let now = at("2026-03-01 12:00");
        let other = store.clone();
        let (a, b) = tokio::join!(store.retention_run(now, false, 1), other.retention_run(now, false, 2));
        let count = |r: &Vec<postkorb_store::ClassRun>| r[0].count;
        let (a, b) = (a.unwrap(), b.unwrap());
        assert_eq!(count(&a) + count(&b), 5, "each deleted once");
        let (log, _) = store.deletion_log(10, 0).await.unwrap();
        let mut ids: Vec<i64> = log.iter().flat_map(|e| e.items.iter().map(|d| d.id)).collect();
        ids.sort();
        let mut expected: Vec<i64> = out.iter().map(case_of).collect();
        expected.sort();
        assert_eq!(ids, expected, "the Löschprotokoll names each once");
        assert_eq!(one(store, "SELECT COUNT(*) FROM cases").await, 0);
        assert_eq!(one(store, "SELECT COUNT(*) FROM raw_messages").await, 0);
    }
}

#[tokio::test]
async fn a_sperre_or_a_reopen_keeps_a_vorgang_and_open_ones_are_never_due() {
    for db in backends().await {
        let store = &db.store;
        let o = common::office::office(store).await;
        let assign = Decision::Assign { sender: o.anna, to: o.bernd };
        let items: Vec<ImportItem> =
            (0..3).map(|n| item(&format!("maildir:{n}"), &format!("Mail {n}"), "alt", assign.clone())).collect();
        let out = store.commit_batch(o.mailbox, &items, at("2018-01-05 10:00")).await.unwrap();
        let (held, reopened, open) = (case_of(&out[0]), case_of(&out[1]), case_of(&out[2]));
        for c in [held, reopened] {
            store.set_case_done(c, true, o.bernd, at("2018-02-01 10:00")).await.unwrap();
        }
        // Reopened in 2025 and closed again: its period starts over.
        store.set_case_done(reopened, false, o.bernd, at("2025-03-01 10:00")).await.unwrap();
        store.set_case_done(reopened, true, o.bernd, at("2025-03-02 10:00")).await.unwrap();
        let until = at("2027-01-01 00:00");
        let hold = store.set_hold(
            HoldTarget::Case(held),
            HoldKind::Retention,
            "Rechtsstreit",
            until,
            "dsb",
            at("2025-01-01 10:00"),
        );
        let hold = hold.await.unwrap();
        let now = at("2026-06-01 12:00");
        let run = store.retention_run(now, false, 10).await.unwrap();
        assert_eq!(run[0].count, 0, "held, reopened and open Vorgänge stay");
        for c in [held, reopened, open] {
            assert!(store.case(c).await.is_ok());
        }
        assert!(store.lift_hold(hold, "dsb", now).await.unwrap());
        assert!(!store.lift_hold(hold, "dsb", now).await.unwrap(), "lifted once");
        let run = store.retention_run(now, false, 10).await.unwrap();
        assert_eq!((run[0].count, run[0].items[0].id), (1, held));
        let audited = one(store, "SELECT COUNT(*) FROM audit_log WHERE action IN ('set_hold', 'lift_hold')").await;
        assert_eq!(audited, 2);
    }
}

#[tokio::test]
async fn kept_mails_go_by_their_own_periods_and_a_sperre_keeps_one() {
    for db in backends().await {
        let store = &db.store;
        let o = common::office::office(store).await;
        let keep = Decision::Keep(KeepReason::NoRoute);
        let t0 = at("2025-01-10 09:00");
        let items: Vec<ImportItem> =
            (0..4).map(|n| item(&format!("maildir:{n}"), &format!("Mail {n}"), "k", keep.clone())).collect();
        let out = store.commit_batch(o.mailbox, &items, t0).await.unwrap();
        let ids: Vec<i64> = out
            .iter()
            .map(|o| match o {
                ImportOutcome::Kept { kept_id, .. } => *kept_id,
                other => panic!("{other:?}"),
            })
            .collect();
        store.discard_kept(ids[0], "anna", t0 + DAY).await.unwrap();
        store.discard_kept(ids[1], "anna", t0 + 100 * DAY).await.unwrap();
        store
            .set_hold(HoldTarget::Kept(ids[3]), HoldKind::Restriction, "Auskunft", t0 + 900 * DAY, "dsb", t0)
            .await
            .unwrap();
        // 120 days later: the first discarded one (119 days ago) goes, the second (20 days) stays.
        let run = store.retention_run(t0 + 120 * DAY, false, 10).await.unwrap();
        let of = |c: RetentionClass| {
            run.iter().find(|r| r.class == c).unwrap().items.iter().map(|d| d.id).collect::<Vec<_>>()
        };
        assert_eq!(of(RetentionClass::KeptDiscarded), vec![ids[0]]);
        assert!(of(RetentionClass::KeptOpen).is_empty());
        // After a year the open one goes; the held one stays.
        let run = store.retention_run(t0 + 366 * DAY, false, 10).await.unwrap();
        let of = |c: RetentionClass| {
            run.iter().find(|r| r.class == c).unwrap().items.iter().map(|d| d.id).collect::<Vec<_>>()
        };
        assert_eq!(of(RetentionClass::KeptOpen), vec![ids[2]]);
        assert_eq!(of(RetentionClass::KeptDiscarded), vec![ids[1]]);
        let left: Vec<i64> = store.kept(false, 10, 0).await.unwrap().iter().map(|k| k.id).collect();
        assert_eq!(left, vec![ids[3]]);
        assert_eq!(one(store, "SELECT COUNT(*) FROM raw_messages").await, 1);
    }
}

#[tokio::test]
async fn logs_sessions_and_deliveries_go_after_their_periods() {
    for db in backends().await {
        let store = &db.store;
        let now = at("2026-06-01 12:00");
        store.audit(now - 11 * 365 * DAY, "anna", "old", "").await.unwrap();
        store.audit(now - 9 * 365 * DAY, "anna", "young", "").await.unwrap();
        for (user, ms) in [("a", now - 91 * DAY), ("b", now - 89 * DAY)] {
            sqlx::query("INSERT INTO login_failures (username, at_ms, address) VALUES ($1, $2, '')")
                .bind(user)
                .bind(ms)
                .execute(store.pool())
                .await
                .unwrap();
        }
        let run = store.retention_run(now, false, 10).await.unwrap();
        let count = |c: RetentionClass| run.iter().find(|r| r.class == c).unwrap().count;
        assert_eq!(count(RetentionClass::Audit), 1);
        assert_eq!(count(RetentionClass::LoginFailures), 1);
        assert_eq!(one(store, "SELECT COUNT(*) FROM audit_log WHERE action = 'young'").await, 1);
        assert_eq!(one(store, "SELECT COUNT(*) FROM login_failures").await, 1);
    }
}

/// The Startmaske's counts leave out what a restriction hides, as its lists do: `hidden_counts`
/// counts each of the assignee's restricted Vorgänge by the count it is in — a Sperre
/// „Aufbewahrung“, a lifted restriction and another's Vorgang hide nothing.
#[tokio::test]
async fn hidden_counts_are_the_restricted_vorgaenge_by_the_startmaske_counts() {
    for db in backends().await {
        let store = &db.store;
        let o = common::office::office(store).await;
        let assign = Decision::Assign { sender: o.anna, to: o.bernd };
        let t0 = at("2026-03-02 09:00");
        let items: Vec<ImportItem> =
            (0..6).map(|n| item(&format!("maildir:{n}"), &format!("Mail {n}"), "h", assign.clone())).collect();
        let ids: Vec<i64> = store.commit_batch(o.mailbox, &items, t0).await.unwrap().iter().map(case_of).collect();
        let now = t0 + 10 * DAY;
        store.set_follow_up(ids[1], o.bernd, Some(now + DAY), None, t0).await.unwrap();
        store.set_follow_up(ids[2], o.bernd, Some(now - DAY), None, t0).await.unwrap();
        store.set_case_done(ids[3], true, o.bernd, t0).await.unwrap();
        // (Vorgang, kind, lifted): 0 open, 1 pending, 2 due, 3 done restricted; 4 held only; 5 lifted.
        let holds = [
            (0, HoldKind::Restriction, false),
            (1, HoldKind::Restriction, false),
            (1, HoldKind::Restriction, false),
            (2, HoldKind::Restriction, false),
            (3, HoldKind::Restriction, false),
            (4, HoldKind::Retention, false),
            (5, HoldKind::Restriction, true),
        ];
        for (i, kind, lifted) in holds {
            let h = store.set_hold(HoldTarget::Case(ids[i]), kind, "Widerspruch", now + 99 * DAY, "dsb", t0).await;
            if lifted {
                store.lift_hold(h.unwrap(), "dsb", t0).await.unwrap();
            }
        }
        let n = store.hidden_counts(o.bernd, t0 - 1, now).await.unwrap();
        let want = postkorb_store::HiddenCounts { total: 4, open: 3, pending: 1, due: 1, new_since: 4 };
        assert_eq!(n, want, "{:?}", store.backend());
        assert_eq!(store.hidden_counts(o.bernd, t0, now).await.unwrap().new_since, 0, "claimed at t0, not after");
        assert_eq!(store.hidden_counts(o.anna, t0 - 1, now).await.unwrap(), Default::default());
        // Consistent with the list: what it shows is the count minus the hidden ones.
        let listed = store.cases_filtered(Some(o.bernd), postkorb_store::CaseFilter::All, 50, 0).await.unwrap();
        assert_eq!(listed.len() as i64, store.count_cases(Some(o.bernd)).await.unwrap() - n.total);
    }
}

/// Mails left on the server at onboarding (`ignored` ledger rows) go by the period of unhandled
/// kept mails: afterwards their rows keep only the key (still `ignored`, so never fetched or
/// disposed of); younger ones and a dry run keep their fingerprint.
#[tokio::test]
async fn ignored_ledger_rows_keep_only_their_key_after_the_kept_open_period() {
    for db in backends().await {
        let store = &db.store;
        let o = common::office::office(store).await;
        let t0 = at("2025-01-10 09:00");
        let keys = |n: std::ops::Range<i32>| n.map(|i| (format!("imap:1:{i}"), format!("fp{i}"))).collect::<Vec<_>>();
        store.record_ignored(o.mailbox, &keys(0..3), t0).await.unwrap();
        store.record_ignored(o.mailbox, &keys(3..4), t0 + 200 * DAY).await.unwrap();
        let fingerprints = || async {
            let rows = sqlx::query("SELECT fingerprint FROM ledger WHERE outcome = 'ignored' ORDER BY source_key")
                .fetch_all(store.pool())
                .await
                .unwrap();
            rows.iter().map(|r| r.try_get::<String, _>(0).unwrap()).collect::<Vec<_>>()
        };
        store.retention_run(t0 + 366 * DAY, true, 2).await.unwrap();
        assert_eq!(fingerprints().await, ["fp0", "fp1", "fp2", "fp3"], "a dry run changes nothing");
        store.retention_run(t0 + 366 * DAY, false, 2).await.unwrap();
        assert_eq!(fingerprints().await, ["", "", "", "fp3"], "{:?}", store.backend());
        let ignored = store.ignored_keys(o.mailbox).await.unwrap();
        assert_eq!(ignored.len(), 4, "every key stays, so no mail is fetched again");
    }
}
