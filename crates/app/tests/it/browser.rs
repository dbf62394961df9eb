//! The seed's story in a real browser (Debian Chromium through chromedriver): the real `postkorb serve`,
//! a private Dovecot, and the screens as the office uses them. Every screen visited is saved as a PNG
//! under `target/screenshots/<test>/`.
//!
//! Needs `chromium` and `chromium-driver` (Debian); the tests fail with the install hint without them.

#[path = "browser/harness.rs"]
mod harness;
#[path = "browser/layout.rs"]
mod layout;
#[path = "browser/live.rs"]
mod live;
#[path = "browser/screens.rs"]
mod screens;
#[path = "browser/workday.rs"]
mod workday;

use harness::{App, Driver, Person, eventually, run};
use postkorb_testkit::Dovecot;

const MAILBOX: &str = "vorgaenge@office.test";
const MAILBOX_PASSWORD: &str = "Postfach-Geheim-1";
/// The office's own receiving server: its topmost Authentication-Results vouches for the sender, so
/// the mails need no real DKIM signature (the mailbox trusts this authserv-id).
const AUTHSERV_ID: &str = "mx.office.test";
const VERIFIED: &str = "Authentication-Results: mx.office.test; dkim=pass header.d=mustermail.de; \
                        dmarc=pass header.from=mustermail.de";

const ADMIN: Person = Person {
    name: "Ada Admin",
    username: "admin",
    password: "Admin-Passwort-1",
    permissions: "mail_import,employees",
    email: "",
    license: "",
};
const ANNA: Person = Person { name: "Anna Außendienst", email: "anna@mustermail.de", ..NOBODY };
const BERND: Person =
    Person { name: "Bernd Berater", username: "bernd", password: "Bernd-Passwort-1", license: "TAU-0002", ..NOBODY };
const CLARA: Person = Person {
    name: "Clara Sachbearbeiterin",
    username: "clara",
    password: "Clara-Passwort-1",
    license: "TAU-0003",
    ..NOBODY
};
const NOBODY: Person = Person { name: "", username: "", password: "", email: "", license: "", permissions: "" };

/// A plain German mail from Anna's work address.
fn mail_from_anna(message_id: &str, subject_encoded: &str, body: &str) -> Vec<u8> {
    format!(
        "{VERIFIED}\r\n\
         From: =?UTF-8?Q?Anna_Au=C3=9Fendienst?= <anna@mustermail.de>\r\n\
         To: {MAILBOX}\r\n\
         Subject: {subject_encoded}\r\n\
         Date: Mon, 02 Mar 2026 09:15:00 +0100\r\n\
         Message-ID: <{message_id}@mustermail.de>\r\n\
         MIME-Version: 1.0\r\n\
         Content-Type: text/plain; charset=utf-8\r\n\
         Content-Transfer-Encoding: 8bit\r\n\
         \r\n\
         {}\r\n",
        body.replace('\n', "\r\n")
    )
    .into_bytes()
}

fn dovecot_with_mailbox() -> Dovecot {
    let dovecot = Dovecot::start();
    dovecot.add_user(MAILBOX, MAILBOX_PASSWORD);
    dovecot
}

