//! Onboarding an existing mailbox safely: a dry run that touches nothing, then a cut-off date that
//! leaves older mail on the server; plus `mailbox status` and `/metrics` as the admin sees them.

use crate::common::Env;
use crate::office::{PASSWORD, USER};
use postkorb_testkit::Dovecot;

fn mail(subject: &str, date: &str) -> Vec<u8> {
    format!(
        "From: anna@mustermail.de\r\nSubject: {subject}\r\nDate: {date}\r\nMessage-ID: <{subject}@t>\r\n\r\nText\r\n"
    )
    .into_bytes()
}

#[test]
fn a_dry_run_touches_nothing_and_a_cut_off_leaves_older_mail_on_the_server() {
    let dovecot = Dovecot::start();
    dovecot.add_user(USER, PASSWORD);
    for (i, date) in ["Mon, 03 Feb 2020 10:00:00 +0100", "Tue, 04 Feb 2020 10:00:00 +0100"].iter().enumerate() {
        dovecot.deliver(USER, &mail(&format!("alt-{i}"), date));
    }
    for i in 0..3 {
        dovecot.deliver(USER, &mail(&format!("neu-{i}"), "Thu, 26 Nov 2026 08:00:00 +0100"));
    }
    let env = Env::new();
    env.office();
    env.imap_mailbox(dovecot.imap_port(), &["--verify", "off", "--since", "2025-01-01"]);
    assert!(env.ok(&["mailbox", "show"]).contains("dated from 2025-01-01 on"));

    let dry = env.ok(&["mailbox", "dry-run"]);
    assert!(dry.contains("5 on the server, 0 already imported"), "{dry}");
    assert!(dry.contains("3  Vorgang for Bernd"), "{dry}");
    assert!(dry.contains("2  older than the cut-off"), "{dry}");
    assert!(dry.contains("nothing was stored, moved or deleted"), "{dry}");
    let all = env.ok(&["mailbox", "dry-run", "--since", "all"]);
    assert!(all.contains("5  Vorgang for Bernd"), "{all}");
    assert_eq!(dovecot.count(USER, "INBOX"), 5, "the dry runs moved nothing");
    assert_eq!(env.ok(&["cases", "list", "--json"]).trim(), "[]", "and stored nothing");

    env.ok(&["fetch", "--once"]);
    assert_eq!(dovecot.count(USER, "INBOX"), 2, "the two old mails stay");
    assert_eq!(dovecot.count(USER, "Postkorb/Importiert"), 3);
    env.ok(&["fetch", "--once"]);
    assert_eq!(dovecot.count(USER, "INBOX"), 2, "and are left alone on the next pass");
    let cases: serde_json::Value = serde_json::from_str(&env.ok(&["cases", "list", "--json"])).unwrap();
    assert_eq!(cases.as_array().unwrap().len(), 3);

    let status = env.ok(&["mailbox", "status"]);
    assert!(status.contains("on the server  2 not imported"), "{status}");
    assert!(status.contains("imported       3 Vorgänge, 0 kept"), "{status}");
    assert!(status.contains("last error     none"), "{status}");

    // The office decides to take the old mail too.
    let port = dovecot.imap_port().to_string();
    let mut set = vec!["mailbox", "set", "--protocol", "imap", "--host", "127.0.0.1", "--port", &port];
    set.extend(["--tls", "none", "--username", USER, "--keep-password", "--verify", "off", "--since", "all"]);
    env.ok(&set);
    env.ok(&["fetch", "--once"]);
    assert_eq!(dovecot.count(USER, "INBOX"), 0);
    let cases: serde_json::Value = serde_json::from_str(&env.ok(&["cases", "list", "--json"])).unwrap();
    assert_eq!(cases.as_array().unwrap().len(), 5, "{cases}");
}

#[test]
fn a_wrong_since_date_is_refused_with_the_expected_format() {
    let env = Env::new();
    let out = env.run(&["mailbox", "set", "--protocol", "maildir", "--path", "/tmp", "--since", "27.11.2026"], None);
    assert!(!out.status.success());
    assert!(String::from_utf8_lossy(&out.stderr).contains("use YYYY-MM-DD or all"));
}
