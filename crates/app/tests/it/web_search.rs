//! „Suche“ over HTTP (issue #16 item 5): a clerk finds their own Vorgänge and the waiting ones they
//! may claim, never another's (screen and API), and a hostile mail's words are marked but stay
//! text. The store's tests (`crates/store/tests/it/search.rs`) cover words, filters and pages.

use axum::http::StatusCode;
use postkorb_core::{Decision, EmployeeId, Permission};
use postkorb_store::{ImportItem, NewEmployee};

use crate::web_http::{App, PW, app};

fn item(key: &str, raw: &[u8], decision: Decision) -> ImportItem {
    crate::web_http::import_item(key, raw, decision)
}

fn mail(subject: &str, text: &str) -> Vec<u8> {
    format!("From: Anna A <anna@mustermail.de>\r\nSubject: {subject}\r\n\r\n{text}\r\n").into_bytes()
}

async fn employee(app: &App, name: &str, permissions: Vec<Permission>) -> EmployeeId {
    let new = NewEmployee {
        name: name.into(),
        username: Some(name.to_lowercase()),
        is_current: true,
        license: Some("L9".into()),
        work_email: None,
        permissions,
    };
    let e = app.ctx.store.add_employee(&new, 1).await.unwrap();
    app.ctx.store.set_password_hash(e.id, &postkorb_web::hash_password(PW)).await.unwrap();
    e.id
}

#[tokio::test]
async fn a_clerk_finds_only_what_they_may_open_and_hostile_words_stay_text() {
    let app = app().await;
    let store = &app.ctx.store;
    let anna = store.find_employee("anna").await.unwrap().id;
    let bernd = store.find_employee("bernd").await.unwrap().id;
    let clara = employee(&app, "Clara", vec![]).await;
    let dora = employee(&app, "Dora", vec![]).await;
    let mb = postkorb_store::MailboxRecord { name: "t".into(), protocol: "maildir".into(), ..Default::default() };
    let mb = store.save_mailbox(&mb, 1).await.unwrap().id;
    let to = |e| Decision::Assign { sender: anna, to: e };
    let hostile = mail("<script>alert(1)</script> Wasserschaden", "Der Schaden <img src=x onerror=alert(1)>");
    let items = [
        item("b", &hostile, to(bernd)),
        item("c", &mail("Schaeden bei Clara", "x"), to(clara)),
        item("p", &mail("Schäden für beide", "x"), Decision::Pool { sender: anna, candidates: vec![clara, dora] }),
    ];
    store.commit_batch(mb, &items, 1).await.unwrap();

    // Clara: her own and the waiting one, not Bernd's; the waiting one opens for her.
    let (cookie, _) = app.login("clara").await;
    let page = app.get("/suche?q=Schaden", Some(&cookie)).await;
    assert_eq!(page.status, StatusCode::OK);
    assert!(page.body.contains("<mark>Schaeden</mark> bei Clara"), "{}", page.body);
    assert!(page.body.contains("<mark>Schäden</mark> für beide"), "{}", page.body);
    assert!(!page.body.contains("Wasserschaden"), "Bernd's Vorgang: {}", page.body);
    assert_eq!(app.get("/vorgang/3", Some(&cookie)).await.status, StatusCode::OK);
    assert!(!page.body.contains("id=\"bearbeiter\""), "a clerk filters no other Bearbeiter");

    // Bernd: his hostile Vorgang, marked, inert.
    let (cookie, _) = app.login("bernd").await;
    let page = app.get("/suche?q=Schaden+script", Some(&cookie)).await.body;
    assert!(page.contains("&lt;<mark>script</mark>&gt;alert(1)&lt;/<mark>script</mark>&gt; Wasserschaden"), "{page}");
    assert!(!page.contains("<script>alert") && !page.contains("<img src=x"), "{page}");
    assert!(!page.contains("bei Clara") && !page.contains("für beide"), "{page}");
    // A query that is markup comes back as text in the field.
    let page = app.get("/suche?q=%22%3E%3Cscript%3Ealert(2)%3C/script%3E", Some(&cookie)).await.body;
    assert!(!page.contains("<script>alert(2)"), "{page}");

    // The API: the same rule for the token's owner.
    let token = postkorb_web::new_api_token(store, clara, "t").await.unwrap();
    let req = axum::http::Request::get("/api/v1/search?q=Schaden")
        .header("authorization", format!("Bearer {token}"))
        .body(axum::body::Body::empty())
        .unwrap();
    let r = app.send(req).await;
    assert_eq!(r.status, StatusCode::OK);
    let body: serde_json::Value = serde_json::from_str(&r.body).unwrap();
    let mut ids: Vec<i64> =
        body["hits"].as_array().unwrap().iter().map(|h| h["case"]["id"].as_i64().unwrap()).collect();
    ids.sort();
    assert_eq!(ids, [2, 3]);
    // Not logged in: the login page.
    assert_ne!(app.get("/suche?q=Schaden", None).await.status, StatusCode::OK);
}
