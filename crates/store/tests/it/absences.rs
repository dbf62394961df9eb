//! Abwesenheit und Vertretung in the store, on both backends: the import gives a Vorgang for an
//! absent person to the Vertreter (or lets it wait for them, with why), the Vertreter claims in a
//! pool for an absent candidate, and entering and ending absences is checked and audited.

use crate::common;
use common::backends;
use common::office::{item, office};
use postkorb_core::{Absence, AbsenceError, Decision, EmailAddress, EmployeeId, Permission};
use postkorb_store::{Ended, ImportOutcome, NewEmployee, Store};
use serde_json::{Value, json};

const DAY: i64 = 86_400_000;
const NOW: i64 = 1_000 * DAY;

fn away(who: EmployeeId, from: i64, until: Option<i64>, vertreter: Option<EmployeeId>) -> Absence {
    Absence { id: 0, employee: who, from_ms: from, until_ms: until, substitute: vertreter }
}

async fn dora(store: &Store) -> EmployeeId {
    let new = NewEmployee {
        name: "Dora".into(),
        username: Some("dora".into()),
        is_current: true,
        license: Some("L4".into()),
        work_email: Some(EmailAddress::parse("dora@makler.de").unwrap()),
        permissions: vec![Permission::ManageMailImport],
    };
    store.add_employee(&new, 1).await.unwrap().id
}

fn case_of(outcome: &ImportOutcome) -> i64 {
    match outcome {
        ImportOutcome::Case { case_id, .. } => *case_id,
        other => panic!("not a Vorgang: {other:?}"),
    }
}

/// (kind, employee, payload) of a Vorgang's events.
async fn events_of(store: &Store, case_id: i64) -> Vec<(String, Option<i64>, Value)> {
    let all = store.case_events_after(0, 10_000).await.unwrap();
    all.into_iter().filter(|e| e.case_id == case_id).map(|e| (e.kind, e.employee_id, e.payload)).collect()
}

#[tokio::test]
async fn a_mail_for_an_absent_recipient_goes_to_the_vertreter_in_vertretung() {
    for (store, _d) in backends().await {
        let o = office(&store).await;
        store
            .add_absence(&away(o.bernd, NOW - DAY, Some(NOW + DAY), Some(o.clara)), "admin", NOW)
            .await
            .unwrap()
            .unwrap();
        let to_bernd = Decision::Assign { sender: o.anna, to: o.bernd };
        let out = store.commit_batch(o.mailbox, &[item("k1", "eins", to_bernd.clone())], NOW).await.unwrap();
        let case = store.case(case_of(&out[0])).await.unwrap();
        assert_eq!(case.summary.assignee, Some(o.clara.0), "the Vertreter got it");
        assert_eq!(
            (case.summary.on_behalf_of, case.summary.on_behalf_of_name.as_deref()),
            (Some(o.bernd.0), Some("Bernd"))
        );
        assert_eq!(
            events_of(&store, case.summary.id).await,
            vec![
                ("created".into(), None, json!({ "via": "import", "on_behalf_of": o.bernd.0 })),
                ("assigned".into(), Some(o.clara.0), json!({ "on_behalf_of": o.bernd.0 })),
            ]
        );
        // Clara's open list holds it; Bernd's does not.
        assert_eq!(store.count_open(o.clara).await.unwrap(), 1);
        assert_eq!(store.count_open(o.bernd).await.unwrap(), 0);

        // The absence is over: the next one goes to Bernd himself.
        let out = store.commit_batch(o.mailbox, &[item("k2", "zwei", to_bernd)], NOW + DAY).await.unwrap();
        let case = store.case(case_of(&out[0])).await.unwrap();
        assert_eq!((case.summary.assignee, case.summary.on_behalf_of), (Some(o.bernd.0), None));
    }
}

