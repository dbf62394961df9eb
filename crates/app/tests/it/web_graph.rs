//! „Microsoft 365 (Graph)“ in the mailbox form over HTTP (issue 20): a Graph mailbox saved from the
//! form goes to graph.microsoft.com only (an internal address is refused), „Anwendung verbinden“
//! (only with the permission and the form's CSRF token), „Ordner anzeigen“ and „Verbindung testen“
//! against the local Graph double; the change notification endpoint (Graph's validation echoed as
//! plain text, a forged notification ignored).

use axum::http::StatusCode;
use postkorb_store::MailboxRecord;
use postkorb_testkit::{GraphServer, OAuthServer};

use crate::web_http::app;

const MAILBOX: &str = "vorgaenge@buero.test";

fn graph_form(csrf: &str, action: &str, host: &str, port: &str) -> String {
    format!(
        "csrf={csrf}&action={action}&protocol=graph&host={host}&port={port}&tls=none&username=vorgaenge%40buero.test\
         &password=&folder=INBOX&disposal=move&target_folder=Postkorb%2FImportiert&poll_secs=60"
    )
}

#[tokio::test]
async fn a_graph_mailbox_from_the_form_goes_to_graph_microsoft_com_only() {
    let app = app().await;
    let (admin, csrf) = app.login("admin").await;
    let saved = app.post("/optionen/e-mail/default", Some(&admin), &graph_form(&csrf, "save", "", "")).await;
    assert!(saved.body.contains("Gespeichert."), "{}", saved.body);
    let m = app.ctx.store.mailbox("default").await.unwrap();
    assert_eq!(
        (m.protocol.as_str(), m.host.as_str(), m.port, m.tls.as_str()),
        ("graph", "graph.microsoft.com", 443, "implicit")
    );
    assert_eq!(m.username, MAILBOX);

    // The attack: aim the token and the requests at an internal service.
    for host in ["169.254.169.254", "10.0.0.1", "intranet.buero.test"] {
        let r = app.post("/optionen/e-mail/default", Some(&admin), &graph_form(&csrf, "save", host, "80")).await;
        assert!(r.body.contains("wird immer über graph.microsoft.com"), "{host}: {}", r.body);
        assert_eq!(app.ctx.store.mailbox("default").await.unwrap().host, "graph.microsoft.com", "{host} was saved");
    }
}

