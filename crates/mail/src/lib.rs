//! Raw RFC 5322 bytes → [`InboundMail`]: what Postkorb needs to know about one message.
//!
//! Pure (no IO) and total: [`parse`] never panics and never rejects a mail for being ugly;
//! problems become `warnings`, and a mail that cannot be understood at all gets `malformed`.
//! INTERFACE PINNED BY THE LEAD — implementation is the mail helper's.

use std::panic::{AssertUnwindSafe, catch_unwind};

use postkorb_core::{EmailAddress, MailFacts};
use serde::{Deserialize, Serialize};

mod attachments;
mod auto;
mod body;
pub mod compose;
mod forward;
mod html;
pub mod people;
mod pipeline;
mod raw;
mod sender;
mod shape;
mod warning;

pub use attachments::safe_name;
pub use auto::null_sender;
pub use warning::{ReadAs, StoredWarning, Warning};

/// Parser limits (engineering rule 6). A mail over a limit is flagged, never a panic.
#[derive(Clone, Debug)]
pub struct Limits {
    pub max_size: usize,
    pub max_depth: usize,
    pub max_parts: usize,
    pub max_header_bytes: usize,
}

impl Default for Limits {
    fn default() -> Self {
        Limits { max_size: 50 * 1024 * 1024, max_depth: 20, max_parts: 1000, max_header_bytes: 256 * 1024 }
    }
}

#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct Attachment {
    /// Decoded (RFC 2047/2231), made safe: no path, no control characters, not empty.
    pub name: String,
    pub content_type: String,
    pub content_id: Option<String>,
    /// Decoded size in bytes. The bytes themselves stay in the raw mail: [`attachment_at`].
    pub size: usize,
}

/// The original of a forwarded mail (message/rfc822 part or inline „Weitergeleitete Nachricht“).
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct Forwarded {
    pub from: Option<String>,
    pub subject: Option<String>,
    /// The Date as written (header, or the inline forward's „Datum:“/„Gesendet:“ line).
    pub date: Option<String>,
    /// The same date as unix milliseconds, when it could be read (RFC 5322 with a time of day);
    /// a German date as written by a German client stays text only.
    #[serde(default)]
    pub date_ms: Option<i64>,
    pub text: String,
}

#[derive(Clone, Debug, Serialize, Deserialize)]
pub struct InboundMail {
    /// The one strictly parsed addr-spec of From, or why there is none.
    pub sender: Result<EmailAddress, String>,
    pub display_name: Option<String>,
    pub subject: String,
    /// Date header as unix milliseconds.
    pub date_ms: Option<i64>,
    pub message_id: Option<String>,
    /// Plain text (from text/plain, or derived from HTML).
    pub text: String,
    /// Sanitised HTML (no scripts, no remote content; only `cid:` images), if the mail had HTML.
    pub html: Option<String>,
    pub attachments: Vec<Attachment>,
    pub forwarded: Option<Forwarded>,
    /// Why this is automatic mail (auto-reply, bounce, list), if it is.
    pub automatic: Option<String>,
    /// Why this mail cannot be understood at all, if so.
    pub malformed: Option<String>,
    pub warnings: Vec<Warning>,
}

impl InboundMail {
    /// The facts the routing decision needs.
    pub fn facts(&self) -> MailFacts {
        MailFacts {
            sender: self.sender.clone(),
            malformed: self.malformed.clone(),
            automatic: self.automatic.clone(),
            unverified: None,
        }
    }
}

/// Parses a message. Never panics.
pub fn parse(raw: &[u8]) -> InboundMail {
    parse_with(raw, &Limits::default())
}

/// Parses a message within `limits`. Never panics: a panic inside the parser becomes `malformed`,
/// keeping what the header stage found.
pub fn parse_with(raw: &[u8], limits: &Limits) -> InboundMail {
    parse_inner(raw, limits, true)
}

