//! „Datenschutz“ over HTTP (issue 18): the pages and the Sperre routes only with „Datenschutz
//! verwalten“ and a CSRF token (not for admins with „E-Mails automatisch einlesen“); an
//! „Einschränkung der Verarbeitung“ hides a Vorgang from its Bearbeiter — page 403, absent from the
//! Startmaske, the search and the API — but not from the Datenschutz holder.

use axum::http::StatusCode;
use postkorb_core::{EmailAddress, Permission};
use postkorb_store::NewEmployee;

use crate::web_http::{App, PW, app, hostile_item, kept_item};

/// Dora, who holds „Datenschutz verwalten“ (and `more`), with the test password; and a mailbox the
/// test's mails are committed to (its id).
pub(crate) async fn dora_and_mailbox(app: &App, more: &[Permission]) -> (postkorb_core::EmployeeId, i64) {
    let store = &app.ctx.store;
    let dora = NewEmployee {
        name: "Dora".into(),
        username: Some("dora".into()),
        is_current: true,
        license: None,
        work_email: Some(EmailAddress::parse("dora@office.test").unwrap()),
        permissions: [&[Permission::ManagePrivacy], more].concat(),
    };
    let dora = store.add_employee(&dora, 1).await.unwrap();
    store.set_password_hash(dora.id, &postkorb_web::hash_password(PW)).await.unwrap();
    let mb = postkorb_store::MailboxRecord { name: "t".into(), protocol: "maildir".into(), ..Default::default() };
    (dora.id, store.save_mailbox(&mb, 1).await.unwrap().id)
}

