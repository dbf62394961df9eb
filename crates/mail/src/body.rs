//! The readable content of a mail: its plain text (from text/plain, else derived from HTML) and its
//! sanitised HTML, decoding odd or wrong charsets as well as we can and saying so in a warning.

use mail_parser::decoders::{
    base64::base64_decode, charsets::map::charset_decoder, quoted_printable::quoted_printable_decode,
};
use mail_parser::{Encoding, Message, MessagePart, MimeHeaders, PartType};

use crate::{ReadAs, Warning, html};

/// The text kept for a Vorgang; beyond this the text is cut (the raw mail is kept whole).
pub const MAX_TEXT_BYTES: usize = 1024 * 1024;

/// Plain text and sanitised HTML of a (possibly nested) message.
pub fn bodies(msg: &Message<'_>, warnings: &mut Vec<Warning>) -> (String, Option<String>) {
    let raw_html: Vec<&str> = html_parts(msg);
    let joined = raw_html.join("\n");
    let html = if raw_html.is_empty() {
        None
    } else if joined.len() > html::MAX_HTML_BYTES {
        warnings.push(Warning::HtmlTooLarge { kb: joined.len() / 1024 });
        None
    } else if html::too_complex(&joined) {
        warnings.push(Warning::HtmlTooDeep);
        None
    } else {
        Some(html::sanitize(&joined))
    };

    let text = text_of(msg, &joined, warnings);
    (text, html)
}

/// The plain text alone (text/plain, else derived from HTML), as [`bodies`] makes it, without
/// sanitising the HTML: what the import indexes for the search.
pub fn text(msg: &Message<'_>, warnings: &mut Vec<Warning>) -> String {
    let raw_html: Vec<&str> = html_parts(msg);
    text_of(msg, &raw_html.join("\n"), warnings)
}

fn html_parts<'m>(msg: &'m Message<'_>) -> Vec<&'m str> {
    msg.html_body
        .iter()
        .filter_map(|&id| match &msg.parts.get(id as usize)?.body {
            PartType::Html(h) => Some(h.as_ref()),
            _ => None,
        })
        .collect()
}

/// The text parts joined; the HTML's text (`joined`: every HTML part) when they are empty.
fn text_of(msg: &Message<'_>, joined: &str, warnings: &mut Vec<Warning>) -> String {
    let mut texts = Vec::new();
    for &id in &msg.text_body {
        let Some(part) = msg.parts.get(id as usize) else {
            continue;
        };
        match &part.body {
            PartType::Text(_) => texts.push(part_text(msg, part, warnings)),
            PartType::Html(h) => texts.push(html::text_of(h, warnings)),
            _ => {}
        }
    }
    let mut text = texts.join("\n");
    if text.trim().is_empty() && !joined.is_empty() {
        text = html::text_of(joined, warnings);
    }
    if text.contains('\0') {
        warnings.push(Warning::NulInBody);
        text.retain(|c| c != '\0');
    }
    if text.len() > MAX_TEXT_BYTES {
        let cut = (0..=MAX_TEXT_BYTES).rev().find(|&i| text.is_char_boundary(i)).unwrap_or(0);
        text.truncate(cut);
        warnings.push(Warning::TextCut { kb: MAX_TEXT_BYTES / 1024 });
    }
    text
}

fn is_utf8_label(charset: &str) -> bool {
    let c = charset.trim().to_ascii_lowercase();
    c == "utf-8" || c == "utf8"
}

/// The text of one text/* part; re-decodes the raw bytes when the declared charset was unknown or wrong.
fn part_text(msg: &Message<'_>, part: &MessagePart<'_>, warnings: &mut Vec<Warning>) -> String {
    let decoded = part.text_contents().unwrap_or_default();
    let charset = part.content_type().and_then(|ct| ct.attribute("charset")).map(str::to_string);
    match charset {
        Some(cs) if !is_utf8_label(&cs) && charset_decoder(cs.as_bytes()).is_none() => {
            let name: String = cs.chars().filter(|c| !c.is_control()).take(40).collect();
            match transfer_decoded(msg, part) {
                Some(bytes) => match String::from_utf8(bytes) {
                    Ok(s) => {
                        warnings.push(Warning::UnknownCharset { charset: name, read_as: ReadAs::Utf8 });
                        s
                    }
                    Err(e) => {
                        warnings.push(Warning::UnknownCharset { charset: name, read_as: ReadAs::Latin1 });
                        e.as_bytes().iter().map(|&b| b as char).collect()
                    }
                },
                None => {
                    warnings.push(Warning::UnknownCharset { charset: name, read_as: ReadAs::AsIs });
                    decoded.to_string()
                }
            }
        }
        _ if decoded.contains('\u{FFFD}') => {
            let bytes = transfer_decoded(msg, part).filter(|b| std::str::from_utf8(b).is_err());
            match bytes {
                Some(bytes) if charset.as_deref().is_none_or(|c| !is_utf8_label(c)) => {
                    warnings.push(Warning::BodyReadAs1252);
                    charset_decoder(b"windows-1252").map(|d| d(&bytes)).unwrap_or_else(|| decoded.to_string())
                }
                Some(_) => {
                    warnings.push(Warning::InvalidUtf8Body);
                    decoded.to_string()
                }
                None => decoded.to_string(),
            }
        }
        _ => decoded.to_string(),
    }
}

/// The part's bytes after undoing the transfer encoding, before any charset conversion.
fn transfer_decoded(msg: &Message<'_>, part: &MessagePart<'_>) -> Option<Vec<u8>> {
    let (start, end) = (part.offset_body as usize, part.offset_end as usize);
    let raw = msg.raw_message.get(start..end)?;
    match part.encoding {
        Encoding::Base64 => base64_decode(raw),
        Encoding::QuotedPrintable => quoted_printable_decode(raw),
        Encoding::None => Some(raw.to_vec()),
    }
}
