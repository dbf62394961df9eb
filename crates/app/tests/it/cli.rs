//! The `postkorb` binary as a user runs it: the demo, the rules named in errors, the password never
//! on the command line, JSON output.

use crate::common::Env;

#[test]
fn the_demo_imports_every_sample_mail_into_exactly_one_state() {
    let env = Env::new();
    let out = env.ok(&["demo", "--no-serve"]);
    assert!(out.contains("10 listed, 10 new, 10 disposed"), "{out}");
    for expected in [
        "Vorgang 1 for Bernd Berater",
        "waiting for the first of Bernd Berater, Clara Sachbearbeiterin",
        "sender has no row in the sender list",
        "sender's rows are all inactive",
        "automatic mail",
        "no usable sender address in From",
        "Clara Sachbearbeiterin received 2 Vorgänge",
        "Bernd Berater: nothing waiting",
    ] {
        assert!(out.contains(expected), "missing {expected:?} in:\n{out}");
    }
    // The Maildir's new/ is empty: every mail moved out after the commit.
    let new = env.dir.path().join("demo/maildir/new");
    assert_eq!(std::fs::read_dir(new).unwrap().count(), 0);
    // Running the demo again imports nothing twice.
    let again = env.ok(&["demo", "--no-serve"]);
    assert!(again.contains("0 listed, 0 new"), "{again}");
}

#[test]
fn a_row_that_breaks_the_rules_is_refused_naming_each_rule() {
    let env = Env::new();
    env.ok(&["employee", "add", "--name", "Anna", "--email", "anna@mustermail.de"]);
    env.ok(&["employee", "add", "--name", "Otto", "--current", "false", "--license", "L1"]);
    env.ok(&["employee", "add", "--name", "Bernd", "--username", "bernd", "--license", "L2"]);
    let err = env.fails(&["route", "add", "--from", "Bernd", "--to", "Anna"]);
    assert!(err.contains("no work e-mail"), "{err}");
    assert!(err.contains("no active licence"), "{err}");
    let err = env.fails(&["route", "add", "--from", "Anna", "--to", "Otto"]);
    assert!(err.contains("not marked as current"), "{err}");
    let err = env.fails(&["route", "add", "--from", "Niemand", "--to", "bernd"]);
    assert!(err.contains("no employee named \"Niemand\""), "{err}");
    assert!(env.ok(&["route", "add", "--from", "Anna", "--to", "bernd"]).contains("Anna -> Bernd"));
    // The row turns inactive when An loses the licence: `set` says which, and the list says why.
    let set = env.ok(&["employee", "set", "bernd", "--license", ""]);
    assert!(
        set.contains("1 row(s) are inactive now") && set.contains("Anna -> Bernd (An: Bernd has no active licence)"),
        "{set}"
    );
    let list = env.ok(&["route", "list"]);
    assert!(list.contains("INACTIVE: An: Bernd has no active licence"), "{list}");
    let json: serde_json::Value = serde_json::from_str(&env.ok(&["route", "list", "--json"])).unwrap();
    assert_eq!(json[0]["active"], false);
}

#[test]
fn a_work_email_another_employee_has_is_refused_in_any_case() {
    let env = Env::new();
    env.ok(&["employee", "add", "--name", "Anna", "--email", "anna@mustermail.de"]);
    let err = env.fails(&["employee", "add", "--name", "Anna Zwei", "--email", "ANNA@MusterMail.de"]);
    assert!(err.contains("the work e-mail anna@mustermail.de belongs to Anna already"), "{err}");
    env.ok(&["employee", "add", "--name", "Bernd", "--username", "bernd", "--email", "bernd@mustermail.de"]);
    let err = env.fails(&["employee", "set", "bernd", "--email", "Anna@mustermail.de"]);
    assert!(err.contains("belongs to Anna already"), "{err}");
    assert!(env.ok(&["employee", "list"]).matches("anna@mustermail.de").count() == 1);
}

