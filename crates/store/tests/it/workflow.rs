//! Working a Vorgang (issue 16) on both backends: Weitergeben, Zurückgeben, Notizen and
//! Wiedervorlage write exactly their events and keep the Startmaske's counts; racing hand-overs
//! and give-backs of one Vorgang have exactly one winner. SQLite always, PostgreSQL with
//! `POSTKORB_TEST_POSTGRES`.

use crate::common;
use common::backends;
use common::office::{item, office};
use postkorb_core::{CaseRefusal, Decision, EmployeeId};
use postkorb_store::{CaseFilter, ImportOutcome, NewEmployee, Store, StoreError};
use serde_json::{Value, json};

async fn employee(store: &Store, name: &str, license: Option<&str>) -> EmployeeId {
    let e = NewEmployee {
        name: name.into(),
        username: Some(name.to_lowercase()),
        is_current: true,
        license: license.map(str::to_string),
        ..Default::default()
    };
    store.add_employee(&e, 1).await.unwrap().id
}

async fn one_case(store: &Store, mailbox: i64, key: &str, decision: Decision, at: i64) -> i64 {
    match &store.commit_batch(mailbox, &[item(key, key, decision)], at).await.unwrap()[0] {
        ImportOutcome::Case { case_id, .. } => *case_id,
        other => panic!("not a Vorgang: {other:?}"),
    }
}

/// (kind, employee, payload) of the events after `*last`; moves `*last` past them.
async fn events(store: &Store, last: &mut i64) -> Vec<(String, Option<i64>, Value)> {
    let all = store.case_events_after(*last, 1000).await.unwrap();
    if let Some(e) = all.last() {
        *last = e.id;
    }
    all.into_iter().map(|e| (e.kind, e.employee_id, e.payload)).collect()
}

fn refused(r: Result<(), StoreError>) -> CaseRefusal {
    match r {
        Err(StoreError::Refused(why)) => why,
        other => panic!("not refused: {other:?}"),
    }
}

