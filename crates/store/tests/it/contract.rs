//! The storage contract: what every backend must do. Runs on SQLite always, and on PostgreSQL
//! when `POSTKORB_TEST_POSTGRES` holds a server URL (the test command starts one).

use crate::common;
use common::backends;
use common::office::{item, mail, office};
use postkorb_core::{Decision, EmployeeId, KeepReason};
use postkorb_store::{ImportItem, ImportOutcome, NewEmployee, Store, StoreError};

#[tokio::test]
async fn employees_round_trip_and_blank_licence_means_none() {
    for (store, _d) in backends().await {
        let o = office(&store).await;
        let mut bernd = store.employee(o.bernd).await.unwrap();
        assert_eq!(bernd.license.as_deref(), Some("L2"));
        bernd.license = Some("   ".into());
        store.update_employee(&bernd).await.unwrap();
        assert_eq!(store.employee(o.bernd).await.unwrap().license, None);
        assert_eq!(store.find_employee("anna").await.unwrap().id, o.anna);
        assert!(matches!(store.find_employee("nobody").await, Err(StoreError::NotFound(_))));
    }
}

#[tokio::test]
async fn a_row_breaking_the_rules_is_refused_with_every_reason() {
    for (store, _d) in backends().await {
        let o = office(&store).await;
        store.add_route(o.anna, o.bernd, 2).await.unwrap();
        let err = store.add_route(o.bernd, o.anna, 2).await.unwrap_err();
        let StoreError::Rules(rules) = err else { panic!("expected rule errors, got {err:?}") };
        assert_eq!(rules.0.len(), 2, "{rules}");
        assert!(matches!(store.add_route(o.anna, o.bernd, 3).await, Err(StoreError::Rules(_))));
        assert_eq!(store.routes().await.unwrap().len(), 1);
    }
}

#[tokio::test]
async fn attachments_are_decoded_from_the_raw_mail_and_rows_of_older_versions_still_serve_their_bytes() {
    for (store, _d) in backends().await {
        let o = office(&store).await;
        let items = vec![item("imap:INBOX:1:1", "eins", Decision::Assign { sender: o.anna, to: o.bernd })];
        let out = store.commit_batch(o.mailbox, &items, 10).await.unwrap();
        let ImportOutcome::Case { case_id, .. } = out[0] else { panic!("{out:?}") };
        let a = store.case(case_id).await.unwrap().attachments.remove(0);
        let stored: i64 = sqlx::query_scalar("SELECT LENGTH(data) + in_raw * 1000 FROM attachments WHERE id = $1")
            .bind(a.id)
            .fetch_one(store.pool())
            .await
            .unwrap();
        assert_eq!(stored, 1000, "no attachment byte stored beside the raw mail");
        assert_eq!(common::attachment_bytes(&store, case_id, a.id).await.unwrap(), b"%PDF-1.4");
        // (A size that does not match what the raw mail gives is refused by the view above the
        // store: crates/web/src/view.rs, tested in crates/app/tests/blob_dir.rs.)

        // A row written before attachments lived in the raw mail keeps its own bytes.
        sqlx::query("UPDATE attachments SET in_raw = 0, data = $1, size = 3 WHERE id = $2")
            .bind(b"alt".to_vec())
            .bind(a.id)
            .execute(store.pool())
            .await
            .unwrap();
        let (_, bytes) = store.attachment(case_id, a.id).await.unwrap();
        assert!(matches!(bytes, postkorb_store::AttachmentBytes::Stored(b) if b == b"alt"));
    }
}

