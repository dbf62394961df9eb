//! `serve`'s mailbox loop against a real Dovecot: with a poll interval of an hour, IMAP IDLE still
//! imports a new mail within seconds, and a Dovecot restart under the running loop
//! ends in a reconnect that imports what arrived meanwhile. The passes share one kept connection
//! while another stays in IDLE (issue 19): a mail that arrives during a pass is still imported, and
//! a kept connection the server dropped is replaced without an error.

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

/// A mail of about 60 KB, so that a pass over many of them takes a while.
fn large_mail(subject: &str) -> Vec<u8> {
    let mut raw = mail(subject);
    for n in 0..800 {
        raw.extend_from_slice(
            format!("Zeile {n:04}: Schadenmeldung, Vertrag, Rückruf erbeten; bitte prüfen.\r\n").as_bytes(),
        );
    }
    raw
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

/// Dovecot's log lines of IMAP logins so far.
fn logins(o: &Office) -> usize {
    o.dovecot.log().lines().filter(|l| l.contains("imap-login: Info: Login:")).count()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn passes_share_one_kept_connection_while_another_stays_in_idle() {
    let o = Office::start().await;
    let dovecot = &o.dovecot;
    imap_mailbox(&o, "office").await;
    let before = logins(&o);
    let _stop = start_loop(&o, "office");
    until(&o, "office", "first pass", |m, _| m.last_success_ms.is_some()).await;
    for n in 1..=3 {
        // Into the Maildir, as a delivery agent does: an APPEND would log in itself.
        let d = dovecot.clone();
        tokio::task::spawn_blocking(move || d.drop_into_maildir(USER, &mail(&format!("Anfrage {n}")))).await.unwrap();
        until(&o, "office", &format!("mail {n} imported"), |_, imported| imported == n).await;
    }
    // Four passes or more (the first, one when IDLE began, one per mail), two logins: the passes'
    // connection and the IDLE connection.
    assert_eq!(logins(&o) - before, 2, "{}", o.dovecot.log());
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_mail_that_arrives_while_a_pass_runs_is_imported_without_waiting() {
    let o = Office::start().await;
    let dovecot = &o.dovecot;
    imap_mailbox(&o, "office").await;
    let _stop = start_loop(&o, "office");
    until(&o, "office", "first pass", |m, _| m.last_success_ms.is_some()).await;
    // Enough mail for a pass of many batches (of 10, see `start_loop`).
    const MANY: i64 = 150;
    // Straight into the Maildir: one notification for all of them, so one pass gets them all.
    let d = dovecot.clone();
    tokio::task::spawn_blocking(move || {
        for n in 0..MANY {
            d.drop_into_maildir(USER, &large_mail(&format!("Stapel {n}")));
        }
    })
    .await
    .unwrap();
    until(&o, "office", "the pass began", |_, imported| imported > 0).await;
    let d = dovecot.clone();
    tokio::task::spawn_blocking(move || d.deliver(USER, &mail("Während des Durchlaufs"))).await.unwrap();
    let m = o.store.mailbox("office").await.unwrap();
    let (during, _, _) = o.store.mailbox_counts(m.id).await.unwrap();
    assert!(during < MANY, "the pass had ended before the late mail came ({during} imported): test too fast");
    // The poll interval is an hour: the late mail comes in only if its EXISTS was not lost.
    until(&o, "office", "the late mail imported", |_, imported| imported == MANY + 1).await;
    assert_eq!(dovecot.count(USER, "INBOX"), 0);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_kept_connection_the_server_dropped_is_replaced_without_an_error() {
    let o = Office::start().await;
    let proxy = postkorb_testkit::Proxy::start(o.dovecot.imap_port());
    let m = o.mailbox_record("imap", proxy.port());
    o.save(MailboxRecord { name: "office".into(), poll_secs: 3600, ..m }, PASSWORD).await;
    let d = o.dovecot.clone();
    tokio::task::spawn_blocking(move || d.deliver(USER, &mail("Vorher"))).await.unwrap();
    let _stop = start_loop(&o, "office");
    // The first pass imported it and is over (its end records the success, after the disposal).
    until(&o, "office", "first pass", |m, imported| imported == 1 && m.last_success_ms.is_some()).await;

    // The passes' connection (the first one made) dies; the IDLE connection is not touched.
    proxy.cut_oldest();
    let d = o.dovecot.clone();
    tokio::task::spawn_blocking(move || d.deliver(USER, &mail("Nachher"))).await.unwrap();
    until(&o, "office", "mail 2 imported on a new connection", |_, imported| imported == 2).await;
    let m = o.store.mailbox("office").await.unwrap();
    assert_eq!((m.last_error, m.last_error_ms), (None, None), "a dropped kept connection is no error of the mailbox");
}
