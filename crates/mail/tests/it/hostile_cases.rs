//! The hostile corpus, generated (nothing multi-MB in git): limits, attachment names, From tricks,
//! NUL bytes, invalid UTF-8, unknown charsets, thousands of parts, deep nesting, huge bodies.
//! Std only, so `crates/app/tests/hostile_import.rs` includes this file to deliver the same mails.
#![allow(dead_code)]

/// The sender that has a route in the test offices; a mail parsed with it becomes a Vorgang.
pub const ANNA: &str = "anna@mustermail.de";
/// The address an attacker tries to pass off as the sender; it must never become the sender.
pub const BOSS: &str = "boss@firma.de";

/// What parsing one hostile mail must give.
pub struct Expect {
    /// The sender address, or the start of the reason why there is none.
    pub sender: Result<&'static str, &'static str>,
    /// The start of the `malformed` reason, if the mail must be malformed.
    pub malformed: Option<&'static str>,
    /// Texts that must each appear in some warning.
    pub warnings: &'static [&'static str],
    /// The exact safe attachment names, if they are checked.
    pub attachments: Option<&'static [&'static str]>,
}

pub struct Hostile {
    pub name: &'static str,
    pub raw: Vec<u8>,
    pub expect: Expect,
}

const PARSED: Expect = Expect { sender: Ok(ANNA), malformed: None, warnings: &[], attachments: None };

fn no_from(why: &'static str) -> Expect {
    Expect { sender: Err(why), ..PARSED }
}

fn malformed(why: &'static str) -> Expect {
    Expect { malformed: Some(why), ..PARSED }
}

fn warned(warnings: &'static [&'static str]) -> Expect {
    Expect { warnings, ..PARSED }
}

fn case(name: &'static str, raw: Vec<u8>, expect: Expect) -> Hostile {
    Hostile { name, raw, expect }
}

/// A mail with the given header lines (CRLF added) and body.
pub fn mail(headers: &[&str], body: &[u8]) -> Vec<u8> {
    let mut raw = Vec::with_capacity(body.len() + 512);
    for h in headers.iter().filter(|h| !h.is_empty()) {
        raw.extend_from_slice(h.as_bytes());
        raw.extend_from_slice(b"\r\n");
    }
    raw.extend_from_slice(b"Message-ID: <");
    raw.extend_from_slice(format!("{:016x}", fnv(&raw)).as_bytes());
    raw.extend_from_slice(b"@hostile.test>\r\nTo: vorgaenge@office.test\r\n\r\n");
    raw.extend_from_slice(body);
    raw
}

/// A plain mail from Anna with one extra header line.
fn anna(extra: &str, body: &[u8]) -> Vec<u8> {
    mail(&[&format!("From: Anna <{ANNA}>"), "Subject: Hostile", extra], body)
}

/// A mail whose only special thing is its From header.
fn from(value: &str) -> Vec<u8> {
    mail(&[&format!("From: {value}"), "Subject: Absender"], b"Text.\r\n")
}

fn fnv(data: &[u8]) -> u64 {
    data.iter().fold(0xcbf2_9ce4_8422_2325, |h, &b| (h ^ u64::from(b)).wrapping_mul(0x100_0000_01b3))
}

/// Standard base64 on one line (no wrapping), to build the single-line bodies.
pub fn base64_line(data: &[u8]) -> Vec<u8> {
    const ABC: &[u8; 64] = b"ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/";
    let mut out = Vec::with_capacity(data.len().div_ceil(3) * 4);
    for chunk in data.chunks(3) {
        let n = chunk.iter().enumerate().fold(0u32, |n, (i, &b)| n | u32::from(b) << (16 - 8 * i));
        for i in 0..4 {
            out.push(if i <= chunk.len() { ABC[(n >> (18 - 6 * i) & 63) as usize] } else { b'=' });
        }
    }
    out
}

/// Pseudo-random bytes (xorshift), reproducible.
fn noise(len: usize) -> Vec<u8> {
    let mut x: u64 = 0x9e37_79b9_7f4a_7c15;
    (0..len)
        .map(|_| {
            x ^= x << 13;
            x ^= x >> 7;
            x ^= x << 17;
            x as u8
        })
        .collect()
}