#[tokio::test]
async fn handing_over_giving_back_notes_and_follow_ups_write_their_events_and_keep_the_counts() {
    for (store, _d) in backends().await {
        let o = office(&store).await;
        let dora = employee(&store, "Dora", Some("L4")).await;
        let egon = employee(&store, "Egon", None).await;
        let a = one_case(&store, o.mailbox, "a", Decision::Assign { sender: o.anna, to: o.bernd }, 10).await;
        let p =
            one_case(&store, o.mailbox, "p", Decision::Pool { sender: o.anna, candidates: vec![o.bernd, o.clara] }, 11)
                .await;
        let mut last = store.case_events_after(0, 1000).await.unwrap().last().unwrap().id;

        // Weitergeben with a note: Clara gets it as new; the counts move with it.
        store.hand_over(a, o.bernd, o.clara, o.bernd, Some("Bitte übernehmen <b>sofort</b>"), 20).await.unwrap();
        let note = store.notes(a).await.unwrap();
        assert_eq!(
            (note.len(), note[0].text.as_str(), note[0].author),
            (1, "Bitte übernehmen <b>sofort</b>", o.bernd.0)
        );
        assert_eq!(
            events(&store, &mut last).await,
            [(
                "handed_over".into(),
                Some(o.clara.0),
                json!({"by": o.bernd.0, "from": o.bernd.0, "note_id": note[0].id, "to": o.clara.0})
            )]
        );
        let mine = store.cases(Some(o.clara), 10, 0).await.unwrap();
        assert_eq!(
            (mine[0].id, mine[0].claimed_ms, mine[0].last_note.as_deref()),
            (a, Some(20), Some(note[0].text.as_str()))
        );
        assert_eq!(
            (store.count_cases(Some(o.bernd)).await.unwrap(), store.count_cases(Some(o.clara)).await.unwrap()),
            (0, 1)
        );

        // What is refused says why, and writes nothing.
        for (result, why) in [
            (store.hand_over(a, o.bernd, dora, o.bernd, None, 21).await, CaseRefusal::TakenBy("Clara".into())),
            (
                store.hand_over(a, o.clara, egon, o.clara, None, 21).await,
                CaseRefusal::ReceiverNotEligible("Egon".into()),
            ),
            (store.hand_over(a, o.clara, o.clara, o.clara, None, 21).await, CaseRefusal::SameReceiver),
            (store.give_back(a, o.clara, o.clara, 21).await, CaseRefusal::NotFromPool),
            (store.give_back(p, o.bernd, o.bernd, 21).await, CaseRefusal::Waiting),
        ] {
            assert_eq!(refused(result), why);
        }
        assert_eq!(events(&store, &mut last).await, []);
        assert_eq!(store.notes(a).await.unwrap().len(), 1, "a refused hand-over leaves no note");

        // Zurückgeben: Bernd claimed the pool's Vorgang and gives it back; it waits for Clara only
        // (Bernd's next Startmaske does not claim it back).
        assert_eq!(store.claim(o.bernd, 30).await.unwrap(), [p]);
        last = store.case_events_after(last, 1000).await.unwrap().last().unwrap().id;
        store.give_back(p, o.bernd, o.bernd, 31).await.unwrap();
        assert_eq!(
            events(&store, &mut last).await,
            [(
                "given_back".into(),
                Some(o.bernd.0),
                json!({"by": o.bernd.0, "candidates": [o.clara.0], "from": o.bernd.0})
            )]
        );
        let detail = store.case(p).await.unwrap();
        assert_eq!(
            (detail.summary.status.as_str(), detail.summary.assignee, detail.candidates),
            ("waiting", None, vec![o.clara.0])
        );
        assert_eq!(store.claim(o.bernd, 32).await.unwrap(), Vec::<i64>::new());
        assert_eq!(store.claim(o.clara, 33).await.unwrap(), [p]);
        assert_eq!(refused(store.give_back(p, o.clara, o.clara, 34).await), CaseRefusal::NoOtherCandidate);
        assert_eq!(
            (store.count_cases(Some(o.bernd)).await.unwrap(), store.count_cases(Some(o.clara)).await.unwrap()),
            (0, 2)
        );
        last = store.case_events_after(last, 1000).await.unwrap().last().unwrap().id;

        // A note by anyone who may see it names whose Vorgang it is.
        store.add_note(p, dora, "Rückruf erledigt", 40).await.unwrap();
        let n = store.notes(p).await.unwrap()[0].id;
        assert_eq!(
            events(&store, &mut last).await,
            [("note_added".into(), Some(dora.0), json!({"assignee": o.clara.0, "by": dora.0, "note_id": n}))]
        );

        // Wiedervorlage: set at 1000, it leaves „Offen“ until then; changed, removed — each recorded.
        store.set_follow_up(a, o.clara, Some(1000), Some("Antwort der Versicherung"), 50).await.unwrap();
        store.set_follow_up(a, o.clara, Some(1000), Some("Antwort der Versicherung"), 51).await.unwrap();
        let undated = |s: &Store| {
            let s = s.clone();
            async move {
                s.cases_filtered(Some(o.clara), CaseFilter::Undated, 10, 0)
                    .await
                    .unwrap()
                    .iter()
                    .map(|c| c.id)
                    .collect::<Vec<_>>()
            }
        };
        assert_eq!(undated(&store).await, [p]);
        let ids = |l: Vec<postkorb_store::CaseSummary>| l.iter().map(|c| c.id).collect::<Vec<_>>();
        assert_eq!(ids(store.follow_ups(o.clara, false, 999, 10, 0).await.unwrap()), [a], "pending before");
        assert_eq!(ids(store.follow_ups(o.clara, true, 999, 10, 0).await.unwrap()), Vec::<i64>::new());
        assert_eq!(ids(store.follow_ups(o.clara, true, 1000, 10, 0).await.unwrap()), [a], "due from its moment on");
        assert_eq!(
            (
                store.count_follow_ups(o.clara, false, 999).await.unwrap(),
                store.count_follow_ups(o.clara, true, 1000).await.unwrap()
            ),
            (1, 1)
        );
        // The Startmaske's one statement counts the same.
        for now in [999, 1000] {
            let c = store.start_counts(o.clara, now).await.unwrap();
            let single = (
                store.count_cases(Some(o.clara)).await.unwrap(),
                store.count_open(o.clara).await.unwrap(),
                store.count_follow_ups(o.clara, false, now).await.unwrap(),
                store.count_follow_ups(o.clara, true, now).await.unwrap(),
            );
            assert_eq!((c.total, c.open, c.pending, c.due), single, "at {now}");
            assert_eq!((c.pending, c.due), if now == 999 { (1, 0) } else { (0, 1) });
        }
        let s = &store.follow_ups(o.clara, true, 1000, 10, 0).await.unwrap()[0];
        assert_eq!((s.follow_up_ms, s.follow_up_reason.as_deref()), (Some(1000), Some("Antwort der Versicherung")));
        store.set_follow_up(a, o.clara, Some(2000), None, 52).await.unwrap();
        store.set_follow_up(a, o.clara, None, None, 53).await.unwrap();
        store.set_follow_up(a, o.clara, None, None, 54).await.unwrap();
        let by = o.clara.0;
        assert_eq!(
            events(&store, &mut last).await,
            [
                (
                    "follow_up_set".into(),
                    Some(by),
                    json!({"assignee": by, "by": by, "due_ms": 1000, "previous_ms": null, "reason": "Antwort der Versicherung"})
                ),
                (
                    "follow_up_set".into(),
                    Some(by),
                    json!({"assignee": by, "by": by, "due_ms": 2000, "previous_ms": 1000, "reason": null})
                ),
                ("follow_up_cleared".into(), Some(by), json!({"assignee": by, "by": by, "previous_ms": 2000})),
            ],
            "setting the same again and removing none are no changes"
        );
        assert_eq!(undated(&store).await, [p, a]);
        store.set_case_done(a, true, o.clara, 60).await.unwrap();
        assert_eq!(refused(store.set_follow_up(a, o.clara, Some(3000), None, 61).await), CaseRefusal::NotOpen);
        assert_eq!(refused(store.hand_over(a, o.clara, dora, o.clara, None, 61).await), CaseRefusal::NotOpen);
    }
}