#[tokio::test]
async fn the_privacy_pages_and_the_sperre_need_their_right_and_restriction_hides_a_vorgang() {
    let app = app().await;
    let store = &app.ctx.store;
    let (_, mailbox) = dora_and_mailbox(&app, &[]).await;
    let bernd = store.find_employee("bernd").await.unwrap().id;
    let anna = store.find_employee("anna").await.unwrap().id;
    store.commit_batch(mailbox, &[hostile_item(bernd, anna)], 1).await.unwrap();

    let (admin, admin_csrf) = app.login("admin").await;
    let (clerk, clerk_csrf) = app.login("bernd").await;
    let (dsb, csrf) = app.login("dora").await;
    // Every new page and route: 403 without the right (also for the admin), CSRF checked.
    for who in [&admin, &clerk] {
        assert_eq!(app.get("/optionen/datenschutz", Some(who)).await.status, StatusCode::FORBIDDEN);
        assert_eq!(app.get("/optionen/datenschutz/loeschprotokoll", Some(who)).await.status, StatusCode::FORBIDDEN);
    }
    let hold = |csrf: &str| format!("csrf={csrf}&kind=restriction&reason=Widerspruch&until=2999-01-01");
    assert_eq!(app.post("/vorgang/1/sperre", Some(&admin), &hold(&admin_csrf)).await.status, StatusCode::FORBIDDEN);
    assert_eq!(app.post("/vorgang/1/sperre", Some(&clerk), &hold(&clerk_csrf)).await.status, StatusCode::FORBIDDEN);
    assert_eq!(app.post("/vorgang/1/sperre", Some(&dsb), &hold("falsch")).await.status, StatusCode::BAD_REQUEST);
    let r = app.post("/optionen/datenschutz", Some(&admin), &format!("csrf={admin_csrf}&cases=8")).await;
    assert_eq!(r.status, StatusCode::FORBIDDEN);
    let r = app.post("/optionen/datenschutz", Some(&dsb), "csrf=falsch&cases=8&run_at=02:30").await;
    assert_eq!(r.status, StatusCode::BAD_REQUEST);

    // The settings page: each period with its meaning; below the legal minimum refused.
    let page = app.get("/optionen/datenschutz", Some(&dsb)).await;
    assert_eq!(page.status, StatusCode::OK);
    assert!(page.body.contains("Ende des Kalenderjahres") && page.body.contains("02:30"));
    let r = app.post("/optionen/datenschutz", Some(&dsb), &format!("csrf={csrf}&cases=5&run_at=02:30")).await;
    assert_eq!(r.status, StatusCode::UNPROCESSABLE_ENTITY);
    assert!(r.body.contains("erlaubt sind 6 bis 30 Jahre"), "{}", r.body);
    let r = app.post("/optionen/datenschutz", Some(&dsb), &format!("csrf={csrf}&cases=8&run_at=03:15")).await;
    assert_eq!(r.status, StatusCode::SEE_OTHER);
    let s = store.retention_settings().await.unwrap();
    assert_eq!((s.period(postkorb_core::retention::RetentionClass::Cases), s.run_minute), (8, 195));

    // Before the Sperre Bernd sees his Vorgang; Dora (no other right) does not.
    assert_eq!(app.get("/vorgang/1", Some(&clerk)).await.status, StatusCode::OK);
    assert_eq!(app.get("/vorgang/1", Some(&dsb)).await.status, StatusCode::FORBIDDEN);
    // A hostile reason is shown escaped.
    let form = format!("csrf={csrf}&kind=restriction&reason=%3Cscript%3Ex%3C%2Fscript%3E&until=2999-01-01");
    assert_eq!(app.post("/vorgang/1/sperre", Some(&dsb), &form).await.status, StatusCode::SEE_OTHER);
    // Now hidden from its Bearbeiter everywhere, open for the Datenschutz holder.
    assert_eq!(app.get("/vorgang/1", Some(&clerk)).await.status, StatusCode::FORBIDDEN);
    let home = app.get("/", Some(&clerk)).await.body;
    assert!(!home.contains("/vorgang/1\""), "not on his Startmaske");
    // Nor in its counts (the list is empty, so are they).
    for tab in ["Offen (0)", "Erledigt (0)", "Alle (0)", "Wiedervorlage (0)"] {
        assert!(home.contains(tab), "{tab}: {home}");
    }
    assert!(!app.get("/?tab=alle", Some(&admin)).await.body.contains("/vorgang/1\""), "not on the admin's list");
    let found = app.get("/suche?q=Hallo", Some(&clerk)).await.body;
    assert!(!found.contains("/vorgang/1\""), "not in his search");
    let page = app.get("/vorgang/1", Some(&dsb)).await;
    assert_eq!(page.status, StatusCode::OK);
    assert!(page.body.contains("Einschränkung der Verarbeitung") && !page.body.contains("<script>x"));
    let hold_id = store.holds(postkorb_store::HoldTarget::Case(1)).await.unwrap()[0].id;
    let lift = format!("/vorgang/1/sperre/{hold_id}/aufheben");
    assert_eq!(app.post(&lift, Some(&clerk), &format!("csrf={clerk_csrf}")).await.status, StatusCode::FORBIDDEN);
    assert_eq!(app.post(&lift, Some(&dsb), "csrf=falsch").await.status, StatusCode::BAD_REQUEST);
    assert_eq!(app.post(&lift, Some(&dsb), &format!("csrf={csrf}")).await.status, StatusCode::SEE_OTHER);
    assert_eq!(app.get("/vorgang/1", Some(&clerk)).await.status, StatusCode::OK, "visible again");
    assert!(app.get("/", Some(&clerk)).await.body.contains("Alle (1)"), "counted again");
    let audit = store.audit_log(10).await.unwrap();
    let actions: Vec<&str> = audit.iter().map(|(_, _, a, _)| a.as_str()).collect();
    for a in ["set_hold", "lift_hold", "save_retention"] {
        assert!(actions.contains(&a), "{a} audited: {actions:?}");
    }
    let log = app.get("/optionen/datenschutz/loeschprotokoll", Some(&dsb)).await;
    assert_eq!(log.status, StatusCode::OK);
}

