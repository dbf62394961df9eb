//! A day of the office with a Vorgang (issue #16), in Chromium against the real `postkorb serve` and a
//! private Dovecot: Bernd is absent with Clara as Vertreterin; Anna's mail arrives and goes to Clara
//! „in Vertretung für Bernd“; Clara adds a Notiz, sets a Wiedervorlage and hands the Vorgang to Dora;
//! Dora finds it by searching a word of the mail's text (spelled with „ss“ where the mail has „ß“).

use serde_json::json;

use super::harness::{App, Driver, Person, run};
use super::{ANNA, AUTHSERV_ID, BERND, CLARA, MAILBOX, MAILBOX_PASSWORD, NOBODY, dovecot_with_mailbox, mail_from_anna};

const DORA: Person =
    Person { name: "Dora Dienstag", username: "dora", password: "Dora-Passwort-1", license: "TAU-0004", ..NOBODY };

/// `YYYY-MM-DD HH:MM` on the office's clock, `offset_ms` from now.
fn office_time(offset_ms: i64) -> String {
    let now = std::time::SystemTime::now().duration_since(std::time::UNIX_EPOCH).unwrap().as_millis() as i64;
    let (y, m, d, hh, mm) = postkorb_core::time::berlin_civil(now + offset_ms);
    format!("{y:04}-{m:02}-{d:02} {hh:02}:{mm:02}")
}

#[test]
fn bernd_is_away_clara_stands_in_notes_sets_a_wiedervorlage_hands_it_to_dora_who_finds_it_by_searching() {
    run(async {
        let dovecot = dovecot_with_mailbox();
        let mut app = App::new();
        for person in [ANNA, BERND, CLARA, DORA] {
            app.employee(person);
        }
        app.route(ANNA.name, BERND.username);
        app.imap_mailbox(dovecot.imap_port(), MAILBOX, MAILBOX_PASSWORD, AUTHSERV_ID);
        // Bernd is away since an hour, open end, Clara stands in.
        app.cli(
            &["absence", "add", "--employee", "bernd", "--from", &office_time(-3_600_000), "--substitute", "clara"],
            None,
        );
        app.serve();

        dovecot.deliver(
            MAILBOX,
            &mail_from_anna(
                "workday-1",
                "Leitungswasserschaden Familie Weber",
                "Hallo Bernd,\nim Keller in der Gartenstraße 12 steht das Wasser. Bitte melde den Schaden.\nAnna",
            ),
        );
        app.wait_for_imported_cases(1).await;

        let mut driver = Driver::start("workday");
        let browser = driver.browser(&app).await;

        // Clara finds it on her Startmaske and sees for whom she has it.
        browser.login(CLARA.username, CLARA.password).await;
        browser.wait_for_text("main", "Leitungswasserschaden Familie Weber").await;
        browser.screenshot("clara-startmaske").await;
        browser.click_link("Leitungswasserschaden Familie Weber").await;
        let assignee = browser.wait_for_text("#assignee", "in Vertretung für").await;
        assert!(assignee.contains("Clara") && assignee.contains("Bernd Berater"), "{assignee}");
        let history = browser.text("#history").await;
        assert!(history.contains("in Vertretung für Bernd Berater"), "{history}");

        // A Notiz.
        browser.fill("#note-text", "Frau Weber ruft morgen früh zurück.").await;
        browser.click("#note-save").await;
        browser.wait_for_text("#history", "Frau Weber ruft morgen früh zurück.").await;

        // A Wiedervorlage in a week (the date field is set as a browser's date picker would).
        browser.click("#work-follow-up summary").await;
        let (y, m, d, _, _) = postkorb_core::time::berlin_civil(
            std::time::SystemTime::now().duration_since(std::time::UNIX_EPOCH).unwrap().as_millis() as i64
                + 7 * 86_400_000,
        );
        let date = format!("{y:04}-{m:02}-{d:02}");
        browser
            .client
            .execute("document.querySelector('#follow-up-date').value = arguments[0];", vec![json!(date)])
            .await
            .expect("set the date field");
        browser.fill("#follow-up-reason", "Rückruf abwarten").await;
        browser.click("#follow-up-save").await;
        let follow_up = browser.wait_for_text("#follow-up", "08:00").await;
        assert!(follow_up.contains(&format!("{d:02}.{m:02}.{y:04}")), "{follow_up}");
        browser.screenshot("clara-wiedervorlage").await;

        // Hand it to Dora with a note.
        browser.click("#work-handover summary").await;
        browser.select("#handover-to", DORA.name).await;
        browser.fill("#handover-note", "Bitte du übernehmen, ich bin ab morgen im Außendienst.").await;
        browser.click("#handover").await;
        browser.wait_for_text("main", "weitergegeben").await;
        browser.screenshot("clara-weitergegeben").await;
        browser.logout().await;

        // Dora searches a word of the mail's text, spelled with „ss“.
        browser.login(DORA.username, DORA.password).await;
        browser.goto("/suche?q=Gartenstrasse").await;
        let hits = browser.wait_for_text("#hits", "Leitungswasserschaden").await;
        assert!(hits.contains("Dora Dienstag"), "{hits}");
        browser.assert_screen_ok("dora-suche").await;
        browser.click("#hits a[href^='/vorgang/']").await;
        let assignee = browser.wait_for_text("#assignee", "Dora Dienstag").await;
        assert!(!assignee.contains("Vertretung"), "{assignee}");
        let history = browser.text("#history").await;
        for line in [
            "Frau Weber ruft morgen früh zurück.",
            "Rückruf abwarten",
            "an Dora Dienstag weitergegeben",
            "Bitte du übernehmen",
        ] {
            assert!(history.contains(line), "{line:?} missing in the Verlauf:\n{history}");
        }
        browser.assert_screen_ok("dora-vorgang").await;
        browser.close().await;
    });
}