#[tokio::test]
async fn a_batch_stores_cases_and_kept_mails_and_the_ledger_refuses_a_second_import() {
    for (store, _d) in backends().await {
        let o = office(&store).await;
        let items = vec![
            item("imap:INBOX:1:1", "eins", Decision::Assign { sender: o.anna, to: o.bernd }),
            item("imap:INBOX:1:2", "zwei", Decision::Keep(KeepReason::NoRoute)),
        ];
        let out = store.commit_batch(o.mailbox, &items, 10).await.unwrap();
        let ImportOutcome::Case { case_id, .. } = out[0] else { panic!("{out:?}") };
        assert!(matches!(out[1], ImportOutcome::Kept { .. }));

        let case = store.case(case_id).await.unwrap();
        assert_eq!(case.summary.assignee, Some(o.bernd.0));
        assert_eq!(case.summary.status, "open");
        // The text is made from the raw mail when the Vorgang is shown (`body_in_raw`, by the view
        // above the store), not taken from what the importer parsed (that mail's text is unrelated here).
        assert!(case.body_in_raw && case.text.is_empty());
        let shown = postkorb_mail::parse(&store.raw(case.raw_id).await.unwrap());
        assert_eq!(shown.text.trim_end(), "body", "the text comes from the raw mail");
        assert_eq!((case.html.as_deref(), case.forwarded.as_ref()), (None, None));
        let stored: (String, i64) = sqlx::query_as("SELECT body_text, body_in_raw FROM cases WHERE id = $1")
            .bind(case_id)
            .fetch_one(store.pool())
            .await
            .unwrap();
        assert_eq!(stored, (String::new(), 1), "the database holds no second copy of the text");
        // A Vorgang stored before migration 0012 keeps showing its stored columns.
        sqlx::query("UPDATE cases SET body_in_raw = 0, body_text = 'gespeicherter Text' WHERE id = $1")
            .bind(case_id)
            .execute(store.pool())
            .await
            .unwrap();
        assert_eq!(store.case(case_id).await.unwrap().text, "gespeicherter Text");
        sqlx::query("UPDATE cases SET body_in_raw = 1, body_text = '' WHERE id = $1")
            .bind(case_id)
            .execute(store.pool())
            .await
            .unwrap();
        assert_eq!(case.attachments.len(), 1);
        let bytes = common::attachment_bytes(&store, case_id, case.attachments[0].id).await.unwrap();
        assert_eq!(bytes, b"%PDF-1.4");
        assert_eq!(store.raw(case.raw_id).await.unwrap(), items[0].raw);

        let again = store.commit_batch(o.mailbox, &items, 11).await.unwrap();
        assert_eq!(again, vec![ImportOutcome::AlreadyKnown, ImportOutcome::AlreadyKnown]);
        // Same bytes under a new key (UIDVALIDITY changed): a duplicate, no second Vorgang.
        let moved = vec![item("imap:INBOX:2:1", "eins", Decision::Assign { sender: o.anna, to: o.bernd })];
        let dup = store.commit_batch(o.mailbox, &moved, 12).await.unwrap();
        assert!(matches!(dup[0], ImportOutcome::Duplicate { .. }), "{dup:?}");
        assert_eq!(store.cases(None, 100, 0).await.unwrap().len(), 1);
        assert_eq!(store.kept(true, 100, 0).await.unwrap().len(), 1);
        assert_eq!(store.mailbox_counts(o.mailbox).await.unwrap(), (1, 1, 1));

        let undisposed = store.undisposed_keys(o.mailbox).await.unwrap();
        assert_eq!(undisposed.len(), 3);
        store.mark_disposed(o.mailbox, &undisposed, 13).await.unwrap();
        assert!(store.undisposed_keys(o.mailbox).await.unwrap().is_empty());
        let known = store.known_keys(o.mailbox, &["imap:INBOX:1:1".into(), "x".into()]).await.unwrap();
        assert_eq!(known.get("imap:INBOX:1:1"), Some(&true));
        assert_eq!(known.get("x"), None);
    }
}

