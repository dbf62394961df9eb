//! The Microsoft Graph source against the local Graph double (testkit `GraphServer`), whose tokens
//! come from the local OAuth server: delta listing with paging, the state from pass to pass, an
//! expired delta link, immutable ids across a move, `$value`, the created target folder,
//! throttling, refused tokens, a message moved away between listing and fetch, delegated and
//! application access, and the refused hosts.

use std::time::{Duration, Instant};

use crate::common::{IMPORTED, big_mail, simple_mail};
use postkorb_source::graph::GRAPH_TOKEN_REFUSED;
use postkorb_source::{
    Auth, Disposal, GraphOptions, NetPolicy, Protocol, Session, SourceConfig, SourceError, SyncState, TlsMode,
};
use postkorb_testkit::{GraphServer, OAuthServer, Recorder};

const MAILBOX: &str = "vorgaenge@buero.test";
const CLERK: &str = "clara@buero.test";

struct World {
    graph: GraphServer,
    oauth: OAuthServer,
    token: String,
}

fn world() -> World {
    let oauth = OAuthServer::start();
    let graph = GraphServer::start(&oauth);
    graph.add_mailbox(MAILBOX);
    let (token, _refresh) = oauth.issue(MAILBOX);
    World { graph, oauth, token }
}

fn config(w: &World, disposal: Disposal) -> SourceConfig {
    SourceConfig {
        protocol: Protocol::Graph,
        host: "127.0.0.1".into(),
        port: w.graph.port(),
        tls: TlsMode::None,
        username: MAILBOX.into(),
        password: String::new(),
        auth: Auth::XOAuth2 { access_token: w.token.clone() },
        folder: "INBOX".into(),
        disposal,
        maildir: None,
        ca_file: None,
        net: NetPolicy::default(),
        graph: GraphOptions::default(),
    }
}

/// One pass as the importer runs it: list, fetch, dispose of what was fetched, hand on the state.
async fn pass(cfg: &SourceConfig) -> (Vec<Vec<u8>>, String) {
    let mut session = Session::connect(cfg).await.expect("connect");
    let keys: Vec<String> = session.list().await.expect("list").into_iter().map(|e| e.key).collect();
    let fetched = session.fetch(&keys).await.expect("fetch");
    let done: Vec<String> = fetched.iter().map(|f| f.key.clone()).collect();
    session.dispose(&done).await.expect("dispose");
    let state = session.sync_state().expect("a Graph session has a state");
    session.close().await.expect("close");
    (fetched.into_iter().map(|f| f.raw.to_vec()).collect(), state)
}

fn with_state(mut cfg: SourceConfig, state: &str) -> SourceConfig {
    cfg.graph.sync_state = Some(state.to_string());
    cfg
}

async fn list_keys(cfg: &SourceConfig) -> Result<Vec<String>, SourceError> {
    let mut session = Session::connect(cfg).await?;
    Ok(session.list().await?.into_iter().map(|e| e.key).collect())
}

#[tokio::test]
async fn delta_pages_through_the_folder_then_lists_only_new_mail_and_moves_into_the_created_folder() {
    let w = world();
    w.graph.page_size(3);
    for n in 0..7 {
        w.graph.deliver(MAILBOX, "Inbox", &simple_mail(n));
    }
    let cfg = config(&w, Disposal::MoveTo(IMPORTED.into()));
    assert!(!w.graph.has_folder(MAILBOX, IMPORTED));
    let (raw, state) = pass(&cfg).await;
    assert_eq!(raw, (0..7).map(simple_mail).collect::<Vec<_>>(), "every mail once, in order, byte for byte");
    let requests = w.graph.requests();
    assert_eq!(requests.iter().filter(|r| r.contains("$skiptoken=")).count(), 2, "three pages: {requests:#?}");
    // Moved into „Postkorb/Importiert“, created on the way; the Inbox is empty.
    assert_eq!(w.graph.messages_in(MAILBOX, IMPORTED).len(), 7);
    assert!(w.graph.messages_in(MAILBOX, "Inbox").is_empty());

    // The next pass starts from the delta link: only the new mail, nothing twice.
    w.graph.deliver(MAILBOX, "Inbox", &simple_mail(8));
    let (raw, state2) = pass(&with_state(cfg.clone(), &state)).await;
    assert_eq!(raw, vec![simple_mail(8)]);
    assert!(w.graph.requests().iter().any(|r| r.contains("$deltatoken=")), "the stored delta link was used");
    let state2: SyncState = serde_json::from_str(&state2).unwrap();
    assert!(state2.pending.is_empty(), "what was moved is not pending: {state2:?}");
    assert!(state2.delta.is_some());
}

