//! The corpus test: realistic German mails (charsets, HTML, attachments, forwards, automatic and
//! broken mail) in `tests/corpus/*.eml`, each checked against hand-written expectations.

use postkorb_mail::{InboundMail, parse};

use crate::corpus_cases;

use corpus_cases::{CORPUS, Expect};

fn load(file: &str) -> Vec<u8> {
    let path = format!("{}/tests/corpus/{file}", env!("CARGO_MANIFEST_DIR"));
    std::fs::read(&path).unwrap_or_else(|e| panic!("{path}: {e}"))
}

fn problems(e: &Expect, m: &InboundMail) -> Vec<String> {
    let mut p = Vec::new();
    let sender = m.sender.as_ref().map(|a| a.as_str()).map_err(|s| s.as_str());
    if sender != e.sender {
        p.push(format!("sender {sender:?}, expected {:?}", e.sender));
    }
    if m.subject != e.subject {
        p.push(format!("subject {:?}, expected {:?}", m.subject, e.subject));
    }
    for t in e.text {
        if !m.text.contains(t) {
            p.push(format!("text lacks {t:?}: {:?}", m.text));
        }
    }
    let names: Vec<&str> = m.attachments.iter().map(|a| a.name.as_str()).collect();
    if names != e.attachments {
        p.push(format!("attachments {names:?}, expected {:?}", e.attachments));
    }
    if m.automatic.is_some() != e.automatic {
        p.push(format!("automatic {:?}", m.automatic));
    }
    if m.malformed.is_some() != e.malformed {
        p.push(format!("malformed {:?}", m.malformed));
    }
    for w in e.warnings {
        if !m.warnings.iter().any(|have| have.english().contains(w)) {
            p.push(format!("warnings {:?} lack {w:?}", m.warnings));
        }
    }
    if e.warnings.is_empty() && !m.warnings.is_empty() {
        p.push(format!("unexpected warnings {:?}", m.warnings));
    }
    let fwd = m.forwarded.as_ref().and_then(|f| f.from.as_deref());
    if fwd != e.forwarded_from {
        p.push(format!("forwarded from {fwd:?}, expected {:?}", e.forwarded_from));
    }
    if let Some(html) = &m.html {
        let lower = html.to_lowercase();
        for bad in ["<script", "onerror", "onload", "onclick", "<form", "<iframe", "<style", "src=\"http"] {
            if lower.contains(bad) {
                p.push(format!("sanitised HTML contains {bad:?}: {html}"));
            }
        }
        // Links open a new tab (the frame allows popups only): no other target.
        if lower.matches("target=").count() != lower.matches("target=\"_blank\"").count() {
            p.push(format!("sanitised HTML has a target other than _blank: {html}"));
        }
    }
    p
}

#[test]
fn every_corpus_mail_parses_to_its_expected_facts() {
    let mut failures = Vec::new();
    for e in CORPUS {
        let mail = parse(&load(e.file));
        for p in problems(e, &mail) {
            failures.push(format!("{}: {p}", e.file));
        }
    }
    assert!(failures.is_empty(), "\n{}", failures.join("\n"));
}

/// The import's parse (`parse_for_import`) finds the same facts as the full parse — what routing,
/// the lists and the attachment rows use — and the plain text (for the search index), and leaves
/// only the HTML and the forwarded original (made when the Vorgang is shown) empty.
#[test]
fn the_import_parse_finds_the_same_facts_without_making_the_bodies() {
    let mut with_text = 0;
    for e in CORPUS {
        let raw = load(e.file);
        let (full, import) = (parse(&raw), postkorb_mail::parse_for_import(&raw));
        assert_eq!(import.sender, full.sender, "{}", e.file);
        assert_eq!(import.display_name, full.display_name, "{}", e.file);
        assert_eq!(import.subject, full.subject, "{}", e.file);
        assert_eq!(import.date_ms, full.date_ms, "{}", e.file);
        assert_eq!(import.message_id, full.message_id, "{}", e.file);
        assert_eq!(import.automatic, full.automatic, "{}", e.file);
        assert_eq!(import.malformed, full.malformed, "{}", e.file);
        assert_eq!(import.attachments, full.attachments, "{}", e.file);
        assert_eq!(import.text, full.text, "the text, for the search index: {}", e.file);
        assert!(import.html.is_none() && import.forwarded.is_none(), "{}", e.file);
        // Its warnings are the full parse's, less those made with the bodies.
        assert!(import.warnings.iter().all(|w| full.warnings.contains(w)), "{}", e.file);
        with_text += usize::from(!full.text.is_empty());
    }
    assert!(with_text >= 20, "the corpus has mails with text ({with_text})");
}

