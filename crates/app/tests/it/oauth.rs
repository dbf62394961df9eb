//! OAuth2 (XOAUTH2) mailboxes end to end against Dovecot's oauth2 passdb and a local token
//! endpoint that rotates refresh tokens strictly: the refresh before a pass, the rotated refresh
//! token in the database, the second refresh with the rotated token, a refused token in the
//! mailbox health, and connecting an account by device code.

use postkorb_app::Ctx;
use postkorb_app::cli::mail as mail_cmds;
use postkorb_app::clock::Clock;
use postkorb_app::service::importer;
use postkorb_app::service::mailbox::{open_secret, seal_secret};
use postkorb_app::service::oauth::{self, Connect};
use postkorb_store::{MailboxRecord, OAuthFields, SecretColumn};
use postkorb_testkit::{OAuthServer, Options};

use crate::office::{NOW, Office, USER};

/// The office whose Dovecot checks tokens at the local OAuth server (`w.store`, `w.ctx` through the office).
struct World {
    office: Office,
    oauth: OAuthServer,
}

impl std::ops::Deref for World {
    type Target = Office;
    fn deref(&self) -> &Office {
        &self.office
    }
}

async fn world() -> World {
    let oauth = OAuthServer::start();
    let options = Options { oauth2_introspection: Some(oauth.introspection_url()), ..Options::default() };
    // The password only serves the test's own deliveries; Postkorb logs in with tokens.
    let office = Office::start_with(options, "only-for-delivery").await;
    World { office, oauth }
}

/// A mailbox without OAuth yet, as `mailbox set … --keep-password` leaves it.
async fn plain_mailbox(w: &World, protocol: &str) -> MailboxRecord {
    let port = if protocol == "pop3" { w.dovecot.pop3_port() } else { w.dovecot.imap_port() };
    let m = MailboxRecord { name: "default".into(), ..w.mailbox_record(protocol, port) };
    w.store.save_mailbox(&m, 1).await.unwrap()
}

/// A connected XOAUTH2 mailbox whose access token runs out at `expires_ms`.
async fn connected_mailbox(w: &World, protocol: &str, expires_ms: i64) -> (MailboxRecord, String, String) {
    let mut m = plain_mailbox(w, protocol).await;
    let (access, refresh) = w.oauth.issue(USER);
    m.auth = "xoauth2".into();
    m.oauth = OAuthFields {
        provider: Some("custom".into()),
        client_id: Some("postkorb-test".into()),
        token_url: Some(w.oauth.token_url()),
        expires_ms: Some(expires_ms),
        refreshed_ms: Some(NOW - 86_400_000),
        ..Default::default()
    };
    m.oauth.refresh = Some(seal_secret(&m, &w.ctx.key, SecretColumn::OAuthRefresh, &refresh).unwrap());
    m.oauth.access = Some(seal_secret(&m, &w.ctx.key, SecretColumn::OAuthAccess, &access).unwrap());
    (w.store.save_mailbox(&m, 2).await.unwrap(), access, refresh)
}

fn mail(n: u32) -> Vec<u8> {
    format!(
        "From: anna@kunde.test\r\nTo: {USER}\r\nSubject: Anfrage {n}\r\nMessage-ID: <oauth{n}@kunde.test>\r\n\r\nBitte um Rückruf.\r\n"
    )
    .into_bytes()
}

/// What `serve` and `fetch` do per mailbox: fresh connection settings, then one pass.
async fn pass(w: &World, now_ms: i64) -> Result<importer::RunReport, String> {
    let m = w.store.mailbox("default").await.unwrap();
    let clock = Clock::fixed(now_ms);
    let cfg = oauth::fresh_config(&w.store, &m, &w.ctx.key, &clock, Default::default())
        .await
        .map_err(|e| format!("{e:#}"))?;
    importer::run_once(&w.store, &m, &cfg, 10, &clock).await.map_err(|e| e.to_string())
}

