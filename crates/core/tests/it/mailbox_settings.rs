//! The one validator of mailbox settings as data: what a person types → typed settings or errors.

use postkorb_core::mailbox::{
    Disposal, Field, PathRule, Problem, Protocol, SettingsError, SettingsInput, TlsMode, VerifyChoice, parse_since,
    validate,
};

/// Paths as a caller might allow them: everything under /ok, nothing else.
struct Paths;

impl PathRule for Paths {
    fn maildir(&self, given: &str) -> Result<String, Problem> {
        given.strip_prefix("/ok").map(|_| given.to_string()).ok_or(Problem::PathMissing { root: None })
    }

    fn ca_file(&self, given: &str) -> Result<String, Problem> {
        self.maildir(given)
    }
}

fn imap() -> SettingsInput<'static> {
    SettingsInput {
        protocol: "imap",
        host: "imap.buero.de",
        tls: "implicit",
        username: "vorgaenge@buero.de",
        has_password: true,
        disposal: "move",
        poll_secs: "60",
        ..Default::default()
    }
}

fn errors(input: SettingsInput) -> Vec<(Field, Problem)> {
    validate(&input, &Paths)
        .map(|_| Vec::new())
        .unwrap_or_else(|e| e.into_iter().map(|e| (e.field, e.problem)).collect())
}

#[test]
fn a_complete_imap_form_gives_typed_settings_with_the_usual_defaults() {
    let s = validate(&imap(), &Paths).unwrap();
    assert_eq!((s.protocol, s.tls, s.port, s.disposal), (Protocol::Imap, TlsMode::Implicit, 993, Disposal::Move));
    assert_eq!((s.folder.as_str(), s.target_folder.as_str()), ("INBOX", "Postkorb/Importiert"));
    assert_eq!((s.verify, s.import_since_ms, s.maildir_path, s.ca_file), (VerifyChoice::Dkim, 0, None, None));
    let s = validate(&SettingsInput { protocol: "pop3", tls: "starttls", ..imap() }, &Paths).unwrap();
    assert_eq!((s.port, s.disposal), (110, Disposal::Delete), "POP3 always deletes");
    let s = validate(&SettingsInput { tls: "ssl", host: "  imap.buero.de ", ..imap() }, &Paths).unwrap();
    assert_eq!((s.tls, s.host.as_str()), (TlsMode::Implicit, "imap.buero.de"));
}

#[test]
fn each_bad_input_names_its_field_and_problem() {
    use Field as F;
    use Problem as P;
    let check = |input: SettingsInput, expected: Vec<(Field, Problem)>| assert_eq!(errors(input), expected);
    check(SettingsInput { protocol: "smtp", ..imap() }, vec![(F::Protocol, P::UnknownProtocol("smtp".into()))]);
    check(SettingsInput { tls: "ssl3", ..imap() }, vec![(F::Tls, P::UnknownTls("ssl3".into()))]);
    check(SettingsInput { disposal: "keep", ..imap() }, vec![(F::Disposal, P::UnknownDisposal("keep".into()))]);
    check(SettingsInput { host: " ", ..imap() }, vec![(F::Host, P::HostMissing)]);
    check(SettingsInput { host: "imap buero.de", ..imap() }, vec![(F::Host, P::HostHasSpace)]);
    for port in ["0", "70000", "x", "-1"] {
        check(SettingsInput { port, ..imap() }, vec![(F::Port, P::PortInvalid)]);
    }
    check(SettingsInput { username: "", ..imap() }, vec![(F::Username, P::UsernameMissing)]);
    check(SettingsInput { has_password: false, ..imap() }, vec![(F::Password, P::PasswordMissing)]);
    for poll_secs in ["0", "86401", "100000", "", "eine Minute"] {
        check(SettingsInput { poll_secs, ..imap() }, vec![(F::PollSecs, P::PollOutOfRange)]);
    }
    check(SettingsInput { verify: "dmarc", ..imap() }, vec![(F::Verify, P::UnknownVerify("dmarc".into()))]);
    check(SettingsInput { verify: "auth-results", ..imap() }, vec![(F::AuthservIds, P::AuthservIdMissing)]);
    check(SettingsInput { verify: "auth-results:", ..imap() }, vec![(F::AuthservIds, P::AuthservIdMissing)]);
    check(SettingsInput { since: "31.12.2025", ..imap() }, vec![(F::Since, P::BadDate("31.12.2025".into()))]);
    check(SettingsInput { ca_file: "/etc/ca.pem", ..imap() }, vec![(F::CaFile, P::PathMissing { root: None })]);
    let maildir = SettingsInput { protocol: "maildir", host: "", username: "", has_password: false, ..imap() };
    check(maildir.clone(), vec![(F::MaildirPath, P::MaildirMissing)]);
    check(SettingsInput { maildir_path: "/etc", ..maildir }, vec![(F::MaildirPath, P::PathMissing { root: None })]);
}

#[test]
fn every_error_of_a_form_is_reported_at_once() {
    let input = SettingsInput { host: "", port: "99999", username: "", has_password: false, poll_secs: "0", ..imap() };
    let fields: Vec<Field> = errors(input).into_iter().map(|(f, _)| f).collect();
    assert_eq!(fields, [Field::Host, Field::Username, Field::Password, Field::Port, Field::PollSecs]);
}

#[test]
fn a_maildir_needs_no_server_and_keeps_the_path_its_rule_answered() {
    let input = SettingsInput { protocol: "maildir", host: "", username: "", has_password: false, ..imap() };
    let s = validate(&SettingsInput { maildir_path: " /ok/box ", ..input }, &Paths).unwrap();
    assert_eq!((s.port, s.maildir_path.as_deref()), (0, Some("/ok/box")));
}

