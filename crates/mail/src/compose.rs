//! The mails Postkorb sends (notifications, Eingangsbestätigungen, the test message): an
//! [`Outgoing`] → RFC 5322 bytes. Pure: the date and the Message-ID are given by the caller.
//!
//! Always `Auto-Submitted` (RFC 3834), so no well-behaved program answers — and Postkorb's own
//! import keeps such a mail as automatic instead of opening a Vorgang. Never `Precedence`.
//! Headers with non-ASCII words are RFC 2047 encoded (UTF-8, base64); the text is UTF-8
//! quoted-printable. CRLF line ends, every line at most 78 characters.

use std::fmt::Write as _;

/// A name and an address (`Büro Muster <info@buero.de>`); the name may be empty.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Mailbox {
    pub name: String,
    pub address: String,
}

/// Why a program sent the mail (RFC 3834 `Auto-Submitted`).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum AutoSubmitted {
    /// A notification, a test message.
    Generated,
    /// An answer to a mail (Eingangsbestätigung).
    Replied,
}

/// One mail to send.
#[derive(Clone, Debug)]
pub struct Outgoing {
    pub from: Mailbox,
    pub to: Vec<Mailbox>,
    pub subject: String,
    /// The `Date:` (UTC milliseconds), written on the office's clock.
    pub date_ms: i64,
    /// Without angle brackets, e.g. from [`message_id`].
    pub message_id: String,
    pub auto: AutoSubmitted,
    /// The Message-ID answered (without brackets).
    pub in_reply_to: Option<String>,
    /// The thread (without brackets), oldest first; `in_reply_to` is added last if missing.
    pub references: Vec<String>,
    /// Plain text; line ends are normalised.
    pub text: String,
}

/// A Message-ID for a mail sent now: `postkorb.<time>.<unique>@<domain>`; `unique` is random.
pub fn message_id(now_ms: i64, unique: u64, domain: &str) -> String {
    let domain = domain.trim().trim_matches(['<', '>', '[', ']']);
    let domain = if domain.is_empty() || !domain.chars().all(|c| c.is_ascii_alphanumeric() || ".-".contains(c)) {
        "postkorb.invalid"
    } else {
        domain
    };
    format!("postkorb.{now_ms}.{unique:016x}@{domain}")
}

/// The mail's bytes, ready for SMTP.
pub fn compose(m: &Outgoing) -> Vec<u8> {
    let mut out = String::new();
    header(&mut out, "From", &mailbox(&m.from));
    let to: Vec<String> = m.to.iter().map(mailbox).collect();
    header(&mut out, "To", &to.join(", "));
    header(&mut out, "Subject", &encode_words(&m.subject));
    header(&mut out, "Date", &rfc5322_date(m.date_ms));
    header(&mut out, "Message-ID", &format!("<{}>", clean_id(&m.message_id)));
    if let Some(parent) = &m.in_reply_to {
        header(&mut out, "In-Reply-To", &format!("<{}>", clean_id(parent)));
    }
    let mut refs: Vec<String> = m.references.iter().map(|r| clean_id(r)).filter(|r| !r.is_empty()).collect();
    if let Some(parent) = m.in_reply_to.as_deref().map(clean_id)
        && !refs.contains(&parent)
    {
        refs.push(parent);
    }
    if !refs.is_empty() {
        let list: Vec<String> = refs.iter().map(|r| format!("<{r}>")).collect();
        header(&mut out, "References", &list.join(" "));
    }
    let auto = match m.auto {
        AutoSubmitted::Generated => "auto-generated",
        AutoSubmitted::Replied => "auto-replied",
    };
    header(&mut out, "Auto-Submitted", auto);
    header(&mut out, "MIME-Version", "1.0");
    header(&mut out, "Content-Type", "text/plain; charset=utf-8");
    header(&mut out, "Content-Transfer-Encoding", "quoted-printable");
    out.push_str("\r\n");
    out.push_str(&quoted_printable(&m.text));
    out.into_bytes()
}

/// `Name <address>` with the name quoted or encoded as needed.
fn mailbox(m: &Mailbox) -> String {
    let address = m.address.trim().replace(['\r', '\n', '<', '>', ' ', ','], "");
    let name = m.name.replace(['\r', '\n'], " ");
    let name = name.trim();
    if name.is_empty() {
        return format!("<{address}>");
    }
    if name.is_ascii() {
        let quoted = name.replace('\\', "\\\\").replace('"', "\\\"");
        format!("\"{quoted}\" <{address}>")
    } else {
        format!("{} <{address}>", encode_words(name))
    }
}