fn stored_refresh(w: &World, m: &MailboxRecord) -> String {
    open_secret(m, &w.ctx.key, SecretColumn::OAuthRefresh).unwrap().expect("a refresh token is stored")
}

#[tokio::test]
async fn a_valid_token_fetches_without_any_refresh() {
    let w = world().await;
    connected_mailbox(&w, "imap", NOW + 3_600_000).await;
    w.dovecot.deliver(USER, &mail(1));
    let report = pass(&w, NOW).await.unwrap_or_else(|e| panic!("{e}\n{}", w.dovecot.log()));
    assert_eq!(report.imported.len(), 1);
    assert!(w.oauth.refreshes().is_empty(), "refreshed a token that was still good for an hour");
}

#[tokio::test]
async fn the_importer_refreshes_an_expiring_token_before_the_pass_and_stores_the_rotated_refresh_token() {
    let w = world().await;
    // Runs out in 2 minutes: within the 5-minute margin.
    let (before, old_access, old_refresh) = connected_mailbox(&w, "imap", NOW + 120_000).await;
    w.dovecot.deliver(USER, &mail(1));
    let report = pass(&w, NOW).await.unwrap_or_else(|e| panic!("{e}\n{}", w.dovecot.log()));
    assert_eq!(report.imported.len(), 1);
    assert_eq!(w.oauth.refreshes(), vec![old_refresh.clone()]);

    let after = w.store.mailbox("default").await.unwrap();
    let new_refresh = stored_refresh(&w, &after);
    assert_ne!(new_refresh, old_refresh, "the rotated refresh token was not stored");
    assert!(w.oauth.refresh_valid(&new_refresh), "the stored refresh token is not the current one");
    assert!(!w.oauth.refresh_valid(&old_refresh), "the mock must have retired the old one");
    assert_ne!(open_secret(&after, &w.ctx.key, SecretColumn::OAuthAccess).unwrap().unwrap(), old_access);
    assert_eq!(after.oauth.expires_ms, Some(NOW + 3_600_000));
    assert_eq!(after.oauth.refreshed_ms, Some(NOW));
    assert_eq!(after.updated_ms, before.updated_ms, "a refresh must not restart the import loop");
    assert!(after.last_error.is_none());

    // An hour later the access token runs out again: the second refresh presents the rotated token.
    w.dovecot.deliver(USER, &mail(2));
    let later = NOW + 3_600_000;
    let report = pass(&w, later).await.unwrap_or_else(|e| panic!("{e}\n{}", w.dovecot.log()));
    assert_eq!(report.imported.len(), 1);
    assert_eq!(w.oauth.refreshes(), vec![old_refresh, new_refresh.clone()]);
    let third = stored_refresh(&w, &w.store.mailbox("default").await.unwrap());
    assert!(w.oauth.refresh_valid(&third) && third != new_refresh);
}

#[tokio::test]
async fn a_lost_rotated_refresh_token_is_refused_and_shown_in_the_mailbox_health() {
    let w = world().await;
    let (_, _, old_refresh) = connected_mailbox(&w, "pop3", NOW + 60_000).await;
    pass(&w, NOW).await.unwrap_or_else(|e| panic!("{e}\n{}", w.dovecot.log()));
    // Someone puts the old refresh token back (a restored backup): the provider refuses it.
    let mut m = w.store.mailbox("default").await.unwrap();
    m.oauth.refresh = Some(seal_secret(&m, &w.ctx.key, SecretColumn::OAuthRefresh, &old_refresh).unwrap());
    m.oauth.expires_ms = Some(NOW);
    w.store.save_mailbox(&m, 3).await.unwrap();
    // What `postkorb fetch` runs: the refused refresh ends up in the mailbox's health.
    let mut ctx = Ctx::open(w.ctx.settings.clone()).await.unwrap();
    ctx.clock = Clock::fixed(NOW + 3_600_000);
    assert!(mail_cmds::fetch_all(&ctx, false).await.is_err());
    let err = w.store.mailbox("default").await.unwrap().last_error.expect("an error in the health");
    assert!(err.contains("refresh refused") && err.contains("invalid_grant"), "{err}");
    assert!(err.contains("postkorb mailbox oauth --name default"), "{err}");
    assert!(!err.contains(&old_refresh), "the token leaked into the error: {err}");
}

