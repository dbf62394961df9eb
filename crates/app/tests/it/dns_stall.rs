//! Issue 13 item 6: anyone who can send mail signed for a domain whose DNS never answers must not
//! stall the importer. Real Dovecot, real SQLite, and a real name server on loopback that swallows
//! every query (`test_dns`: this process's resolver asks only it; the good sender's DKIM key is pinned).

use std::time::Duration;

use mail_auth::common::headers::HeaderWriter;
use mail_auth::dkim::DkimSigner;
use postkorb_app::service::importer::RunReport;
use postkorb_store::MailboxRecord;

use crate::office::{Office, PASSWORD, USER};

/// Only a guard against a hang; no test here asserts how long a pass took.
const HANG_GUARD: Duration = Duration::from_secs(300);
const T0: i64 = 1_800_000_000_000;
const HOUR: i64 = 3_600_000;

/// A mail from `from` signed for the domain of `from` (selector s1).
fn signed(from: &str, subject: &str) -> Vec<u8> {
    let domain = from.rsplit('@').next().unwrap();
    let mail = format!(
        "From: {from}\r\nTo: {USER}\r\nSubject: {subject}\r\nMessage-ID: <{}@test>\r\n\
         Date: Thu, 26 Nov 2026 08:00:00 +0100\r\n\r\nText: {subject}\r\n",
        subject.replace(' ', "-")
    );
    let signature = DkimSigner::from_key(crate::test_dns::install().signing_key())
        .domain(domain)
        .selector("s1")
        .headers(["From", "To", "Subject", "Message-ID", "Date"])
        .sign(mail.as_bytes())
        .unwrap();
    let mut raw = signature.to_header().into_bytes();
    raw.extend_from_slice(mail.as_bytes());
    raw
}

/// The office's mailbox under the default policy: an aligned DKIM signature, checked here.
async fn mailbox(o: &Office) -> MailboxRecord {
    let m = o.mailbox_record("imap", o.dovecot.imap_port());
    o.save(MailboxRecord { name: "dns".into(), verify_policy: String::new(), ..m }, PASSWORD).await
}

async fn pass(o: &Office, m: &MailboxRecord, now_ms: i64) -> RunReport {
    tokio::time::timeout(HANG_GUARD, o.pass_at(m, now_ms))
        .await
        .expect("a pass must return although a sender domain's DNS never answers")
        .unwrap()
}

#[tokio::test]
async fn a_flood_from_a_domain_whose_dns_never_answers_does_not_hold_up_other_mail_and_is_kept_after_a_day() {
    let o = Office::start().await;
    let dovecot = &o.dovecot;
    let m = mailbox(&o).await;
    for i in 0..6 {
        dovecot.deliver(USER, &signed("spam@stall.test", &format!("Haengt {i}")));
        if i % 2 == 0 {
            dovecot.deliver(USER, &signed("anna@mustermail.de", &format!("Echt {i}")));
        }
    }

    // The pass returns, Anna's mails are Bernd's Vorgänge, the stalled ones wait on the server.
    let report = pass(&o, &m, T0).await;
    let cases = o.store.cases(None, 100, 0).await.unwrap();
    let mut subjects: Vec<&str> = cases.iter().map(|c| c.subject.as_str()).collect();
    subjects.sort();
    assert_eq!(subjects, ["Echt 0", "Echt 2", "Echt 4"], "{report:?}");
    assert!(cases.iter().all(|c| c.assignee_name.as_deref() == Some("Bernd")), "{cases:?}");
    assert_eq!(report.deferred, 6, "{report:?}");
    assert_eq!(dovecot.count(USER, "INBOX"), 6, "the stalled mails stay on the server for a retry");
    assert!(o.store.kept(true, 10, 0).await.unwrap().is_empty());
    let retries = o.store.dns_retries(m.id).await.unwrap();
    assert_eq!(retries.len(), 6);
    assert!(retries.values().all(|r| r.first_ms == T0 && r.tries == 1 && r.next_ms > T0), "{retries:?}");

    // A minute later they are not fetched and checked again (back-off): still one try each.
    let report = pass(&o, &m, T0 + 60_000).await;
    assert_eq!((report.deferred, report.imported.len()), (6, 0), "{report:?}");
    assert!(o.store.dns_retries(m.id).await.unwrap().values().all(|r| r.tries == 1));

    // After the give-up time (24 h by default) the next failure keeps them, with the reason.
    let report = pass(&o, &m, T0 + 25 * HOUR).await;
    assert_eq!(report.deferred, 0, "{report:?}");
    let kept = o.store.kept(true, 10, 0).await.unwrap();
    assert_eq!(kept.len(), 6, "{kept:?}");
    for k in &kept {
        assert_eq!(k.reason_code, "unverified_dns");
        let german = k.reason().unwrap().german();
        assert!(german.starts_with("Absender nicht verifiziert (DNS nicht erreichbar)"), "{german}");
    }
    assert_eq!(dovecot.count(USER, "INBOX"), 0, "kept and disposed of");
    assert!(o.store.dns_retries(m.id).await.unwrap().is_empty(), "stored mails wait for nothing");
    assert_eq!(o.store.cases(None, 100, 0).await.unwrap().len(), 3, "no forged mail reached a person");
}
