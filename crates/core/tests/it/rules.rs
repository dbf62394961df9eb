//! The rules of product.md as data: eligibility of Von/An, the routing decision, the claim rule.

use postkorb_core::*;

fn emp(id: i64, name: &str, current: bool, license: Option<&str>, email: Option<&str>) -> Employee {
    Employee {
        id: EmployeeId(id),
        name: name.into(),
        username: None,
        is_current: current,
        license: license.map(str::to_string),
        work_email: email.map(|e| EmailAddress::parse(e).unwrap()),
        permissions: vec![],
    }
}

/// The office of the seed's examples.
fn office() -> Vec<Employee> {
    vec![
        emp(1, "Anna Außendienst", true, None, Some("anna@mustermail.de")), // sends, no licence
        emp(2, "Bernd Berater", true, Some("LIZ-2"), Some("bernd@makler.de")), // licensed advisor
        emp(3, "Clara Sachbearbeiterin", true, Some("LIZ-3"), None),        // licensed clerk, no e-mail
        emp(4, "Dieter Ehemalig", false, Some("LIZ-4"), Some("dieter@mustermail.de")), // left
        emp(5, "Eva Ohnelizenz", true, Some("  "), Some("eva@makler.de")),  // blank licence
        emp(6, "Info Postfach", true, None, Some("info@mustermail.de")),
    ]
}

fn row(id: i64, from: i64, to: i64) -> SenderRoute {
    SenderRoute { id, from: EmployeeId(from), to: EmployeeId(to) }
}

#[test]
fn saving_a_row_checks_von_and_an_with_the_rules_of_the_description() {
    let office = office();
    type Expected = Result<(), Vec<&'static str>>;
    let cases: Vec<(i64, i64, Expected)> = vec![
        // Von without licence to a licensed An: fine (the seed's main case).
        (1, 2, Ok(())),
        // An without a work e-mail is fine.
        (1, 3, Ok(())),
        // Von and An the same person.
        (2, 2, Ok(())),
        // Von who left the company.
        (4, 2, Err(vec!["NotCurrent"])),
        // Von without work e-mail.
        (3, 2, Err(vec!["NoWorkEmail"])),
        // An without licence (blank counts as none).
        (1, 5, Err(vec!["NoLicense"])),
        (1, 1, Err(vec!["NoLicense"])),
        // An who left the company: not current comes first.
        (1, 4, Err(vec!["NotCurrent"])),
        // Both wrong: both named.
        (3, 5, Err(vec!["NoWorkEmail", "NoLicense"])),
        (99, 2, Err(vec!["UnknownEmployee"])),
    ];
    for (from, to, expected) in cases {
        let got = check_new_route(EmployeeId(from), EmployeeId(to), &office, &[]).map_err(|errs| {
            errs.iter().map(|e| format!("{e:?}").split([' ', '{']).next().unwrap().to_string()).collect::<Vec<_>>()
        });
        let expected = expected.map_err(|v| v.into_iter().map(String::from).collect::<Vec<_>>());
        assert_eq!(got, expected, "row {from} -> {to}");
    }
}

#[test]
fn a_row_that_exists_already_is_rejected() {
    let errs = check_new_route(EmployeeId(1), EmployeeId(2), &office(), &[row(1, 1, 2)]).unwrap_err();
    assert_eq!(errs, vec![RouteError::Duplicate]);
    assert_eq!(errs[0].german(), "Diese Zuordnung gibt es bereits.");
}

#[test]
fn rule_violations_have_german_messages_naming_the_field() {
    let errs = check_new_route(EmployeeId(3), EmployeeId(5), &office(), &[]).unwrap_err();
    let german: Vec<String> = errs.iter().map(|e| e.german()).collect();
    assert!(german[0].contains("Daten zur Arbeit"), "{german:?}");
    assert!(german[1].contains("Lizenzstring"), "{german:?}");
}

#[test]
fn dropdowns_offer_exactly_the_eligible_employees() {
    let office = office();
    let von: Vec<i64> = von_choices(&office).iter().map(|e| e.id.0).collect();
    let an: Vec<i64> = an_choices(&office).iter().map(|e| e.id.0).collect();
    assert_eq!(von, vec![1, 2, 5, 6]);
    assert_eq!(an, vec![2, 3]);
}

