//! `postkorb serve` as a process: it imports on its own and reports health over HTTP.

use crate::common;
use common::Env;
use std::io::{Read, Write};
use std::process::{Command, Stdio};
use std::time::{Duration, Instant};

fn http_get(port: u16, path: &str) -> Option<String> {
    let mut s = std::net::TcpStream::connect(("127.0.0.1", port)).ok()?;
    s.set_read_timeout(Some(Duration::from_secs(5))).ok()?;
    write!(s, "GET {path} HTTP/1.1\r\nHost: localhost\r\nConnection: close\r\n\r\n").ok()?;
    let mut out = String::new();
    s.read_to_string(&mut out).ok()?;
    Some(out)
}

struct Kill(std::process::Child);
impl Drop for Kill {
    fn drop(&mut self) {
        let _ = self.0.kill();
        let _ = self.0.wait();
    }
}

#[test]
fn serve_imports_a_mail_dropped_into_the_maildir_and_reports_health() {
    let env = Env::new();
    let maildir = env.path().join("mb");
    for sub in ["new", "cur", "tmp"] {
        std::fs::create_dir_all(maildir.join(sub)).unwrap();
    }
    let p = env.path();
    assert!(env.run(&["employee", "add", "--name", "Anna", "--email", "anna@mustermail.de"], None).status.success());
    assert!(env.run(&["employee", "add", "--name", "Bernd", "--license", "L"], None).status.success());
    assert!(env.run(&["route", "add", "--from", "Anna", "--to", "Bernd"], None).status.success());
    let set = env.run(
        &[
            "mailbox",
            "set",
            "--protocol",
            "maildir",
            "--path",
            maildir.to_str().unwrap(),
            "--poll-secs",
            "1",
            "--verify",
            "off",
        ],
        None,
    );
    assert!(set.status.success(), "{}", String::from_utf8_lossy(&set.stderr));

    let port = postkorb_testkit::free_port();
    let child = Command::new(env!("CARGO_BIN_EXE_postkorb"))
        .arg("serve")
        .env("POSTKORB_DATA_DIR", p)
        .env("POSTKORB_LISTEN", format!("127.0.0.1:{port}"))
        .stdout(Stdio::null())
        .stderr(Stdio::null())
        .spawn()
        .unwrap();
    let _guard = Kill(child);

    std::fs::write(maildir.join("tmp/1.x"), "From: anna@mustermail.de\r\nSubject: Rückruf bitte\r\n\r\nHallo\r\n")
        .unwrap();
    std::fs::rename(maildir.join("tmp/1.x"), maildir.join("new/1.x")).unwrap();

    let deadline = Instant::now() + Duration::from_secs(30);
    let mut last = String::new();
    while Instant::now() < deadline {
        if let Some(body) = http_get(port, "/metrics") {
            last = body;
            if last.contains("postkorb_imported_total{mailbox=\"default\",outcome=\"case\"} 1") {
                break;
            }
        }
        std::thread::sleep(Duration::from_millis(200));
    }
    assert!(last.starts_with("HTTP/1.1 200"), "{last}");
    let health = http_get(port, "/health").unwrap();
    assert!(health.starts_with("HTTP/1.1 200") && health.ends_with(r#"{"status":"ok"}"#), "{health}");
    let metrics = http_get(port, "/metrics").unwrap();
    assert!(metrics.contains("postkorb_imported_total{mailbox=\"default\",outcome=\"case\"} 1"), "{metrics}");
    assert!(metrics.contains("postkorb_mailbox_error{mailbox=\"default\"} 0"), "{metrics}");
    let cases = env.run(&["cases", "list", "--json", "--user", "Bernd"], None);
    let json: serde_json::Value = serde_json::from_slice(&cases.stdout).unwrap();
    assert_eq!(json[0]["subject"], "Rückruf bitte");
    assert_eq!(std::fs::read_dir(maildir.join("new")).unwrap().count(), 0, "moved out of new/");
}
