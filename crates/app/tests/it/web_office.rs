//! The office screens over HTTP (issue 15, items 7–9): Mitarbeiter refuses a work e-mail another
//! employee has and asks before a save makes rows inactive; „Nicht zugeordnete E-Mails“ explains
//! each reason in German, gives one mail to one person without a row, and confirms Verwerfen;
//! Protokoll › Änderungen says who did what to whom, filterable and paged.

use axum::http::StatusCode;
use postkorb_core::{AutoKind, FromProblem, KeepReason, RouteError, StormLimit};

use crate::web_http::{App, app, kept_item};

async fn bernd_and_anna(app: &App) -> (i64, i64) {
    let bernd = app.ctx.store.find_employee("bernd").await.unwrap().id;
    let anna = app.ctx.store.find_employee("anna").await.unwrap().id;
    (bernd.0, anna.0)
}

fn employee_form(csrf: &str, name: &str, email: &str, license: &str, username: &str) -> String {
    format!("csrf={csrf}&name={name}&current=1&email={email}&license={license}&username={username}")
}

#[tokio::test]
async fn a_work_email_of_another_employee_in_other_case_is_refused_naming_that_employee() {
    let app = app().await;
    let (admin, csrf) = app.login("admin").await;
    let r = app
        .post("/mitarbeiter/neu", Some(&admin), &employee_form(&csrf, "Anna+Zwei", "ANNA%40MusterMail.DE", "", ""))
        .await;
    assert_eq!(r.status, StatusCode::UNPROCESSABLE_ENTITY, "{}", r.body);
    assert!(r.body.contains("Die E-Mail-Adresse anna@mustermail.de ist bereits bei Anna eingetragen"), "{}", r.body);
    assert_eq!(app.ctx.store.employees().await.unwrap().len(), 4, "nobody was added");

    // Changing Bernd to Anna's address is refused the same way.
    let (bernd, _) = bernd_and_anna(&app).await;
    let r = app
        .post(
            &format!("/mitarbeiter/{bernd}"),
            Some(&admin),
            &employee_form(&csrf, "Bernd", "Anna%40mustermail.de", "L2", "bernd"),
        )
        .await;
    assert_eq!(r.status, StatusCode::UNPROCESSABLE_ENTITY, "{}", r.body);
    assert!(r.body.contains("bereits bei Anna eingetragen"), "{}", r.body);
    let von: Vec<_> =
        postkorb_core::von_choices(&app.ctx.store.employees().await.unwrap()).iter().map(|e| e.name.clone()).collect();
    assert_eq!(von, ["Anna"], "the Von dropdown offers the address once");

    // A new employee with a free address is created, with the notice.
    let r = app
        .post("/mitarbeiter/neu", Some(&admin), &employee_form(&csrf, "Clara", "clara%40mustermail.de", "L3", "clara"))
        .await;
    assert_eq!(r.status, StatusCode::SEE_OTHER, "{}", r.body);
    let list = app.get("/mitarbeiter?ok=mitarbeiter-angelegt", Some(&admin)).await.body;
    assert!(list.contains("Mitarbeiter angelegt."), "{list}");
}