fn decide_for(sender: &str, employees: &[Employee], routes: &[SenderRoute]) -> Decision {
    decide(&MailFacts::from_sender(EmailAddress::parse(sender).unwrap()), employees, routes)
}

#[test]
fn routing_decides_by_the_sender_address() {
    let office = office();
    let routes = vec![row(1, 1, 2), row(2, 6, 2), row(3, 6, 3), row(4, 4, 2), row(5, 5, 1)];
    let cases: Vec<(&str, Decision)> = vec![
        ("anna@mustermail.de", Decision::Assign { sender: EmployeeId(1), to: EmployeeId(2) }),
        // Case-insensitive: the same sender.
        ("Anna@MusterMail.DE", Decision::Assign { sender: EmployeeId(1), to: EmployeeId(2) }),
        // The seed's example: info@ mapped to several users → a pool.
        (
            "info@mustermail.de",
            Decision::Pool { sender: EmployeeId(6), candidates: vec![EmployeeId(2), EmployeeId(3)] },
        ),
        ("fremd@example.com", Decision::Keep(KeepReason::NoRoute)),
        // bernd has an address but no row of his own as Von.
        ("bernd@makler.de", Decision::Keep(KeepReason::NoRoute)),
        (
            "dieter@mustermail.de",
            Decision::Keep(KeepReason::RouteInactive(vec![RouteError::NotCurrent {
                role: RouteRole::Von,
                name: "Dieter Ehemalig".into(),
            }])),
        ),
        (
            "eva@makler.de",
            Decision::Keep(KeepReason::RouteInactive(vec![RouteError::NoLicense { name: "Anna Außendienst".into() }])),
        ),
    ];
    for (sender, expected) in cases {
        assert_eq!(decide_for(sender, &office, &routes), expected, "sender {sender}");
    }
}

#[test]
fn a_pool_shrinks_to_one_when_a_candidate_loses_the_licence() {
    let mut office = office();
    let routes = vec![row(2, 6, 2), row(3, 6, 3)];
    office[2].license = None;
    assert_eq!(
        decide_for("info@mustermail.de", &office, &routes),
        Decision::Assign { sender: EmployeeId(6), to: EmployeeId(2) }
    );
}

#[test]
fn unreadable_automatic_and_unverified_mail_never_reaches_a_person() {
    let office = office();
    let routes = vec![row(1, 1, 2)];
    let good = EmailAddress::parse("anna@mustermail.de").unwrap();
    let mut facts = MailFacts::from_sender(good.clone());
    facts.automatic = Some("Auto-Submitted: auto-replied".into());
    assert_eq!(decide(&facts, &office, &routes), Decision::Keep(KeepReason::Automatic(AutoKind::AutoReply)));
    let mut facts = MailFacts::from_sender(good.clone());
    facts.unverified = Some("no DKIM signature".into());
    assert!(matches!(decide(&facts, &office, &routes), Decision::Keep(KeepReason::Unverified(_))));
    let mut facts = MailFacts::from_sender(good);
    facts.malformed = Some("no header".into());
    assert!(matches!(decide(&facts, &office, &routes), Decision::Keep(KeepReason::Malformed(_))));
    let facts = MailFacts {
        sender: Err("several addresses in From".into()),
        ..MailFacts::from_sender(EmailAddress::parse("a@b.de").unwrap())
    };
    assert_eq!(decide(&facts, &office, &routes), Decision::Keep(KeepReason::NoUsableFrom(FromProblem::Several)));
}

#[test]
fn only_a_still_eligible_candidate_may_claim_a_pooled_vorgang() {
    let mut office = office();
    let pool = [EmployeeId(2), EmployeeId(3)];
    assert!(may_claim(&office[1], &pool));
    assert!(may_claim(&office[2], &pool));
    assert!(!may_claim(&office[0], &pool), "not a candidate");
    office[2].is_current = false;
    assert!(!may_claim(&office[2], &pool), "left the company since import");
}

