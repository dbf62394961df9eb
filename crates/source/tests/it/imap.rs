//! The IMAP adapter against a real Dovecot: exact bytes, no \Seen, disposal, errors, IDLE.

use crate::common;

use std::time::Duration;

use common::*;
use postkorb_source::{Disposal, Session, SourceError, TlsMode, test_connection};
use postkorb_testkit::Proxy;

fn keys(envelopes: &[postkorb_source::Envelope]) -> Vec<String> {
    envelopes.iter().map(|e| e.key.clone()).collect()
}

#[tokio::test]
async fn list_and_fetch_return_exactly_the_bytes_delivered() {
    let dovecot = dovecot();
    let mails = [simple_mail(1), dotted_mail(), big_mail()];
    for mail in &mails {
        dovecot.deliver(USER, mail);
    }
    let mut session = Session::connect(&imap(&dovecot)).await.unwrap();
    let listed = session.list().await.unwrap();
    assert_eq!(listed.len(), 3);
    let validity = dovecot.uidvalidity(USER, "INBOX");
    for (i, envelope) in listed.iter().enumerate() {
        assert_eq!(envelope.key, format!("imap:INBOX:{validity}:{}", i + 1));
        assert_eq!(envelope.size, Some(mails[i].len() as u64));
    }
    let fetched = session.fetch(&keys(&listed)).await.unwrap();
    assert_eq!(fetched.len(), 3);
    for (f, mail) in fetched.iter().zip(&mails) {
        assert!(f.raw == *mail, "bytes differ for {}", f.key);
    }
    // The answer follows the order asked for, not the server's.
    let reversed: Vec<String> = keys(&listed).into_iter().rev().collect();
    let fetched = session.fetch(&reversed).await.unwrap();
    assert_eq!(fetched.iter().map(|f| f.key.clone()).collect::<Vec<_>>(), reversed);
    assert!(fetched[0].raw == mails[2]);
    session.close().await.unwrap();
}

#[tokio::test]
async fn fetching_does_not_set_the_seen_flag() {
    let dovecot = dovecot();
    dovecot.deliver(USER, &simple_mail(1));
    dovecot.deliver(USER, &simple_mail(2));
    let mut session = Session::connect(&imap(&dovecot)).await.unwrap();
    let listed = session.list().await.unwrap();
    session.fetch(&keys(&listed)).await.unwrap();
    session.close().await.unwrap();
    assert_eq!(dovecot.unseen(USER, "INBOX"), 2);
}

#[tokio::test]
async fn move_to_creates_the_folder_empties_the_inbox_and_may_be_repeated() {
    let dovecot = dovecot();
    dovecot.deliver(USER, &simple_mail(1));
    dovecot.deliver(USER, &dotted_mail());
    assert!(!dovecot.folder_exists(USER, IMPORTED));
    let mut session = Session::connect(&imap(&dovecot)).await.unwrap();
    let listed = keys(&session.list().await.unwrap());
    session.dispose(&listed).await.unwrap();
    session.dispose(&listed).await.unwrap();
    assert!(session.list().await.unwrap().is_empty());
    session.close().await.unwrap();
    assert_eq!(dovecot.count(USER, "INBOX"), 0);
    assert_eq!(dovecot.count(USER, IMPORTED), 2);

    // A fresh session finds the folder existing and moves into it again.
    dovecot.deliver(USER, &simple_mail(3));
    let mut session = Session::connect(&imap(&dovecot)).await.unwrap();
    let listed = keys(&session.list().await.unwrap());
    session.dispose(&listed).await.unwrap();
    session.close().await.unwrap();
    assert_eq!(dovecot.count(USER, IMPORTED), 3);
}

#[tokio::test]
async fn delete_empties_the_inbox_and_may_be_repeated() {
    let dovecot = dovecot();
    dovecot.deliver(USER, &simple_mail(1));
    dovecot.deliver(USER, &simple_mail(2));
    let mut cfg = imap(&dovecot);
    cfg.disposal = Disposal::Delete;
    let mut session = Session::connect(&cfg).await.unwrap();
    let listed = keys(&session.list().await.unwrap());
    session.dispose(&listed[..1]).await.unwrap();
    assert_eq!(dovecot.count(USER, "INBOX"), 1);
    session.dispose(&listed).await.unwrap();
    session.dispose(&listed).await.unwrap();
    session.close().await.unwrap();
    assert_eq!(dovecot.count(USER, "INBOX"), 0);
    assert!(!dovecot.folder_exists(USER, IMPORTED));
}