#[tokio::test]
async fn the_only_recipient_absent_without_usable_vertreter_keeps_it_and_the_history_says_why() {
    for (store, _d) in backends().await {
        let o = office(&store).await;
        let dora = dora(&store).await;
        // Bernd away without a Vertreter (open end); Clara away with Dora, who then loses her licence.
        store.add_absence(&away(o.bernd, NOW - DAY, None, None), "admin", NOW).await.unwrap().unwrap();
        store.add_absence(&away(o.clara, NOW - DAY, None, Some(dora)), "admin", NOW).await.unwrap().unwrap();
        let mut d = store.employee(dora).await.unwrap();
        d.license = None;
        store.update_employee(&d).await.unwrap();

        let items = [
            item("k1", "eins", Decision::Assign { sender: o.anna, to: o.bernd }),
            item("k2", "zwei", Decision::Assign { sender: o.anna, to: o.clara }),
        ];
        let out = store.commit_batch(o.mailbox, &items, NOW).await.unwrap();
        let (for_bernd, for_clara) = (case_of(&out[0]), case_of(&out[1]));
        let waits = |id: EmployeeId, name: &str| {
            ("absence".to_string(), None, json!({ "note": "waits", "absent": { "id": id.0, "name": name } }))
        };
        let bernd = store.case(for_bernd).await.unwrap().summary;
        assert_eq!((bernd.assignee, bernd.on_behalf_of, bernd.status.as_str()), (Some(o.bernd.0), None, "open"));
        assert_eq!(events_of(&store, for_bernd).await[2], waits(o.bernd, "Bernd"));
        let events = events_of(&store, for_clara).await;
        assert_eq!(store.case(for_clara).await.unwrap().summary.assignee, Some(o.clara.0), "never silently re-routed");
        assert_eq!(events[2].0, "absence");
        assert_eq!(events[2].2["note"], "ineligible");
        assert_eq!(events[2].2["vertreter"]["name"], "Dora");
        assert_eq!(events[2].2["reason"], json!({ "NoLicense": { "name": "Dora" } }));
        assert_eq!(events[3], waits(o.clara, "Clara"));
    }
}

#[tokio::test]
async fn in_a_pool_the_vertreter_claims_for_the_absent_candidate_and_the_event_says_so() {
    for (store, _d) in backends().await {
        let o = office(&store).await;
        let dora = dora(&store).await;
        let pool = Decision::Pool { sender: o.anna, candidates: vec![o.bernd, o.clara] };
        let out = store.commit_batch(o.mailbox, &[item("k1", "eins", pool.clone())], NOW).await.unwrap();
        let first = case_of(&out[0]);
        // Not a candidate, not a Vertreter yet: Dora gets nothing.
        assert!(store.claim(dora, NOW).await.unwrap().is_empty());
        store.add_absence(&away(o.bernd, NOW - DAY, None, Some(dora)), "bernd", NOW).await.unwrap().unwrap();
        assert_eq!(store.claim(dora, NOW).await.unwrap(), vec![first]);
        let case = store.case(first).await.unwrap().summary;
        assert_eq!((case.assignee, case.on_behalf_of), (Some(dora.0), Some(o.bernd.0)));
        assert_eq!(
            events_of(&store, first).await.last().unwrap(),
            &("claimed".to_string(), Some(dora.0), json!({ "on_behalf_of": o.bernd.0 }))
        );
        // Clara, a candidate herself, claims for herself, without „in Vertretung“.
        let out = store.commit_batch(o.mailbox, &[item("k2", "zwei", pool)], NOW).await.unwrap();
        assert_eq!(store.claim(o.clara, NOW).await.unwrap(), vec![case_of(&out[0])]);
        assert_eq!(store.case(case_of(&out[0])).await.unwrap().summary.on_behalf_of, None);
        // After the absence Dora claims nothing for Bernd any more.
        let pool = Decision::Pool { sender: o.anna, candidates: vec![o.bernd, o.clara] };
        store.commit_batch(o.mailbox, &[item("k3", "drei", pool)], NOW + DAY).await.unwrap();
        let id = store.absence_list(Some(o.bernd), NOW).await.unwrap()[0].id;
        assert_eq!(store.end_absence(id, "bernd", NOW + DAY).await.unwrap(), Ended::Now);
        assert!(store.claim(dora, NOW + 2 * DAY).await.unwrap().is_empty());
        assert!(store.covering(dora, NOW + 2 * DAY).await.unwrap().is_empty());
    }
}

