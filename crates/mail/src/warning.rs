//! What the parser noticed about a mail without rejecting it: one typed [`Warning`] per kind, its
//! German words for the Vorgang page („Hinweise zur E-Mail“) and its English words for logs, the
//! CLI and the API, both here in one place.
//!
//! Stored as JSON (`cases.warnings_json`): `{"code": "...", ...parameters}`. Rows of older versions
//! hold English strings; [`StoredWarning`] reads both, an unknown string becomes [`Warning::Legacy`].

use serde::{Deserialize, Serialize};

/// One thing the parser noticed. Adding a kind: a variant, its `code`, `german`, `english`, an
/// entry in [`Warning::CODES`] and one in [`Warning::examples`] (a test checks they agree).
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(tag = "code", rename_all = "snake_case")]
pub enum Warning {
    /// NUL bytes in the header block.
    NulInHeader,
    /// A header (display name or subject) had 8-bit bytes that are not UTF-8; read as Windows-1252.
    HeaderReadAs1252,
    /// The subject was longer than `max` characters and was cut.
    SubjectCut { max: usize },
    /// The sender's display name was longer than `max` characters and was cut.
    NameCut { max: usize },
    /// `parts` MIME parts could not be decoded (bad base64 / quoted-printable); kept as they are.
    Undecodable { parts: usize },
    /// A multipart's closing boundary is missing (cut off or a broken client).
    UnclosedBoundary,
    /// The HTML is larger than the display limit and is not shown.
    HtmlTooLarge { kb: usize },
    /// The HTML is nested too deeply to be parsed safely and is not shown.
    HtmlTooDeep,
    /// The HTML could not be turned into text by the renderer; a simple tag stripper was used.
    HtmlToTextFailed { detail: String },
    /// NUL bytes in the text; removed.
    NulInBody,
    /// The text was longer than the limit and was cut (the raw mail is kept whole).
    TextCut { kb: usize },
    /// The text declared a character set nobody knows; how it was read.
    UnknownCharset { charset: String, read_as: ReadAs },
    /// The text is not valid in its declared character set (UTF-8).
    InvalidUtf8Body,
    /// The text claimed no or a wrong character set and was read as Windows-1252.
    BodyReadAs1252,
    /// Something noticed in the forwarded original (message/rfc822 part).
    InForwarded { inner: Box<Warning> },
    /// The raw mail could not be read when the Vorgang was shown; `detail` says why (English).
    Unreadable { detail: String },
    /// A warning stored by an older version as English text only.
    Legacy { text: String },
}

/// How a text in an unknown character set was read.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum ReadAs {
    Utf8,
    Latin1,
    AsIs,
}

impl Warning {
    /// Every code, in the order of the variants.
    pub const CODES: [&'static str; 17] = [
        "nul_in_header",
        "header_read_as1252",
        "subject_cut",
        "name_cut",
        "undecodable",
        "unclosed_boundary",
        "html_too_large",
        "html_too_deep",
        "html_to_text_failed",
        "nul_in_body",
        "text_cut",
        "unknown_charset",
        "invalid_utf8_body",
        "body_read_as1252",
        "in_forwarded",
        "unreadable",
        "legacy",
    ];

    /// One warning of every kind (and every [`ReadAs`]), for tests that render them all.
    pub fn examples() -> Vec<Warning> {
        use Warning::*;
        vec![
            NulInHeader,
            HeaderReadAs1252,
            SubjectCut { max: 1000 },
            NameCut { max: 200 },
            Undecodable { parts: 2 },
            UnclosedBoundary,
            HtmlTooLarge { kb: 3072 },
            HtmlTooDeep,
            HtmlToTextFailed { detail: "the renderer gave up".into() },
            NulInBody,
            TextCut { kb: 1024 },
            UnknownCharset { charset: "x-klingon".into(), read_as: ReadAs::Utf8 },
            UnknownCharset { charset: "x-foo".into(), read_as: ReadAs::Latin1 },
            UnknownCharset { charset: "x-bar".into(), read_as: ReadAs::AsIs },
            InvalidUtf8Body,
            BodyReadAs1252,
            InForwarded { inner: Box::new(NulInBody) },
            Unreadable { detail: "blob file missing".into() },
            Legacy { text: "something an older version said".into() },
        ]
    }

