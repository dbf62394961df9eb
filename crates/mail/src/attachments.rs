//! Attachments as Postkorb stores and offers them for download: every non-body part, decoded,
//! with a file name that is safe to hand to a file system or a browser.

use mail_parser::{Message, MessagePart, MimeHeaders, PartType};

use crate::Attachment;

const MAX_NAME_CHARS: usize = 150;
const RESERVED: [&str; 30] = [
    "CON",
    "PRN",
    "AUX",
    "NUL",
    "COM1",
    "COM2",
    "COM3",
    "COM4",
    "COM5",
    "COM6",
    "COM7",
    "COM8",
    "COM9",
    "LPT1",
    "LPT2",
    "LPT3",
    "LPT4",
    "LPT5",
    "LPT6",
    "LPT7",
    "LPT8",
    "LPT9",
    "COM\u{b9}",
    "COM\u{b2}",
    "COM\u{b3}",
    "LPT\u{b9}",
    "LPT\u{b2}",
    "LPT\u{b3}",
    "CONIN$",
    "CONOUT$",
];

/// Invisible format characters; the bidi overrides can make "rechnung\u{202e}fdp.exe" look like a PDF.
fn is_invisible(c: char) -> bool {
    matches!(c, '\u{ad}' | '\u{61c}' | '\u{180e}' | '\u{200b}'..='\u{200f}' | '\u{202a}'..='\u{202e}'
        | '\u{2060}'..='\u{2069}' | '\u{feff}' | '\u{fff9}'..='\u{fffb}')
}

/// All non-body parts of the top-level message (nested messages become one `.eml` each).
pub fn collect(msg: &Message<'_>, limit: usize) -> Vec<Attachment> {
    msg.attachments
        .iter()
        .filter_map(|&id| msg.parts.get(id as usize))
        .take(limit)
        .enumerate()
        .map(|(i, part)| attachment(msg, part, i + 1, false).0)
        .collect()
}

/// Attachment number `index` (0-based, the order of [`collect`]) of a raw mail, decoded again
/// from the raw bytes: Postkorb stores attachments only inside the raw mail and decodes one on
/// download. `None` when the mail has no such attachment (or the parser gives up on it).
pub fn attachment_at(raw: &[u8], index: usize) -> Option<(Attachment, Vec<u8>)> {
    std::panic::catch_unwind(|| {
        let msg = mail_parser::MessageParser::default().parse(raw)?;
        let part = msg.attachments.iter().filter_map(|&id| msg.parts.get(id as usize)).nth(index)?;
        Some(attachment(&msg, part, index + 1, true))
    })
    .ok()
    .flatten()
}

/// The attachment's metadata, and its decoded bytes when `with_data` (else an empty vector: the
/// import needs only the size, and copying every attachment was a tenth of its time and memory).
fn attachment(msg: &Message<'_>, part: &MessagePart<'_>, n: usize, with_data: bool) -> (Attachment, Vec<u8>) {
    let content_type = content_type(part);
    let (bytes, default_name): (&[u8], _) = match &part.body {
        PartType::Text(t) | PartType::Html(t) => (t.as_bytes(), None),
        PartType::Binary(b) | PartType::InlineBinary(b) => (b.as_ref(), None),
        PartType::Message(nested) => {
            let data = if part.encoding == mail_parser::Encoding::None {
                let (start, end) = (part.offset_body as usize, part.offset_end as usize);
                msg.raw_message.get(start..end.max(start)).unwrap_or_default()
            } else {
                nested.raw_message.as_ref()
            };
            let subject = nested.subject().map(|s| format!("{s}.eml"));
            (data, Some(subject.unwrap_or_else(|| format!("anhang-{n}.eml"))))
        }
        PartType::Multipart(_) => (&[][..], None),
    };
    let raw_name = part.attachment_name().map(str::to_string).or(default_name).unwrap_or_default();
    let content_id = part
        .content_id()
        .map(|c| c.trim().trim_start_matches('<').trim_end_matches('>').to_string())
        .filter(|c| !c.is_empty());
    let meta = Attachment { name: safe_name(&raw_name, n), content_type, content_id, size: bytes.len() };
    (meta, if with_data { bytes.to_vec() } else { Vec::new() })
}

