//! Every screen at a phone's size (390×844) and a desktop's (1366×900), as an admin and as a clerk,
//! with long German names and subjects: each is saved under `target/screenshots/screens/` and must
//! keep the layout rules of [`Browser::assert_screen_ok`] and show its German heading. The test
//! checks headings and layout, not the screens' content, which other tests own.

use fantoccini::Locator;

use super::harness::{App, Browser, Driver, Person, Size, run};
use super::{AUTHSERV_ID, MAILBOX, MAILBOX_PASSWORD, dovecot_with_mailbox};

const ADMIN: Person = Person {
    name: "Maximiliane Schmidt-Rottluff",
    username: "admin",
    password: "Admin-Passwort-1",
    license: "TAU-0001",
    // With „Datenschutz verwalten“: the Vorgang and the kept mail show the Sperre form (issue 18).
    permissions: "mail_import,employees,privacy",
    email: "",
};
const ANNA: Person = Person {
    name: "Anna-Katharina Außendienstmitarbeiterin",
    email: "anna-katharina.aussendienst@mustermail.de",
    ..NOBODY
};
const KONSTANTIN: Person =
    Person { name: "Konstantin Versicherungsvermittler", email: "konstantin@mustermail.de", ..NOBODY };
const BERND: Person = Person {
    name: "Bernd Kundenbetreuer-Hohenzollern",
    username: "bernd",
    password: "Bernd-Passwort-1",
    license: "TAU-0002",
    ..NOBODY
};
const NOBODY: Person = Person { name: "", username: "", password: "", email: "", license: "", permissions: "" };

const HTML_SUBJECT: &str = "Versicherungsangelegenheiten der Hausratversicherung";
const LONG_WORD_SUBJECT: &str = "Krankenversicherungsbeitragsrückerstattung";

/// The verdict of the office's receiving server for a sender of `domain`.
fn verified(domain: &str) -> String {
    format!("Authentication-Results: {AUTHSERV_ID}; dkim=pass header.d={domain}; dmarc=pass header.from={domain}")
}

fn head(from: &str, domain: &str, subject: &str, id: &str) -> String {
    format!(
        "{}\r\nFrom: {from}\r\nTo: {MAILBOX}\r\nSubject: {subject}\r\nDate: Mon, 02 Mar 2026 09:15:00 +0100\r\n\
         Message-ID: <{id}@{domain}>\r\nMIME-Version: 1.0\r\n",
        verified(domain)
    )
}

fn plain(from: &str, domain: &str, subject: &str, id: &str, body: &str) -> Vec<u8> {
    format!(
        "{}Content-Type: text/plain; charset=utf-8\r\nContent-Transfer-Encoding: 8bit\r\n\r\n{}\r\n",
        head(from, domain, subject, id),
        body.replace('\n', "\r\n")
    )
    .into_bytes()
}