/// A multipart/mixed mail from Anna: a text part, then each (part headers, part body).
fn multipart(parts: &[(String, Vec<u8>)]) -> Vec<u8> {
    let mut body = b"--b\r\nContent-Type: text/plain; charset=utf-8\r\n\r\nSiehe Anlagen.\r\n".to_vec();
    for (headers, data) in parts {
        body.extend_from_slice(format!("--b\r\n{headers}\r\n\r\n").as_bytes());
        body.extend_from_slice(data);
        body.extend_from_slice(b"\r\n");
    }
    body.extend_from_slice(b"--b--\r\n");
    anna("Content-Type: multipart/mixed; boundary=\"b\"", &body)
}

fn named(disposition: &str) -> (String, Vec<u8>) {
    (format!("Content-Type: application/octet-stream\r\nContent-Disposition: attachment; {disposition}"), b"x".to_vec())
}

/// Forwards of forwards: each level a multipart with a note and the previous mail as message/rfc822.
pub fn forwarded_chain(levels: usize) -> Vec<u8> {
    let mut inner = mail(&["From: Kunde <kunde@example.org>", "Subject: Original"], b"Der Anfang.\r\n");
    for i in 0..levels {
        let b = format!("fwd{i}");
        let mut body = format!("--{b}\r\nContent-Type: text/plain\r\n\r\nWeiterleitung {i}\r\n--{b}\r\n").into_bytes();
        body.extend_from_slice(b"Content-Type: message/rfc822\r\n\r\n");
        body.extend_from_slice(&inner);
        body.extend_from_slice(format!("\r\n--{b}--\r\n").as_bytes());
        let from = if i + 1 == levels { format!("From: Anna <{ANNA}>") } else { "From: x@example.org".into() };
        let ct = format!("Content-Type: multipart/mixed; boundary=\"{b}\"");
        inner = mail(&[&from, "Subject: WG: WG", &ct], &body);
    }
    inner
}

/// Multiparts nested `levels` deep, each opened and never closed.
fn nested_multiparts(levels: usize) -> Vec<u8> {
    let mut body = Vec::new();
    for i in 0..levels {
        body.extend_from_slice(
            format!("--n{i}\r\nContent-Type: multipart/mixed; boundary=\"n{}\"\r\n\r\n", i + 1).as_bytes(),
        );
    }
    body.extend_from_slice(b"innen\r\n");
    anna("Content-Type: multipart/mixed; boundary=\"n0\"", &body)
}

/// The hostile mails that are small enough to deliver anywhere (all but the multi-MB ones).
pub fn small() -> Vec<Hostile> {
    let mut all = limits_small();
    all.extend(attachment_names());
    all.extend(from_tricks());
    all.extend(bytes_and_charsets());
    all
}

/// The multi-MB ones: a 20 MB single-line base64 body in two forms.
pub fn big() -> Vec<Hostile> {
    let data = noise(15 * 1024 * 1024);
    let line = base64_line(&data);
    let attached = (
        "Content-Type: application/octet-stream\r\nContent-Transfer-Encoding: base64\r\nContent-Disposition: attachment; filename=\"gross.bin\"".to_string(),
        line.clone(),
    );
    let text = base64_line(&b"Sehr viel Text. ".repeat(15 * 1024 * 1024 / 16));
    let html = base64_line(&b"<p>Sehr <b>viel</b> HTML.</p>".repeat(15 * 1024 * 1024 / 30));
    vec![
        case(
            "a 20 MB single-line base64 attachment",
            multipart(&[attached]),
            Expect { attachments: Some(&["gross.bin"]), ..PARSED },
        ),
        case(
            "a 20 MB single-line base64 text body",
            anna("Content-Type: text/plain; charset=utf-8\r\nContent-Transfer-Encoding: base64", &text),
            warned(&["text cut"]),
        ),
        case(
            "a 20 MB single-line base64 HTML body",
            anna("Content-Type: text/html; charset=utf-8\r\nContent-Transfer-Encoding: base64", &html),
            warned(&["HTML too large"]),
        ),
    ]
}

/// Over the 50 MB size limit: only for the parser test, never delivered.
pub fn too_large() -> Hostile {
    let body = b"0123456789abcdef0123456789abcdef0123456789abcdef0123456789abcdef0123456\r\n".repeat(720_000);
    case("a 52 MB mail", anna("", &body), malformed("too large"))
}

