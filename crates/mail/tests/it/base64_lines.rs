//! The patched base64 path of mail-parser (vendor/mail-parser, whole lines at a time) must give
//! exactly what the character-by-character decoder gives: the same bytes, the same end offset of
//! the part, and the next part intact — for every line shape a client writes, including those the
//! fast path leaves to the slow one (padding, spaces, odd lengths, stray characters). These tests
//! pass unchanged against the unpatched crate (remove the `[patch.crates-io]` entry to see), except
//! the last, which calls the patch's two line decoders (SIMD and scalar) directly.

use base64::Engine;
use mail_parser::{MessageParser, MimeHeaders, PartType};
use proptest::prelude::*;

fn encode_lines(data: &[u8], line: usize, eol: &str, spaces: bool) -> String {
    let b64 = base64::engine::general_purpose::STANDARD.encode(data);
    let lines: Vec<String> = b64
        .as_bytes()
        .chunks(line.max(1))
        .enumerate()
        .map(|(i, c)| {
            let text = std::str::from_utf8(c).unwrap();
            if spaces && i % 3 == 1 { format!("{text} ") } else { text.to_string() }
        })
        .collect();
    lines.join(eol)
}

fn mail(body: &str, eol: &str) -> String {
    format!(
        "From: a@b.de{eol}Subject: t{eol}MIME-Version: 1.0{eol}Content-Type: multipart/mixed; boundary=\"XyZ\"{eol}{eol}\
         --XyZ{eol}Content-Type: text/plain{eol}{eol}Hallo{eol}\
         --XyZ{eol}Content-Type: application/pdf; name=\"a.pdf\"{eol}Content-Transfer-Encoding: base64{eol}{eol}\
         {body}{eol}--XyZ{eol}Content-Type: text/plain{eol}{eol}Danach{eol}--XyZ--{eol}"
    )
}

fn check(data: &[u8], line: usize, eol: &str, spaces: bool) {
    let body = encode_lines(data, line, eol, spaces);
    let raw = mail(&body, eol);
    let msg = MessageParser::default().parse(raw.as_bytes()).expect("parses");
    let att = msg.attachment(0).expect("one attachment");
    assert_eq!(att.contents(), data, "decoded bytes, line {line}, eol {eol:?}, spaces {spaces}");
    let span = &raw.as_bytes()[att.offset_body as usize..att.offset_end as usize];
    assert_eq!(span, body.as_bytes(), "the part ends right before the line break of the boundary");
    let texts: Vec<String> = msg
        .parts
        .iter()
        .filter_map(|p| match &p.body {
            PartType::Text(t) => Some(t.trim().to_string()),
            _ => None,
        })
        .collect();
    assert_eq!(texts, ["Hallo", "Danach"]);
    assert_eq!(att.attachment_name(), Some("a.pdf"));
}

#[test]
fn usual_and_unusual_line_shapes_decode_the_same() {
    let data: Vec<u8> = (0..5000u32).map(|i| (i.wrapping_mul(2_654_435_761) >> 13) as u8).collect();
    for len in [0, 1, 2, 3, 4, 56, 57, 58, 1000, 4999, 5000] {
        for line in [4, 8, 64, 72, 76, 77, 78, 100, 998] {
            for eol in ["\r\n", "\n"] {
                for spaces in [false, true] {
                    if len > 0 {
                        check(&data[..len], line, eol, spaces);
                    }
                }
            }
        }
    }
}

#[test]
fn a_stray_character_or_a_missing_boundary_is_handled_as_before() {
    // A character outside the alphabet makes the part undecodable: mail-parser keeps it as is.
    let raw = mail("QUJD\r\nQU*D\r\nQUJD", "\r\n");
    let msg = MessageParser::default().parse(raw.as_bytes()).unwrap();
    let att = msg.attachment(0).unwrap();
    assert_eq!(att.contents(), b"QUJD\r\nQU*D\r\nQUJD", "kept undecoded");
    // A base64 part cut off without its boundary still yields what was there.
    let cut = "From: a@b.de\r\nMIME-Version: 1.0\r\nContent-Type: multipart/mixed; boundary=\"q\"\r\n\r\n\
               --q\r\nContent-Type: application/pdf\r\nContent-Transfer-Encoding: base64\r\n\r\nQUJD\r\nREVG\r\n";
    let msg = MessageParser::default().parse(cut.as_bytes()).unwrap();
    let all: Vec<String> = msg.parts.iter().map(|p| String::from_utf8_lossy(p.contents()).to_string()).collect();
    // As the unpatched decoder: without its closing boundary the part is kept as text, undecoded.
    assert_eq!(all, ["", "QUJD\r\nREVG\r\n"]);
    assert_eq!(msg.parts.iter().map(|p| (p.offset_body, p.offset_end)).collect::<Vec<_>>(), [(80, 165), (153, 165)]);
}

