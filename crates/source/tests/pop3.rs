//! The POP3 adapter against a real Dovecot: exact bytes (dot-stuffing), deletion at QUIT, errors.

mod common;

use std::time::Duration;

use common::*;
use postkorb_source::{Disposal, Session, SourceError, TlsMode, test_connection};
use postkorb_testkit::Proxy;

fn keys(envelopes: &[postkorb_source::Envelope]) -> Vec<String> {
    envelopes.iter().map(|e| e.key.clone()).collect()
}

#[tokio::test]
async fn list_and_retr_return_exactly_the_bytes_delivered() {
    let dovecot = dovecot();
    let mails = [simple_mail(1), dotted_mail(), big_mail()];
    for mail in &mails {
        dovecot.deliver(USER, mail);
    }
    let mut session = Session::connect(&pop3(&dovecot)).await.unwrap();
    let listed = session.list().await.unwrap();
    assert_eq!(listed.len(), 3);
    for (envelope, mail) in listed.iter().zip(&mails) {
        assert!(envelope.key.starts_with("pop3:"), "{}", envelope.key);
        assert_eq!(envelope.size, Some(mail.len() as u64));
    }
    let reversed: Vec<String> = keys(&listed).into_iter().rev().collect();
    let fetched = session.fetch(&reversed).await.unwrap();
    assert_eq!(fetched.iter().map(|f| f.key.clone()).collect::<Vec<_>>(), reversed);
    for (f, mail) in fetched.iter().zip(mails.iter().rev()) {
        assert!(
            f.raw == *mail,
            "bytes differ for {}:\n{}",
            f.key,
            String::from_utf8_lossy(&f.raw[..f.raw.len().min(400)])
        );
    }
    session.close().await.unwrap();
    assert_eq!(dovecot.count(USER, "INBOX"), 3, "reading alone deletes nothing");
}

#[tokio::test]
async fn dispose_deletes_at_quit_even_when_a_folder_is_configured_and_may_be_repeated() {
    let dovecot = dovecot();
    dovecot.deliver(USER, &simple_mail(1));
    dovecot.deliver(USER, &dotted_mail());
    let mut cfg = pop3(&dovecot);
    cfg.disposal = Disposal::MoveTo(IMPORTED.into());
    let mut session = Session::connect(&cfg).await.unwrap();
    let listed = keys(&session.list().await.unwrap());
    session.dispose(&listed).await.unwrap();
    session.dispose(&listed).await.unwrap();
    session.dispose(&["pop3:unbekannt".to_string()]).await.unwrap();
    assert_eq!(dovecot.count(USER, "INBOX"), 2, "deletion waits for QUIT");
    session.close().await.unwrap();
    assert_eq!(dovecot.count(USER, "INBOX"), 0);

    // Disposing again in a new session (e.g. a retry) is fine too.
    let mut session = Session::connect(&cfg).await.unwrap();
    session.dispose(&listed).await.unwrap();
    session.close().await.unwrap();
}

#[tokio::test]
async fn a_wrong_password_is_a_login_error_and_leaves_the_mailbox_untouched() {
    let dovecot = dovecot();
    dovecot.deliver(USER, &simple_mail(1));
    let mut cfg = pop3(&dovecot);
    cfg.password = "falsch".into();
    let err = Session::connect(&cfg).await.err().expect("login must fail");
    assert!(matches!(err, SourceError::Login(_)), "{err:?}");
    assert_eq!(dovecot.count(USER, "INBOX"), 1);
}

#[tokio::test]
async fn a_uidvalidity_change_gives_new_keys() {
    let dovecot = dovecot();
    dovecot.deliver(USER, &simple_mail(1));
    let mut session = Session::connect(&pop3(&dovecot)).await.unwrap();
    let before = keys(&session.list().await.unwrap());
    session.close().await.unwrap();
    dovecot.reset_uidvalidity(USER);
    let mut session = Session::connect(&pop3(&dovecot)).await.unwrap();
    let after = keys(&session.list().await.unwrap());
    session.close().await.unwrap();
    assert_eq!(after.len(), 1);
    assert_ne!(before, after);
}

#[tokio::test]
async fn a_connection_cut_in_the_middle_of_a_retr_is_an_error_not_a_hang() {
    let dovecot = dovecot();
    dovecot.deliver(USER, &big_mail());
    let proxy = Proxy::start(dovecot.pop3_port());
    let mut cfg = pop3(&dovecot);
    cfg.port = proxy.port();
    let mut session = Session::connect(&cfg).await.unwrap();
    let listed = keys(&session.list().await.unwrap());
    proxy.cut_after(300_000);
    let result = tokio::time::timeout(Duration::from_secs(30), session.fetch(&listed)).await;
    let err = result.expect("fetch hung").expect_err("a cut RETR must not succeed");
    assert!(err.is_transient(), "{err:?}");
    assert_eq!(dovecot.count(USER, "INBOX"), 1);
}

#[tokio::test]
async fn stls_is_refused_when_the_server_does_not_offer_it() {
    let dovecot = dovecot();
    let mut cfg = pop3(&dovecot);
    cfg.tls = TlsMode::StartTls;
    let err = Session::connect(&cfg).await.err().expect("must refuse");
    assert!(matches!(err, SourceError::Tls(_)), "{err:?}");
}

#[tokio::test]
async fn test_connection_counts_the_waiting_messages() {
    let dovecot = dovecot();
    dovecot.deliver(USER, &simple_mail(1));
    assert_eq!(test_connection(&pop3(&dovecot)).await.unwrap(), 1);
}

#[tokio::test]
async fn idle_is_refused_for_pop3() {
    let dovecot = dovecot();
    let mut session = Session::connect(&pop3(&dovecot)).await.unwrap();
    let err = session.idle_wait(Duration::from_millis(10)).await.err().unwrap();
    assert!(matches!(err, SourceError::Config(_)));
}
