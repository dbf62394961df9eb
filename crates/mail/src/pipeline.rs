//! The steps of [`crate::parse_with`], split so that a panic in the full MIME walk still leaves
//! the header facts (sender, subject, automatic) from the cheaper header stage.

use mail_parser::{Message, MessageParser};

use crate::{InboundMail, Limits, Warning, attachments, auto, body, forward, raw, sender, shape};

impl InboundMail {
    /// A mail about which nothing is known yet.
    pub(crate) fn unknown(why: Option<String>) -> Self {
        InboundMail {
            sender: Err("no From header".into()),
            display_name: None,
            subject: String::new(),
            date_ms: None,
            message_id: None,
            text: String::new(),
            html: None,
            attachments: Vec::new(),
            forwarded: None,
            automatic: None,
            malformed: why,
            warnings: Vec::new(),
        }
    }
}

/// Everything the top-level header block tells us; sets `malformed` for limit violations.
pub fn header_stage(raw_mail: &[u8], limits: &Limits) -> InboundMail {
    if raw_mail.iter().all(u8::is_ascii_whitespace) {
        return InboundMail::unknown(Some("empty message".into()));
    }
    if !raw::starts_with_header(raw_mail) {
        return InboundMail::unknown(Some("no headers".into()));
    }
    let mut mail = InboundMail::unknown(None);
    let (mut block, _) = raw::header_block(raw_mail);
    if block.len() > limits.max_header_bytes {
        mail.malformed = Some(format!("header too large ({} bytes, limit {})", block.len(), limits.max_header_bytes));
        block = &block[..limits.max_header_bytes];
    }
    if block.contains(&0) {
        mail.warnings.push(Warning::NulInHeader);
    }
    let headers = raw::headers(block);
    let (from, phrase) = sender::sender(&raw::values(&headers, "From"));
    let (readable, read_as_1252) = raw::utf8_or_1252(block);
    if let Some(parsed) = MessageParser::default().parse_headers(readable.as_ref()) {
        mail.subject = one_line(
            parsed.subject().unwrap_or_default(),
            MAX_SUBJECT_CHARS,
            Warning::SubjectCut { max: MAX_SUBJECT_CHARS },
            &mut mail.warnings,
        );
        mail.date_ms = parsed.date().filter(|d| d.is_valid()).map(|d| d.to_timestamp().saturating_mul(1000));
        mail.message_id =
            parsed.message_id().map(|id| id.trim().trim_matches(['<', '>']).to_string()).filter(|id| !id.is_empty());
        if from.is_ok() {
            mail.display_name = display_name(&parsed, phrase)
                .map(|n| one_line(&n, MAX_NAME_CHARS, Warning::NameCut { max: MAX_NAME_CHARS }, &mut mail.warnings))
                .filter(|n| !n.is_empty());
        }
    }
    if read_as_1252 {
        mail.warnings.push(Warning::HeaderReadAs1252);
    }
    mail.sender = from;
    mail.automatic = auto::automatic(&headers, &mail.subject);
    if raw_mail.len() > limits.max_size {
        mail.malformed = Some(format!("too large ({} bytes, limit {})", raw_mail.len(), limits.max_size));
    }
    mail
}

const MAX_SUBJECT_CHARS: usize = 1000;
const MAX_NAME_CHARS: usize = 200;

/// A header text as one clean line: control characters (CR, LF, NUL, …) become spaces, and it
/// is cut to `max` characters with a warning, so it cannot break lines in lists, logs or replies.
fn one_line(value: &str, max: usize, cut: Warning, warnings: &mut Vec<Warning>) -> String {
    let clean: String = value.chars().map(|c| if c.is_control() { ' ' } else { c }).collect();
    let clean = clean.trim();
    if clean.chars().count() <= max {
        return clean.to_string();
    }
    warnings.push(cut);
    clean.chars().take(max).collect::<String>().trim_end().to_string()
}

/// The decoded display name when mail-parser agrees there is exactly one mailbox, else our own.
fn display_name(parsed: &Message<'_>, phrase: Option<String>) -> Option<String> {
    let mut all = parsed.from().into_iter().flat_map(|a| a.iter());
    let decoded = match (all.next(), all.next()) {
        (Some(one), None) => one.name().map(|n| n.trim().to_string()),
        _ => None,
    };
    decoded.or_else(|| phrase.filter(|p| !p.contains("=?"))).filter(|n| !n.is_empty())
}

/// The MIME walk: bodies, attachments, forwarded original, structural warnings and limits.
/// With `bodies` unset, only the plain text is made, not the HTML and the forwarded original, and
/// the warnings found while making it are dropped ([`crate::parse_for_import`]).
pub fn body_stage(raw_mail: &[u8], limits: &Limits, bodies: bool, mail: &mut InboundMail) {
    if shape::nested_message_markers(raw_mail) > limits.max_parts {
        mail.malformed = Some("too many nested messages".into());
        return;
    }
    let Some(msg) = MessageParser::default().parse(raw_mail) else {
        mail.malformed = Some("no headers".into());
        return;
    };
    let s = shape::shape(&msg, limits);
    if s.depth > limits.max_depth {
        mail.malformed = Some(format!("MIME nesting too deep (limit {})", limits.max_depth));
        return;
    }
    if s.parts > limits.max_parts {
        mail.malformed = Some(format!("too many MIME parts (limit {})", limits.max_parts));
        return;
    }
    if s.encoding_problems > 0 {
        mail.warnings.push(Warning::Undecodable { parts: s.encoding_problems });
    }
    if s.unclosed_multiparts > 0 {
        mail.warnings.push(Warning::UnclosedBoundary);
    }
    if bodies {
        let (text, html) = body::bodies(&msg, &mut mail.warnings);
        mail.forwarded = forward::forwarded(&msg, &text, &mut mail.warnings);
        mail.text = text;
        mail.html = html;
    } else {
        mail.text = body::text(&msg, &mut Vec::new());
    }
    mail.attachments = attachments::collect(&msg, limits.max_parts);
}
