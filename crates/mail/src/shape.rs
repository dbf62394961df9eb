//! The structural limits of engineering rule 6: how deep and how many MIME parts a message has,
//! plus cheap checks that run before mail-parser builds a tree we would then have to walk and drop.

use mail_parser::{Message, MimeHeaders, PartType};

use crate::Limits;

/// How the MIME tree looks, as far as we walked it.
#[derive(Debug, Default)]
pub struct Shape {
    pub parts: usize,
    pub depth: usize,
    pub encoding_problems: usize,
    pub unclosed_multiparts: usize,
    pub checked_multiparts: usize,
}

/// Counts case-insensitive occurrences of the content types that create nested messages.
/// One vectorised pass over the bytes for the `/` every marker has at a fixed place (this runs on
/// every raw mail, so it must not scan the bytes per marker). A `/` is rare in text and one in 64
/// characters of base64: fewer places to compare than at each `m`/`M`, the markers' first letter.
pub fn nested_message_markers(raw: &[u8]) -> usize {
    const MARKERS: [(&[u8], &[u8]); 3] = [(b"message", b"rfc822"), (b"message", b"global"), (b"multipart", b"digest")];
    let is_marker = |i: usize| {
        MARKERS.iter().any(|(kind, sub)| {
            i >= kind.len()
                && raw.get(i + 1..i + 1 + sub.len()).is_some_and(|w| w.eq_ignore_ascii_case(sub))
                && raw[i - kind.len()..i].eq_ignore_ascii_case(kind)
        })
    };
    memchr::memchr_iter(b'/', raw).filter(|&i| is_marker(i)).count()
}

/// Walks the tree from the root, never deeper than the depth limit nor wider than the part limit.
pub fn shape(msg: &Message<'_>, limits: &Limits) -> Shape {
    let mut s = Shape::default();
    walk(msg, 0, 0, limits, &mut s);
    s
}

fn walk(msg: &Message<'_>, id: u32, depth: usize, limits: &Limits, s: &mut Shape) {
    s.depth = s.depth.max(depth);
    if depth > limits.max_depth || s.parts > limits.max_parts {
        return;
    }
    let Some(part) = msg.parts.get(id as usize) else {
        return;
    };
    s.parts += 1;
    if part.is_encoding_problem && !part.contents().is_empty() {
        s.encoding_problems += 1;
    }
    match &part.body {
        PartType::Multipart(ids) => {
            check_boundary(msg, part, s);
            for &child in ids {
                if child != id {
                    walk(msg, child, depth + 1, limits, s);
                }
            }
        }
        PartType::Message(nested) => walk(nested, 0, depth + 1, limits, s),
        _ => {}
    }
}

/// A multipart whose closing delimiter never comes was cut off or built by a broken client.
fn check_boundary(msg: &Message<'_>, part: &mail_parser::MessagePart<'_>, s: &mut Shape) {
    if s.checked_multiparts >= 20 {
        return;
    }
    s.checked_multiparts += 1;
    let Some(boundary) = part.content_type().and_then(|ct| ct.attribute("boundary")) else {
        return;
    };
    let closing = format!("--{boundary}--").into_bytes();
    // One vectorised substring search (a byte-by-byte `windows()` compare was 8 % of the import's CPU).
    let (start, end) = (part.offset_body as usize, msg.raw_message.len());
    let found = msg.raw_message.get(start..end).is_some_and(|body| memchr::memmem::find(body, &closing).is_some());
    if !found {
        s.unclosed_multiparts += 1;
    }
}

#[cfg(test)]
mod tests {
    use super::nested_message_markers;

    /// Every place where a marker starts, compared directly.
    fn reference(raw: &[u8]) -> usize {
        let markers: [&[u8]; 3] = [b"message/rfc822", b"message/global", b"multipart/digest"];
        (0..raw.len())
            .filter(|&i| markers.iter().any(|m| raw.get(i..i + m.len()).is_some_and(|w| w.eq_ignore_ascii_case(m))))
            .count()
    }

    #[test]
    fn markers_are_counted_in_any_case_at_any_place() {
        let cases: [&[u8]; 8] = [
            b"",
            b"/",
            b"message/rfc822",
            b"Content-Type: MESSAGE/RFC822\r\n\r\nmessage/global/multipart/digest",
            b"/rfc822 message/ message/rfc82 essage/rfc822",
            b"message/rfc822message/globalmultipart/digestmultipart/digest",
            b"xmultipart/digestx//message/Global",
            "Nachricht/rfc822 ü/message/rfc822ü".as_bytes(),
        ];
        let expected = [0, 0, 1, 3, 0, 4, 2, 1];
        for (raw, n) in cases.iter().zip(expected) {
            assert_eq!(nested_message_markers(raw), n, "{:?}", String::from_utf8_lossy(raw));
            assert_eq!(reference(raw), n);
        }
        // Pseudo-random text from the markers' letters and '/', against the reference.
        let alphabet = b"messagrfc822globmultipardD/M ";
        let mut x: u32 = 7;
        let raw: Vec<u8> = (0..200_000)
            .map(|_| {
                x = x.wrapping_mul(1_103_515_245).wrapping_add(12_345);
                alphabet[(x >> 16) as usize % alphabet.len()]
            })
            .collect();
        let mut seeded = raw.clone();
        for (i, m) in
            [&b"message/rfc822"[..], b"MULTIPART/digest", b"Message/Global"].iter().cycle().take(90).enumerate()
        {
            let at = i * 2_000;
            seeded[at..at + m.len()].copy_from_slice(m);
        }
        assert_eq!(nested_message_markers(&seeded), reference(&seeded));
        assert!(reference(&seeded) >= 90);
    }
}
