//! Small helpers: time, file sizes and kinds, random tokens, hashing tokens for storage.

use base64::Engine;
use sha2::{Digest, Sha256};

pub fn now_ms() -> i64 {
    std::time::SystemTime::now().duration_since(std::time::UNIX_EPOCH).map(|d| d.as_millis() as i64).unwrap_or(0)
}

/// 32 random bytes, URL-safe base64.
pub fn random_token() -> String {
    let mut b = [0u8; 32];
    getrandom::fill(&mut b).expect("the operating system has no randomness");
    base64::engine::general_purpose::URL_SAFE_NO_PAD.encode(b)
}

/// Tokens are stored only as hashes.
pub fn token_hash(token: &str) -> String {
    let d = Sha256::digest(token.as_bytes());
    d.iter().map(|b| format!("{b:02x}")).collect()
}

/// `27.11.2026 17:18` in German notation, on the office's clock (Europe/Berlin, summer time too).
pub fn german_time(ms: i64) -> String {
    let (y, m, d, hh, mm) = postkorb_core::time::berlin_civil(ms);
    format!("{d:02}.{m:02}.{y:04} {hh:02}:{mm:02}")
}

/// `27.11.2026`: the day of a moment on the office's clock.
pub fn german_date(ms: i64) -> String {
    let (y, m, d, ..) = postkorb_core::time::berlin_civil(ms);
    format!("{d:02}.{m:02}.{y:04}")
}

/// Human file size in German notation.
pub fn size(bytes: i64) -> String {
    if bytes < 1024 {
        format!("{bytes} B")
    } else if bytes < 1024 * 1024 {
        format!("{} KB", bytes / 1024)
    } else {
        format!("{:.1} MB", bytes as f64 / 1024.0 / 1024.0).replace('.', ",")
    }
}

/// What kind of file an attachment is, in words a clerk knows: „PDF“, „Word-Dokument“,
/// „Bild (JPEG)“; else the subtype („XML“), or the name's extension when the type says nothing
/// (`application/octet-stream`).
pub fn file_kind(content_type: &str, name: &str) -> String {
    let ct = content_type.split(';').next().unwrap_or("").trim().to_ascii_lowercase();
    let ext = name.rsplit_once('.').map(|(_, e)| e.to_ascii_lowercase()).unwrap_or_default();
    const KINDS: [(&str, &str, &str); 22] = [
        ("application/pdf", "pdf", "PDF"),
        ("application/msword", "doc", "Word-Dokument"),
        ("application/vnd.openxmlformats-officedocument.wordprocessingml.document", "docx", "Word-Dokument"),
        ("application/vnd.oasis.opendocument.text", "odt", "Text-Dokument (OpenDocument)"),
        ("application/vnd.ms-excel", "xls", "Excel-Tabelle"),
        ("application/vnd.openxmlformats-officedocument.spreadsheetml.sheet", "xlsx", "Excel-Tabelle"),
        ("application/vnd.oasis.opendocument.spreadsheet", "ods", "Tabelle (OpenDocument)"),
        ("application/vnd.ms-powerpoint", "ppt", "PowerPoint-Präsentation"),
        (
            "application/vnd.openxmlformats-officedocument.presentationml.presentation",
            "pptx",
            "PowerPoint-Präsentation",
        ),
        ("application/zip", "zip", "ZIP-Archiv"),
        ("text/plain", "txt", "Text"),
        ("text/csv", "csv", "CSV-Tabelle"),
        ("text/html", "html", "HTML-Seite"),
        ("text/calendar", "ics", "Kalendereintrag"),
        ("message/rfc822", "eml", "E-Mail"),
        ("image/jpeg", "jpg", "Bild (JPEG)"),
        ("image/jpg", "jpeg", "Bild (JPEG)"),
        ("image/png", "png", "Bild (PNG)"),
        ("image/gif", "gif", "Bild (GIF)"),
        ("image/heic", "heic", "Bild (HEIC)"),
        ("image/tiff", "tif", "Bild (TIFF)"),
        ("audio/mpeg", "mp3", "Audio (MP3)"),
    ];
    if let Some((_, _, kind)) = KINDS.iter().find(|(t, _, _)| *t == ct) {
        return (*kind).to_string();
    }
    let generic = ct.is_empty() || ct == "application/octet-stream";
    if generic && let Some((_, _, kind)) = KINDS.iter().find(|(_, e, _)| *e == ext) {
        return (*kind).to_string();
    }
    let sub = |s: &str| -> String {
        let s = s.trim_start_matches("x-").trim_start_matches("vnd.");
        s.chars()
            .filter(|c| c.is_ascii_alphanumeric() || *c == '.' || *c == '-')
            .take(20)
            .collect::<String>()
            .to_uppercase()
    };
    match ct.split_once('/') {
        Some(("image", rest)) => format!("Bild ({})", sub(rest)),
        _ if generic && !ext.is_empty() => format!("Datei ({})", sub(&ext)),
        Some((_, rest)) if !generic && !sub(rest).is_empty() => sub(rest),
        _ => "Datei".into(),
    }
}

/// „PDF, 1,2 MB“.
pub fn attachment_label(content_type: &str, name: &str, bytes: i64) -> String {
    format!("{}, {}", file_kind(content_type, name), size(bytes))
}

#[cfg(test)]
mod tests {
    #[test]
    fn times_and_sizes_are_shown_the_german_way() {
        assert_eq!(super::german_time(0), "01.01.1970 01:00");
        assert_eq!(super::size(512), "512 B");
        assert_eq!(super::size(2048), "2 KB");
        assert_eq!(super::size(3 * 1024 * 1024 + 100_000), "3,1 MB");
        assert_eq!(super::token_hash("a").len(), 64);
    }

    #[test]
    fn file_kinds_are_named_in_words() {
        use super::{attachment_label, file_kind};
        assert_eq!(attachment_label("application/pdf", "a.pdf", 1_258_291), "PDF, 1,2 MB");
        assert_eq!(
            file_kind("application/vnd.openxmlformats-officedocument.wordprocessingml.document", "x"),
            "Word-Dokument"
        );
        assert_eq!(file_kind("IMAGE/JPEG; name=x.jpg", "x.jpg"), "Bild (JPEG)");
        assert_eq!(file_kind("image/webp", "x"), "Bild (WEBP)");
        assert_eq!(file_kind("application/octet-stream", "Police.PDF"), "PDF");
        assert_eq!(file_kind("application/octet-stream", "daten.xyz"), "Datei (XYZ)");
        assert_eq!(file_kind("application/octet-stream", "ohne"), "Datei");
        assert_eq!(file_kind("application/xml", "a.xml"), "XML");
        assert_eq!(file_kind("application/x-<script>", "a"), "SCRIPT");
        assert_eq!(file_kind("", ""), "Datei");
    }
}
