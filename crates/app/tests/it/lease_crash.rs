//! Issue 13 item 15: after a crash the fetch lease must not block importing until it expires, and
//! `fetch --once` must never report a mailbox it did not fetch as done. Real `postkorb` processes
//! (one killed with SIGKILL while holding the lease), a real Dovecot and the real SQLite file.

use std::process::{Child, Command, Output, Stdio};
use std::time::{Duration, Instant};

use postkorb_store::Store;
use postkorb_testkit::Dovecot;

const USER: &str = "vorgaenge@office.test";
const PASSWORD: &str = "geheim";
/// Only a guard against a hang; nothing here asserts how long anything took.
const HANG_GUARD: Duration = Duration::from_secs(120);

fn postkorb(dir: &std::path::Path, args: &[&str], lease_secs: u64) -> Command {
    let mut cmd = Command::new(env!("CARGO_BIN_EXE_postkorb"));
    cmd.args(args)
        .env("POSTKORB_DATA_DIR", dir)
        .env("POSTKORB_LEASE_SECS", lease_secs.to_string())
        .env("POSTKORB_LISTEN", "127.0.0.1:0")
        .env_remove("POSTKORB_CONFIG")
        .env_remove("POSTKORB_DATABASE_URL")
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped());
    cmd
}

/// Runs to the end (or panics after the hang guard, killing the process).
fn finish(mut child: Child) -> Output {
    let started = Instant::now();
    while child.try_wait().unwrap().is_none() {
        if started.elapsed() > HANG_GUARD {
            child.kill().unwrap();
            panic!("postkorb hangs: {:?}", child.wait_with_output().unwrap());
        }
        std::thread::sleep(Duration::from_millis(50));
    }
    child.wait_with_output().unwrap()
}

fn ok(dir: &std::path::Path, args: &[&str], stdin: &str) -> String {
    use std::io::Write;
    let mut child = postkorb(dir, args, 60).spawn().unwrap();
    child.stdin.take().unwrap().write_all(stdin.as_bytes()).unwrap();
    let out = finish(child);
    assert!(out.status.success(), "{args:?}: {}", String::from_utf8_lossy(&out.stderr));
    String::from_utf8(out.stdout).unwrap()
}

/// An office with Anna → Bernd and the Dovecot mailbox "default"; returns the mailbox id.
async fn office(dir: &std::path::Path, dovecot: &Dovecot) -> (Store, i64) {
    ok(dir, &["employee", "add", "--name", "Anna", "--email", "anna@mustermail.de"], "");
    ok(dir, &["employee", "add", "--name", "Bernd", "--license", "L2"], "");
    ok(dir, &["route", "add", "--from", "Anna", "--to", "Bernd"], "");
    let port = dovecot.imap_port().to_string();
    let set = [
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
    ];
    ok(dir, &set, &format!("{PASSWORD}\n"));
    let store = Store::open(&format!("sqlite:{}", dir.join("postkorb.db").display())).await.unwrap();
    let id = store.mailbox("default").await.unwrap().id;
    (store, id)
}

fn mail(subject: &str) -> Vec<u8> {
    format!(
        "From: anna@mustermail.de\r\nTo: {USER}\r\nSubject: {subject}\r\nMessage-ID: <{subject}@test>\r\n\
         Date: Thu, 26 Nov 2026 08:00:00 +0100\r\n\r\nText\r\n"
    )
    .into_bytes()
}

#[tokio::test]
async fn after_a_crash_fetch_takes_the_dead_processs_lease_at_once_and_imports() {
    let dovecot = Dovecot::start();
    dovecot.add_user(USER, PASSWORD);
    let dir = tempfile::tempdir().unwrap();
    let (store, mailbox) = office(dir.path(), &dovecot).await;

    // `serve` takes the mailbox's lease (for an hour) and is killed without any clean-up.
    let mut serve = postkorb(dir.path(), &["serve"], 3600).stdout(Stdio::null()).stderr(Stdio::null()).spawn().unwrap();
    let pid = format!("-{}-", serve.id());
    let started = Instant::now();
    let held = loop {
        if let Some(lease) = store.lease(mailbox).await.unwrap()
            && lease.holder.contains(&pid)
        {
            break lease;
        }
        assert!(started.elapsed() < HANG_GUARD, "serve never took the lease");
        tokio::time::sleep(Duration::from_millis(50)).await;
    };
    serve.kill().unwrap(); // SIGKILL
    serve.wait().unwrap();
    assert_eq!(store.lease(mailbox).await.unwrap(), Some(held.clone()), "the dead process still holds the lease");

    // A mail arrives after the crash; `fetch --once` imports it now, not in an hour.
    dovecot.deliver(USER, &mail("Nach-dem-Absturz"));
    let out = finish(postkorb(dir.path(), &["fetch", "--once"], 3600).spawn().unwrap());
    let stdout = String::from_utf8_lossy(&out.stdout);
    assert!(out.status.success(), "{stdout}\n{}", String::from_utf8_lossy(&out.stderr));
    assert!(stdout.contains("for Bernd"), "{stdout}");
    assert_eq!(dovecot.count(USER, "INBOX"), 0);
    assert_eq!(store.cases(None, 10, 0).await.unwrap().len(), 1);
    assert_eq!(store.lease(mailbox).await.unwrap(), None, "fetch gave the lease back");
}

#[tokio::test]
async fn fetch_waits_for_a_live_instances_lease_then_fails_with_a_clear_message_instead_of_skipping() {
    let dovecot = Dovecot::start();
    dovecot.add_user(USER, PASSWORD);
    let dir = tempfile::tempdir().unwrap();
    let (store, mailbox) = office(dir.path(), &dovecot).await;
    // Another instance, on another host, holds the lease (and may well be alive).
    let other = "andererhost-4711-42-0011223344556677";
    let now = std::time::SystemTime::now().duration_since(std::time::UNIX_EPOCH).unwrap().as_millis() as i64;
    assert!(store.take_lease(mailbox, other, now, 3_600_000).await.unwrap().is_taken());
    dovecot.deliver(USER, &mail("Wartet"));

    let out = finish(postkorb(dir.path(), &["fetch", "--once"], 1).spawn().unwrap());
    let stderr = String::from_utf8_lossy(&out.stderr);
    let stdout = String::from_utf8_lossy(&out.stdout);
    assert!(!out.status.success(), "a mailbox not fetched is a failure: {stdout}");
    assert!(!stdout.contains("skipped"), "{stdout}");
    assert!(stderr.contains(&format!("another running instance ({other}) holds its fetch lease")), "{stderr}");
    assert!(stderr.contains("waited 1 s"), "{stderr}");
    assert_eq!(dovecot.count(USER, "INBOX"), 1, "nothing was fetched");
    assert_eq!(store.lease(mailbox).await.unwrap().unwrap().holder, other);
}
