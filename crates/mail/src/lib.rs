//! Raw RFC 5322 bytes → [`InboundMail`]: what Postkorb needs to know about one message.
//!
//! Pure (no IO) and total: [`parse`] never panics and never rejects a mail for being ugly;
//! problems become `warnings`, and a mail that cannot be understood at all gets `malformed`.
//! INTERFACE PINNED BY THE LEAD — implementation is the mail helper's.

use postkorb_core::{EmailAddress, MailFacts};
use serde::{Deserialize, Serialize};

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
    pub data: Vec<u8>,
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

pub fn parse_with(_raw: &[u8], _limits: &Limits) -> InboundMail {
    todo!("mail helper")
}

/// SHA-256 (hex) of the raw bytes and the normalised Message-ID: the duplicate fingerprint.
pub fn fingerprint(_raw: &[u8], _message_id: Option<&str>) -> String {
    todo!("mail helper")
}
