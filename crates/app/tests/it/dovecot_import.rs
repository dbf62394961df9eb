//! The importer against a real Dovecot (IMAP and POP3): every mail ends in exactly one state with
//! the right person, the server copy goes only after the commit, and nothing is imported twice —
//! also after a cut connection, a crash between commit and disposal, or a UIDVALIDITY change.

use postkorb_app::clock::Clock;
use postkorb_app::service::importer::{self, RunReport};
use postkorb_app::service::mailbox::source_config;
use postkorb_store::{ImportOutcome, MailboxRecord};
use postkorb_testkit::{Dovecot, Proxy};

use crate::office::{Office, PASSWORD, USER};

fn mail(from: &str, subject: &str) -> Vec<u8> {
    format!(
        "From: {from}\r\nTo: {USER}\r\nSubject: {subject}\r\nMessage-ID: <{}@test>\r\nDate: Thu, 26 Nov 2026 08:00:00 +0100\r\nContent-Type: text/plain; charset=UTF-8\r\n\r\nGrüße aus dem Außendienst: {subject}\r\n.\r\n..Zeile mit Punkt\r\n",
        subject.replace(' ', "-")
    )
    .into_bytes()
}

async fn run(o: &Office, m: &MailboxRecord) -> Result<RunReport, importer::ImportError> {
    o.pass(m).await
}

fn deliver_mixed(dovecot: &Dovecot) {
    dovecot.deliver(USER, &mail("Anna <anna@mustermail.de>", "Kfz Schaden Müller"));
    dovecot.deliver(USER, &mail("info@mustermail.de", "Anfrage Hausrat"));
    dovecot.deliver(USER, &mail("Fremder <fremd@example.com>", "Werbung"));
    dovecot.deliver(USER, b"this is not a mail at all\x00\xff");
    dovecot.deliver(USER, &mail("ANNA@MusterMail.de", "Termin verschoben"));
}

/// Checks where each of the five mails of `deliver_mixed` ended up.
async fn assert_mixed_outcome(o: &Office) {
    let cases = o.store.cases(None, 100, 0).await.unwrap();
    let by_subject = |s: &str| cases.iter().find(|c| c.subject == s).unwrap_or_else(|| panic!("no Vorgang {s:?}"));
    assert_eq!(cases.len(), 3, "{cases:?}");
    assert_eq!(by_subject("Kfz Schaden Müller").assignee, Some(o.bernd.0));
    assert_eq!(by_subject("Termin verschoben").assignee, Some(o.bernd.0));
    assert_eq!(by_subject("Anfrage Hausrat").status, "waiting");
    let kept = o.store.kept(true, 100, 0).await.unwrap();
    assert_eq!(kept.len(), 2, "{kept:?}");
    let reasons: Vec<&str> = kept.iter().map(|k| k.reason_code.as_str()).collect();
    assert!(reasons.contains(&"no_route"), "{reasons:?}");
    assert!(reasons.iter().any(|r| *r == "malformed" || *r == "no_usable_from"), "{reasons:?}");
    for k in &kept {
        assert!(!o.store.raw(k.raw_id).await.unwrap().is_empty(), "raw bytes kept");
    }
}

#[tokio::test]
async fn imap_mail_becomes_vorgaenge_is_kept_with_reasons_and_is_moved_only_after_commit() {
    let o = Office::start().await;
    let dovecot = &o.dovecot;
    let m = o.mailbox("imap", dovecot.imap_port(), PASSWORD).await;
    deliver_mixed(dovecot);

    let report = run(&o, &m).await.unwrap();
    assert_eq!(report.listed, 5);
    assert_eq!(report.imported.len(), 5);
    assert_mixed_outcome(&o).await;
    let case = o.store.cases(None, 100, 0).await.unwrap();
    let id = case.iter().find(|c| c.subject == "Kfz Schaden Müller").unwrap().id;
    let detail = postkorb_web::view::case(&o.store, id).await.unwrap();
    assert!(detail.text.contains("Grüße aus dem Außendienst"));
    assert!(o.store.raw(detail.raw_id).await.unwrap().ends_with(b"\r\n..Zeile mit Punkt\r\n"));

    assert_eq!(dovecot.count(USER, "INBOX"), 0, "all moved away");
    assert_eq!(dovecot.count(USER, "Postkorb/Importiert"), 5);
    assert_eq!(dovecot.unseen(USER, "Postkorb/Importiert"), 5, "never marked \\Seen");

    // The second fetch finds nothing and changes nothing.
    let again = run(&o, &m).await.unwrap();
    assert_eq!((again.listed, again.imported.len()), (0, 0));
    assert_mixed_outcome(&o).await;

    // The first of the pool to synchronise gets it, the second nothing.
    assert_eq!(o.store.claim(o.clara, 2).await.unwrap().len(), 1);
    assert!(o.store.claim(o.bernd, 3).await.unwrap().is_empty());
    let health = o.store.mailbox(&m.name).await.unwrap();
    assert!(health.last_success_ms.is_some() && health.last_error.is_none());
}

