//! TLS against a real Dovecot with a throw-away CA: implicit TLS and STARTTLS/STLS work when the CA
//! is trusted, fail with an error naming the cause when it is not or the host name is wrong, and
//! nothing — least of all the password — goes over the wire in plaintext when TLS fails.

use crate::common;

use common::*;
use postkorb_source::{Disposal, Protocol, Session, SourceConfig, SourceError, TlsMode};
use postkorb_testkit::{Dovecot, Proxy};
use tokio::io::{AsyncBufReadExt, AsyncWriteExt, BufReader};

fn tls_dovecot() -> Dovecot {
    let dovecot = Dovecot::start_tls();
    dovecot.add_user(USER, PASSWORD);
    dovecot
}

fn tls_config(dovecot: &Dovecot, protocol: Protocol, tls: TlsMode, trust_test_ca: bool) -> SourceConfig {
    let port = match (protocol, tls) {
        (Protocol::Imap, TlsMode::Implicit) => dovecot.imaps_port(),
        (Protocol::Pop3, TlsMode::Implicit) => dovecot.pop3s_port(),
        (Protocol::Imap, _) => dovecot.imap_port(),
        _ => dovecot.pop3_port(),
    };
    let mut cfg = config(protocol, port, Disposal::Delete);
    cfg.tls = tls;
    cfg.ca_file = trust_test_ca.then(|| dovecot.ca_file());
    cfg
}

const ALL_MODES: [(Protocol, TlsMode); 4] = [
    (Protocol::Imap, TlsMode::Implicit),
    (Protocol::Imap, TlsMode::StartTls),
    (Protocol::Pop3, TlsMode::Implicit),
    (Protocol::Pop3, TlsMode::StartTls),
];

#[tokio::test]
async fn implicit_tls_and_starttls_with_the_test_ca_as_ca_file_read_the_mail() {
    let dovecot = tls_dovecot();
    dovecot.deliver(USER, &simple_mail(1));
    for (protocol, tls) in ALL_MODES {
        let mut session = Session::connect(&tls_config(&dovecot, protocol, tls, true))
            .await
            .unwrap_or_else(|e| panic!("{protocol:?} {tls:?}: {e}"));
        let listed = session.list().await.unwrap();
        assert_eq!(listed.len(), 1, "{protocol:?} {tls:?}");
        let fetched = session.fetch(&[listed[0].key.clone()]).await.unwrap();
        assert_eq!(fetched[0].raw, simple_mail(1), "{protocol:?} {tls:?}");
        session.close().await.unwrap();
    }
}

#[tokio::test]
async fn without_the_ca_file_the_certificate_is_rejected_as_signed_by_an_unknown_ca() {
    let dovecot = tls_dovecot();
    for (protocol, tls) in ALL_MODES {
        let err = Session::connect(&tls_config(&dovecot, protocol, tls, false)).await.err().expect("must not connect");
        let SourceError::Tls(text) = &err else { panic!("{protocol:?} {tls:?}: not a TLS error: {err:?}") };
        assert!(text.contains("unknown CA") && text.contains("127.0.0.1"), "{protocol:?} {tls:?}: {text}");
    }
}

#[tokio::test]
async fn a_host_name_the_certificate_does_not_name_is_rejected_with_that_name() {
    let dovecot = tls_dovecot();
    // The certificate names 127.0.0.1 and dovecot.postkorb.test; "localhost" reaches the same server.
    for (protocol, tls) in ALL_MODES {
        let mut cfg = tls_config(&dovecot, protocol, tls, true);
        cfg.host = "localhost".into();
        let err = Session::connect(&cfg).await.err().expect("must not connect");
        let SourceError::Tls(text) = &err else { panic!("{protocol:?} {tls:?}: not a TLS error: {err:?}") };
        assert!(text.contains("not valid for the host name localhost"), "{protocol:?} {tls:?}: {text}");
    }
}

