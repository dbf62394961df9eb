//! The live Startmaske in Chromium (issue #17): Bernd has the Startmaske open, Anna's mail arrives
//! through the test Dovecot and the importer of `postkorb serve`, and its row appears at the top of
//! the open list without a reload — the hostile Betreff as text, „1 neuer Vorgang“, „(1)“ in the
//! tab's title, „Offen (1)“.

use serde_json::{Value, json};

use super::harness::{Driver, eventually, run};
use super::{ANNA, BERND, MAILBOX, mail_from_anna};

const HOSTILE: &str = "<script>window.__pwned=1</script> Eilt: Kfz-Schaden";

#[test]
fn a_mail_for_me_appears_on_the_open_startmaske_without_a_reload_as_text() {
    run(async {
        let (dovecot, app) = super::anna_mails_bernd();

        let mut driver = Driver::start("live");
        let b = driver.browser(&app).await;
        b.login(BERND.username, BERND.password).await;
        b.wait_for_text("main", "Keine offenen Vorgänge.").await;
        // A mark on this page: still there afterwards means it was not loaded again.
        b.client.execute("window.__same_page = 1;", vec![]).await.unwrap();
        // The stream is open before the mail comes (the reader starts at the end of the log).
        eventually("the live stream to open", || async {
            let state = b.client.execute("return document.readyState;", vec![]).await.map_err(|e| e.to_string())?;
            if state == json!("complete") { Ok(()) } else { Err(state.to_string()) }
        })
        .await;
        tokio::time::sleep(std::time::Duration::from_millis(500)).await;

        dovecot.deliver(MAILBOX, &mail_from_anna("live-1", HOSTILE, "Hallo Bernd,\nbitte melden.\nAnna"));
        app.wait_for_imported_cases(1).await;

        let row = b.wait_for_text("#cases tr.new", "Eilt: Kfz-Schaden").await;
        assert!(row.contains(HOSTILE) && row.contains("neu"), "the Betreff as text: {row}");
        assert_eq!(b.text("#cases tr.new a").await, HOSTILE);
        assert!(b.text("#cases tr.new").await.contains(ANNA.name), "the Absender");
        b.wait_for_text("#live-notice", "1 neuer Vorgang").await;
        b.wait_for_text("#filter-offen", "Offen (1)").await;
        let seen = b
            .client
            .execute(
                "return { title: document.title, same: window.__same_page === 1, \
                 scripts: document.querySelectorAll('main script').length };",
                vec![],
            )
            .await
            .unwrap();
        assert_eq!(seen["title"], "(1) Startmaske – Postkorb", "{seen}");
        assert_eq!(seen["same"], Value::Bool(true), "the page was not reloaded: {seen}");
        assert_eq!(seen["scripts"], 1, "only live.js, nothing inserted as a script: {seen}");
        b.assert_nothing_ran("the live Startmaske").await;
        b.screenshot("startmaske-live").await;
        b.assert_screen_ok("startmaske-live").await;

        // The link opens the Vorgang.
        b.click("#cases tr.new a").await;
        b.wait_for_text("h1", "Vorgang").await;
    });
}