/// What the import needs of a message: everything [`parse`] finds (sender, subject, dates,
/// automatic, malformed, limits, attachments) and the plain text (for the search index, which is
/// written in the import's transaction), but not the HTML and the forwarded original, which stay
/// empty, nor the warnings found while making the bodies. Those are derived from the raw mail when
/// a Vorgang is shown (with [`parse`]), as the attachments' bytes are: the import saves making
/// them, and the database stores them nowhere but in the raw mail (the text only as search terms).
/// Never panics.
pub fn parse_for_import(raw: &[u8]) -> InboundMail {
    parse_inner(raw, &Limits::default(), false)
}

fn parse_inner(raw: &[u8], limits: &Limits, bodies: bool) -> InboundMail {
    let raw = raw::without_mbox_line(raw);
    let mut mail = match catch_unwind(AssertUnwindSafe(|| pipeline::header_stage(raw, limits))) {
        Ok(mail) => mail,
        Err(panic) => return InboundMail::unknown(Some(panic_reason(panic.as_ref()))),
    };
    if mail.malformed.is_some() {
        return mail;
    }
    if let Err(panic) = catch_unwind(AssertUnwindSafe(|| pipeline::body_stage(raw, limits, bodies, &mut mail))) {
        mail.malformed = Some(panic_reason(panic.as_ref()));
    }
    mail
}

fn panic_reason(panic: &(dyn std::any::Any + Send)) -> String {
    let what = panic
        .downcast_ref::<&str>()
        .map(|s| s.to_string())
        .or_else(|| panic.downcast_ref::<String>().cloned())
        .unwrap_or_default();
    let what: String = what.chars().take(200).collect();
    format!("parser panic: {what}")
}

/// Attachment number `index` (0-based, as in [`InboundMail::attachments`]) decoded again from the
/// raw mail: the store keeps attachments only inside the raw mail and decodes one on download.
pub fn attachment_at(raw: &[u8], index: usize) -> Option<(Attachment, Vec<u8>)> {
    attachments::attachment_at(raw::without_mbox_line(raw), index)
}

/// The duplicate fingerprint: [`FINGERPRINT_PREFIX`] and the BLAKE3 hash (hex) of the raw bytes,
/// a zero byte and the normalised Message-ID. Fingerprints of mails stored before were SHA-256 of
/// the same bytes ([`legacy_fingerprint`], no prefix): the prefix keeps the two apart.
pub fn fingerprint(raw: &[u8], message_id: Option<&str>) -> String {
    digests(raw, message_id).fingerprint
}

/// What a [`fingerprint`] starts with (a fingerprint from before has 64 hex digits only).
pub const FINGERPRINT_PREFIX: &str = "b3:";

/// The fingerprint of a mail as stored before BLAKE3: SHA-256 (hex) of the raw bytes, a zero byte
/// and the normalised Message-ID. The store compares it for a while after an upgrade, so a mail
/// stored before and delivered again is still a duplicate (`Store::legacy_fingerprints_until`).
pub fn legacy_fingerprint(raw: &[u8], message_id: Option<&str>) -> String {
    let id = fingerprint_suffix(message_id);
    let mut h = ring::digest::Context::new(&ring::digest::SHA256);
    h.update(raw);
    h.update(&id);
    hex(h.finish().as_ref())
}

/// What follows the raw bytes in the fingerprint: a zero byte and the normalised Message-ID.
fn fingerprint_suffix(message_id: Option<&str>) -> Vec<u8> {
    let id = message_id.unwrap_or("").trim().trim_start_matches('<').trim_end_matches('>').trim().to_lowercase();
    let mut suffix = Vec::with_capacity(id.len() + 1);
    suffix.push(0);
    suffix.extend_from_slice(id.as_bytes());
    suffix
}

fn hex(digest: &[u8]) -> String {
    digest.iter().map(|b| format!("{b:02x}")).collect()
}