/// An HTML mail with a text part, a PDF and a picture attached.
fn html_with_attachments() -> Vec<u8> {
    let html = "<html><body><h2>Hausratversicherung</h2><p>Sehr geehrte Damen und Herren,</p>\
                <p>anbei die Unterlagen zur <b>Versicherungsangelegenheit</b> der Familie Müller-Lüdenscheidt: \
                Schadensaufstellung, Kostenvoranschlag und Fotos der Wohnung.</p>\
                <table border=\"1\"><tr><td>Schadenstag</td><td>28.02.2026</td></tr>\
                <tr><td>Schadenshöhe</td><td>4.850,00 EUR</td></tr></table>\
                <p>Mit freundlichen Grüßen<br>Anna-Katharina</p></body></html>";
    format!(
        "{}Content-Type: multipart/mixed; boundary=\"MIXED\"\r\n\r\n\
         --MIXED\r\nContent-Type: multipart/alternative; boundary=\"ALT\"\r\n\r\n\
         --ALT\r\nContent-Type: text/plain; charset=utf-8\r\nContent-Transfer-Encoding: 8bit\r\n\r\n\
         Sehr geehrte Damen und Herren,\r\nanbei die Unterlagen zur Versicherungsangelegenheit.\r\n\
         --ALT\r\nContent-Type: text/html; charset=utf-8\r\nContent-Transfer-Encoding: 8bit\r\n\r\n{html}\r\n\
         --ALT--\r\n\
         --MIXED\r\nContent-Type: application/pdf; name=\"Schadensaufstellung-Hausratversicherung-Mueller.pdf\"\r\n\
         Content-Disposition: attachment; filename=\"Schadensaufstellung-Hausratversicherung-Mueller.pdf\"\r\n\
         Content-Transfer-Encoding: base64\r\n\r\nJVBERi0xLjQKJcfsj6IKMSAwIG9iago8PC9UeXBlL0NhdGFsb2c+PgplbmRvYmoKJSVFT0YK\r\n\
         --MIXED\r\nContent-Type: image/png; name=\"Foto Wasserschaden Küche.png\"\r\n\
         Content-Disposition: attachment; filename*=UTF-8''Foto%20Wasserschaden%20K%C3%BCche.png\r\n\
         Content-Transfer-Encoding: base64\r\n\r\n\
         iVBORw0KGgoAAAANSUhEUgAAAAEAAAABCAYAAAAfFcSJAAAADUlEQVR4nGP4z8DwHwAFAAH/iZk9HQAAAABJRU5ErkJggg==\r\n\
         --MIXED--\r\n",
        head(
            "=?UTF-8?Q?Anna-Katharina_Au=C3=9Fendienstmitarbeiterin?= <anna-katharina.aussendienst@mustermail.de>",
            "mustermail.de",
            HTML_SUBJECT,
            "screens-html",
        ),
    )
    .into_bytes()
}

/// An office with rows, Vorgänge for the admin and for Bernd and one mail nobody was assigned.
fn office() -> (postkorb_testkit::Dovecot, App) {
    let dovecot = dovecot_with_mailbox();
    let mut app = App::new();
    for person in [ADMIN, ANNA, KONSTANTIN, BERND] {
        app.employee(person);
    }
    app.route(ANNA.name, BERND.username);
    app.route(KONSTANTIN.name, ADMIN.username);
    app.imap_mailbox(dovecot.imap_port(), MAILBOX, MAILBOX_PASSWORD, AUTHSERV_ID);
    // Issue 17: a webhook with a long name (its deliveries wait: nothing answers at that address).
    app.cli(
        &["webhook", "add", "Maklerverwaltung Hohenzollern-Sigmaringen", "https://203.0.113.10/postkorb/eingang"],
        None,
    );
    // Issue 20: a Microsoft 365 mailbox read through Graph (disabled: graph.microsoft.com is not
    // reachable from the tests), for its form with the permissions and application access.
    app.cli(
        &[
            "mailbox",
            "set",
            "--name",
            "m365",
            "--protocol",
            "graph",
            "--username",
            "vorgaenge@buero.test",
            "--disabled",
        ],
        None,
    );
    app.serve();
    let anna = "=?UTF-8?Q?Anna-Katharina_Au=C3=9Fendienstmitarbeiterin?= <anna-katharina.aussendienst@mustermail.de>";
    for mail in [
        html_with_attachments(),
        plain(
            anna,
            "mustermail.de",
            "=?UTF-8?Q?Krankenversicherungsbeitragsr=C3=BCckerstattung?=",
            "screens-long",
            "Bitte die Krankenversicherungsbeitragsrückerstattung für Herrn Özdemir prüfen:\n\
             https://www.beispiel-krankenversicherung.de/service/beitragsrueckerstattung/antrag?vertrag=KV-2026-0042",
        ),
        plain(
            "Konstantin Versicherungsvermittler <konstantin@mustermail.de>",
            "mustermail.de",
            "=?UTF-8?Q?R=C3=BCckfrage_zur_Kfz-Haftpflichtversicherung?=",
            "screens-admin",
            "Guten Morgen, bitte um Rückruf wegen der Kfz-Haftpflichtversicherung.",
        ),
        plain(
            "Friederike Unbekannt <friederike.unbekannt@beispiel-versicherungsmakler.de>",
            "beispiel-versicherungsmakler.de",
            "=?UTF-8?Q?Schadensregulierung_Wohngeb=C3=A4udeversicherung?=",
            "screens-kept",
            "Eine E-Mail von jemandem, den das Büro nicht kennt.",
        ),
    ] {
        dovecot.deliver(MAILBOX, &mail);
    }
    (dovecot, app)
}

