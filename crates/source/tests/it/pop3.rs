//! The POP3 adapter against a real Dovecot: exact bytes (dot-stuffing), deletion at QUIT, errors.

use crate::common;

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

// --- A hostile POP3 server (issue 13 item 10): every line and every message is capped. ---

/// What the hostile server answers: a fixed text, or a prefix and then `A`s without end (one
/// endless line, or endless lines of 1,000 bytes).
#[derive(Clone, Copy)]
enum Reply {
    Text(&'static str),
    Endless(&'static str),
    EndlessLines(&'static str),
}

/// A POP3 server on loopback for one connection: greets with `greeting`, answers USER/PASS/QUIT
/// with +OK and every other command with `answer(verb)`. Returns its port and the commands seen.
async fn hostile(greeting: Reply, answer: fn(&str) -> Reply) -> (u16, std::sync::Arc<std::sync::Mutex<Vec<String>>>) {
    use tokio::io::{AsyncBufReadExt, AsyncWriteExt, BufReader};
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let port = listener.local_addr().unwrap().port();
    let seen = std::sync::Arc::new(std::sync::Mutex::new(Vec::new()));
    let log = seen.clone();
    tokio::spawn(async move {
        let (stream, _) = listener.accept().await.unwrap();
        let (read, mut write) = stream.into_split();
        let mut lines = BufReader::new(read).lines();
        async fn send(write: &mut tokio::net::tcp::OwnedWriteHalf, reply: Reply) -> std::io::Result<()> {
            match reply {
                Reply::Text(text) => write.write_all(text.as_bytes()).await,
                Reply::Endless(prefix) | Reply::EndlessLines(prefix) => {
                    write.write_all(prefix.as_bytes()).await?;
                    let mut chunk = vec![b'A'; 64 * 1000];
                    if matches!(reply, Reply::EndlessLines(_)) {
                        chunk.chunks_mut(1000).for_each(|line| line[998..].copy_from_slice(b"\r\n"));
                    }
                    loop {
                        write.write_all(&chunk).await?; // ends when the client hangs up
                    }
                }
            }
        }
        if send(&mut write, greeting).await.is_err() {
            return;
        }
        while let Ok(Some(line)) = lines.next_line().await {
            let verb = line.split_whitespace().next().unwrap_or_default().to_ascii_uppercase();
            log.lock().unwrap().push(verb.clone());
            let reply = match verb.as_str() {
                "USER" | "PASS" | "QUIT" => Reply::Text("+OK\r\n"),
                other => answer(other),
            };
            if send(&mut write, reply).await.is_err() {
                return;
            }
        }
    });
    (port, seen)
}

fn hostile_config(port: u16) -> postkorb_source::SourceConfig {
    config(postkorb_source::Protocol::Pop3, port, Disposal::Delete)
}

/// Only a guard against a hang; nothing asserts how long anything took.
async fn guarded<T>(work: impl std::future::Future<Output = T>) -> T {
    tokio::time::timeout(Duration::from_secs(120), work).await.expect("a hostile server must not hang the client")
}

fn protocol_error<T: std::fmt::Debug>(result: Result<T, SourceError>) -> String {
    match result {
        Err(SourceError::Protocol(detail)) => detail,
        other => panic!("expected a protocol error, got {other:?}"),
    }
}

const ONE_MAIL_LISTED: fn(&str) -> Reply = |verb| match verb {
    "UIDL" => Reply::Text("+OK\r\n1 uid-1\r\n.\r\n"),
    "LIST" => Reply::Text("+OK\r\n1 100\r\n.\r\n"),
    _ => Reply::Text("-ERR no\r\n"),
};

#[tokio::test]
async fn a_server_that_greets_with_an_endless_line_is_refused_not_read_into_memory() {
    let (port, _) = hostile(Reply::Endless("+OK "), |_| Reply::Text("-ERR\r\n")).await;
    let detail = protocol_error(guarded(Session::connect(&hostile_config(port))).await.map(|_| ()));
    assert!(detail.contains("longer than 8192 bytes"), "{detail}");
}

#[tokio::test]
async fn an_endless_line_in_the_uidl_answer_is_refused() {
    let (port, _) = hostile(Reply::Text("+OK hi\r\n"), |verb| match verb {
        "UIDL" => Reply::Endless("+OK\r\n1 "),
        _ => Reply::Text("-ERR\r\n"),
    })
    .await;
    let mut session = guarded(Session::connect(&hostile_config(port))).await.unwrap();
    let detail = protocol_error(guarded(session.list()).await);
    assert!(detail.contains("UIDL") && detail.contains("longer than 8192 bytes"), "{detail}");
}

#[tokio::test]
async fn a_message_announced_larger_than_the_limit_is_refused_without_retr() {
    let (port, seen) = hostile(Reply::Text("+OK hi\r\n"), |verb| match verb {
        "UIDL" => Reply::Text("+OK\r\n1 uid-1\r\n.\r\n"),
        "LIST" => Reply::Text("+OK\r\n1 600000000\r\n.\r\n"),
        _ => Reply::Endless("+OK\r\n"),
    })
    .await;
    let mut session = guarded(Session::connect(&hostile_config(port))).await.unwrap();
    guarded(session.list()).await.unwrap();
    let detail = protocol_error(guarded(session.fetch(&["pop3:uid-1".to_string()])).await);
    assert!(detail.contains("larger than 536870912 bytes"), "{detail}");
    assert!(!seen.lock().unwrap().contains(&"RETR".to_string()), "nothing was downloaded");
}

#[tokio::test]
async fn a_message_longer_than_announced_and_the_limit_is_cut_off_with_an_error() {
    // One endless line, and many short lines: both end at the limit, not in memory use.
    for answer in [
        (|verb| match verb {
            "RETR" => Reply::Endless("+OK\r\nSubject: x\r\n\r\n"),
            other => ONE_MAIL_LISTED(other),
        }) as fn(&str) -> Reply,
        |verb| match verb {
            "RETR" => Reply::EndlessLines("+OK\r\n"),
            other => ONE_MAIL_LISTED(other),
        },
    ] {
        let (port, _) = hostile(Reply::Text("+OK hi\r\n"), answer).await;
        let mut session = guarded(Session::connect(&hostile_config(port))).await.unwrap();
        let Session::Pop3(pop3) = &mut session else { panic!("a POP3 session") };
        pop3.set_max_message(1 << 20);
        guarded(session.list()).await.unwrap();
        let detail = protocol_error(guarded(session.fetch(&["pop3:uid-1".to_string()])).await);
        assert!(detail.contains("message pop3:uid-1 is larger than 1048576 bytes"), "{detail}");
    }
}
