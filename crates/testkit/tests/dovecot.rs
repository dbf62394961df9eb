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