#[test]
fn the_admin_sets_up_mailbox_and_rows_in_the_browser_and_the_recipient_finds_the_vorgang() {
    run(async {
        let dovecot = dovecot_with_mailbox();
        let mut app = App::new();
        for person in [ADMIN, ANNA, BERND] {
            app.employee(person);
        }
        app.serve();
        let mut driver = Driver::start("story");
        let browser = driver.browser(&app).await;

        // The admin logs in and finds the settings in the menu.
        browser.login(ADMIN.username, ADMIN.password).await;
        browser.screenshot("startmaske").await;
        let menu = browser.menu().await;
        for entry in ["E-Mail-Empfang", "E-Mail-Adressen verwalten", "Nicht zugeordnete E-Mails"] {
            assert!(menu.iter().any(|m| m == entry), "menu entry {entry:?} missing in {menu:?}");
        }

        // „Einstellungen für den E-Mail Empfang“ (Optionen › Allgemeine Einstellungen › E-Mail, the
        // menu's tooltip and the page's breadcrumb): the Dovecot mailbox, tested through the form.
        let entry = browser.find("#nav-optionen").await;
        let path = entry.attr("title").await.unwrap().unwrap_or_default();
        assert!(path.starts_with("Optionen › Allgemeine Einstellungen › E-Mail"), "{path}");
        browser.click("#nav-optionen").await;
        browser.wait_for_text("h1", "Postfächer für den E-Mail Empfang").await;
        browser.click("#new-mailbox").await;
        browser.wait_for_text("h1", "Einstellungen für den E-Mail Empfang").await;
        let hints = browser.page_text().await;
        assert!(
            hints.contains("spezielle E-Mail-Adresse") && hints.contains("EDV"),
            "the seed's hints are missing:\n{hints}"
        );
        browser.screenshot("e-mail-empfang-leer").await;
        browser.fill("#name", "default").await;
        browser.choose_value("#protocol", "imap").await;
        browser.fill("#host", "127.0.0.1").await;
        browser.fill("#port", &dovecot.imap_port().to_string()).await;
        browser.choose_value("#tls", "none").await;
        browser.fill("#username", MAILBOX).await;
        browser.fill("#password", MAILBOX_PASSWORD).await;
        browser.fill("#poll_secs", "1").await;
        browser.click("input[name=verify][value=auth-results]").await;
        browser.fill("#authserv_ids", AUTHSERV_ID).await;
        browser.screenshot("e-mail-empfang-ausgefuellt").await;
        browser.click("#test").await;
        let result = browser.wait_for_text("#test-result", "Verbindung").await;
        browser.screenshot("verbindung-getestet").await;
        assert!(result.contains("Verbindung erfolgreich"), "the connection test failed: {result}");
        assert!(result.contains("0 E-Mails warten"), "{result}");
        let password_field = browser.find("#password").await;
        assert_eq!(password_field.prop("value").await.unwrap().unwrap_or_default(), "", "the password is write-only");
        assert!(
            !browser.client.source().await.unwrap().contains(MAILBOX_PASSWORD),
            "the password came back to the browser"
        );
        // The test saved nothing: the password again, then „Speichern“.
        browser.fill("#password", MAILBOX_PASSWORD).await;
        browser.click("#save").await;
        browser.wait_for_text("#message", "Gespeichert.").await;

        // „E-Mail-Adressen verwalten“: Von Anna → An Bernd through the dropdowns.
        browser.click("#manage-addresses").await;
        browser.wait_for_text("h1", "E-Mail-Adressen verwalten").await;
        browser.screenshot("adressen-leer").await;
        browser.select("#from", "Anna Außendienst <anna@mustermail.de>").await;
        browser.select("#to", "Bernd Berater").await;
        browser.click("#add-route").await;
        let rows = browser.wait_for_text("#routes", "Bernd Berater").await;
        browser.screenshot("adressen-zeile-angelegt").await;
        assert!(rows.contains("Anna Außendienst <anna@mustermail.de>") && rows.contains("aktiv"), "{rows}");
        assert!(!browser.exists("#errors").await, "{}", browser.text("#errors").await);

        // A mail from Anna's work address arrives in the mailbox and is imported.
        dovecot.deliver(
            MAILBOX,
            &mail_from_anna(
                "story-1",
                "=?UTF-8?Q?Schadenmeldung_Familie_M=C3=BCller?=",
                "Hallo Bernd,\nbitte ruf Frau Müller wegen des Wasserschadens zurück.\nGrüße, Anna",
            ),
        );
        app.wait_for_imported_cases(1).await;
        eventually("the mail moved out of the INBOX", || async {
            match dovecot.count(MAILBOX, "INBOX") {
                0 => Ok(()),
                n => Err(format!("{n} in INBOX")),
            }
        })
        .await;

        // The admin leaves; Bernd logs in and finds the Vorgang on his Startmaske.
        browser.logout().await;
        browser.screenshot("abgemeldet").await;
        browser.login(BERND.username, BERND.password).await;
        let cases = browser.wait_for_text("#cases", "Schadenmeldung Familie Müller").await;
        browser.screenshot("startmaske-bernd").await;
        assert!(cases.contains("Anna Außendienst"), "{cases}");
        let menu = browser.menu().await;
        assert_eq!(menu, ["Startmaske", "Suche"], "Bernd has no admin permission");

        browser.click_link("Schadenmeldung Familie Müller").await;
        browser.wait_for_text("h1", "Vorgang").await;
        browser.screenshot("vorgang").await;
        assert_eq!(browser.text("#subject").await, "Schadenmeldung Familie Müller");
        assert_eq!(browser.text("#sender").await, "Anna Außendienst <anna@mustermail.de>");
        assert!(browser.text("#assignee").await.contains("Bernd Berater"));
        let text = browser.text("#text").await;
        assert!(text.contains("bitte ruf Frau Müller wegen des Wasserschadens zurück."), "{text}");

        browser.close().await;
    });
}