#[tokio::test]
async fn a_large_mixed_batch_links_every_row_to_its_mail_and_keeps_the_ledger_in_item_order() {
    for (store, _d) in backends().await {
        let o = office(&store).await;
        // 1,201 items, more than one statement's chunk of rows: assigned, pooled, kept, and a
        // duplicate of the item before it (same bytes and fingerprint, another key), plus one key twice.
        let mut items = Vec::new();
        for i in 0..1200 {
            let (subject, decision) = match i % 4 {
                0 => (format!("m{i}"), Decision::Assign { sender: o.anna, to: o.bernd }),
                1 => (format!("m{i}"), Decision::Pool { sender: o.anna, candidates: vec![o.bernd, o.clara] }),
                2 => (format!("m{i}"), Decision::Keep(KeepReason::NoRoute)),
                _ => (format!("m{}", i - 1), Decision::Keep(KeepReason::NoRoute)),
            };
            items.push(item(&format!("k{i}"), &subject, decision));
        }
        items.push(item("k5", "again", Decision::Keep(KeepReason::NoRoute)));
        let out = store.commit_batch(o.mailbox, &items, 10).await.unwrap();
        assert_eq!(out.len(), items.len());
        assert_eq!(out[1200], ImportOutcome::AlreadyKnown, "a key twice in one batch is imported once");

        type LedgerRow = (i64, String, String, Option<i64>, Option<i64>, Option<i64>);
        let ledger: Vec<LedgerRow> = sqlx::query_as(
            "SELECT id, source_key, outcome, case_id, kept_id, duplicate_of FROM ledger WHERE mailbox_id = $1 ORDER BY id",
        )
        .bind(o.mailbox)
        .fetch_all(store.pool())
        .await
        .unwrap();
        let keys: Vec<&str> = ledger.iter().map(|r| r.1.as_str()).collect();
        let expected: Vec<String> = (0..1200).map(|i| format!("k{i}")).collect();
        assert_eq!(keys, expected.iter().map(String::as_str).collect::<Vec<_>>(), "ledger rows in item order");

        for (i, o_) in out[..1200].iter().enumerate() {
            let row = &ledger[i];
            match (i % 4, o_) {
                (0 | 1, ImportOutcome::Case { case_id, decision }) => {
                    assert_eq!((row.2.as_str(), row.3), ("case", Some(*case_id)));
                    assert_eq!(decision, &items[i].decision);
                    let case = store.case(*case_id).await.unwrap();
                    assert_eq!(case.summary.subject, format!("m{i}"));
                    assert_eq!(store.raw(case.raw_id).await.unwrap(), items[i].raw);
                    let kinds: Vec<&str> = case.events.iter().map(|e| e.kind.as_str()).collect();
                    let candidates = if i % 4 == 0 { vec![o.bernd.0] } else { vec![o.bernd.0, o.clara.0] };
                    if i % 4 == 0 {
                        assert_eq!(kinds, ["created", "assigned"]);
                        assert_eq!(case.summary.assignee, Some(o.bernd.0));
                    } else {
                        assert_eq!(kinds, ["created", "waiting"]);
                        assert_eq!(case.summary.status, "waiting");
                    }
                    let mut got = case.candidates.clone();
                    got.sort();
                    assert_eq!(got, candidates);
                    assert_eq!(case.attachments.len(), 1);
                }
                (2, ImportOutcome::Kept { kept_id, .. }) => {
                    assert_eq!((row.2.as_str(), row.4), ("kept", Some(*kept_id)))
                }
                (3, ImportOutcome::Duplicate { of_ledger }) => {
                    assert_eq!(*of_ledger, ledger[i - 1].0, "a duplicate of the item before it");
                    assert_eq!((row.2.as_str(), row.5), ("duplicate", Some(*of_ledger)));
                }
                (_, other) => panic!("item {i}: {other:?}"),
            }
        }
        let kept: Vec<(i64, String)> =
            sqlx::query_as("SELECT k.id, k.subject FROM kept k ORDER BY k.id").fetch_all(store.pool()).await.unwrap();
        assert_eq!(kept.len(), 300);
        for (i, o_) in out[..1200].iter().enumerate() {
            if let ImportOutcome::Kept { kept_id, .. } = o_ {
                assert!(kept.contains(&(*kept_id, format!("m{i}"))), "kept entry of item {i}");
            }
        }
        assert_eq!(store.waiting_for(o.clara).await.unwrap().len(), 300);
        assert_eq!(store.mailbox_counts(o.mailbox).await.unwrap(), (600, 300, 300));
    }
}

#[tokio::test]
async fn the_first_candidate_to_synchronise_gets_the_vorgang_and_the_second_gets_nothing() {
    for (store, _d) in backends().await {
        let o = office(&store).await;
        let pool = Decision::Pool { sender: o.anna, candidates: vec![o.bernd, o.clara] };
        let out = store.commit_batch(o.mailbox, &[item("k1", "pool", pool)], 10).await.unwrap();
        let ImportOutcome::Case { case_id, .. } = out[0] else { panic!() };
        assert_eq!(store.waiting_for(o.clara).await.unwrap().len(), 1);
        assert_eq!(store.claim(o.clara, 20).await.unwrap(), vec![case_id]);
        assert_eq!(store.claim(o.bernd, 21).await.unwrap(), Vec::<i64>::new());
        assert_eq!(store.claim(o.anna, 22).await.unwrap(), Vec::<i64>::new(), "not a candidate");
        let case = store.case(case_id).await.unwrap();
        assert_eq!(case.summary.assignee, Some(o.clara.0));
        assert!(case.events.iter().any(|e| e.kind == "claimed" && e.employee_id == Some(o.clara.0)));
    }
}

