//! The patched quoted-printable path of mail-parser (vendor/mail-parser: runs of plain bytes are
//! copied at once) must give exactly what the original byte-by-byte decoder gives, kept in the
//! vendored crate as `decode_quoted_printable_mime_reference`: the same bytes, the same end offset
//! of the part, and the stream left at the same place — with and without a boundary, for text
//! made of the characters that matter (`=`, hex digits, CR, LF, `-`, white space) and any others.

use mail_parser::parsers::MessageStream;
use proptest::prelude::*;

fn both(input: &[u8], boundary: &[u8]) {
    let mut fast = MessageStream::new(input);
    let mut reference = MessageStream::new(input);
    let (fast_end, fast_bytes) = fast.decode_quoted_printable_mime(boundary);
    let (ref_end, ref_bytes) = reference.decode_quoted_printable_mime_reference(boundary);
    assert_eq!(
        (fast_end, fast_bytes.as_ref(), fast.offset()),
        (ref_end, ref_bytes.as_ref(), reference.offset()),
        "input {:?}, boundary {:?}",
        String::from_utf8_lossy(input),
        String::from_utf8_lossy(boundary)
    );
}

/// What the released decoder gave (a truncate that underflowed was a no-op), kept.
#[test]
fn a_soft_break_before_the_boundary_keeps_the_dash_as_before() {
    let mut s = MessageStream::new(b"=\n--XyZ");
    assert_eq!(s.decode_quoted_printable_mime(b"XyZ").1.as_ref(), b"-");
}

#[test]
fn usual_quoted_printable_parts_decode_the_same() {
    for input in [
        &b"Gr=C3=BC=C3=9Fe aus M=C3=BCnchen,  \r\nzweite Zeile=\r\n fortgesetzt\r\n\r\n--XyZ--\r\n"[..],
        b"Sehr geehrte Damen und Herren,\n\nanbei die Unterlagen.=20\n-- \nMax\n--XyZ\n",
        b"trailing white space \t \nnext=\nsoft break\n--XyZ",
        b"=3D=3d=XY=\n=4\n-not-a-boundary--XyZ\r\n",
        b"no boundary at all, just text -- and dashes -\n",
        b"",
        b"-",
        b"--XyZ",
        b"x\r\n--XyZ",
        // White space on both sides of a lone CR before the boundary (found by the proptest).
        b" \r \n--XyZ",
        // A soft line break right before the boundary: the original subtracted past zero here.
        b"=\n--XyZ",
        b"=\r\n--XyZ",
    ] {
        both(input, b"XyZ");
        both(input, b"");
    }
}

fn qp_text() -> impl Strategy<Value = Vec<u8>> {
    let pieces = prop_oneof![
        Just(b"=".to_vec()),
        Just(b"=\r\n".to_vec()),
        Just(b"=\n".to_vec()),
        Just(b"\r\n".to_vec()),
        Just(b"\n".to_vec()),
        Just(b"\r".to_vec()),
        Just(b"-".to_vec()),
        Just(b"--".to_vec()),
        Just(b"--XyZ".to_vec()),
        Just(b"\n--XyZ".to_vec()),
        Just(b" ".to_vec()),
        Just(b"\t".to_vec()),
        Just(b"\x0c".to_vec()),
        Just(b"=C3=BC".to_vec()),
        Just(b"=3d".to_vec()),
        Just(b"=G1".to_vec()),
        "[a-zA-Z0-9äöü ]{1,20}".prop_map(|s| s.into_bytes()),
        proptest::collection::vec(any::<u8>(), 1..8),
    ];
    proptest::collection::vec(pieces, 0..60).prop_map(|v| v.concat())
}

proptest! {
    #![proptest_config(ProptestConfig::with_cases(2000))]
    #[test]
    fn any_text_decodes_the_same(input in qp_text()) {
        both(&input, b"XyZ");
        both(&input, b"");
    }
}
