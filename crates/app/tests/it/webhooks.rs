//! Issue 17, the outbox and webhooks with real parts: a real office (Dovecot, importer, SQLite),
//! the dispatcher with the clock as an argument, `postkorb serve` killed with SIGKILL, and a
//! receiver in Python (`webhook/receiver.py`, standard library only) that verifies the Standard
//! Webhooks signature independently of our signing code and logs every request, so duplicates
//! and order are counted from what arrived.

use std::io::BufRead;
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

use postkorb_app::service::dispatch::{Backoff, Deps, Dispatcher, webhook};
use postkorb_store::MailboxRecord;
use serde_json::Value;

use crate::common::{Env, HANG_GUARD};
use crate::office::{NOW, Office, PASSWORD, USER};

/// The Python receiver: verifies signatures with `secret`, answers 503 while "down".
pub(crate) struct Receiver {
    child: Child,
    port: u16,
    dir: tempfile::TempDir,
}

impl Receiver {
    pub(crate) fn start(secret: &str) -> Receiver {
        let dir = tempfile::tempdir().unwrap();
        let script = concat!(env!("CARGO_MANIFEST_DIR"), "/tests/it/webhook/receiver.py");
        let mut child = Command::new("python3")
            .args([script, secret, dir.path().to_str().unwrap()])
            .stdout(Stdio::piped())
            .spawn()
            .expect("python3 runs the receiver");
        let mut line = String::new();
        std::io::BufReader::new(child.stdout.take().unwrap()).read_line(&mut line).unwrap();
        Receiver { child, port: line.trim().parse().expect("the receiver prints its port"), dir }
    }

    pub(crate) fn url(&self, path: &str) -> String {
        format!("http://127.0.0.1:{}{path}", self.port)
    }

    fn down(&self, down: bool) {
        let flag = self.dir.path().join("down");
        if down { std::fs::write(flag, "").unwrap() } else { std::fs::remove_file(flag).unwrap() }
    }

    /// Every request so far, in order of arrival.
    pub(crate) fn log(&self) -> Vec<Value> {
        let text = std::fs::read_to_string(self.dir.path().join("log.jsonl")).unwrap_or_default();
        text.lines().map(|l| serde_json::from_str(l).unwrap()).collect()
    }

    /// The accepted (200) requests: (webhook-id, type), each checked for a valid signature.
    pub(crate) fn accepted(&self) -> Vec<(String, String)> {
        self.log()
            .iter()
            .filter(|r| r["status"] == 200)
            .map(|r| {
                assert_eq!(r["valid"], true, "signature verified by the receiver: {r}");
                let body: Value = serde_json::from_str(r["body"].as_str().unwrap()).unwrap();
                (r["id"].as_str().unwrap().to_string(), body["type"].as_str().unwrap().to_string())
            })
            .collect()
    }
}