/// The Startmaske's claim: the same Vorgänge won as `claim`, and what it hands the page — the
/// absences it judged by and what still waits — equal to what the page read itself before.
#[tokio::test]
async fn the_startmaske_claim_returns_what_it_read_and_what_still_waits() {
    for (store, _d) in backends().await {
        let o = office(&store).await;
        let dora = dora(&store).await;
        let pool = Decision::Pool { sender: o.anna, candidates: vec![o.bernd, o.clara] };
        let out = store.commit_batch(o.mailbox, &[item("k1", "eins", pool.clone())], NOW).await.unwrap();
        let first = case_of(&out[0]);
        // Not eligible: nothing claimed, the waiting one not handed out, the absences still read.
        store.add_absence(&away(o.bernd, NOW - DAY, None, Some(dora)), "bernd", NOW).await.unwrap().unwrap();
        let start = store.claim_at_start(o.clara, false, NOW).await.unwrap();
        assert!(start.won.is_empty() && start.waiting.is_empty(), "{start:?}");
        assert_eq!(start.absences, store.absences_at(NOW).await.unwrap().0);
        assert_eq!(start.staff.len(), store.absences_at(NOW).await.unwrap().1.len());
        assert_eq!(store.waiting_for(o.clara).await.unwrap().iter().map(|c| c.id).collect::<Vec<_>>(), [first]);
        // Dora stands in for Bernd: she wins it for him; nothing waits for her afterwards.
        let start = store.claim_at_start(dora, true, NOW).await.unwrap();
        assert_eq!(start.won, [first]);
        assert!(start.waiting.is_empty() && store.waiting_for(dora).await.unwrap().is_empty());
        assert_eq!(start.absences.len(), 1);
        // Clara, candidate of a new pool: won at her view, and then nothing waits; a second view
        // finds nothing and claims nothing.
        let out = store.commit_batch(o.mailbox, &[item("k2", "zwei", pool)], NOW).await.unwrap();
        let start = store.claim_at_start(o.clara, true, NOW).await.unwrap();
        assert_eq!((start.won, start.waiting.len()), (vec![case_of(&out[0])], 0));
        let again = store.claim_at_start(o.clara, true, NOW).await.unwrap();
        assert!(again.won.is_empty() && again.waiting.is_empty(), "{again:?}");
    }
}

#[tokio::test]
async fn absences_are_checked_listed_ended_and_audited() {
    for (store, _d) in backends().await {
        let o = office(&store).await;
        // Anna has no licence: she may not stand in.
        let refused = store.add_absence(&away(o.bernd, NOW, None, Some(o.anna)), "admin", NOW).await.unwrap();
        assert!(matches!(refused, Err(AbsenceError::SubstituteIneligible(_))), "{refused:?}");
        let now = store.add_absence(&away(o.bernd, NOW - DAY, Some(NOW + DAY), Some(o.clara)), "admin", NOW).await;
        let now = now.unwrap().unwrap();
        let overlap = store.add_absence(&away(o.bernd, NOW, None, None), "admin", NOW).await.unwrap();
        assert!(matches!(overlap, Err(AbsenceError::Overlaps { .. })), "{overlap:?}");
        let later = store.add_absence(&away(o.bernd, NOW + 5 * DAY, None, None), "admin", NOW).await.unwrap().unwrap();
        store.add_absence(&away(o.clara, NOW + DAY, Some(NOW + 2 * DAY), None), "clara", NOW).await.unwrap().unwrap();

        let list = store.absence_list(Some(o.bernd), NOW).await.unwrap();
        assert_eq!(list.iter().map(|a| a.id).collect::<Vec<_>>(), vec![now, later]);
        assert_eq!((list[0].substitute_name.as_deref(), list[1].until_ms), (Some("Clara"), None));
        assert_eq!(store.absence_list(None, NOW).await.unwrap().len(), 3);

        assert_eq!(store.end_absence(later, "admin", NOW).await.unwrap(), Ended::Cancelled);
        assert_eq!(store.end_absence(now, "admin", NOW).await.unwrap(), Ended::Now);
        assert!(store.end_absence(now, "admin", NOW + 1).await.is_err(), "over already");
        assert!(store.absence_list(Some(o.bernd), NOW).await.unwrap().is_empty());

        let log = store.audit_log(10).await.unwrap();
        let actions: Vec<&str> = log.iter().map(|(_, _, action, _)| action.as_str()).collect();
        assert_eq!(&actions[..5], ["end_absence", "end_absence", "add_absence", "add_absence", "add_absence"]);
    }
}

