//! The SMTP client against a real Postfix (testkit) that delivers into the test Dovecot: STARTTLS
//! and implicit TLS with AUTH deliver a mail that is read back over IMAP; an untrusted CA, a wrong
//! host name, a missing STARTTLS (no downgrade), a wrong password, sending without login and a
//! private host under a policy that forbids them each fail with their own kind.

use crate::common;

use common::*;
use postkorb_source::smtp::{SmtpConfig, SmtpError, send_mail};
use postkorb_source::{NetPolicy, Session, SourceError, TlsMode};
use postkorb_testkit::{Dovecot, Postfix};

const SENDER: &str = "versand@office.test";
const SENDER_PASSWORD: &str = "Versand-Geheim-1";

fn servers() -> (Dovecot, Postfix) {
    let dovecot = dovecot();
    dovecot.add_user(SENDER, SENDER_PASSWORD);
    let postfix = Postfix::start(&dovecot, &[USER]);
    (dovecot, postfix)
}

fn smtp(postfix: &Postfix, tls: TlsMode) -> SmtpConfig {
    let ports = postfix.ports();
    SmtpConfig {
        host: "127.0.0.1".into(),
        port: match tls {
            TlsMode::Implicit => ports.smtps,
            TlsMode::StartTls => ports.starttls,
            TlsMode::None => ports.plain,
        },
        tls,
        username: SENDER.into(),
        password: SENDER_PASSWORD.into(),
        ca_file: Some(postfix.ca_file()),
        net: NetPolicy::default(),
    }
}

fn mail(subject: &str) -> Vec<u8> {
    format!(
        "From: Postkorb <{SENDER}>\r\nTo: <{USER}>\r\nSubject: {subject}\r\nMessage-ID: <{subject}@office.test>\r\n\r\n\
         Erste Zeile\r\n.Zeile mit Punkt\r\n.\r\nletzte Zeile\r\n"
    )
    .into_bytes()
}

async fn inbox(dovecot: &Dovecot) -> Vec<String> {
    let mut session = Session::connect(&imap(dovecot)).await.unwrap();
    let keys: Vec<String> = session.list().await.unwrap().into_iter().map(|e| e.key).collect();
    let fetched = session.fetch(&keys).await.unwrap();
    session.close().await.unwrap();
    fetched.into_iter().map(|f| String::from_utf8_lossy(&f.raw).into_owned()).collect()
}

#[tokio::test]
async fn starttls_implicit_tls_and_plain_loopback_deliver_what_was_sent() {
    let (dovecot, postfix) = servers();
    send_mail(&smtp(&postfix, TlsMode::StartTls), SENDER, &[USER.into()], &mail("per-starttls")).await.unwrap();
    send_mail(&smtp(&postfix, TlsMode::Implicit), SENDER, &[USER.into()], &mail("per-tls")).await.unwrap();
    // Plain text without a login to a relay on this machine.
    let plain = SmtpConfig { username: String::new(), password: String::new(), ..smtp(&postfix, TlsMode::None) };
    send_mail(&plain, SENDER, &[USER.into()], &mail("ohne-tls")).await.unwrap();
    postfix.wait_delivered(&dovecot, USER, 3);
    let mails = inbox(&dovecot).await;
    for subject in ["per-starttls", "per-tls", "ohne-tls"] {
        let m = mails.iter().find(|m| m.contains(&format!("Subject: {subject}"))).expect(subject);
        assert!(m.contains("\r\n.Zeile mit Punkt\r\n.\r\nletzte Zeile"), "dot-stuffing undone: {m}");
    }
}

#[tokio::test]
async fn tls_problems_fail_with_their_kind_and_never_downgrade() {
    let (dovecot, postfix) = servers();
    let to = [USER.to_string()];
    // The test CA is not trusted without the CA file.
    for tls in [TlsMode::StartTls, TlsMode::Implicit] {
        let cfg = SmtpConfig { ca_file: None, ..smtp(&postfix, tls) };
        let err = send_mail(&cfg, SENDER, &to, &mail("x")).await.unwrap_err();
        assert!(matches!(&err, SmtpError::Connect(SourceError::Tls(t)) if t.contains("unknown CA")), "{err}");
        assert!(err.german().contains("Zertifikat"), "{}", err.german());
    }
    // The certificate names 127.0.0.1, not localhost.
    let cfg = SmtpConfig { host: "localhost".into(), ..smtp(&postfix, TlsMode::Implicit) };
    let err = send_mail(&cfg, SENDER, &to, &mail("x")).await.unwrap_err();
    assert!(matches!(&err, SmtpError::Connect(SourceError::Tls(t)) if t.contains("host name")), "{err}");
    // A server without STARTTLS: refused, nothing sent in plain text.
    let cfg = SmtpConfig { port: postfix.ports().plain, ..smtp(&postfix, TlsMode::StartTls) };
    let err = send_mail(&cfg, SENDER, &to, &mail("x")).await.unwrap_err();
    assert!(matches!(err, SmtpError::NoStartTls), "{err}");
    assert!(!err.is_transient());
    std::thread::sleep(std::time::Duration::from_millis(300));
    assert_eq!(dovecot.count(USER, "INBOX"), 0);
    assert!(!postfix.log().contains("sasl_username"), "no login happened");
}

#[tokio::test]
async fn logins_and_policies_are_checked() {
    let (dovecot, postfix) = servers();
    let to = [USER.to_string()];
    let wrong = SmtpConfig { password: "falsch".into(), ..smtp(&postfix, TlsMode::StartTls) };
    let err = send_mail(&wrong, SENDER, &to, &mail("x")).await.unwrap_err();
    assert!(matches!(err, SmtpError::Login(ref r) if r.code == 535), "{err}");
    assert!(err.german().contains("Anmeldung"), "{}", err.german());
    // The submission port needs a login: without one the recipient is refused.
    let anonymous =
        SmtpConfig { username: String::new(), password: String::new(), ..smtp(&postfix, TlsMode::Implicit) };
    let err = send_mail(&anonymous, SENDER, &to, &mail("x")).await.unwrap_err();
    assert!(matches!(err, SmtpError::Recipient { .. }), "{err}");
    assert!(!err.german().contains("554") && !err.german().contains("Relay"), "never quotes the server");
    // A login on the plain port: the server offers none (plain text only goes to loopback anyway).
    let plain = smtp(&postfix, TlsMode::None);
    let err = send_mail(&plain, SENDER, &to, &mail("x")).await.unwrap_err();
    assert!(matches!(err, SmtpError::NoLoginMethod), "{err}");
    // A policy without private hosts refuses 127.0.0.1 before connecting.
    let closed = SmtpConfig { net: NetPolicy { allow_private_hosts: false }, ..smtp(&postfix, TlsMode::StartTls) };
    let err = send_mail(&closed, SENDER, &to, &mail("x")).await.unwrap_err();
    assert_eq!(err.kind(), "blocked", "{err}");
    assert_eq!(dovecot.count(USER, "INBOX"), 0);
}