#[tokio::test]
async fn a_failed_starttls_handshake_sends_neither_login_nor_password_in_plaintext() {
    let dovecot = tls_dovecot();
    for protocol in [Protocol::Imap, Protocol::Pop3] {
        let mut cfg = tls_config(&dovecot, protocol, TlsMode::StartTls, false);
        let proxy = Proxy::start(cfg.port);
        cfg.port = proxy.port();
        let err = Session::connect(&cfg).await.err().expect("untrusted certificate");
        assert!(matches!(err, SourceError::Tls(_)), "{err:?}");
        let sent = String::from_utf8_lossy(&proxy.client_bytes()).to_ascii_uppercase();
        assert!(sent.contains("STARTTLS") || sent.contains("STLS"), "{protocol:?}: upgrade not even asked: {sent}");
        for secret in [PASSWORD.to_ascii_uppercase(), USER.to_ascii_uppercase()] {
            assert!(!sent.contains(&secret), "{protocol:?}: {secret} went over the wire: {sent}");
        }
        assert!(!sent.contains("LOGIN") && !sent.contains("PASS") && !sent.contains("AUTH"), "{protocol:?}: {sent}");
    }
}

/// A server that offers STARTTLS/STLS and then refuses it; records every line it is sent.
async fn refusing_server(protocol: Protocol) -> (u16, tokio::task::JoinHandle<String>) {
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let port = listener.local_addr().unwrap().port();
    let server = tokio::spawn(async move {
        let (stream, _) = listener.accept().await.unwrap();
        let (read, mut write) = stream.into_split();
        let mut lines = BufReader::new(read).lines();
        let mut received = String::new();
        let greeting = if protocol == Protocol::Imap { "* OK ready\r\n" } else { "+OK ready\r\n" };
        write.write_all(greeting.as_bytes()).await.unwrap();
        while let Ok(Some(line)) = lines.next_line().await {
            received.push_str(&line);
            received.push('\n');
            let answer = match line.to_ascii_uppercase().as_str() {
                "S1 CAPABILITY" => "* CAPABILITY IMAP4rev1 STARTTLS\r\nS1 OK done\r\n",
                "S2 STARTTLS" => "S2 NO not today\r\n",
                "CAPA" => "+OK\r\nUSER\r\nSTLS\r\n.\r\n",
                "STLS" => "-ERR not today\r\n",
                _ if protocol == Protocol::Imap => "* BAD unexpected\r\n",
                _ => "-ERR unexpected\r\n",
            };
            if write.write_all(answer.as_bytes()).await.is_err() {
                break;
            }
        }
        received
    });
    (port, server)
}

#[tokio::test]
async fn a_server_refusing_the_offered_starttls_gets_no_login_in_plaintext() {
    for protocol in [Protocol::Imap, Protocol::Pop3] {
        let (port, server) = refusing_server(protocol).await;
        let mut cfg = config(protocol, port, Disposal::Delete);
        cfg.tls = TlsMode::StartTls;
        let err = Session::connect(&cfg).await.err().expect("must refuse");
        let SourceError::Tls(text) = &err else { panic!("{protocol:?}: not a TLS error: {err:?}") };
        assert!(text.contains("refused"), "{protocol:?}: {text}");
        let received = server.await.unwrap();
        assert!(!received.contains(PASSWORD) && !received.contains(USER), "{protocol:?}: {received}");
        assert!(!received.contains("LOGIN") && !received.contains("PASS"), "{protocol:?}: {received}");
    }
}

#[tokio::test]
async fn implicit_tls_against_a_plaintext_port_fails_instead_of_talking_plaintext() {
    let dovecot = tls_dovecot();
    let mut cfg = tls_config(&dovecot, Protocol::Imap, TlsMode::Implicit, true);
    cfg.port = dovecot.imap_port();
    let proxy = Proxy::start(cfg.port);
    cfg.port = proxy.port();
    let err = Session::connect(&cfg).await.err().expect("plaintext port");
    assert!(matches!(err, SourceError::Tls(_)), "{err:?}");
    assert!(!String::from_utf8_lossy(&proxy.client_bytes()).contains(PASSWORD));
}