#[tokio::test]
async fn a_wrong_password_is_a_login_error_and_leaves_the_mailbox_untouched() {
    let dovecot = dovecot();
    dovecot.deliver(USER, &simple_mail(1));
    let mut cfg = imap(&dovecot);
    cfg.password = "falsch".into();
    let err = Session::connect(&cfg).await.err().expect("login must fail");
    assert!(matches!(err, SourceError::Login(_)), "{err:?}");
    assert!(!err.is_transient());
    assert_eq!(dovecot.count(USER, "INBOX"), 1);
    assert_eq!(dovecot.unseen(USER, "INBOX"), 1);
}

#[tokio::test]
async fn a_missing_folder_is_reported_as_such() {
    let dovecot = dovecot();
    let mut cfg = imap(&dovecot);
    cfg.folder = "Gibt/Es/Nicht".into();
    let err = Session::connect(&cfg).await.err().expect("select must fail");
    assert!(matches!(err, SourceError::FolderMissing(ref f) if f == "Gibt/Es/Nicht"), "{err:?}");
}

#[tokio::test]
async fn a_uidvalidity_change_gives_new_keys_and_old_keys_are_skipped_in_dispose() {
    let dovecot = dovecot();
    dovecot.deliver(USER, &simple_mail(1));
    let before = keys(&Session::connect(&imap(&dovecot)).await.unwrap().list().await.unwrap());
    dovecot.reset_uidvalidity(USER);
    let mut session = Session::connect(&imap(&dovecot)).await.unwrap();
    let after = keys(&session.list().await.unwrap());
    assert_eq!(after.len(), 1);
    assert_ne!(before, after);
    session.dispose(&before).await.unwrap();
    assert!(session.fetch(&before).await.unwrap().is_empty());
    session.close().await.unwrap();
    assert_eq!(dovecot.count(USER, "INBOX"), 1, "stale keys must not touch anything");
}

#[tokio::test]
async fn a_connection_cut_in_the_middle_of_a_fetch_is_an_error_not_a_hang() {
    let dovecot = dovecot();
    dovecot.deliver(USER, &simple_mail(1));
    dovecot.deliver(USER, &big_mail());
    let proxy = Proxy::start(dovecot.imap_port());
    let mut cfg = imap(&dovecot);
    cfg.port = proxy.port();
    let mut session = Session::connect(&cfg).await.unwrap();
    let listed = keys(&session.list().await.unwrap());
    proxy.cut_after(300_000);
    let result = tokio::time::timeout(Duration::from_secs(30), session.fetch(&listed)).await;
    let err = result.expect("fetch hung").expect_err("a cut fetch must not succeed");
    assert!(err.is_transient(), "{err:?}");
}

#[tokio::test]
async fn a_cut_right_after_a_complete_message_is_still_an_error() {
    let dovecot = dovecot();
    dovecot.deliver(USER, &simple_mail(1));
    dovecot.deliver(USER, &big_mail());
    let proxy = Proxy::start(dovecot.imap_port());
    let mut cfg = imap(&dovecot);
    cfg.port = proxy.port();
    let mut session = Session::connect(&cfg).await.unwrap();
    let listed = keys(&session.list().await.unwrap());
    // Exactly the first message's complete FETCH response: the client's buffer is empty when
    // the connection drops, so the fetch stream just ends — that must not look like success.
    let first = simple_mail(1).len();
    let response = format!("* 1 FETCH (UID 1 BODY[] {{{first}}}\r\n").len() + first + ")\r\n".len();
    proxy.cut_after(response as u64);
    let result = tokio::time::timeout(Duration::from_secs(30), session.fetch(&listed)).await;
    assert!(result.expect("fetch hung").is_err());
}

