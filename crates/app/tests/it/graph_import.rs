//! Microsoft Graph mailboxes end to end (issue 20), against the local Graph double and the local
//! OAuth server: the importer over delta pages, the sync state from clean pass to clean pass, a crash
//! between commit and move and a lost delta link (nothing lost, nothing twice), a refused token in
//! the Protokoll while the other mailbox goes on, the refresh before a pass, the dry run, and
//! connecting delegated (device code, a shared mailbox) and application access (client credentials
//! with a secret or a certificate), and the same through the CLI (`mailbox set`, `mailbox oauth
//! --flow app`, `fetch`, `mailbox status`).

use postkorb_app::clock::Clock;
use postkorb_app::service::importer;
use postkorb_app::service::mailbox::seal_secret;
use postkorb_app::service::oauth::{self, Connect};
use postkorb_store::{MailboxRecord, OAuthFields, SecretColumn};
use postkorb_testkit::{GraphServer, OAuthServer};
use postkorb_web::MailboxProblem;

use crate::office::{NOW, Office};

/// The shared mailbox „vorgaenge“ and the clerk whose delegated token may open it.
const MAILBOX: &str = "vorgaenge@buero.test";
const CLERK: &str = "clara@buero.test";
const IMPORTED: &str = "Postkorb/Importiert";

struct World {
    office: Office,
    oauth: OAuthServer,
    graph: GraphServer,
}

impl std::ops::Deref for World {
    type Target = Office;
    fn deref(&self) -> &Office {
        &self.office
    }
}

async fn world() -> World {
    let office = Office::start().await;
    let oauth = OAuthServer::start();
    let graph = GraphServer::start(&oauth);
    graph.add_mailbox(MAILBOX);
    World { office, oauth, graph }
}

/// A Graph mailbox record for `address` on the double, saved, not connected yet.
async fn graph_record(w: &World, name: &str, address: &str) -> MailboxRecord {
    let m = MailboxRecord { name: name.into(), username: address.into(), ..w.mailbox_record("graph", w.graph.port()) };
    w.store.save_mailbox(&m, 1).await.unwrap()
}

/// `m` connected with a delegated token of `user` that runs out at `expires_ms`.
async fn delegated(w: &World, mut m: MailboxRecord, user: &str, expires_ms: i64) -> (MailboxRecord, String) {
    let (access, refresh) = w.oauth.issue(user);
    m.auth = "xoauth2".into();
    m.oauth = OAuthFields {
        provider: Some("custom".into()),
        client_id: Some("postkorb-test".into()),
        token_url: Some(w.oauth.token_url()),
        expires_ms: Some(expires_ms),
        refreshed_ms: Some(NOW),
        ..Default::default()
    };
    m.oauth.refresh = Some(seal_secret(&m, &w.key, SecretColumn::OAuthRefresh, &refresh).unwrap());
    m.oauth.access = Some(seal_secret(&m, &w.key, SecretColumn::OAuthAccess, &access).unwrap());
    (w.store.save_mailbox(&m, 2).await.unwrap(), access)
}

fn mail(n: u32) -> Vec<u8> {
    format!(
        "From: anna@mustermail.de\r\nTo: {MAILBOX}\r\nSubject: Anfrage {n}\r\nMessage-ID: <graph{n}@mustermail.de>\r\n\
         Date: Thu, 26 Nov 2026 08:00:00 +0100\r\n\r\nBitte um Rückruf.\r\n"
    )
    .into_bytes()
}

/// What `serve` and `fetch` do per mailbox: fresh connection settings, then one pass.
async fn pass(w: &World, name: &str) -> Result<importer::RunReport, String> {
    let m = w.store.mailbox(name).await.unwrap();
    let clock = Clock::fixed(NOW);
    let cfg =
        oauth::fresh_config(&w.store, &m, &w.key, &clock, Default::default()).await.map_err(|e| format!("{e:#}"))?;
    importer::run_once(&w.store, &m, &cfg, 3, &clock).await.map_err(|e| format!("{e:#}"))
}

