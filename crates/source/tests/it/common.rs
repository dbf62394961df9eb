//! Shared fixtures for the adapter tests: a Dovecot with one user, configs, and sample mails
//! that exercise dot-stuffing and size.
#![allow(dead_code)] // each test file uses a different subset

use postkorb_source::{Auth, Disposal, Protocol, SourceConfig, TlsMode};
use postkorb_testkit::Dovecot;

pub const USER: &str = "postkorb@office.test";
pub const PASSWORD: &str = "secret";
pub const IMPORTED: &str = "Postkorb/Importiert";

pub fn dovecot() -> Dovecot {
    let dovecot = Dovecot::start();
    dovecot.add_user(USER, PASSWORD);
    dovecot
}

pub fn config(protocol: Protocol, port: u16, disposal: Disposal) -> SourceConfig {
    SourceConfig {
        protocol,
        host: "127.0.0.1".into(),
        port,
        tls: TlsMode::None,
        username: USER.into(),
        password: PASSWORD.into(),
        auth: Auth::Password,
        folder: "INBOX".into(),
        disposal,
        maildir: None,
        ca_file: None,
        net: postkorb_source::NetPolicy::default(),
        graph: Default::default(),
    }
}

pub fn imap(dovecot: &Dovecot) -> SourceConfig {
    config(Protocol::Imap, dovecot.imap_port(), Disposal::MoveTo(IMPORTED.into()))
}

pub fn pop3(dovecot: &Dovecot) -> SourceConfig {
    config(Protocol::Pop3, dovecot.pop3_port(), Disposal::Delete)
}

pub fn simple_mail(n: usize) -> Vec<u8> {
    format!(
        "From: Anna Absender <anna@kunde.test>\r\nTo: postkorb@office.test\r\nSubject: Anfrage {n}\r\n\
         Message-ID: <m{n}@kunde.test>\r\n\r\nGuten Tag,\r\nbitte um Rückruf.\r\n"
    )
    .into_bytes()
}

/// Lines starting with ".", a lone "." line and ".." — everything POP3 must stuff and unstuff.
pub fn dotted_mail() -> Vec<u8> {
    b"From: dots@kunde.test\r\nTo: postkorb@office.test\r\nSubject: Punkte\r\n\r\n\
      .Zeile mit Punkt\r\n.\r\n..\r\n...drei\r\nEnde.\r\n.\r\n"
        .to_vec()
}

/// About 1 MB of base64 attachment in 76-character lines.
pub fn big_mail() -> Vec<u8> {
    let mut mail = b"From: big@kunde.test\r\nTo: postkorb@office.test\r\nSubject: Anhang\r\nMIME-Version: 1.0\r\n\
Content-Type: multipart/mixed; boundary=\"b1\"\r\n\r\n--b1\r\nContent-Type: text/plain\r\n\r\nSiehe Anhang.\r\n\
--b1\r\nContent-Type: application/octet-stream\r\nContent-Transfer-Encoding: base64\r\n\
Content-Disposition: attachment; filename=\"scan.bin\"\r\n\r\n"
        .to_vec();
    const ALPHABET: &[u8] = b"ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/";
    let mut state: u32 = 12345;
    for _ in 0..(1024 * 1024 / 76) {
        for _ in 0..76 {
            state = state.wrapping_mul(1_103_515_245).wrapping_add(12345);
            mail.push(ALPHABET[(state >> 16) as usize % 64]);
        }
        mail.extend_from_slice(b"\r\n");
    }
    mail.extend_from_slice(b"--b1--\r\n");
    mail
}
