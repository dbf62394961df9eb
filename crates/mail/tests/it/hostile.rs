//! The hostile corpus (`hostile_cases`): every mail has a defined outcome — parsed with warnings or
//! `malformed` with a reason — never a panic or a hang, and never with an attacker's address from a
//! display name or encoded word as the sender. How fast it parses is measured in bench/, not here.

use std::sync::mpsc;
use std::time::Duration;

use postkorb_mail::{InboundMail, parse};

use crate::hostile_cases;

use hostile_cases::{BOSS, Hostile};

/// Only a guard against a hang (a parse that never ends fails the test instead of stalling it).
const HANG_GUARD: Duration = Duration::from_secs(300);

/// Parses on its own thread (2 MB stack, like a tokio worker) so a hang fails the test instead of stalling it.
fn parse_bounded(raw: Vec<u8>) -> InboundMail {
    let (tx, rx) = mpsc::channel();
    std::thread::Builder::new()
        .stack_size(2 * 1024 * 1024)
        .spawn(move || {
            let _ = tx.send(parse(&raw));
        })
        .unwrap();
    rx.recv_timeout(HANG_GUARD).expect("parse hung (or crashed the thread)")
}

fn problems(h: &Hostile, mail: &InboundMail) -> Vec<String> {
    let e = &h.expect;
    let mut p = Vec::new();
    let sender = mail.sender.as_ref().map(|a| a.as_str()).map_err(|s| s.as_str());
    let sender_ok = match (sender, e.sender) {
        (Ok(got), Ok(want)) => got == want,
        (Err(got), Err(want)) => got.starts_with(want),
        _ => false,
    };
    if !sender_ok {
        p.push(format!("sender {sender:?}, expected {:?}", e.sender));
    }
    if sender == Ok(BOSS) {
        p.push("the attacker's address became the sender".into());
    }
    match (&mail.malformed, e.malformed) {
        (None, None) => {}
        (Some(got), Some(want)) if got.starts_with(want) => {}
        (got, want) => p.push(format!("malformed {got:?}, expected {want:?}")),
    }
    if mail.malformed.as_deref().is_some_and(|m| m.starts_with("parser panic")) {
        p.push("a parser panic was caught".into());
    }
    for w in e.warnings {
        if !mail.warnings.iter().any(|have| have.english().contains(w)) {
            p.push(format!("warnings {:?} lack {w:?}", mail.warnings));
        }
    }
    let names: Vec<&str> = mail.attachments.iter().map(|a| a.name.as_str()).collect();
    if let Some(want) = e.attachments
        && names != want
    {
        p.push(format!("attachments {names:?}, expected {want:?}"));
    }
    p.extend(inert(mail));
    p
}

/// What must hold for any parsed mail: safe names, a short clean subject, bounded text.
fn inert(mail: &InboundMail) -> Vec<String> {
    let mut p = Vec::new();
    for a in &mail.attachments {
        let n = &a.name;
        if n.is_empty() || n.contains(['/', '\\', ':']) || n.starts_with('.') || n.chars().any(char::is_control) {
            p.push(format!("unsafe attachment name {n:?}"));
        }
    }
    if mail.subject.chars().any(char::is_control) || mail.subject.chars().count() > 1000 {
        p.push(format!("subject has control characters or is too long ({} chars)", mail.subject.len()));
    }
    if mail.text.len() > 4 * 1024 * 1024 {
        p.push(format!("text of {} bytes", mail.text.len()));
    }
    p
}

fn check_all(cases: Vec<Hostile>) {
    let mut failures = Vec::new();
    for h in cases {
        let mail = parse_bounded(h.raw.clone());
        failures.extend(problems(&h, &mail).into_iter().map(|p| format!("{}: {p}", h.name)));
    }
    assert!(failures.is_empty(), "\n{}", failures.join("\n"));
}

#[test]
fn every_small_hostile_mail_has_its_defined_outcome() {
    check_all(hostile_cases::small());
}

#[test]
fn a_20_mb_single_line_base64_body_parses_to_its_defined_outcome() {
    check_all(hostile_cases::big());
}

#[test]
fn a_mail_over_50_mb_is_malformed_without_a_full_parse() {
    check_all(vec![hostile_cases::too_large()]);
}

#[test]
fn the_single_line_base64_encoder_of_the_generator_is_standard_base64() {
    assert_eq!(hostile_cases::base64_line(b"boss@firma.de"), b"Ym9zc0BmaXJtYS5kZQ==");
    assert_eq!(hostile_cases::base64_line(b"ab"), b"YWI=");
    assert_eq!(hostile_cases::base64_line(b"abc"), b"YWJj");
}