#[test]
fn the_mailbox_password_comes_from_stdin_is_stored_encrypted_and_never_shown() {
    let env = Env::new();
    // Nothing listens on port 1 (tried below).
    env.imap_mailbox_as(1, "v@office.test", "Sehr-Geheim-123", &[]);
    let show = env.ok(&["mailbox", "show"]);
    assert!(show.contains("set (encrypted)") && !show.contains("Sehr-Geheim-123"), "{show}");
    let db = std::fs::read(env.dir.path().join("postkorb.db")).unwrap();
    let wal = std::fs::read(env.dir.path().join("postkorb.db-wal")).unwrap_or_default();
    for bytes in [db, wal] {
        assert!(!bytes.windows(15).any(|w| w == b"Sehr-Geheim-123"), "password in clear in the database");
    }
    // Nothing listens on port 1: a clear error, not a hang.
    let err = env.fails(&["mailbox", "test"]);
    assert!(err.contains("connection refused"), "{err}");
}

#[test]
fn explain_says_what_would_happen_without_importing() {
    let env = Env::new();
    env.office();
    let file = env.dir.path().join("m.eml");
    std::fs::write(&file, "From: =?UTF-8?Q?Anna_Au=C3=9Fendienst?= <Anna@MusterMail.de>\r\nSubject: =?ISO-8859-1?Q?R=FCckruf?=\r\n\r\nText\r\n").unwrap();
    let out = env.ok(&["explain", file.to_str().unwrap()]);
    assert!(out.contains("anna@mustermail.de (Anna Außendienst)"), "{out}");
    assert!(out.contains("Subject:  Rückruf"), "{out}");
    assert!(out.contains("becomes a Vorgang for Bernd"), "{out}");
    std::fs::write(&file, "From: fremd@example.com\r\nSubject: x\r\n\r\nText\r\n").unwrap();
    let out = env.ok(&["explain", file.to_str().unwrap()]);
    assert!(out.contains("is kept for the admin: sender has no row"), "{out}");
    assert!(env.ok(&["cases", "list", "--json"]).trim() == "[]", "nothing imported");
}

#[test]
fn a_bulk_import_of_an_mbox_goes_through_the_same_rules() {
    let env = Env::new();
    env.office();
    let file = env.dir.path().join("alt.mbox");
    std::fs::write(
        &file,
        "From anna@mustermail.de Mon Jan  1 00:00:00 2024\nFrom: anna@mustermail.de\nSubject: Alt 1\nMessage-ID: <a1@x>\n\n>From the road\n\nFrom x@y Mon Jan  1 00:00:00 2024\nFrom: fremd@example.com\nSubject: Alt 2\nMessage-ID: <a2@x>\n\nHallo\n",
    )
    .unwrap();
    // An old archive of the office's own: imported without sender verification.
    let out = env.ok(&["import", "--mbox", file.to_str().unwrap(), "--verify", "off"]);
    assert!(out.contains("imported 2 messages") && out.contains("1 Vorgänge, 1 kept"), "{out}");
    let again = env.ok(&["import", "--mbox", file.to_str().unwrap(), "--verify", "off"]);
    assert!(again.contains("0 Vorgänge, 0 kept with a reason, 2 already known"), "{again}");
    let cases: serde_json::Value =
        serde_json::from_str(&env.ok(&["cases", "list", "--json", "--user", "Bernd"])).unwrap();
    assert_eq!(cases.as_array().unwrap().len(), 1);
    assert_eq!(cases[0]["subject"], "Alt 1");
    let kept: serde_json::Value = serde_json::from_str(&env.ok(&["kept", "list", "--json"])).unwrap();
    assert_eq!(kept[0]["reason"], "sender has no row in the sender list");
}

#[test]
fn by_default_an_unsigned_mail_from_a_mapped_sender_is_kept_as_not_verified() {
    let env = Env::new();
    env.office();
    let file = env.dir.path().join("f.mbox");
    std::fs::write(
        &file,
        "From x Mon Jan  1 00:00:00 2024\nFrom: anna@mustermail.de\nSubject: Vielleicht gefaelscht\n\nText\n",
    )
    .unwrap();
    let out = env.ok(&["import", "--mbox", file.to_str().unwrap()]);
    assert!(out.contains("0 Vorgänge, 1 kept"), "{out}");
    let kept: serde_json::Value = serde_json::from_str(&env.ok(&["kept", "list", "--json"])).unwrap();
    assert_eq!(kept[0]["reason_code"], "unverified", "{kept}");
    assert!(kept[0]["reason"].as_str().unwrap().starts_with("sender not verified"), "{kept}");
}

