//! Fuzz target `parse`: any bytes through `postkorb_mail::parse`, `parse_for_import` and `fingerprint`. A panic inside
//! the parser is a crash here even though `parse` contains it (libfuzzer-sys aborts in its panic
//! hook), and the invariants every parsed mail must keep are asserted.
#![no_main]

use libfuzzer_sys::fuzz_target;

fuzz_target!(|data: &[u8]| {
    let mail = postkorb_mail::parse(data);
    let print = postkorb_mail::fingerprint(data, mail.message_id.as_deref());
    assert_eq!(print.len(), postkorb_mail::FINGERPRINT_PREFIX.len() + 64);
    assert_eq!(postkorb_mail::legacy_fingerprint(data, mail.message_id.as_deref()).len(), 64);
    if let Some(why) = &mail.malformed {
        assert!(!why.is_empty() && !why.starts_with("parser panic"), "{why}");
    }
    assert!(!mail.subject.chars().any(char::is_control), "{:?}", mail.subject);
    for (i, a) in mail.attachments.iter().enumerate() {
        // The download path decodes the same attachment again from the raw bytes.
        let (again, bytes) = postkorb_mail::attachment_at(data, i).expect("the attachment is there again");
        assert_eq!((&again, bytes.len()), (a, a.size));
        let n = &a.name;
        assert!(!n.is_empty() && !n.starts_with('.') && !n.contains(['/', '\\', ':']), "{n:?}");
        assert!(!n.chars().any(char::is_control) && n.chars().count() <= 150, "{n:?}");
    }
    // The import's parse (the text for the search index, but no HTML or forwarded original) finds
    // the same facts.
    let import = postkorb_mail::parse_for_import(data);
    assert_eq!((&import.sender, &import.subject, &import.message_id), (&mail.sender, &mail.subject, &mail.message_id));
    assert_eq!((&import.automatic, &import.malformed, &import.attachments), (&mail.automatic, &mail.malformed, &mail.attachments));
    assert!(import.html.is_none() && import.forwarded.is_none());
    if let Ok(sender) = &mail.sender {
        assert!(!sender.as_str().contains("=?") && !sender.as_str().contains(char::REPLACEMENT_CHARACTER));
    }
});