#[tokio::test]
async fn pop3_mail_is_deleted_only_after_commit_and_never_imported_twice() {
    let o = Office::start().await;
    let dovecot = &o.dovecot;
    let m = o.mailbox("pop3", dovecot.pop3_port(), PASSWORD).await;
    deliver_mixed(dovecot);

    let report = run(&o, &m).await.unwrap();
    assert_eq!(report.imported.len(), 5);
    assert_mixed_outcome(&o).await;
    assert_eq!(dovecot.count(USER, "INBOX"), 0, "deleted at QUIT");
    let again = run(&o, &m).await.unwrap();
    assert_eq!((again.listed, again.imported.len()), (0, 0));
    assert_mixed_outcome(&o).await;
}

#[tokio::test]
async fn a_wrong_password_reports_login_failed_and_touches_nothing() {
    let o = Office::start().await;
    let dovecot = &o.dovecot;
    dovecot.deliver(USER, &mail("anna@mustermail.de", "Bleibt liegen"));
    for (protocol, port) in [("imap", dovecot.imap_port()), ("pop3", dovecot.pop3_port())] {
        let m = o.mailbox(protocol, port, "falsch").await;
        let err = run(&o, &m).await.unwrap_err();
        assert!(err.to_string().contains("login failed"), "{protocol}: {err}");
        assert!(!err.is_transient(), "a wrong password is not retried blindly");
        let health = o.store.mailbox(&m.name).await.unwrap();
        assert!(health.last_error.unwrap().contains("login failed"));
    }
    assert_eq!(dovecot.count(USER, "INBOX"), 1);
    assert!(o.store.cases(None, 10, 0).await.unwrap().is_empty());
}

#[tokio::test]
async fn a_connection_cut_in_the_middle_of_a_fetch_loses_nothing_and_duplicates_nothing() {
    let o = Office::start().await;
    let dovecot = &o.dovecot;
    for protocol in ["imap", "pop3"] {
        let port = if protocol == "imap" { dovecot.imap_port() } else { dovecot.pop3_port() };
        for i in 0..10 {
            let mut raw = mail("anna@mustermail.de", &format!("{protocol} Nummer {i}"));
            raw.extend(std::iter::repeat_n(b'x', 20_000).chain(*b"\r\n"));
            dovecot.deliver(USER, &raw);
        }
        let proxy = Proxy::start(port);
        let m = o.mailbox(protocol, proxy.port(), PASSWORD).await;
        // Cut after roughly four mails have crossed: one batch (3) is committed, the next is torn.
        proxy.cut_after(85_000);
        let err = run(&o, &m).await;
        assert!(err.is_err(), "{protocol}: the cut must surface as an error");
        let before =
            o.store.cases(None, 100, 0).await.unwrap().iter().filter(|c| c.subject.starts_with(protocol)).count();
        assert!(before < 10, "{protocol}: the cut came before the end ({before} imported)");
        // The next run over an intact connection takes the rest.
        let proxy2 = Proxy::start(port);
        let mut m2 = m.clone();
        m2.port = proxy2.port().into();
        // Another port: the password is entered again (a stored one is bound to its endpoint).
        let m2 = postkorb_app::service::mailbox::with_password(m2, &o.key, PASSWORD).unwrap();
        let m2 = o.store.save_mailbox(&m2, 2).await.unwrap();
        run(&o, &m2).await.unwrap();
        let subjects: Vec<String> = o
            .store
            .cases(None, 100, 0)
            .await
            .unwrap()
            .into_iter()
            .map(|c| c.subject)
            .filter(|s| s.starts_with(protocol))
            .collect();
        assert_eq!(
            subjects.len(),
            10,
            "{protocol}: every mail exactly once (had {before} after the cut): {subjects:?}"
        );
        let mut unique = subjects.clone();
        unique.sort();
        unique.dedup();
        assert_eq!(unique.len(), 10);
        assert_eq!(dovecot.count(USER, "INBOX"), 0, "{protocol}: all disposed of");
    }
}