/// A kept mail nobody handled: in its last month (here long overdue, kept at 1 ms) the list and its
/// page say when it goes; a Sperre on its page (only „Datenschutz verwalten“, CSRF) ends the warning.
#[tokio::test]
async fn an_open_kept_mail_warns_before_its_deletion_and_takes_a_sperre_on_its_page() {
    let app = app().await;
    let store = &app.ctx.store;
    let (_, mailbox) = dora_and_mailbox(&app, &[Permission::ManageMailImport]).await;
    let raw = "From: Anna <anna@mustermail.de>\r\nSubject: Rueckruf\r\nMessage-ID: <k1@x>\r\n\r\nBitte.\r\n";
    let item = kept_item("k1", raw, postkorb_core::KeepReason::NoRoute);
    store.commit_batch(mailbox, &[item], 1).await.unwrap();
    let warning = "gelöscht, wenn niemand sie bearbeitet";

    let (admin, admin_csrf) = app.login("admin").await;
    let (dsb, csrf) = app.login("dora").await;
    assert!(app.get("/nicht-zugeordnet", Some(&admin)).await.body.contains(warning));
    let page = app.get("/nicht-zugeordnet/1", Some(&admin)).await.body;
    assert!(page.contains(warning) && !page.contains("Sperre setzen"), "no Sperre form without the right");

    let hold = |csrf: &str| format!("csrf={csrf}&kind=retention&reason=%3Cscript%3Ex%3C%2Fscript%3E&until=2999-01-01");
    let r = app.post("/nicht-zugeordnet/1/sperre", Some(&admin), &hold(&admin_csrf)).await;
    assert_eq!(r.status, StatusCode::FORBIDDEN);
    assert_eq!(
        app.post("/nicht-zugeordnet/1/sperre", Some(&dsb), &hold("falsch")).await.status,
        StatusCode::BAD_REQUEST
    );
    assert_eq!(app.post("/nicht-zugeordnet/99/sperre", Some(&dsb), &hold(&csrf)).await.status, StatusCode::NOT_FOUND);
    assert!(app.get("/nicht-zugeordnet/1", Some(&dsb)).await.body.contains("Sperre setzen"));
    let r = app.post("/nicht-zugeordnet/1/sperre", Some(&dsb), &hold(&csrf)).await;
    assert_eq!(r.status, StatusCode::SEE_OTHER);
    let page = app.get("/nicht-zugeordnet/1", Some(&dsb)).await.body;
    assert!(page.contains("Aufbewahrung: ") && !page.contains("<script>x"), "{page}");
    assert!(!page.contains(warning), "held: no deletion, no warning");
    assert!(!app.get("/nicht-zugeordnet", Some(&admin)).await.body.contains(warning));

    let hold_id = store.holds(postkorb_store::HoldTarget::Kept(1)).await.unwrap()[0].id;
    let lift = format!("/nicht-zugeordnet/1/sperre/{hold_id}/aufheben");
    let r = app.post(&lift, Some(&admin), &format!("csrf={admin_csrf}")).await;
    assert_eq!(r.status, StatusCode::FORBIDDEN);
    assert_eq!(app.post(&lift, Some(&dsb), "csrf=falsch").await.status, StatusCode::BAD_REQUEST);
    // Another mail's path with this Sperre's id: not found, nothing lifted.
    let other = format!("/nicht-zugeordnet/2/sperre/{hold_id}/aufheben");
    assert_eq!(app.post(&other, Some(&dsb), &format!("csrf={csrf}")).await.status, StatusCode::NOT_FOUND);
    assert_eq!(app.post(&lift, Some(&dsb), &format!("csrf={csrf}")).await.status, StatusCode::SEE_OTHER);
    assert!(app.get("/nicht-zugeordnet/1", Some(&dsb)).await.body.contains(warning), "warned again");

    // An „Einschränkung der Verarbeitung“ (art. 18) hides it from the admin — list, page, original,
    // actions and the API — and leaves it to the Datenschutz holder.
    let restrict = format!("csrf={csrf}&kind=restriction&reason=Widerspruch&until=2999-01-01");
    assert_eq!(app.post("/nicht-zugeordnet/1/sperre", Some(&dsb), &restrict).await.status, StatusCode::SEE_OTHER);
    assert!(!app.get("/nicht-zugeordnet", Some(&admin)).await.body.contains("/nicht-zugeordnet/1\""));
    for path in ["/nicht-zugeordnet/1", "/nicht-zugeordnet/1/original.eml"] {
        assert_eq!(app.get(path, Some(&admin)).await.status, StatusCode::FORBIDDEN, "{path}");
    }
    let discard = format!("csrf={admin_csrf}&bestaetigt=ja");
    assert_eq!(app.post("/nicht-zugeordnet/1/verwerfen", Some(&admin), &discard).await.status, StatusCode::FORBIDDEN);
    assert_eq!(store.kept_mail(1).await.unwrap().status, "open", "nothing done");
    let admin_id = store.find_employee("admin").await.unwrap().id;
    let token = postkorb_web::new_api_token(store, admin_id, "test").await.unwrap();
    let api = axum::http::Request::get("/api/v1/kept")
        .header(axum::http::header::AUTHORIZATION, format!("Bearer {token}"))
        .body(axum::body::Body::empty())
        .unwrap();
    let listed = app.send(api).await;
    assert_eq!((listed.status, listed.body.as_str()), (StatusCode::OK, "[]"));
    assert!(app.get("/nicht-zugeordnet", Some(&dsb)).await.body.contains("/nicht-zugeordnet/1\""));
    assert_eq!(app.get("/nicht-zugeordnet/1", Some(&dsb)).await.status, StatusCode::OK);
}