/// The stored access token of mailbox `name` runs out now: the next pass gets a new one first.
async fn expire_token(w: &World, name: &str) {
    let m = w.store.mailbox(name).await.unwrap();
    let tokens = postkorb_store::OAuthTokens {
        access: m.oauth.access.clone().expect("a stored access token"),
        expires_ms: Some(NOW - 1),
        refresh: None,
    };
    w.store.store_oauth_tokens(m.id, &tokens, NOW).await.unwrap();
}

async fn case_count(w: &World) -> usize {
    w.store.cases(None, 1000, 0).await.unwrap().len()
}

#[tokio::test]
async fn a_shared_mailbox_is_imported_over_delta_pages_then_only_new_mail_and_moved() {
    let w = world().await;
    w.graph.share(MAILBOX, CLERK);
    w.graph.page_size(2);
    let m = graph_record(&w, "graph", MAILBOX).await;
    delegated(&w, m.clone(), CLERK, NOW + 3_600_000).await;
    for n in 0..5 {
        w.graph.deliver(MAILBOX, "Inbox", &mail(n));
    }
    let report = pass(&w, "graph").await.unwrap();
    assert_eq!((report.listed, report.imported.len(), report.disposed), (5, 5, 5));
    assert_eq!(case_count(&w).await, 5, "Anna's mails became Bernd's Vorgänge");
    assert_eq!(w.graph.messages_in(MAILBOX, IMPORTED).len(), 5, "moved into the created folder");
    assert!(w.store.source_state(m.id).await.unwrap().is_some(), "the delta link is kept for the next pass");

    w.graph.deliver(MAILBOX, "Inbox", &mail(9));
    let report = pass(&w, "graph").await.unwrap();
    assert_eq!((report.listed, report.imported.len()), (1, 1), "only the new mail is listed");
    assert!(w.graph.requests().iter().any(|r| r.contains("$deltatoken=")));
    assert_eq!(case_count(&w).await, 6);
}

#[tokio::test]
async fn a_crash_between_commit_and_move_and_a_lost_delta_link_lose_nothing_and_import_nothing_twice() {
    let w = world().await;
    let m = graph_record(&w, "graph", MAILBOX).await;
    delegated(&w, m.clone(), MAILBOX, NOW + 3_600_000).await;
    w.graph.deliver(MAILBOX, "Inbox", &mail(1));
    pass(&w, "graph").await.unwrap();
    let clean_state = w.store.source_state(m.id).await.unwrap();

    // Two new mails are committed, then every move fails (as if the process died right there).
    w.graph.deliver(MAILBOX, "Inbox", &mail(2));
    w.graph.deliver(MAILBOX, "Inbox", &mail(3));
    w.graph.throttle_on("/move", 503, 3600, 2);
    let err = pass(&w, "graph").await.unwrap_err();
    w.graph.calm();
    assert!(err.contains("throttled"), "{err}");
    assert_eq!(case_count(&w).await, 3, "committed before the disposal failed");
    assert_eq!(w.graph.messages_in(MAILBOX, "Inbox").len(), 2, "still on the server");
    assert_eq!(w.store.source_state(m.id).await.unwrap(), clean_state, "a failed pass leaves the state as it was");

    // Meanwhile the delta link expires: the next pass lists the whole folder, knows both mails
    // from the ledger, and only moves them.
    w.graph.expire_delta_links();
    let report = pass(&w, "graph").await.unwrap();
    assert_eq!((report.listed, report.already_known, report.imported.len()), (2, 2, 0));
    assert_eq!(report.disposed, 2);
    assert_eq!(case_count(&w).await, 3, "nothing twice");
    assert!(w.graph.messages_in(MAILBOX, "Inbox").is_empty());
    assert_eq!(w.graph.messages_in(MAILBOX, IMPORTED).len(), 3, "nothing lost");
}

