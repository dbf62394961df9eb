//! Forwarded originals: clients forward a customer's mail either as an attached message/rfc822
//! part or inline below a marker line; both tell us who originally wrote and what.

use mail_parser::{DateTime, Message, MessageParser, PartType};

use crate::{Forwarded, Warning, body, raw};

const MARKERS: [&str; 10] = [
    "weitergeleitete nachricht",
    "anfang der weitergeleiteten nachricht",
    "ursprüngliche nachricht",
    "urspruengliche nachricht",
    "original-nachricht",
    "forwarded message",
    "begin forwarded message",
    "original message",
    "weitergeleitete e-mail",
    "forwarded e-mail",
];

/// The longest marker, in bytes (upper and lower case of these letters have the same length).
const MARKER_MAX_BYTES: usize = 37;

/// The forwarded original: an attached message first, else an inline forward in `text`.
pub fn forwarded(msg: &Message<'_>, text: &str, warnings: &mut Vec<Warning>) -> Option<Forwarded> {
    let nested = msg.attachments.iter().find_map(|&id| match &msg.parts.get(id as usize)?.body {
        PartType::Message(m) => Some(m),
        _ => None,
    });
    match nested {
        Some(m) => Some(attached(m, warnings)),
        None => inline(text),
    }
}

fn attached(m: &Message<'_>, warnings: &mut Vec<Warning>) -> Forwarded {
    // Its display name and subject, read again when they are raw 8-bit (Windows-1252, as at the top).
    let root = m.root_part();
    let block = m.raw_message.get(root.offset_header as usize..root.offset_body as usize).unwrap_or_default();
    let (readable, read_as_1252) = raw::utf8_or_1252(block);
    let reparsed = if read_as_1252 { MessageParser::default().parse_headers(readable.as_ref()) } else { None };
    let m_headers = reparsed.as_ref().unwrap_or(m);
    if read_as_1252 {
        warnings.push(Warning::InForwarded { inner: Box::new(Warning::HeaderReadAs1252) });
    }
    let from = m_headers.from().and_then(|a| a.first()).map(|a| match (a.name(), a.address()) {
        (Some(n), Some(ad)) => format!("{n} <{ad}>"),
        (None, Some(ad)) => ad.to_string(),
        (Some(n), None) => n.to_string(),
        (None, None) => String::new(),
    });
    let mut inner = Vec::new();
    let (text, _) = body::bodies(m, &mut inner);
    warnings.extend(inner.into_iter().map(|w| Warning::InForwarded { inner: Box::new(w) }));
    Forwarded {
        from: from.filter(|s| !s.is_empty()),
        subject: m_headers.subject().map(str::to_string),
        date: m.header_raw("Date").map(|d| d.trim().to_string()),
        date_ms: m.date().filter(|d| d.is_valid()).map(|d| d.to_timestamp().saturating_mul(1000)),
        text: text.trim().to_string(),
    }
}

fn is_marker(line: &str) -> bool {
    let core = line.trim().trim_matches(|c: char| c == '-' || c == '=' || c.is_whitespace());
    let core = core.trim_end_matches(':').trim();
    // Most lines are text, longer than any marker: no lower-case copy of each of them.
    if core.len() > MARKER_MAX_BYTES {
        return false;
    }
    MARKERS.contains(&core.to_lowercase().as_str())
}

/// "Von: Max <max@x.de>" → ("von", "Max <max@x.de>"); tolerates "*Von:*" from HTML-derived text.
fn header_line(line: &str) -> Option<(String, String)> {
    let (key, value) = line.split_once(':')?;
    let key = key.trim().trim_matches('*').trim().to_lowercase();
    let known = [
        "von",
        "from",
        "betreff",
        "subject",
        "datum",
        "date",
        "gesendet",
        "sent",
        "an",
        "to",
        "cc",
        "kopie",
        "antwort an",
        "reply-to",
    ];
    known.contains(&key.as_str()).then(|| (key, value.trim().trim_start_matches('*').trim().to_string()))
}

