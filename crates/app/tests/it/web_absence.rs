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

/// Clara (user name `clara`, a licence), who may receive and stand in.
async fn licensed_clara(store: &postkorb_store::Store, name: &str) -> EmployeeId {
    let new = NewEmployee {
        name: name.into(),
        username: Some("clara".into()),
        is_current: true,
        license: Some("L3".into()),
        ..Default::default()
    };
    store.add_employee(&new, 1).await.unwrap().id
}

fn item(key: &str, subject: &str, decision: Decision) -> ImportItem {
    let raw = format!("From: Anna <anna@mustermail.de>\r\nSubject: {subject}\r\n\r\nText\r\n").into_bytes();
    crate::web_http::import_item(key, &raw, decision)
}

#[tokio::test]
async fn the_vertreterin_works_the_absent_colleagues_vorgaenge_only_during_the_absence() {
    let app = app().await;
    let store = &app.ctx.store;
    let anna = store.find_employee("anna").await.unwrap().id;
    let bernd = store.find_employee("bernd").await.unwrap().id;
    let clara = licensed_clara(store, "Clara Chef").await;
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
    assert!(page.contains("zugeordnet an Clara Chef (in Vertretung für Bernd)"), "{page}");

    // The absence ends: Bernd's Vorgang 1 is his alone again.
    store.end_absence(covered, "bernd", now()).await.unwrap();
    assert_eq!(app.get("/vorgang/1", Some(&clara_cookie)).await.status, StatusCode::FORBIDDEN);
    assert!(!app.get("/", Some(&clara_cookie)).await.body.contains("In Vertretung"));
}

/// (date, time) of `ms` on the office's clock, as the form's fields take them.
fn fields(ms: i64) -> (String, String) {
    let (y, m, d, hh, mm) = postkorb_core::time::berlin_civil(ms);
    (format!("{y:04}-{m:02}-{d:02}"), format!("{hh:02}:{mm:02}"))
}