#[test]
fn with_two_recipients_for_one_sender_the_first_to_log_in_gets_the_vorgang_and_the_second_does_not() {
    run(async {
        let dovecot = dovecot_with_mailbox();
        let mut app = App::new();
        for person in [ANNA, BERND, CLARA] {
            app.employee(person);
        }
        app.route(ANNA.name, BERND.username);
        app.route(ANNA.name, CLARA.username);
        app.imap_mailbox(dovecot.imap_port(), MAILBOX, MAILBOX_PASSWORD, AUTHSERV_ID);
        app.serve();

        dovecot.deliver(
            MAILBOX,
            &mail_from_anna("pool-1", "Neuer Kunde: Familie Schulz", "Bitte Angebot Hausrat erstellen."),
        );
        app.wait_for_imported_cases(1).await;

        let mut driver = Driver::start("two-recipients");
        let bernd = driver.browser(&app).await;
        let clara = driver.browser(&app).await;

        // Bernd starts first: logging in claims the waiting Vorgang.
        bernd.login(BERND.username, BERND.password).await;
        let mine = bernd.wait_for_text("#cases", "Neuer Kunde: Familie Schulz").await;
        bernd.screenshot("startmaske-erhalten").await;
        assert!(mine.contains("Anna Außendienst"), "{mine}");
        assert!(!bernd.exists("#waiting").await, "nothing is left waiting for Bernd");

        // Clara comes second: neither hers nor waiting, not even after „Synchronisieren“.
        clara.login(CLARA.username, CLARA.password).await;
        clara.screenshot("startmaske-leer").await;
        for attempt in ["after login", "after Synchronisieren"] {
            let page = clara.page_text().await;
            assert!(!page.contains("Familie Schulz"), "Clara sees Bernd's Vorgang {attempt}:\n{page}");
            assert!(
                !clara.exists("#cases").await && !clara.exists("#waiting").await,
                "Clara has a list {attempt}:\n{page}"
            );
            assert!(page.contains("Keine offenen Vorgänge."), "{page}");
            assert!(page.contains("Offen (0)") && page.contains("Alle (0)"), "{page}");
            if attempt == "after login" {
                clara.click("#sync").await;
                clara.wait_for_path("/").await;
                clara.wait_for_text("h1", "Startmaske").await;
                clara.screenshot("startmaske-nach-synchronisieren").await;
            }
        }

        // Bernd opens it: he is the Bearbeiter.
        bernd.click_link("Neuer Kunde: Familie Schulz").await;
        bernd.wait_for_text("#assignee", "Bernd Berater").await;
        bernd.screenshot("vorgang").await;

        bernd.close().await;
        clara.close().await;
    });
}

