//! The view of a mail, made from what the store hands out: the store keeps rows and bytes, and
//! parsing happens here, off the async threads. A Vorgang's text, sanitised HTML, forwarded
//! original and warnings come from its raw mail (rows of older versions hold them); a kept mail is
//! parsed for its page and its re-routing; an attachment is decoded from the raw mail by the same
//! parser and in the same order as at import, and refused if its size differs from the recorded one.

use postkorb_mail::InboundMail;
use postkorb_store::{AttachmentBytes, CaseDetail, StoreError, StoredAttachment};

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
            Err(e) => case.warnings.push(format!("the text of this mail could not be read from its raw mail: {e}")),
        }
        case.body_in_raw = false;
    }
    case
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