#[test]
fn mailbox_set_to_another_server_with_keep_password_never_sends_it_the_password() {
    let env = Env::new();
    let office = postkorb_testkit::free_port().to_string();
    let set = |port: &str, extra: &[&str]| {
        let mut args = vec!["mailbox", "set", "--protocol", "imap", "--host", "127.0.0.1", "--port", port];
        args.extend(["--tls", "none", "--username", "v@office.test"]);
        args.extend_from_slice(extra);
        args.iter().map(|s| s.to_string()).collect::<Vec<_>>()
    };
    let args = set(&office, &["--password-stdin"]);
    let out = env.run(&args.iter().map(String::as_str).collect::<Vec<_>>(), Some("Sehr-Geheim-123\n"));
    assert!(out.status.success(), "{}", String::from_utf8_lossy(&out.stderr));

    let evil = postkorb_testkit::Recorder::imap();
    let args = set(&evil.port().to_string(), &["--keep-password"]);
    let err = env.fails(&args.iter().map(String::as_str).collect::<Vec<_>>());
    assert!(err.contains("never sent to another server") && err.contains("--password-stdin"), "{err}");
    let _ = env.run(&["mailbox", "test"], None);
    let _ = env.run(&["fetch", "--once"], None);
    assert_eq!(evil.connections(), 0, "the foreign host was never contacted");
    assert!(env.ok(&["mailbox", "show"]).contains(&format!("127.0.0.1:{office}")), "unchanged");
}

#[test]
fn explain_without_mailbox_never_says_a_forged_mail_becomes_a_vorgang() {
    let env = Env::new();
    env.office();
    let add_mailbox = |name: &str| {
        env.imap_mailbox_as(1, "v@office.test", "pw", &["--name", name]);
    };
    // Anyone can write Anna's address into From; nothing signs it.
    let file = env.dir.path().join("forged.eml");
    std::fs::write(&file, "From: anna@mustermail.de\r\nSubject: Bitte zahlen\r\n\r\nText\r\n").unwrap();

    // One mailbox (default policy: DKIM): its policy applies without --mailbox.
    add_mailbox("default");
    let out = env.ok(&["explain", file.to_str().unwrap()]);
    assert!(out.contains("NOT verified under the policy of mailbox default"), "{out}");
    assert!(out.contains("is kept for the admin: sender not verified"), "{out}");
    assert!(!out.contains("becomes a Vorgang"), "{out}");

    // Several: no policy is chosen silently; the output says what it ignores and what the default does.
    add_mailbox("zweites");
    let out = env.ok(&["explain", file.to_str().unwrap()]);
    assert!(out.contains("ignores sender verification"), "{out}");
    assert!(out.contains("Decision: ignoring sender verification, this mail becomes a Vorgang for Bernd"), "{out}");
    let default = out.lines().find(|l| l.starts_with("Default:")).unwrap_or_else(|| panic!("{out}"));
    assert!(
        default.contains("NOT verified") && default.contains("is kept for the admin: sender not verified"),
        "{out}"
    );
}

#[cfg(unix)]
#[test]
fn database_blobs_and_backups_are_private_to_postkorbs_user_whatever_the_umask() {
    use std::os::unix::fs::PermissionsExt;
    let env = Env::new();
    env.ok(&["demo", "--no-serve"]);
    let backup = env.dir.path().join("sicherung.db");
    env.ok(&[
        "--config",
        env.dir.path().join("demo/postkorb.toml").to_str().unwrap(),
        "backup",
        backup.to_str().unwrap(),
    ]);
    let mut checked = 0;
    let mut stack = vec![env.dir.path().join("demo"), env.dir.path().join("sicherung.db.blobs")];
    stack.push(backup.clone());
    while let Some(p) = stack.pop() {
        let Ok(meta) = std::fs::symlink_metadata(&p) else { continue };
        let mode = meta.permissions().mode() & 0o777;
        if meta.is_dir() {
            // The Maildir of the demo is a mail source the test made, not Postkorb's file.
            if !p.ends_with("maildir") {
                stack.extend(std::fs::read_dir(&p).unwrap().map(|e| e.unwrap().path()));
            }
            if p != env.dir.path().join("demo") {
                assert_eq!(mode & 0o077, 0, "{} is open to others: {mode:o}", p.display());
            }
        } else {
            assert_eq!(mode & 0o077, 0, "{} is open to others: {mode:o}", p.display());
        }
        checked += 1;
    }
    assert!(checked > 10, "the database, the key, blob files and the backup were looked at ({checked})");
}