#[tokio::test]
async fn anwendung_verbinden_then_ordner_anzeigen_and_verbindung_testen_against_the_double() {
    let app = app().await;
    let oauth = OAuthServer::start();
    let graph = GraphServer::start(&oauth);
    graph.add_mailbox(MAILBOX);
    graph.add_folder(MAILBOX, "Inbox/Vorgänge");
    graph.deliver(MAILBOX, "Inbox", b"From: anna@mustermail.de\r\nSubject: Hallo\r\n\r\nText\r\n");
    oauth.register_app("postkorb-app", "s3cret");
    let port = graph.port().to_string();
    let (admin, csrf) = app.login("admin").await;
    let saved =
        app.post("/optionen/e-mail/default", Some(&admin), &graph_form(&csrf, "save", "127.0.0.1", &port)).await;
    assert!(saved.body.contains("id=\"app-form\""), "a Graph mailbox offers application access: {}", saved.body);
    assert!(saved.body.contains("Verbinden Sie jetzt unten das Postfach"), "{}", saved.body);
    // Before it is connected, „Verbindung testen“ says what to do next.
    let early =
        app.post("/optionen/e-mail/default", Some(&admin), &graph_form(&csrf, "test", "127.0.0.1", &port)).await;
    assert!(early.body.contains("Das Postfach ist noch nicht verbunden"), "{}", early.body);
    let token_url = oauth.token_url().replace(':', "%3A").replace('/', "%2F");
    let connect = |csrf: &str, secret: &str| {
        format!("csrf={csrf}&provider=custom&client_id=postkorb-app&client_secret={secret}&token_url={token_url}")
    };

    // Without the permission, or without the form's token: refused, nothing stored.
    let (bernd, bernd_csrf) = app.login("bernd").await;
    let r = app.post("/optionen/e-mail/default/anwendung", Some(&bernd), &connect(&bernd_csrf, "s3cret")).await;
    assert_eq!(r.status, StatusCode::FORBIDDEN);
    let r = app.post("/optionen/e-mail/default/anwendung", Some(&admin), &connect("falsch", "s3cret")).await;
    assert_eq!(r.status, StatusCode::BAD_REQUEST);
    assert!(r.body.contains("Das Formular ist abgelaufen"), "{}", r.body);
    app.post("/optionen/e-mail/default/anwendung", None, &connect(&csrf, "s3cret")).await;
    let before = app.ctx.store.mailbox("default").await.unwrap();
    assert!(before.auth != "oauth2_app" && before.oauth.access.is_none(), "nothing connected yet");
    let both = format!("{}&client_certificate=-----BEGIN+CERTIFICATE-----", connect(&csrf, "s3cret"));
    let both = app.post("/optionen/e-mail/default/anwendung", Some(&admin), &both).await;
    assert!(both.body.contains("nicht beides"), "{}", both.body);
    let wrong = app.post("/optionen/e-mail/default/anwendung", Some(&admin), &connect(&csrf, "geraten")).await;
    assert_eq!(wrong.status, StatusCode::BAD_REQUEST);
    assert!(wrong.body.contains("Client-ID"), "{}", wrong.body);

    let ok = app.post("/optionen/e-mail/default/anwendung", Some(&admin), &connect(&csrf, "s3cret")).await;
    assert_eq!(ok.status, StatusCode::SEE_OTHER, "{}", ok.body);
    let m: MailboxRecord = app.ctx.store.mailbox("default").await.unwrap();
    assert_eq!(m.auth, "oauth2_app");
    let form = app.get("/optionen/e-mail/default?verbunden=1", Some(&admin)).await.body;
    assert!(form.contains("Anwendungszugriff (Client-ID und geheimer Clientschlüssel)"), "{form}");
    assert!(!form.contains("s3cret"), "the secret is never shown again");

    let folders =
        app.post("/optionen/e-mail/default", Some(&admin), &graph_form(&csrf, "folders", "127.0.0.1", &port)).await;
    assert!(folders.body.contains("id=\"folder-list\""), "{}", folders.body);
    assert!(folders.body.contains("<li>Inbox/Vorgänge</li>"), "{}", folders.body);
    let test = app.post("/optionen/e-mail/default", Some(&admin), &graph_form(&csrf, "test", "127.0.0.1", &port)).await;
    assert!(test.body.contains("Verbindung erfolgreich: 1 E-Mail wartet im Postfach."), "{}", test.body);
    assert_eq!(graph.messages_in(MAILBOX, "Inbox").len(), 1, "a test moves nothing");

    // Health and metrics show it like any other mailbox.
    let list = app.get("/optionen/e-mail", Some(&admin)).await.body;
    assert!(list.contains("Microsoft 365 (Graph)"), "{list}");
    let metrics = app.get_from("/metrics", "127.0.0.1", &[]).await.body;
    assert!(metrics.contains("postkorb_oauth_token_expires_timestamp_seconds{mailbox=\"default\"}"), "{metrics}");
    let log = app.get("/protokoll", Some(&admin)).await.body;
    assert!(log.contains("Anwendungszugriff, Token bis"), "{log}");
}

#[tokio::test]
async fn the_notification_endpoint_echoes_graphs_validation_and_ignores_forged_notifications() {
    let app = app().await;
    let m = app.ctx.store.save_mailbox(&MailboxRecord { name: "m365".into(), ..Default::default() }, 1).await.unwrap();
    app.ctx.store.save_graph_subscription(m.id, "sub-1", "geheim", i64::MAX, 0).await.unwrap();
    let echo = app.post("/graph/benachrichtigung?validationToken=%3Cscript%3Eabc", None, "").await;
    assert_eq!(echo.status, StatusCode::OK);
    assert_eq!(echo.body, "<script>abc");
    let kind = echo.headers.get(axum::http::header::CONTENT_TYPE).unwrap().to_str().unwrap();
    assert!(kind.starts_with("text/plain"), "never a page: {kind}");
    assert_eq!(echo.headers.get(axum::http::header::X_CONTENT_TYPE_OPTIONS).unwrap(), "nosniff");

    let note = |state: &str| format!(r#"{{"value":[{{"subscriptionId":"sub-1","clientState":"{state}"}}]}}"#);
    let forged = app.post("/graph/benachrichtigung", None, &note("geraten")).await;
    assert_eq!(forged.status, StatusCode::ACCEPTED, "the same answer: it tells an outsider nothing");
    // Saved as notified at 0 (the save's moment); a forged notification leaves that as it is.
    assert_eq!(app.ctx.store.graph_subscription(m.id).await.unwrap().unwrap().notified_ms, Some(0));
    let genuine = app.post("/graph/benachrichtigung", None, &note("geheim")).await;
    assert_eq!(genuine.status, StatusCode::ACCEPTED);
    assert!(app.ctx.store.graph_subscription(m.id).await.unwrap().unwrap().notified_ms.is_some_and(|t| t > 0));
    assert_eq!(app.post("/graph/benachrichtigung", None, "kein JSON").await.status, StatusCode::BAD_REQUEST);
}