#[tokio::test]
async fn removing_the_licence_asks_first_naming_the_rows_and_then_counts_them() {
    let app = app().await;
    let (bernd, anna) = bernd_and_anna(&app).await;
    app.ctx.store.add_route(postkorb_core::EmployeeId(anna), postkorb_core::EmployeeId(bernd), 1).await.unwrap();
    // A Vorgang waiting for Bernd or Clara.
    let clara = postkorb_store::NewEmployee {
        name: "Clara".into(),
        is_current: true,
        license: Some("L3".into()),
        ..Default::default()
    };
    let clara = app.ctx.store.add_employee(&clara, 1).await.unwrap().id;
    let mb = postkorb_store::MailboxRecord { name: "t".into(), protocol: "maildir".into(), ..Default::default() };
    let mb = app.ctx.store.save_mailbox(&mb, 1).await.unwrap();
    let raw = "From: Anna <anna@mustermail.de>\r\nSubject: Police <i>2024</i>\r\nMessage-ID: <p1@x>\r\n\r\nx\r\n";
    let mut pooled = kept_item("p1", raw, KeepReason::NoRoute);
    pooled.decision = postkorb_core::Decision::Pool {
        sender: postkorb_core::EmployeeId(anna),
        candidates: vec![postkorb_core::EmployeeId(bernd), clara],
    };
    app.ctx.store.commit_batch(mb.id, &[pooled], 1).await.unwrap();
    let (admin, csrf) = app.login("admin").await;
    let form = employee_form(&csrf, "Bernd", "", "", "bernd");
    let r = app.post(&format!("/mitarbeiter/{bernd}"), Some(&admin), &form).await;
    assert_eq!(r.status, StatusCode::OK, "{}", r.body);
    assert!(r.body.contains("Mitarbeiter speichern?") && r.body.contains("class=\"danger\""), "{}", r.body);
    assert!(r.body.contains("Die Zuordnung Von Anna → An Bernd wird inaktiv."), "{}", r.body);
    assert!(r.body.contains("Bernd besitzt keinen aktiven Lizenzstring"), "{}", r.body);
    assert!(
        r.body
            .contains("Der wartende Vorgang „Police &#60;i&#62;2024&#60;/i&#62;“ kann dann nicht mehr an Bernd gehen"),
        "{}",
        r.body
    );
    let b = app.ctx.store.find_employee("bernd").await.unwrap();
    assert_eq!(b.license.as_deref(), Some("L2"), "nothing saved before the confirmation");

    let r = app.post(&format!("/mitarbeiter/{bernd}"), Some(&admin), &format!("{form}&bestaetigt=ja")).await;
    assert_eq!(r.status, StatusCode::SEE_OTHER, "{}", r.body);
    let to = r.headers.get("location").unwrap().to_str().unwrap().to_string();
    assert_eq!(to, "/mitarbeiter?ok=mitarbeiter-gespeichert&n=1");
    let list = app.get(&to, Some(&admin)).await.body;
    assert!(list.contains("Mitarbeiter gespeichert — 1 Zuordnung ist jetzt inaktiv."), "{list}");
    assert_eq!(app.ctx.store.find_employee("bernd").await.unwrap().license, None);
    let log = app.get("/protokoll", Some(&admin)).await.body;
    assert!(log.contains("Admin hat den Mitarbeiter Bernd geändert; 1 Zuordnung ist dadurch inaktiv"), "{log}");
}

#[tokio::test]
async fn every_kept_reason_is_explained_in_german_with_its_own_hint_and_the_technical_words_only_behind_details() {
    let app = app().await;
    let mb = postkorb_store::MailboxRecord { name: "t".into(), protocol: "maildir".into(), ..Default::default() };
    let mb = app.ctx.store.save_mailbox(&mb, 1).await.unwrap();
    let reasons = [
        KeepReason::NoRoute,
        KeepReason::RouteInactive(vec![RouteError::NoLicense { name: "Frank Teilzeit".into() }]),
        KeepReason::NoUsableFrom(FromProblem::Missing),
        KeepReason::Unverified("no DKIM signature".into()),
        KeepReason::Automatic(AutoKind::OutOfOffice),
        KeepReason::Storm(StormLimit { max: 20, minutes: 10 }),
    ];
    let items: Vec<_> = reasons
        .iter()
        .enumerate()
        .map(|(i, r)| {
            let raw = format!(
                "From: x{i}@fremd.de\r\nSubject: <script>alert({i})</script>\r\nMessage-ID: <r{i}@x>\r\n\r\nx\r\n"
            );
            kept_item(&format!("r{i}"), &raw, r.clone())
        })
        .collect();
    app.ctx.store.commit_batch(mb.id, &items, 2).await.unwrap();
    let (admin, _) = app.login("admin").await;
    let list = app.get("/nicht-zugeordnet", Some(&admin)).await.body;
    assert!(!list.contains("<script>alert") && list.contains("&#60;script&#62;alert(0)"), "subjects are escaped");
    for label in ["Absender unbekannt", "Zuordnung inaktiv", "Kein gültiger Absender", "Absender nicht verifiziert"] {
        assert!(list.contains(label), "{label}: {list}");
    }
    assert!(list.contains("Frank Teilzeit besitzt keinen aktiven Lizenzstring"), "{list}");
    assert!(!list.contains("has no") && !list.contains("no DKIM") && !list.contains("no_route"), "{list}");
    let mut hints = std::collections::BTreeSet::new();
    for id in 1..=reasons.len() {
        let page = app.get(&format!("/nicht-zugeordnet/{id}"), Some(&admin)).await.body;
        let hint = page.split("id=\"hint\">").nth(1).unwrap().split("</dd>").next().unwrap().to_string();
        hints.insert(hint);
        assert!(page.contains("Nur diese E-Mail zuweisen an"), "{page}");
        if id == 4 {
            // The verifier's words only behind „Details“, and the warning before a hand routing.
            let details = page
                .split("<details class=\"technisch\">")
                .nth(1)
                .expect("Details")
                .split("</details>")
                .next()
                .unwrap();
            assert!(details.contains("no DKIM signature"));
            assert!(page.contains("Achtung: Der Absender ist nicht verifiziert."), "{page}");
        }
    }
    assert_eq!(hints.len(), reasons.len(), "each reason its own hint: {hints:?}");

    // An old row with a free English detail: a German sentence, the old text behind „Details“.
    sqlx::query("UPDATE kept SET reason_code = 'route_inactive', reason_detail = 'An: Frank Teilzeit has no active licence' WHERE id = 1")
        .execute(app.ctx.store.pool())
        .await
        .unwrap();
    let page = app.get("/nicht-zugeordnet/1", Some(&admin)).await.body;
    let (visible, details) = page.split_once("<details class=\"technisch\">").unwrap();
    assert!(visible.contains("aber keine davon ist gerade aktiv") && !visible.contains("has no active licence"));
    assert!(details.contains("has no active licence"));
}