#[tokio::test]
async fn sixteen_concurrent_claims_give_exactly_one_winner_per_vorgang() {
    for (store, _d) in backends().await {
        let o = office(&store).await;
        let mut candidates = vec![o.bernd, o.clara];
        for i in 0..14 {
            let e = NewEmployee {
                name: format!("Kandidat {i}"),
                is_current: true,
                license: Some("L".into()),
                ..Default::default()
            };
            candidates.push(store.add_employee(&e, 1).await.unwrap().id);
        }
        candidates.sort();
        let items: Vec<ImportItem> = (0..50)
            .map(|i| {
                item(
                    &format!("k{i}"),
                    &format!("s{i}"),
                    Decision::Pool { sender: o.anna, candidates: candidates.clone() },
                )
            })
            .collect();
        store.commit_batch(o.mailbox, &items, 10).await.unwrap();
        let handles: Vec<_> = candidates
            .iter()
            .map(|c| {
                let store = store.clone();
                let c = *c;
                tokio::spawn(async move { store.claim(c, 20).await.unwrap() })
            })
            .collect();
        let mut won: Vec<i64> = Vec::new();
        for h in handles {
            won.extend(h.await.unwrap());
        }
        won.sort();
        let all: Vec<i64> = store.cases(None, 1000, 0).await.unwrap().iter().map(|c| c.id).collect();
        let mut all_sorted = all.clone();
        all_sorted.sort();
        assert_eq!(won, all_sorted, "every Vorgang claimed exactly once");
    }
}

/// The Startmaske's and the API's lists (their SQL follows the indexes of migration 0011).
#[tokio::test]
async fn lists_show_not_done_first_then_newest_first_a_page_at_a_time_and_counts_match_them() {
    for (store, _d) in backends().await {
        let o = office(&store).await;
        let case = |out: Vec<ImportOutcome>| match out[0] {
            ImportOutcome::Case { case_id, .. } => case_id,
            _ => panic!("{out:?}"),
        };
        let ids_of = |list: Vec<postkorb_store::CaseSummary>| list.iter().map(|c| c.id).collect::<Vec<i64>>();
        // Bernd gets six Vorgänge, received at 10, 11, 12, 12, 14, 15; Clara one at 13.
        let mut b = Vec::new();
        for (i, at) in [10, 11, 12, 12, 14, 15].into_iter().enumerate() {
            let to_bernd = Decision::Assign { sender: o.anna, to: o.bernd };
            b.push(case(
                store.commit_batch(o.mailbox, &[item(&format!("b{i}"), &format!("b{i}"), to_bernd)], at).await.unwrap(),
            ));
        }
        let to_clara = Decision::Assign { sender: o.anna, to: o.clara };
        let clara = case(store.commit_batch(o.mailbox, &[item("c", "c", to_clara)], 13).await.unwrap());
        let pool = Decision::Pool { sender: o.anna, candidates: vec![o.bernd, o.clara] };
        let pool = case(store.commit_batch(o.mailbox, &[item("p", "p", pool)], 16).await.unwrap());
        store.set_case_done(b[5], true, o.bernd, 20).await.unwrap();
        store.set_case_done(b[0], true, o.bernd, 21).await.unwrap();

        // Open ones first, newest first (same time: the later Vorgang first), then the done ones.
        let bernd = vec![b[4], b[3], b[2], b[1], b[5], b[0]];
        assert_eq!(ids_of(store.cases(Some(o.bernd), 100, 0).await.unwrap()), bernd);
        let mut paged = Vec::new();
        for page in 0..4 {
            paged.extend(ids_of(store.cases(Some(o.bernd), 2, page * 2).await.unwrap()));
        }
        assert_eq!(paged, bernd, "pages of two, in the same order");
        assert_eq!(store.count_cases(Some(o.bernd)).await.unwrap(), 6);
        assert_eq!(store.count_cases(Some(o.clara)).await.unwrap(), 1);
        // Everything: the waiting Vorgang counts as not done.
        let all = vec![pool, b[4], clara, b[3], b[2], b[1], b[5], b[0]];
        assert_eq!(ids_of(store.cases(None, 100, 0).await.unwrap()), all);
        assert_eq!(ids_of(store.cases(None, 3, 6).await.unwrap()), all[6..].to_vec());
        assert_eq!(store.count_cases(None).await.unwrap(), 8);

        // New since 13: the two given to Bernd at 14 and 15; then the pool he claims at 30.
        assert_eq!(store.new_cases_since(o.bernd, 13).await.unwrap(), 2);
        assert_eq!(ids_of(store.waiting_for(o.bernd).await.unwrap()), vec![pool]);
        assert_eq!(ids_of(store.waiting_for(o.clara).await.unwrap()), vec![pool]);
        assert_eq!(store.claim(o.bernd, 30).await.unwrap(), vec![pool]);
        assert_eq!(store.count_cases(Some(o.bernd)).await.unwrap(), 7, "the claimed one counts");
        assert_eq!(store.new_cases_since(o.bernd, 13).await.unwrap(), 3);
        assert_eq!(store.new_cases_since(o.bernd, 30).await.unwrap(), 0);
        assert!(store.waiting_for(o.clara).await.unwrap().is_empty());
        assert_eq!(ids_of(store.cases(Some(o.bernd), 1, 0).await.unwrap()), vec![pool], "received last, open");

        // A kept mail routed again to Clara counts for her.
        let out = store.commit_batch(o.mailbox, &[item("k", "k", Decision::Keep(KeepReason::NoRoute))], 35).await;
        let ImportOutcome::Kept { kept_id, .. } = out.unwrap()[0] else { panic!() };
        let to_clara = Decision::Assign { sender: o.anna, to: o.clara };
        let routed = store.reroute_kept(kept_id, &mail("anna@mustermail.de", "k"), &to_clara, "admin", 36).await;
        let routed = routed.unwrap().unwrap();
        assert_eq!(store.count_cases(Some(o.clara)).await.unwrap(), 2);
        assert_eq!(ids_of(store.cases(Some(o.clara), 100, 0).await.unwrap()), vec![routed, clara]);
        assert_eq!(store.count_cases(None).await.unwrap(), 9);

        // A pool moved to the kept mails (no candidate left) leaves every list and count.
        let only_clara = Decision::Pool { sender: o.anna, candidates: vec![o.clara] };
        store.commit_batch(o.mailbox, &[item("q", "q", only_clara)], 40).await.unwrap();
        assert_eq!(store.count_cases(None).await.unwrap(), 10);
        let mut c = store.employee(o.clara).await.unwrap();
        c.license = None;
        store.update_employee(&c).await.unwrap();
        assert_eq!(store.sweep_orphan_pools(41).await.unwrap().len(), 1);
        assert_eq!(store.count_cases(None).await.unwrap(), 9);
        assert_eq!(ids_of(store.cases(None, 1, 0).await.unwrap()), vec![routed], "the moved one (40) is gone");
        // „Erledigt“ and „Wieder öffnen“ change no count; each count is what the list holds.
        store.set_case_done(b[4], true, o.bernd, 50).await.unwrap();
        store.set_case_done(b[0], false, o.bernd, 51).await.unwrap();
        for who in [o.anna, o.bernd, o.clara] {
            let listed = store.cases(Some(who), 1000, 0).await.unwrap().len() as i64;
            assert_eq!(store.count_cases(Some(who)).await.unwrap(), listed, "{who}");
        }
        assert_eq!(store.count_cases(Some(o.bernd)).await.unwrap(), 7);
    }
}