#[tokio::test]
async fn a_dry_run_stores_no_state_and_moves_nothing() {
    let w = world().await;
    let m = graph_record(&w, "graph", MAILBOX).await;
    let (m, _) = delegated(&w, m, MAILBOX, NOW + 3_600_000).await;
    w.graph.deliver(MAILBOX, "Inbox", &mail(1));
    let cfg = oauth::fresh_config(&w.store, &m, &w.key, &Clock::fixed(NOW), Default::default()).await.unwrap();
    let report = importer::dry_run(&w.store, &m, &cfg, 3, &Clock::fixed(NOW)).await.unwrap();
    assert_eq!(report.decided.len(), 1);
    assert_eq!(w.store.source_state(m.id).await.unwrap(), None);
    assert_eq!(w.graph.messages_in(MAILBOX, "Inbox").len(), 1);
    assert_eq!(case_count(&w).await, 0);
}

#[tokio::test]
async fn an_expiring_token_is_refreshed_and_a_refused_one_is_a_german_problem_while_the_other_mailbox_goes_on() {
    let w = world().await;
    w.graph.add_mailbox("info@buero.test");
    let good = graph_record(&w, "graph", MAILBOX).await;
    // Runs out within the refresh margin: refreshed before the pass, the new token accepted.
    delegated(&w, good, MAILBOX, NOW + 60_000).await;
    let bad = graph_record(&w, "info", "info@buero.test").await;
    let (_, bad_token) = delegated(&w, bad, "info@buero.test", NOW + 3_600_000).await;
    w.oauth.expire(&bad_token); // Graph refuses it although it should still be good
    w.graph.deliver(MAILBOX, "Inbox", &mail(1));
    w.graph.deliver("info@buero.test", "Inbox", &mail(2));

    assert_eq!(pass(&w, "graph").await.unwrap().imported.len(), 1);
    assert_eq!(w.oauth.refreshes().len(), 1, "refreshed before the pass");

    let results = postkorb_app::service::fetch::fetch_each(&w.ctx, false).await.unwrap();
    assert_eq!(results.len(), 2, "both mailboxes were tried");
    let info = w.store.mailbox("info").await.unwrap();
    let recorded = info.last_error.expect("the refused token is in the mailbox's health");
    let problem = MailboxProblem::of_recorded(&recorded);
    assert_eq!(problem, MailboxProblem::OAuthRejected, "{recorded}");
    assert!(problem.german().contains("Zugriffstoken abgelehnt"), "{}", problem.german());
    assert!(!recorded.contains(&bad_token), "the token leaked into the health: {recorded}");
    assert!(w.store.mailbox("graph").await.unwrap().last_error.is_none(), "the other mailbox is unaffected");

    // The refused token is renewed before the next pass, which then imports.
    assert_eq!(w.store.mailbox("info").await.unwrap().oauth.expires_ms, Some(0));
    assert_eq!(pass(&w, "info").await.unwrap().imported.len(), 1);
    assert_eq!(w.oauth.refreshes().len(), 2);
}

