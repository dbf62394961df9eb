//! Our own look at the raw top-level header block, independent of mail-parser's interpretation:
//! the sender rule and the automatic-mail rule must see duplicate and oddly written headers as sent.

use std::borrow::Cow;

use mail_parser::decoders::charsets::map::charset_decoder;

/// One unfolded header field as it appeared on the wire.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct RawHeader {
    pub name: String,
    pub value: String,
}

/// The bytes of the top-level header block (without the blank line) and whether a blank line ended it.
pub fn header_block(raw: &[u8]) -> (&[u8], bool) {
    let mut pos = 0;
    while pos < raw.len() {
        let end = raw[pos..].iter().position(|&b| b == b'\n').map(|i| pos + i + 1);
        let line_end = end.unwrap_or(raw.len());
        let line = &raw[pos..line_end];
        if line == b"\n" || line == b"\r\n" {
            return (&raw[..pos], true);
        }
        pos = line_end;
    }
    (raw, false)
}

/// Drops a leading mbox "From " separator line, which some .eml exports keep.
pub fn without_mbox_line(raw: &[u8]) -> &[u8] {
    if !raw.starts_with(b"From ") {
        return raw;
    }
    match raw.iter().position(|&b| b == b'\n') {
        Some(nl) => &raw[nl + 1..],
        None => raw,
    }
}

/// True if the message starts like a header block (a field name followed by a colon).
pub fn starts_with_header(raw: &[u8]) -> bool {
    let line_end = raw.iter().position(|&b| b == b'\n').unwrap_or(raw.len());
    let line = &raw[..line_end];
    match line.iter().position(|&b| b == b':') {
        Some(colon) if colon > 0 => line[..colon].iter().all(|&b| b.is_ascii_graphic() && b != b':'),
        _ => false,
    }
}

/// Unfolds the header block into fields; lines that are neither fields nor continuations are dropped.
pub fn headers(block: &[u8]) -> Vec<RawHeader> {
    let text = String::from_utf8_lossy(block);
    let mut out: Vec<RawHeader> = Vec::new();
    for line in text.split('\n') {
        let line = line.strip_suffix('\r').unwrap_or(line);
        if line.starts_with([' ', '\t']) {
            if let Some(last) = out.last_mut() {
                last.value.push(' ');
                last.value.push_str(line.trim());
            }
            continue;
        }
        if let Some((name, value)) = line.split_once(':') {
            let name = name.trim_end();
            if !name.is_empty() && name.bytes().all(|b| b.is_ascii_graphic()) {
                out.push(RawHeader { name: name.to_string(), value: value.trim().to_string() });
            }
        }
    }
    out
}

/// The header block with every line that is not UTF-8 read as Windows-1252 (raw 8-bit headers are
/// invalid, but common: `From: J\xf6rg <j@x.de>` from old clients in Latin-1 or Windows-1252, of
/// which Windows-1252 is the superset that maps every byte). Says whether a From or Subject line
/// (with its continuation lines) was read so. Only for the display name and the subject: the
/// sender address is read from the bytes as they are (`sender`), so 8-bit there stays invalid.
pub fn utf8_or_1252(block: &[u8]) -> (Cow<'_, [u8]>, bool) {
    if std::str::from_utf8(block).is_ok() {
        return (Cow::Borrowed(block), false);
    }
    let decode = charset_decoder(b"windows-1252");
    let mut out = Vec::with_capacity(block.len() + block.len() / 8);
    let (mut named, mut converted) = (false, false);
    for line in block.split_inclusive(|&b| b == b'\n') {
        if !line.starts_with(b" ") && !line.starts_with(b"\t") {
            let name = line.split(|&b| b == b':').next().unwrap_or_default();
            named = name.eq_ignore_ascii_case(b"from") || name.eq_ignore_ascii_case(b"subject");
        }
        match (std::str::from_utf8(line), decode) {
            (Err(_), Some(decode)) => {
                out.extend_from_slice(decode(line).as_bytes());
                converted |= named;
            }
            _ => out.extend_from_slice(line),
        }
    }
    (Cow::Owned(out), converted)
}

/// All values of the named header (case-insensitive), in order.
pub fn values<'a>(headers: &'a [RawHeader], name: &str) -> Vec<&'a str> {
    headers.iter().filter(|h| h.name.eq_ignore_ascii_case(name)).map(|h| h.value.as_str()).collect()
}

/// The first value of the named header, if any.
pub fn first<'a>(headers: &'a [RawHeader], name: &str) -> Option<&'a str> {
    headers.iter().find(|h| h.name.eq_ignore_ascii_case(name)).map(|h| h.value.as_str())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn header_lines_that_are_not_utf8_are_read_as_windows_1252() {
        let block = b"From: J\xf6rg M\xfcller <j@x.de>\r\nX-A: \xc3\xa4\r\nSubject: Gr\xfc\xdfe\r\n \x80 5\r\n";
        let (fixed, converted) = utf8_or_1252(block);
        assert!(converted);
        let text = std::str::from_utf8(&fixed).unwrap();
        assert_eq!(text, "From: Jörg Müller <j@x.de>\r\nX-A: ä\r\nSubject: Grüße\r\n € 5\r\n");
        assert!(matches!(utf8_or_1252("Subject: Grüße\r\n".as_bytes()), (Cow::Borrowed(_), false)));
        assert!(!utf8_or_1252(b"Received: \xff\r\nSubject: x\r\n").1);
    }

    #[test]
    fn folded_headers_are_unfolded_and_the_block_ends_at_the_blank_line() {
        let raw = b"From: a@b.de\r\nSubject: eins\r\n zwei\r\n\r\nFrom: body@x.de\r\n";
        let (block, ended) = header_block(raw);
        assert!(ended);
        let hs = headers(block);
        assert_eq!(values(&hs, "from"), vec!["a@b.de"]);
        assert_eq!(first(&hs, "SUBJECT"), Some("eins zwei"));
    }

    #[test]
    fn text_without_a_field_name_is_not_a_header_block() {
        assert!(!starts_with_header(b"Hallo Welt\r\n"));
        assert!(!starts_with_header(b""));
        assert!(starts_with_header(b"From: a@b.de\r\n"));
    }
}
