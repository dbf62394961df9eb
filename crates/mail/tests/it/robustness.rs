//! Parsing is total: arbitrary bytes, mutated real mails and hostile structures (deep nesting,
//! many parts, oversized mail) all give a defined `InboundMail`, never a panic or a crash.

use postkorb_mail::{InboundMail, Limits, parse, parse_with};
use proptest::prelude::*;

fn corpus() -> Vec<Vec<u8>> {
    let dir = format!("{}/tests/corpus", env!("CARGO_MANIFEST_DIR"));
    let mut files: Vec<_> = std::fs::read_dir(dir)
        .unwrap()
        .map(|e| e.unwrap().path())
        .filter(|p| p.extension().is_some_and(|e| e == "eml"))
        .collect();
    files.sort();
    files.iter().map(|p| std::fs::read(p).unwrap()).collect()
}

/// A parse result is sane: no caught panic, and a malformed mail carries a reason.
fn assert_defined(mail: &InboundMail) {
    let why = mail.malformed.as_deref().unwrap_or("");
    assert!(!why.starts_with("parser panic"), "{why}");
    for a in &mail.attachments {
        assert!(!a.name.is_empty() && !a.name.contains(['/', '\\']) && !a.name.starts_with('.'));
        assert!(a.name.chars().count() <= 150);
    }
}

#[derive(Clone, Debug)]
enum Mutation {
    Set(usize, u8),
    Truncate(usize),
    Insert(usize, Vec<u8>),
    Duplicate(usize, usize),
}

fn mutation() -> impl Strategy<Value = Mutation> {
    let junk = prop_oneof![
        Just(b"\r\n--".to_vec()),
        Just(b"\r\n\r\n".to_vec()),
        Just(b"=?utf-8?b?".to_vec()),
        Just(b"Content-Type: multipart/mixed; boundary=\"\"\r\n".to_vec()),
        Just(b"Content-Type: message/rfc822\r\n\r\n".to_vec()),
        Just(b"Content-Transfer-Encoding: base64\r\n".to_vec()),
        Just(b"From: a@b.de, <c@d.de>\r\n".to_vec()),
        proptest::collection::vec(any::<u8>(), 1..16),
    ];
    prop_oneof![
        (any::<usize>(), any::<u8>()).prop_map(|(i, b)| Mutation::Set(i, b)),
        any::<usize>().prop_map(Mutation::Truncate),
        (any::<usize>(), junk).prop_map(|(i, j)| Mutation::Insert(i, j)),
        (any::<usize>(), any::<usize>()).prop_map(|(a, b)| Mutation::Duplicate(a, b)),
    ]
}

fn apply(mut data: Vec<u8>, m: &Mutation) -> Vec<u8> {
    let len = data.len().max(1);
    match m {
        Mutation::Set(i, b) => {
            if let Some(x) = data.get_mut(i % len) {
                *x = *b;
            }
        }
        Mutation::Truncate(i) => data.truncate(i % len),
        Mutation::Insert(i, junk) => {
            let at = (i % len).min(data.len());
            data.splice(at..at, junk.iter().copied());
        }
        Mutation::Duplicate(a, b) => {
            let (a, b) = ((a % len).min(data.len()), (b % len).min(data.len()));
            let piece = data[a.min(b)..a.max(b)].to_vec();
            data.extend_from_slice(&piece);
        }
    }
    data
}

proptest! {
    // 512 cases by default; PROPTEST_CASES=… for a longer hunt.
    #![proptest_config(ProptestConfig::with_cases(
        std::env::var("PROPTEST_CASES").ok().and_then(|v| v.parse().ok()).unwrap_or(512)
    ))]

    #[test]
    fn parse_never_panics_on_arbitrary_bytes(raw in proptest::collection::vec(any::<u8>(), 0..2048)) {
        assert_defined(&parse(&raw));
    }

    #[test]
    fn parse_never_panics_on_arbitrary_bytes_after_a_header(raw in proptest::collection::vec(any::<u8>(), 0..2048)) {
        let mut mail = b"From: Max <max@example.de>\r\nContent-Type: multipart/mixed; boundary=b\r\n".to_vec();
        mail.extend_from_slice(&raw);
        assert_defined(&parse(&mail));
    }

    #[test]
    fn parse_never_panics_on_mutated_corpus_mails(
        pick in any::<usize>(),
        mutations in proptest::collection::vec(mutation(), 1..6),
    ) {
        let mails = corpus();
        let mut data = mails[pick % mails.len()].clone();
        for m in &mutations {
            data = apply(data, m);
        }
        assert_defined(&parse(&data));
    }
}

#[test]
fn a_mail_over_the_size_limit_is_malformed_but_keeps_its_header_facts() {
    let raw = b"From: Max <max@example.de>\r\nSubject: Gross\r\n\r\nxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxx\r\n";
    let limits = Limits { max_size: 40, ..Limits::default() };
    let mail = parse_with(raw, &limits);
    assert!(mail.malformed.as_deref().unwrap().starts_with("too large"));
    assert_eq!(mail.sender.unwrap().as_str(), "max@example.de");
    assert_eq!(mail.subject, "Gross");
}

