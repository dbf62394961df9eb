//! Our own look at the raw top-level header block, independent of mail-parser's interpretation:
//! the sender rule and the automatic-mail rule must see duplicate and oddly written headers as sent.

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