#[test]
fn every_screen_is_usable_on_a_phone_and_on_a_desktop() {
    run(async {
        let (_dovecot, app) = office();
        app.wait_for_import(3, 1).await;
        let mut driver = Driver::start("screens");
        for size in [Size::PHONE, Size::DESKTOP] {
            let bernd = driver.browser_at(&app, size).await;
            clerks_screens(&bernd, size).await;
            bernd.close().await;
            let admin = driver.browser_at(&app, size).await;
            admins_screens(&admin, size).await;
            admin.close().await;
        }
    });
}

/// Opens `path`, waits for its heading and checks the screen.
async fn visit(b: &Browser, size: Size, path: &str, heading: &str, name: &str) {
    b.goto(path).await;
    b.wait_for_text("h1", heading).await;
    b.assert_screen_ok(&format!("{}-{name}", size.label())).await;
}

/// The addresses of the links in `main` matching `css` and containing `text`.
async fn link_to(b: &Browser, css: &str, text: &str) -> String {
    for link in b.client.find_all(Locator::Css(css)).await.expect("links") {
        if link.text().await.expect("link text").contains(text) {
            return link.attr("href").await.expect("href").expect("a link without href");
        }
    }
    panic!("no link {css} with {text:?} on {}", b.path().await)
}

/// The menu: on a phone behind „Menü“ (naming the screen), open it shows every entry, „Mein Konto“
/// and „Abmelden“; on a desktop all of it at once.
async fn check_menu(b: &Browser, size: Size) {
    let entries = ["#nav-start", "#nav-konto", "form.logout button"];
    if size.phone {
        assert!(b.text(".menu-button").await.contains("Startmaske"), "the bar names the open screen");
        for css in entries {
            assert!(!b.find(css).await.is_displayed().await.unwrap(), "{css} shows before the menu is opened");
        }
        b.click(".menu-button").await;
        b.assert_screen_ok(&format!("{}-menue-offen", size.label())).await;
    }
    for css in entries {
        assert!(b.find(css).await.is_displayed().await.unwrap(), "{css} is not reachable at {size:?}");
    }
}

