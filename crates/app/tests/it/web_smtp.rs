//! „E-Mail-Versand“ over HTTP: only with „E-Mails automatisch einlesen“ and a CSRF token; the
//! password is write-only (never in the page), kept while the endpoint stays and dropped when the
//! host changes without a new one; „Testnachricht senden“ reaches the Dovecot mailbox through a
//! real Postfix and reports a failure in German without the server's words.

use axum::http::StatusCode;
use postkorb_testkit::{Dovecot, Postfix};

use crate::web_http::app;

const TO: &str = "vorgaenge@office.test";
const SENDER: &str = "versand@office.test";
const SENDER_PASSWORD: &str = "Versand-Geheim-1";

fn enc(s: &str) -> String {
    s.bytes()
        .map(|b| {
            if b.is_ascii_alphanumeric() || b"-._".contains(&b) { (b as char).to_string() } else { format!("%{b:02X}") }
        })
        .collect()
}

fn form(csrf: &str, host: &str, port: u16, ca: &str, password: &str) -> String {
    format!(
        "csrf={csrf}&host={}&port={port}&tls=starttls&username={}&password={}&ca_file={}&sender_address={}&sender_name={}",
        enc(host),
        enc(SENDER),
        enc(password),
        enc(ca),
        enc(TO),
        enc("Büro Muster")
    )
}

#[tokio::test]
async fn the_form_saves_write_only_and_the_test_message_arrives() {
    let dovecot = Dovecot::start();
    dovecot.add_user(TO, "geheim");
    dovecot.add_user(SENDER, SENDER_PASSWORD);
    let postfix = Postfix::start(&dovecot, &[TO]);
    let app = app().await;
    // The CA file must lie in the shared directory (ca_dir) for the web form.
    let ca_dir = app.ctx.settings.ca_dir();
    std::fs::create_dir_all(&ca_dir).unwrap();
    let ca = ca_dir.join("test-ca.pem");
    std::fs::copy(postfix.ca_file(), &ca).unwrap();
    let ca = ca.display().to_string();
    let port = postfix.ports().starttls;

    let (admin, csrf) = app.login("admin").await;
    let (clerk, clerk_csrf) = app.login("bernd").await;
    assert_eq!(app.get("/optionen/e-mail/versand", Some(&clerk)).await.status, StatusCode::FORBIDDEN);
    let r = app.post("/optionen/e-mail/versand", Some(&clerk), &form(&clerk_csrf, "127.0.0.1", port, &ca, "x")).await;
    assert_eq!(r.status, StatusCode::FORBIDDEN);
    let r = app.post("/optionen/e-mail/versand", Some(&admin), &form("falsch", "127.0.0.1", port, &ca, "x")).await;
    assert_eq!(r.status, StatusCode::BAD_REQUEST, "CSRF");
    assert!(app.ctx.store.smtp_settings().await.unwrap().is_none());

    let page = app.get("/optionen/e-mail/versand", Some(&admin)).await;
    assert!(page.body.contains("Speichern Sie zuerst die Einstellungen"), "{}", page.body);
    // A login without a password is refused at its field.
    let r = app.post("/optionen/e-mail/versand", Some(&admin), &form(&csrf, "127.0.0.1", port, &ca, "")).await;
    assert!(r.body.contains("Bitte geben Sie das Passwort des Kontos"), "{}", r.body);
    let r =
        app.post("/optionen/e-mail/versand", Some(&admin), &form(&csrf, "127.0.0.1", port, &ca, SENDER_PASSWORD)).await;
    assert_eq!(r.status, StatusCode::SEE_OTHER, "{}", r.body);
    let page = app.get("/optionen/e-mail/versand?ok=versand-gespeichert", Some(&admin)).await;
    assert!(page.body.contains("Einstellungen für den E-Mail-Versand gespeichert."));
    assert!(page.body.contains("gespeichert; leer lassen"), "the password is set");
    assert!(!page.body.contains(SENDER_PASSWORD), "write-only");

    let r = app.post("/optionen/e-mail/versand/test", Some(&admin), &format!("csrf={csrf}&to={}", enc(TO))).await;
    assert!(r.body.contains("wurde gesendet"), "{}", r.body);
    postfix.wait_delivered(&dovecot, TO, 1);

    // Saved again unchanged without a password: kept.
    let r = app.post("/optionen/e-mail/versand", Some(&admin), &form(&csrf, "127.0.0.1", port, &ca, "")).await;
    assert_eq!(r.status, StatusCode::SEE_OTHER, "{}", r.body);
    assert!(app.ctx.store.smtp_settings().await.unwrap().unwrap().secret.is_some());
    // Another host without a password: refused at the password (the stored one stays where it was).
    let r = app.post("/optionen/e-mail/versand", Some(&admin), &form(&csrf, "localhost", port, &ca, "")).await;
    assert_eq!(r.status, StatusCode::OK);
    assert!(r.body.contains("Bitte geben Sie das Passwort des Kontos"), "{}", r.body);
    // The store's rule behind it: a moved endpoint without a new password drops the old one.
    let mut moved = app.ctx.store.smtp_settings().await.unwrap().unwrap();
    moved.host = "localhost".into();
    moved.secret = None;
    assert!(app.ctx.store.save_smtp_by(&moved, 9, "admin").await.unwrap().secret.is_none());

    // A failing test is reported in German, without the server's own words.
    let r = app.post("/optionen/e-mail/versand/test", Some(&admin), &format!("csrf={csrf}&to={}", enc(TO))).await;
    assert!(r.body.contains("Die Testnachricht wurde nicht gesendet."), "{}", r.body);
    assert!(!r.body.contains("535") && !r.body.contains("5.7."), "{}", r.body);
}

#[tokio::test]
async fn the_mailbox_form_keeps_the_eingangsbestaetigung_through_the_validator() {
    let app = app().await;
    let (admin, csrf) = app.login("admin").await;
    let base = crate::web_http::mailbox_form(&csrf, "save", 1143, "Tipp-Geheim-1");
    let bad = format!("{base}&name=info&ack_enabled=on&ack_hours=0&ack_text={}", enc("Hallo {name}"));
    let r = app.post("/optionen/e-mail/neu", Some(&admin), &bad).await;
    assert!(r.body.contains("zwischen 1 und 720 Stunden"), "{}", r.body);
    assert!(r.body.contains("kennt Postkorb nicht"), "{}", r.body);
    assert!(app.ctx.store.mailbox("info").await.is_err(), "nothing saved");
    let text = "Danke für „{betreff}“ – {bearbeiter} meldet sich.";
    let good = format!("{base}&name=info&ack_enabled=on&ack_hours=48&ack_text={}&ack_unassigned=on", enc(text));
    let r = app.post("/optionen/e-mail/neu", Some(&admin), &good).await;
    assert!(r.status.is_redirection() || r.status == StatusCode::OK, "{}", r.body);
    let ack = app.ctx.store.mailbox("info").await.unwrap().ack;
    assert!(ack.enabled && ack.unassigned && ack.hours == 48 && ack.text == text, "{ack:?}");
    let page = app.get("/optionen/e-mail/info", Some(&admin)).await;
    assert!(page.body.contains("id=\"ack_enabled\" name=\"ack_enabled\" value=\"on\" checked"), "{}", page.body);
}