#[test]
fn a_bulk_import_runs_the_same_steps_as_a_mailbox_cut_off_and_storm_limit_and_leaves_the_archive_as_it_is() {
    let env = Env::new();
    env.ok(&["employee", "add", "--name", "Anna", "--email", "anna@mustermail.de"]);
    env.ok(&["employee", "add", "--name", "Bernd", "--license", "L2"]);
    env.ok(&["route", "add", "--from", "Anna", "--to", "Bernd"]);
    let maildir = env.dir.path().join("archiv");
    std::fs::create_dir_all(maildir.join("new")).unwrap();
    std::fs::create_dir_all(maildir.join("cur")).unwrap();
    let mail = |i: usize, date: &str| {
        format!(
            "From: anna@mustermail.de\r\nSubject: Nummer {i}\r\nMessage-ID: <n{i}@x>\r\nDate: {date}\r\n\r\nText {i}\r\n"
        )
    };
    std::fs::write(maildir.join("cur/0001.old:2,S"), mail(0, "Mon, 03 Feb 2020 08:00:00 +0100")).unwrap();
    for i in 1..=5 {
        std::fs::write(maildir.join(format!("new/{i:04}.new")), mail(i, "Thu, 26 Nov 2026 08:00:00 +0100")).unwrap();
    }
    let dir = maildir.to_str().unwrap();
    let out = env.ok(&["import", "--maildir", dir, "--verify", "off", "--since", "2026-01-01", "--storm-max", "3"]);
    assert!(out.contains("1 messages are dated before the cut-off"), "{out}");
    assert!(out.contains("3 Vorgänge, 2 kept"), "the storm limit held the rest: {out}");
    let kept: serde_json::Value = serde_json::from_str(&env.ok(&["kept", "list", "--json"])).unwrap();
    assert!(kept.as_array().unwrap().iter().all(|k| k["reason_code"] == "storm"), "{kept}");
    // The archive is read, never changed.
    assert_eq!(std::fs::read_dir(maildir.join("new")).unwrap().count(), 5);
    assert_eq!(std::fs::read_dir(maildir.join("cur")).unwrap().count(), 1);
    let again = env.ok(&["import", "--maildir", dir, "--verify", "off", "--since", "2026-01-01"]);
    assert!(again.contains("0 Vorgänge, 0 kept"), "{again}");
}

#[test]
fn mailbox_set_stores_a_maildir_path_canonical_and_refuses_one_that_is_not_there() {
    let env = Env::new();
    std::fs::create_dir_all(env.path().join("box/new")).unwrap();
    let given = format!("{}/./box", env.path().display());
    env.ok(&["mailbox", "set", "--protocol", "maildir", "--path", &given, "--verify", "off"]);
    let real = std::fs::canonicalize(env.path().join("box")).unwrap();
    let show = env.ok(&["mailbox", "show"]);
    assert!(show.contains(&format!("maildir       {}\n", real.display())), "{show}");
    let err = env.fails(&["mailbox", "set", "--protocol", "maildir", "--path", "/no/such/maildir"]);
    assert!(err.contains("--path: no such directory"), "{err}");
}

