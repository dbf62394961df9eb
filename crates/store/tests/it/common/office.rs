//! The office most store tests start from — Anna (sends, no licence), Bernd and Clara (licensed)
//! and one mailbox — and mails and import items for it.

use postkorb_core::{Decision, EmailAddress, EmployeeId, Permission};
use postkorb_mail::{Attachment, InboundMail};
use postkorb_store::{ImportItem, MailboxRecord, NewEmployee, Store};

pub fn mail(from: &str, subject: &str) -> InboundMail {
    InboundMail {
        sender: EmailAddress::parse(from).map_err(|e| e.to_string()),
        display_name: Some("Anna".into()),
        subject: subject.into(),
        date_ms: Some(1_700_000_000_000),
        message_id: Some(format!("{subject}@test")),
        text: "Kunde Müller ruft zurück\0".into(),
        html: None,
        attachments: vec![Attachment {
            name: "Schaden.pdf".into(),
            content_type: "application/pdf".into(),
            content_id: None,
            size: 8,
        }],
        forwarded: None,
        automatic: None,
        malformed: None,
        warnings: vec![],
    }
}

pub fn item(key: &str, subject: &str, decision: Decision) -> ImportItem {
    let raw = super::raw_with_attachment(subject, "body", b"%PDF-1.4");
    ImportItem {
        source_key: key.into(),
        raw_digest: postkorb_mail::digests(&raw, None).raw_digest,
        legacy_fingerprint: None,
        raw: raw.into(),
        mail: mail("anna@mustermail.de", subject),
        fingerprint: format!("fp-{subject}"),
        decision,
        raw_file: None,
        ack: Default::default(),
        search_terms: None,
    }
}

pub struct Office {
    pub anna: EmployeeId,
    pub bernd: EmployeeId,
    pub clara: EmployeeId,
    pub mailbox: i64,
}

pub async fn office(store: &Store) -> Office {
    let add = |name: &str, license: Option<&str>, email: Option<&str>| NewEmployee {
        name: name.into(),
        username: Some(name.to_lowercase()),
        is_current: true,
        license: license.map(str::to_string),
        work_email: email.map(|e| EmailAddress::parse(e).unwrap()),
        permissions: vec![Permission::ManageMailImport],
    };
    let anna = store.add_employee(&add("Anna", None, Some("anna@mustermail.de")), 1).await.unwrap().id;
    let bernd = store.add_employee(&add("Bernd", Some("L2"), None), 1).await.unwrap().id;
    let clara = store.add_employee(&add("Clara", Some("L3"), None), 1).await.unwrap().id;
    let mailbox = store.save_mailbox(&mailbox_record("default"), 1).await.unwrap().id;
    Office { anna, bernd, clara, mailbox }
}

/// An enabled IMAP mailbox `name` as a store test needs it (no server is ever contacted).
pub fn mailbox_record(name: &str) -> MailboxRecord {
    MailboxRecord {
        name: name.into(),
        protocol: "imap".into(),
        tls: "none".into(),
        folder: "INBOX".into(),
        disposal: "move".into(),
        target_folder: "Postkorb/Importiert".into(),
        poll_secs: 60,
        enabled: true,
        ..Default::default()
    }
}