#[tokio::test]
async fn a_revoked_access_token_is_a_login_error_over_imap_and_pop3() {
    let w = world().await;
    for protocol in ["imap", "pop3"] {
        let (_, access, _) = connected_mailbox(&w, protocol, NOW + 3_600_000).await;
        w.oauth.revoke(&access);
        let m = w.store.mailbox("default").await.unwrap();
        let clock = Clock::fixed(NOW);
        let cfg = oauth::fresh_config(&w.store, &m, &w.ctx.key, &clock, Default::default()).await.unwrap();
        match importer::run_once(&w.store, &m, &cfg, 10, &clock).await {
            Err(importer::ImportError::Source(postkorb_source::SourceError::Login(detail))) => {
                assert!(!detail.contains(&access), "{detail}")
            }
            other => panic!("{protocol}: expected a login error, got {:?}", other.map(|r| r.imported.len())),
        }
        let health = w.store.mailbox("default").await.unwrap();
        assert!(health.last_error.unwrap_or_default().contains("XOAUTH2"), "{protocol}: error not in the health");
    }
}

#[tokio::test]
async fn the_device_code_flow_connects_the_account_and_the_next_pass_fetches() {
    let w = world().await;
    plain_mailbox(&w, "pop3").await;
    w.oauth.approve_devices_for(USER);
    let connect = Connect {
        provider: "custom".into(),
        client_id: "postkorb-test".into(),
        client_secret: Some("not-so-secret".into()),
        tenant: None,
        token_url: Some(w.oauth.token_url()),
        device_url: Some(w.oauth.device_url()),
        auth_url: None,
        net: Default::default(),
        graph: false,
    };
    let mut shown = None;
    let m = oauth::connect_device(
        &w.store,
        &w.ctx.key,
        &Clock::fixed(NOW),
        "default",
        &connect,
        |p| {
            shown = Some((p.user_code.clone(), p.verification_uri.clone()));
        },
        "test",
    )
    .await
    .unwrap();
    let (code, uri) = shown.expect("the user code was shown");
    assert_eq!(code, "ABCD-EFGH");
    assert!(uri.contains("/device"));
    assert_eq!(m.auth, "xoauth2");
    assert!(m.updated_ms > 1, "connecting must count as a settings change, so a running loop picks it up");
    assert!(w.oauth.refresh_valid(&stored_refresh(&w, &m)));
    let status = oauth::token_status(&m, NOW).unwrap();
    assert!(status.contains("token expires") && status.contains("in 60 min"), "{status}");

    w.dovecot.deliver(USER, &mail(7));
    let report = pass(&w, NOW).await.unwrap_or_else(|e| panic!("{e}\n{}", w.dovecot.log()));
    assert_eq!(report.imported.len(), 1);
    // The form saves later without knowing any token: they stay.
    let form = MailboxRecord { poll_secs: 30, oauth: OAuthFields::default(), auth: String::new(), ..m.clone() };
    let saved = w.store.save_mailbox(&form, 5).await.unwrap();
    assert_eq!((saved.auth.as_str(), &saved.oauth.refresh), ("xoauth2", &m.oauth.refresh));
}

