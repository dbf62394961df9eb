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
mod forward;
mod html;
mod pipeline;
mod raw;
mod sender;
mod shape;

pub use attachments::safe_name;

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
    pub date: Option<String>,
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
    pub warnings: Vec<String>,
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
    let raw = raw::without_mbox_line(raw);
    let mut mail = match catch_unwind(AssertUnwindSafe(|| pipeline::header_stage(raw, limits))) {
        Ok(mail) => mail,
        Err(panic) => return InboundMail::unknown(Some(panic_reason(panic.as_ref()))),
    };
    if mail.malformed.is_some() {
        return mail;
    }
    if let Err(panic) = catch_unwind(AssertUnwindSafe(|| pipeline::body_stage(raw, limits, &mut mail))) {
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

/// SHA-256 (hex) of the raw bytes and the normalised Message-ID: the duplicate fingerprint.
pub fn fingerprint(raw: &[u8], message_id: Option<&str>) -> String {
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

/// [`fingerprint`] of many mails at once, in the order given. The same SHA-256, computed
/// multi-buffer where that pays: one SHA-256 stream is serial, but a CPU with wide vectors hashes
/// 8 or 16 independent mails in lock step (AVX2, AVX-512, or several SHA-NI streams). Mails are
/// grouped by similar length, since a group costs as much as its longest mail; a group whose lanes
/// would mostly idle (one large mail among small ones) is hashed one mail at a time instead.
pub fn fingerprints(mails: &[(&[u8], Option<&str>)]) -> Vec<String> {
    let suffixes: Vec<Vec<u8>> = mails.iter().map(|(_, id)| fingerprint_suffix(*id)).collect();
    let mut order: Vec<usize> = (0..mails.len()).collect();
    order.sort_by_key(|&i| mails[i].0.len());
    let lanes = tape_sha256::lane_width().max(1);
    let mut out = vec![String::new(); mails.len()];
    for group in order.chunks(lanes) {
        let longest = group.iter().map(|&i| mails[i].0.len()).max().unwrap_or(0);
        let total: usize = group.iter().map(|&i| mails[i].0.len()).sum();
        // Lock step costs `longest` in every lane. Measured on the bench corpus (AVX-512, 16
        // lanes): below an eighth of the lanes' work, one stream wins.
        if lanes > 1 && total.saturating_mul(8) >= longest.saturating_mul(lanes) {
            let messages: Vec<tape_sha256::Message<'_>> =
                group.iter().map(|&i| tape_sha256::Message::pair(&[], mails[i].0, &suffixes[i])).collect();
            let mut digests = vec![[0u8; 32]; group.len()];
            tape_sha256::hash_messages(&messages, &mut digests);
            for (&i, d) in group.iter().zip(&digests) {
                out[i] = hex(d);
            }
        } else {
            for &i in group {
                let mut h = ring::digest::Context::new(&ring::digest::SHA256);
                h.update(mails[i].0);
                h.update(&suffixes[i]);
                out[i] = hex(h.finish().as_ref());
            }
        }
    }
    out
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
        assert_eq!(a.len(), 64);
        assert!(a.chars().all(|c| c.is_ascii_hexdigit() && !c.is_ascii_uppercase()));
    }

    #[test]
    fn the_fingerprint_is_sha256_of_raw_then_zero_then_id() {
        use sha2::{Digest, Sha256};
        let mut h = Sha256::new();
        h.update(b"x\0id");
        let expected: String = h.finalize().iter().map(|b| format!("{b:02x}")).collect();
        assert_eq!(fingerprint(b"x", Some("<ID>")), expected);
    }

    #[test]
    fn many_fingerprints_at_once_are_each_the_fingerprint() {
        // Lengths around the 64-byte block and its padding edge, equal and mixed lengths, a lone
        // long mail among short ones (hashed one at a time), and groups of every size.
        let mut raws: Vec<Vec<u8>> = Vec::new();
        for len in [0usize, 1, 54, 55, 56, 63, 64, 65, 119, 120, 128, 1000, 4096, 70_000] {
            raws.push((0..len).map(|i| (i * 31 + len) as u8).collect());
        }
        for n in 0..40 {
            raws.push(vec![b'a' + (n % 26) as u8; 3000 + n * 7]);
        }
        raws.push(vec![7u8; 2_000_000]);
        let ids: Vec<Option<String>> =
            (0..raws.len()).map(|i| (i % 3 != 0).then(|| format!(" <Id-{i}@Host.DE> "))).collect();
        for take in [0, 1, 2, 15, 16, 17, 33, raws.len()] {
            let mails: Vec<(&[u8], Option<&str>)> =
                raws.iter().zip(&ids).take(take).map(|(r, id)| (r.as_slice(), id.as_deref())).collect();
            let many = fingerprints(&mails);
            let one: Vec<String> = mails.iter().map(|(r, id)| fingerprint(r, *id)).collect();
            assert_eq!(many, one, "{take} mails");
        }
    }
}
