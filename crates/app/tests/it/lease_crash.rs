//! Issue 13 item 15: after a crash the fetch lease must not block importing until it expires, and
//! `fetch --once` must never report a mailbox it did not fetch as done. Real `postkorb` processes
//! (one killed with SIGKILL while holding the lease), a real Dovecot and the real SQLite file.

use std::time::{Duration, Instant};

use postkorb_store::MailboxRecord;

use crate::common::{Env, HANG_GUARD};
use crate::office::{Office, PASSWORD, USER};

/// The office with its Dovecot mailbox "default" (verification off), the `postkorb` runner on its
/// data directory with the given lease time, and the mailbox id.
async fn office(lease_secs: u64) -> (Office, Env, i64) {
    let o = Office::start().await;
    let m = o.mailbox_record("imap", o.dovecot.imap_port());
    let id = o.save(MailboxRecord { name: "default".into(), ..m }, PASSWORD).await.id;
    let env = Env::in_dir(o.data_dir()).with("POSTKORB_LEASE_SECS", lease_secs.to_string());
    (o, env, id)
}

fn mail(subject: &str) -> Vec<u8> {
    format!(
        "From: anna@mustermail.de\r\nTo: {USER}\r\nSubject: {subject}\r\nMessage-ID: <{subject}@test>\r\n\
         Date: Thu, 26 Nov 2026 08:00:00 +0100\r\n\r\nText\r\n"
    )
    .into_bytes()
}

#[tokio::test]
async fn after_a_crash_fetch_takes_the_dead_processs_lease_at_once_and_imports() {
    let (o, env, mailbox) = office(3600).await;
    let (dovecot, store) = (&o.dovecot, &o.store);

    // `serve` takes the mailbox's lease (for an hour) and is killed without any clean-up.
    let mut serve = env.serve("serve");
    let pid = format!("-{}-", serve.pid());
    let started = Instant::now();
    let held = loop {
        if let Some(lease) = store.lease(mailbox).await.unwrap()
            && lease.holder.contains(&pid)
        {
            break lease;
        }
        assert!(started.elapsed() < HANG_GUARD, "serve never took the lease");
        tokio::time::sleep(Duration::from_millis(50)).await;
    };
    serve.kill(); // SIGKILL
    assert_eq!(store.lease(mailbox).await.unwrap(), Some(held.clone()), "the dead process still holds the lease");

    // A mail arrives after the crash; `fetch --once` imports it now, not in an hour.
    dovecot.deliver(USER, &mail("Nach-dem-Absturz"));
    let out = env.run(&["fetch", "--once"], None);
    let stdout = String::from_utf8_lossy(&out.stdout);
    assert!(out.status.success(), "{stdout}\n{}", String::from_utf8_lossy(&out.stderr));
    assert!(stdout.contains("for Bernd"), "{stdout}");
    assert_eq!(dovecot.count(USER, "INBOX"), 0);
    assert_eq!(store.cases(None, 10, 0).await.unwrap().len(), 1);
    assert_eq!(store.lease(mailbox).await.unwrap(), None, "fetch gave the lease back");
}

#[tokio::test]
async fn fetch_waits_for_a_live_instances_lease_then_fails_with_a_clear_message_instead_of_skipping() {
    let (o, env, mailbox) = office(1).await;
    let (dovecot, store) = (&o.dovecot, &o.store);
    // Another instance, on another host, holds the lease (and may well be alive).
    let other = "andererhost-4711-42-0011223344556677";
    let now = std::time::SystemTime::now().duration_since(std::time::UNIX_EPOCH).unwrap().as_millis() as i64;
    assert!(store.take_lease(mailbox, other, now, 3_600_000).await.unwrap().is_taken());
    dovecot.deliver(USER, &mail("Wartet"));

    let out = env.run(&["fetch", "--once"], None);
    let stderr = String::from_utf8_lossy(&out.stderr);
    let stdout = String::from_utf8_lossy(&out.stdout);
    assert!(!out.status.success(), "a mailbox not fetched is a failure: {stdout}");
    assert!(!stdout.contains("skipped"), "{stdout}");
    assert!(stderr.contains(&format!("another running instance ({other}) holds its fetch lease")), "{stderr}");
    assert!(stderr.contains("waited 1 s"), "{stderr}");
    assert_eq!(dovecot.count(USER, "INBOX"), 1, "nothing was fetched");
    assert_eq!(store.lease(mailbox).await.unwrap().unwrap().holder, other);
}