/// An inline forward: a marker line, header-ish lines, then the original text.
pub fn inline(text: &str) -> Option<Forwarded> {
    let lines: Vec<&str> = text.lines().collect();
    let start = lines.iter().position(|l| is_marker(l))?;
    let mut i = start + 1;
    while lines.get(i).is_some_and(|l| l.trim().is_empty()) {
        i += 1;
    }
    let mut fwd = Forwarded { from: None, subject: None, date: None, date_ms: None, text: String::new() };
    let mut seen = 0;
    while let Some((key, value)) = lines.get(i).and_then(|l| header_line(l.trim())) {
        let slot = match key.as_str() {
            "von" | "from" => &mut fwd.from,
            "betreff" | "subject" => &mut fwd.subject,
            "datum" | "date" | "gesendet" | "sent" => &mut fwd.date,
            _ => &mut None,
        };
        if slot.is_none() {
            *slot = Some(value);
        }
        seen += 1;
        i += 1;
    }
    if seen == 0 {
        return None;
    }
    fwd.text = lines.get(i..).unwrap_or_default().join("\n").trim().to_string();
    fwd.date_ms = fwd.date.as_deref().and_then(date_ms);
    Some(fwd)
}

/// An RFC 5322 date with a time of day („Tue, 4 Mar 2025 10:15:00 +0100“) as unix milliseconds.
/// A date without a time would be shown as a made-up midnight; a German one stays as written.
fn date_ms(written: &str) -> Option<i64> {
    if !written.contains(':') {
        return None;
    }
    let d = DateTime::parse_rfc822(written.trim()).filter(|d| d.is_valid())?;
    Some(d.to_timestamp().saturating_mul(1000))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_length_bound_admits_every_marker_in_any_case() {
        for m in MARKERS {
            assert!(m.len() <= MARKER_MAX_BYTES, "{m}");
            assert!(is_marker(&format!("---- {} ----", m.to_uppercase())), "{m}");
        }
        assert!(!is_marker(&format!("{} und noch viel mehr Text", MARKERS[1])));
    }

    fn check(text: &str, expected: Option<(&str, &str, &str, &str)>) {
        let got = inline(text)
            .map(|f| (f.from.unwrap_or_default(), f.subject.unwrap_or_default(), f.date.unwrap_or_default(), f.text));
        let got = got.as_ref().map(|(a, b, c, d)| (a.as_str(), b.as_str(), c.as_str(), d.as_str()));
        assert_eq!(got, expected, "text {text:?}");
    }

    #[test]
    fn inline_forwards_in_common_client_formats_are_recognised() {
        check(
            "FYI\n\n-------- Weitergeleitete Nachricht --------\nBetreff: Schaden\nDatum: Mon, 3 Mar 2025\nVon: Max <max@x.de>\nAn: info@makler.de\n\nHallo,\nText.\n",
            Some(("Max <max@x.de>", "Schaden", "Mon, 3 Mar 2025", "Hallo,\nText.")),
        );
        check(
            "---------- Forwarded message ---------\nFrom: Eva <eva@y.de>\nDate: Tue, 4 Mar 2025\nSubject: KFZ\nTo: <a@b.de>\n\nBody",
            Some(("Eva <eva@y.de>", "KFZ", "Tue, 4 Mar 2025", "Body")),
        );
        check(
            "Anfang der weitergeleiteten Nachricht:\n\nVon: Eva <eva@y.de>\nBetreff: Hausrat\nDatum: 4. März 2025 um 10:15:00 MEZ\n\nText",
            Some(("Eva <eva@y.de>", "Hausrat", "4. März 2025 um 10:15:00 MEZ", "Text")),
        );
        check(
            "-----Ursprüngliche Nachricht-----\nVon: Eva\nGesendet: Montag, 3. März 2025 10:15\nBetreff: AW: x\n\nT",
            Some(("Eva", "AW: x", "Montag, 3. März 2025 10:15", "T")),
        );
        check("-----Original Message-----\nFrom: a\nSent: b\nSubject: c\n\nd", Some(("a", "c", "b", "d")));
    }

    #[test]
    fn an_english_date_with_a_time_is_read_and_a_german_one_stays_text() {
        assert_eq!(date_ms("Tue, 4 Mar 2025 10:15:00 +0100"), Some(1_741_079_700_000));
        assert_eq!(date_ms("Mon, 3 Mar 2025"), None);
        assert_eq!(date_ms("Montag, 3. März 2025 10:15"), None);
        let f = inline("---------- Forwarded message ---------\nFrom: a\nDate: Tue, 4 Mar 2025 10:15:00 +0100\n\nx");
        assert_eq!(f.unwrap().date_ms, Some(1_741_079_700_000));
    }

    #[test]
    fn a_marker_without_header_lines_is_not_a_forward() {
        check("-------- Weitergeleitete Nachricht --------\n\nnur Text", None);
        check("Ich habe Ihnen die Nachricht weitergeleitet.", None);
    }
}
