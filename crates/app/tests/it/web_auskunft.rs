//! „Auskunft und Löschen auf Antrag“ over HTTP (issue 18): only with „Datenschutz verwalten“ (403
//! for the admin and a clerk, on the page, the ZIP and the erase route), CSRF on the POST, a
//! hostile subject shown escaped, the ZIP downloaded, and „Jetzt löschen“ behind a confirmation.

use axum::http::StatusCode;

use crate::web_http::{app, hostile_item};

const PAGE: &str = "/optionen/datenschutz/auskunft";

#[tokio::test]
async fn auskunft_and_erasure_need_their_right_a_csrf_token_and_a_confirmation() {
    let app = app().await;
    let store = &app.ctx.store;
    let (dora, mailbox) = crate::web_privacy::dora_and_mailbox(&app, &[]).await;
    let bernd = store.find_employee("bernd").await.unwrap().id;
    let anna = store.find_employee("anna").await.unwrap().id;
    // A second mail of Anna's, 300 KB: its ZIP takes several chunks of the streamed download.
    let large = format!(
        "From: Anna <anna@mustermail.de>\r\nSubject: Fotos vom Schaden\r\n\r\n{}\r\n",
        "Bilder folgen. ".repeat(20_000)
    );
    let decision = postkorb_core::Decision::Assign { sender: anna, to: bernd };
    let items = [hostile_item(bernd, anna), crate::web_http::import_item("test:2", large.as_bytes(), decision)];
    store.commit_batch(mailbox, &items, 1).await.unwrap();
    let person = "person=anna%40mustermail.de";

    let (admin, admin_csrf) = app.login("admin").await;
    let (clerk, clerk_csrf) = app.login("bernd").await;
    let (dsb, csrf) = app.login("dora").await;
    for (who, token) in [(&admin, &admin_csrf), (&clerk, &clerk_csrf)] {
        assert_eq!(app.get(&format!("{PAGE}?{person}"), Some(who)).await.status, StatusCode::FORBIDDEN);
        assert_eq!(app.get(&format!("{PAGE}/zip?{person}"), Some(who)).await.status, StatusCode::FORBIDDEN);
        let r = app
            .post(&format!("{PAGE}/loeschen"), Some(who), &format!("csrf={token}&{person}&item=case-1&bestaetigt=ja"))
            .await;
        assert_eq!(r.status, StatusCode::FORBIDDEN);
    }
    let r = app
        .post(&format!("{PAGE}/loeschen"), Some(&dsb), &format!("csrf=falsch&{person}&item=case-1&bestaetigt=ja"))
        .await;
    assert_eq!(r.status, StatusCode::BAD_REQUEST);
    assert!(store.case(1).await.is_ok(), "nothing deleted without the token");

    // The list: where, escaped.
    let page = app.get(&format!("{PAGE}?{person}"), Some(&dsb)).await;
    assert_eq!(page.status, StatusCode::OK);
    assert!(page.body.contains("als Absender") && page.body.contains("Jetzt löschen"), "{}", page.body);
    assert!(!page.body.contains("<script>window"), "the subject is escaped");
    let short = app.get(&format!("{PAGE}?person=ab"), Some(&dsb)).await;
    assert!(short.body.contains("mindestens 3 Zeichen"));

    // The ZIP.
    let zip = app.get(&format!("{PAGE}/zip?{person}"), Some(&dsb)).await;
    assert_eq!(zip.status, StatusCode::OK);
    assert_eq!(zip.headers["content-type"], "application/zip");
    assert!(zip.body.starts_with("PK"));
    // Streamed in chunks: the end of the central directory (its record's signature) arrived too.
    assert!(zip.body.contains("PK\u{5}\u{6}"), "the ZIP ends with its directory");
    assert!(zip.body.contains("index.json"));
    assert!(zip.body.len() > 300_000 && zip.body.contains(&large), "the large mail whole, in several chunks");

    // The same through the API (a token of Dora's): the list, then the large mail erased.
    let token = postkorb_web::new_api_token(store, dora, "test").await.unwrap();
    let api = |method: &str, path: &str, body: Option<&str>| {
        let mut req = axum::http::Request::builder()
            .method(method)
            .uri(format!("/api/v1{path}"))
            .header("authorization", format!("Bearer {}", token.as_str()));
        if body.is_some() {
            req = req.header("content-type", "application/json");
        }
        req.body(axum::body::Body::from(body.unwrap_or("").to_string())).unwrap()
    };
    let list = app.send(api("GET", &format!("/privacy/person?{person}"), None)).await;
    assert_eq!(list.status, StatusCode::OK, "{}", list.body);
    assert!(list.body.contains("\"item\":\"case-2\"") && list.body.contains("\"action\":\"delete\""), "{}", list.body);
    let erase = r#"{"person": "anna@mustermail.de", "item": "case-2", "reason": "Antrag per Brief"}"#;
    let done = app.send(api("POST", "/privacy/erase", Some(erase))).await;
    assert_eq!((done.status, done.body.as_str()), (StatusCode::OK, r#"{"done":"delete","item":"case-2"}"#));
    assert!(store.case(2).await.is_err(), "erased through the API");
    let again = app.send(api("POST", "/privacy/erase", Some(erase))).await;
    assert_eq!(again.status, StatusCode::NOT_FOUND, "found no more");

    // „Jetzt löschen“: first the confirmation, then the deed.
    let form = format!("csrf={csrf}&{person}&item=case-1&grund=Antrag");
    let confirm = app.post(&format!("{PAGE}/loeschen"), Some(&dsb), &form).await;
    assert_eq!(confirm.status, StatusCode::OK);
    assert!(confirm.body.contains("Endgültig löschen?"), "{}", confirm.body);
    assert!(store.case(1).await.is_ok(), "not before the confirmation");
    let done = app.post(&format!("{PAGE}/loeschen"), Some(&dsb), &format!("{form}&bestaetigt=ja")).await;
    assert_eq!(done.status, StatusCode::SEE_OTHER);
    assert!(store.case(1).await.is_err());
    let after = app.get(done.headers["location"].to_str().unwrap(), Some(&dsb)).await;
    assert!(after.body.contains("Gelöscht: Davon ist nichts mehr gespeichert."), "{}", after.body);
    let (log, _) = store.deletion_log(10, 0).await.unwrap();
    assert!(log[0].on_request && log[0].actor == "dora");
}
