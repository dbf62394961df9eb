//! POP3 multi-line framing (RFC 1939 §3): byte stuffing of lines starting with "." and the
//! "CRLF.CRLF" terminator. Pure functions, so the round trip is property-tested.

/// One line of a multi-line response, as read from the wire (including its line ending).
#[derive(Debug, PartialEq, Eq)]
pub(crate) enum Line<'a> {
    /// Content to keep (stuffing removed).
    Data(&'a [u8]),
    /// The terminating "." line.
    End,
}

/// Classifies one wire line: "." alone ends the response, a leading "." is removed.
pub(crate) fn unstuff_line(line: &[u8]) -> Line<'_> {
    if line == b".\r\n" || line == b".\n" {
        return Line::End;
    }
    match line.first() {
        Some(b'.') => Line::Data(&line[1..]),
        _ => Line::Data(line),
    }
}

/// Undoes the framing of a complete multi-line body. `wire` runs up to and including the
/// terminator line; None if the terminator is missing (a cut connection is not a message).
/// The session streams line by line through [`unstuff_line`]; this whole-buffer form is the
/// reference the property tests check it against.
#[cfg(test)]
pub(crate) fn unstuff(wire: &[u8]) -> Option<Vec<u8>> {
    let mut out = Vec::with_capacity(wire.len());
    let mut rest = wire;
    while !rest.is_empty() {
        let end = rest.iter().position(|b| *b == b'\n')? + 1;
        let (line, tail) = rest.split_at(end);
        match unstuff_line(line) {
            Line::End => return Some(out),
            Line::Data(data) => out.extend_from_slice(data),
        }
        rest = tail;
    }
    None
}

/// The server side of the framing, for tests: stuffs lines starting with "." and appends the
/// terminator (adding a CRLF first when the body does not end with one, as servers do).
#[cfg(test)]
pub(crate) fn stuff(body: &[u8]) -> Vec<u8> {
    let mut out = Vec::with_capacity(body.len() + 8);
    let mut at_line_start = true;
    for &b in body {
        if at_line_start && b == b'.' {
            out.push(b'.');
        }
        out.push(b);
        at_line_start = b == b'\n';
    }
    if !body.is_empty() && !body.ends_with(b"\r\n") {
        out.extend_from_slice(b"\r\n");
    }
    out.extend_from_slice(b".\r\n");
    out
}

#[cfg(test)]
mod tests {
    use super::*;
    use proptest::prelude::*;

    fn check(wire: &[u8], expected: Option<&[u8]>) {
        assert_eq!(unstuff(wire).as_deref(), expected, "wire: {:?}", String::from_utf8_lossy(wire));
    }

    #[test]
    fn unstuffing_handles_the_classic_cases() {
        check(b".\r\n", Some(b""));
        check(b"a\r\n.\r\n", Some(b"a\r\n"));
        check(b"..\r\n.\r\n", Some(b".\r\n"));
        check(b"...x\r\n.\r\n", Some(b"..x\r\n"));
        check(b".hidden\r\n.\r\n", Some(b"hidden\r\n"));
        check(b"a\r\n", None);
        check(b"a\r\n.", None);
        check(b"a\r\n.\r\nnext response", Some(b"a\r\n"));
    }

    fn line() -> impl Strategy<Value = Vec<u8>> {
        prop_oneof![
            proptest::collection::vec(any::<u8>().prop_filter("no line breaks", |b| *b != b'\n' && *b != b'\r'), 0..20),
            proptest::collection::vec(prop_oneof![Just(b'.'), Just(b'a'), Just(b' ')], 0..5),
            Just(b".".to_vec()),
            Just(b"..".to_vec()),
        ]
    }

    proptest! {
        #[test]
        fn stuffing_then_unstuffing_gives_the_body_back(
            lines in proptest::collection::vec(line(), 0..30),
            trailing_crlf in any::<bool>(),
        ) {
            let mut body = lines.join(&b"\r\n"[..]);
            if trailing_crlf && !lines.is_empty() {
                body.extend_from_slice(b"\r\n");
            }
            let mut expected = body.clone();
            if !expected.is_empty() && !expected.ends_with(b"\r\n") {
                expected.extend_from_slice(b"\r\n");
            }
            prop_assert_eq!(unstuff(&stuff(&body)), Some(expected));
        }

        #[test]
        fn a_body_cut_before_the_terminator_is_never_complete(
            lines in proptest::collection::vec(line(), 1..10),
            cut in any::<prop::sample::Index>(),
        ) {
            let mut body = lines.join(&b"\r\n"[..]);
            body.extend_from_slice(b"\r\n");
            let wire = stuff(&body);
            let cut = cut.index(wire.len() - 1);
            // Everything shorter than the full wire lacks "CRLF.CRLF" — unless the cut lands right
            // after an inner line that is exactly "." — impossible, since those are stuffed.
            prop_assert_eq!(unstuff(&wire[..cut]), None);
        }
    }
}
