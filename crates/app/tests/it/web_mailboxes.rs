//! „Optionen › Allgemeine Einstellungen › E-Mail“ over HTTP (issue #15 items 1–2): every mailbox with
//! its health in German, „Verbindung testen“ and „Probelauf“ that never save, „Neues Postfach“,
//! „Deaktivieren“/„Aktivieren“ and „Löschen“ with its confirmation, and the API's health.

use axum::http::StatusCode;
use postkorb_store::MailboxRecord;

use crate::web_http::{App, api, app, mailbox_form};

/// A stored IMAP mailbox `name` at `host:port` with `password`, sealed as the form would.
async fn stored(app: &App, name: &str, host: &str, port: u16, password: &str) -> MailboxRecord {
    let m = MailboxRecord {
        name: name.into(),
        protocol: "imap".into(),
        host: host.into(),
        port: i64::from(port),
        tls: "none".into(),
        username: "v@office.test".into(),
        folder: "INBOX".into(),
        disposal: "move".into(),
        target_folder: "Postkorb/Importiert".into(),
        poll_secs: 60,
        enabled: true,
        ..Default::default()
    };
    let m = postkorb_app::service::mailbox::with_password(m, &app.ctx.key, password).unwrap();
    app.ctx.store.save_mailbox(&m, 1).await.unwrap()
}

async fn audit_actions(app: &App) -> Vec<(String, String)> {
    app.ctx.store.audit_log(50).await.unwrap().into_iter().map(|(_, _, action, detail)| (action, detail)).collect()
}

#[tokio::test]
async fn the_list_shows_every_mailbox_with_its_health_in_german_and_the_api_the_same() {
    let app = app().await;
    // The login fetches every mailbox: logged in first, so the health below is what the test records.
    let (admin, _) = app.login("admin").await;
    let office = stored(&app, "default", "imap.example.de", 993, "geheim-1").await;
    app.ctx
        .store
        .record_fetch_error(office.id, 5, "login failed: * NO [AUTHENTICATIONFAILED] intern-dc01 <script>x</script>")
        .await
        .unwrap();
    let demo = MailboxRecord {
        name: "demo".into(),
        protocol: "maildir".into(),
        maildir_path: Some("/var/lib/postkorb/demo".into()),
        poll_secs: 60,
        enabled: true,
        ..Default::default()
    };
    let demo = app.ctx.store.save_mailbox(&demo, 1).await.unwrap();
    app.ctx.store.record_fetch_success(demo.id, 1_700_000_000_000, 3).await.unwrap();
    let hostile = MailboxRecord { host: "<img src=x onerror=alert(1)>".into(), ..office.clone() };
    let hostile = MailboxRecord { name: "z<b>fremd</b>".into(), id: 0, ..hostile };
    let hostile = app.ctx.store.save_mailbox(&hostile, 1).await.unwrap();
    app.ctx
        .store
        .record_fetch_error(
            hostile.id,
            6,
            "connection refused: x:993 (10.0.0.1:993): Connection refused (os error 111)",
        )
        .await
        .unwrap();
    app.ctx.store.set_mailbox_enabled("z<b>fremd</b>", false).await.unwrap();

    let page = app.get("/optionen/e-mail", Some(&admin)).await;
    assert_eq!(page.status, StatusCode::OK);
    let body = page.body;
    for shown in [
        "href=\"/optionen/e-mail/default\"",
        "href=\"/optionen/e-mail/demo\"",
        "IMAP imap.example.de:993",
        "Maildir /var/lib/postkorb/demo",
        "Anmeldung bei imap.example.de fehlgeschlagen: Benutzername oder Passwort falsch.",
        "deaktiviert",
        "Neues Postfach",
        "keiner (deaktiviert)",
    ] {
        assert!(body.contains(shown), "missing {shown:?} in\n{body}");
    }
    assert!(!body.contains("intern-dc01") && !body.contains("AUTHENTICATIONFAILED"), "never the server's words");
    assert!(!body.contains("<b>fremd") && !body.contains("<img"), "names and hosts escaped");
    // The refused connection's own detail is behind „Details“.
    assert!(body.contains("<details class=\"technisch\"><summary>Details</summary><code>connection refused"), "{body}");
    // The demo Maildir: fetched, 3 waiting.
    let demo_row = body.split("/optionen/e-mail/demo\"").nth(1).unwrap().split("</tr>").next().unwrap();
    assert!(demo_row.contains("<td>3</td>") && demo_row.contains("keiner"), "{demo_row}");

    let token =
        postkorb_web::new_api_token(&app.ctx.store, app.ctx.store.find_employee("admin").await.unwrap().id, "t")
            .await
            .unwrap();
    let r = app.send(api("GET", "/api/v1/mailboxes", &token)).await;
    assert_eq!(r.status, StatusCode::OK);
    let json: serde_json::Value = serde_json::from_str(&r.body).unwrap();
    let default = json.as_array().unwrap().iter().find(|m| m["name"] == "default").unwrap();
    assert_eq!(default["last_error"]["kind"], "login");
    assert_eq!(
        default["last_error"]["german"],
        "Anmeldung bei imap.example.de fehlgeschlagen: Benutzername oder Passwort falsch."
    );
    assert!(!r.body.contains("intern-dc01"), "{}", r.body);
    let demo = json.as_array().unwrap().iter().find(|m| m["name"] == "demo").unwrap();
    assert_eq!((demo["waiting_on_server"].as_i64(), demo["enabled"].as_bool()), (Some(3), Some(true)));
}