#[tokio::test]
async fn nur_diese_email_zuweisen_creates_a_vorgang_without_a_row_keeping_the_arrival_and_saying_who_and_why() {
    let app = app().await;
    let (bernd, anna) = bernd_and_anna(&app).await;
    let mb = postkorb_store::MailboxRecord { name: "t".into(), protocol: "maildir".into(), ..Default::default() };
    let mb = app.ctx.store.save_mailbox(&mb, 1).await.unwrap();
    let raw = "From: Kunde <kunde@fremd.de>\r\nSubject: Schaden melden\r\nMessage-ID: <o1@x>\r\n\r\nHallo\r\n";
    app.ctx.store.commit_batch(mb.id, &[kept_item("o1", raw, KeepReason::NoRoute)], 7).await.unwrap();
    let (admin, csrf) = app.login("admin").await;

    // Without the permission, or without the CSRF token, nothing happens.
    let (bernd_cookie, bernd_csrf) = app.login("bernd").await;
    let r =
        app.post("/nicht-zugeordnet/1/zuweisen", Some(&bernd_cookie), &format!("csrf={bernd_csrf}&to={bernd}")).await;
    assert_eq!(r.status, StatusCode::FORBIDDEN);
    let r = app.post("/nicht-zugeordnet/1/zuweisen", Some(&admin), &format!("to={bernd}")).await;
    assert_eq!(r.status, StatusCode::BAD_REQUEST, "no CSRF token");
    assert!(r.body.contains("Das Formular ist abgelaufen"));
    // Anna has no licence: refused with the rule in German.
    let r = app.post("/nicht-zugeordnet/1/zuweisen", Some(&admin), &format!("csrf={csrf}&to={anna}")).await;
    assert!(r.body.contains("An: Anna besitzt keinen aktiven Lizenzstring."), "{}", r.body);
    assert_eq!(app.ctx.store.kept(true, 10, 0).await.unwrap().len(), 1);

    let r = app.post("/nicht-zugeordnet/1/zuweisen", Some(&admin), &format!("csrf={csrf}&to={bernd}")).await;
    assert_eq!(r.status, StatusCode::SEE_OTHER, "{}", r.body);
    let to = r.headers.get("location").unwrap().to_str().unwrap().to_string();
    assert!(app.get(&to, Some(&admin)).await.body.contains("Eine Zuordnung wurde nicht angelegt."));
    assert!(app.ctx.store.routes().await.unwrap().is_empty(), "no row");
    let cases = app.ctx.store.cases(Some(postkorb_core::EmployeeId(bernd)), 10, 0).await.unwrap();
    assert_eq!((cases.len(), cases[0].received_ms), (1, 7), "the mail's arrival time");
    let page = app.get(&format!("/vorgang/{}", cases[0].id), Some(&bernd_cookie)).await.body;
    assert!(
        page.contains("von Hand zugewiesen von admin, ohne Zuordnung (zurückgehalten wegen: Absender unbekannt)"),
        "{page}"
    );
    let log = app.get("/protokoll?art=route_once", Some(&admin)).await.body;
    assert!(log.contains("Admin hat die E-Mail „Schaden melden“ von Hand Bernd zugewiesen, ohne Zuordnung"), "{log}");
}