async fn clerks_screens(b: &Browser, size: Size) {
    let w = size.label();
    visit(b, size, "/anmeldung", "Anmeldung", "anmeldung").await;
    b.login(BERND.username, BERND.password).await;
    b.assert_page_scripts_blocked().await;
    b.wait_for_text("main", HTML_SUBJECT).await;
    b.assert_screen_ok(&format!("{w}-startmaske")).await;
    check_menu(b, size).await;

    let html_case = link_to(b, "main a[href^='/vorgang/']", HTML_SUBJECT).await;
    let long_case = link_to(b, "main a[href^='/vorgang/']", LONG_WORD_SUBJECT).await;
    visit(b, size, &html_case, "Vorgang", "vorgang-html-anhaenge").await;
    assert!(b.exists("iframe").await, "the HTML mail is shown");
    assert!(b.exists("a[href*='/anhang/']").await, "the attachments are listed");
    visit(b, size, &long_case, "Vorgang", "vorgang-langes-wort").await;
    // Issue 16: the forms of working a Vorgang and the Startmaske's tabs.
    assert!(b.exists("#work-handover").await && b.exists("#note-form").await, "Weitergeben and Notiz are offered");
    visit(b, size, "/?filter=wiedervorlage", "Startmaske", "startmaske-wiedervorlage").await;
    visit(b, size, "/?filter=alle", "Startmaske", "startmaske-alle").await;
    visit(b, size, "/konto", "Mein Konto", "mein-konto").await;
    visit(b, size, "/konto/passwort", "Passwort ändern", "passwort-aendern").await;
    // Issue 17: one's own notifications, saved once (the notice after it).
    visit(b, size, "/konto/benachrichtigungen", "Benachrichtigungen", "benachrichtigungen").await;
    b.click("#save-notifications").await;
    b.wait_for_text("main", "Benachrichtigungen gespeichert.").await;
    b.assert_screen_ok(&format!("{w}-benachrichtigungen-gespeichert")).await;
    // „Abwesenheit“: empty, then with one entered (from now, open end; the second size sees the
    // refusal of an overlapping one next to „Von“), and the confirmation of ending it.
    visit(b, size, "/konto/abwesenheit", "Meine Abwesenheit", "abwesenheit").await;
    b.click("#add-absence").await;
    b.wait_for_text("main", "Aktuelle und geplante Abwesenheiten").await;
    assert!(b.exists("#absences").await, "the absence is listed");
    b.assert_screen_ok(&format!("{w}-abwesenheit-eingetragen")).await;
    b.click("#absences button").await;
    b.wait_for_text("h1", "Abwesenheit beenden?").await;
    b.assert_screen_ok(&format!("{w}-abwesenheit-beenden")).await;
    b.click("#cancel").await;
    b.wait_for_text("h1", "Meine Abwesenheit").await;

    // The 403 page names the missing right and keeps the menu and „Abmelden“.
    for (path, name, right) in [
        (
            "/optionen/e-mail",
            "403-e-mail-empfang",
            "Zugriffsrecht „E-Mails automatisch einlesen“ (Bereich „Startmaske“)",
        ),
        ("/mitarbeiter", "403-mitarbeiter", "Zugriffsrecht „Mitarbeiter verwalten“"),
    ] {
        visit(b, size, path, "Keine Berechtigung", name).await;
        let text = b.text("main").await;
        assert!(text.contains(right) && text.contains("Fragen Sie Ihre Administration."), "{path}:\n{text}");
        assert!(b.exists("#nav-start").await && b.exists("form.logout button").await, "{path}: no menu");
    }
    visit(b, size, "/gibt-es-nicht", "Nicht gefunden", "404").await;
    assert!(b.exists("form.logout button").await, "the 404 page has the menu");
    assert!(b.exists("#back-home").await, "the 404 page leads back to the Startmaske");
}

