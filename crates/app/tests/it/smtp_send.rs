//! Sending mail end to end: the office's SMTP settings, a real Postfix (testkit) in front of the
//! test Dovecot. „Testnachricht senden“ reaches the mailbox; Postkorb's own mail, read back by
//! the importer, is kept as automatic and never becomes a Vorgang; the stored password opens only
//! for its endpoint; a private host is refused under a policy that forbids them; and the CLI
//! `smtp set|show|test` does the same from the terminal.

use postkorb_app::service::smtp::{self, SendError};
use postkorb_source::smtp::SmtpError;
use postkorb_store::SmtpRecord;
use postkorb_testkit::Postfix;

use crate::common::Env;
use crate::office::{Office, PASSWORD, USER};

pub(crate) const SENDER: &str = "versand@office.test";
pub(crate) const SENDER_PASSWORD: &str = "Versand-Geheim-1";

/// The office's SMTP settings for `postfix`'s STARTTLS port, sending as the office's mailbox,
/// without a password (seal one with `smtp::with_password`).
pub(crate) fn record(postfix: &Postfix) -> SmtpRecord {
    SmtpRecord {
        host: "127.0.0.1".into(),
        port: postfix.ports().starttls.into(),
        tls: "starttls".into(),
        username: SENDER.into(),
        secret: None,
        ca_file: Some(postfix.ca_file().display().to_string()),
        sender_address: USER.into(),
        sender_name: "Büro Muster".into(),
        updated_ms: 0,
    }
}

async fn office_with_postfix() -> (Office, Postfix) {
    let o = Office::start().await;
    o.dovecot.add_user(SENDER, SENDER_PASSWORD);
    let postfix = Postfix::start(&o.dovecot, &[USER]);
    (o, postfix)
}

#[tokio::test]
async fn a_test_message_arrives_and_our_own_mail_never_becomes_a_vorgang() {
    let (o, postfix) = office_with_postfix().await;
    assert!(matches!(smtp::send_test(&o.ctx, USER).await, Err(SendError::NotConfigured)));
    let sealed = smtp::with_password(record(&postfix), &o.key, SENDER_PASSWORD).unwrap();
    o.store.save_smtp_by(&sealed, 1, "admin").await.unwrap();
    smtp::send_test(&o.ctx, USER).await.unwrap();
    // A notification as the lead's dispatcher would send it, with a German subject.
    let mail = smtp::outgoing(
        &o.ctx,
        USER,
        "Neuer Vorgang für Sie: Schadenmeldung Müller",
        "Grüße",
        postkorb_mail::compose::AutoSubmitted::Generated,
    )
    .await
    .unwrap();
    smtp::send(&o.ctx, &mail).await.unwrap();
    postfix.wait_delivered(&o.dovecot, USER, 2);

    let m = o.mailbox("imap", o.dovecot.imap_port(), PASSWORD).await;
    o.pass(&m).await.unwrap();
    assert_eq!(o.store.count_cases(None).await.unwrap(), 0, "no Vorgang from our own mail");
    let kept = o.store.kept(true, 10, 0).await.unwrap();
    let mut subjects: Vec<&str> = kept.iter().map(|k| k.subject.as_str()).collect();
    subjects.sort();
    assert_eq!(subjects, ["Neuer Vorgang für Sie: Schadenmeldung Müller", "Testnachricht von Postkorb"]);
    for k in &kept {
        assert_eq!(k.reason_code, "automatic", "{k:?}");
        // What the Eingangsbestätigung decision reads: automatic, and never verified under policy off.
        let facts = o.store.kept_ack_facts(k.id).await.unwrap().expect("recorded at import");
        assert!(facts.automatic.as_deref().is_some_and(|a| a.contains("auto-generated")), "{facts:?}");
        assert_eq!(facts.verified, postkorb_core::ack::Verified::No);
        assert_eq!(facts.sender.as_deref(), Some(USER));
        let on = postkorb_core::ack::AckSettings { enabled: true, unassigned: true, ..Default::default() };
        let arrival = postkorb_core::ack::Arrival::Unassigned;
        assert_eq!(postkorb_core::ack::decide(&facts, &arrival, &on, &[]), None, "never answered");
    }
}

#[tokio::test]
async fn the_password_opens_only_for_its_endpoint_and_private_hosts_can_be_refused() {
    let (mut o, postfix) = office_with_postfix().await;
    let sealed = smtp::with_password(record(&postfix), &o.key, SENDER_PASSWORD).unwrap();
    o.store.save_smtp_by(&sealed, 1, "admin").await.unwrap();
    // A sealed password copied onto other settings does not open.
    let moved = SmtpRecord { port: postfix.ports().smtps.into(), tls: "implicit".into(), ..sealed.clone() };
    let mail = smtp::outgoing_from(&moved, USER, "x", "x", postkorb_mail::compose::AutoSubmitted::Generated, 1);
    let err = smtp::send_with(&moved, &o.key, o.settings.net(), &mail).await.unwrap_err();
    assert!(matches!(err, SendError::Secret), "{err}");
    // Saved so, the store drops it.
    let saved = o.store.save_smtp_by(&SmtpRecord { secret: None, ..moved }, 2, "admin").await.unwrap();
    assert!(saved.secret.is_none());
    // Private hosts refused by the settings: nothing is connected to.
    o.store.save_smtp_by(&sealed, 3, "admin").await.unwrap();
    o.ctx.settings.allow_private_hosts = false;
    let err = smtp::send_test(&o.ctx, USER).await.unwrap_err();
    assert!(matches!(&err, SendError::Smtp(SmtpError::Connect(_))), "{err}");
    assert!(err.german().contains("internen Netz"), "{}", err.german());
    assert_eq!(o.dovecot.count(USER, "INBOX"), 0);
}

#[test]
fn the_cli_sets_shows_and_tests_without_ever_printing_the_password() {
    let dovecot = postkorb_testkit::Dovecot::start();
    dovecot.add_user(USER, PASSWORD);
    dovecot.add_user(SENDER, SENDER_PASSWORD);
    let postfix = Postfix::start(&dovecot, &[USER]);
    let env = Env::new();
    let port = postfix.ports().smtps.to_string();
    let ca = postfix.ca_file().display().to_string();
    let set = ["smtp", "set", "--host", "127.0.0.1", "--port", &port, "--tls", "implicit", "--username", SENDER];
    let rest = ["--password-stdin", "--ca-file", &ca, "--sender", USER, "--sender-name", "Büro Muster"];
    let args: Vec<&str> = set.iter().chain(rest.iter()).copied().collect();
    env.ok_with_input(&args, &format!("{SENDER_PASSWORD}\n"));
    let shown = env.ok(&["smtp", "show"]);
    assert!(shown.contains("set (encrypted)") && !shown.contains(SENDER_PASSWORD), "{shown}");
    env.ok(&["smtp", "test", "--to", USER]);
    postfix.wait_delivered(&dovecot, USER, 1);
    // Plain text to a remote host with a login is refused by the validator.
    let bad = ["smtp", "set", "--host", "smtp.example.de", "--tls", "none", "--username", SENDER, "--sender", USER];
    let err = env.fails(&bad);
    assert!(err.contains("--tls") && err.contains("localhost"), "{err}");
    // A wrong password: the test says what failed, without the server's words in German.
    let args: Vec<&str> = set.iter().chain(rest.iter()).copied().collect();
    env.ok_with_input(&args, "falsch\n");
    let err = env.fails(&["smtp", "test", "--to", USER]);
    assert!(err.contains("(login)"), "{err}");
}