/// "type/subtype" in lower case, with a sensible default by part kind.
pub fn content_type(part: &MessagePart<'_>) -> String {
    match part.content_type() {
        Some(ct) => match ct.subtype() {
            Some(sub) => format!("{}/{}", ct.ctype(), sub).to_ascii_lowercase(),
            None => ct.ctype().to_ascii_lowercase(),
        },
        None => match part.body {
            PartType::Text(_) => "text/plain".into(),
            PartType::Html(_) => "text/html".into(),
            PartType::Message(_) => "message/rfc822".into(),
            _ => "application/octet-stream".into(),
        },
    }
}

/// Makes a decoded file name safe: no directories, no control or shell-hostile characters,
/// no leading dots, no reserved Windows device names, at most 150 characters, never empty.
pub fn safe_name(name: &str, n: usize) -> String {
    let base = name.rsplit(['/', '\\']).next().unwrap_or("");
    let cleaned: String = base
        .chars()
        .filter(|&c| !c.is_control() && !is_invisible(c))
        .map(|c| if ":*?\"<>|".contains(c) { '_' } else { c })
        .collect();
    // Dots and white space in any order at either end ("` . ..x`" must not keep a leading dot).
    let trimmed = cleaned.trim_matches(|c: char| c == '.' || c.is_whitespace());
    if trimmed.is_empty() {
        return format!("anhang-{n}");
    }
    let stem = trimmed.split('.').next().unwrap_or("").trim_end();
    let mut out =
        if RESERVED.iter().any(|r| r.eq_ignore_ascii_case(stem)) { format!("_{trimmed}") } else { trimmed.to_string() };
    if out.chars().count() > MAX_NAME_CHARS {
        out = shorten(&out);
    }
    out
}

/// Cuts the stem, keeping a short extension so the file still opens with the right program.
fn shorten(name: &str) -> String {
    let ext = name.rsplit_once('.').map(|(_, e)| e).filter(|e| !e.is_empty() && e.chars().count() <= 10);
    match ext {
        Some(ext) => {
            let keep = MAX_NAME_CHARS - ext.chars().count() - 1;
            let stem: String = name.chars().take(keep).collect();
            format!("{}.{ext}", stem.trim_end_matches(|c: char| c == '.' || c.is_whitespace()))
        }
        None => {
            let cut: String = name.chars().take(MAX_NAME_CHARS).collect();
            cut.trim_end_matches(|c: char| c == '.' || c.is_whitespace()).to_string()
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn check(input: &str, expected: &str) {
        assert_eq!(safe_name(input, 3), expected, "name {input:?}");
    }

    #[test]
    fn attachment_names_are_made_safe() {
        check("Schadenmeldung_Müller.pdf", "Schadenmeldung_Müller.pdf");
        check("../../etc/passwd", "passwd");
        check("C:\\Users\\max\\Rechnung 2025.pdf", "Rechnung 2025.pdf");
        check("CON.txt", "_CON.txt");
        check("nul", "_nul");
        check("com1.tar.gz", "_com1.tar.gz");
        check("CONFIG.txt", "CONFIG.txt");
        check(".htaccess", "htaccess");
        check("...", "anhang-3");
        check(". ...Windowsc", "Windowsc");
        check(" .\u{3000}.x. . ", "x");
        check("", "anhang-3");
        check("dir/", "anhang-3");
        check("a\u{0}b\r\n.pdf", "ab.pdf");
        check("was?<ist>|das*.doc", "was__ist__das_.doc");
        check("  bericht.pdf. ", "bericht.pdf");
        check("COM\u{b9}.txt", "_COM\u{b9}.txt");
        check("conout$", "_conout$");
        check("rechnung\u{202e}fdp.exe", "rechnungfdp.exe");
        check("a\u{200b}\u{feff}b.pdf", "ab.pdf");
    }

    #[test]
    fn long_attachment_names_are_cut_to_150_characters_keeping_the_extension() {
        let long = format!("{}.pdf", "ä".repeat(300));
        let got = safe_name(&long, 1);
        assert_eq!(got.chars().count(), 150);
        assert!(got.ends_with("ä.pdf"));
        assert_eq!(safe_name(&"x".repeat(400), 1).chars().count(), 150);
        // A cut never leaves a trailing dot or space (Windows drops them).
        let cut = safe_name(&format!("{}. .{}", "a".repeat(147), "b".repeat(20)), 1);
        assert_eq!(cut, "a".repeat(147));
    }
}