#[tokio::test]
async fn test_and_dry_run_of_a_new_mailbox_leave_the_mailboxes_unchanged() {
    let app = app().await;
    let (admin, csrf) = app.login("admin").await;
    let nobody = postkorb_testkit::free_port();
    let before = app.ctx.store.mailboxes().await.unwrap().len();
    for action in ["test", "dryrun"] {
        let form = format!("{}&name=neu-1", mailbox_form(&csrf, action, nobody, "Tipp-Geheim-1"));
        let r = app.post("/optionen/e-mail/neu", Some(&admin), &form).await;
        assert_eq!(r.status, StatusCode::OK);
        assert!(r.body.contains("Nicht gespeichert"), "{action}: {}", r.body);
        assert!(r.body.contains(&format!("nimmt auf Port {nobody} keine Verbindung an")), "{action}: {}", r.body);
        assert!(r.body.contains("value=\"neu-1\""), "the typed values stay in the form");
        assert!(!r.body.contains("Tipp-Geheim-1"), "the password is never sent back");
        assert!(r.body.contains("nur für diesen Test"), "the hint about the password");
    }
    assert_eq!(app.ctx.store.mailboxes().await.unwrap().len(), before, "no mailbox row");
    assert!(app.ctx.store.mailbox("neu-1").await.is_err());
    assert!(audit_actions(&app).await.iter().all(|(a, _)| a != "save_mailbox"), "no save audited");
    let fetched = postkorb_app::service::fetch::fetch_each(&app.ctx, false).await.unwrap();
    assert!(fetched.is_empty(), "nothing for serve or fetch to run");

    // Saving the same form creates it; the name is then taken.
    let form = format!("{}&name=neu-1", mailbox_form(&csrf, "save", nobody, "Tipp-Geheim-1"));
    let r = app.post("/optionen/e-mail/neu", Some(&admin), &form).await;
    assert!(r.body.contains("Gespeichert."), "{}", r.body);
    let again = app.post("/optionen/e-mail/neu", Some(&admin), &form).await;
    assert!(again.body.contains("Ein Postfach mit diesem Namen gibt es schon."), "{}", again.body);
    for bad in ["neu", "adressen", "%3Cb%3E", ""] {
        let form = format!("{}&name={bad}", mailbox_form(&csrf, "save", nobody, "x"));
        let r = app.post("/optionen/e-mail/neu", Some(&admin), &form).await;
        assert!(r.body.contains("class=\"field-error\""), "{bad:?}: {}", r.body);
    }
    assert_eq!(app.ctx.store.mailboxes().await.unwrap().len(), before + 1);
}

#[tokio::test]
async fn a_test_of_a_changed_host_does_not_change_the_stored_mailbox() {
    let app = app().await;
    let office = postkorb_testkit::free_port();
    let before = stored(&app, "default", "127.0.0.1", office, "Alt-Geheim-1").await;
    let (admin, csrf) = app.login("admin").await;
    let other = postkorb_testkit::Recorder::imap();
    let form = mailbox_form(&csrf, "test", other.port(), "Neu-Geheim-2");
    let r = app.post("/optionen/e-mail/default", Some(&admin), &form).await;
    assert!(r.body.contains("Nicht gespeichert"), "{}", r.body);
    assert!(other.connections() > 0, "the typed settings were tried");
    assert!(!other.got("Alt-Geheim-1"), "never the stored password");
    let after = app.ctx.store.mailbox("default").await.unwrap();
    assert_eq!(
        (after.port, &after.host, &after.secret, after.updated_ms),
        (before.port, &before.host, &before.secret, before.updated_ms),
        "the stored record is unchanged"
    );
    assert!(audit_actions(&app).await.iter().all(|(a, _)| a != "save_mailbox" && a != "mailbox_endpoint"));
}

