//! Aufbewahrungsfristen (issue 18): every period as data — year ends on the office's clock
//! (Europe/Berlin: the new year begins at 23:00 UTC), reopened Vorgänge, open ones, a Sperre.

use postkorb_core::retention::{
    CaseFacts, HoldKind, RetentionClass, RetentionSettings, case_due, check_hold, erase_duty, erase_duty_reason,
};
use postkorb_core::time::parse_berlin;

const DAY: i64 = 86_400_000;

fn at(s: &str) -> i64 {
    parse_berlin(s).unwrap_or_else(|| panic!("{s}"))
}

#[test]
fn a_vorgang_is_due_six_years_after_the_end_of_the_year_it_was_closed_on_the_offices_clock() {
    // (closed, now, due?, what)
    let cases: &[(&str, &str, bool, &str)] = &[
        ("2019-06-15 10:00", "2025-12-31 23:59", false, "still the sixth year after 2019"),
        ("2019-06-15 10:00", "2026-01-01 00:00", true, "1 January 2026 on the office's clock"),
        // 31 Dec 2019 23:30 Berlin is 22:30 UTC: still 2019 in the office.
        ("2019-12-31 23:30", "2026-01-01 00:00", true, "closed in the last half hour of 2019"),
        // 1 Jan 2020 00:30 Berlin is 31 Dec 2019 23:30 UTC: already 2020 in the office.
        ("2020-01-01 00:30", "2026-01-01 00:00", false, "closed in the first half hour of 2020"),
        ("2020-01-01 00:30", "2027-01-01 00:00", true, "2020 + 6 years ends on 1 January 2027"),
        // Closed in summer time, due in winter time.
        ("2019-07-01 02:30", "2025-12-31 23:00", false, "across the summer-time switch"),
        ("2019-03-31 03:00", "2026-01-01 00:00", true, "just after the spring switch of 2019"),
        ("2019-10-27 02:30", "2026-01-01 00:00", true, "in the repeated hour of October 2019"),
    ];
    for (closed, now, due, what) in cases {
        let facts = CaseFacts { done: true, closed_ms: Some(at(closed)), held: false };
        assert_eq!(case_due(facts, at(now), 6), *due, "{what}");
        // due_at and cutoff agree.
        let due_at = RetentionClass::Cases.due_at(at(closed), 6);
        assert_eq!(at(now) >= due_at, *due, "due_at: {what}");
    }
    // 1 January 00:00 in Berlin is 23:00 UTC the day before.
    assert_eq!(RetentionClass::Cases.due_at(at("2019-05-05 12:00"), 6), at("2026-01-01 00:00"));
    assert_eq!(at("2026-01-01 00:00"), postkorb_core::time::parse_iso_date("2025-12-31").unwrap() + 23 * 3_600_000);
}

#[test]
fn open_reopened_and_held_vorgaenge_are_never_due() {
    let now = at("2040-01-01 00:00");
    // (facts, due?, what)
    let cases: &[(CaseFacts, bool, &str)] = &[
        (CaseFacts { done: false, closed_ms: None, held: false }, false, "open"),
        // „Wieder öffnen“ clears the closing time: the period starts over at the next close.
        (CaseFacts { done: false, closed_ms: None, held: false }, false, "reopened"),
        (CaseFacts { done: true, closed_ms: Some(at("2039-06-01 00:00")), held: false }, false, "closed again lately"),
        (CaseFacts { done: true, closed_ms: Some(at("2010-06-01 00:00")), held: true }, false, "under a Sperre"),
        (CaseFacts { done: true, closed_ms: Some(at("2010-06-01 00:00")), held: false }, true, "long done"),
        (CaseFacts { done: true, closed_ms: None, held: false }, false, "done without a time"),
    ];
    for (facts, due, what) in cases {
        assert_eq!(case_due(*facts, now, 6), *due, "{what}");
    }
}