impl Drop for Receiver {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

fn mail(from: &str, subject: &str) -> Vec<u8> {
    format!(
        "From: {from}\r\nTo: {USER}\r\nSubject: {subject}\r\nMessage-ID: <{subject}@test>\r\n\
         Date: Thu, 26 Nov 2026 08:00:00 +0100\r\n\r\nGeheimer Text der E-Mail\r\n"
    )
    .into_bytes()
}

/// The office's dispatcher: fast back-off (1 s doubling), links to `https://postkorb.example`.
fn dispatcher(o: &Office, allow_private_hosts: bool) -> Dispatcher {
    let mut deps = Deps::of(o).unwrap();
    deps.backoff = Backoff { base_ms: 1_000, cap_ms: 8_000 };
    deps.public_url = "https://postkorb.example".into();
    deps.net = postkorb_source::NetPolicy { allow_private_hosts };
    // Only the webhook channel: the rounds' counts below are its own.
    let mut d = Dispatcher::new(deps);
    d.channels.retain(|c| c.name() == webhook::CHANNEL);
    d
}

/// A webhook for `events` at `url`; returns its id and secret.
async fn add_hook(o: &Office, name: &str, url: &str, events: &[&str]) -> (i64, String) {
    let secret = webhook::new_secret().unwrap();
    let events: Vec<String> = events.iter().map(|e| e.to_string()).collect();
    let sealed = webhook::seal_secret(&o.key, &secret).unwrap();
    (o.store.add_webhook(name, url, &events, &sealed, NOW).await.unwrap(), secret)
}

const ALL: [&str; 8] = [
    "case.created",
    "case.assigned",
    "case.claimed",
    "case.handed_over",
    "case.follow_up_due",
    "case.closed",
    "case.reopened",
    "mail.kept",
];

#[tokio::test]
async fn a_webhook_waits_for_its_receiver_in_order_and_arrives_once_signed() {
    let o = Office::start().await;
    let m = o.mailbox("imap", o.dovecot.imap_port(), PASSWORD).await;
    let d = dispatcher(&o, true);
    d.once(NOW).await.unwrap(); // the channel starts here
    let secret = webhook::new_secret().unwrap();
    let receiver = Receiver::start(&secret);
    let sealed = webhook::seal_secret(&o.key, &secret).unwrap();
    let events: Vec<String> = ALL.iter().map(|e| e.to_string()).collect();
    o.store.add_webhook("CRM", &receiver.url("/hook"), &events, &sealed, NOW).await.unwrap();

    // A Vorgang for Bernd (created, assigned), then „Erledigt“; and a mail nobody gets (kept).
    o.dovecot.deliver(USER, &mail("anna@mustermail.de", "Schaden-4711"));
    o.dovecot.deliver(USER, &mail("fremd@example.org", "Werbung"));
    o.pass(&m).await.unwrap();
    let case = o.store.cases(None, 10, 0).await.unwrap()[0].id;
    o.store.set_case_done(case, true, o.bernd, NOW + 1).await.unwrap();

    // The receiver is down: the first of the Vorgang and the kept mail are tried, nothing later
    // of the Vorgang goes before its first; they are tried again after the back-off.
    receiver.down(true);
    let round = d.once(NOW + 1_000).await.unwrap();
    assert_eq!((round.fanned_out, round.delivered, round.retried), (4, 0, 2), "{round:?}");
    assert_eq!(d.once(NOW + 1_100).await.unwrap().retried, 0, "not due yet");
    assert_eq!(d.once(NOW + 3_000).await.unwrap().retried, 2);
    assert_eq!(receiver.log().len(), 4);
    assert!(receiver.accepted().is_empty());

    // Up again: everything arrives, once, the Vorgang's events in their order.
    receiver.down(false);
    let round = d.once(NOW + 60_000).await.unwrap();
    assert_eq!((round.delivered, round.retried), (4, 0), "{round:?}");
    assert_eq!(d.once(NOW + 120_000).await.unwrap(), Default::default(), "nothing twice");
    let accepted = receiver.accepted();
    let types: Vec<&str> = accepted.iter().map(|(_, t)| t.as_str()).collect();
    let of_case: Vec<&str> = types.iter().copied().filter(|t| t.starts_with("case.")).collect();
    assert_eq!(of_case, ["case.created", "case.assigned", "case.closed"]);
    assert!(types.contains(&"mail.kept"));
    let mut ids: Vec<&str> = accepted.iter().map(|(id, _)| id.as_str()).collect();
    ids.sort();
    ids.dedup();
    assert_eq!(ids.len(), 4, "no duplicates: {accepted:?}");

    // The payload: versioned, with Betreff, Absender, Bearbeiter and link, never the mail text.
    let log = receiver.log();
    let created = log.iter().find(|r| r["status"] == 200 && r["body"].as_str().unwrap().contains("case.created"));
    let body: Value = serde_json::from_str(created.unwrap()["body"].as_str().unwrap()).unwrap();
    assert_eq!(body["schema_version"], 1);
    assert_eq!(body["data"]["subject"], "Schaden-4711");
    assert_eq!(body["data"]["from"], "anna@mustermail.de");
    assert_eq!(body["data"]["assignee"]["name"], "Bernd");
    assert_eq!(body["data"]["link"]["url"], format!("https://postkorb.example/vorgang/{case}"));
    assert!(body["timestamp"].as_str().unwrap().ends_with('Z'));
    assert!(log.iter().all(|r| !r["body"].as_str().unwrap().contains("Geheimer Text")));

    // The delivery log says what happened; the secret is in no list.
    let (deliveries, total) = o.store.deliveries(None, 100, 0).await.unwrap();
    assert_eq!(total, 4);
    assert!(deliveries.iter().all(|d| d.status == "delivered" && d.last_status == "HTTP 200"));
    assert_eq!(deliveries.iter().map(|d| d.attempts).max(), Some(3));
    let listed = serde_json::to_string(&o.store.webhooks().await.unwrap()).unwrap();
    assert!(!listed.contains(&secret) && !listed.contains(&secret["whsec_".len()..]), "{listed}");
}

#[tokio::test]
async fn no_redirect_is_followed_and_no_private_address_reached_unless_allowed() {
    let o = Office::start().await;
    let m = o.mailbox("imap", o.dovecot.imap_port(), PASSWORD).await;
    let strict = dispatcher(&o, false);
    strict.once(NOW).await.unwrap();
    let (id, secret) = add_hook(&o, "Weiter", "http://127.0.0.1:9/unused", &["mail.kept"]).await;
    let receiver = Receiver::start(&secret);
    o.store.update_webhook(id, "Weiter", &receiver.url("/redirect"), &["mail.kept".to_string()]).await.unwrap();
    let (_, other) = add_hook(&o, "Privat", &receiver.url("/hook"), &["mail.kept"]).await;
    assert_ne!(other, secret);
    o.dovecot.deliver(USER, &mail("fremd@example.org", "Werbung"));
    o.pass(&m).await.unwrap();

    // allow_private_hosts off: neither endpoint (both on 127.0.0.1) is contacted; given up.
    let round = strict.once(NOW + 1_000).await.unwrap();
    assert_eq!((round.failed, round.delivered), (2, 0), "{round:?}");
    assert!(receiver.log().is_empty(), "{:?}", receiver.log());
    let (failed, _) = o.store.deliveries(Some("failed"), 10, 0).await.unwrap();
    assert!(failed.iter().all(|d| d.last_status.contains("allow_private_hosts")), "{failed:?}");

    // Allowed: the redirect is answered but not followed (a failure, retried); the other arrives.
    for d in &failed {
        o.store.outbox_retry(d.id, NOW + 2_000).await.unwrap();
    }
    let round = dispatcher(&o, true).once(NOW + 2_000).await.unwrap();
    assert_eq!((round.delivered, round.retried), (1, 1), "{round:?}");
    let paths: Vec<String> = receiver.log().iter().map(|r| r["path"].as_str().unwrap().to_string()).collect();
    let mut sorted = paths.clone();
    sorted.sort();
    assert_eq!(sorted, ["/hook", "/redirect"], "the redirect's target /hook was reached only by its own hook");
    let (pending, _) = o.store.deliveries(Some("pending"), 10, 0).await.unwrap();
    assert!(pending[0].last_status.contains("Weiterleitung nicht gefolgt"), "{pending:?}");
}

#[tokio::test]
async fn an_endpoint_failing_for_days_is_paused_and_resumed_without_losing_a_delivery() {
    let o = Office::start().await;
    let m = o.mailbox("imap", o.dovecot.imap_port(), PASSWORD).await;
    let d = dispatcher(&o, true);
    d.once(NOW).await.unwrap();
    let (id, secret) = add_hook(&o, "CRM", "http://127.0.0.1:9/", &["mail.kept"]).await;
    let receiver = Receiver::start(&secret);
    o.store.update_webhook(id, "CRM", &receiver.url("/hook"), &["mail.kept".to_string()]).await.unwrap();
    receiver.down(true);
    o.dovecot.deliver(USER, &mail("fremd@example.org", "Werbung"));
    o.pass(&m).await.unwrap();
    const DAY: i64 = 24 * 3600 * 1000;
    for day in 0..3 {
        assert_eq!(d.once(NOW + 1_000 + day * DAY).await.unwrap().retried, 1, "day {day}");
    }
    let round = d.once(NOW + 1_000 + 3 * DAY).await.unwrap();
    assert_eq!(round.paused, 1, "{round:?}");
    let hook = o.store.webhook(id).await.unwrap().unwrap();
    assert_eq!((hook.active, hook.paused_reason.as_deref()), (false, Some("failing")));
    let audit = o.store.audit_log(5).await.unwrap();
    assert!(audit.iter().any(|(_, actor, action, _)| actor == "postkorb" && action == "webhook_paused"), "{audit:?}");
    assert_eq!(d.once(NOW + 4 * DAY).await.unwrap(), Default::default(), "paused: not tried");

    // „Fortsetzen“: the kept delivery goes out.
    receiver.down(false);
    o.store.set_webhook_active(id, true, "", NOW + 5 * DAY).await.unwrap();
    assert_eq!(d.once(NOW + 5 * DAY).await.unwrap().delivered, 1);
    assert_eq!(receiver.accepted().len(), 1);
}

#[tokio::test]
async fn two_dispatchers_deliver_each_event_once() {
    let o = Office::start().await;
    let m = o.mailbox("imap", o.dovecot.imap_port(), PASSWORD).await;
    let mut a = dispatcher(&o, true);
    let mut b = dispatcher(&o, true);
    (a.holder, b.holder) = ("instance-a".into(), "instance-b".into());
    a.once(NOW).await.unwrap();
    let (id, secret) = add_hook(&o, "CRM", "http://127.0.0.1:9/", &ALL).await;
    let receiver = Receiver::start(&secret);
    o.store.update_webhook(id, "CRM", &receiver.url("/hook"), &ALL.map(String::from)).await.unwrap();
    for n in 0..6 {
        o.dovecot.deliver(USER, &mail("anna@mustermail.de", &format!("Vorgang-{n}")));
    }
    o.pass(&m).await.unwrap();
    let (ra, rb) = tokio::join!(a.once(NOW + 1_000), b.once(NOW + 1_000));
    let delivered = ra.unwrap().delivered + rb.unwrap().delivered;
    assert_eq!(delivered, 12, "created + assigned of six Vorgänge");
    let accepted = receiver.accepted();
    let mut ids: Vec<&String> = accepted.iter().map(|(id, _)| id).collect();
    ids.sort();
    ids.dedup();
    assert_eq!((accepted.len(), ids.len()), (12, 12), "no event twice");
}

#[tokio::test]
async fn a_delivery_pending_when_serve_is_killed_arrives_after_the_restart() {
    let o = Office::start().await;
    let m = o.mailbox_record("imap", o.dovecot.imap_port());
    o.save(MailboxRecord { name: "default".into(), ..m }, PASSWORD).await;
    let env = Env::in_dir(o.data_dir()).with("POSTKORB_DISPATCH_RETRY_MS", "200");
    env.ok(&["dispatch", "--once"]);
    let added = env.ok(&["webhook", "add", "CRM", "http://127.0.0.1:9/hook", "--events", "case.created,case.assigned"]);
    let secret =
        added.split_whitespace().find(|w| w.starts_with("whsec_")).expect("the secret is shown once").to_string();
    assert!(!env.ok(&["webhook", "list"]).contains(&secret));
    let receiver = Receiver::start(&secret);
    receiver.down(true);
    let hook = o.store.webhooks().await.unwrap()[0].clone();
    o.store.update_webhook(hook.id, &hook.name, &receiver.url("/hook"), &hook.events).await.unwrap();

    // serve imports the mail and tries to deliver; it is killed while the receiver is down.
    let mut serve = env.serve("serve");
    o.dovecot.deliver(USER, &mail("anna@mustermail.de", "Vor-dem-Absturz"));
    let started = Instant::now();
    while receiver.log().is_empty() {
        assert!(started.elapsed() < HANG_GUARD, "serve never tried the webhook:\n{}", serve.log());
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
    serve.kill(); // SIGKILL
    assert!(receiver.accepted().is_empty());

    receiver.down(false);
    let serve = env.serve("serve-again");
    let started = Instant::now();
    while receiver.accepted().len() < 2 {
        assert!(started.elapsed() < HANG_GUARD, "not delivered after the restart:\n{}", serve.log());
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
    tokio::time::sleep(Duration::from_millis(1_500)).await;
    let types: Vec<String> = receiver.accepted().into_iter().map(|(_, t)| t).collect();
    assert_eq!(types, ["case.created", "case.assigned"], "each once, in order");
    assert!(!serve.log().contains(&secret) && !std::fs::read_to_string(serve.log_file()).unwrap().contains(&secret));
}