#[tokio::test]
async fn a_page_token_expiring_while_paging_starts_the_listing_over() {
    let w = world();
    w.graph.page_size(2);
    for n in 0..5 {
        w.graph.deliver(MAILBOX, "Inbox", &simple_mail(n));
    }
    w.graph.expire_next_page();
    let keys = list_keys(&config(&w, Disposal::Leave)).await.expect("started over");
    assert_eq!(keys.len(), 5);
    let fresh = w.graph.requests().iter().filter(|r| r.contains("/delta?") && !r.contains("token=")).count();
    assert_eq!(fresh, 2, "{:#?}", w.graph.requests());
}

#[tokio::test]
async fn mail_left_in_the_folder_is_listed_again_by_the_next_pass() {
    // A crash between commit and move (or a mail waiting for DNS): listed, not disposed of. The
    // state keeps it, so the next pass lists it again though the delta link reports nothing new.
    let w = world();
    let id = w.graph.deliver(MAILBOX, "Inbox", &simple_mail(1));
    let cfg = config(&w, Disposal::MoveTo(IMPORTED.into()));
    let mut session = Session::connect(&cfg).await.unwrap();
    assert_eq!(session.list().await.unwrap().len(), 1);
    let state = session.sync_state().unwrap();
    drop(session); // no dispose: the pass ended before it
    assert_eq!(list_keys(&with_state(cfg.clone(), &state)).await.unwrap(), vec![format!("graph:{id}")]);
}

#[tokio::test]
async fn an_expired_delta_link_falls_back_to_listing_the_whole_folder() {
    for (status, code) in [(410, "syncStateNotFound"), (410, "resyncRequired"), (400, "SyncStateInvalid")] {
        let w = world();
        let first = w.graph.deliver(MAILBOX, "Inbox", &simple_mail(1));
        let cfg = config(&w, Disposal::Leave);
        let mut session = Session::connect(&cfg).await.unwrap();
        session.list().await.unwrap();
        let state = session.sync_state().unwrap();
        let second = w.graph.deliver(MAILBOX, "Inbox", &simple_mail(2));
        w.graph.expire_delta_links_answering(status, code);
        let keys = list_keys(&with_state(cfg, &state)).await.unwrap_or_else(|e| panic!("{status} {code}: {e}"));
        assert_eq!(keys, vec![format!("graph:{first}"), format!("graph:{second}")], "{status} {code}");
        assert!(w.graph.requests().iter().any(|r| r.contains("$deltatoken=")), "the expired link was tried first");
    }
}

#[tokio::test]
async fn keys_are_immutable_ids_that_survive_the_move_and_value_is_the_raw_mail() {
    let w = world();
    let big = big_mail();
    let id = w.graph.deliver(MAILBOX, "Inbox", &big);
    let cfg = config(&w, Disposal::MoveTo(IMPORTED.into()));
    let (raw, _) = pass(&cfg).await;
    assert_eq!(raw, vec![big.clone()], "$value is the mail byte for byte");
    // Without the ImmutableId preference the double would have answered with REST ids, which change
    // on the move: the key would no longer name the message in „Postkorb/Importiert“.
    assert_eq!(w.graph.messages_in(MAILBOX, IMPORTED), vec![(id.clone(), big)]);
    assert!(w.graph.requests().iter().any(|r| r.contains(&format!("/messages/{id}/move"))));
}

#[tokio::test]
async fn a_message_over_the_size_limit_is_refused_not_loaded() {
    let w = world();
    w.graph.deliver(MAILBOX, "Inbox", &big_mail());
    let mut session = Session::connect(&config(&w, Disposal::Leave)).await.unwrap();
    let keys: Vec<String> = session.list().await.unwrap().into_iter().map(|e| e.key).collect();
    let Session::Graph(graph) = &mut session else { panic!("a Graph session") };
    graph.set_max_message(64 * 1024);
    match session.fetch(&keys).await {
        Err(SourceError::Protocol(detail)) => assert!(detail.contains("larger than"), "{detail}"),
        other => panic!("expected a size error, got {other:?}"),
    }
}