#[test]
fn absences_are_entered_listed_and_ended_on_the_offices_clock_and_cases_say_for_whom() {
    let env = Env::new();
    env.office();
    env.ok(&["employee", "add", "--name", "Clara", "--username", "clara", "--license", "L3"]);
    // Refused with the rule broken: Anna has no licence, so she may not stand in.
    let err =
        env.fails(&["absence", "add", "--employee", "bernd", "--from", "2020-01-01 08:00", "--substitute", "Anna"]);
    assert!(err.contains("the substitute may not receive") && err.contains("Anna"), "{err}");
    let err = env.fails(&["absence", "add", "--employee", "bernd", "--from", "24.12.2026"]);
    assert!(err.contains("is not a time like \"2026-12-24 08:00\""), "{err}");
    // Open-ended since 2020, Clara standing in: 08:00 in Berlin in winter is 07:00 UTC.
    let out = env.ok(&["absence", "add", "--employee", "bernd", "--from", "2020-01-01 08:00", "--substitute", "clara"]);
    assert!(out.contains("added absence 1: Bernd from 2020-01-01 08:00 until open end, substitute Clara"), "{out}");
    let out = env.ok(&["absence", "add", "--employee", "Anna", "--from", "2099-07-01 09:30", "--until", "2099-07-02"]);
    assert!(out.contains("added absence 2: Anna from 2099-07-01 09:30 until 2099-07-02 00:00"), "{out}");
    let list = env.ok(&["absence", "list"]);
    assert!(list.contains("Bernd") && list.contains("open end") && list.contains("Clara"), "{list}");
    let json: serde_json::Value =
        serde_json::from_str(&env.ok(&["absence", "list", "--employee", "bernd", "--json"])).unwrap();
    assert_eq!(json.as_array().unwrap().len(), 1);
    assert_eq!(json[0]["from_ms"], 1_577_862_000_000i64, "2020-01-01 07:00 UTC");
    assert_eq!(json[0]["substitute_name"], "Clara");

    // Anna's mail for Bernd goes to Clara „in Vertretung für“ Bernd.
    let file = env.dir.path().join("post.mbox");
    std::fs::write(
        &file,
        "From anna@mustermail.de Mon Jan  1 00:00:00 2024\nFrom: anna@mustermail.de\nSubject: Urlaubspost\nMessage-ID: <u1@x>\n\nHallo\n",
    )
    .unwrap();
    env.ok(&["import", "--mbox", file.to_str().unwrap(), "--verify", "off"]);
    let cases: serde_json::Value = serde_json::from_str(&env.ok(&["cases", "list", "--json"])).unwrap();
    assert_eq!((&cases[0]["assignee_name"], &cases[0]["on_behalf_of_name"]), (&"Clara".into(), &"Bernd".into()));
    assert!(cases[0]["on_behalf_of"].is_i64(), "{cases}");
    assert!(env.ok(&["cases", "list"]).contains("Clara (for Bernd)"));

    assert!(env.ok(&["absence", "end", "1"]).contains("ended absence 1"));
    assert!(env.ok(&["absence", "end", "2"]).contains("cancelled absence 2 (it had not begun)"));
    let err = env.fails(&["absence", "end", "2"]);
    assert!(err.contains("there is no current or future absence 2"), "{err}");
    assert!(!env.ok(&["absence", "list"]).contains("Bernd"));
}

#[test]
fn a_vorgang_is_worked_from_the_terminal_note_wiedervorlage_handover_and_the_refusals_in_english() {
    let env = Env::new();
    env.office();
    env.ok(&["employee", "add", "--name", "Dora", "--username", "dora", "--license", "L4"]);
    let file = env.dir.path().join("post.mbox");
    std::fs::write(
        &file,
        "From anna@mustermail.de Mon Jan  1 00:00:00 2024\nFrom: anna@mustermail.de\nSubject: Kellerschaden\nMessage-ID: <w1@x>\n\nDas Wasser steht in der Gartenstraße.\n",
    )
    .unwrap();
    env.ok(&["import", "--mbox", file.to_str().unwrap(), "--verify", "off"]);
    let list: serde_json::Value = serde_json::from_str(&env.ok(&["cases", "list", "--json"])).unwrap();
    let id = list[0]["id"].as_i64().unwrap().to_string();
    assert_eq!(list[0]["assignee_name"], "Bernd");

    // A note by the Bearbeiter (the default actor); an empty one is refused.
    assert!(env.ok(&["cases", "note", &id, "Rückruf vereinbart"]).contains("note added"));
    let err = env.fails(&["cases", "note", &id, "   "]);
    assert!(err.contains("empty"), "{err}");
    // A Wiedervorlage: a date in the past is refused, a future one stored (08:00 on the office's clock).
    let err = env.fails(&["cases", "follow-up", &id, "--date", "2020-01-01"]);
    assert!(err.to_lowercase().contains("future"), "{err}");
    let out = env.ok(&["cases", "follow-up", &id, "--date", "2099-03-29", "--reason", "Gutachten"]);
    assert!(out.contains("2099-03-29 06:00 UTC"), "summer time in Berlin: 08:00 is 06:00 UTC: {out}");
    let list: serde_json::Value = serde_json::from_str(&env.ok(&["cases", "list", "--json"])).unwrap();
    assert_eq!(
        (&list[0]["follow_up_reason"], &list[0]["last_note"]),
        (&"Gutachten".into(), &"Rückruf vereinbart".into())
    );

    // Handed to Dora; Anna may not receive (no licence); a second hand-over from Bernd is refused.
    let err = env.fails(&["cases", "handover", &id, "--to", "Anna"]);
    assert!(err.contains("refused"), "{err}");
    assert!(env.ok(&["cases", "handover", &id, "--to", "dora", "--note", "Bitte übernehmen"]).contains("to Dora"));
    let list: serde_json::Value = serde_json::from_str(&env.ok(&["cases", "list", "--json"])).unwrap();
    assert_eq!(list[0]["assignee_name"], "Dora");
    let err = env.fails(&["cases", "handover", &id, "--to", "dora", "--by", "bernd"]);
    assert!(err.contains("refused"), "{err}");
    // Not from a pool: nothing to give back to.
    assert!(env.fails(&["cases", "giveback", &id]).contains("refused"));
    // Dora finds it by a word of its text, spelled with „ss“.
    let found = env.ok(&["cases", "search", "Gartenstrasse", "--as", "dora"]);
    assert!(found.contains("Kellerschaden"), "{found}");
    assert!(env.ok(&["cases", "search", "übernehmen", "--as", "dora"]).contains("Kellerschaden"), "the hand-over note");
}