proptest! {
    #[test]
    fn any_bytes_in_any_line_length_round_trip(
        data in proptest::collection::vec(any::<u8>(), 1..3000),
        line in 1usize..200,
        crlf in any::<bool>(),
        spaces in any::<bool>(),
    ) {
        check(&data, line, if crlf { "\r\n" } else { "\n" }, spaces);
    }
}

/// Lines of changing lengths, so that byte 76 of the rest (where the fast path first looks for
/// the end of a line of the usual 76 characters) is sometimes the end of a later line.
#[test]
fn lines_of_changing_length_decode_the_same() {
    let data: Vec<u8> = (0..9000u32).map(|i| (i.wrapping_mul(2_654_435_761) >> 11) as u8).collect();
    let b64 = base64::engine::general_purpose::STANDARD.encode(&data);
    for pattern in [&[4usize, 70][..], &[4, 68, 76], &[8, 66], &[76, 4, 70, 1, 75], &[72, 2, 76]] {
        for eol in ["\r\n", "\n"] {
            let mut lines = Vec::new();
            let mut rest = b64.as_str();
            for len in pattern.iter().cycle() {
                if rest.is_empty() {
                    break;
                }
                let (line, tail) = rest.split_at((*len).min(rest.len()));
                lines.push(line);
                rest = tail;
            }
            let body = lines.join(eol);
            let raw = mail(&body, eol);
            let msg = MessageParser::default().parse(raw.as_bytes()).expect("parses");
            let att = msg.attachment(0).expect("one attachment");
            assert_eq!(att.contents(), &data[..], "pattern {pattern:?}, eol {eol:?}");
            let span = &raw.as_bytes()[att.offset_body as usize..att.offset_end as usize];
            assert_eq!(span, body.as_bytes(), "pattern {pattern:?}, eol {eol:?}");
        }
    }
}

/// The SIMD line decoder accepts and decodes exactly what the groups of four (the scalar decoder
/// it replaced) do: for valid lines, and for lines with any one byte value at a random place.
#[test]
fn the_simd_line_decoder_matches_the_scalar_groups_of_four() {
    let alphabet = b"ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/";
    let mut seed = 0x2545_f491_4f6c_dd1du64;
    let mut next = move || {
        seed ^= seed << 13;
        seed ^= seed >> 7;
        seed ^= seed << 17;
        seed
    };
    let mut checked = 0;
    for len in [4usize, 8, 32, 60, 64, 72, 76, 100, 128, 300] {
        let line: Vec<u8> = (0..len).map(|_| alphabet[(next() % 64) as usize]).collect();
        let mut lines = vec![line.clone()];
        for byte in 0..=255u8 {
            let mut bad = line.clone();
            bad[(next() as usize) % len] = byte;
            lines.push(bad);
        }
        for line in &lines {
            let ((simd_ok, simd), (groups_ok, groups)) = mail_parser::decoders::base64::postkorb_decode_line_both(line);
            if line.last() == Some(&b'=') {
                // Padding at the end: left to the character-by-character path, as before.
                assert!(!simd_ok && !groups_ok && simd.is_empty(), "{line:?}");
            } else {
                assert_eq!((simd_ok, &simd), (groups_ok, &groups), "{:?}", String::from_utf8_lossy(line));
            }
            checked += usize::from(simd_ok);
        }
    }
    // The valid lines (and the replacements by an alphabet character) were decoded.
    assert!(checked >= 10 + 10 * 60, "{checked}");
}