#[test]
fn a_user_without_the_permission_cannot_reach_the_settings() {
    run(async {
        let mut app = App::new();
        app.employee(CLARA);
        app.serve();
        let mut driver = Driver::start("no-permission");
        let clara = driver.browser(&app).await;

        clara.login(CLARA.username, CLARA.password).await;
        clara.screenshot("startmaske").await;
        assert_eq!(clara.menu().await, ["Startmaske", "Suche"], "no admin entries in the menu");

        for (path, screen) in [
            ("/optionen/e-mail", "optionen-e-mail"),
            ("/optionen/e-mail/adressen", "adressen"),
            ("/nicht-zugeordnet", "nicht-zugeordnet"),
            ("/nicht-zugeordnet/1", "nicht-zugeordnet-1"),
            ("/protokoll", "protokoll"),
            ("/mitarbeiter", "mitarbeiter"),
            ("/mitarbeiter/neu", "mitarbeiter-neu"),
            ("/mitarbeiter/1", "mitarbeiter-1"),
        ] {
            clara.goto(path).await;
            let page = clara.page_text().await;
            clara.screenshot(screen).await;
            assert!(page.contains("Keine Berechtigung"), "{path} is not refused:\n{page}");
            assert!(page.contains("403"), "{path}:\n{page}");
            for leaked in ["#routes", "#new-route", "#save", "#test", "#host"] {
                assert!(!clara.exists(leaked).await, "{path} shows {leaked}");
            }
        }

        // Posting with her own valid CSRF token does not help either.
        clara.goto("/").await;
        let csrf = clara.find("form.logout input[name=csrf]").await.prop("value").await.unwrap().unwrap_or_default();
        for (path, form) in [
            ("/optionen/e-mail/adressen", "from=1&to=1"),
            (
                "/optionen/e-mail/default",
                "action=save&protocol=imap&host=evil.example&port=143&tls=none&username=x&password=y&folder=INBOX\
                 &disposal=move&target_folder=x&maildir_path=&poll_secs=1",
            ),
            ("/optionen/e-mail/adressen/1/loeschen", ""),
            ("/nicht-zugeordnet/1/verwerfen", ""),
            ("/mitarbeiter/neu", "name=Mallory"),
        ] {
            let status = clara
                .client
                .execute_async(
                    "const [path, body, done] = arguments; \
                     fetch(path, { method: 'POST', headers: { 'Content-Type': 'application/x-www-form-urlencoded' }, body })\
                       .then(r => done(r.status), e => done(String(e)));",
                    vec![path.into(), format!("csrf={csrf}&{form}").into()],
                )
                .await
                .unwrap_or_else(|e| panic!("POST {path}: {e}"));
            assert_eq!(status, 403, "POST {path} answered {status}");
        }
        let mailbox = app.try_cli(&["mailbox", "show"], None);
        assert!(matches!(&mailbox, Err(e) if e.contains("not found")), "the refused POST saved a mailbox: {mailbox:?}");
        let routes = app.cli(&["route", "list"], None);
        assert!(!routes.contains("Clara"), "the refused POST added a row:\n{routes}");
        let employees = app.cli(&["employee", "list"], None);
        assert!(!employees.contains("Mallory"), "the refused POST added an employee:\n{employees}");

        clara.close().await;
    });
}

/// Everything a script could do, as a one-liner for the payloads.
const PAYLOAD: &str = "window.__pwned=1;document.title='PWNED';document.documentElement.setAttribute('data-pwned','1')";

fn malicious_mail() -> Vec<u8> {
    let script = format!("<script>{PAYLOAD}</script>");
    let img = format!("<img src=x onerror=\"{PAYLOAD}\">");
    let html = format!(
        "<html><head>{script}<meta http-equiv=\"refresh\" content=\"0;url=javascript:{PAYLOAD}\"></head>\
         <body onload=\"{PAYLOAD}\"><p>Sehr geehrte Damen und Herren,</p>{img}\
         <svg onload=\"{PAYLOAD}\"></svg><iframe srcdoc=\"<script>parent.{PAYLOAD}</script>\"></iframe>\
         <a id=\"jslink\" href=\"javascript:{PAYLOAD}\">Hier klicken</a>\
         <form action=\"javascript:{PAYLOAD}\"><button>Senden</button></form>\
         <img src=\"https://tracker.invalid/pixel.png\"><style>body {{ background: url(javascript:{PAYLOAD}) }}</style></body></html>"
    );
    format!(
        "{VERIFIED}\r\n\
         From: \"<script>{PAYLOAD}</script><img src=x onerror={PAYLOAD}>\" <anna@mustermail.de>\r\n\
         To: {MAILBOX}\r\n\
         Subject: <script>{PAYLOAD}</script> Angebot {img}\r\n\
         Date: Mon, 02 Mar 2026 10:00:00 +0100\r\n\
         Message-ID: <evil-1@mustermail.de>\r\n\
         MIME-Version: 1.0\r\n\
         Content-Type: multipart/mixed; boundary=\"MIXED\"\r\n\
         \r\n\
         --MIXED\r\n\
         Content-Type: multipart/alternative; boundary=\"ALT\"\r\n\
         \r\n\
         --ALT\r\n\
         Content-Type: text/plain; charset=utf-8\r\n\
         \r\n\
         Text mit {script} und {img} darin.\r\n\
         --ALT\r\n\
         Content-Type: text/html; charset=utf-8\r\n\
         \r\n\
         {html}\r\n\
         --ALT--\r\n\
         --MIXED\r\n\
         Content-Type: text/html; name=\"<img src=x onerror={PAYLOAD}>.html\"\r\n\
         Content-Disposition: attachment; filename=\"<script>{PAYLOAD}</script><img src=x onerror={PAYLOAD}>.html\"\r\n\
         \r\n\
         {html}\r\n\
         --MIXED--\r\n"
    )
    .into_bytes()
}