fn limits_small() -> Vec<Hostile> {
    let many_fields: String = (0..10_000).map(|i| format!("X-F{i}: v\r\n")).collect();
    let huge_header: String = (0..6_000).map(|i| format!("X-Filler-{i}: {}\r\n", "a".repeat(60))).collect();
    let endless = format!("From: Anna <{ANNA}>\r\n{}", "X-Endless: yes\r\n".repeat(40_000)).into_bytes();
    let five_thousand: Vec<_> = (0..5000).map(|i| named(&format!("filename=\"a{i}.txt\""))).collect();
    let empty_parts = anna("Content-Type: multipart/mixed; boundary=\"e\"", &b"--e\r\n\r\n".repeat(100_000));
    vec![
        case("10,000 header fields", anna(many_fields.trim_end(), b"Text.\r\n"), PARSED),
        case("a header block over 256 KB", anna(huge_header.trim_end(), b"Text.\r\n"), malformed("header too large")),
        case("600 KB of headers and no body", endless, malformed("header too large")),
        case(
            "a 200 KB subject line",
            mail(&[&format!("From: {ANNA}"), &format!("Subject: {}", "Lang ".repeat(40_000))], b"Text.\r\n"),
            warned(&["subject cut"]),
        ),
        case("multiparts nested 100 deep", nested_multiparts(100), malformed("MIME nesting too deep")),
        case("multiparts nested 5,000 deep", nested_multiparts(5000), malformed("MIME nesting too deep")),
        case("message/rfc822 forwarded 100 deep", forwarded_chain(100), malformed("MIME nesting too deep")),
        case("5,000 attachments", multipart(&five_thousand), malformed("too many MIME parts")),
        case("100,000 empty MIME parts", empty_parts, malformed("too many MIME parts")),
    ]
}

fn attachment_names() -> Vec<Hostile> {
    let parts = [
        named("filename=\"../../etc/passwd\""),
        named("filename=\"C:\\\\Windows\\\\system32\\\\evil.dll\""),
        named("filename*=UTF-8''%2E%2E%2F%2E%2E%2Fhome%2Fx%2F.bashrc"),
        named("filename*=UTF-8''Rech%00nung%0D%0A.pdf"),
        named("filename=\"=?utf-8?q?CON=2Etxt?=\""),
        named("filename=\"LPT9.log\""),
        named("filename=\"aux\""),
        named("filename=\"COM\u{b9}.txt\""),
        named("filename=\"CONIN$\""),
        named("filename=\"=?utf-8?b?UmVjaG51bmfigK5mZHAuZXhl?=\""),
        named("filename=\"brief.txt:Zone.Identifier\""),
        named("filename=\"....\""),
        named("filename=\"\t\""),
        named(&format!("filename=\"{}.pdf\"", "n".repeat(5000))),
    ];
    const NAMES: &[&str] = &[
        "passwd",
        "evil.dll",
        "bashrc",
        "Rechnung.pdf",
        "_CON.txt",
        "_LPT9.log",
        "_aux",
        "_COM\u{b9}.txt",
        "_CONIN$",
        "Rechnungfdp.exe",
        "brief.txt_Zone.Identifier",
        "anhang-12",
        "anhang-13",
        LONG_NAME,
    ];
    vec![case(
        "attachment names with paths, control characters and reserved Windows names",
        multipart(&parts),
        Expect { attachments: Some(NAMES), ..PARSED },
    )]
}

/// 146 × "n" + ".pdf": a 5,004-character name cut to 150, keeping the extension.
const LONG_NAME: &str = "nnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnn.pdf";

