//! Auskunft and Löschen auf Antrag (issue 18) on both backends: a person who appears as sender,
//! in Cc and inside a forwarded mail (three Vorgänge) and as the sender of a kept mail is found
//! with the right place each; the ZIP holds the index, the raw mails byte for byte and the
//! attachments; an erasure leaves no trace of the deleted mails in any table or blob file, and a
//! Vorgang under its retention duty gets a Sperre with the legal reason instead.

use std::collections::HashMap;

use postkorb_core::retention::HoldKind;
use postkorb_core::time::parse_berlin;
use postkorb_core::{Decision, EmailAddress, KeepReason};
use postkorb_store::{EraseAction, FoundIn, HoldTarget, ImportItem, ImportOutcome, PersonItem, PersonQuery};

use crate::common;
use crate::retention::{age_files, backends, files_with, rows_with};

const PERSON: &str = "karl.meier@example.org";

fn at(s: &str) -> i64 {
    parse_berlin(s).unwrap()
}

/// A raw mail with `headers`, a text carrying `marker` and `body`, and a PDF attachment `marker.pdf`.
fn raw(headers: &str, marker: &str, body: &str) -> Vec<u8> {
    use base64::Engine;
    let pdf = base64::engine::general_purpose::STANDARD.encode(format!("%PDF-1.4 {marker}"));
    format!(
        "{headers}Subject: Anfrage {marker}\r\nMIME-Version: 1.0\r\n\
         Content-Type: multipart/mixed; boundary=\"b1\"\r\n\r\n\
         --b1\r\nContent-Type: text/plain; charset=utf-8\r\n\r\nNachricht {marker}\r\n{body}\r\n\
         --b1\r\nContent-Type: application/pdf; name=\"{marker}.pdf\"\r\n\
         Content-Disposition: attachment; filename=\"{marker}.pdf\"\r\nContent-Transfer-Encoding: base64\r\n\r\n\
         {pdf}\r\n--b1--\r\n"
    )
    .into_bytes()
}

fn item(key: &str, from: &str, raw: Vec<u8>, decision: Decision) -> ImportItem {
    let mut i = common::office::item(key, key, decision);
    let parsed = postkorb_mail::parse_for_import(&raw);
    i.raw_digest = postkorb_mail::digests(&raw, None).raw_digest;
    i.fingerprint = format!("fp-{key}");
    i.mail.sender = EmailAddress::parse(from).map_err(|e| e.to_string());
    i.mail.subject = parsed.subject;
    i.mail.text = parsed.text;
    i.mail.attachments = parsed.attachments;
    i.raw = raw.into();
    i
}

/// The entries of a ZIP of stored entries: name → bytes.
fn unzip(zip: &[u8]) -> HashMap<String, Vec<u8>> {
    let u16_at = |p: usize| u16::from_le_bytes([zip[p], zip[p + 1]]) as usize;
    let u32_at = |p: usize| u32::from_le_bytes(zip[p..p + 4].try_into().unwrap()) as usize;
    let mut out = HashMap::new();
    let mut p = 0;
    while u32_at(p) == 0x0403_4b50 {
        assert_eq!(u16_at(p + 8), 0, "stored");
        let (size, name_len, extra) = (u32_at(p + 18), u16_at(p + 26), u16_at(p + 28));
        let name = String::from_utf8(zip[p + 30..p + 30 + name_len].to_vec()).unwrap();
        let start = p + 30 + name_len + extra;
        let data = zip[start..start + size].to_vec();
        assert_eq!(crc32(&data), u32_at(p + 14) as u32, "{name}: CRC");
        out.insert(name, data);
        p = start + size;
    }
    assert_eq!(u32_at(p), 0x0201_4b50, "the central directory follows");
    out
}

fn crc32(data: &[u8]) -> u32 {
    let mut crc = !0u32;
    for &b in data {
        crc ^= u32::from(b);
        for _ in 0..8 {
            crc = if crc & 1 != 0 { (crc >> 1) ^ 0xEDB8_8320 } else { crc >> 1 };
        }
    }
    !crc
}