#[test]
fn every_class_has_its_default_period_and_cutoff() {
    let now = at("2026-03-29 03:30"); // the first hour of summer time 2026
    // (class, default, cutoff at now, what)
    let cases: &[(RetentionClass, u32, i64, &str)] = &[
        (RetentionClass::Cases, 6, at("2020-01-01 00:00"), "closed before 2020"),
        (RetentionClass::KeptDiscarded, 30, now - 30 * DAY, "discarded 30 days ago"),
        (RetentionClass::KeptOpen, 365, now - 365 * DAY, "arrived a year ago"),
        (RetentionClass::Audit, 10, at("2016-03-29 03:30"), "10 calendar years"),
        (RetentionClass::DeletionLog, 10, at("2016-03-29 03:30"), "10 calendar years"),
        (RetentionClass::Sessions, 90, now - 90 * DAY, "ended 90 days ago"),
        (RetentionClass::LoginFailures, 90, now - 90 * DAY, "90 days"),
        (RetentionClass::Deliveries, 90, now - 90 * DAY, "90 days"),
    ];
    let settings = RetentionSettings::default();
    assert_eq!(settings.run_minute, 150, "02:30 office time");
    for (class, default, cutoff, what) in cases {
        assert_eq!(class.default_period(), *default, "{what}");
        assert_eq!(settings.period(*class), *default, "{what}");
        assert_eq!(class.cutoff(now, *default), *cutoff, "{what}");
        assert_eq!(RetentionClass::from_code(class.code()), Some(*class));
        assert!(!class.meaning(*default).is_empty() && !class.german().is_empty());
    }
    // 29 February goes back to 28 February in a year without it.
    assert_eq!(RetentionClass::Audit.cutoff(at("2028-02-29 12:00"), 1), at("2027-02-28 12:00"));
}

#[test]
fn periods_below_the_legal_minimum_are_refused() {
    // (class, value, accepted?)
    let cases: &[(RetentionClass, i64, bool)] = &[
        (RetentionClass::Cases, 5, false),
        (RetentionClass::Cases, 6, true),
        (RetentionClass::Cases, 10, true),
        (RetentionClass::Cases, 31, false),
        (RetentionClass::KeptDiscarded, 0, false),
        (RetentionClass::KeptDiscarded, 7, true),
        (RetentionClass::KeptOpen, 30, false),
        (RetentionClass::Audit, -1, false),
        (RetentionClass::Sessions, 90, true),
    ];
    for (class, value, ok) in cases {
        let mut s = RetentionSettings::default();
        let r = s.set(*class, *value);
        assert_eq!(r.is_ok(), *ok, "{class:?} {value}");
        if *ok {
            assert_eq!(i64::from(s.period(*class)), *value);
        } else {
            assert!(r.unwrap_err().german().contains("erlaubt"));
            assert_eq!(s.period(*class), class.default_period(), "unchanged");
        }
    }
}

#[test]
fn an_open_kept_mail_is_marked_a_month_before_it_goes() {
    let s = RetentionSettings::default();
    let kept = at("2025-01-10 09:00");
    // (now, warning?)
    let cases: &[(i64, bool)] =
        &[(kept + 300 * DAY, false), (kept + 334 * DAY, false), (kept + 335 * DAY, true), (kept + 364 * DAY, true)];
    for (now, warned) in cases {
        assert_eq!(s.kept_warning(kept, *now).is_some(), *warned, "{} days", (now - kept) / DAY);
    }
    assert_eq!(s.kept_warning(kept, kept + 340 * DAY), Some(kept + 365 * DAY));
}

#[test]
fn a_sperre_needs_a_reason_and_a_date_ahead() {
    let now = at("2026-05-01 10:00");
    let cases: &[(&str, i64, bool)] =
        &[("Rechtsstreit", now + DAY, true), ("  ", now + DAY, false), ("Rechtsstreit", now, false)];
    for (reason, until, ok) in cases {
        assert_eq!(check_hold(reason, *until, now).is_ok(), *ok, "{reason:?}");
    }
    assert!(HoldKind::Restriction.hides() && !HoldKind::Retention.hides());
    for k in HoldKind::ALL {
        assert_eq!(HoldKind::from_code(k.code()), Some(k));
    }
}

#[test]
fn an_erasure_request_meets_a_retention_duty_only_for_a_closed_vorgang_within_its_period() {
    let now = at("2026-03-01 12:00");
    // (facts, duty until, what)
    let cases: &[(CaseFacts, Option<&str>, &str)] = &[
        (CaseFacts { done: false, closed_ms: None, held: false }, None, "open: no duty"),
        (
            CaseFacts { done: true, closed_ms: Some(at("2025-06-01 10:00")), held: false },
            Some("2032-01-01 00:00"),
            "closed last year",
        ),
        (CaseFacts { done: true, closed_ms: Some(at("2019-06-01 10:00")), held: false }, None, "period over"),
        (
            CaseFacts { done: true, closed_ms: Some(at("2020-12-31 23:30")), held: false },
            Some("2027-01-01 00:00"),
            "closed on New Year's Eve 2020",
        ),
        (CaseFacts { done: true, closed_ms: None, held: false }, None, "done without a time"),
    ];
    for (facts, until, what) in cases {
        assert_eq!(erase_duty(*facts, now, 6), until.map(at), "{what}");
    }
    let reason = erase_duty_reason(at("2032-01-01 00:00"));
    assert!(reason.contains("bis 01.01.2032") && reason.contains("§ 257 HGB"), "{reason}");
}