#[test]
fn an_oversized_header_block_is_malformed() {
    let mut raw = b"From: max@example.de\r\n".to_vec();
    for i in 0..200 {
        raw.extend_from_slice(format!("X-Filler-{i}: {}\r\n", "a".repeat(60)).as_bytes());
    }
    raw.extend_from_slice(b"\r\nText\r\n");
    let mail = parse_with(&raw, &Limits { max_header_bytes: 4096, ..Limits::default() });
    assert!(mail.malformed.as_deref().unwrap().starts_with("header too large"));
    assert_eq!(mail.sender.unwrap().as_str(), "max@example.de");
}

fn nested_messages(levels: usize) -> Vec<u8> {
    let mut raw = b"From: max@example.de\r\nSubject: tief\r\n".to_vec();
    for _ in 0..levels {
        raw.extend_from_slice(b"Content-Type: message/rfc822\r\n\r\nFrom: x@example.de\r\n");
    }
    raw.extend_from_slice(b"Content-Type: text/plain\r\n\r\ninnen\r\n");
    raw
}

#[test]
fn deeply_nested_messages_are_malformed_not_a_crash() {
    let mail = parse(&nested_messages(50));
    assert!(mail.malformed.as_deref().unwrap().contains("nesting too deep"), "{:?}", mail.malformed);
    let mail = parse(&nested_messages(20_000));
    assert_eq!(mail.malformed.as_deref(), Some("too many nested messages"));
    assert_eq!(mail.sender.unwrap().as_str(), "max@example.de");
    assert_defined(&parse(&nested_messages(5)));
}

#[test]
fn deeply_nested_multiparts_are_malformed_not_a_crash() {
    let mut raw = b"From: max@example.de\r\n".to_vec();
    for i in 0..100 {
        raw.extend_from_slice(format!("Content-Type: multipart/mixed; boundary=\"b{i}\"\r\n\r\n--b{i}\r\n").as_bytes());
    }
    raw.extend_from_slice(b"Content-Type: text/plain\r\n\r\ninnen\r\n");
    let mail = parse(&raw);
    assert!(mail.malformed.as_deref().unwrap().contains("nesting too deep"), "{:?}", mail.malformed);
}

#[test]
fn too_many_parts_are_malformed() {
    let mut raw = b"From: max@example.de\r\nContent-Type: multipart/mixed; boundary=\"b\"\r\n\r\n".to_vec();
    raw.extend_from_slice(b"--b\r\nContent-Type: text/plain\r\n\r\nSiehe Anlagen.\r\n");
    for i in 0..50 {
        raw.extend_from_slice(format!("--b\r\nContent-Type: text/plain; name=\"t{i}.txt\"\r\n\r\nx\r\n").as_bytes());
    }
    raw.extend_from_slice(b"--b--\r\n");
    let mail = parse_with(&raw, &Limits { max_parts: 10, ..Limits::default() });
    assert!(mail.malformed.as_deref().unwrap().starts_with("too many MIME parts"), "{:?}", mail.malformed);
    let mail = parse(&raw);
    assert_eq!(mail.malformed, None);
    assert_eq!(mail.attachments.len(), 50);
}

#[test]
fn deeply_nested_html_does_not_crash() {
    let html = format!("{}Text{}", "<div><b>".repeat(20_000), "</b></div>".repeat(20_000));
    let raw = format!("From: max@example.de\r\nContent-Type: text/html; charset=utf-8\r\n\r\n{html}\r\n");
    let mail = parse(raw.as_bytes());
    assert_defined(&mail);
    assert_eq!(mail.html, None);
    assert!(mail.text.contains("Text"));
    assert!(mail.warnings.iter().any(|w| w.english().contains("nested too deeply")));
}

#[test]
fn html_nested_just_below_the_budget_is_rendered_without_stack_overflow() {
    let html = format!("{}Text{}", "<div>".repeat(1800), "</div>".repeat(1800));
    let raw = format!("From: max@example.de\r\nContent-Type: text/html; charset=utf-8\r\n\r\n{html}\r\n");
    let mail = parse(raw.as_bytes());
    assert_defined(&mail);
    assert!(mail.html.is_some(), "{:?}", mail.warnings);
    assert!(mail.text.contains("Text"));
}

/// Found by `parse_never_panics_on_mutated_corpus_mails` (its seed is in
/// `tests/proptest-regressions/robustness.txt`): a `message/rfc822` header pasted into a corpus
/// mail ends a multipart with no part to close — upstream's `debug_assert!` panicked there in a
/// debug build (vendor patch 0006); the parse now ends as in a release build, with a defined mail.
#[test]
fn a_pasted_message_rfc822_header_ends_the_parse_without_a_panic() {
    let mails = corpus();
    let pick = 3076411238524451134usize % mails.len();
    let junk = b"Content-Type: message/rfc822\r\n\r\n".to_vec();
    let data = apply(mails[pick].clone(), &Mutation::Insert(16134016234305307879, junk));
    let mail = parse(&data);
    assert_defined(&mail);
    // What the header and the parts before the paste said is kept.
    let original = parse(&mails[pick]);
    assert_eq!(mail.malformed, None);
    assert_eq!(mail.sender.unwrap().as_str(), original.sender.unwrap().as_str());
    assert_eq!(
        (mail.subject.as_str(), mail.attachments.len()),
        (original.subject.as_str(), original.attachments.len())
    );
}
