//! Working a Vorgang (issue 16): the Wiedervorlage's moment on the office's clock, across
//! midnight and the summer-time switches of Europe/Berlin (29 March and 25 October 2026), its
//! „fällig“ state, notes and who may act.

use postkorb_core::time::{berlin_civil, parse_iso_date};
use postkorb_core::workflow::{CaseRefusal, FollowUpError, FollowUpState, check_note, check_reason, follow_up_at};
use postkorb_core::{Employee, EmployeeId, NoteError, Permission, may_work};

const HOUR: i64 = 3_600_000;

/// Unix ms of `iso` at `hh:mm` UTC.
fn utc(iso: &str, hh: i64, mm: i64) -> i64 {
    parse_iso_date(iso).unwrap() + hh * HOUR + mm * 60_000
}

#[test]
fn a_follow_up_date_is_read_on_the_offices_clock_across_midnight_and_summer_time() {
    let now = utc("2025-12-01", 0, 0);
    // (date, time, expected UTC, what)
    let cases: &[(&str, &str, i64, &str)] = &[
        ("2026-01-15", "", utc("2026-01-15", 7, 0), "winter: 08:00 is 07:00 UTC"),
        ("15.07.2026", "", utc("2026-07-15", 6, 0), "summer: 08:00 is 06:00 UTC; German date form"),
        ("2026-03-28", "23:30", utc("2026-03-28", 22, 30), "the evening before the switch is still winter time"),
        ("2026-03-29", "", utc("2026-03-29", 6, 0), "29 March: 08:00 is already summer time"),
        ("2026-03-29", "01:59", utc("2026-03-29", 0, 59), "the last winter minute"),
        ("2026-03-29", "02:30", utc("2026-03-29", 1, 30), "skipped hour: read as 03:30 summer time"),
        ("2026-03-29", "03:00", utc("2026-03-29", 1, 0), "the first summer minute"),
        ("2026-10-25", "", utc("2026-10-25", 7, 0), "25 October: 08:00 is winter time again"),
        ("2026-10-25", "02:30", utc("2026-10-25", 0, 30), "twice in autumn: the first (summer) one"),
        ("2026-10-24", "23:59", utc("2026-10-24", 21, 59), "the day before, summer time"),
        ("2026-12-31", "23:30", utc("2026-12-31", 22, 30), "across the year's midnight"),
        ("2026-01-01", "00:30", utc("2025-12-31", 23, 30), "just after midnight is the day before in UTC"),
    ];
    for (date, time, expected, what) in cases {
        assert_eq!(follow_up_at(date, time, now), Ok(*expected), "{what}: {date} {time}");
    }
    // Round trip: the screens show the same wall time again.
    let at = follow_up_at("2026-10-25", "08:00", now).unwrap();
    assert_eq!(berlin_civil(at), (2026, 10, 25, 8, 0));

    for (date, time, err) in [
        ("2026-02-29", "", FollowUpError::Unreadable),
        ("29.02.2026", "", FollowUpError::Unreadable),
        ("2026-13-01", "", FollowUpError::Unreadable),
        ("morgen", "", FollowUpError::Unreadable),
        ("2026-05-01", "24:00", FollowUpError::Unreadable),
        ("2026-05-01", "8 Uhr", FollowUpError::Unreadable),
        ("2025-11-30", "", FollowUpError::NotInFuture),
        ("01.12.2025", "01:00", FollowUpError::NotInFuture),
    ] {
        assert_eq!(follow_up_at(date, time, now), Err(err), "{date} {time}");
    }
    assert_eq!(follow_up_at("2028-02-29", "", now), Ok(utc("2028-02-29", 7, 0)), "a leap day exists in 2028");
}

#[test]
fn a_follow_up_is_due_on_its_day_and_overdue_from_the_next_office_day() {
    let due = utc("2026-03-29", 6, 0); // 29 March 08:00, summer time
    // (now, expected)
    let cases = [
        (due - 1, FollowUpState::Pending),
        (due, FollowUpState::Due),
        (utc("2026-03-29", 21, 59), FollowUpState::Due), // 23:59 in Berlin
        (utc("2026-03-29", 22, 0), FollowUpState::Overdue), // midnight in Berlin, still the 29th in UTC
        (utc("2026-04-10", 12, 0), FollowUpState::Overdue),
    ];
    for (now, expected) in cases {
        assert_eq!(postkorb_core::workflow::follow_up_state(due, now), expected, "now = {now}");
    }
    let autumn = utc("2026-10-25", 7, 0); // 25 October 08:00, winter time
    assert_eq!(postkorb_core::workflow::follow_up_state(autumn, utc("2026-10-25", 22, 59)), FollowUpState::Due);
    assert_eq!(postkorb_core::workflow::follow_up_state(autumn, utc("2026-10-25", 23, 0)), FollowUpState::Overdue);
    assert_eq!(FollowUpState::Due.german(), "fällig");
}

#[test]
fn a_note_is_trimmed_text_of_limited_length() {
    assert_eq!(check_note("  Kunde ruft zurück \r\n morgen\u{7} "), Ok("Kunde ruft zurück \n morgen".into()));
    assert_eq!(check_note(" \n "), Err(NoteError::Empty));
    assert_eq!(check_note(&"ä".repeat(4000)).map(|t| t.chars().count()), Ok(4000));
    assert_eq!(check_note(&"ä".repeat(4001)), Err(NoteError::TooLong));
    assert_eq!(check_reason("  "), Ok(None));
    assert_eq!(check_reason(" Antwort der Versicherung "), Ok(Some("Antwort der Versicherung".into())));
    assert_eq!(check_reason(&"x".repeat(201)), Err(FollowUpError::ReasonTooLong));
}

#[test]
fn the_bearbeiter_or_an_admin_works_a_vorgang_nobody_else() {
    let person = |id: i64, admin: bool| Employee {
        id: EmployeeId(id),
        name: format!("E{id}"),
        is_current: true,
        license: Some("L".into()),
        work_email: None,
        permissions: if admin { vec![Permission::ManageMailImport] } else { vec![] },
        username: None,
    };
    // (employee, assignee, may)
    for (e, assignee, may) in [
        (person(2, false), Some(EmployeeId(2)), true),
        (person(3, false), Some(EmployeeId(2)), false),
        (person(3, false), None, false),
        (person(9, true), Some(EmployeeId(2)), true),
        (person(9, true), None, true),
    ] {
        assert_eq!(may_work(&e, assignee), may, "{e:?} on {assignee:?}");
    }
    assert_eq!(
        CaseRefusal::TakenBy("Clara Czerny".into()).german(),
        "Dieser Vorgang wurde inzwischen von Clara Czerny übernommen."
    );
}