/// „Inhalte verschlüsselt speichern“ (issue 18 item 7): on for a new installation; switched only by
/// the Datenschutz holder with a CSRF token, each switch in the audit log; while off a mail is stored
/// plain, and once on again serve's background conversion leaves nothing plain (and records it).
#[tokio::test]
async fn encryption_at_rest_is_switched_only_by_the_datenschutz_holder_and_converts_in_the_background() {
    let app = app().await;
    let store = &app.ctx.store;
    let (_, mailbox) = dora_and_mailbox(&app, &[]).await;
    let bernd = store.find_employee("bernd").await.unwrap().id;
    let anna = store.find_employee("anna").await.unwrap().id;
    let (admin, admin_csrf) = app.login("admin").await;
    let (dsb, csrf) = app.login("dora").await;
    const PATH: &str = "/optionen/datenschutz/verschluesselung";

    let page = app.get("/optionen/datenschutz", Some(&dsb)).await;
    assert!(page.body.contains("Eingeschaltet: Neue E-Mails"), "{}", page.body);
    let off = |csrf: &str| format!("csrf={csrf}&verschluesseln=aus");
    assert_eq!(app.post(PATH, Some(&admin), &off(&admin_csrf)).await.status, StatusCode::FORBIDDEN);
    assert_eq!(app.post(PATH, Some(&dsb), &off("falsch")).await.status, StatusCode::BAD_REQUEST);
    let odd = format!("csrf={csrf}&verschluesseln=vielleicht");
    assert_eq!(app.post(PATH, Some(&dsb), &odd).await.status, StatusCode::BAD_REQUEST);
    assert!(store.seal_new().await.unwrap(), "unchanged by refused requests");

    assert_eq!(app.post(PATH, Some(&dsb), &off(&csrf)).await.status, StatusCode::SEE_OTHER);
    assert!(!store.seal_new().await.unwrap());
    store.commit_batch(mailbox, &[hostile_item(bernd, anna)], 1).await.unwrap();
    let plain = store.seal_progress().await.unwrap();
    assert_eq!((plain.raw_plain, plain.raw_sealed), (1, 0), "stored plain while off");
    let page = app.get("/optionen/datenschutz", Some(&dsb)).await.body;
    assert!(page.contains("Ausgeschaltet") && page.contains("Noch unverschlüsselt: 2 Einträge"), "{page}");

    let on = format!("csrf={csrf}&verschluesseln=an");
    assert_eq!(app.post(PATH, Some(&dsb), &on).await.status, StatusCode::SEE_OTHER);
    // What serve starts when the setting turns on.
    let running = std::sync::Arc::new(std::sync::atomic::AtomicBool::new(false));
    postkorb_app::service::sealing::spawn_convert(store.clone(), running.clone());
    let mut waited = 0;
    while !store.seal_progress().await.unwrap().done() || running.load(std::sync::atomic::Ordering::SeqCst) {
        assert!(waited < 500, "the background conversion finishes");
        tokio::time::sleep(std::time::Duration::from_millis(10)).await;
        waited += 1;
    }
    let done = store.seal_progress().await.unwrap();
    assert_eq!((done.raw_plain, done.raw_sealed), (0, 1));
    let page = app.get("/optionen/datenschutz", Some(&dsb)).await.body;
    assert!(page.contains("Eingeschaltet") && !page.contains("Noch unverschlüsselt"), "{page}");
    // The Vorgang still reads whole.
    let case = store.case(1).await.unwrap();
    assert!(!store.raw(case.raw_id).await.unwrap().is_empty());

    let kinds: Vec<String> = sqlx::query_scalar(
        "SELECT action FROM audit_log WHERE action IN ('mail_encryption', 'mail_sealed') ORDER BY id",
    )
    .fetch_all(store.pool())
    .await
    .unwrap();
    assert_eq!(kinds, ["mail_encryption", "mail_encryption", "mail_sealed"]);
}