#[tokio::test]
async fn a_message_deleted_between_listing_and_fetch_is_left_out_and_one_moved_is_still_itself() {
    let w = world();
    let gone = w.graph.deliver(MAILBOX, "Inbox", &simple_mail(1));
    let moved = w.graph.deliver(MAILBOX, "Inbox", &simple_mail(2));
    let kept = w.graph.deliver(MAILBOX, "Inbox", &simple_mail(3));
    let cfg = config(&w, Disposal::MoveTo(IMPORTED.into()));
    let mut session = Session::connect(&cfg).await.unwrap();
    let keys: Vec<String> = session.list().await.unwrap().into_iter().map(|e| e.key).collect();
    assert_eq!(keys.len(), 3);
    // Meanwhile someone deletes one for good (404) and files another away: its immutable id
    // still names it, so it is fetched once under the key it was listed with.
    w.graph.delete(MAILBOX, &gone);
    w.graph.add_folder(MAILBOX, "Archiv");
    w.graph.move_away(MAILBOX, &moved, "Archiv");
    let fetched = session.fetch(&keys).await.expect("a vanished message is no error");
    let got: Vec<String> = fetched.iter().map(|f| f.key.clone()).collect();
    assert_eq!(got, vec![format!("graph:{moved}"), format!("graph:{kept}")]);
    assert_eq!(fetched[0].raw.to_vec(), simple_mail(2));
    let state: SyncState = serde_json::from_str(&session.sync_state().unwrap()).unwrap();
    assert!(!state.pending.contains(&gone), "the deleted one is forgotten: {state:?}");
    // Disposing of a message gone meanwhile is fine (idempotent).
    session.dispose(&[format!("graph:{gone}")]).await.expect("a 404 on dispose is no error");
}

#[tokio::test]
async fn throttling_waits_for_retry_after_and_a_long_wait_ends_the_pass() {
    let w = world();
    w.graph.deliver(MAILBOX, "Inbox", &simple_mail(1));
    let cfg = config(&w, Disposal::Leave);
    w.graph.throttle(429, 1, 1);
    let started = Instant::now();
    assert_eq!(list_keys(&cfg).await.expect("one 429 is waited out").len(), 1);
    assert!(started.elapsed() >= Duration::from_secs(1), "Retry-After: 1 was not honoured");

    w.graph.throttle(503, 3600, 1);
    match list_keys(&cfg).await {
        Err(e @ SourceError::Throttled(_)) => assert!(e.is_transient()),
        other => panic!("expected Throttled, got {other:?}"),
    }
}

#[tokio::test]
async fn an_expired_token_is_a_login_error_naming_the_token_never_quoting_it() {
    let w = world();
    w.oauth.expire(&w.token);
    match Session::connect(&config(&w, Disposal::Leave)).await {
        Err(SourceError::Login(detail)) => {
            assert!(detail.starts_with(GRAPH_TOKEN_REFUSED), "{detail}");
            assert!(detail.contains("InvalidAuthenticationToken"), "{detail}");
            assert!(!detail.contains(&w.token));
        }
        other => panic!("expected a login error, got {:?}", other.err()),
    }
}

#[tokio::test]
async fn a_shared_mailbox_opens_with_a_permitted_users_token_and_an_app_only_where_allowed() {
    let w = world();
    w.graph.deliver(MAILBOX, "Inbox", &simple_mail(1));
    let (clerk, _) = w.oauth.issue(CLERK);
    let mut cfg = config(&w, Disposal::Leave);
    cfg.auth = Auth::XOAuth2 { access_token: clerk };
    assert!(matches!(list_keys(&cfg).await, Err(SourceError::Denied(_))), "not shared with the clerk yet");
    w.graph.share(MAILBOX, CLERK);
    assert_eq!(list_keys(&cfg).await.unwrap().len(), 1, "delegated access to the shared mailbox");

    let (app, _) = w.oauth.issue("app:client-1");
    cfg.auth = Auth::XOAuth2 { access_token: app };
    assert_eq!(list_keys(&cfg).await.unwrap().len(), 1, "application access");
    w.graph.restrict_app("client-1", &["andere@buero.test"]);
    assert!(matches!(list_keys(&cfg).await, Err(SourceError::Denied(_))), "application access policy");
}