fn clean_id(id: &str) -> String {
    id.trim().trim_matches(['<', '>']).chars().filter(|c| c.is_ascii_graphic() && !"<>".contains(*c)).collect()
}

/// Appends `Name: value`, folding at spaces so that no line is longer than 78 characters.
fn header(out: &mut String, name: &str, value: &str) {
    let value = value.replace(['\r', '\n'], " ");
    let mut line_len = name.len() + 1;
    out.push_str(name);
    out.push(':');
    for (i, word) in value.split(' ').enumerate() {
        if i > 0 && line_len + 1 + word.len() > 78 {
            out.push_str("\r\n");
            line_len = 0;
        }
        out.push(' ');
        out.push_str(word);
        line_len += 1 + word.len();
    }
    out.push_str("\r\n");
}

/// Plain ASCII words stay; otherwise RFC 2047 `=?utf-8?b?…?=` words, each at most 75
/// characters, cut at character boundaries and separated by spaces (folded by [`header`]).
fn encode_words(text: &str) -> String {
    let text = text.replace(['\r', '\n', '\t'], " ");
    if text.is_ascii() && !text.contains("=?") {
        return text;
    }
    use base64::Engine as _;
    let b64 = base64::engine::general_purpose::STANDARD;
    // 36 bytes = 48 base64 characters, a word of 60: "Subject: " and one word stay below 78.
    let mut words = Vec::new();
    let mut chunk = String::new();
    for c in text.chars() {
        if chunk.len() + c.len_utf8() > 36 {
            words.push(format!("=?utf-8?b?{}?=", b64.encode(&chunk)));
            chunk.clear();
        }
        chunk.push(c);
    }
    if !chunk.is_empty() {
        words.push(format!("=?utf-8?b?{}?=", b64.encode(&chunk)));
    }
    words.join(" ")
}

/// RFC 2045 quoted-printable of UTF-8 text with CRLF line ends, soft breaks keeping every line at
/// most 76 characters.
fn quoted_printable(text: &str) -> String {
    let text = text.replace("\r\n", "\n").replace('\r', "\n");
    let mut out = String::with_capacity(text.len() + text.len() / 8);
    // Every line ends in CRLF, the last one too (no extra empty line for a text ending in one).
    for line in text.strip_suffix('\n').unwrap_or(&text).split('\n') {
        let mut len = 0;
        let bytes = line.as_bytes();
        for (i, &b) in bytes.iter().enumerate() {
            let last = i + 1 == bytes.len();
            let plain = ((b == b' ' || b == b'\t') && !last) || (b.is_ascii_graphic() && b != b'=');
            let piece = if plain { (b as char).to_string() } else { format!("={b:02X}") };
            // Leave room for the soft break "=" (and, at the line's end, none needed).
            let room = if last { 76 } else { 75 };
            if len + piece.len() > room {
                out.push_str("=\r\n");
                len = 0;
            }
            out.push_str(&piece);
            len += piece.len();
        }
        out.push_str("\r\n");
    }
    out
}

/// `Thu, 05 Dec 2026 14:03:00 +0100` on the office's clock.
fn rfc5322_date(ms: i64) -> String {
    use postkorb_core::time::{berlin_civil, berlin_offset_ms};
    let (y, mo, d, h, mi) = berlin_civil(ms);
    let secs = ms.div_euclid(1000).rem_euclid(60);
    // 1 January 1970 was a Thursday.
    let days = (ms + berlin_offset_ms(ms)).div_euclid(86_400_000);
    let weekday = ["Thu", "Fri", "Sat", "Sun", "Mon", "Tue", "Wed"][days.rem_euclid(7) as usize];
    let month = ["Jan", "Feb", "Mar", "Apr", "May", "Jun", "Jul", "Aug", "Sep", "Oct", "Nov", "Dec"][(mo - 1) as usize];
    let offset_min = berlin_offset_ms(ms) / 60_000;
    let mut s = String::new();
    let _ = write!(
        s,
        "{weekday}, {d:02} {month} {y} {h:02}:{mi:02}:{secs:02} +{:02}{:02}",
        offset_min / 60,
        offset_min % 60
    );
    s
}

#[cfg(test)]
mod tests {
    use super::*;

