//! Checks the harness itself against the real Dovecot, so a broken harness is not mistaken for a
//! broken adapter.

use postkorb_testkit::{Dovecot, ImapClient, Proxy};
use std::io::{BufRead, BufReader, Write};
use std::net::TcpStream;

const USER: &str = "postkorb@office.test";
const MAIL: &[u8] = b"From: a@b.test\r\nSubject: hi\r\n\r\nbody\r\n";

#[test]
fn delivered_mail_is_counted_and_unseen() {
    let dovecot = Dovecot::start();
    dovecot.add_user(USER, "secret");
    assert_eq!(dovecot.count(USER, "INBOX"), 0);
    dovecot.deliver(USER, MAIL);
    dovecot.deliver(USER, MAIL);
    assert_eq!(dovecot.count(USER, "INBOX"), 2);
    assert_eq!(dovecot.unseen(USER, "INBOX"), 2);
    assert!(!dovecot.folder_exists(USER, "Postkorb/Importiert"));
    assert_eq!(dovecot.count(USER, "Postkorb/Importiert"), 0);
}

#[test]
fn users_added_later_can_log_in() {
    let dovecot = Dovecot::start();
    dovecot.add_user(USER, "secret");
    dovecot.deliver(USER, MAIL);
    dovecot.add_user("second@office.test", "other");
    dovecot.deliver("second@office.test", MAIL);
    assert_eq!(dovecot.count("second@office.test", "INBOX"), 1);
    let mut client = ImapClient::connect(dovecot.imap_port()).unwrap();
    assert!(client.command("LOGIN \"second@office.test\" \"wrong\"").is_err());
}

#[test]
fn reset_uidvalidity_changes_it_and_keeps_the_mail() {
    let dovecot = Dovecot::start();
    dovecot.add_user(USER, "secret");
    dovecot.deliver(USER, MAIL);
    let before = dovecot.uidvalidity(USER, "INBOX");
    dovecot.reset_uidvalidity(USER);
    assert_ne!(dovecot.uidvalidity(USER, "INBOX"), before);
    assert_eq!(dovecot.count(USER, "INBOX"), 1);
}

#[test]
fn restart_serves_the_same_ports_and_mail_again() {
    let dovecot = Dovecot::start();
    dovecot.add_user(USER, "secret");
    dovecot.deliver(USER, MAIL);
    dovecot.stop();
    assert!(TcpStream::connect(("127.0.0.1", dovecot.imap_port())).is_err());
    dovecot.restart();
    assert_eq!(dovecot.count(USER, "INBOX"), 1);
}

#[test]
fn proxy_forwards_and_cut_after_kills_the_connection() {
    let dovecot = Dovecot::start();
    let proxy = Proxy::start(dovecot.pop3_port());
    let stream = TcpStream::connect(("127.0.0.1", proxy.port())).unwrap();
    let mut reader = BufReader::new(stream.try_clone().unwrap());
    let mut line = String::new();
    reader.read_line(&mut line).unwrap();
    assert!(line.starts_with("+OK"), "{line}");
    proxy.cut_after(3);
    (&stream).write_all(b"CAPA\r\n").unwrap();
    let mut rest = Vec::new();
    let _ = std::io::Read::read_to_end(&mut reader, &mut rest);
    assert_eq!(rest, b"+OK");
    // New connections still work after a cut.
    let again = TcpStream::connect(("127.0.0.1", proxy.port())).unwrap();
    let mut line = String::new();
    BufReader::new(again).read_line(&mut line).unwrap();
    assert!(line.starts_with("+OK"), "{line}");
}

#[test]
fn a_tls_dovecot_offers_starttls_and_answers_on_the_implicit_tls_ports() {
    let dovecot = postkorb_testkit::Dovecot::start_tls();
    dovecot.add_user(USER, "secret");
    let mut client = ImapClient::connect(dovecot.imap_port()).unwrap();
    let caps = client.command("CAPABILITY").unwrap().join("\n");
    assert!(caps.contains("STARTTLS"), "{caps}");
    assert!(std::fs::read_to_string(dovecot.ca_file()).unwrap().contains("BEGIN CERTIFICATE"));
    let out = std::process::Command::new("openssl")
        .args(["s_client", "-connect", &format!("127.0.0.1:{}", dovecot.imaps_port()), "-CAfile"])
        .arg(dovecot.ca_file())
        .args(["-verify_return_error", "-verify_ip", "127.0.0.1"])
        .stdin(std::process::Stdio::null())
        .output()
        .unwrap();
    let text = String::from_utf8_lossy(&out.stdout);
    assert!(text.contains("Verify return code: 0 (ok)"), "{text}");
}

#[test]
fn a_mail_dropped_into_the_maildir_while_dovecot_is_stopped_is_seen_after_the_restart() {
    let dovecot = Dovecot::start();
    dovecot.add_user(USER, "secret");
    dovecot.stop();
    dovecot.drop_into_maildir(USER, MAIL);
    dovecot.restart();
    assert_eq!(dovecot.count(USER, "INBOX"), 1);
}