/// Imports and commits everything in INBOX, then "crashes" before disposing: the mails stay on
/// the server. `as_before_blake3`: with SHA-256 fingerprints, as a build before migration 0037
/// stored them.
async fn commit_without_disposal(o: &Office, m: &MailboxRecord, as_before_blake3: bool) {
    let cfg = source_config(m, &o.key, Default::default()).unwrap();
    let mut session = postkorb_source::Session::connect(&cfg).await.unwrap();
    let keys: Vec<String> = session.list().await.unwrap().into_iter().map(|e| e.key).collect();
    let fetched = session.fetch(&keys).await.unwrap();
    let employees = o.store.employees().await.unwrap();
    let dns = importer::DnsPass::without_history(5);
    let routes = o.store.routes().await.unwrap();
    let mut prepared = importer::prepare(fetched, &employees, &routes, &importer::policy_of(m), &dns, false).await;
    if as_before_blake3 {
        for item in &mut prepared.items {
            item.fingerprint = postkorb_mail::legacy_fingerprint(&item.raw, item.mail.message_id.as_deref());
        }
    }
    importer::commit(&o.store, m.id, prepared.items, &Clock::fixed(5)).await.unwrap();
}

#[tokio::test]
async fn a_crash_between_commit_and_disposal_then_a_uidvalidity_change_creates_no_duplicates() {
    let o = Office::start().await;
    let dovecot = &o.dovecot;
    let m = o.mailbox("imap", dovecot.imap_port(), PASSWORD).await;
    for i in 0..4 {
        dovecot.deliver(USER, &mail("anna@mustermail.de", &format!("Vorgang {i}")));
    }
    commit_without_disposal(&o, &m, false).await;
    assert_eq!(dovecot.count(USER, "INBOX"), 4);
    let before = dovecot.uidvalidity(USER, "INBOX");
    dovecot.reset_uidvalidity(USER);
    assert_ne!(dovecot.uidvalidity(USER, "INBOX"), before, "the test really changed UIDVALIDITY");

    let report = run(&o, &m).await.unwrap();
    let dups = report.count(|o| matches!(o, ImportOutcome::Duplicate { .. }));
    assert_eq!(dups, 4, "{:?}", report.imported);
    assert_eq!(o.store.cases(None, 100, 0).await.unwrap().len(), 4);
    assert_eq!(dovecot.count(USER, "INBOX"), 0, "the duplicates were disposed of too");
}

/// Issue 19 (migration 0037): mails committed by a build before the BLAKE3 fingerprint (their
/// ledger rows hold SHA-256 fingerprints), left on the server by a crash before disposal, then a
/// UIDVALIDITY change: within the 30 days after the upgrade the importer makes the old fingerprint
/// too, and every mail is a duplicate — none becomes a second Vorgang.
#[tokio::test]
async fn mails_stored_before_the_blake3_fingerprint_are_still_duplicates_after_the_upgrade() {
    let o = Office::start().await;
    let dovecot = &o.dovecot;
    let m = o.mailbox("imap", dovecot.imap_port(), PASSWORD).await;
    for i in 0..3 {
        dovecot.deliver(USER, &mail("anna@mustermail.de", &format!("Vorgang {i}")));
    }
    commit_without_disposal(&o, &m, true).await;
    // The upgrade's window (migration 0037 opens it on a ledger with rows; here the ledger got its
    // rows after the migration).
    sqlx::query("INSERT INTO fingerprint_legacy (until_ms) VALUES ($1)")
        .bind(i64::MAX / 2)
        .execute(o.store.pool())
        .await
        .unwrap();
    dovecot.reset_uidvalidity(USER);

    let report = run(&o, &m).await.unwrap();
    let dups = report.count(|o| matches!(o, ImportOutcome::Duplicate { .. }));
    assert_eq!(dups, 3, "{:?}", report.imported);
    assert_eq!(o.store.cases(None, 100, 0).await.unwrap().len(), 3);
    assert_eq!(dovecot.count(USER, "INBOX"), 0);
}