#[tokio::test]
async fn an_employee_enters_and_ends_their_own_absence_and_nobody_elses() {
    let app = app().await;
    let store = &app.ctx.store;
    let anna = store.find_employee("anna").await.unwrap().id;
    let bernd = store.find_employee("bernd").await.unwrap().id;
    let clara = licensed_clara(store, "Clara <i>Chef</i>").await;
    let (cookie, csrf) = app.login("bernd").await;
    let page = app.get("/konto/abwesenheit", Some(&cookie)).await;
    assert_eq!(page.status, StatusCode::OK);
    assert!(page.body.contains("Keine Abwesenheit eingetragen") && page.body.contains("Chef"), "{}", page.body);
    assert!(!page.body.contains("<i>Chef"), "names are escaped");
    assert!(!page.body.contains("<option value=\"3\">Bernd"), "nobody stands in for themselves");
    assert!(app.get("/konto", Some(&cookie)).await.body.contains("href=\"/konto/abwesenheit\""));

    let (today, now_time) = fields(now() - 60_000);
    let (later_day, later) = fields(now() + 3_600_000);
    let form = |von: &str, bis: &str, vertretung: i64| {
        let day = if bis == later { &later_day } else { &today };
        format!("csrf={csrf}&von_datum={today}&von_zeit={von}&bis_datum={day}&bis_zeit={bis}&vertretung={vertretung}")
    };
    // Refusals next to their field: the end before the start; Anna (no licence) as Vertreterin.
    let r = app.post("/konto/abwesenheit", Some(&cookie), &form(&now_time, "00:00", clara.0)).await;
    assert_eq!(r.status, StatusCode::UNPROCESSABLE_ENTITY);
    assert!(r.body.contains("id=\"error-bis\">Das Ende muss nach dem Beginn liegen."), "{}", r.body);
    let r = app.post("/konto/abwesenheit", Some(&cookie), &form(&now_time, &later, anna.0)).await;
    assert!(r.body.contains("id=\"error-vertretung\">Die Vertretung darf keine Vorgänge erhalten"), "{}", r.body);
    // CSRF.
    let forged = form(&now_time, &later, clara.0).replace(&csrf, "falsch");
    assert_eq!(app.post("/konto/abwesenheit", Some(&cookie), &forged).await.status, StatusCode::BAD_REQUEST);
    assert!(store.absence_list(Some(bernd), now()).await.unwrap().is_empty());

    // Entered, on the office's clock.
    let r = app.post("/konto/abwesenheit", Some(&cookie), &form(&now_time, &later, clara.0)).await;
    assert_eq!(r.status, StatusCode::SEE_OTHER, "{}", r.body);
    let to = r.headers["location"].to_str().unwrap().to_string();
    assert_eq!(to, "/konto/abwesenheit?ok=abwesenheit-eingetragen");
    let list = store.absence_list(Some(bernd), now()).await.unwrap();
    assert_eq!(list.len(), 1);
    assert_eq!(list[0].from_ms, postkorb_core::time::parse_berlin(&format!("{today} {now_time}")).unwrap());
    assert_eq!(list[0].substitute_id, Some(clara.0));
    let page = app.get(&to, Some(&cookie)).await.body;
    assert!(page.contains("Abwesenheit eingetragen.") && page.contains("läuft"), "{page}");
    assert_eq!(store.covering(clara, now()).await.unwrap(), vec![bernd]);

    // Not for someone else: the admin pages refuse, another's absence is not found on mine.
    let anna_away = Absence { id: 0, employee: anna, from_ms: now(), until_ms: None, substitute: None };
    let annas = store.add_absence(&anna_away, "admin", now()).await.unwrap().unwrap();
    for path in [format!("/mitarbeiter/{}/abwesenheit", anna.0)] {
        assert_eq!(app.get(&path, Some(&cookie)).await.status, StatusCode::FORBIDDEN);
        let r = app.post(&path, Some(&cookie), &form(&now_time, &later, clara.0)).await;
        assert_eq!(r.status, StatusCode::FORBIDDEN);
    }
    let end_annas = format!("csrf={csrf}&bestaetigt=ja");
    let r = app.post(&format!("/mitarbeiter/{}/abwesenheit/{annas}/beenden", anna.0), Some(&cookie), &end_annas).await;
    assert_eq!(r.status, StatusCode::FORBIDDEN);
    let r = app.post(&format!("/konto/abwesenheit/{annas}/beenden"), Some(&cookie), &end_annas).await;
    assert_eq!(r.status, StatusCode::NOT_FOUND);
    assert_eq!(store.absence_list(Some(anna), now()).await.unwrap().len(), 1, "Anna's absence stands");
    assert!(store.absence_list(Some(bernd), now()).await.unwrap().iter().all(|a| a.employee_id == bernd.0));

    // Ending asks first, then ends it now.
    let mine = list[0].id;
    let r = app.post(&format!("/konto/abwesenheit/{mine}/beenden"), Some(&cookie), &format!("csrf={csrf}")).await;
    assert_eq!(r.status, StatusCode::OK);
    assert!(r.body.contains("Abwesenheit beenden?") && r.body.contains("vertritt Bernd dann nicht mehr"), "{}", r.body);
    assert!(!r.body.contains("<i>Chef"), "names are escaped");
    assert_eq!(store.absence_list(Some(bernd), now()).await.unwrap().len(), 1, "asked, not ended");
    let r = app.post(&format!("/konto/abwesenheit/{mine}/beenden"), Some(&cookie), "csrf=falsch&bestaetigt=ja").await;
    assert_eq!(r.status, StatusCode::BAD_REQUEST, "CSRF");
    let r = app
        .post(&format!("/konto/abwesenheit/{mine}/beenden"), Some(&cookie), &format!("csrf={csrf}&bestaetigt=ja"))
        .await;
    assert_eq!(r.headers["location"], "/konto/abwesenheit?ok=abwesenheit-beendet");
    assert!(store.absence_list(Some(bernd), now()).await.unwrap().is_empty());
    assert!(store.covering(clara, now()).await.unwrap().is_empty());
}