    /// The stable code (the JSON `code`).
    pub fn code(&self) -> &'static str {
        use Warning::*;
        let i = match self {
            NulInHeader => 0,
            HeaderReadAs1252 => 1,
            SubjectCut { .. } => 2,
            NameCut { .. } => 3,
            Undecodable { .. } => 4,
            UnclosedBoundary => 5,
            HtmlTooLarge { .. } => 6,
            HtmlTooDeep => 7,
            HtmlToTextFailed { .. } => 8,
            NulInBody => 9,
            TextCut { .. } => 10,
            UnknownCharset { .. } => 11,
            InvalidUtf8Body => 12,
            BodyReadAs1252 => 13,
            InForwarded { .. } => 14,
            Unreadable { .. } => 15,
            Legacy { .. } => 16,
        };
        Self::CODES[i]
    }

    /// What a clerk reads under „Hinweise zur E-Mail“: plain German, no technical detail.
    pub fn german(&self) -> String {
        use Warning::*;
        match self {
            NulInHeader => "Der Kopf der E-Mail enthielt unlesbare Steuerzeichen; sie werden nicht angezeigt.".into(),
            HeaderReadAs1252 => "Absendername oder Betreff waren nicht korrekt kodiert und wurden so gut wie möglich \
                                 lesbar gemacht (westeuropäische Zeichen)."
                .into(),
            SubjectCut { max } => format!("Der Betreff war sehr lang und wird nach {max} Zeichen gekürzt angezeigt."),
            NameCut { max } => {
                format!("Der Name des Absenders war sehr lang und wird nach {max} Zeichen gekürzt angezeigt.")
            }
            Undecodable { parts: 1 } => {
                "Ein Teil der E-Mail war beschädigt kodiert und wird so angezeigt, wie er ankam.".into()
            }
            Undecodable { parts } => {
                format!("{parts} Teile der E-Mail waren beschädigt kodiert und werden so angezeigt, wie sie ankamen.")
            }
            UnclosedBoundary => "Die E-Mail ist unvollständig oder fehlerhaft aufgebaut (das Ende eines Abschnitts \
                                 fehlt). Möglicherweise fehlt etwas vom Inhalt."
                .into(),
            HtmlTooLarge { kb } => format!(
                "Die HTML-Ansicht ist mit {} sehr groß und wird nicht angezeigt. Laden Sie die Original-E-Mail \
                 herunter, um sie zu öffnen.",
                kilobytes(*kb)
            ),
            HtmlTooDeep => "Die HTML-Ansicht ist zu verschachtelt aufgebaut und wird nicht angezeigt. Laden Sie die \
                            Original-E-Mail herunter, um sie zu öffnen."
                .into(),
            HtmlToTextFailed { .. } => "Der Text wurde vereinfacht aus der HTML-Ansicht gewonnen; die Formatierung \
                                        kann verloren gegangen sein."
                .into(),
            NulInBody => "Der Text enthielt unlesbare Steuerzeichen; sie wurden entfernt.".into(),
            TextCut { kb } => format!(
                "Der Text ist sehr lang und wird nach {} gekürzt angezeigt. Die Original-E-Mail ist vollständig \
                 gespeichert.",
                kilobytes(*kb)
            ),
            UnknownCharset { read_as: ReadAs::AsIs, .. } => {
                "Die E-Mail nennt eine unbekannte Zeichenkodierung; Umlaute und Sonderzeichen können falsch \
                 dargestellt sein."
                    .into()
            }
            UnknownCharset { .. } | BodyReadAs1252 => "Die Zeichenkodierung des Textes war falsch oder unbekannt; \
                                                       er wurde so gut wie möglich lesbar gemacht. Umlaute können \
                                                       falsch dargestellt sein."
                .into(),
            InvalidUtf8Body => "Der Text enthält ungültig kodierte Zeichen; einzelne Zeichen können falsch \
                                dargestellt sein."
                .into(),
            InForwarded { inner } => format!("In der weitergeleiteten Nachricht: {}", inner.german()),
            Unreadable { .. } => "Der Text dieser E-Mail konnte nicht gelesen werden, weil die gespeicherte \
                                  Original-E-Mail fehlt oder beschädigt ist. Bitte wenden Sie sich an Ihre \
                                  Administration."
                .into(),
            Legacy { .. } => {
                "Beim Einlesen fiel an dieser E-Mail etwas Technisches auf (ältere Programmversion).".into()
            }
        }
    }

    /// The English words, for logs, the CLI (`explain`) and the API.
    pub fn english(&self) -> String {
        use Warning::*;
        match self {
            NulInHeader => "NUL bytes in header".into(),
            HeaderReadAs1252 => "8-bit header text that is not UTF-8, decoded as Windows-1252".into(),
            SubjectCut { max } => format!("subject cut to {max} characters"),
            NameCut { max } => format!("display name cut to {max} characters"),
            Undecodable { parts } => format!("undecodable content in {parts} MIME part(s), kept as is"),
            UnclosedBoundary => "missing closing MIME boundary".into(),
            HtmlTooLarge { kb } => format!("HTML too large ({kb} KB), not shown"),
            HtmlTooDeep => "HTML nested too deeply, not shown".into(),
            HtmlToTextFailed { detail } => format!("HTML to text failed ({detail}), used a simple tag stripper"),
            NulInBody => "NUL bytes in body".into(),
            TextCut { kb } => format!("text cut to {kb} KB (the whole mail is kept)"),
            UnknownCharset { charset, read_as: ReadAs::Utf8 } => format!("unknown charset {charset}, decoded as UTF-8"),
            UnknownCharset { charset, read_as: ReadAs::Latin1 } => {
                format!("unknown charset {charset}, decoded as Latin-1")
            }
            UnknownCharset { charset, read_as: ReadAs::AsIs } => format!("unknown charset {charset}"),
            InvalidUtf8Body => "invalid UTF-8 in body".into(),
            BodyReadAs1252 => "invalid UTF-8 in body, decoded as Windows-1252".into(),
            InForwarded { inner } => format!("{} (forwarded message)", inner.english()),
            Unreadable { detail } => format!("the text of this mail could not be read from its raw mail: {detail}"),
            Legacy { text } => text.clone(),
        }
    }

    /// The technical detail behind the German words, if there is one worth showing behind
    /// „Details“ (the rest is said in full by [`Warning::german`]).
    pub fn detail(&self) -> Option<String> {
        match self {
            Warning::HtmlToTextFailed { .. } | Warning::Unreadable { .. } | Warning::Legacy { .. } => {
                Some(self.english())
            }
            Warning::InForwarded { inner } => inner.detail(),
            _ => None,
        }
    }
}