#[test]
fn every_eml_file_in_the_corpus_has_an_expectation() {
    let dir = format!("{}/tests/corpus", env!("CARGO_MANIFEST_DIR"));
    let mut files: Vec<String> = std::fs::read_dir(dir)
        .unwrap()
        .map(|e| e.unwrap().file_name().to_string_lossy().into_owned())
        .filter(|n| n.ends_with(".eml"))
        .collect();
    files.sort();
    let expected: Vec<&str> = CORPUS.iter().map(|e| e.file).collect();
    assert_eq!(files, expected);
}

#[test]
fn html_mail_keeps_cid_images_and_safe_links_only() {
    let raw = load("06-html-only.eml");
    let mail = parse(&raw);
    let html = mail.html.expect("the mail has HTML");
    assert!(html.contains("src=\"cid:foto1@handy.example\""), "{html}");
    assert!(html.contains("rel=\"noopener noreferrer\""), "{html}");
    assert!(!html.contains("tracker.example") && !html.contains("evil.example"), "{html}");
    let png = &mail.attachments[0];
    assert_eq!(png.content_type, "image/png");
    assert_eq!(png.content_id.as_deref(), Some("foto1@handy.example"));
    let (meta, data) = postkorb_mail::attachment_at(&raw, 0).expect("decoded from the raw mail");
    assert_eq!((&meta, data.len()), (png, png.size));
    assert!(data.starts_with(b"\x89PNG"));
}

#[test]
fn a_pdf_attachment_is_decoded_with_its_type() {
    let raw = load("07-pdf-rfc2231.eml");
    let mail = parse(&raw);
    let pdf = &mail.attachments[0];
    assert_eq!(pdf.content_type, "application/pdf");
    let (meta, data) = postkorb_mail::attachment_at(&raw, 0).expect("decoded from the raw mail");
    assert_eq!((&meta, data.len()), (pdf, pdf.size));
    assert!(data.starts_with(b"%PDF-1.4"), "{:?}", String::from_utf8_lossy(&data));
    assert_eq!(mail.message_id.as_deref(), Some("pdf.2231@example.de"));
    assert_eq!(mail.date_ms, Some(1_740_993_300_000));
    assert_eq!(mail.display_name.as_deref(), Some("Maria Müller"));
}

#[test]
fn a_forwarded_message_part_gives_the_original_sender_subject_date_and_text() {
    let raw = load("09-forwarded-rfc822.eml");
    let mail = parse(&raw);
    let f = mail.forwarded.expect("forwarded");
    assert_eq!(f.subject.as_deref(), Some("Kündigung Hausratversicherung"));
    assert_eq!(f.date.as_deref(), Some("Fri, 28 Feb 2025 17:02:11 +0100"));
    assert!(f.text.starts_with("Hiermit kündige ich"), "{:?}", f.text);
    let eml = &mail.attachments[0];
    assert_eq!(eml.content_type, "message/rfc822");
    let (meta, data) = postkorb_mail::attachment_at(&raw, 0).expect("decoded from the raw mail");
    assert_eq!((&meta, data.len()), (eml, eml.size));
    assert!(data.starts_with(b"From: Bernd Kunde"), "{:?}", String::from_utf8_lossy(&data));
}

#[test]
fn tricky_from_headers_never_yield_the_address_from_the_display_name() {
    let mail = parse(&load("20-display-name-address.eml"));
    assert_eq!(mail.display_name.as_deref(), Some("boss@makler-schmidt.de"));
    let mail = parse(&load("19-encoded-word-name.eml"));
    assert_eq!(mail.display_name.as_deref(), Some("boss@makler-schmidt.de"));
    assert_eq!(mail.sender.unwrap().as_str(), "x@attacker.example");
}
