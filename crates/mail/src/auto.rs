//! Automatic mail (auto-replies, bounces, mailing lists) must not open cases or trigger replies,
//! so we recognise it by the standard headers and, as a last resort, by typical subjects.

use crate::raw::{RawHeader, first};

const OUT_OF_OFFICE: [&str; 14] = [
    "automatische antwort",
    "abwesenheitsnotiz",
    "abwesenheitsmeldung",
    "abwesend:",
    "out of office",
    "out-of-office",
    "autoreply",
    "auto-reply",
    "auto reply",
    "automatic reply",
    "auto:",
    "autosvar",
    "urlaubsnotiz",
    "automatische benachrichtigung",
];

const BOUNCE_SUBJECT: [&str; 10] = [
    "undeliver",
    "undelivered",
    "delivery status notification",
    "delivery failure",
    "mail delivery failed",
    "returned mail",
    "unzustellbar",
    "nicht zustellbar",
    "failure notice",
    "delivery has failed",
];

/// Why this mail was sent by a machine, if it was.
pub fn automatic(headers: &[RawHeader], subject: &str) -> Option<String> {
    let token =
        |name: &str| first(headers, name).map(|v| v.split(';').next().unwrap_or("").trim().to_ascii_lowercase());
    if let Some(v) = token("Auto-Submitted")
        && v != "no"
    {
        return Some(format!("Auto-Submitted: {v}"));
    }
    for name in ["X-Autoreply", "X-Autorespond", "X-Autoresponder", "X-Auto-Response-Suppress"] {
        if first(headers, name).is_some() {
            return Some(format!("{name} header"));
        }
    }
    if let Some(v) = token("Precedence")
        && matches!(v.as_str(), "bulk" | "junk" | "list")
    {
        return Some(format!("Precedence: {v}"));
    }
    for name in ["List-Id", "List-Unsubscribe"] {
        if first(headers, name).is_some() {
            return Some(format!("{name} header (mailing list)"));
        }
    }
    if let Some(ct) = first(headers, "Content-Type").map(str::to_ascii_lowercase)
        && ct.trim_start().starts_with("multipart/report")
    {
        let kind = ["delivery-status", "disposition-notification"].into_iter().find(|k| ct.contains(k));
        return Some(match kind {
            Some(k) => format!("Content-Type: multipart/report ({k})"),
            None => "Content-Type: multipart/report".into(),
        });
    }
    let subject = subject.trim().to_lowercase();
    let from = first(headers, "From").unwrap_or("").to_ascii_lowercase();
    if (from.contains("mailer-daemon") || from.contains("postmaster"))
        && BOUNCE_SUBJECT.iter().any(|b| subject.contains(b))
    {
        return Some("bounce from MAILER-DAEMON".into());
    }
    if OUT_OF_OFFICE.iter().any(|p| subject.starts_with(p)) {
        return Some("out-of-office subject".into());
    }
    None
}

#[cfg(test)]
mod tests {
    use super::*;

    fn check(header: Option<(&str, &str)>, subject: &str, expected: Option<&str>) {
        let mut hs = vec![RawHeader { name: "From".into(), value: "Max <max@example.de>".into() }];
        if let Some((n, v)) = header {
            hs.push(RawHeader { name: n.into(), value: v.into() });
        }
        assert_eq!(automatic(&hs, subject).as_deref(), expected, "{header:?} {subject:?}");
    }

    #[test]
    fn automatic_mail_is_recognised_by_headers_and_typical_subjects() {
        check(None, "Schadenmeldung", None);
        check(Some(("Auto-Submitted", "no")), "x", None);
        check(Some(("auto-submitted", "auto-replied")), "x", Some("Auto-Submitted: auto-replied"));
        check(Some(("Precedence", "bulk")), "x", Some("Precedence: bulk"));
        check(Some(("Precedence", "first-class")), "x", None);
        check(Some(("List-Id", "<news.firma.de>")), "x", Some("List-Id header (mailing list)"));
        check(Some(("List-Unsubscribe", "<mailto:u@x.de>")), "x", Some("List-Unsubscribe header (mailing list)"));
        check(Some(("X-Auto-Response-Suppress", "All")), "x", Some("X-Auto-Response-Suppress header"));
        check(Some(("X-Autoreply", "yes")), "x", Some("X-Autoreply header"));
        check(
            Some(("Content-Type", "multipart/report; report-type=delivery-status; boundary=x")),
            "x",
            Some("Content-Type: multipart/report (delivery-status)"),
        );
        check(None, "Automatische Antwort: Ihre Anfrage", Some("out-of-office subject"));
        check(None, "Abwesenheitsnotiz", Some("out-of-office subject"));
        check(None, "Out of Office: Re: Vertrag", Some("out-of-office subject"));
        check(None, "AW: Automatische Antwort", None);
    }

    #[test]
    fn a_bounce_needs_both_the_daemon_sender_and_a_bounce_subject() {
        let hs = |from: &str| vec![RawHeader { name: "From".into(), value: from.into() }];
        assert!(automatic(&hs("MAILER-DAEMON@mx.firma.de"), "Undelivered Mail Returned to Sender").is_some());
        assert!(automatic(&hs("postmaster@firma.de"), "Unzustellbar: Vertrag").is_some());
        assert!(automatic(&hs("postmaster@firma.de"), "Frage zum Vertrag").is_none());
    }
}

/// Whether the topmost `Return-Path` (the envelope sender the last server recorded) is empty
/// (`<>`) or MAILER-DAEMON: a bounce or another automatic notice (RFC 3834 never answers it).
/// Reads only the header block.
pub fn null_sender(raw: &[u8]) -> bool {
    let (block, _) = crate::raw::header_block(crate::raw::without_mbox_line(raw));
    let headers = crate::raw::headers(block);
    let Some(path) = first(&headers, "Return-Path") else { return false };
    let path = path.trim().trim_start_matches('<').trim_end_matches('>').trim().to_ascii_lowercase();
    path.is_empty() || path.starts_with("mailer-daemon@") || path == "mailer-daemon"
}

#[cfg(test)]
mod null_sender_tests {
    use super::null_sender;

    #[test]
    fn an_empty_or_mailer_daemon_return_path_is_a_null_sender() {
        let cases: [(&[u8], bool); 6] = [
            (b"Return-Path: <>\r\nFrom: a@b.de\r\n\r\nx", true),
            (b"Return-Path: <MAILER-DAEMON@mx.example.de>\r\n\r\nx", true),
            (b"Return-Path:  < >\r\n\r\nx", true),
            (b"Return-Path: <kunde@example.de>\r\nReturn-Path: <>\r\n\r\nx", false),
            (b"From: a@b.de\r\n\r\nReturn-Path: <>\r\n", false),
            (b"From: a@b.de\r\n\r\nx", false),
        ];
        for (raw, expected) in cases {
            assert_eq!(null_sender(raw), expected, "{}", String::from_utf8_lossy(raw));
        }
    }
}
