//! Abwesenheit und Vertretung as data: who receives a Vorgang meant for someone who is away, who
//! stands in for whom, and which absences can be saved.

use postkorb_core::absence::{check_absence, covered_by, pool_waits_for_absent, receiver, waiting_absent};
use postkorb_core::*;

fn emp(id: i64, name: &str, current: bool, license: Option<&str>) -> Employee {
    Employee {
        id: EmployeeId(id),
        name: name.into(),
        username: None,
        is_current: current,
        license: license.map(str::to_string),
        work_email: None,
        permissions: vec![],
    }
}

fn office() -> Vec<Employee> {
    vec![
        emp(1, "Anna Außendienst", true, Some("L1")),
        emp(2, "Bernd Büro", true, Some("L2")),
        emp(3, "Clara Chef", true, Some("L3")),
        emp(4, "Dieter Ehemalig", false, Some("L4")),
        emp(5, "Eva Ohnelizenz", true, None),
        emp(6, "Frank Teilzeit", true, Some("L6")),
    ]
}

const DAY: i64 = 86_400_000;
const NOW: i64 = 100 * DAY;

/// (who, from, until, Vertreter) → an absence.
fn away(id: i64, who: i64, from: i64, until: Option<i64>, vertreter: Option<i64>) -> Absence {
    Absence { id, employee: EmployeeId(who), from_ms: from, until_ms: until, substitute: vertreter.map(EmployeeId) }
}

/// Short form of a [`Receiver`] for the table: (who gets it, for whom, the notes' kinds).
fn short(r: &Receiver) -> (i64, Option<i64>, Vec<&'static str>) {
    let kinds = r
        .notes()
        .iter()
        .map(|n| match n {
            CoverNote::Ineligible { .. } => "ineligible",
            CoverNote::Loop { .. } => "loop",
            CoverNote::Waits { .. } => "waits",
        })
        .collect();
    (r.to().0, r.on_behalf_of().map(|e| e.0), kinds)
}