#[tokio::test]
async fn a_server_that_never_answers_times_out() {
    let listener = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
    let mut cfg =
        common::config(postkorb_source::Protocol::Imap, listener.local_addr().unwrap().port(), Disposal::Delete);
    cfg.folder = "INBOX".into();
    // The outer timeout only guards against a hang; the connect must give up on its own.
    let result =
        tokio::time::timeout(Duration::from_secs(120), Session::connect_with_timeout(&cfg, Duration::from_millis(500)))
            .await
            .expect("the connect hung instead of timing out");
    assert!(result.is_err());
    drop(listener);
}

#[tokio::test]
async fn starttls_is_refused_when_the_server_does_not_offer_it() {
    let dovecot = dovecot();
    let mut cfg = imap(&dovecot);
    cfg.tls = TlsMode::StartTls;
    let err = Session::connect(&cfg).await.err().expect("must refuse");
    assert!(matches!(err, SourceError::Tls(_)), "{err:?}");
}

#[tokio::test]
async fn an_unreachable_server_is_a_classified_connect_error() {
    let port = postkorb_testkit::free_port();
    let cfg = common::config(postkorb_source::Protocol::Imap, port, Disposal::Delete);
    let err = Session::connect(&cfg).await.err().expect("nothing listens");
    assert!(matches!(err, SourceError::Refused(_)), "{err:?}");
    assert!(err.is_transient());
    let mut cfg = cfg;
    cfg.host = "kein-server.invalid".into();
    let err = Session::connect(&cfg).await.err().expect("no such name");
    assert!(matches!(err, SourceError::NotFound(_)), "{err:?}");
}

#[tokio::test]
async fn with_private_hosts_forbidden_a_loopback_server_is_never_contacted() {
    let evil = postkorb_testkit::Recorder::start("* OK Geheimes internes Banner v1.2\r\n", "* BAD\r\n");
    let mut cfg = common::config(postkorb_source::Protocol::Imap, evil.port(), Disposal::Delete);
    cfg.net = postkorb_source::NetPolicy { allow_private_hosts: false };
    for host in ["127.0.0.1", "localhost", "::ffff:127.0.0.1"] {
        cfg.host = host.into();
        let err = Session::connect(&cfg).await.err().expect("refused");
        assert!(matches!(err, SourceError::Blocked(_)), "{host}: {err:?}");
    }
    assert_eq!(evil.connections(), 0);
    // Allowed (the default, for an office's own LAN server) it is reached.
    cfg.net = postkorb_source::NetPolicy::default();
    cfg.host = "127.0.0.1".into();
    assert!(Session::connect(&cfg).await.is_err(), "not a real server");
    assert_eq!(evil.connections(), 1);
    for ip in ["10.1.2.3", "192.168.0.1", "169.254.169.254", "100.64.0.1", "fd00::1", "fe80::1", "::1", "0.0.0.0"] {
        assert!(postkorb_source::is_internal(ip.parse().unwrap()), "{ip}");
    }
    for ip in ["8.8.8.8", "2a00:1450::1", "193.99.144.80"] {
        assert!(!postkorb_source::is_internal(ip.parse().unwrap()), "{ip}");
    }
}

#[tokio::test]
async fn test_connection_counts_the_waiting_messages() {
    let dovecot = dovecot();
    dovecot.deliver(USER, &simple_mail(1));
    dovecot.deliver(USER, &simple_mail(2));
    assert_eq!(test_connection(&imap(&dovecot)).await.unwrap(), 2);
}

#[tokio::test]
async fn idle_reports_new_mail_and_times_out_when_nothing_comes() {
    let dovecot = std::sync::Arc::new(dovecot());
    let mut session = Session::connect(&imap(&dovecot)).await.unwrap();
    assert!(session.list().await.unwrap().is_empty());
    assert!(!session.idle_wait(Duration::from_millis(300)).await.unwrap());

    let deliverer = dovecot.clone();
    let delivery = std::thread::spawn(move || {
        std::thread::sleep(Duration::from_millis(500));
        deliverer.deliver(USER, &simple_mail(1));
    });
    let woke = tokio::time::timeout(Duration::from_secs(20), session.idle_wait(Duration::from_secs(15))).await;
    assert!(woke.expect("idle hung").unwrap());
    delivery.join().unwrap();
    // The session is usable after IDLE.
    assert_eq!(session.list().await.unwrap().len(), 1);
    session.close().await.unwrap();
}