#[tokio::test]
async fn a_pool_whose_candidates_are_all_away_without_vertreter_waits_for_them_and_admins_can_list_it() {
    for (store, _d) in backends().await {
        let o = office(&store).await;
        let dora = dora(&store).await;
        let pool = Decision::Pool { sender: o.anna, candidates: vec![o.bernd, o.clara] };
        let out = store.commit_batch(o.mailbox, &[item("k1", "eins", pool)], NOW).await.unwrap();
        let case = case_of(&out[0]);
        let listed = |at: i64| {
            let store = &store;
            async move {
                store
                    .pools_waiting_on_absent(at)
                    .await
                    .unwrap()
                    .into_iter()
                    .map(|(c, who)| (c.id, who))
                    .collect::<Vec<_>>()
            }
        };
        store.add_absence(&away(o.bernd, NOW - DAY, Some(NOW + DAY), None), "bernd", NOW).await.unwrap().unwrap();
        assert!(listed(NOW).await.is_empty(), "Clara is there and can claim it");
        let clara_away = away(o.clara, NOW - DAY, None, None);
        let clara_away = store.add_absence(&clara_away, "clara", NOW).await.unwrap().unwrap();
        assert_eq!(listed(NOW).await, vec![(case, vec![o.bernd, o.clara])]);
        assert!(listed(NOW + 2 * DAY).await.is_empty(), "Bernd is back");
        // With Dora standing in for Clara it can be claimed again.
        store.end_absence(clara_away, "clara", NOW).await.unwrap();
        store.add_absence(&away(o.clara, NOW, None, Some(dora)), "clara", NOW).await.unwrap().unwrap();
        assert!(listed(NOW + 1).await.is_empty());
    }
}

/// The Startmaske's lists (`start_page`, `follow_ups`) read fewer columns than the others: the
/// same rows in the same order with the same values, only without the last note and the
/// Vertretung's name — here a Vorgang has both, one is due, one pending, one done.
#[tokio::test]
async fn the_startmaske_lists_read_the_rows_of_the_full_lists_without_note_and_vertretung_name() {
    use postkorb_store::{CaseFilter, CaseSummary};
    fn lean(mut rows: Vec<CaseSummary>) -> Vec<Value> {
        for r in &mut rows {
            (r.last_note, r.on_behalf_of_name) = (None, None);
        }
        rows.iter().map(|r| serde_json::to_value(r).unwrap()).collect()
    }
    for (store, _d) in backends().await {
        let o = office(&store).await;
        store.add_absence(&away(o.bernd, NOW - DAY, None, Some(o.clara)), "admin", NOW).await.unwrap().unwrap();
        let to_bernd = Decision::Assign { sender: o.anna, to: o.bernd };
        let batch: Vec<_> = (0..5).map(|i| item(&format!("k{i}"), &format!("Vorgang {i}"), to_bernd.clone())).collect();
        let ids: Vec<i64> = store.commit_batch(o.mailbox, &batch, NOW).await.unwrap().iter().map(case_of).collect();
        store.add_note(ids[0], o.clara, "Rückruf vereinbart", NOW + 1).await.unwrap();
        store.set_follow_up(ids[1], o.clara, Some(NOW + 10), Some("Antwort abwarten"), NOW + 2).await.unwrap();
        store.set_follow_up(ids[2], o.clara, Some(NOW + DAY), None, NOW + 3).await.unwrap();
        store.set_case_done(ids[3], true, o.clara, NOW + 4).await.unwrap();
        let now = NOW + 100;

        let full = store.cases_filtered(Some(o.clara), CaseFilter::All, 10, 0).await.unwrap();
        assert_eq!(full.len(), 5);
        let noted = full.iter().find(|c| c.id == ids[0]).unwrap();
        assert_eq!(
            (noted.last_note.as_deref(), noted.on_behalf_of, noted.on_behalf_of_name.as_deref()),
            (Some("Rückruf vereinbart"), Some(o.bernd.0), Some("Bernd")),
            "the full list has what the Startmaske leaves out"
        );
        for filter in [CaseFilter::All, CaseFilter::Open, CaseFilter::Done, CaseFilter::Undated] {
            for (limit, offset) in [(10, 0), (2, 1)] {
                let full = store.cases_filtered(Some(o.clara), filter, limit, offset).await.unwrap();
                let start = store.start_page(o.clara, filter, limit, offset).await.unwrap();
                assert!(start.iter().all(|c| c.last_note.is_none() && c.on_behalf_of_name.is_none()));
                assert_eq!(lean(start), lean(full), "{filter:?} {limit} {offset}");
            }
        }
        // The Wiedervorlage lists against the rows of the full list.
        let by_id = |id: i64| full.iter().find(|c| c.id == id).unwrap().clone();
        for (due, want) in [(true, ids[1]), (false, ids[2])] {
            let got = store.follow_ups(o.clara, due, now, 10, 0).await.unwrap();
            assert_eq!(lean(got), lean(vec![by_id(want)]), "due {due}");
        }
    }
}