#[tokio::test]
async fn the_authorization_code_flow_with_pkce_stores_the_tokens() {
    let w = world().await;
    plain_mailbox(&w, "imap").await;
    w.oauth.approve_devices_for(USER);
    let connect = Connect {
        provider: "custom".into(),
        client_id: "postkorb-test".into(),
        client_secret: None,
        tenant: None,
        token_url: Some(w.oauth.token_url()),
        device_url: None,
        auth_url: None,
        net: Default::default(),
        graph: false,
    };
    let redirect = "http://localhost:8080/oauth/callback";
    let start = oauth::start_auth_code(&Connect { provider: "google".into(), ..connect.clone() }, redirect).unwrap();
    let back = format!("{redirect}?state={}&code=code-ok&scope=x", start.state);
    let (code, state) = oauth::code_from_redirect(&back).unwrap();
    assert_eq!(state, start.state);
    let denied = oauth::code_from_redirect(&format!("{redirect}?error=access_denied&state=s")).unwrap_err();
    assert!(denied.to_string().contains("access_denied"));
    let m = oauth::finish_auth_code(
        &w.store,
        &w.ctx.key,
        &Clock::fixed(NOW),
        "default",
        &connect,
        redirect,
        &code,
        &start.pkce_verifier,
        "test",
    )
    .await
    .unwrap();
    assert_eq!(m.auth, "xoauth2");
    assert!(w.oauth.refresh_valid(&stored_refresh(&w, &m)));
    w.dovecot.deliver(USER, &mail(9));
    assert_eq!(pass(&w, NOW).await.unwrap_or_else(|e| panic!("{e}")).imported.len(), 1);
}

#[tokio::test]
async fn with_private_hosts_forbidden_no_token_request_reaches_an_internal_endpoint_and_redirects_are_not_followed() {
    let w = world().await;
    let (m, _, _) = connected_mailbox(&w, "imap", NOW - 1).await;
    let before = w.oauth.requests().len();
    let closed = postkorb_source::NetPolicy { allow_private_hosts: false };
    // The expiring token would be refreshed at the (loopback) token endpoint: refused before any request.
    let err = oauth::fresh_config(&w.store, &m, &w.ctx.key, &Clock::fixed(NOW), closed).await.unwrap_err();
    assert!(format!("{err:#}").contains("internal address"), "{err:#}");
    let connect = Connect {
        provider: "custom".into(),
        client_id: "postkorb-test".into(),
        client_secret: Some("client-geheim".into()),
        tenant: None,
        token_url: Some(w.oauth.token_url()),
        device_url: None,
        auth_url: None,
        net: closed,
        graph: false,
    };
    let world = &w;
    let finish = |c: Connect| async move {
        let redirect = "http://localhost:8080/oauth/callback";
        let verifier = "v".repeat(50);
        oauth::finish_auth_code(
            &world.store,
            &world.ctx.key,
            &Clock::fixed(NOW),
            "default",
            &c,
            redirect,
            "code-ok",
            &verifier,
            "t",
        )
        .await
        .unwrap_err()
    };
    let err = finish(connect.clone()).await;
    assert!(format!("{err:#}").contains("internal address"), "{err:#}");
    assert_eq!(w.oauth.requests().len(), before, "the token endpoint was never asked");

    // A token endpoint that redirects elsewhere: the redirect is not followed, the secret stays.
    let evil = postkorb_testkit::Recorder::imap();
    let bouncer = postkorb_testkit::Recorder::start(
        "",
        Box::leak(
            format!(
                "HTTP/1.1 307 Temporary Redirect\r\nLocation: http://127.0.0.1:{}/token\r\nContent-Length: 0\r\n\r\n",
                evil.port()
            )
            .into_boxed_str(),
        ),
    );
    let open = Connect {
        token_url: Some(format!("http://127.0.0.1:{}/token", bouncer.port())),
        net: Default::default(),
        ..connect
    };
    let err = finish(open).await;
    assert_eq!(
        oauth::german_failure(&err),
        "Konto nicht verbunden: Der Anbieter hat unverständlich geantwortet. Stimmt die Token-URL?",
        "{err:#}"
    );
    assert_eq!(bouncer.connections(), 1);
    assert_eq!(evil.connections(), 0, "the redirect was not followed");
}