    fn sample() -> Outgoing {
        Outgoing {
            from: Mailbox { name: "Büro Müller & Söhne".into(), address: "info@buero.test".into() },
            to: vec![Mailbox { name: "Jürgen \"JJ\" Öztürk".into(), address: "juergen@kunde.test".into() }],
            subject: "Eingangsbestätigung: Schaden an der Glasfassade – Ihre Nachricht vom 3. März".into(),
            date_ms: 1_764_943_380_000, // 2025-12-05 14:03 UTC
            message_id: "postkorb.1.abc@buero.test".into(),
            auto: AutoSubmitted::Replied,
            in_reply_to: Some("<orig@kunde.test>".into()),
            references: vec!["first@kunde.test".into()],
            text: "Guten Tag,\nIhre E-Mail „Schaden“ ist eingegangen. Grüße aus Köln\n.\nEine sehr lange Zeile, \
                   die weit über achtundsiebzig Zeichen hinausgeht und daher weich umbrochen werden muss, ohne \
                   dass ein Wort verloren geht.\n=Gleich am Anfang \n"
                .into(),
        }
    }

    #[test]
    fn a_composed_mail_reads_back_with_umlauts_and_threading() {
        let m = sample();
        let raw = compose(&m);
        let parsed = mail_parser::MessageParser::default().parse(&raw).unwrap();
        assert_eq!(parsed.subject().unwrap(), m.subject);
        assert_eq!(parsed.body_text(0).unwrap().replace("\r\n", "\n"), m.text);
        assert_eq!(parsed.from().unwrap().first().unwrap().name().unwrap(), "Büro Müller & Söhne");
        assert_eq!(parsed.to().unwrap().first().unwrap().name().unwrap(), "Jürgen \"JJ\" Öztürk");
        assert_eq!(parsed.message_id().unwrap(), "postkorb.1.abc@buero.test");
        assert_eq!(parsed.in_reply_to().as_text().unwrap(), "orig@kunde.test");
        let refs: Vec<String> = parsed.references().as_text_list().unwrap().iter().map(|r| r.to_string()).collect();
        assert_eq!(refs, ["first@kunde.test", "orig@kunde.test"]);
        assert_eq!(parsed.header_raw("Auto-Submitted").unwrap().trim(), "auto-replied");
        assert!(parsed.header_raw("Precedence").is_none());
        let date = parsed.date().unwrap();
        assert_eq!((date.hour, date.minute, date.tz_hour, date.tz_before_gmt), (15, 3, 1, false));
    }

    #[test]
    fn every_line_is_ascii_crlf_and_at_most_78_characters() {
        let raw = compose(&sample());
        assert!(raw.is_ascii());
        let text = String::from_utf8(raw).unwrap();
        assert!(!text.replace("\r\n", "").contains('\n'), "bare LF");
        for line in text.split("\r\n") {
            assert!(line.len() <= 78, "{} chars: {line}", line.len());
        }
    }

    #[test]
    fn our_own_import_reads_it_and_sees_the_mail_as_automatic() {
        let m = Outgoing { auto: AutoSubmitted::Generated, ..sample() };
        let parsed = crate::parse(&compose(&m));
        assert_eq!(parsed.subject, m.subject);
        assert_eq!(parsed.sender.as_ref().unwrap().as_str(), "info@buero.test");
        assert_eq!(parsed.display_name.as_deref(), Some("Büro Müller & Söhne"));
        assert_eq!(parsed.text.replace("\r\n", "\n").trim_end(), m.text.trim_end());
        assert!(parsed.warnings.is_empty(), "{:?}", parsed.warnings);
        assert!(parsed.automatic.as_deref().is_some_and(|a| a.contains("auto-generated")), "{:?}", parsed.automatic);
    }

    #[test]
    fn header_injection_through_names_subjects_and_ids_is_impossible() {
        let m = Outgoing {
            from: Mailbox { name: "X\r\nBcc: evil@x.test".into(), address: "a@b.test\r\nBcc: e@x".into() },
            subject: "Hallo\r\nBcc: evil@x.test".into(),
            message_id: "id>\r\nBcc: e@x".into(),
            ..sample()
        };
        let text = String::from_utf8(compose(&m)).unwrap();
        assert!(!text.lines().any(|l| l.to_ascii_lowercase().starts_with("bcc:")), "{text}");
    }

    #[test]
    fn message_ids_are_unique_per_call_and_have_a_sane_domain() {
        assert_eq!(message_id(5, 255, "buero.test"), "postkorb.5.00000000000000ff@buero.test");
        assert_eq!(message_id(5, 1, "bad domain>"), "postkorb.5.0000000000000001@postkorb.invalid");
    }

    #[test]
    fn the_date_is_on_the_office_clock_in_summer_and_winter() {
        assert_eq!(rfc5322_date(1_764_943_380_000), "Fri, 05 Dec 2025 15:03:00 +0100");
        assert_eq!(rfc5322_date(1_751_371_200_000), "Tue, 01 Jul 2025 14:00:00 +0200");
    }
}