fn from_tricks() -> Vec<Hostile> {
    let attacker = Ok("x@attacker.example");
    vec![
        case("no From at all", mail(&["Subject: x"], b"Text.\r\n"), no_from("no From header")),
        case(
            "Sender, Reply-To and Return-Path but no From",
            mail(
                &[&format!("Sender: {ANNA}"), &format!("Reply-To: {ANNA}"), &format!("Return-Path: <{ANNA}>")],
                b"x\r\n",
            ),
            no_from("no From header"),
        ),
        case(
            "two From headers, differently cased",
            mail(&[&format!("From: {ANNA}"), &format!("FROM: {BOSS}")], b"x\r\n"),
            no_from("duplicate From header"),
        ),
        case("an empty From", from(""), no_from("no address in From")),
        case("two addresses in From", from(&format!("{ANNA}, {BOSS}")), no_from("several addresses in From")),
        case("two angle addresses in From", from(&format!("Anna <{ANNA}> <{BOSS}>")), no_from("several addresses")),
        case("a folded address list in From", from(&format!("<{ANNA}>,\r\n <{BOSS}>")), no_from("several addresses")),
        case("group syntax in From", from(&format!("Team: {ANNA}, {BOSS};")), no_from("group syntax in From")),
        case(
            "an address only in a q encoded word",
            from(&format!("=?utf-8?q?{BOSS}?=")),
            no_from("From address is inside an encoded word"),
        ),
        case(
            "an address only in a b encoded word",
            from("=?utf-8?b?Ym9zc0BmaXJtYS5kZQ==?="),
            no_from("From address is inside an encoded word"),
        ),
        case(
            "an angle address only in an encoded word",
            from("=?utf-8?b?PGJvc3NAZmlybWEuZGU+?="),
            no_from("From address is inside an encoded word"),
        ),
        case(
            "an encoded word inside the angle brackets",
            from("<=?utf-8?q?boss=40firma.de?=>"),
            no_from("From address is inside an encoded word"),
        ),
        case(
            "an encoded name that looks like a mailbox",
            from("=?utf-8?q?Chef_=3Cboss=40firma.de=3E?= <x@attacker.example>"),
            Expect { sender: attacker, ..PARSED },
        ),
        case(
            "an address as the quoted display name",
            from(&format!("\"{BOSS}\" <x@attacker.example>")),
            Expect { sender: attacker, ..PARSED },
        ),
        case(
            "an address in a comment",
            from(&format!("x@attacker.example ({BOSS})")),
            Expect { sender: attacker, ..PARSED },
        ),
        case(
            "a quoted local part",
            from("\"boss@firma.de\"@attacker.example"),
            no_from("From address has a quoted part"),
        ),
        case(
            "a From line injected through an encoded Subject",
            mail(&[&format!("From: {ANNA}"), "Subject: =?utf-8?b?SGFsbG8NCkZyb206IGJvc3NAZmlybWEuZGU=?="], b"x\r\n"),
            PARSED,
        ),
        case(
            "a Cyrillic look-alike in the domain",
            from("anna@mustermаil.de"),
            Expect { sender: Ok("anna@mustermаil.de"), ..PARSED },
        ),
    ]
}

fn bytes_and_charsets() -> Vec<Hostile> {
    let plain = "Content-Type: text/plain; charset=utf-8";
    vec![
        case("NUL bytes in the header", anna("X-Note: a\0b", b"Text.\r\n"), warned(&["NUL bytes in header"])),
        case("NUL bytes in the body", anna(plain, b"Anfang\0Mitte\0Ende\r\n"), warned(&["NUL bytes in body"])),
        case("a NUL byte in the From address", from("anna@muster\0mail.de"), no_from("invalid From address")),
        case(
            "a NUL byte in the Subject",
            mail(&[&format!("From: {ANNA}"), "Subject: Hal\0lo"], b"x\r\n"),
            warned(&["NUL bytes in header"]),
        ),
        case(
            "invalid UTF-8 in the body",
            anna(plain, b"Br\xfccke \xff\xfe kaputt\r\n"),
            warned(&["invalid UTF-8 in body"]),
        ),
        case(
            "invalid UTF-8 in the From address",
            mail_bytes(b"From: anna\xff@mustermail.de\r\nSubject: x\r\n", b"x\r\n"),
            no_from("invalid From address"),
        ),
        case(
            "raw Latin-1 in Subject and display name",
            mail_bytes(b"From: M\xfcller <anna@mustermail.de>\r\nSubject: Gr\xfc\xdfe\r\n", b"x\r\n"),
            PARSED,
        ),
        case("64 KB of binary noise as body", anna("", &noise(64 * 1024)), PARSED),
        case(
            "an unknown body charset",
            anna("Content-Type: text/plain; charset=x-klingon", "Grüße".as_bytes()),
            warned(&["unknown charset x-klingon"]),
        ),
        case(
            "an unknown charset in an encoded Subject",
            mail(&[&format!("From: {ANNA}"), "Subject: =?x-klingon?q?Hallo?="], b"x\r\n"),
            PARSED,
        ),
        case(
            "a 10 KB charset name",
            anna(&format!("Content-Type: text/plain; charset={}", "x".repeat(10_000)), b"Text\r\n"),
            warned(&["unknown charset"]),
        ),
        case(
            "UTF-16 with an odd byte count",
            anna("Content-Type: text/plain; charset=utf-16", b"\xff\xfeH\0a\0l"),
            PARSED,
        ),
        case("a date beyond the year 9999", anna("Date: Fri, 31 Dec 292277026596 23:59:59 +9959", b"x\r\n"), PARSED),
    ]
}

fn mail_bytes(headers: &[u8], body: &[u8]) -> Vec<u8> {
    let mut raw = headers.to_vec();
    raw.extend_from_slice(b"To: vorgaenge@office.test\r\n\r\n");
    raw.extend_from_slice(body);
    raw
}