impl std::fmt::Display for Warning {
    /// English, as in logs.
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(&self.english())
    }
}

/// „1,5 MB“ or „300 KB“.
fn kilobytes(kb: usize) -> String {
    if kb >= 1024 {
        let tenths = (kb * 10 + 512) / 1024;
        format!("{},{} MB", tenths / 10, tenths % 10)
    } else {
        format!("{kb} KB")
    }
}

/// A warning as stored: typed, or the English string of an older version.
#[derive(Clone, Debug, Deserialize)]
#[serde(untagged)]
pub enum StoredWarning {
    Typed(Warning),
    Text(String),
}

impl From<StoredWarning> for Warning {
    /// An English string of an older version becomes its typed warning when it is one of the
    /// fixed texts, else [`Warning::Legacy`].
    fn from(stored: StoredWarning) -> Warning {
        match stored {
            StoredWarning::Typed(w) => w,
            StoredWarning::Text(text) => {
                Warning::examples().into_iter().find(|w| w.english() == text).unwrap_or(Warning::Legacy { text })
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn codes_and_examples_agree_and_every_kind_has_an_example() {
        let mut seen: Vec<&str> = Warning::examples().iter().map(Warning::code).collect();
        seen.dedup();
        assert_eq!(seen, Warning::CODES.to_vec());
    }

    #[test]
    fn sizes_read_the_german_way() {
        assert_eq!(kilobytes(300), "300 KB");
        assert_eq!(kilobytes(1024), "1,0 MB");
        assert_eq!(kilobytes(3 * 1024 + 512), "3,5 MB");
    }
}
