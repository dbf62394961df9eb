//! Working a Vorgang in the web UI (issue 16): Bernd hands his Vorgang to Clara with a hostile
//! note (shown escaped in the Verlauf), the forms need the CSRF token, someone else may neither
//! hand it on nor see it, a stale form gets the German „übernommen“ message as a 409, and a
//! Wiedervorlage moves it between the Startmaske's tabs.

use axum::http::StatusCode;
use postkorb_core::Decision;
use postkorb_store::{MailboxRecord, NewEmployee};

use crate::web_http::{app, hostile_item};

#[tokio::test]
async fn a_vorgang_is_handed_over_with_an_escaped_note_and_a_stale_form_learns_who_took_it() {
    let app = app().await;
    let store = &app.ctx.store;
    let bernd = store.find_employee("bernd").await.unwrap().id;
    let anna = store.find_employee("anna").await.unwrap().id;
    let clara = NewEmployee {
        name: "Clara Czerny".into(),
        username: Some("clara".into()),
        is_current: true,
        license: Some("L3".into()),
        ..Default::default()
    };
    let clara = store.add_employee(&clara, 1).await.unwrap().id;
    store.set_password_hash(clara, &postkorb_web::hash_password(crate::web_http::PW)).await.unwrap();
    let mb = store
        .save_mailbox(&MailboxRecord { name: "t".into(), protocol: "maildir".into(), ..Default::default() }, 1)
        .await
        .unwrap();
    let mut item = hostile_item(bernd, anna);
    item.decision = Decision::Assign { sender: anna, to: bernd };
    store.commit_batch(mb.id, &[item], 1).await.unwrap();
    let (cookie, csrf) = app.login("bernd").await;
    // Clara logged in before: what she gets afterwards is „neu“.
    let (clara_cookie, clara_csrf) = app.login("clara").await;
    app.get("/", Some(&clara_cookie)).await;

    // The page offers the forms; Clara is a receiver, Anna (no licence) is not.
    let page = app.get("/vorgang/1", Some(&cookie)).await.body;
    assert!(page.contains("id=\"handover\"") && page.contains("Clara Czerny"), "{page}");
    assert!(!page.contains(&format!("<option value=\"{}\"", anna.0)), "Anna may not receive");

    // Without the CSRF token: refused, nothing changed.
    let form = format!("an={}&bearbeiter={}&notiz=%3Cscript%3Ewindow.__pwned%3D1%3C%2Fscript%3E", clara.0, bernd.0);
    assert_eq!(app.post("/vorgang/1/weitergeben", Some(&cookie), &form).await.status, StatusCode::BAD_REQUEST);
    assert_eq!(store.case(1).await.unwrap().summary.assignee, Some(bernd.0));

    let r = app.post("/vorgang/1/weitergeben", Some(&cookie), &format!("csrf={csrf}&{form}")).await;
    assert_eq!(r.status, StatusCode::SEE_OTHER, "{}", r.body);
    assert_eq!(store.case(1).await.unwrap().summary.assignee, Some(clara.0));

    // Bernd's stale form again: a German 409 naming Clara; he may no longer open it.
    let r = app.post("/vorgang/1/weitergeben", Some(&cookie), &format!("csrf={csrf}&{form}")).await;
    assert_eq!(r.status, StatusCode::FORBIDDEN, "no longer his: {}", r.body);
    let stale = format!("csrf={clara_csrf}&an={}&bearbeiter={}", bernd.0, bernd.0);
    let r = app.post("/vorgang/1/weitergeben", Some(&clara_cookie), &stale).await;
    assert_eq!(r.status, StatusCode::CONFLICT);
    assert!(r.body.contains("Dieser Vorgang wurde inzwischen von Clara Czerny übernommen."), "{}", r.body);

    // Clara sees it as new, the note escaped in the Verlauf.
    let home = app.get("/", Some(&clara_cookie)).await.body;
    assert!(home.contains("tag-new"), "{home}");
    let page = app.get("/vorgang/1", Some(&clara_cookie)).await.body;
    assert!(page.contains("Bernd hat den Vorgang an Clara Czerny weitergegeben"), "{page}");
    assert!(page.contains("&#60;script&#62;window.__pwned=1&#60;/script&#62;"), "{page}");
    assert!(!page.contains("<script>window.__pwned"), "the note is text");

    // A Wiedervorlage moves it from „Offen“ to „Wiedervorlage“; removing it moves it back.
    let r = app
        .post(
            "/vorgang/1/wiedervorlage",
            Some(&clara_cookie),
            &format!("csrf={clara_csrf}&datum=2099-10-25&uhrzeit=&grund=Antwort"),
        )
        .await;
    assert_eq!(r.status, StatusCode::SEE_OTHER, "{}", r.body);
    let home = app.get("/", Some(&clara_cookie)).await.body;
    assert!(home.contains("Offen (0)") && home.contains("Wiedervorlage (1)"), "{home}");
    let tab = app.get("/?filter=wiedervorlage", Some(&clara_cookie)).await.body;
    assert!(tab.contains("25.10.2099 08:00"), "08:00 on the office's clock: {tab}");
    let r =
        app.post("/vorgang/1/wiedervorlage", Some(&clara_cookie), &format!("csrf={clara_csrf}&datum=01.01.2000")).await;
    assert_eq!(r.status, StatusCode::BAD_REQUEST);
    assert!(r.body.contains("Die Wiedervorlage muss in der Zukunft liegen."), "{}", r.body);
    app.post("/vorgang/1/wiedervorlage", Some(&clara_cookie), &format!("csrf={clara_csrf}&entfernen=1")).await;
    let home = app.get("/", Some(&clara_cookie)).await.body;
    assert!(home.contains("Offen (1)") && home.contains("Wiedervorlage (0)"), "{home}");
    let page = app.get("/vorgang/1", Some(&clara_cookie)).await.body;
    assert!(page.contains("hat eine Wiedervorlage zum 25.10.2099 08:00 gesetzt – Grund: Antwort"), "{page}");
    assert!(page.contains("hat die Wiedervorlage zum 25.10.2099 08:00 entfernt"), "{page}");

    // A note by Clara; an empty one is refused in German.
    let r = app
        .post("/vorgang/1/notiz", Some(&clara_cookie), &format!("csrf={clara_csrf}&text=R%C3%BCckruf+erledigt"))
        .await;
    assert_eq!(r.status, StatusCode::SEE_OTHER);
    let r = app.post("/vorgang/1/notiz", Some(&clara_cookie), &format!("csrf={clara_csrf}&text=+")).await;
    assert_eq!(r.status, StatusCode::BAD_REQUEST);
    assert!(r.body.contains("Bitte schreiben Sie einen Text für die Notiz."));
    // Bernd may not add a note to a Vorgang he cannot see.
    let r = app.post("/vorgang/1/notiz", Some(&cookie), &format!("csrf={csrf}&text=x")).await;
    assert_eq!(r.status, StatusCode::FORBIDDEN);
    assert_eq!(store.notes(1).await.unwrap().len(), 2);
}