#[tokio::test]
async fn deaktivieren_aktivieren_and_loeschen_with_its_confirmation_are_audited_and_keep_the_vorgaenge() {
    let app = app().await;
    let m = stored(&app, "default", "127.0.0.1", postkorb_testkit::free_port(), "geheim-1").await;
    let (admin, csrf) = app.login("admin").await;

    let r = app.post("/optionen/e-mail/default/deaktivieren", Some(&admin), "").await;
    assert_eq!(r.status, StatusCode::BAD_REQUEST, "no CSRF token");
    let (bernd, bernd_csrf) = app.login("bernd").await;
    let r =
        app.post("/optionen/e-mail/default/loeschen", Some(&bernd), &format!("csrf={bernd_csrf}&bestaetigt=ja")).await;
    assert_eq!(r.status, StatusCode::FORBIDDEN, "without the permission");

    let r = app.post("/optionen/e-mail/default/deaktivieren", Some(&admin), &format!("csrf={csrf}")).await;
    assert_eq!(r.status, StatusCode::SEE_OTHER);
    assert!(!app.ctx.store.mailbox("default").await.unwrap().enabled);
    assert!(postkorb_app::service::fetch::fetch_each(&app.ctx, false).await.unwrap().is_empty(), "not fetched");
    let list = app.get(r.headers["location"].to_str().unwrap(), Some(&admin)).await.body;
    assert!(list.contains("Postfach deaktiviert"), "{list}");
    let r = app.post("/optionen/e-mail/default/aktivieren", Some(&admin), &format!("csrf={csrf}")).await;
    assert_eq!(r.status, StatusCode::SEE_OTHER);
    assert!(app.ctx.store.mailbox("default").await.unwrap().enabled);

    // A Vorgang from this mailbox, which deleting keeps.
    let raw = "From: anna@mustermail.de\r\nSubject: Bleibt\r\nMessage-ID: <bleibt@x>\r\n\r\nx\r\n";
    let bernd_id = app.ctx.store.find_employee("bernd").await.unwrap().id;
    let mail = postkorb_mail::parse(raw.as_bytes());
    let item = postkorb_store::ImportItem {
        source_key: "imap:INBOX:1:1".into(),
        fingerprint: postkorb_mail::fingerprint(raw.as_bytes(), mail.message_id.as_deref()),
        raw_digest: postkorb_mail::digests(raw.as_bytes(), None).raw_digest,
        legacy_fingerprint: None,
        raw: raw.as_bytes().to_vec().into(),
        mail,
        decision: postkorb_core::Decision::Assign { sender: bernd_id, to: bernd_id },
        raw_file: None,
        ack: Default::default(),
        search_terms: None,
    };
    app.ctx.store.commit_batch(m.id, &[item], 2).await.unwrap();

    // Without „bestaetigt=ja“: the confirmation page, nothing deleted.
    let r = app.post("/optionen/e-mail/default/loeschen", Some(&admin), &format!("csrf={csrf}")).await;
    assert_eq!(r.status, StatusCode::OK);
    assert!(r.body.contains("Postfach löschen?") && r.body.contains("1 eingelesenen Vorgänge"), "{}", r.body);
    assert!(r.body.contains("class=\"danger\""));
    assert!(app.ctx.store.mailbox("default").await.is_ok());

    // While an instance holds the fetch lease: refused.
    let now = postkorb_app::clock::Clock::system().now_ms();
    app.ctx.store.take_lease(m.id, "other-host-1", now, 60_000).await.unwrap();
    let r = app.post("/optionen/e-mail/default/loeschen", Some(&admin), &format!("csrf={csrf}&bestaetigt=ja")).await;
    assert_eq!(r.status, StatusCode::CONFLICT);
    assert!(r.body.contains("wird gerade abgerufen"), "{}", r.body);
    assert!(app.ctx.store.mailbox("default").await.is_ok());
    app.ctx.store.release_lease(m.id, "other-host-1").await.unwrap();

    let r = app.post("/optionen/e-mail/default/loeschen", Some(&admin), &format!("csrf={csrf}&bestaetigt=ja")).await;
    assert_eq!(r.status, StatusCode::SEE_OTHER, "{}", r.body);
    assert!(app.ctx.store.mailboxes().await.unwrap().is_empty(), "gone from every list");
    assert!(app.ctx.store.mailbox("default").await.is_err(), "the name is free");
    assert_eq!(app.ctx.store.cases(Some(bernd_id), 10, 0).await.unwrap().len(), 1, "the Vorgang stays");
    assert_eq!(app.ctx.store.known_keys(m.id, &["imap:INBOX:1:1".to_string()]).await.unwrap().len(), 1, "ledger");
    let list = app.get(r.headers["location"].to_str().unwrap(), Some(&admin)).await.body;
    assert!(list.contains("Postfach gelöscht"), "{list}");
    let actions = audit_actions(&app).await;
    for action in ["disable_mailbox", "enable_mailbox", "delete_mailbox"] {
        assert!(actions.iter().any(|(a, d)| a == action && d == "default"), "{action}: {actions:?}");
    }
    // A new mailbox of the same name starts afresh.
    let again = stored(&app, "default", "127.0.0.1", 1993, "neu-1").await;
    assert_ne!(again.id, m.id);
}
