//! The hostile corpus of the mail crate, delivered through a real Dovecot between normal mails: one
//! importer pass must not fail, every mail must end in exactly one state (a Vorgang or a kept mail
//! with the expected reason), the normal mails must still become Vorgänge, and the INBOX must empty.

use postkorb_store::MailboxRecord;

use crate::office::{Office, PASSWORD, USER};

#[path = "../../../mail/tests/it/hostile_cases.rs"]
mod hostile_cases;

use hostile_cases::{ANNA, Hostile};

fn normal(n: usize) -> Vec<u8> {
    hostile_cases::mail(
        &[
            &format!("From: Anna <{ANNA}>"),
            &format!("Subject: Normale Mail {n}"),
            "Content-Type: text/plain; charset=utf-8",
        ],
        format!("Guten Tag, Schaden Nummer {n}.\r\n").as_bytes(),
    )
}

/// Where the importer must put a hostile mail: `None` for a Vorgang, else the kept reason code.
fn expected_state(h: &Hostile) -> Option<&'static str> {
    match (h.expect.malformed, h.expect.sender) {
        (Some(_), _) => Some("malformed"),
        (None, Err(_)) => Some("no_usable_from"),
        (None, Ok(sender)) if sender == ANNA => None,
        (None, Ok(_)) => Some("no_route"),
    }
}

#[tokio::test]
async fn hostile_mails_end_in_one_defined_state_each_and_normal_mails_still_become_vorgaenge() {
    let o = Office::start().await;
    let (dovecot, store) = (&o.dovecot, &o.store);
    // Anna's mails go to Bernd: a mail parsed with Anna as sender becomes a Vorgang.
    assert_eq!(ANNA, crate::office::ANNA_EMAIL);
    let m = o
        .save(MailboxRecord { name: "hostile".into(), ..o.mailbox_record("imap", dovecot.imap_port()) }, PASSWORD)
        .await;

    // One 20 MB single-line base64 mail goes through Dovecot too; the text and HTML variants of
    // it (same size class) are covered by the parser test only, to keep this test quick.
    let mut hostile = hostile_cases::small();
    hostile.extend(hostile_cases::big().into_iter().take(1));
    let mut delivered = 0;
    for (i, h) in hostile.iter().enumerate() {
        if i % 10 == 0 {
            dovecot.deliver(USER, &normal(delivered));
            delivered += 1;
        }
        dovecot.deliver(USER, &h.raw);
    }
    let normals = delivered;

    let report = o.pass(&m).await.unwrap_or_else(|e| panic!("the importer failed on hostile input: {e}"));

    let total = hostile.len() + normals;
    assert_eq!((report.listed, report.imported.len(), report.deferred), (total, total, 0));
    let expected_cases = normals + hostile.iter().filter(|h| expected_state(h).is_none()).count();
    let (cases, kept, duplicates) = store.mailbox_counts(m.id).await.unwrap();
    assert_eq!(
        (cases as usize, kept as usize, duplicates),
        (expected_cases, total - expected_cases, 0),
        "every mail in exactly one state"
    );
    let mut want: Vec<&str> = hostile.iter().filter_map(expected_state).collect();
    let kept_mails = store.kept(true, 1000, 0).await.unwrap();
    let mut got: Vec<&str> = kept_mails.iter().map(|k| k.reason_code.as_str()).collect();
    want.sort_unstable();
    got.sort_unstable();
    assert_eq!(got, want, "kept reasons");
    for k in &kept_mails {
        assert!(!store.raw(k.raw_id).await.unwrap().is_empty(), "raw bytes kept for {:?}", k.subject);
        assert!(k.from_addr.as_deref() != Some(hostile_cases::BOSS), "{k:?}");
    }

    let vorgaenge = store.cases(None, 1000, 0).await.unwrap();
    for n in 0..normals {
        let subject = format!("Normale Mail {n}");
        assert!(vorgaenge.iter().any(|c| c.subject == subject), "no Vorgang {subject:?}");
    }
    assert_eq!(dovecot.count(USER, "INBOX"), 0, "the INBOX is empty");
    assert_eq!(dovecot.count(USER, "Postkorb/Importiert"), total);
    let health = store.mailbox(&m.name).await.unwrap();
    assert!(health.last_error.is_none(), "{:?}", health.last_error);
}