#[tokio::test]
async fn a_forged_sender_never_reaches_a_person_under_the_default_or_the_trusted_server_policy() {
    let o = Office::start().await;
    let dovecot = &o.dovecot;
    let mut m = o.mailbox("imap", dovecot.imap_port(), PASSWORD).await;
    // The default policy: an aligned DKIM signature. An unsigned mail claiming to be Anna is kept.
    m.verify_policy = String::new();
    let m = o.store.save_mailbox(&m, 2).await.unwrap();
    dovecot.deliver(USER, &mail("Anna <anna@mustermail.de>", "Ungeprueft"));
    run(&o, &m).await.unwrap();
    let kept = o.store.kept(true, 10, 0).await.unwrap();
    assert_eq!(kept.len(), 1, "{kept:?}");
    assert_eq!(kept[0].reason_code, "unverified");
    assert_eq!(kept[0].reason().unwrap().german().split(':').next().unwrap(), "Absender nicht verifiziert");
    assert!(o.store.cases(None, 10, 0).await.unwrap().is_empty());

    // Trusting the office's own receiving server: only its topmost Authentication-Results counts.
    let mut m = m.clone();
    m.verify_policy = postkorb_verify::Policy::AuthResults { authserv_ids: vec!["mx.office.test".into()] }.to_storage();
    let m = o.store.save_mailbox(&m, 3).await.unwrap();
    let with_header = |header: &str, subject: &str| {
        let mut raw = format!("{header}\r\n").into_bytes();
        raw.extend(mail("Anna <anna@mustermail.de>", subject));
        raw
    };
    dovecot.deliver(
        USER,
        &with_header("Authentication-Results: mx.office.test; dmarc=pass header.from=mustermail.de", "Echt"),
    );
    dovecot.deliver(
        USER,
        &with_header(
            "Authentication-Results: mx.office.test; dmarc=fail header.from=mustermail.de\r\nAuthentication-Results: mx.office.test; dmarc=pass header.from=mustermail.de",
            "Gefaelscht",
        ),
    );
    dovecot.deliver(
        USER,
        &with_header(
            "Authentication-Results: mx.attacker.test; dmarc=pass header.from=mustermail.de",
            "Fremder Server",
        ),
    );
    run(&o, &m).await.unwrap();
    let cases = o.store.cases(None, 10, 0).await.unwrap();
    assert_eq!(cases.iter().map(|c| c.subject.as_str()).collect::<Vec<_>>(), ["Echt"]);
    assert_eq!(cases[0].assignee, Some(o.bernd.0));
    let kept: Vec<String> = o.store.kept(true, 10, 0).await.unwrap().into_iter().map(|k| k.subject).collect();
    assert_eq!(kept.len(), 3, "{kept:?}");
    assert!(kept.contains(&"Gefaelscht".to_string()) && kept.contains(&"Fremder Server".to_string()));
    // The Eingangsbestätigung's facts: only the Vorgang's sender counts as verified.
    use postkorb_core::ack::Verified;
    let created = o.store.case_events_after(0, 50).await.unwrap().into_iter().find(|e| e.kind == "created").unwrap();
    let facts = created.ack_facts().expect("recorded with the Vorgang");
    assert_eq!((facts.verified, facts.sender.as_deref()), (Verified::Yes, Some("anna@mustermail.de")));
    for k in o.store.kept(true, 10, 0).await.unwrap() {
        let facts = o.store.kept_ack_facts(k.id).await.unwrap().expect("recorded with the kept mail");
        assert_eq!(facts.verified, Verified::No, "{}", k.subject);
    }
}

#[tokio::test]
async fn a_storm_from_one_sender_is_held_instead_of_flooding_the_startmaske() {
    let o = Office::start().await;
    let dovecot = &o.dovecot;
    let mut m = o.mailbox("imap", dovecot.imap_port(), PASSWORD).await;
    m.storm_max = 3;
    m.storm_minutes = 10;
    let m = o.store.save_mailbox(&m, 2).await.unwrap();
    for i in 0..5 {
        dovecot.deliver(USER, &mail("anna@mustermail.de", &format!("Sturm {i}")));
    }
    dovecot.deliver(USER, &mail("info@mustermail.de", "Anderer Absender"));
    // Clock::fixed in `run` is in 2027; the storm window is measured against it.
    run(&o, &m).await.unwrap();
    let cases = o.store.cases(None, 100, 0).await.unwrap();
    let from_anna = cases.iter().filter(|c| c.from_addr == "anna@mustermail.de").count();
    assert_eq!(from_anna, 3, "the first three pass");
    assert!(cases.iter().any(|c| c.subject == "Anderer Absender"), "other senders are not held");
    let held = o.store.kept(true, 100, 0).await.unwrap();
    assert_eq!(held.len(), 2, "{held:?}");
    assert!(held.iter().all(|k| k.reason_code == "storm"));
    assert!(held[0].reason().unwrap().german().starts_with("Zurückgehalten: zu viele E-Mails"));
    assert_eq!(dovecot.count(USER, "INBOX"), 0, "held mail is stored, so the server copy may go");
}