#[tokio::test]
async fn a_candidate_who_lost_eligibility_cannot_claim_and_an_orphaned_pool_is_kept() {
    for (store, _d) in backends().await {
        let o = office(&store).await;
        let pool = Decision::Pool { sender: o.anna, candidates: vec![o.bernd, o.clara] };
        store.commit_batch(o.mailbox, &[item("k1", "pool", pool)], 10).await.unwrap();
        let mut bernd = store.employee(o.bernd).await.unwrap();
        bernd.is_current = false;
        store.update_employee(&bernd).await.unwrap();
        assert!(store.claim(o.bernd, 20).await.unwrap().is_empty());
        assert!(store.sweep_orphan_pools(21).await.unwrap().is_empty(), "Clara is still eligible");
        let mut clara = store.employee(o.clara).await.unwrap();
        clara.license = None;
        store.update_employee(&clara).await.unwrap();
        let kept = store.sweep_orphan_pools(22).await.unwrap();
        assert_eq!(kept.len(), 1);
        let k = store.kept_mail(kept[0]).await.unwrap();
        assert_eq!(k.reason(), Some(KeepReason::NoCandidateLeft));
        assert!(store.cases(None, 10, 0).await.unwrap().is_empty());
        assert_eq!(store.mailbox_counts(o.mailbox).await.unwrap(), (0, 1, 0));
    }
}

