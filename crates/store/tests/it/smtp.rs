//! Sending mail on both backends: the SMTP settings keep their password while the endpoint stays
//! and drop it when it moves (audited); a mailbox keeps its Eingangsbestätigung settings; and
//! `ack_claim` lets one reply per sender and period through, also when instances race.

use crate::common;
use common::backends;
use postkorb_core::ack::AckSettings;
use postkorb_store::SmtpRecord;

fn record() -> SmtpRecord {
    SmtpRecord {
        host: "smtp.buero.test".into(),
        port: 587,
        tls: "starttls".into(),
        username: "versand@buero.test".into(),
        secret: Some(b"sealed-1".to_vec()),
        ca_file: None,
        sender_address: "vorgaenge@buero.test".into(),
        sender_name: "Büro Muster".into(),
        updated_ms: 0,
    }
}

#[tokio::test]
async fn the_password_stays_with_its_endpoint_and_goes_when_it_moves() {
    for (store, _dir) in backends().await {
        assert!(store.smtp_settings().await.unwrap().is_none());
        store.save_smtp_by(&record(), 1, "admin").await.unwrap();
        // The form leaves the password empty: kept; the sender may change.
        let kept =
            store.save_smtp_by(&SmtpRecord { secret: None, sender_name: "Neu".into(), ..record() }, 2, "admin").await;
        let kept = kept.unwrap();
        assert_eq!((kept.secret.as_deref(), kept.sender_name.as_str()), (Some(&b"sealed-1"[..]), "Neu"));
        // Another host without a new password: dropped.
        let moved = SmtpRecord { host: "evil.example".into(), secret: None, ..record() };
        assert_eq!(store.save_smtp_by(&moved, 3, "admin").await.unwrap().secret, None);
        // With a new one: stored.
        let anew = SmtpRecord { host: "evil.example".into(), secret: Some(b"sealed-2".to_vec()), ..record() };
        assert_eq!(store.save_smtp_by(&anew, 4, "admin").await.unwrap().secret.as_deref(), Some(&b"sealed-2"[..]));
        let (log, _) = store.audit_page(&Default::default(), 10, 0).await.unwrap();
        let moved_entry = log.iter().find(|r| r.at_ms == 3).unwrap();
        let text = moved_entry.entry.as_ref().unwrap().german();
        assert!(text.contains("Server smtp.buero.test → evil.example") && text.contains("entfernt"), "{text}");
    }
}

#[test]
fn the_binding_names_the_endpoint() {
    let a = record().secret_binding();
    assert_eq!(a, SmtpRecord { sender_name: "x".into(), secret: None, ..record() }.secret_binding());
    for other in [
        SmtpRecord { host: "evil.example".into(), ..record() },
        SmtpRecord { port: 465, ..record() },
        SmtpRecord { tls: "none".into(), ..record() },
        SmtpRecord { username: "b".into(), ..record() },
    ] {
        assert_ne!(a, other.secret_binding(), "{other:?}");
    }
}

#[tokio::test]
async fn a_mailbox_keeps_its_eingangsbestaetigung_settings() {
    for (store, _dir) in backends().await {
        let mut m = common::office::mailbox_record("info");
        assert_eq!(m.ack, AckSettings::default(), "off by default");
        m.ack = AckSettings {
            enabled: true,
            text: "Danke für „{betreff}“.".into(),
            hours: 48,
            unassigned: true,
            unassigned_text: String::new(),
        };
        let saved = store.save_mailbox(&m, 1).await.unwrap();
        assert_eq!(saved.ack, m.ack);
        assert_eq!(store.mailbox("info").await.unwrap().ack, m.ack);
    }
}

#[tokio::test]
async fn one_acknowledgement_per_sender_and_period_even_when_racing() {
    const HOUR: i64 = 3_600_000;
    for (store, _dir) in backends().await {
        let id = store.save_mailbox(&common::office::mailbox_record("info"), 1).await.unwrap().id;
        let other = store.save_mailbox(&common::office::mailbox_record("zwei"), 1).await.unwrap().id;
        let t0 = 1_000 * HOUR;
        // (now, sender, mailbox, expected)
        let steps = [
            (t0, "Kunde@Example.de", id, true),
            (t0 + HOUR, "kunde@example.de", id, false),
            (t0 + HOUR, "kunde@example.de", other, true),
            (t0 + HOUR, "andere@example.de", id, true),
            (t0 + 23 * HOUR, "kunde@example.de", id, false),
            (t0 + 24 * HOUR, "kunde@example.de", id, true),
            (t0 + 25 * HOUR, "kunde@example.de", id, false),
        ];
        for (now, sender, mailbox, expected) in steps {
            assert_eq!(store.ack_claim(mailbox, sender, now, 24).await.unwrap(), expected, "{sender} at {now}");
        }
        let at = t0 + 100 * HOUR;
        let c = || store.ack_claim(id, "neu@example.de", at, 24);
        let (a, b, c, d) = tokio::join!(c(), c(), c(), c());
        let won = [a, b, c, d].map(|r| r.unwrap());
        assert_eq!(won.iter().filter(|w| **w).count(), 1, "{won:?}");
    }
}

#[tokio::test]
async fn the_import_records_the_acknowledgement_facts_with_the_vorgang_and_the_kept_mail() {
    use postkorb_core::ack::{AckFacts, Verified};
    use postkorb_core::{Decision, KeepReason};
    use postkorb_store::ImportOutcome;
    for (store, _dir) in backends().await {
        let o = common::office::office(&store).await;
        let facts = AckFacts {
            sender: Some("anna@mustermail.de".into()),
            verified: Verified::Yes,
            message_id: Some("m1@mustermail.de".into()),
            automatic: None,
            null_sender: false,
            subject: "Schaden".into(),
        };
        let kept_facts = AckFacts { verified: Verified::No, subject: "Fremd".into(), ..facts.clone() };
        let items = vec![
            postkorb_store::ImportItem {
                ack: facts.clone(),
                search_terms: None,
                ..common::office::item("k1", "Schaden", Decision::Assign { sender: o.anna, to: o.bernd })
            },
            postkorb_store::ImportItem {
                ack: kept_facts.clone(),
                search_terms: None,
                ..common::office::item("k2", "Fremd", Decision::Keep(KeepReason::NoRoute))
            },
        ];
        let out = store.commit_batch(o.mailbox, &items, 10).await.unwrap();
        let created = store.case_events_after(0, 10).await.unwrap().into_iter().find(|e| e.kind == "created").unwrap();
        assert_eq!(created.ack_facts(), Some(facts));
        let ImportOutcome::Kept { kept_id, .. } = &out[1] else { panic!("{out:?}") };
        assert_eq!(store.kept_ack_facts(*kept_id).await.unwrap(), Some(kept_facts));
    }
}