/// The smallest office: Anna's mail goes to Bernd, through the mailbox on a fresh Dovecot; served.
fn anna_mails_bernd() -> (postkorb_testkit::Dovecot, App) {
    let dovecot = dovecot_with_mailbox();
    let mut app = App::new();
    for person in [ANNA, BERND] {
        app.employee(person);
    }
    app.route(ANNA.name, BERND.username);
    app.imap_mailbox(dovecot.imap_port(), MAILBOX, MAILBOX_PASSWORD, AUTHSERV_ID);
    app.serve();
    (dovecot, app)
}

#[test]
fn a_malicious_mail_stays_inert_when_the_recipient_opens_it() {
    run(async {
        let (dovecot, app) = anna_mails_bernd();
        dovecot.deliver(MAILBOX, &malicious_mail());
        app.wait_for_imported_cases(1).await;

        let mut driver = Driver::start("malicious-mail");
        let bernd = driver.browser(&app).await;
        bernd.login(BERND.username, BERND.password).await;
        let cases = bernd.wait_for_text("#cases", "Angebot").await;
        bernd.screenshot("startmaske").await;
        assert!(cases.contains("<script>"), "the subject is shown as text: {cases}");
        bernd.assert_nothing_ran("the Startmaske").await;

        // The Vorgang: the subject, the sender and the text are shown as text, nothing runs.
        bernd.click("#cases a[href^='/vorgang/']").await;
        bernd.wait_for_text("h1", "Vorgang").await;
        let case_path = bernd.path().await;
        // Give onerror/onload handlers the time they would need.
        tokio::time::sleep(std::time::Duration::from_millis(500)).await;
        bernd.screenshot("vorgang").await;
        bernd.assert_nothing_ran("the Vorgang page").await;
        assert!(bernd.text("#subject").await.contains("<script>"), "the subject is shown as text");
        // HTML by default; „Text“ is the other tab of the switch (links, no script).
        assert_eq!(bernd.text(".tabs a.current").await, "HTML");
        bernd.click("#view-text").await;
        bernd.wait_for_text(".tabs a.current", "Text").await;
        bernd.screenshot("vorgang-text").await;
        assert!(bernd.text("#text").await.contains("<script>"), "the text is shown as text");
        bernd.assert_nothing_ran("the Vorgang page as text").await;
        bernd.click("#view-html").await;
        bernd.wait_for_text(".tabs a.current", "HTML").await;
        assert!(bernd.text("#sender").await.contains("anna@mustermail.de"));
        let attachments = bernd.text("#attachments").await;
        assert!(!attachments.is_empty(), "the attachment is listed");
        for link in bernd.client.find_all(fantoccini::Locator::Css("a")).await.unwrap() {
            let href = link.attr("href").await.unwrap().unwrap_or_default();
            assert!(
                !href.trim_start().to_lowercase().starts_with("javascript:"),
                "a javascript: link on the page: {href}"
            );
        }

        // The HTML rendering: a sandboxed frame, no script inside it either.
        let frame = bernd.find("iframe.mailhtml").await;
        let sandbox = frame.attr("sandbox").await.unwrap();
        assert_eq!(
            sandbox.as_deref(),
            Some("allow-popups allow-popups-to-escape-sandbox"),
            "the frame is sandboxed: links may open a new tab, nothing else (no allow-scripts, no allow-same-origin)"
        );
        frame.enter_frame().await.expect("enter the HTML frame");
        let inside = bernd.page_text().await;
        assert!(inside.contains("Sehr geehrte Damen und Herren"), "the HTML part is shown: {inside}");
        for link in bernd.client.find_all(fantoccini::Locator::Css("a, form, iframe, svg, script")).await.unwrap() {
            let tag = link.tag_name().await.unwrap();
            let href = link.attr("href").await.unwrap().unwrap_or_default();
            assert!(
                tag == "a" && !href.to_lowercase().contains("javascript"),
                "left in the sanitised HTML: <{tag} href={href:?}>"
            );
            assert_eq!(link.attr("target").await.unwrap().as_deref(), Some("_blank"), "every link opens a new tab");
        }
        let frame_path = bernd.client.execute("return location.pathname;", vec![]).await.expect("probe the frame");
        assert_eq!(frame_path, format!("{case_path}/html").as_str(), "the checks below run inside the frame");
        if bernd.exists("#jslink").await {
            bernd.click("#jslink").await;
        }
        bernd.assert_nothing_ran("the HTML frame").await;
        bernd.client.enter_parent_frame().await.expect("leave the frame");
        bernd.assert_nothing_ran("the Vorgang page after the frame").await;

        // Even opened on its own, the HTML rendering runs nothing (CSP sandbox).
        bernd.goto(&format!("{case_path}/html")).await;
        tokio::time::sleep(std::time::Duration::from_millis(500)).await;
        bernd.screenshot("html-allein").await;
        bernd.assert_nothing_ran("the HTML rendering opened directly").await;

        bernd.close().await;
    });
}