#[tokio::test]
async fn closing_and_reopening_a_vorgang_is_recorded() {
    for (store, _d) in backends().await {
        let o = office(&store).await;
        let out = store
            .commit_batch(o.mailbox, &[item("k", "s", Decision::Assign { sender: o.anna, to: o.bernd })], 1)
            .await
            .unwrap();
        let ImportOutcome::Case { case_id, .. } = out[0] else { panic!() };
        store.set_case_done(case_id, true, o.bernd, 2).await.unwrap();
        assert!(store.set_case_done(case_id, true, o.bernd, 3).await.is_err(), "already done");
        store.set_case_done(case_id, false, o.bernd, 4).await.unwrap();
        let kinds: Vec<String> = store.case(case_id).await.unwrap().events.into_iter().map(|e| e.kind).collect();
        assert_eq!(kinds, ["created", "assigned", "closed", "reopened"]);
    }
}

#[tokio::test]
async fn discarding_a_kept_mail_is_audited_and_the_password_stays_only_for_the_same_server() {
    for (store, _d) in backends().await {
        let o = office(&store).await;
        let out =
            store.commit_batch(o.mailbox, &[item("k", "s", Decision::Keep(KeepReason::NoRoute))], 1).await.unwrap();
        let ImportOutcome::Kept { kept_id, .. } = out[0] else { panic!() };
        store.discard_kept(kept_id, "admin", 2).await.unwrap();
        assert!(store.kept(true, 10, 0).await.unwrap().is_empty());
        assert_eq!(store.kept(false, 10, 0).await.unwrap().len(), 1, "kept, only hidden");
        assert_eq!(store.audit_log(10).await.unwrap()[0].2, "discard_kept");

        let mut mb = store.mailbox("default").await.unwrap();
        mb.secret = Some(vec![1, 2, 3]);
        store.save_mailbox(&mb, 3).await.unwrap();
        // Other settings change: the password stays.
        mb.secret = None;
        mb.poll_secs = 30;
        let saved = store.save_mailbox(&mb, 4).await.unwrap();
        assert_eq!(saved.secret, Some(vec![1, 2, 3]));
        // The server changes: the password was entered for the old one and goes, recorded old → new.
        mb.host = "mail.example.de".into();
        let saved = store.save_mailbox_by(&mb, 5, "admin").await.unwrap();
        assert_eq!(saved.secret, None);
        assert_eq!(saved.host, "mail.example.de");
        let (_, actor, action, detail) = store.audit_log(1).await.unwrap().remove(0);
        assert_eq!((actor.as_str(), action.as_str()), ("admin", "mailbox_endpoint"));
        assert!(detail.contains("→ mail.example.de") && detail.contains("Zugangsdaten entfernt"), "{detail}");
    }
}

#[tokio::test]
async fn only_the_first_of_two_racing_password_setters_wins() {
    for (store, _d) in backends().await {
        let e = store
            .add_employee(&NewEmployee { name: "Admin".into(), is_current: true, ..Default::default() }, 1)
            .await
            .unwrap();
        let (a, b) = tokio::join!(
            store.set_one_time_password_if_unset(e.id, "h1"),
            store.set_one_time_password_if_unset(e.id, "h2")
        );
        assert_eq!([a.unwrap(), b.unwrap()].iter().filter(|w| **w).count(), 1);
    }
}

/// A batch commit reads (known keys, fingerprints) before it writes. Another connection's commit
/// in between (here: audit rows in a tight loop, as the fetch lease's renewal does during a long
/// import) must make it wait, never fail: on SQLite a deferred transaction failed at its first
/// write with "database is locked" (SQLITE_BUSY_SNAPSHOT, 517), which the busy timeout does not
/// cover; write transactions now begin with `BEGIN IMMEDIATE`.
#[tokio::test]
async fn batch_commits_never_fail_while_another_connection_commits() {
    for (store, _d) in backends().await {
        let o = office(&store).await;
        let stop = std::sync::Arc::new(std::sync::atomic::AtomicBool::new(false));
        let hammer = {
            let (store, stop) = (store.clone(), stop.clone());
            tokio::spawn(async move {
                let mut n = 0u64;
                while !stop.load(std::sync::atomic::Ordering::Relaxed) {
                    store.audit(n as i64, "test", "hammer", "another writer").await.unwrap();
                    n += 1;
                    tokio::task::yield_now().await;
                }
                n
            })
        };
        for b in 0..60 {
            let items: Vec<ImportItem> = (0..5)
                .map(|i| {
                    item(
                        &format!("imap:INBOX:7:{}", b * 5 + i),
                        &format!("s{b}-{i}"),
                        Decision::Keep(KeepReason::NoRoute),
                    )
                })
                .collect();
            let out = store.commit_batch(o.mailbox, &items, 100 + b).await.unwrap_or_else(|e| panic!("batch {b}: {e}"));
            assert!(out.iter().all(|x| matches!(x, ImportOutcome::Kept { .. })), "{out:?}");
        }
        stop.store(true, std::sync::atomic::Ordering::Relaxed);
        let written = hammer.await.unwrap();
        assert!(written > 0, "the other writer ran");
    }
}

