//! Parser warnings are typed: every kind has German words without English or Rust Debug output,
//! English words for logs, and a stored form that reads back (also the English strings of older
//! versions). Raw 8-bit display names and subjects are read as Windows-1252, never as „�“.

use postkorb_mail::{StoredWarning, Warning, parse};

/// English words that are not also German words (no „die“, „man“, „hat“, „Text“, „Tag“ …), and Debug marks.
const ENGLISH: [&str; 38] = [
    "the",
    "is",
    "not",
    "no",
    "has",
    "from",
    "error",
    "failed",
    "missing",
    "invalid",
    "header",
    "body",
    "part",
    "parts",
    "charset",
    "decoded",
    "cut",
    "characters",
    "too",
    "large",
    "nested",
    "deeply",
    "shown",
    "unknown",
    "message",
    "forwarded",
    "could",
    "read",
    "raw",
    "mail",
    "bytes",
    "kept",
    "whole",
    "used",
    "simple",
    "stripper",
    "content",
    "boundary",
];
const DEBUG: [&str; 9] = ["{", "}", "::", "Some(", "None", "_", "[", "\"", "\\"];

fn assert_german(text: &str, what: &str) {
    for word in text.split(|c: char| !c.is_alphanumeric() && c != '-') {
        assert!(!ENGLISH.contains(&word.to_lowercase().as_str()), "{what}: English word {word:?} in {text:?}");
    }
    for mark in DEBUG {
        assert!(!text.contains(mark), "{what}: {mark:?} in {text:?}");
    }
    assert!(
        text.ends_with('.') && text.chars().next().is_some_and(|c| c.is_uppercase() || c.is_ascii_digit()),
        "{what}: {text:?}"
    );
}

#[test]
fn every_warning_reads_german_without_english_or_debug_output() {
    for w in Warning::examples() {
        assert_german(&w.german(), w.code());
        assert_ne!(w.german(), w.english());
        // The technical detail is English on purpose (behind „Details“); the German words never include it.
        if let Some(detail) = w.detail() {
            assert!(!w.german().contains(&detail), "{}", w.code());
        }
    }
}

#[test]
fn the_checker_catches_english_and_debug_output() {
    for bad in ["NUL bytes in header.", "Fehler: Some(3).", "Teil {x} fehlt.", "Kodierung unknown_charset."] {
        assert!(std::panic::catch_unwind(|| assert_german(bad, "probe")).is_err(), "{bad}");
    }
}

#[test]
fn warnings_are_stored_typed_and_older_english_strings_read_back() {
    let all = Warning::examples();
    let json = serde_json::to_string(&all).unwrap();
    assert!(json.contains("\"code\":\"unknown_charset\""), "{json}");
    let back: Vec<Warning> =
        serde_json::from_str::<Vec<StoredWarning>>(&json).unwrap().into_iter().map(Warning::from).collect();
    assert_eq!(back, all);
    let old = r#"["missing closing MIME boundary","unknown charset x-foo, decoded as Latin-1"]"#;
    let back: Vec<Warning> =
        serde_json::from_str::<Vec<StoredWarning>>(old).unwrap().into_iter().map(Warning::from).collect();
    assert_eq!(back[0], Warning::UnclosedBoundary);
    assert_eq!(back[1], Warning::UnknownCharset { charset: "x-foo".into(), read_as: postkorb_mail::ReadAs::Latin1 });
    let odd: Vec<StoredWarning> = serde_json::from_str(r#"["text cut to 512 KB (the whole mail is kept)"]"#).unwrap();
    let odd = Warning::from(odd.into_iter().next().unwrap());
    assert!(matches!(&odd, Warning::Legacy { text } if text.starts_with("text cut")), "{odd:?}");
}

#[test]
fn a_raw_8bit_display_name_and_subject_are_read_as_windows_1252() {
    let raw = b"From: J\xf6rg M\xfcller <joerg@firma.de>\r\nSubject: Gr\xfc\xdfe \x80 5\r\nDate: Tue, 4 Mar 2025 10:15:00 +0100\r\n\r\nText\r\n";
    let mail = parse(raw);
    assert_eq!(mail.sender.as_ref().map(|a| a.as_str()), Ok("joerg@firma.de"));
    assert_eq!(mail.display_name.as_deref(), Some("Jörg Müller"));
    assert_eq!(mail.subject, "Grüße € 5");
    assert!(mail.warnings.contains(&Warning::HeaderReadAs1252), "{:?}", mail.warnings);
    // UTF-8 and encoded words stay as they are, without a warning.
    let mail = parse("From: =?iso-8859-1?q?J=F6rg?= <j@x.de>\r\nSubject: Grüße\r\n\r\nText\r\n".as_bytes());
    assert_eq!((mail.display_name.as_deref(), mail.subject.as_str()), (Some("Jörg"), "Grüße"));
    assert!(mail.warnings.is_empty(), "{:?}", mail.warnings);
}

#[test]
fn an_8bit_address_stays_invalid() {
    let mail = parse(b"From: J\xf6rg <j\xf6rg@firma.de>\r\nSubject: x\r\n\r\nText\r\n");
    assert!(mail.sender.is_err(), "{:?}", mail.sender);
}

#[test]
fn a_forwarded_original_gets_its_8bit_name_decoded_and_its_date_read() {
    let raw = b"From: anna@mustermail.de\r\nSubject: Fwd\r\nMIME-Version: 1.0\r\nContent-Type: multipart/mixed; boundary=b\r\n\r\n--b\r\nContent-Type: text/plain\r\n\r\nsiehe unten\r\n--b\r\nContent-Type: message/rfc822\r\n\r\nFrom: Kunde M\xfcller <kunde@web.de>\r\nSubject: Schaden an der T\xfcr\r\nDate: Tue, 4 Mar 2025 10:15:00 +0100\r\n\r\nHallo\r\n--b--\r\n";
    let mail = parse(raw);
    let f = mail.forwarded.expect("forwarded");
    assert_eq!(f.from.as_deref(), Some("Kunde Müller <kunde@web.de>"));
    assert_eq!(f.subject.as_deref(), Some("Schaden an der Tür"));
    assert_eq!(f.date_ms, Some(1_741_079_700_000));
    assert!(f.text.contains("Hallo"));
}