#[tokio::test]
async fn delegated_access_connects_by_device_code_and_application_access_by_client_credentials() {
    let w = world().await;
    let net = Default::default();
    // Delegated: the clerk signs in; the shared mailbox is opened with her token.
    w.graph.share(MAILBOX, CLERK);
    w.oauth.approve_devices_for(CLERK);
    graph_record(&w, "graph", MAILBOX).await;
    let connect = Connect {
        provider: "custom".into(),
        client_id: "postkorb-test".into(),
        client_secret: None,
        tenant: None,
        token_url: Some(w.oauth.token_url()),
        device_url: Some(w.oauth.device_url()),
        auth_url: None,
        net,
        graph: true,
    };
    let clock = Clock::fixed(NOW);
    let m = oauth::connect_device(&w.store, &w.key, &clock, "graph", &connect, |_| {}, "test").await.unwrap();
    assert_eq!(m.auth, "xoauth2");
    w.graph.deliver(MAILBOX, "Inbox", &mail(1));
    assert_eq!(pass(&w, "graph").await.unwrap().imported.len(), 1);

    // Application access: client ID and secret, no user; the token is fetched anew when it runs out.
    w.oauth.register_app("postkorb-app", "s3cret");
    graph_record(&w, "app", MAILBOX).await;
    let app = Connect { client_id: "postkorb-app".into(), client_secret: Some("wrong".into()), ..connect.clone() };
    let refused = oauth::connect_app(&w.store, &w.key, &clock, "app", &app, "test").await.unwrap_err();
    assert!(oauth::german_failure(&refused).contains("Client-ID"), "{}", oauth::german_failure(&refused));
    let app = Connect { client_secret: Some("s3cret".into()), ..app };
    let m = oauth::connect_app(&w.store, &w.key, &clock, "app", &app, "test").await.unwrap();
    assert_eq!((m.auth.as_str(), m.oauth.refresh.is_none()), ("oauth2_app", true));
    w.graph.deliver(MAILBOX, "Inbox", &mail(2));
    assert_eq!(pass(&w, "app").await.unwrap().imported.len(), 1);

    let grants = |w: &World| w.oauth.requests().iter().filter(|r| *r == "POST /token").count();
    let before = grants(&w);
    expire_token(&w, "app").await;
    w.graph.deliver(MAILBOX, "Inbox", &mail(3));
    assert_eq!(pass(&w, "app").await.unwrap().imported.len(), 1);
    assert_eq!(grants(&w), before + 1, "a new application token was fetched before the pass");

    // The tenant restricts the app to another mailbox (application access policy): a German problem.
    w.graph.restrict_app("postkorb-app", &["andere@buero.test"]);
    w.graph.deliver(MAILBOX, "Inbox", &mail(4));
    let err = pass(&w, "app").await.unwrap_err();
    assert_eq!(MailboxProblem::of_recorded(&err), MailboxProblem::Denied, "{err}");
}

#[tokio::test]
async fn application_access_with_a_certificate_signs_a_client_assertion_and_a_foreign_key_is_refused() {
    let w = world().await;
    let dir = tempfile::tempdir().unwrap();
    let cert = postkorb_testkit::certs::app_certificate(&dir.path().join("app"));
    let other = postkorb_testkit::certs::app_certificate(&dir.path().join("other"));
    w.oauth.register_app_certificate("postkorb-app", &cert);
    graph_record(&w, "app", MAILBOX).await;
    let clock = Clock::fixed(NOW);
    let connect = Connect {
        provider: "custom".into(),
        client_id: "postkorb-app".into(),
        client_secret: Some(other.pem.clone()),
        tenant: None,
        token_url: Some(w.oauth.token_url()),
        device_url: None,
        auth_url: None,
        net: Default::default(),
        graph: true,
    };
    let refused = oauth::connect_app(&w.store, &w.key, &clock, "app", &connect, "test").await.unwrap_err();
    assert!(oauth::german_failure(&refused).contains("Client-ID"), "another key: {refused:#}");

    let connect = Connect { client_secret: Some(cert.pem.clone()), ..connect };
    let m = oauth::connect_app(&w.store, &w.key, &clock, "app", &connect, "test").await.unwrap();
    assert_eq!(m.auth, "oauth2_app");
    let sealed = m.oauth.client_secret.as_ref().expect("the certificate credential is stored");
    assert!(!String::from_utf8_lossy(sealed).contains("PRIVATE KEY"), "sealed, not in plain text");
    w.graph.deliver(MAILBOX, "Inbox", &mail(1));
    assert_eq!(pass(&w, "app").await.unwrap().imported.len(), 1);

    // Before a later pass the token is fetched anew with a fresh assertion.
    let grants = w.oauth.requests().iter().filter(|r| *r == "POST /token").count();
    expire_token(&w, "app").await;
    w.graph.deliver(MAILBOX, "Inbox", &mail(2));
    assert_eq!(pass(&w, "app").await.unwrap().imported.len(), 1);
    assert_eq!(w.oauth.requests().iter().filter(|r| *r == "POST /token").count(), grants + 1);
}