const LIMITS: postkorb_store::LoginLimits =
    postkorb_store::LoginLimits { window_ms: 900_000, per_user_and_address: 5, per_address: 20 };

#[tokio::test]
async fn racing_login_attempts_never_get_past_the_limit_and_old_failures_are_pruned() {
    for (store, _d) in backends().await {
        // Sixteen guesses at once from one address: at most five are let through to the password check.
        let mut all = Vec::new();
        for _ in 0..16 {
            let s = store.clone();
            all.push(tokio::spawn(async move { s.begin_login_attempt("admin", "203.0.113.66", 1_000, LIMITS).await }));
        }
        let mut through = 0;
        for a in all {
            through += a.await.unwrap().unwrap().is_ok() as usize;
        }
        assert!(through <= 5, "{through} racing attempts got through ({:?})", store.backend());
        assert_eq!(store.login_failure_rows().await.unwrap(), through as i64, "refused attempts leave no row");
        // Another address is not affected; a success clears only its own (user, address) rows.
        let ok = store.begin_login_attempt("admin", "198.51.100.10", 2_000, LIMITS).await.unwrap().unwrap();
        store.login_succeeded(ok, "admin", "198.51.100.10").await.unwrap();
        assert_eq!(store.login_failure_rows().await.unwrap(), through as i64);
        // After the window the old rows are gone at the next attempt: the table does not grow.
        let later = store.begin_login_attempt("admin", "203.0.113.66", 1_000 + 900_001, LIMITS).await.unwrap();
        assert!(later.is_ok());
        assert_eq!(store.login_failure_rows().await.unwrap(), 1);
    }
}

#[tokio::test]
async fn a_new_password_or_a_lost_licence_or_aktuell_revokes_tokens_and_sessions_and_other_changes_do_not() {
    for (store, _d) in backends().await {
        let o = office(&store).await;
        let live = |store: &Store, n: &'static str| {
            let store = store.clone();
            async move {
                let s = store.session(&format!("s-{n}"), 10).await.unwrap().is_some();
                let t = store.api_token_user(&format!("t-{n}"), 10).await.unwrap().is_some();
                (s, t)
            }
        };
        let give = |store: &Store, who: EmployeeId, n: &'static str| {
            let store = store.clone();
            async move {
                store.create_session(&format!("s-{n}"), who, "csrf", 1, 1_000_000).await.unwrap();
                store.create_api_token(&format!("t-{n}"), who, n, 1).await.unwrap();
            }
        };
        give(&store, o.bernd, "a").await;
        give(&store, o.clara, "c").await;
        let mut bernd = store.employee(o.bernd).await.unwrap();
        bernd.name = "Bernd Berater".into();
        store.update_employee(&bernd).await.unwrap();
        assert_eq!(live(&store, "a").await, (true, true), "a new name keeps them");
        store.set_password_hash(o.bernd, "new-hash").await.unwrap();
        assert_eq!(live(&store, "a").await, (false, false), "a new password ends them");
        assert_eq!(live(&store, "c").await, (true, true), "Clara's stay");

        give(&store, o.bernd, "b").await;
        bernd.license = Some("  ".into());
        store.update_employee(&bernd).await.unwrap();
        assert_eq!(live(&store, "b").await, (false, false), "a blank licence is no licence");

        let mut clara = store.employee(o.clara).await.unwrap();
        clara.is_current = false;
        store.update_employee(&clara).await.unwrap();
        assert_eq!(live(&store, "c").await, (false, false), "„Aktuell“ removed");

        give(&store, o.bernd, "d").await;
        assert_eq!(store.revoke_all(o.bernd).await.unwrap(), (1, 1));
        assert_eq!(live(&store, "d").await, (false, false));
    }
}