#[test]
fn a_persons_data_is_exported_as_a_zip_and_erased_from_the_terminal_with_a_dry_run_first() {
    let env = Env::new();
    env.office();
    let file = env.dir.path().join("post.mbox");
    std::fs::write(
        &file,
        "From anna@mustermail.de Mon Jan  1 00:00:00 2024\nFrom: anna@mustermail.de\nCc: Karl Meier <karl.meier@example.org>\nSubject: Kellerschaden\nMessage-ID: <p1@x>\n\nBitte um Rueckruf.\n\n\
         From x@y Mon Jan  1 00:00:00 2024\nFrom: karl.meier@example.org\nSubject: Frage\nMessage-ID: <p2@x>\n\nHallo\n\n\
         From x@y Mon Jan  1 00:00:00 2024\nFrom: anna@mustermail.de\nSubject: Anderes\nMessage-ID: <p3@x>\n\nNichts\n",
    )
    .unwrap();
    env.ok(&["import", "--mbox", file.to_str().unwrap(), "--verify", "off"]);
    let zip = env.dir.path().join("auskunft.zip");
    let out = env.ok(&["privacy", "export", "karl.meier@example.org", "--out", zip.to_str().unwrap()]);
    assert!(out.contains("2 items written"), "{out}");
    assert!(out.contains("cc") && out.contains("sender"), "{out}");
    let bytes = std::fs::read(&zip).unwrap();
    assert_eq!(&bytes[..2], b"PK");
    if let Ok(list) = std::process::Command::new("unzip").arg("-Z1").arg(&zip).output() {
        let names = String::from_utf8_lossy(&list.stdout);
        assert!(names.contains("index.json") && names.matches("email.eml").count() == 2, "{names}");
    }
    let dry = env.ok(&["privacy", "erase", "karl.meier@example.org", "--dry-run"]);
    assert_eq!(dry.matches("would delete").count(), 2, "{dry}");
    let cases: serde_json::Value = serde_json::from_str(&env.ok(&["cases", "list", "--json"])).unwrap();
    assert_eq!(cases.as_array().unwrap().len(), 2, "a dry run deletes nothing");
    let done = env.ok(&["privacy", "erase", "karl.meier@example.org", "--reason", "Antrag vom 01.03.2026"]);
    assert_eq!(done.matches("  delete").count(), 2, "{done}");
    let cases: serde_json::Value = serde_json::from_str(&env.ok(&["cases", "list", "--json"])).unwrap();
    assert_eq!(cases.as_array().unwrap().len(), 1);
    assert_eq!(cases[0]["subject"], "Anderes");
    let kept: serde_json::Value = serde_json::from_str(&env.ok(&["kept", "list", "--json"])).unwrap();
    assert!(kept.as_array().unwrap().is_empty(), "{kept}");
    let log = env.ok(&["retention", "log"]);
    assert_eq!(log.matches("request").count(), 2, "{log}");
    assert!(env.fails(&["privacy", "erase", "ab"]).contains("at least 3"));
}