#[test]
fn the_cli_sets_up_connects_fetches_and_reports_a_graph_mailbox() {
    let oauth = OAuthServer::start();
    let graph = GraphServer::start(&oauth);
    graph.add_mailbox(MAILBOX);
    oauth.register_app("postkorb-app", "s3cret");
    graph.deliver(MAILBOX, "Inbox", &mail(1));
    let env = crate::common::Env::new();
    env.office();
    let port = graph.port().to_string();
    let refused = env.fails(&["mailbox", "set", "--name", "m365", "--protocol", "graph", "--host", "10.0.0.1"]);
    assert!(refused.contains("graph.microsoft.com"), "{refused}");
    let set = ["mailbox", "set", "--name", "m365", "--protocol", "graph", "--host", "127.0.0.1", "--port", &port];
    let saved = env.ok(&[&set[..], &["--tls", "none", "--username", MAILBOX, "--verify", "off"]].concat());
    assert!(saved.contains("saved mailbox m365 (graph 127.0.0.1"), "{saved}");
    let not_yet = env.fails(&["fetch", "--once"]);
    assert!(not_yet.contains("not connected"), "{not_yet}");
    let token_url = oauth.token_url();
    let connect = ["mailbox", "oauth", "--name", "m365", "--flow", "app", "--provider", "custom", "--token-url"];
    let args = [&connect[..], &[token_url.as_str(), "--client-id", "postkorb-app", "--client-secret-stdin"]].concat();
    let connected = env.ok_with_input(&args, "s3cret\n");
    assert!(connected.contains("application access"), "{connected}");
    let fetched = env.ok(&["fetch", "--once"]);
    assert!(fetched.contains("for Bernd"), "{fetched}");
    assert_eq!(graph.messages_in(MAILBOX, IMPORTED).len(), 1);
    let status = env.ok(&["mailbox", "status"]);
    assert!(status.contains("m365 (graph 127.0.0.1)") && status.contains("application access"), "{status}");
}

/// Waits (a real `serve` process works on its own) until `done`, at most `HANG_GUARD`.
fn wait_until(what: &str, served: &crate::common::Served, done: impl Fn() -> bool) {
    let started = std::time::Instant::now();
    while !done() {
        assert!(started.elapsed() < crate::common::HANG_GUARD, "{what} never happened:\n{}", served.log());
        std::thread::sleep(std::time::Duration::from_millis(100));
    }
}

#[test]
fn serve_subscribes_to_change_notifications_and_a_notification_starts_a_pass_at_once() {
    let oauth = OAuthServer::start();
    let graph = GraphServer::start(&oauth);
    graph.add_mailbox(MAILBOX);
    oauth.register_app("postkorb-app", "s3cret");
    let env = crate::common::Env::new();
    env.office();
    let port = graph.port().to_string();
    // Polled once an hour: only a notification can bring the mail in within the test.
    env.ok(&[
        "mailbox",
        "set",
        "--name",
        "m365",
        "--protocol",
        "graph",
        "--host",
        "127.0.0.1",
        "--port",
        &port,
        "--tls",
        "none",
        "--username",
        MAILBOX,
        "--verify",
        "off",
        "--poll-secs",
        "3600",
    ]);
    let token_url = oauth.token_url();
    env.ok_with_input(
        &[
            "mailbox",
            "oauth",
            "--name",
            "m365",
            "--flow",
            "app",
            "--provider",
            "custom",
            "--token-url",
            &token_url,
            "--client-id",
            "postkorb-app",
            "--client-secret-stdin",
        ],
        "s3cret\n",
    );
    let web = postkorb_testkit::free_port();
    let served = env
        .with("POSTKORB_LISTEN", format!("127.0.0.1:{web}"))
        .with("POSTKORB_PUBLIC_URL", format!("http://127.0.0.1:{web}"))
        .serve("serve");
    // Graph validated the notification URL against the running serve before it subscribed.
    wait_until("the subscription", &served, || graph.subscriptions().len() == 1);
    graph.deliver(MAILBOX, "Inbox", &mail(1));
    // Only the notification can bring it in: the poll interval (an hour) is far beyond
    // wait_until's guard, which fails the test first.
    wait_until("the import after the notification", &served, || graph.messages_in(MAILBOX, IMPORTED).len() == 1);
    assert_eq!(graph.notifications(), vec![202], "the notification was accepted");
}