#[tokio::test]
async fn idle_ends_at_its_time_limit_even_while_the_server_sends_keepalives_and_is_renewed() {
    let options = postkorb_testkit::Options { idle_keepalive: Some(Duration::from_secs(1)), ..Default::default() };
    let dovecot = postkorb_testkit::Dovecot::start_with(options);
    dovecot.add_user(USER, PASSWORD);
    let mut session = Session::connect(&imap(&dovecot)).await.unwrap();
    assert!(session.supports_idle());
    assert!(session.list().await.unwrap().is_empty());
    // Keepalives every second restart async-imap's own timeout; the limit must hold regardless.
    let woke = tokio::time::timeout(Duration::from_secs(20), session.idle_wait(Duration::from_secs(4)))
        .await
        .expect("IDLE was never renewed: keepalives kept it open");
    assert!(!woke.unwrap(), "a keepalive is no new mail");
    // The next wait finds the IDLE as old as its limit and renews it (DONE + IDLE) first; a mail
    // delivered meanwhile is still reported.
    let dovecot = std::sync::Arc::new(dovecot);
    let deliverer = dovecot.clone();
    let delivery = std::thread::spawn(move || {
        std::thread::sleep(Duration::from_millis(500));
        deliverer.deliver(USER, &simple_mail(1));
    });
    let woke = tokio::time::timeout(Duration::from_secs(20), session.idle_wait(Duration::from_secs(4))).await;
    assert!(woke.expect("the renewed IDLE hung").unwrap(), "the mail after the renewal was reported");
    delivery.join().unwrap();
    assert_eq!(session.list().await.unwrap().len(), 1, "the session is usable after the renewal");
    session.close().await.unwrap();
}

#[tokio::test]
async fn a_pop3_session_does_not_claim_push_support() {
    let dovecot = dovecot();
    let session = Session::connect(&pop3(&dovecot)).await.unwrap();
    assert!(!session.supports_idle());
    session.close().await.unwrap();
}

#[tokio::test]
async fn idle_stays_in_idle_between_waits_and_an_expunge_is_no_new_mail() {
    let dovecot = std::sync::Arc::new(dovecot());
    dovecot.deliver(USER, &simple_mail(1));
    let mut session = Session::connect(&imap(&dovecot)).await.unwrap();
    assert_eq!(session.list().await.unwrap().len(), 1);
    assert!(!session.idle_wait(Duration::from_millis(300)).await.unwrap(), "nothing new yet");

    // Another connection takes the mail away: the watcher hears EXPUNGE, which is no new mail.
    let mut other = Session::connect(&imap(&dovecot)).await.unwrap();
    let listed = other.list().await.unwrap();
    other.dispose(&keys(&listed)).await.unwrap();
    other.close().await.unwrap();
    assert!(!session.idle_wait(Duration::from_secs(2)).await.unwrap(), "an EXPUNGE woke the wait");

    // A mail that arrives while nobody waits is reported by the next wait at once: the connection
    // stayed in IDLE, so the server's notice is already on its way. (Entering IDLE anew would
    // file it as an answer to the IDLE command and wait for a change that never comes.)
    let d = dovecot.clone();
    tokio::task::spawn_blocking(move || d.deliver(USER, &simple_mail(2))).await.unwrap();
    tokio::time::sleep(Duration::from_millis(1500)).await;
    let started = std::time::Instant::now();
    let woke = tokio::time::timeout(Duration::from_secs(20), session.idle_wait(Duration::from_secs(15))).await;
    assert!(woke.expect("idle hung").unwrap());
    assert!(started.elapsed() < Duration::from_secs(5), "reported only after {:?}", started.elapsed());
    assert_eq!(session.list().await.unwrap().len(), 1, "usable after IDLE: the new mail is listed");
    session.close().await.unwrap();
}