/// Issue 16: „two people handing over / claiming / giving back the same Vorgang at once → exactly
/// one outcome“. 16 attempts at once — hand it to Clara, to Dora, give it back — all on the
/// Vorgang as Bernd had it: one wins, the others learn what happened, the log has one event.
#[tokio::test]
async fn of_sixteen_racing_hand_overs_and_give_backs_exactly_one_wins_with_one_event() {
    for (store, _d) in backends().await {
        let o = office(&store).await;
        let dora = employee(&store, "Dora", Some("L4")).await;
        for round in 0..3 {
            let pool = Decision::Pool { sender: o.anna, candidates: vec![o.bernd, o.clara, dora] };
            let case = one_case(&store, o.mailbox, &format!("r{round}"), pool, 10).await;
            assert_eq!(store.claim(o.bernd, 11).await.unwrap(), [case]);
            let before = store.case_events_after(0, 100_000).await.unwrap().last().unwrap().id;
            let attempts: Vec<_> = (0..16)
                .map(|i| {
                    let store = store.clone();
                    let (bernd, clara) = (o.bernd, o.clara);
                    tokio::spawn(async move {
                        match (i + round) % 3 {
                            0 => store.hand_over(case, bernd, clara, bernd, None, 20 + i).await,
                            1 => store.hand_over(case, bernd, dora, bernd, Some("Übernimm du"), 20 + i).await,
                            _ => store.give_back(case, bernd, bernd, 20 + i).await,
                        }
                    })
                })
                .collect();
            let mut won = 0;
            for a in attempts {
                match a.await.unwrap() {
                    Ok(()) => won += 1,
                    Err(StoreError::Refused(CaseRefusal::TakenBy(_) | CaseRefusal::Waiting)) => {}
                    Err(other) => panic!("round {round}: {other:?}"),
                }
            }
            assert_eq!(won, 1, "round {round}: exactly one wins");
            let log = store.case_events_after(before, 1000).await.unwrap();
            assert_eq!(log.len(), 1, "round {round}: one event: {log:?}");
            assert!(matches!(log[0].kind.as_str(), "handed_over" | "given_back"), "{log:?}");
            assert!(store.notes(case).await.unwrap().len() <= 1);
            // The counts follow the one outcome.
            let c = store.case(case).await.unwrap().summary;
            let counted = |e: EmployeeId| {
                let s = store.clone();
                async move { s.count_cases(Some(e)).await.unwrap() }
            };
            let held = |e: EmployeeId| {
                let s = store.clone();
                async move { s.cases(Some(e), 1000, 0).await.unwrap().len() as i64 }
            };
            for e in [o.bernd, o.clara, dora] {
                assert_eq!(counted(e).await, held(e).await, "round {round}: case_counts of {e} ({c:?})");
                let open = store.cases_filtered(Some(e), CaseFilter::Open, 1000, 0).await.unwrap().len() as i64;
                assert_eq!(store.count_open(e).await.unwrap(), open, "round {round}: open of {e} ({c:?})");
                let start = store.start_counts(e, 0).await.unwrap();
                assert_eq!((start.total, start.open), (held(e).await, open), "round {round}: start counts of {e}");
            }
        }
    }
}