#[tokio::test]
async fn other_hosts_private_addresses_and_foreign_links_are_refused() {
    let w = world();
    w.graph.deliver(MAILBOX, "Inbox", &simple_mail(1));
    let trap = Recorder::imap();
    for (host, port, tls) in [
        ("evil.test", 443, TlsMode::Implicit),
        ("169.254.169.254", 80, TlsMode::None),
        ("10.0.0.1", 443, TlsMode::Implicit),
    ] {
        let cfg = SourceConfig { host: host.into(), port, tls, ..config(&w, Disposal::Leave) };
        assert!(matches!(Session::connect(&cfg).await, Err(SourceError::Config(_))), "{host}");
    }
    // Loopback (the double) only while the network policy allows internal addresses.
    let closed = SourceConfig { net: NetPolicy { allow_private_hosts: false }, ..config(&w, Disposal::Leave) };
    assert!(matches!(Session::connect(&closed).await, Err(SourceError::Blocked(_))));
    // A stored delta link pointing elsewhere is never followed: the folder is listed afresh.
    let mut session = Session::connect(&config(&w, Disposal::Leave)).await.unwrap();
    session.list().await.unwrap();
    let mut state: SyncState = serde_json::from_str(&session.sync_state().unwrap()).unwrap();
    state.delta = Some(format!("http://127.0.0.1:{}/v1.0/users/{MAILBOX}/mailFolders/x/messages/delta", trap.port()));
    let keys = list_keys(&with_state(config(&w, Disposal::Leave), &serde_json::to_string(&state).unwrap())).await;
    assert_eq!(keys.unwrap().len(), 1);
    assert_eq!(trap.connections(), 0, "the token went to a foreign host");
    // A delta link Graph writes differently (here: the address in capitals) is followed: same origin.
    let mut session = Session::connect(&config(&w, Disposal::Leave)).await.unwrap();
    session.list().await.unwrap();
    let mut state: SyncState = serde_json::from_str(&session.sync_state().unwrap()).unwrap();
    let link = state.delta.clone().unwrap();
    state.delta = Some(link.replace(MAILBOX, &MAILBOX.to_uppercase()));
    let keys = list_keys(&with_state(config(&w, Disposal::Leave), &serde_json::to_string(&state).unwrap())).await;
    assert!(keys.is_ok(), "{keys:?}");
}

#[tokio::test]
async fn the_folder_picker_lists_nested_folders_and_a_nested_folder_is_read() {
    let w = world();
    w.graph.add_folder(MAILBOX, "Inbox/Vorgänge");
    w.graph.add_folder(MAILBOX, "Archiv");
    w.graph.deliver(MAILBOX, "Inbox/Vorgänge", &simple_mail(1));
    w.graph.deliver(MAILBOX, "Inbox", &simple_mail(2));
    let mut cfg = config(&w, Disposal::Leave);
    let mut session = Session::connect(&cfg).await.unwrap();
    let mut folders = session.folders().await.unwrap();
    folders.sort();
    assert_eq!(folders, ["Archiv", "Inbox", "Inbox/Vorgänge"]);
    cfg.folder = "Inbox/Vorgänge".into();
    let (raw, _) = pass(&cfg).await;
    assert_eq!(raw, vec![simple_mail(1)], "only the chosen folder");
    cfg.folder = "Inbox/Fehlt".into();
    assert!(matches!(Session::connect(&cfg).await, Err(SourceError::FolderMissing(_))));
}

/// A notification URL that answers Graph's validation with the token (`echo`) or with nonsense.
fn validation_endpoint(echo: bool) -> String {
    use std::io::{Read, Write};
    let listener = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
    let port = listener.local_addr().unwrap().port();
    std::thread::spawn(move || {
        for mut stream in listener.incoming().flatten() {
            let mut buf = [0u8; 4096];
            let n = stream.read(&mut buf).unwrap_or(0);
            let head = String::from_utf8_lossy(&buf[..n]).to_string();
            let token = head.split("validationToken=").nth(1).and_then(|t| t.split([' ', '&']).next()).unwrap_or("");
            let body = if echo { token.to_string() } else { "nein".to_string() };
            let _ = stream.write_all(
                format!("HTTP/1.1 200 OK\r\nContent-Length: {}\r\nConnection: close\r\n\r\n{body}", body.len())
                    .as_bytes(),
            );
        }
    });
    format!("http://127.0.0.1:{port}/graph/benachrichtigung")
}

#[tokio::test]
async fn a_subscription_is_made_after_validation_renewed_and_made_anew_when_graph_forgot_it() {
    let w = world();
    let mut session = Session::connect(&config(&w, Disposal::Leave)).await.unwrap();
    let Session::Graph(graph) = &mut session else { panic!("a Graph session") };
    let refused = graph.subscribe(&validation_endpoint(false), "geheim", 1_800_000_000_000).await;
    assert!(refused.is_err(), "a URL that fails the validation gets no subscription");
    assert!(w.graph.subscriptions().is_empty());

    let sub = graph.subscribe(&validation_endpoint(true), "geheim", 1_800_000_000_000).await.unwrap();
    assert_eq!(w.graph.subscriptions(), vec![sub.id.clone()]);
    assert_eq!(sub.expires_ms, 1_800_000_000_000);
    assert_eq!(graph.renew_subscription(&sub.id, 1_800_000_060_000).await.unwrap(), Some(1_800_000_060_000));
    assert_eq!(w.graph.subscription_expiry(&sub.id).as_deref(), Some("2027-01-15T08:01:00Z"));
    w.graph.drop_subscriptions();
    assert_eq!(graph.renew_subscription(&sub.id, 1_800_000_120_000).await.unwrap(), None, "make a new one");
    graph.unsubscribe(&sub.id).await.expect("gone already is fine");
}
