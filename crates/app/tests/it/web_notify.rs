//! „Mein Konto“ → „Benachrichtigungen“ (issue 17): each employee changes only their own
//! preferences (the address names nobody else), every change needs the session's CSRF token, the
//! page says when no work e-mail is there to receive, and shows the office setting read-only.

use axum::http::{StatusCode, header};
use postkorb_core::notify::{NotifyPrefs, Timing};

use crate::web_http::{app, app_with};

const PAGE: &str = "/konto/benachrichtigungen";

#[tokio::test]
async fn each_employee_sets_only_their_own_notifications_and_only_with_the_csrf_token() {
    let app = app().await;
    let store = &app.ctx.store;
    let bernd = store.find_employee("bernd").await.unwrap().id;
    let anna = store.find_employee("anna").await.unwrap().id;

    // Not logged in: the login page, nothing saved.
    let r = app.get(PAGE, None).await;
    assert_eq!(r.status, StatusCode::SEE_OTHER, "{}", r.body);
    let r = app.post(PAGE, None, "pool=daily").await;
    assert_ne!(r.status, StatusCode::OK);

    let (cookie, csrf) = app.login("bernd").await;
    let page = app.get(PAGE, Some(&cookie)).await;
    assert_eq!(page.status, StatusCode::OK);
    assert!(page.body.contains("keine dienstliche E-Mail-Adresse"), "Bernd has no work e-mail: {}", page.body);
    assert!(page.body.contains("nicht den Text der E-Mail"), "the office setting, read-only");
    assert!(page.body.contains(r#"<option value="off" selected>aus</option>"#), "pool is off by default");

    // Without or with a wrong token: refused, nothing saved.
    let form = "new_case=off&pool=daily&follow_up_due=now&handed_over=daily&digest_time=07:30";
    for bad in [form.to_string(), format!("csrf=falsch&{form}")] {
        let r = app.post(PAGE, Some(&cookie), &bad).await;
        assert_eq!(r.status, StatusCode::BAD_REQUEST, "{}", r.body);
    }
    assert_eq!(store.notify_prefs(bernd).await.unwrap(), NotifyPrefs::default());

    // Another employee's id in the form changes nothing of theirs: the page is one's own.
    let r = app.post(PAGE, Some(&cookie), &format!("csrf={csrf}&{form}&employee={}", anna.0)).await;
    assert_eq!(r.status, StatusCode::SEE_OTHER, "{}", r.body);
    let to = r.headers.get(header::LOCATION).unwrap().to_str().unwrap().to_string();
    assert!(app.get(&to, Some(&cookie)).await.body.contains("Benachrichtigungen gespeichert."));
    let saved = store.notify_prefs(bernd).await.unwrap();
    assert_eq!(
        saved,
        NotifyPrefs {
            new_case: Timing::Off,
            pool: Timing::Daily,
            follow_up_due: Timing::Now,
            handed_over: Timing::Daily,
            digest_minute: 7 * 60 + 30
        }
    );
    assert_eq!(store.notify_prefs(anna).await.unwrap(), NotifyPrefs::default(), "Anna's are untouched");

    // An unreadable time: the form again with the message, nothing changed.
    let r = app.post(PAGE, Some(&cookie), &format!("csrf={csrf}&pool=off&digest_time=25:00")).await;
    assert_eq!(r.status, StatusCode::UNPROCESSABLE_ENTITY);
    assert!(r.body.contains("bitte als SS:MM angeben"), "{}", r.body);
    assert_eq!(store.notify_prefs(bernd).await.unwrap(), saved);

    // Anna has a work e-mail: the page names it.
    let (anna_cookie, _) = app.login("anna").await;
    let page = app.get(PAGE, Some(&anna_cookie)).await.body;
    assert!(page.contains("an anna@mustermail.de"), "{page}");
    assert!(!page.contains("keine dienstliche E-Mail-Adresse"));
}

#[tokio::test]
async fn the_page_says_when_the_office_includes_the_first_lines() {
    let app = app_with(|s| s.notify_include_text = true).await;
    let (cookie, _) = app.login("bernd").await;
    let page = app.get(PAGE, Some(&cookie)).await.body;
    assert!(page.contains("Benachrichtigungen enthalten die ersten Zeilen der E-Mail."), "{page}");
}