/// „Offen (N)“ is kept in `case_counts` (migration 0021): after every step of a Vorgang's life —
/// given, claimed, closed, reopened, handed over, given back — each one's number is what their
/// open Vorgänge are.
#[tokio::test]
async fn the_open_count_follows_every_change() {
    for (store, _d) in backends().await {
        let o = office(&store).await;
        let dora = employee(&store, "Dora", Some("L4")).await;
        let given = one_case(&store, o.mailbox, "g", Decision::Assign { sender: o.anna, to: o.bernd }, 1).await;
        let pool = Decision::Pool { sender: o.anna, candidates: vec![o.bernd, o.clara] };
        let pooled = one_case(&store, o.mailbox, "p", pool, 2).await;
        // (step, (Bernd, Clara, Dora) open after it)
        type Step = Box<dyn Fn(Store) -> std::pin::Pin<Box<dyn std::future::Future<Output = ()>>>>;
        let (b, c) = (o.bernd, o.clara);
        let steps: Vec<(&str, Step, [i64; 3])> = vec![
            ("given", Box::new(|_| Box::pin(async {})), [1, 0, 0]),
            ("claimed", Box::new(move |s| Box::pin(async move { s.claim(c, 3).await.map(drop).unwrap() })), [1, 1, 0]),
            (
                "closed",
                Box::new(move |s| Box::pin(async move { s.set_case_done(given, true, b, 4).await.unwrap() })),
                [0, 1, 0],
            ),
            (
                "closed again",
                Box::new(move |s| Box::pin(async move { drop(s.set_case_done(given, true, b, 5).await) })),
                [0, 1, 0],
            ),
            (
                "reopened",
                Box::new(move |s| Box::pin(async move { s.set_case_done(given, false, b, 6).await.unwrap() })),
                [1, 1, 0],
            ),
            (
                "handed over",
                Box::new(move |s| Box::pin(async move { s.hand_over(given, b, dora, b, None, 7).await.unwrap() })),
                [0, 1, 1],
            ),
            (
                "given back",
                Box::new(move |s| Box::pin(async move { s.give_back(pooled, c, c, 8).await.unwrap() })),
                [0, 0, 1],
            ),
            (
                "closed by another",
                Box::new(move |s| Box::pin(async move { s.set_case_done(given, true, c, 9).await.unwrap() })),
                [0, 0, 0],
            ),
        ];
        for (what, step, expected) in steps {
            step(store.clone()).await;
            for (e, n) in [o.bernd, o.clara, dora].into_iter().zip(expected) {
                let open = store.cases_filtered(Some(e), CaseFilter::Open, 1000, 0).await.unwrap().len() as i64;
                assert_eq!((store.count_open(e).await.unwrap(), open), (n, n), "{what}: {e} ({:?})", store.backend());
            }
        }
    }
}
