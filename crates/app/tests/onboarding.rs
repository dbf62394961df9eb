//! Onboarding an existing mailbox safely: a dry run that touches nothing, then a cut-off date that
//! leaves older mail on the server; plus `mailbox status` and `/metrics` as the admin sees them.

use std::io::Write;
use std::process::{Command, Output, Stdio};

use postkorb_testkit::Dovecot;

const USER: &str = "vorgaenge@office.test";

fn postkorb(dir: &std::path::Path, args: &[&str], stdin: Option<&str>) -> Output {
    let mut child = Command::new(env!("CARGO_BIN_EXE_postkorb"))
        .args(args)
        .env("POSTKORB_DATA_DIR", dir)
        .env_remove("POSTKORB_CONFIG")
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .unwrap();
    let mut input = child.stdin.take().unwrap();
    if let Some(s) = stdin {
        input.write_all(s.as_bytes()).unwrap();
    }
    drop(input);
    child.wait_with_output().unwrap()
}

fn ok(dir: &std::path::Path, args: &[&str]) -> String {
    let out = postkorb(dir, args, None);
    assert!(out.status.success(), "{args:?}: {}", String::from_utf8_lossy(&out.stderr));
    String::from_utf8(out.stdout).unwrap()
}

fn mail(subject: &str, date: &str) -> Vec<u8> {
    format!(
        "From: anna@mustermail.de\r\nSubject: {subject}\r\nDate: {date}\r\nMessage-ID: <{subject}@t>\r\n\r\nText\r\n"
    )
    .into_bytes()
}

#[test]
fn a_dry_run_touches_nothing_and_a_cut_off_leaves_older_mail_on_the_server() {
    let dovecot = Dovecot::start();
    dovecot.add_user(USER, "geheim");
    for (i, date) in ["Mon, 03 Feb 2020 10:00:00 +0100", "Tue, 04 Feb 2020 10:00:00 +0100"].iter().enumerate() {
        dovecot.deliver(USER, &mail(&format!("alt-{i}"), date));
    }
    for i in 0..3 {
        dovecot.deliver(USER, &mail(&format!("neu-{i}"), "Thu, 26 Nov 2026 08:00:00 +0100"));
    }
    let dir = tempfile::tempdir().unwrap();
    let d = dir.path();
    ok(d, &["employee", "add", "--name", "Anna", "--email", "anna@mustermail.de"]);
    ok(d, &["employee", "add", "--name", "Bernd", "--license", "L2"]);
    ok(d, &["route", "add", "--from", "Anna", "--to", "Bernd"]);
    let port = dovecot.imap_port().to_string();
    let set = postkorb(
        d,
        &[
            "mailbox",
            "set",
            "--protocol",
            "imap",
            "--host",
            "127.0.0.1",
            "--port",
            &port,
            "--tls",
            "none",
            "--username",
            USER,
            "--password-stdin",
            "--verify",
            "off",
            "--since",
            "2025-01-01",
        ],
        Some("geheim\n"),
    );
    assert!(set.status.success(), "{}", String::from_utf8_lossy(&set.stderr));
    assert!(ok(d, &["mailbox", "show"]).contains("dated from 2025-01-01 on"));

    let dry = ok(d, &["mailbox", "dry-run"]);
    assert!(dry.contains("5 on the server, 0 already imported"), "{dry}");
    assert!(dry.contains("3  Vorgang for Bernd"), "{dry}");
    assert!(dry.contains("2  older than the cut-off"), "{dry}");
    assert!(dry.contains("nothing was stored, moved or deleted"), "{dry}");
    let all = ok(d, &["mailbox", "dry-run", "--since", "all"]);
    assert!(all.contains("5  Vorgang for Bernd"), "{all}");
    assert_eq!(dovecot.count(USER, "INBOX"), 5, "the dry runs moved nothing");
    assert_eq!(ok(d, &["cases", "list", "--json"]).trim(), "[]", "and stored nothing");

    ok(d, &["fetch", "--once"]);
    assert_eq!(dovecot.count(USER, "INBOX"), 2, "the two old mails stay");
    assert_eq!(dovecot.count(USER, "Postkorb/Importiert"), 3);
    ok(d, &["fetch", "--once"]);
    assert_eq!(dovecot.count(USER, "INBOX"), 2, "and are left alone on the next pass");
    let cases: serde_json::Value = serde_json::from_str(&ok(d, &["cases", "list", "--json"])).unwrap();
    assert_eq!(cases.as_array().unwrap().len(), 3);

    let status = ok(d, &["mailbox", "status"]);
    assert!(status.contains("on the server  2 not imported"), "{status}");
    assert!(status.contains("imported       3 Vorgänge, 0 kept"), "{status}");
    assert!(status.contains("last error     none"), "{status}");

    // The office decides to take the old mail too.
    let set = postkorb(
        d,
        &[
            "mailbox",
            "set",
            "--protocol",
            "imap",
            "--host",
            "127.0.0.1",
            "--port",
            &port,
            "--tls",
            "none",
            "--username",
            USER,
            "--keep-password",
            "--verify",
            "off",
            "--since",
            "all",
        ],
        None,
    );
    assert!(set.status.success(), "{}", String::from_utf8_lossy(&set.stderr));
    ok(d, &["fetch", "--once"]);
    assert_eq!(dovecot.count(USER, "INBOX"), 0);
    let cases: serde_json::Value = serde_json::from_str(&ok(d, &["cases", "list", "--json"])).unwrap();
    assert_eq!(cases.as_array().unwrap().len(), 5, "{cases}");
}

#[test]
fn a_wrong_since_date_is_refused_with_the_expected_format() {
    let dir = tempfile::tempdir().unwrap();
    let out = postkorb(
        dir.path(),
        &["mailbox", "set", "--protocol", "maildir", "--path", "/tmp", "--since", "27.11.2026"],
        None,
    );
    assert!(!out.status.success());
    assert!(String::from_utf8_lossy(&out.stderr).contains("use YYYY-MM-DD or all"));
}