#[tokio::test]
async fn a_persons_mails_are_found_exported_and_erased_or_restricted_where_a_duty_keeps_them() {
    for db in backends().await {
        let store = &db.store;
        let o = common::office::office(store).await;
        let assign = Decision::Assign { sender: o.anna, to: o.bernd };
        let t0 = at("2025-05-02 10:00");
        let as_sender = raw("From: Karl Meier <Karl.Meier@example.org>\r\nTo: buero@makler.de\r\n", "mkSEND1", "");
        let in_cc =
            raw("From: anna@mustermail.de\r\nTo: x@y.de\r\nCc: K. Meier <karl.meier@example.org>\r\n", "mkCC2", "");
        let forwarded = raw(
            "From: anna@mustermail.de\r\nTo: buero@makler.de\r\n",
            "mkFWD3",
            "-------- Weitergeleitete Nachricht --------\r\nBetreff: Schaden\r\nVon: Karl Meier <karl.meier@example.org>\r\n\
             An: info@makler.de\r\n\r\nBitte melden.\r\n",
        );
        let kept = raw("From: karl.meier@example.org\r\nTo: buero@makler.de\r\n", "mkKEPT4", "");
        let other = raw("From: anna@mustermail.de\r\nTo: x@y.de\r\n", "mkOTHER5", "");
        let out = store
            .commit_batch(
                o.mailbox,
                &[
                    item("m:1", PERSON, as_sender.clone(), assign.clone()),
                    item("m:2", "anna@mustermail.de", in_cc.clone(), assign.clone()),
                    item("m:3", "anna@mustermail.de", forwarded.clone(), assign.clone()),
                    item("m:4", PERSON, kept.clone(), Decision::Keep(KeepReason::NoRoute)),
                    item("m:5", "anna@mustermail.de", other, assign.clone()),
                ],
                t0,
            )
            .await
            .unwrap();
        let ids: Vec<i64> = out
            .iter()
            .map(|o| match o {
                ImportOutcome::Case { case_id, .. } => *case_id,
                ImportOutcome::Kept { kept_id, .. } => *kept_id,
                other => panic!("{other:?}"),
            })
            .collect();
        let (sender_case, cc_case, fwd_case, kept_id, other_case) = (ids[0], ids[1], ids[2], ids[3], ids[4]);
        store.add_note(cc_case, o.bernd, "Rückruf mkCC2 erbeten", t0 + 1).await.unwrap();
        // The forwarded one was closed last year: a business letter kept six years.
        store.set_case_done(fwd_case, true, o.bernd, at("2025-06-01 10:00")).await.unwrap();
        age_files(&db.blob_dir);

        // The search finds the four, each where it is.
        let q = PersonQuery::new(" Karl.Meier@Example.org ").unwrap();
        let found = store.find_person(&q).await.unwrap();
        let places: Vec<(PersonItem, Vec<FoundIn>)> = found.iter().map(|m| (m.item, m.found_in.clone())).collect();
        assert_eq!(places.len(), 4, "{:?}: {places:?}", store.backend());
        assert_eq!(places[0], (PersonItem::Case(sender_case), vec![FoundIn::Sender]));
        assert_eq!(places[1], (PersonItem::Case(cc_case), vec![FoundIn::Cc]));
        assert_eq!(places[2].0, PersonItem::Case(fwd_case));
        assert!(places[2].1.contains(&FoundIn::Forwarded), "{places:?}");
        assert_eq!(places[3], (PersonItem::Kept(kept_id), vec![FoundIn::Sender]));
        // By name: a display name, and the forwarded original's Von line.
        let by_name = store.find_person(&PersonQuery::new("karl meier").unwrap()).await.unwrap();
        let named: Vec<PersonItem> = by_name.iter().map(|m| m.item).collect();
        assert_eq!(named, vec![PersonItem::Case(sender_case), PersonItem::Case(fwd_case)]);
        // A note names whom it names.
        let by_note = store.find_person(&PersonQuery::new("Rückruf mkcc2").unwrap()).await.unwrap();
        assert_eq!(
            by_note.iter().map(|m| (m.item, m.found_in.clone())).collect::<Vec<_>>(),
            vec![(PersonItem::Case(cc_case), vec![FoundIn::Note])]
        );
        assert!(PersonQuery::new("ab").is_err(), "too short");

        // The ZIP: index, mails byte for byte, attachments.
        let zip = store.export_person(&q, &found, Vec::new(), "dsb", at("2026-03-01 12:00")).await.unwrap();
        let files = unzip(&zip);
        let index: serde_json::Value = serde_json::from_slice(&files["index.json"]).unwrap();
        let items = index["items"].as_array().unwrap();
        assert_eq!(items.len(), 4);
        assert_eq!(items[1]["found_in_german"][0], "in Cc");
        assert_eq!(items[1]["notes"][0]["text"], "Rückruf mkCC2 erbeten");
        assert_eq!(items[1]["bearbeiter"], "Bernd");
        for (n, (dir, bytes, marker)) in [
            (format!("vorgang-{sender_case}"), &as_sender, "mkSEND1"),
            (format!("vorgang-{cc_case}"), &in_cc, "mkCC2"),
            (format!("vorgang-{fwd_case}"), &forwarded, "mkFWD3"),
            (format!("email-{kept_id}"), &kept, "mkKEPT4"),
        ]
        .iter()
        .enumerate()
        {
            assert_eq!(&files[&format!("{dir}/email.eml")], *bytes, "{dir}");
            let pdf = format!("{dir}/1-{marker}.pdf");
            assert_eq!(files[&pdf], format!("%PDF-1.4 {marker}").as_bytes(), "{pdf}");
            assert_eq!(items[n]["files"][1], pdf.as_str());
        }
        assert!(!files.keys().any(|k| k.contains("mkOTHER5")));
        let audit = store.audit_page(&Default::default(), 10, 0).await.unwrap().0;
        assert!(audit.iter().any(|r| r.action == "privacy_export"), "the export is audited");

        // Erasure: the plan, then carried out.
        let now = at("2026-03-01 12:00");
        let plan = store.erase_plan(&found, now).await.unwrap();
        assert_eq!(plan[0], EraseAction::Delete);
        assert_eq!(plan[1], EraseAction::Delete);
        let EraseAction::Restrict { until_ms, reason } = &plan[2] else { panic!("{plan:?}") };
        assert_eq!(*until_ms, at("2032-01-01 00:00"));
        assert!(reason.contains("§ 257 HGB") && reason.contains("01.01.2032"), "{reason}");
        assert_eq!(plan[3], EraseAction::Delete);
        for (m, action) in found.iter().zip(&plan) {
            assert!(store.erase_item(m, action, "dsb", "Antrag vom 01.03.2026", now).await.unwrap(), "{m:?}");
        }
        for marker in ["mkSEND1", "mkCC2", "mkKEPT4"] {
            let left = rows_with(store, marker).await;
            assert!(left.is_empty(), "{:?} {marker} left behind: {left:#?}", store.backend());
            assert!(files_with(&db.blob_dir, marker).is_empty(), "{marker}: the blob file went");
        }
        // The one under its duty stays, restricted, with the reason; the unrelated one is whole.
        assert!(!rows_with(store, "mkFWD3").await.is_empty());
        let holds = store.holds(HoldTarget::Case(fwd_case)).await.unwrap();
        assert_eq!((holds.len(), holds[0].kind), (1, HoldKind::Restriction));
        assert!(holds[0].reason.contains("§ 257 HGB"));
        assert!(store.case(other_case).await.is_ok());
        // A second request finds only the restricted one, and leaves it (a Sperre holds it).
        let again = store.find_person(&q).await.unwrap();
        assert_eq!(again.iter().map(|m| m.item).collect::<Vec<_>>(), vec![PersonItem::Case(fwd_case)]);
        assert_eq!(store.erase_plan(&again, now).await.unwrap(), vec![EraseAction::Held]);
        assert!(!store.delete_case_now(fwd_case, "dsb", "x", now).await.unwrap(), "a Sperre stops it");
        // The Löschprotokoll: three entries „Antrag“ with ids and hashes, by the actor.
        let (log, _) = store.deletion_log(10, 0).await.unwrap();
        let request: Vec<i64> =
            log.iter().filter(|e| e.on_request && e.actor == "dsb").map(|e| e.items[0].id).collect();
        assert_eq!(request.len(), 3, "{log:?}");
        assert!(log.iter().all(|e| e.items.iter().all(|d| d.sha256.as_ref().is_some_and(|h| h.len() == 64))));
    }
}
