//! `serve`'s mailbox loop against a real Dovecot: with a poll interval of an hour, IMAP IDLE still
//! imports a new mail within seconds, and a Dovecot restart under the running loop
//! ends in a reconnect that imports what arrived meanwhile.

use std::time::Duration;

use postkorb_store::MailboxRecord;
use tokio::sync::oneshot;

use crate::office::{Office, PASSWORD, USER};

const DEADLINE: Duration = Duration::from_secs(20);

/// The office's IMAP mailbox named `name`, polled only hourly: what arrives sooner came by IDLE.
async fn imap_mailbox(o: &Office, name: &str) -> MailboxRecord {
    let m = o.mailbox_record("imap", o.dovecot.imap_port());
    o.save(MailboxRecord { name: name.into(), poll_secs: 3600, ..m }, PASSWORD).await
}

fn mail(subject: &str) -> Vec<u8> {
    format!(
        "From: Anna <anna@mustermail.de>\r\nTo: {USER}\r\nSubject: {subject}\r\nMessage-ID: <{}@test>\r\n\r\nBitte um Rückruf.\r\n",
        subject.replace(' ', "-")
    )
    .into_bytes()
}

/// The loop runs until the returned sender is dropped.
fn start_loop(o: &Office, name: &str) -> oneshot::Sender<()> {
    let (stop, stopped) = oneshot::channel::<()>();
    let shutdown = async move {
        let _ = stopped.await;
    };
    let run = postkorb_app::serve::run_mailbox(o.store.clone(), o.key_file(), name.into(), 10, shutdown);
    tokio::spawn(run);
    stop
}

/// Polls the store until `check` holds for mailbox `name` and its count of Vorgänge, or fails
/// after `DEADLINE`.
async fn until(o: &Office, name: &str, what: &str, check: impl Fn(&MailboxRecord, i64) -> bool) {
    let started = tokio::time::Instant::now();
    loop {
        let m = o.store.mailbox(name).await.unwrap();
        let (cases, _kept, _duplicates) = o.store.mailbox_counts(m.id).await.unwrap();
        if check(&m, cases) {
            return;
        }
        assert!(
            started.elapsed() < DEADLINE,
            "{what}: not within {DEADLINE:?}; mailbox {m:?}, error {:?}",
            m.last_error
        );
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn idle_imports_new_mail_without_waiting_for_the_poll_interval() {
    let o = Office::start().await;
    let dovecot = &o.dovecot;
    imap_mailbox(&o, "office").await;
    let _stop = start_loop(&o, "office");
    until(&o, "office", "first pass", |m, _| m.last_success_ms.is_some()).await;

    // The poll interval is an hour: each of these only arrives through IDLE.
    for n in 1..=3 {
        let d = dovecot.clone();
        tokio::task::spawn_blocking(move || d.deliver(USER, &mail(&format!("Anfrage {n}")))).await.unwrap();
        until(&o, "office", &format!("mail {n} imported"), |_, imported| imported == n).await;
    }
    assert_eq!(dovecot.count(USER, "INBOX"), 0, "all moved after the commit");
    assert_eq!(dovecot.count(USER, "Postkorb/Importiert"), 3);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn after_a_dovecot_restart_the_loop_reconnects_and_imports_what_arrived_meanwhile() {
    let o = Office::start().await;
    let dovecot = &o.dovecot;
    imap_mailbox(&o, "office").await;
    let _stop = start_loop(&o, "office");
    until(&o, "office", "first pass", |m, _| m.last_success_ms.is_some()).await;

    let d = dovecot.clone();
    tokio::task::spawn_blocking(move || {
        d.stop();
        d.drop_into_maildir(USER, &mail("Während des Neustarts"));
    })
    .await
    .unwrap();
    until(&o, "office", "the outage noticed", |m, _| {
        m.last_error.as_deref().is_some_and(|e| e.contains("connection refused"))
    })
    .await;
    let d = dovecot.clone();
    tokio::task::spawn_blocking(move || d.restart()).await.unwrap();
    until(&o, "office", "mail from the outage imported", |m, imported| imported == 1 && m.last_error.is_none()).await;

    // And push works again on the new connection.
    let d = dovecot.clone();
    tokio::task::spawn_blocking(move || d.deliver(USER, &mail("Nach dem Neustart"))).await.unwrap();
    until(&o, "office", "mail after the restart imported", |_, imported| imported == 2).await;
}
