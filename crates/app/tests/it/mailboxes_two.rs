//! Several mailboxes under `serve`'s loops against a real Dovecot: a mailbox with a wrong password
//! records "login failed" in its health while the other keeps importing; fixing the password takes
//! effect without a restart.

use std::time::Duration;

use postkorb_store::{MailboxRecord, Store};

use crate::office::{Office, PASSWORD, USER};

const GOOD: &str = USER;
const BAD: &str = "schaden@office.test";
const DEADLINE: Duration = Duration::from_secs(30);

/// A mailbox of the office's Dovecot named after its user, polled hourly, under the default policy.
fn record(o: &Office, user: &str, password: &str) -> MailboxRecord {
    let m = o.mailbox_record("imap", o.dovecot.imap_port());
    let m =
        MailboxRecord { name: user.into(), username: user.into(), poll_secs: 3600, verify_policy: String::new(), ..m };
    o.sealed(m, password)
}

fn mail(n: usize) -> Vec<u8> {
    format!(
        "From: Anna <anna@mustermail.de>\r\nTo: {GOOD}\r\nSubject: Anfrage {n}\r\nMessage-ID: <m{n}@test>\r\n\r\nHallo\r\n"
    )
    .into_bytes()
}

/// Polls until `check` holds for the mailbox `name` and its count of imported mails, or fails.
/// Imported = stored as a Vorgang or as a kept mail: which of the two is the business of routing
/// and sender verification (tested elsewhere); here only the arrival counts.
async fn until(store: &Store, name: &str, what: &str, check: impl Fn(&MailboxRecord, i64) -> bool) {
    let started = tokio::time::Instant::now();
    loop {
        let m = store.mailbox(name).await.unwrap();
        let (cases, kept, _duplicates) = store.mailbox_counts(m.id).await.unwrap();
        if check(&m, cases + kept) {
            return;
        }
        assert!(
            started.elapsed() < DEADLINE,
            "{what}: not within {DEADLINE:?}; last error {:?}, (cases, kept, duplicates) {:?}",
            m.last_error,
            store.mailbox_counts(m.id).await.unwrap()
        );
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_mailbox_with_a_wrong_password_reports_it_and_the_other_keeps_importing() {
    let o = Office::start().await;
    let (dovecot, store, key_file) = (&o.dovecot, &o.store, o.key_file());
    dovecot.add_user(BAD, "auch-richtig");
    store.save_mailbox(&record(&o, GOOD, PASSWORD), 1).await.unwrap();
    store.save_mailbox(&record(&o, BAD, "falsch"), 1).await.unwrap();
    dovecot.deliver(BAD, &mail(100));

    let (_stop, stopped) = tokio::sync::watch::channel(());
    for name in [GOOD, BAD] {
        let mut stopped = stopped.clone();
        let shutdown = async move {
            let _ = stopped.changed().await;
        };
        tokio::spawn(postkorb_app::serve::run_mailbox(store.clone(), key_file.clone(), name.into(), 10, shutdown));
    }

    until(store, BAD, "login failure in the health", |m, _| {
        m.last_error.as_deref().is_some_and(|e| e.contains("login failed")) && m.last_success_ms.is_none()
    })
    .await;
    for n in 1..=2 {
        let d = dovecot.clone();
        tokio::task::spawn_blocking(move || d.deliver(GOOD, &mail(n))).await.unwrap();
        until(store, GOOD, &format!("mail {n} of the good mailbox"), |m, imported| {
            imported == n as i64 && m.last_error.is_none()
        })
        .await;
    }
    let bad = store.mailbox(BAD).await.unwrap();
    assert_eq!(store.mailbox_counts(bad.id).await.unwrap(), (0, 0, 0));
    assert!(bad.last_error.as_deref().unwrap().contains("login failed"), "{:?}", bad.last_error);
    assert_eq!(dovecot.count(BAD, "INBOX"), 1, "nothing touched in the failing mailbox");

    // The admin fixes the password: the running loop picks it up, no restart, no long back-off.
    store.save_mailbox(&record(&o, BAD, "auch-richtig"), 2).await.unwrap();
    until(store, BAD, "the fixed mailbox imports", |m, imported| imported == 1 && m.last_error.is_none()).await;
}