#[tokio::test]
async fn mitarbeiter_verwalten_enters_and_cancels_anyones_absence_from_the_edit_page() {
    let app = app().await;
    let store = &app.ctx.store;
    let anna = store.find_employee("anna").await.unwrap().id;
    let bernd = store.find_employee("bernd").await.unwrap().id;
    let (cookie, csrf) = app.login("personal").await;
    let edit = app.get(&format!("/mitarbeiter/{}", anna.0), Some(&cookie)).await.body;
    assert!(edit.contains(&format!("href=\"/mitarbeiter/{}/abwesenheit\"", anna.0)), "{edit}");
    let path = format!("/mitarbeiter/{}/abwesenheit", anna.0);
    assert!(app.get(&path, Some(&cookie)).await.body.contains("Abwesenheit: Anna"));
    // A planned absence, next week, with Bernd standing in; no time: the whole last day.
    let (from, _) = fields(now() + 7 * 86_400_000);
    let (until, _) = fields(now() + 9 * 86_400_000);
    let body = format!("csrf={csrf}&von_datum={from}&von_zeit=&bis_datum={until}&bis_zeit=&vertretung={}", bernd.0);
    let r = app.post(&path, Some(&cookie), &body).await;
    assert_eq!(r.headers["location"].to_str().unwrap(), format!("{path}?ok=abwesenheit-eingetragen"), "{}", r.body);
    let list = store.absence_list(Some(anna), now()).await.unwrap();
    let parse = postkorb_core::time::parse_berlin;
    let (y, m, d, _, _) =
        postkorb_core::time::civil_from_ms(postkorb_core::time::parse_iso_date(&until).unwrap() + 86_400_000);
    let day_after = parse(&format!("{y:04}-{m:02}-{d:02}"));
    assert_eq!(
        (list[0].from_ms, list[0].until_ms),
        (parse(&from).unwrap(), day_after),
        "until the end of the last day"
    );
    let edit = app.get(&format!("/mitarbeiter/{}", anna.0), Some(&cookie)).await.body;
    assert!(edit.contains("id=\"employee-absences\"") && edit.contains("geplant"), "{edit}");
    // The same overlapping again: refused next to „Von“.
    let r = app.post(&path, Some(&cookie), &body).await;
    assert!(r.body.contains("id=\"error-von\">Anna ist in dieser Zeit schon abwesend"), "{}", r.body);
    // A planned one is cancelled (after asking).
    let end = format!("{path}/{}/beenden", list[0].id);
    assert!(app.post(&end, Some(&cookie), &format!("csrf={csrf}")).await.body.contains("Abwesenheit streichen?"));
    let r = app.post(&end, Some(&cookie), &format!("csrf={csrf}&bestaetigt=ja")).await;
    assert_eq!(r.headers["location"].to_str().unwrap(), format!("{path}?ok=abwesenheit-gestrichen"));
    assert!(store.absence_list(Some(anna), now()).await.unwrap().is_empty());
    let audit = store.audit_page(&Default::default(), 10, 0).await.unwrap().0;
    assert!(audit.iter().any(|r| r.action == "end_absence" && r.actor.contains("personal")), "{audit:?}");
}

#[tokio::test]
async fn admins_see_a_pool_whose_candidates_are_all_away_without_vertreter() {
    let app = app().await;
    let store = &app.ctx.store;
    let anna = store.find_employee("anna").await.unwrap().id;
    let bernd = store.find_employee("bernd").await.unwrap().id;
    let clara = licensed_clara(store, "Clara Chef").await;
    let mb = postkorb_store::MailboxRecord { name: "t".into(), protocol: "maildir".into(), ..Default::default() };
    let mailbox = store.save_mailbox(&mb, 1).await.unwrap().id;
    let pool = Decision::Pool { sender: anna, candidates: vec![bernd, clara] };
    store.commit_batch(mailbox, &[item("p1", "Sammelanfrage", pool)], now()).await.unwrap();
    let (admin, _) = app.login("admin").await;
    for who in [bernd, clara] {
        let away = Absence { id: 0, employee: who, from_ms: now() - 60_000, until_ms: None, substitute: None };
        assert!(!app.get("/", Some(&admin)).await.body.contains("Sammelanfrage"), "one of them can still claim it");
        store.add_absence(&away, "admin", now()).await.unwrap().unwrap();
    }
    let home = app.get("/", Some(&admin)).await.body;
    let section = home.split("Wartet auf abwesenden Empfänger").nth(1).expect(&home);
    assert!(
        section.contains("noch offen – wartet auf: Bernd, Clara Chef") && section.contains("Sammelanfrage"),
        "{home}"
    );
}
