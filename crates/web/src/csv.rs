//! CSV files for Excel in a German office: UTF-8 with a byte order mark (so Excel reads umlauts),
//! `;` between cells (Excel's separator where the decimal point is a comma), CRLF line ends, and
//! every cell quoted. A cell that begins with `=`, `+`, `-`, `@` (or a tab or carriage return) would
//! be run as a formula by a spreadsheet („CSV injection“): it gets a leading `'`, which Excel shows
//! as text. Used by the Protokoll's export; reusable for the Auskunft's index.

/// The byte order mark Excel needs to read UTF-8.
pub const BOM: &str = "\u{feff}";

/// One cell, quoted, with a formula's first character neutralised.
pub fn cell(text: &str) -> String {
    let neutral = if text.starts_with(['=', '+', '-', '@', '\t', '\r']) { format!("'{text}") } else { text.into() };
    format!("\"{}\"", neutral.replace('"', "\"\""))
}

/// A whole file: the BOM, the header line, then one line per row.
pub fn file<R: AsRef<[String]>>(header: &[&str], rows: impl IntoIterator<Item = R>) -> String {
    let mut out = String::from(BOM);
    let line = |cells: Vec<String>| cells.join(";") + "\r\n";
    out.push_str(&line(header.iter().map(|h| cell(h)).collect()));
    for row in rows {
        out.push_str(&line(row.as_ref().iter().map(|c| cell(c)).collect()));
    }
    out
}

#[cfg(test)]
mod tests {
    use super::{cell, file};

    #[test]
    fn cells_are_quoted_and_formulas_neutralised() {
        let cases = [
            ("Anna Admin", "\"Anna Admin\""),
            ("=HYPERLINK(\"http://x\")", "\"'=HYPERLINK(\"\"http://x\"\")\""),
            ("+49 30 1234", "\"'+49 30 1234\""),
            ("-1", "\"'-1\""),
            ("@SUM(A1)", "\"'@SUM(A1)\""),
            ("\t=1", "\"'\t=1\""),
            ("a;b", "\"a;b\""),
            ("Zeile 1\nZeile 2", "\"Zeile 1\nZeile 2\""),
            ("x=1", "\"x=1\""),
            ("", "\"\""),
        ];
        for (text, want) in cases {
            assert_eq!(cell(text), want, "{text:?}");
        }
    }

    #[test]
    fn a_file_starts_with_the_bom_and_the_header() {
        let rows = vec![vec!["1".to_string(), "Müller".to_string()]];
        let f = file(&["Nr.", "Änderung"], rows);
        assert_eq!(f, "\u{feff}\"Nr.\";\"Änderung\"\r\n\"1\";\"Müller\"\r\n");
    }
}