#[tokio::test]
async fn verwerfen_asks_first_then_says_so_and_the_protokoll_names_who_did_what_to_whom() {
    let app = app().await;
    let (bernd, anna) = bernd_and_anna(&app).await;
    let mb = postkorb_store::MailboxRecord { name: "t".into(), protocol: "maildir".into(), ..Default::default() };
    let mb = app.ctx.store.save_mailbox(&mb, 1).await.unwrap();
    let raw = "From: x@y.de\r\nSubject: Gewinnspiel <b>jetzt</b>\r\nMessage-ID: <d1@x>\r\n\r\nx\r\n";
    app.ctx.store.commit_batch(mb.id, &[kept_item("d1", raw, KeepReason::NoRoute)], 2).await.unwrap();
    let (admin, csrf) = app.login("admin").await;
    let r = app.post("/nicht-zugeordnet/1/verwerfen", Some(&admin), &format!("csrf={csrf}")).await;
    assert_eq!(r.status, StatusCode::OK);
    assert!(r.body.contains("E-Mail verwerfen?") && r.body.contains("Gewinnspiel &#60;b&#62;jetzt"), "{}", r.body);
    assert_eq!(app.ctx.store.kept(true, 10, 0).await.unwrap().len(), 1, "still open");
    let r = app.post("/nicht-zugeordnet/1/verwerfen", Some(&admin), &format!("csrf={csrf}&bestaetigt=ja")).await;
    assert_eq!(r.status, StatusCode::SEE_OTHER);
    let to = r.headers.get("location").unwrap().to_str().unwrap().to_string();
    assert!(app.get(&to, Some(&admin)).await.body.contains("E-Mail verworfen."));

    // A row through the form, and an entry of an older version (ids, English).
    let r = app.post("/optionen/e-mail/adressen", Some(&admin), &format!("csrf={csrf}&from={anna}&to={bernd}")).await;
    assert_eq!(r.status, StatusCode::SEE_OTHER, "{}", r.body);
    app.ctx.store.audit(3, "admin", "add_route", "6 -> 2").await.unwrap();
    let log = app.get("/protokoll", Some(&admin)).await.body;
    assert!(log.contains("Admin hat die Zuordnung Von Anna → An Bernd angelegt"), "{log}");
    assert!(log.contains("Admin hat die E-Mail „Gewinnspiel &#60;b&#62;jetzt&#60;/b&#62;“ verworfen"), "{log}");
    let old = log.split("Admin hat eine Zuordnung angelegt").nth(1).expect("the old row in German");
    assert!(
        old.trim_start().starts_with("<details class=\"technisch\"><summary>Details</summary>6 -&#62; 2</details>"),
        "{old}"
    );

    // Filters: by kind, by person, by date; and pages of 50.
    let only = app.get("/protokoll?art=discard_kept", Some(&admin)).await.body;
    assert!(only.contains("verworfen") && !only.contains("Zuordnung Von Anna"), "{only}");
    let by_cli = app.get("/protokoll?wer=cli", Some(&admin)).await.body;
    assert!(by_cli.contains("Keine Änderungen gefunden."), "{by_cli}");
    let future = app.get("/protokoll?von=2999-01-01", Some(&admin)).await.body;
    assert!(future.contains("Keine Änderungen gefunden."), "{future}");
    let bad = app.get("/protokoll?von=gestern", Some(&admin)).await.body;
    assert!(bad.contains("Bitte geben Sie die Daten als Datum an"), "{bad}");
    for i in 0..60 {
        app.ctx.store.audit(10 + i, "cli", "save_mailbox", "t").await.unwrap();
    }
    let first = app.get("/protokoll?wer=cli", Some(&admin)).await.body;
    assert!(
        first.contains("Seite 1 von 2 (60 Einträge)")
            && first.contains("Die Kommandozeile hat die Einstellungen des Postfachs „t“ gespeichert"),
        "{first}"
    );
    let second = app.get("/protokoll?wer=cli&seite=2", Some(&admin)).await.body;
    assert_eq!(second.matches("<li>").count(), 10, "{second}");
}