#[tokio::test]
async fn an_expired_token_is_refused_and_its_last_use_is_written_at_most_once_a_minute() {
    for (store, _d) in backends().await {
        let o = office(&store).await;
        let t = store.create_api_token_until("h1", o.bernd, " MVP ", 1_000, Some(100_000)).await.unwrap();
        assert_eq!((t.label.as_str(), t.last_used_ms, t.expires_ms), ("MVP", None, Some(100_000)));
        assert!(store.api_token_user("h1", 2_000).await.unwrap().is_some());
        assert!(store.api_token_user("h1", 30_000).await.unwrap().is_some());
        assert_eq!(store.api_tokens(o.bernd).await.unwrap()[0].last_used_ms, Some(2_000), "not again within a minute");
        assert!(store.api_token_user("h1", 62_000).await.unwrap().is_some());
        assert_eq!(store.api_tokens(o.bernd).await.unwrap()[0].last_used_ms, Some(62_000));
        assert!(store.api_token_user("h1", 100_000).await.unwrap().is_none(), "expired");
        assert!(!store.revoke_api_token(o.clara, t.id).await.unwrap(), "not Clara's to revoke");
        assert!(store.revoke_api_token(o.bernd, t.id).await.unwrap());
        assert!(store.api_tokens(o.bernd).await.unwrap().is_empty());
    }
}

/// Issue 19: fingerprints are BLAKE3 now (`b3:…`, migration 0037). A mail stored before the
/// upgrade (its ledger row holds the SHA-256 fingerprint) and delivered again under another key
/// while the window lasts is a duplicate of it: the importer sends the old fingerprint along. A
/// new installation has no window; an upgraded one 30 days from its upgrade.
#[tokio::test]
async fn a_mail_stored_before_the_blake3_fingerprint_is_still_a_duplicate_after_the_upgrade() {
    for (store, _d) in backends().await {
        let o = office(&store).await;
        assert_eq!(store.legacy_fingerprints_until().await.unwrap(), None, "a new installation");
        let mut before = item("imap:INBOX:1:1", "Schaden", Decision::Assign { sender: o.anna, to: o.bernd });
        let (raw, id) = (before.raw.clone(), Some("<a1@mustermail.de>"));
        before.fingerprint = postkorb_mail::legacy_fingerprint(&raw, id);
        let first = store.commit_batch(o.mailbox, &[before], 1).await.unwrap();
        let ImportOutcome::Case { .. } = first[0] else { panic!("{first:?}") };
        let first_row: i64 = sqlx::query_scalar("SELECT id FROM ledger WHERE source_key = 'imap:INBOX:1:1'")
            .fetch_one(store.pool())
            .await
            .unwrap();

        // The upgrade: migration 0037's statement, on a ledger with a row, sets the window.
        let migration = include_str!("../../migrations/sqlite/0037_fingerprint_blake3.sql");
        let migration = match store.backend() {
            postkorb_store::Backend::Sqlite => migration,
            postkorb_store::Backend::Postgres => include_str!("../../migrations/postgres/0037_fingerprint_blake3.sql"),
        };
        let insert = &migration[migration.find("INSERT INTO fingerprint_legacy").unwrap()..];
        sqlx::query(sqlx::AssertSqlSafe(insert.to_string())).execute(store.pool()).await.unwrap();
        let until = store.legacy_fingerprints_until().await.unwrap().expect("an upgraded installation");
        let now = std::time::SystemTime::now().duration_since(std::time::UNIX_EPOCH).unwrap().as_millis() as i64;
        assert!((until - now - 30 * 86_400_000).abs() < 120_000, "30 days from now: {until} {now}");

        // Delivered again under another key, fingerprinted as now, the old one along: a duplicate.
        let mut again = item("imap:INBOX:2:7", "Schaden", Decision::Assign { sender: o.anna, to: o.bernd });
        again.raw = raw.clone();
        again.fingerprint = postkorb_mail::fingerprint(&raw, id);
        again.legacy_fingerprint = Some(postkorb_mail::legacy_fingerprint(&raw, id));
        assert!(again.fingerprint.starts_with(postkorb_mail::FINGERPRINT_PREFIX));
        let out = store.commit_batch(o.mailbox, &[again], 2).await.unwrap();
        assert_eq!(out[0], ImportOutcome::Duplicate { of_ledger: first_row }, "{:?}", store.backend());

        // Without the old fingerprint (after the window) it is not recognised: a new Vorgang, nothing lost.
        let mut late = item("imap:INBOX:2:8", "Schaden", Decision::Assign { sender: o.anna, to: o.bernd });
        late.raw = raw.clone();
        late.fingerprint = postkorb_mail::fingerprint(&raw, id);
        let out = store.commit_batch(o.mailbox, &[late], 3).await.unwrap();
        assert!(matches!(out[0], ImportOutcome::Case { .. }), "{out:?}");
    }
}