#[test]
fn old_kept_rows_get_their_kind_back_and_keep_the_old_text_for_details() {
    let cases = [
        ("no_usable_from", "no From header", KeepReason::NoUsableFrom(FromProblem::Missing)),
        ("no_usable_from", "nested angle brackets in From", KeepReason::NoUsableFrom(FromProblem::AngleBrackets)),
        ("automatic", "List-Id header (mailing list)", KeepReason::Automatic(AutoKind::MailingList)),
        ("malformed", "empty message", KeepReason::Malformed(Unreadable::Empty)),
        ("route_inactive", "An: Frank Teilzeit has no active licence", KeepReason::RouteInactive(vec![])),
        ("no_route", "", KeepReason::NoRoute),
    ];
    for (code, detail, expected) in cases {
        let (reason, old) = KeepReason::from_legacy(code, detail).unwrap();
        assert_eq!(reason, expected, "{code} {detail}");
        assert_eq!(reason.code(), code);
        assert_eq!(old.as_deref(), (!detail.is_empty()).then_some(detail));
    }
    assert_eq!(KeepReason::from_legacy("what", ""), None);
}

#[test]
fn every_keep_reason_has_its_own_hint_and_names_the_person() {
    let samples = KeepReason::samples();
    let codes: std::collections::BTreeSet<&str> = samples.iter().map(|r| r.code()).collect();
    assert_eq!(codes.len(), 9, "every kind has a sample");
    let hint = |r: KeepReason| r.hint();
    // Not current ≠ unknown sender ≠ no From ≠ unverified ≠ automatic ≠ storm.
    let hints = [
        hint(KeepReason::RouteInactive(vec![])),
        hint(KeepReason::NoRoute),
        hint(KeepReason::NoUsableFrom(FromProblem::Missing)),
        hint(KeepReason::Unverified("x".into())),
        hint(KeepReason::Automatic(AutoKind::Bounce)),
        hint(KeepReason::Storm(StormLimit { max: 3, minutes: 5 })),
    ];
    assert_eq!(hints.iter().collect::<std::collections::BTreeSet<_>>().len(), hints.len());
    let inactive = KeepReason::RouteInactive(vec![RouteError::NoLicense { name: "Frank Teilzeit".into() }]);
    assert!(inactive.explanation().contains("Frank Teilzeit besitzt keinen aktiven Lizenzstring"));
    // The verifier's own words are technical detail only.
    let unverified = KeepReason::Unverified("no DKIM signature".into());
    assert!(!unverified.explanation().contains("DKIM") && unverified.technical() == Some("no DKIM signature"));
}

#[test]
fn the_same_work_email_in_other_case_is_refused_naming_the_other_employee() {
    let office = office();
    let upper = EmailAddress::parse("Bernd@Makler.DE").unwrap();
    let err = check_work_email(None, Some(&upper), &office).unwrap_err();
    assert_eq!(
        err,
        EmployeeError::DuplicateWorkEmail { email: "bernd@makler.de".into(), other: "Bernd Berater".into() }
    );
    assert!(err.german().contains("bei Bernd Berater eingetragen"));
    assert!(check_work_email(Some(EmployeeId(2)), Some(&upper), &office).is_ok(), "his own address");
    assert!(check_work_email(None, None, &office).is_ok());
}

#[test]
fn rows_losing_names_the_rows_a_change_makes_inactive() {
    let office = office();
    let routes = vec![row(1, 1, 2), row(2, 6, 2), row(3, 6, 3), row(4, 4, 2)];
    let mut bernd = office[1].clone();
    bernd.license = None;
    let lost = rows_losing(&bernd, &office, &routes);
    // Row 4 is inactive already (Dieter left); rows 1 and 2 lose their An.
    assert_eq!(lost.iter().map(|(r, _)| r.id).collect::<Vec<_>>(), [1, 2]);
    assert_eq!(lost[0].1, [RouteError::NoLicense { name: "Bernd Berater".into() }]);
    assert!(rows_losing(&office[1], &office, &routes).is_empty(), "no change, nothing lost");
}

#[test]
fn keep_reasons_round_trip_through_serde() {
    for r in KeepReason::samples() {
        let json = serde_json::to_string(&r).unwrap();
        assert_eq!(serde_json::from_str::<KeepReason>(&json).unwrap(), r);
        assert!(!r.german().is_empty() && !r.english().is_empty());
    }
    assert!(KeepReason::Unverified(Technical::default()).german().starts_with("Absender nicht verifiziert:"));
}
