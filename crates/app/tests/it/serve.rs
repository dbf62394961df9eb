//! `postkorb serve`: as a process it imports on its own and reports health over HTTP; in process,
//! `serve::run` serves on the listener it is given and stops when its shutdown future completes.

use std::time::{Duration, Instant};

use crate::common::{Env, HANG_GUARD, http};
use crate::office::Office;

/// A Maildir with its three folders below `dir`.
fn maildir(dir: &std::path::Path) -> std::path::PathBuf {
    let maildir = dir.join("mb");
    for sub in ["new", "cur", "tmp"] {
        std::fs::create_dir_all(maildir.join(sub)).unwrap();
    }
    maildir
}

/// Delivers a mail from Anna the way a delivery agent does (tmp/, then rename into new/).
fn drop_mail(maildir: &std::path::Path, subject: &str) {
    std::fs::write(maildir.join("tmp/1.x"), format!("From: anna@mustermail.de\r\nSubject: {subject}\r\n\r\nHallo\r\n"))
        .unwrap();
    std::fs::rename(maildir.join("tmp/1.x"), maildir.join("new/1.x")).unwrap();
}

const ONE_CASE: &str = "postkorb_imported_total{mailbox=\"default\",outcome=\"case\"} 1";

#[test]
fn serve_imports_a_mail_dropped_into_the_maildir_and_reports_health() {
    let env = Env::new();
    let maildir = maildir(env.path());
    env.office();
    let set = ["mailbox", "set", "--protocol", "maildir", "--path", maildir.to_str().unwrap()];
    env.ok(&[&set[..], &["--poll-secs", "1", "--verify", "off"]].concat());

    let served = env.serve("serve");
    drop_mail(&maildir, "Rückruf bitte");

    let started = Instant::now();
    let mut last = String::new();
    while started.elapsed() < HANG_GUARD {
        if let Some(body) = served.get("/metrics") {
            last = body;
            if last.contains(ONE_CASE) {
                break;
            }
        }
        std::thread::sleep(Duration::from_millis(200));
    }
    assert!(last.starts_with("HTTP/1.1 200"), "{last}");
    let health = served.get("/health").unwrap();
    assert!(health.starts_with("HTTP/1.1 200") && health.ends_with(r#"{"status":"ok"}"#), "{health}");
    let metrics = served.get("/metrics").unwrap();
    assert!(metrics.contains(ONE_CASE), "{metrics}");
    assert!(metrics.contains("postkorb_mailbox_error{mailbox=\"default\"} 0"), "{metrics}");
    let cases = env.run(&["cases", "list", "--json", "--user", "Bernd"], None);
    let json: serde_json::Value = serde_json::from_slice(&cases.stdout).unwrap();
    assert_eq!(json[0]["subject"], "Rückruf bitte");
    assert_eq!(std::fs::read_dir(maildir.join("new")).unwrap().count(), 0, "moved out of new/");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn serve_run_serves_on_the_listener_it_is_given_and_stops_when_the_shutdown_future_completes() {
    let o = Office::start().await;
    let maildir = maildir(o.data_dir());
    let set = ["mailbox", "set", "--protocol", "maildir", "--path", maildir.to_str().unwrap()];
    Env::in_dir(o.data_dir()).ok(&[&set[..], &["--poll-secs", "1", "--verify", "off"]].concat());
    let id = o.store.mailbox("default").await.unwrap().id;
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let port = listener.local_addr().unwrap().port();
    let (stop, stopped) = tokio::sync::oneshot::channel::<()>();
    let shutdown = async move {
        let _ = stopped.await;
    };

    let test = async {
        drop_mail(&maildir, "Über den Listener");
        let get = |path: &'static str| {
            tokio::task::spawn_blocking(move || {
                http(port, &format!("GET {path} HTTP/1.1\r\nHost: 127.0.0.1\r\nConnection: close\r\n\r\n"))
            })
        };
        let started = Instant::now();
        loop {
            if get("/metrics").await.unwrap().is_some_and(|m| m.contains(ONE_CASE)) {
                break;
            }
            assert!(started.elapsed() < HANG_GUARD, "the mail was not imported");
            tokio::time::sleep(Duration::from_millis(100)).await;
        }
        stop.send(()).unwrap();
    };
    let (served, ()) = tokio::join!(postkorb_app::serve::run(&o, listener, shutdown), test);
    served.unwrap();
    assert_eq!(o.store.lease(id).await.unwrap(), None, "a clean stop gives the fetch lease back");
    assert_eq!(o.store.cases(None, 10, 0).await.unwrap()[0].subject, "Über den Listener");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn health_names_a_failing_enabled_mailbox_never_its_error_and_a_disabled_one_is_not_failing() {
    let o = Office::start().await;
    let maildir = maildir(o.data_dir());
    let set = ["mailbox", "set", "--protocol", "maildir", "--path", maildir.to_str().unwrap()];
    Env::in_dir(o.data_dir()).ok(&[&set[..], &["--poll-secs", "1", "--verify", "off"]].concat());
    std::fs::remove_dir_all(&maildir).unwrap();
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let port = listener.local_addr().unwrap().port();
    let (stop, stopped) = tokio::sync::oneshot::channel::<()>();
    let shutdown = async move {
        let _ = stopped.await;
    };
    let health = move || {
        tokio::task::spawn_blocking(move || {
            http(port, "GET /health HTTP/1.1\r\nHost: 127.0.0.1\r\nConnection: close\r\n\r\n").unwrap_or_default()
        })
    };

    let test = async {
        let started = Instant::now();
        let degraded = loop {
            let h = health().await.unwrap();
            if h.contains("degraded") {
                break h;
            }
            assert!(started.elapsed() < HANG_GUARD, "the failing mailbox is not reported: {h}");
            tokio::time::sleep(Duration::from_millis(100)).await;
        };
        assert!(degraded.starts_with("HTTP/1.1 200"), "the instance still serves: {degraded}");
        let json: serde_json::Value = serde_json::from_str(degraded.split("\r\n\r\n").nth(1).unwrap()).unwrap();
        assert_eq!(json, serde_json::json!({"status": "degraded", "mailboxes": [{"name": "default", "ok": false}]}));
        assert!(o.store.mailbox("default").await.unwrap().last_error.is_some());

        o.store.set_mailbox_enabled("default", false).await.unwrap();
        let ok = health().await.unwrap();
        assert!(ok.starts_with("HTTP/1.1 200") && ok.ends_with(r#"{"status":"ok"}"#), "{ok}");
        stop.send(()).unwrap();
    };
    let (served, ()) = tokio::join!(postkorb_app::serve::run(&o, listener, shutdown), test);
    served.unwrap();
}