#[test]
fn the_sender_check_is_parsed_from_the_form_and_from_verify_alike() {
    let ids = |v: &[&str]| VerifyChoice::AuthResults(v.iter().map(|s| s.to_string()).collect());
    for (word, field, expected) in [
        ("", "", VerifyChoice::Dkim),
        ("dkim", "", VerifyChoice::Dkim),
        ("dkim-strict", "", VerifyChoice::DkimStrict),
        ("off", "", VerifyChoice::Off),
        ("auth-results", "mx.a.de, mx.b.de", ids(&["mx.a.de", "mx.b.de"])),
        ("auth-results", "mx.a.de mx.b.de", ids(&["mx.a.de", "mx.b.de"])),
        ("auth-results:mx.a.de,mx.b.de", "", ids(&["mx.a.de", "mx.b.de"])),
    ] {
        assert_eq!(VerifyChoice::parse(word, field), Ok(expected), "{word:?} {field:?}");
    }
    assert!(VerifyChoice::parse("DKIM", "").is_err(), "an unknown word is an error, never the default");
}

#[test]
fn since_takes_a_date_all_or_nothing() {
    assert_eq!(parse_since("all"), Ok(0));
    assert_eq!(parse_since(""), Ok(0));
    assert_eq!(parse_since("2000-02-29"), Ok(951_782_400_000));
    assert!(parse_since("2001-02-29").is_err());
}

#[test]
fn every_error_has_german_words_for_the_form_and_english_ones_naming_the_argument() {
    let e = SettingsError::new(Field::PollSecs, Problem::PollOutOfRange);
    assert_eq!(e.german(), "Das Abrufintervall muss zwischen 1 und 86400 Sekunden liegen.");
    assert_eq!(e.english(), "--poll-secs: the poll interval must be from 1 to 86400 seconds");
    let e = SettingsError::new(Field::Since, Problem::BadDate("27.11.2026".into()));
    assert!(e.english().starts_with("--since") && e.english().ends_with("use YYYY-MM-DD or all"));
    let outside = Problem::PathOutside { root: "/srv/mail".into() };
    assert_eq!(
        SettingsError::new(Field::MaildirPath, outside.clone()).german(),
        "Das Maildir-Verzeichnis muss im freigegebenen Verzeichnis /srv/mail liegen."
    );
    assert_eq!(
        SettingsError::new(Field::CaFile, outside).german(),
        "Die Zertifikatsdatei muss im freigegebenen Verzeichnis /srv/mail liegen."
    );
}

#[test]
fn the_stored_words_are_read_back_and_unknown_ones_fall_back_safely() {
    for p in [Protocol::Imap, Protocol::Pop3, Protocol::Maildir, Protocol::Graph] {
        assert_eq!(Protocol::from_code(p.code()), Some(p));
    }
    for t in [TlsMode::Implicit, TlsMode::StartTls, TlsMode::None] {
        assert_eq!(TlsMode::from_code(t.code()), Some(t));
    }
    assert_eq!(Disposal::of_stored("delete"), Disposal::Delete);
    assert_eq!(Disposal::of_stored(""), Disposal::Move);
    use postkorb_core::mailbox::AuthKind;
    assert_eq!(AuthKind::of_stored("xoauth2"), AuthKind::XOAuth2);
    assert_eq!(AuthKind::of_stored("oauth2_app"), AuthKind::App);
    assert_eq!(AuthKind::of_stored(""), AuthKind::Password);
}

#[test]
fn a_graph_mailbox_goes_to_graph_microsoft_com_over_tls_or_a_loopback_test_server_only() {
    let graph = SettingsInput {
        protocol: "graph",
        host: "",
        tls: "none",
        username: "vorgaenge@buero.de",
        has_password: false,
        disposal: "move",
        poll_secs: "60",
        ..Default::default()
    };
    let s = validate(&graph, &Paths).expect("no server, no password: the OAuth connection is separate");
    assert_eq!((s.host.as_str(), s.port, s.tls), ("graph.microsoft.com", 443, TlsMode::Implicit));
    let stale = validate(&SettingsInput { port: "99x", tls: "starttls", ..graph.clone() }, &Paths).unwrap();
    assert_eq!((stale.port, stale.tls), (443, TlsMode::Implicit), "left from IMAP settings: not asked about");
    let s = validate(&SettingsInput { host: "127.0.0.1", port: "8080", ..graph.clone() }, &Paths).unwrap();
    assert_eq!((s.host.as_str(), s.port, s.tls), ("127.0.0.1", 8080, TlsMode::None));
    use Field as F;
    use Problem as P;
    let cases: Vec<(SettingsInput, Vec<(Field, Problem)>)> = vec![
        (SettingsInput { host: "evil.example", ..graph.clone() }, vec![(F::Host, P::GraphHost)]),
        (SettingsInput { host: "169.254.169.254", ..graph.clone() }, vec![(F::Host, P::GraphHost)]),
        (SettingsInput { host: "graph.microsoft.com.evil.example", ..graph.clone() }, vec![(F::Host, P::GraphHost)]),
        (SettingsInput { host: "::1", tls: "starttls", port: "1", ..graph.clone() }, vec![(F::Host, P::GraphHost)]),
        (SettingsInput { username: "", ..graph.clone() }, vec![(F::Username, P::GraphAddress)]),
        (SettingsInput { username: "vorgaenge", ..graph.clone() }, vec![(F::Username, P::GraphAddress)]),
    ];
    for (input, expected) in cases {
        assert_eq!(errors(input.clone()), expected, "{input:?}");
    }
}