#[test]
fn a_vorgang_for_an_absent_person_goes_to_the_vertreter_or_waits_for_them() {
    let office = office();
    type Expected = (i64, Option<i64>, Vec<&'static str>);
    let cases: Vec<(&str, i64, Vec<Absence>, Expected)> = vec![
        ("present: no absence", 2, vec![], (2, None, vec![])),
        (
            "row to absent An: the Vertreter, for Bernd",
            2,
            vec![away(1, 2, NOW - DAY, Some(NOW + DAY), Some(3))],
            (3, Some(2), vec![]),
        ),
        ("open end", 2, vec![away(1, 2, NOW - DAY, None, Some(3))], (3, Some(2), vec![])),
        ("starts exactly now", 2, vec![away(1, 2, NOW, None, Some(3))], (3, Some(2), vec![])),
        ("absence over (the end is exclusive)", 2, vec![away(1, 2, NOW - DAY, Some(NOW), Some(3))], (2, None, vec![])),
        ("absence in the future", 2, vec![away(1, 2, NOW + 1, None, Some(3))], (2, None, vec![])),
        ("someone else's absence", 2, vec![away(1, 3, NOW - DAY, None, Some(1))], (2, None, vec![])),
        (
            "absent only recipient without Vertreter: waits for Bernd",
            2,
            vec![away(1, 2, NOW - DAY, None, None)],
            (2, None, vec!["waits"]),
        ),
        (
            "chain: Bernd → Clara, Clara away → Frank: Frank, still for Bernd",
            2,
            vec![away(1, 2, NOW - DAY, None, Some(3)), away(2, 3, NOW - DAY, Some(NOW + DAY), Some(6))],
            (6, Some(2), vec![]),
        ),
        (
            "chain ends at someone away without Vertreter: waits for the first",
            2,
            vec![away(1, 2, NOW - DAY, None, Some(3)), away(2, 3, NOW - DAY, None, None)],
            (2, None, vec!["waits"]),
        ),
        (
            "loop Bernd → Clara → Bernd: waits for Bernd",
            2,
            vec![away(1, 2, NOW - DAY, None, Some(3)), away(2, 3, NOW - DAY, None, Some(2))],
            (2, None, vec!["loop", "waits"]),
        ),
        (
            "longer loop Bernd → Clara → Frank → Clara",
            2,
            vec![
                away(1, 2, NOW - DAY, None, Some(3)),
                away(2, 3, NOW - DAY, None, Some(6)),
                away(3, 6, NOW - DAY, None, Some(3)),
            ],
            (2, None, vec!["loop", "waits"]),
        ),
        (
            "Vertreter left the company: skipped, waits",
            2,
            vec![away(1, 2, NOW - DAY, None, Some(4))],
            (2, None, vec!["ineligible", "waits"]),
        ),
        (
            "Vertreter without licence: skipped, waits",
            2,
            vec![away(1, 2, NOW - DAY, None, Some(5))],
            (2, None, vec!["ineligible", "waits"]),
        ),
        (
            "Vertreter deleted: skipped, waits",
            2,
            vec![away(1, 2, NOW - DAY, None, Some(99))],
            (2, None, vec!["ineligible", "waits"]),
        ),
        (
            "ineligible Vertreter later in the chain",
            2,
            vec![away(1, 2, NOW - DAY, None, Some(3)), away(2, 3, NOW - DAY, None, Some(5))],
            (2, None, vec!["ineligible", "waits"]),
        ),
        (
            "of two absences the current one counts",
            2,
            vec![away(1, 2, NOW - 10 * DAY, Some(NOW - 5 * DAY), Some(1)), away(2, 2, NOW - DAY, None, Some(3))],
            (3, Some(2), vec![]),
        ),
    ];
    for (what, intended, absences, expected) in cases {
        assert_eq!(short(&receiver(EmployeeId(intended), NOW, &absences, &office)), expected, "{what}");
    }
}

#[test]
fn the_notes_name_the_people_in_german_and_english() {
    let office = office();
    let r = receiver(EmployeeId(2), NOW, &[away(1, 2, NOW - DAY, None, Some(4))], &office);
    let german: Vec<String> = r.notes().iter().map(CoverNote::german).collect();
    assert_eq!(
        german,
        vec![
            "Vertretung übersprungen: Dieter Ehemalig (Vertretung für Bernd Büro) darf keine Vorgänge erhalten – \
             An: Bei Dieter Ehemalig ist das Häkchen „Aktuell“ nicht gesetzt."
                .to_string(),
            "wartet auf abwesenden Empfänger: Bernd Büro ist abwesend, keine Vertretung kann übernehmen".to_string(),
        ]
    );
    assert!(r.notes()[1].english().contains("Bernd Büro is absent"));
}

#[test]
fn a_vertreter_stands_in_for_everyone_whose_chain_ends_at_them_and_only_during_the_absence() {
    let office = office();
    // Pool with absent candidate Bernd (Vertreter Clara); Anna away without Vertreter; Frank → Bernd → Clara.
    let absences = vec![
        away(1, 2, NOW - DAY, Some(NOW + DAY), Some(3)),
        away(2, 1, NOW - DAY, None, None),
        away(3, 6, NOW - DAY, None, Some(2)),
    ];
    let ids = |v: Vec<EmployeeId>| v.into_iter().map(|e| e.0).collect::<Vec<_>>();
    assert_eq!(ids(covered_by(EmployeeId(3), NOW, &absences, &office)), vec![2, 6]);
    assert_eq!(ids(covered_by(EmployeeId(2), NOW, &absences, &office)), Vec::<i64>::new(), "Bernd is away himself");
    assert_eq!(ids(waiting_absent(NOW, &absences, &office)), vec![1]);
    // After Bernd's return Frank's Vorgänge go to Bernd, and Clara covers nobody.
    let later = NOW + 2 * DAY;
    assert_eq!(ids(covered_by(EmployeeId(3), later, &absences, &office)), Vec::<i64>::new());
    assert_eq!(ids(covered_by(EmployeeId(2), later, &absences, &office)), vec![6]);
}

#[test]
fn an_absence_is_saved_only_with_a_vertreter_who_may_receive_and_without_overlap() {
    let office = office();
    let existing = vec![away(1, 2, NOW + DAY, Some(NOW + 5 * DAY), None)];
    let cases: Vec<(&str, Absence, Result<(), &str>)> = vec![
        ("open end, no Vertreter", away(0, 3, NOW, None, None), Ok(())),
        ("with a Vertreter", away(0, 3, NOW, Some(NOW + DAY), Some(2)), Ok(())),
        ("begun earlier, not over", away(0, 3, NOW - DAY, Some(NOW + DAY), None), Ok(())),
        ("after Bernd's other absence", away(0, 2, NOW + 5 * DAY, None, Some(3)), Ok(())),
        ("end before start", away(0, 3, NOW, Some(NOW - 1), None), Err("EndBeforeStart")),
        ("end equals start", away(0, 3, NOW, Some(NOW), None), Err("EndBeforeStart")),
        ("over already", away(0, 3, NOW - 2 * DAY, Some(NOW - DAY), None), Err("InThePast")),
        ("self", away(0, 3, NOW, None, Some(3)), Err("SelfSubstitute")),
        ("Vertreter not current", away(0, 3, NOW, None, Some(4)), Err("SubstituteIneligible")),
        ("Vertreter without licence", away(0, 3, NOW, None, Some(5)), Err("SubstituteIneligible")),
        ("Vertreter unknown", away(0, 3, NOW, None, Some(99)), Err("UnknownEmployee")),
        ("employee unknown", away(0, 99, NOW, None, None), Err("UnknownEmployee")),
        ("overlaps", away(0, 2, NOW, Some(NOW + 2 * DAY), None), Err("Overlaps")),
        ("open end overlaps a later one", away(0, 2, NOW, None, None), Err("Overlaps")),
    ];
    for (what, new, expected) in cases {
        let got = check_absence(&new, NOW, &office, &existing)
            .map_err(|e| format!("{e:?}").split(['(', ' ', '{']).next().unwrap().to_string());
        assert_eq!(got, expected.map_err(str::to_string), "{what}");
    }
    let overlap = check_absence(&away(0, 2, NOW, None, None), NOW, &office, &existing).unwrap_err();
    assert!(overlap.german(|ms| format!("T{ms}")).starts_with("Bernd Büro ist in dieser Zeit schon abwesend"));
}

#[test]
fn a_pool_waits_for_absent_recipients_only_when_no_candidate_can_claim_it() {
    let office = office();
    // Anna and Bernd away without Vertreter; Frank away with Clara as Vertreterin.
    let absences = vec![
        away(1, 1, NOW - DAY, None, None),
        away(2, 2, NOW - DAY, Some(NOW + DAY), None),
        away(3, 6, NOW - DAY, None, Some(3)),
    ];
    let cases: Vec<(&str, Vec<i64>, i64, bool)> = vec![
        ("every candidate away without Vertreter", vec![1, 2], NOW, true),
        ("one candidate present", vec![1, 3], NOW, false),
        ("the other away, but with a Vertreterin", vec![2, 6], NOW, false),
        ("the other may not receive at all", vec![2, 4, 5], NOW, true),
        ("nobody away, nobody may receive (not this list's business)", vec![4, 5], NOW, false),
        ("Bernd back", vec![1, 2], NOW + 2 * DAY, false),
        ("no candidates", vec![], NOW, false),
    ];
    for (what, candidates, at, expected) in cases {
        let candidates: Vec<EmployeeId> = candidates.into_iter().map(EmployeeId).collect();
        assert_eq!(pool_waits_for_absent(&candidates, at, &absences, &office), expected, "{what}");
    }
}