/// „Konto verbinden“ as with Microsoft or Google: the provider's sign-in page is another site
/// (`localhost` vs `127.0.0.1`), and its way back is a navigation started there, which does not carry
/// the SameSite=Strict session cookie. The flow still completes and the admin lands, logged in, on
/// the settings with „Konto verbunden“.
#[test]
fn konto_verbinden_completes_after_the_providers_cross_site_redirect_in_a_real_browser() {
    run(async {
        let mut app = App::new();
        app.employee(ADMIN);
        app.imap_mailbox(postkorb_testkit::free_port(), MAILBOX, MAILBOX_PASSWORD, AUTHSERV_ID);
        let oauth = postkorb_testkit::OAuthServer::start();
        oauth.approve_devices_for(MAILBOX);
        app.serve();
        let mut driver = Driver::start("oauth-cross-site");
        let admin = driver.browser(&app).await;
        admin.login(ADMIN.username, ADMIN.password).await;
        admin.goto("/optionen/e-mail/default").await;
        admin.choose_value("#oauth_provider", "custom").await;
        admin.fill("#client_id", "postkorb-test").await;
        admin.fill("#auth_url", &oauth.authorize_url("localhost")).await;
        admin.fill("#token_url", &oauth.token_url()).await;
        admin.screenshot("konto-verbinden").await;
        admin.click("#oauth-connect").await;
        admin.wait_for_text("h1", "Konto verbinden").await;
        admin.click("#provider-link").await;
        admin.wait_for_text("#approve", "Zustimmen").await;
        admin.screenshot("anbieter").await;
        admin.click("#approve").await;
        admin.wait_for_text("#oauth-connected", "Konto verbunden").await;
        admin.screenshot("verbunden").await;
        assert_eq!(admin.path().await, "/optionen/e-mail/default");
        assert!(oauth.requests().iter().any(|r| r == "GET /authorize"), "the browser went to the provider");
        let shown = app.cli(&["mailbox", "show"], None);
        assert!(shown.contains("OAuth2 (XOAUTH2)"), "{shown}");
        admin.close().await;
    });
}
