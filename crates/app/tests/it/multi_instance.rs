//! Issue 19, multi-instance: `serve` instances on one PostgreSQL database split its mailboxes
//! evenly — started together each takes its fair share, one started later gets its share from the
//! others after their next pass, and one that stops leaves its mailboxes to the rest — and every
//! mail is still imported exactly once. Real `postkorb serve` processes, Maildir mailboxes.

use std::time::{Duration, Instant};

use postkorb_store::Store;

use crate::common::{Env, HANG_GUARD, Served};

const MAILBOXES: usize = 4;

/// The instances' shared setting: database, key file, a lease of 3 s (patience and renewal 1 s).
fn instance(url: &str, key_file: &std::path::Path) -> Env {
    Env::new().with("POSTKORB_DATABASE_URL", url).with("POSTKORB_KEY_FILE", key_file).with("POSTKORB_LEASE_SECS", "3")
}

/// Mailboxes m0 … m3, each a Maildir polled every second; their directories.
fn mailboxes(env: &Env) -> Vec<std::path::PathBuf> {
    (0..MAILBOXES)
        .map(|i| {
            let dir = env.path().join(format!("mb{i}"));
            for sub in ["new", "cur", "tmp"] {
                std::fs::create_dir_all(dir.join(sub)).unwrap();
            }
            let path = dir.to_str().unwrap();
            let name = format!("m{i}");
            env.ok(&[
                "mailbox",
                "set",
                "--name",
                &name,
                "--protocol",
                "maildir",
                "--path",
                path,
                "--poll-secs",
                "1",
                "--verify",
                "off",
            ]);
            dir
        })
        .collect()
}

/// How many of the mailboxes' unexpired leases each instance holds, once all are held and the
/// split is `want`; panics with the last split seen after the hang guard.
async fn wait_for_split(store: &Store, ids: &[i64], instances: &[&Served], want: &[usize]) {
    let started = Instant::now();
    let mut last = Vec::new();
    while started.elapsed() < HANG_GUARD {
        let now = std::time::SystemTime::now().duration_since(std::time::UNIX_EPOCH).unwrap().as_millis() as i64;
        let mut counts = vec![0; instances.len()];
        let mut held = 0;
        for &id in ids {
            if let Some(l) = store.lease(id).await.unwrap()
                && l.expires_ms > now
                && let Some(k) = instances.iter().position(|s| s.holds(&l.holder))
            {
                counts[k] += 1;
                held += 1;
            }
        }
        if held == ids.len() && counts == want {
            return;
        }
        last = counts;
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
    panic!("the mailboxes were split {last:?} between the instances, not {want:?}");
}

fn drop_mail(dir: &std::path::Path, n: usize) {
    let tmp = dir.join(format!("tmp/{n}.x"));
    std::fs::write(
        &tmp,
        format!("From: anna@mustermail.de\r\nSubject: Post {n}\r\nMessage-ID: <post-{n}@test>\r\n\r\nHallo\r\n"),
    )
    .unwrap();
    std::fs::rename(&tmp, dir.join(format!("new/{n}.x"))).unwrap();
}

#[tokio::test]
async fn instances_split_the_mailboxes_evenly_when_started_together_later_and_after_a_stop() {
    let Some(url) = postkorb_testkit::postgres::database("the split of mailboxes between instances").await else {
        return;
    };
    let keys = tempfile::tempdir().unwrap();
    let key_file = keys.path().join("secret.key");
    let (a, b, c) = (instance(&url, &key_file), instance(&url, &key_file), instance(&url, &key_file));
    a.office();
    let dirs = mailboxes(&a);
    let store = Store::open(&url).await.unwrap();
    let mut ids = Vec::new();
    for i in 0..MAILBOXES {
        ids.push(store.mailbox(&format!("m{i}")).await.unwrap().id);
    }

    // Started together: two each (before, the first to start took all four).
    let served_a = a.serve("a");
    let mut served_b = b.serve("b");
    wait_for_split(&store, &ids, &[&served_a, &served_b], &[2, 2]).await;

    // b stops: a takes b's mailboxes.
    served_b.terminate();
    wait_for_split(&store, &ids, &[&served_a], &[4]).await;

    // c starts later: a hands two over after their next pass.
    let served_c = c.serve("c");
    wait_for_split(&store, &ids, &[&served_a, &served_c], &[2, 2]).await;

    // Every mail once, whoever fetches it.
    for (n, dir) in dirs.iter().enumerate() {
        drop_mail(dir, n);
    }
    let started = Instant::now();
    loop {
        let cases = store.cases(None, 100, 0).await.unwrap().len();
        if cases == MAILBOXES {
            break;
        }
        assert!(cases < MAILBOXES, "{cases} Vorgänge for {MAILBOXES} mails");
        assert!(started.elapsed() < HANG_GUARD, "only {cases} of {MAILBOXES} mails imported");
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
    tokio::time::sleep(Duration::from_secs(2)).await;
    assert_eq!(store.cases(None, 100, 0).await.unwrap().len(), MAILBOXES, "a mail imported twice");
    // Each pass drained the search index's new words into PostgreSQL's list (migration 0038)
    // before it ended, whichever instance committed them.
    let (queued, listed): (i64, i64) = sqlx::query_as(
        "SELECT (SELECT count(*) FROM search_words_queue),
                (SELECT count(*) FROM search_words WHERE word IN ('post', 'hallo'))",
    )
    .fetch_one(store.pool())
    .await
    .unwrap();
    assert_eq!((queued, listed), (0, 2), "the new words queued or listed");
    // And merged GIN's pending entries into the index (migration 0038: the commits leave them).
    let pending: i64 = sqlx::query_scalar("SELECT gin_clean_pending_list('case_search_doc'::regclass)")
        .fetch_one(store.pool())
        .await
        .unwrap();
    assert_eq!(pending, 0, "pages of pending entries left after the passes");
}