async fn admins_screens(b: &Browser, size: Size) {
    b.login(ADMIN.username, ADMIN.password).await;
    b.wait_for_text("main", "Kfz-Haftpflichtversicherung").await;
    b.assert_screen_ok(&format!("{}-startmaske", size.label())).await;
    check_menu(b, size).await;
    let case = link_to(b, "main a[href^='/vorgang/']", "Kfz-Haftpflichtversicherung").await;
    visit(b, size, &case, "Vorgang", "vorgang").await;
    assert!(b.exists("#hold-form").await, "the Sperre form is on the Vorgang page, in the screen checked");

    visit(b, size, "/optionen/e-mail", "Postfächer für den E-Mail Empfang", "postfaecher").await;
    let edit = link_to(b, "main a[href^='/optionen/e-mail/']", "default").await;
    visit(b, size, &edit, "Einstellungen für den E-Mail Empfang", "e-mail-empfang").await;
    visit(b, size, "/optionen/e-mail/neu", "Einstellungen für den E-Mail Empfang", "neues-postfach").await;
    b.goto("/optionen/e-mail/m365").await;
    b.wait_for_text("h1", "Einstellungen für den E-Mail Empfang").await;
    b.click("#graph-berechtigungen summary").await;
    assert!(b.exists("#app-form").await, "a Graph mailbox offers application access");
    b.assert_screen_ok(&format!("{}-microsoft-365-graph", size.label())).await;
    visit(b, size, "/optionen/e-mail/versand", "E-Mail-Versand", "e-mail-versand").await;
    visit(b, size, "/optionen/e-mail/adressen", "E-Mail-Adressen verwalten", "adressen").await;
    // Löschen asks first: the confirmation page, then back without deleting.
    b.click("form[action$='/loeschen'] button").await;
    b.wait_for_text("h1", "löschen").await;
    b.assert_screen_ok(&format!("{}-bestaetigung", size.label())).await;
    b.click("#cancel").await;
    b.wait_for_text("h1", "E-Mail-Adressen verwalten").await;

    visit(b, size, "/mitarbeiter", "Mitarbeiter", "mitarbeiter").await;
    let bernd = link_to(b, "main a[href^='/mitarbeiter/']", BERND.name).await;
    visit(b, size, &bernd, "Mitarbeiter", "mitarbeiter-bearbeiten").await;
    let absence = link_to(b, "main a[href$='/abwesenheit']", "Abwesenheit").await;
    visit(b, size, &absence, "Abwesenheit", "mitarbeiter-abwesenheit").await;
    visit(b, size, "/mitarbeiter/neu", "Mitarbeiter", "mitarbeiter-neu").await;

    visit(b, size, "/nicht-zugeordnet", "Nicht zugeordnete E-Mails", "nicht-zugeordnet").await;
    let kept = link_to(b, "main a[href^='/nicht-zugeordnet/']", "Wohngebäudeversicherung").await;
    visit(b, size, &kept, "Nicht zugeordnete E-Mail", "nicht-zugeordnet-detail").await;
    assert!(b.exists("#hold-form").await, "the Sperre form is on the kept mail's page, in the screen checked");
    visit(b, size, "/protokoll", "Protokoll", "protokoll").await;
    // Issue 18: the log filtered, the Aufbewahrungsfristen, the Löschprotokoll.
    let filtered = "/protokoll?art=add_route&wer=admin&von=2026-01-01&bis=2099-12-31";
    visit(b, size, filtered, "Protokoll", "protokoll-gefiltert").await;
    visit(b, size, "/optionen/datenschutz", "Datenschutz", "datenschutz").await;
    visit(b, size, "/optionen/datenschutz/loeschprotokoll", "Löschprotokoll", "loeschprotokoll").await;
    visit(b, size, "/optionen/webhooks", "Webhooks", "webhooks").await;
    visit(b, size, "/optionen/zustellungen", "Zustellungen", "zustellungen").await;
    // The search with its filters (Bearbeiter too, for the admin) and hits with marked words.
    visit(b, size, "/suche?q=Versicherung", "Suche", "suche").await;
    visit(b, size, "/konto", "Mein Konto", "mein-konto").await;
    the_check_sees_a_broken_layout(b).await;
}

/// The check itself sees what it forbids: with letter-breaking CSS added to the page (inline
/// styles are allowed by the CSP), a box wider than the window and a squeezed button, it reports
/// each of them.
async fn the_check_sees_a_broken_layout(b: &Browser) {
    b.client
        .execute(
            "const s = document.createElement('style'); \
             s.textContent = 'h1 { width: 3em; overflow-wrap: anywhere; } \
                              main { min-width: 3000px; } button { width: 3em; white-space: normal; }'; \
             document.head.appendChild(s);",
            vec![],
        )
        .await
        .expect("add a broken style");
    let report = b.layout_report().await;
    for key in ["broken", "styles", "wide", "buttons"] {
        let found = report[key].as_array().map(Vec::len).unwrap_or(0);
        assert!(found > 0, "the check missed the {key} findings: {report}");
    }
    assert!(report["scrollWidth"].as_i64() > report["vw"].as_i64(), "{report}");
}
