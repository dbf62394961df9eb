//! The view of a mail, made from what the store hands out: the store keeps rows and bytes, and
//! parsing happens here, off the async threads. A Vorgang's text, sanitised HTML, forwarded
//! original and warnings come from its raw mail (rows of older versions hold them); a kept mail is
//! parsed for its page and its re-routing; an attachment is decoded from the raw mail by the same
//! parser and in the same order as at import, and refused if its size differs from the recorded one.
//! Also what the screens of a Vorgang share: who sent it ([`Sender`]) and how tall its HTML frame is.

use postkorb_core::{Employee, EmployeeId};
use postkorb_mail::InboundMail;
use postkorb_store::{AttachmentBytes, CaseDetail, CaseSummary, StoreError, StoredAttachment};

type Result<T> = std::result::Result<T, StoreError>;

/// The raw mail `raw_id`, parsed in full.
pub async fn parsed_raw(store: &postkorb_store::Store, raw_id: i64) -> Result<InboundMail> {
    let raw = store.raw(raw_id).await?;
    tokio::task::spawn_blocking(move || postkorb_mail::parse(&raw))
        .await
        .map_err(|e| StoreError::Blob(format!("parsing raw message {raw_id} failed: {e}")))
}

/// `case` with its bodies: from the raw mail unless the row holds them. An unreadable raw mail
/// shows the Vorgang without text and with a warning saying why.
pub async fn with_bodies(store: &postkorb_store::Store, mut case: CaseDetail) -> CaseDetail {
    if case.body_in_raw {
        match parsed_raw(store, case.raw_id).await {
            Ok(mail) => {
                (case.text, case.html, case.forwarded, case.warnings) =
                    (mail.text, mail.html, mail.forwarded, mail.warnings)
            }
            Err(e) => case.warnings.push(postkorb_mail::Warning::Unreadable { detail: e.to_string() }),
        }
        case.body_in_raw = false;
    }
    case
}

/// Who sent a Vorgang, as the Startmaske and the Vorgang page name them.
pub struct Sender {
    /// The employee whose work e-mail it came from (the row's Von, while that is still their
    /// work e-mail), else the mail's display name, else empty.
    pub name: String,
    pub addr: String,
}

impl Sender {
    pub fn of(employees: &[Employee], s: &CaseSummary) -> Sender {
        let employee = s
            .sender_employee
            .and_then(|id| employees.iter().find(|e| e.id == EmployeeId(id)))
            .filter(|e| e.work_email.as_ref().is_some_and(|w| w.as_str().eq_ignore_ascii_case(s.from_addr.trim())));
        let name = match (employee, &s.from_name) {
            (Some(e), _) => e.name.clone(),
            (None, Some(n)) => n.trim().to_string(),
            (None, None) => String::new(),
        };
        Sender { name, addr: s.from_addr.clone() }
    }

    /// „Bernd Büro <bernd@firma.de>“, or the address alone.
    pub fn full(&self) -> String {
        if self.name.is_empty() { self.addr.clone() } else { format!("{} <{}>", self.name, self.addr) }
    }

    /// The name, or the address when there is none.
    pub fn short(&self) -> &str {
        if self.name.is_empty() { &self.addr } else { &self.name }
    }
}

/// The height in pixels of the frame that shows sanitised mail HTML, estimated on the server (the
/// page runs no script that could measure it): the visible characters as lines of about 90, each
/// block element (paragraph, line break, list item, table row, heading) a line, an image 160 px.
/// At least 240, at most 2,400: a longer mail scrolls inside its frame, and the frame's box can be
/// pulled taller (CSS `resize`). One pass over the bytes, so a huge mail costs no more than reading it.
pub fn frame_height(html: &str) -> u32 {
    const LINE_PX: u64 = 22;
    let b = html.as_bytes();
    let (mut chars, mut blocks, mut images) = (0u64, 0u64, 0u64);
    let mut i = 0;
    while i < b.len() {
        if b[i] != b'<' {
            chars += u64::from(b[i] & 0xC0 != 0x80);
            i += 1;
            continue;
        }
        let name: Vec<u8> =
            b[i + 1..].iter().take(10).take_while(|c| c.is_ascii_alphanumeric()).map(u8::to_ascii_lowercase).collect();
        match name.as_slice() {
            b"p" | b"br" | b"li" | b"tr" | b"div" | b"h1" | b"h2" | b"h3" | b"h4" | b"blockquote" | b"hr" => {
                blocks += 1
            }
            b"img" => images += 1,
            _ => {}
        }
        // On past the tag's end: every byte is looked at once.
        i += b[i..].iter().position(|&c| c == b'>').map_or(b.len() - i, |end| end + 1);
    }
    let px = (chars / 90 + blocks) * LINE_PX + images * 160 + 48;
    px.clamp(240, 2400) as u32
}

/// The Vorgang `id` with its bodies.
pub async fn case(store: &postkorb_store::Store, id: i64) -> Result<CaseDetail> {
    Ok(with_bodies(store, store.case(id).await?).await)
}

/// One attachment's metadata and bytes.
pub async fn attachment(
    store: &postkorb_store::Store,
    case_id: i64,
    attachment_id: i64,
) -> Result<(StoredAttachment, Vec<u8>)> {
    let (meta, bytes) = store.attachment(case_id, attachment_id).await?;
    let what = format!("attachment {attachment_id}");
    let data = match bytes {
        AttachmentBytes::Stored(data) => data,
        AttachmentBytes::InRaw { raw, index } => {
            let decoded = tokio::task::spawn_blocking(move || postkorb_mail::attachment_at(&raw, index))
                .await
                .map_err(|e| StoreError::Blob(format!("decoding {what} failed: {e}")))?;
            match decoded {
                Some((_, data)) if data.len() as i64 == meta.size => data,
                Some((_, data)) => {
                    return Err(StoreError::Blob(format!(
                        "{what}: the raw mail gives {} bytes, {} were recorded at import",
                        data.len(),
                        meta.size
                    )));
                }
                None => return Err(StoreError::Blob(format!("{what} is not in its raw mail any more"))),
            }
        }
    };
    Ok((meta, data))
}

#[cfg(test)]
mod tests {
    use super::frame_height;

    #[test]
    fn the_frame_grows_with_the_mail_within_bounds() {
        assert_eq!(frame_height(""), 240);
        let short = frame_height("<p>Hallo</p><p>Gruß</p>");
        let long = frame_height(&"<p>Ein Absatz mit etwas Text darin, der eine Zeile füllt.</p>".repeat(40));
        assert!(short == 240 && long > 240 && long < 2400, "{short} {long}");
        assert!(frame_height("<img src=\"cid:a\"><img src=\"cid:b\">") >= 320 + 48);
        let huge = "<div><br>".repeat(300_000) + &"x".repeat(2_000_000);
        assert_eq!(frame_height(&huge), 2400);
        assert_eq!(frame_height(&"<".repeat(1_000_000)), 240);
    }
}