/// The fingerprint and the BLAKE3 hash of the raw bytes alone, in one pass over them: the bytes
/// are hashed once, and the state is finished twice (as is, and after the suffix). The raw digest
/// is what the store names a sealed raw mail by (`MailKey::name_of_digest`).
pub fn digests(raw: &[u8], message_id: Option<&str>) -> Digests {
    let mut h = blake3::Hasher::new();
    h.update(raw);
    let raw_digest = h.finalize().to_hex().to_string();
    h.update(&fingerprint_suffix(message_id));
    Digests { fingerprint: format!("{FINGERPRINT_PREFIX}{}", h.finalize().to_hex()), raw_digest }
}

/// See [`digests`].
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Digests {
    /// [`fingerprint`].
    pub fingerprint: String,
    /// BLAKE3 of the raw bytes alone (hex, 64 digits).
    pub raw_digest: String,
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_caught_panic_becomes_a_short_malformed_reason() {
        let panic = catch_unwind(|| panic!("index {} out of range", 7)).unwrap_err();
        assert_eq!(panic_reason(panic.as_ref()), "parser panic: index 7 out of range");
        let panic = catch_unwind(|| std::panic::panic_any(42)).unwrap_err();
        assert_eq!(panic_reason(panic.as_ref()), "parser panic: ");
    }

    #[test]
    fn an_mbox_separator_line_does_not_hide_the_headers() {
        let mail = parse(b"From MAILER-DAEMON Mon Mar  3 10:15:00 2025\nFrom: max@example.de\nSubject: x\n\nText\n");
        assert_eq!(mail.malformed, None);
        assert_eq!(mail.sender.unwrap().as_str(), "max@example.de");
    }

    #[test]
    fn the_fingerprint_normalises_the_message_id() {
        let a = fingerprint(b"raw", Some(" <ABC@Host.de> "));
        assert_eq!(a, fingerprint(b"raw", Some("abc@host.de")));
        assert_ne!(a, fingerprint(b"raw", None));
        assert_ne!(a, fingerprint(b"raw2", Some("abc@host.de")));
        let hex = a.strip_prefix(FINGERPRINT_PREFIX).unwrap();
        assert_eq!(hex.len(), 64);
        assert!(hex.chars().all(|c| c.is_ascii_hexdigit() && !c.is_ascii_uppercase()));
    }

    #[test]
    fn the_fingerprint_is_blake3_of_raw_then_zero_then_id_and_the_legacy_one_sha256() {
        let expected = format!("b3:{}", blake3::hash(b"x\0id").to_hex());
        assert_eq!(fingerprint(b"x", Some("<ID>")), expected);
        // The fingerprints stored before: unchanged.
        use sha2::{Digest, Sha256};
        let mut h = Sha256::new();
        h.update(b"x\0id");
        let expected: String = h.finalize().iter().map(|b| format!("{b:02x}")).collect();
        assert_eq!(legacy_fingerprint(b"x", Some("<ID>")), expected);
        assert_eq!(legacy_fingerprint(b"x", Some("<ID>")).len(), 64);
        assert!(!legacy_fingerprint(b"x", None).starts_with(FINGERPRINT_PREFIX));
    }

    #[test]
    fn digests_are_the_fingerprint_and_the_plain_blake3() {
        // Lengths around BLAKE3's 64-byte block and 1024-byte chunk, and many chunks.
        for len in [0usize, 1, 63, 64, 65, 1023, 1024, 1025, 2048, 70_000] {
            let raw: Vec<u8> = (0..len).map(|i| (i * 31 + len) as u8).collect();
            for id in [None, Some(" <Id-1@Host.DE> ")] {
                let d = digests(&raw, id);
                assert_eq!(d.fingerprint, fingerprint(&raw, id), "{len}");
                let mut with_suffix = raw.clone();
                with_suffix.extend_from_slice(&fingerprint_suffix(id));
                assert_eq!(d.fingerprint, format!("b3:{}", blake3::hash(&with_suffix).to_hex()), "{len}");
                assert_eq!(d.raw_digest, blake3::hash(&raw).to_hex().to_string(), "{len}");
            }
        }
    }
}
