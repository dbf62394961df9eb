//! Vertretung on the screens: the Vertreterin sees the absent colleague's open Vorgänge under „In
//! Vertretung“, may open and close them during the absence only; admins see what waits for an
//! absent recipient without Vertretung; anyone else is refused.

use axum::http::StatusCode;
use postkorb_core::{Absence, Decision, EmployeeId};
use postkorb_store::{ImportItem, NewEmployee};

use crate::web_http::{PW, app};

fn now() -> i64 {
    std::time::SystemTime::now().duration_since(std::time::UNIX_EPOCH).unwrap().as_millis() as i64
}

fn item(key: &str, subject: &str, decision: Decision) -> ImportItem {
    let raw = format!("From: Anna <anna@mustermail.de>\r\nSubject: {subject}\r\n\r\nText\r\n").into_bytes();
    ImportItem {
        source_key: key.into(),
        fingerprint: postkorb_mail::fingerprint(&raw, Some(key)),
        raw_sha256: postkorb_mail::digests(&raw, Some(key)).raw_sha256,
        mail: postkorb_mail::parse(&raw),
        raw: raw.into(),
        decision,
        raw_written: false,
    }
}

#[tokio::test]
async fn the_vertreterin_works_the_absent_colleagues_vorgaenge_only_during_the_absence() {
    let app = app().await;
    let store = &app.ctx.store;
    let anna = store.find_employee("anna").await.unwrap().id;
    let bernd = store.find_employee("bernd").await.unwrap().id;
    let new = NewEmployee {
        name: "Clara Chef".into(),
        username: Some("clara".into()),
        is_current: true,
        license: Some("L3".into()),
        ..Default::default()
    };
    let clara = store.add_employee(&new, 1).await.unwrap().id;
    store.set_password_hash(clara, &postkorb_web::hash_password(PW)).await.unwrap();
    let mb = postkorb_store::MailboxRecord { name: "t".into(), protocol: "maildir".into(), ..Default::default() };
    let mailbox = store.save_mailbox(&mb, 1).await.unwrap().id;
    let to_bernd = Decision::Assign { sender: anna, to: bernd };
    store.commit_batch(mailbox, &[item("k1", "Schaden <b>Meier</b>", to_bernd.clone())], now()).await.unwrap();

    let (clara_cookie, clara_csrf) = app.login("clara").await;
    let (admin_cookie, _) = app.login("admin").await;
    assert_eq!(app.get("/vorgang/1", Some(&clara_cookie)).await.status, StatusCode::FORBIDDEN, "not yet away");

    // Bernd is away without Vertretung: his Vorgang waits for him, and admins see it.
    let away = |vertreter: Option<EmployeeId>| Absence {
        id: 0,
        employee: bernd,
        from_ms: now() - 60_000,
        until_ms: Some(now() + 3_600_000),
        substitute: vertreter,
    };
    let alone = store.add_absence(&away(None), "bernd", now()).await.unwrap().unwrap();
    let admin_home = app.get("/", Some(&admin_cookie)).await.body;
    assert!(admin_home.contains("Wartet auf abwesenden Empfänger"), "{admin_home}");
    assert!(admin_home.contains("Schaden &#60;b&#62;Meier&#60;/b&#62;") || admin_home.contains("Schaden &lt;b&gt;"));
    let clara_home = app.get("/", Some(&clara_cookie)).await.body;
    assert!(!clara_home.contains("Wartet auf abwesenden Empfänger") && !clara_home.contains("In Vertretung"));
    store.end_absence(alone, "bernd", now()).await.unwrap();

    // With Clara as Vertreterin: she sees it, opens it and closes it.
    let covered = store.add_absence(&away(Some(clara)), "bernd", now()).await.unwrap().unwrap();
    let clara_home = app.get("/", Some(&clara_cookie)).await.body;
    assert!(clara_home.contains("<h2>In Vertretung</h2>"), "{clara_home}");
    assert!(clara_home.contains("<a href=\"/vorgang/1\">"), "{clara_home}");
    assert_eq!(app.get("/vorgang/1", Some(&clara_cookie)).await.status, StatusCode::OK);
    let anna_cookie = app.login("anna").await.0;
    assert_eq!(app.get("/vorgang/1", Some(&anna_cookie)).await.status, StatusCode::FORBIDDEN, "not the Vertreterin");
    let r = app.post("/vorgang/1/status", Some(&clara_cookie), "csrf=falsch&done=1").await;
    assert_eq!(r.status, StatusCode::BAD_REQUEST, "CSRF");
    let r = app.post("/vorgang/1/status", Some(&clara_cookie), &format!("csrf={clara_csrf}&done=1")).await;
    assert_eq!(r.status, StatusCode::SEE_OTHER);
    assert_eq!(store.case(1).await.unwrap().summary.status, "done");

    // A new mail for Bernd goes to Clara, and the page says for whom.
    store.commit_batch(mailbox, &[item("k2", "Termin", to_bernd)], now()).await.unwrap();
    let page = app.get("/vorgang/2", Some(&clara_cookie)).await.body;
    assert!(page.contains("Clara Chef in Vertretung für Bernd"), "{page}");
    assert!(page.contains("zugeordnet an Clara Chef in Vertretung für Bernd"), "{page}");

    // The absence ends: Bernd's Vorgang 1 is his alone again.
    store.end_absence(covered, "bernd", now()).await.unwrap();
    assert_eq!(app.get("/vorgang/1", Some(&clara_cookie)).await.status, StatusCode::FORBIDDEN);
    assert!(!app.get("/", Some(&clara_cookie)).await.body.contains("In Vertretung"));
}
