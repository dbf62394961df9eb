//! Protokoll › Änderungen (issue 18, item 6) over HTTP: downloads of an .eml or an attachment are
//! entries; the filters (kind, person, office days) pick the same entries on the page, in the CSV
//! and in `GET /api/v1/audit`; the CSV is for Excel (BOM, `;`, German header) with formulas
//! neutralised; only holders of „E-Mails automatisch einlesen“ see any of it, and nothing edits it.

use axum::http::{StatusCode, header};
use postkorb_core::time::berlin_to_utc;
use postkorb_core::{AuditEntry, KeepReason, Person};
use serde_json::Value;

use crate::web_http::{App, api, app, hostile_item, kept_item};

const CSV: &str = "/protokoll/aenderungen.csv";

async fn api_json(app: &App, path: &str, token: &str) -> (StatusCode, Value) {
    let r = app.send(api("GET", path, token)).await;
    (r.status, serde_json::from_str(&r.body).unwrap_or(Value::Null))
}

#[tokio::test]
async fn downloading_an_original_or_an_attachment_is_an_entry_in_the_protokoll() {
    let app = app().await;
    let store = &app.ctx.store;
    let bernd = store.find_employee("bernd").await.unwrap();
    let anna = store.find_employee("anna").await.unwrap().id;
    let mb = postkorb_store::MailboxRecord { name: "t".into(), protocol: "maildir".into(), ..Default::default() };
    let mb = store.save_mailbox(&mb, 1).await.unwrap();
    store.commit_batch(mb.id, &[hostile_item(bernd.id, anna)], 1).await.unwrap();
    let kept = kept_item("k1", "From: x@y.de\r\nSubject: Werbung\r\n\r\nHallo\r\n", KeepReason::NoRoute);
    store.commit_batch(mb.id, &[kept], 2).await.unwrap();

    let (cookie, _) = app.login("bernd").await;
    let page = app.get("/vorgang/1", Some(&cookie)).await.body;
    let att = page.split("/vorgang/1/anhang/").nth(1).unwrap().split('"').next().unwrap().to_string();
    assert_eq!(app.get(&format!("/vorgang/1/anhang/{att}"), Some(&cookie)).await.status, StatusCode::OK);
    assert_eq!(app.get("/vorgang/1/original.eml", Some(&cookie)).await.status, StatusCode::OK);
    let token = postkorb_web::new_api_token(store, bernd.id, "test").await.unwrap();
    assert_eq!(app.send(api("GET", "/api/v1/cases/1/raw", &token)).await.status, StatusCode::OK);
    let (admin, _) = app.login("admin").await;
    assert_eq!(app.get("/nicht-zugeordnet/1/original.eml", Some(&admin)).await.status, StatusCode::OK);
    // A refused download is no entry.
    let (personal, _) = app.login("personal").await;
    assert_eq!(app.get("/vorgang/1/original.eml", Some(&personal)).await.status, StatusCode::FORBIDDEN);

    let codes: Vec<String> =
        store.audit_log(10).await.unwrap().into_iter().map(|(_, actor, a, _)| actor + " " + &a).collect();
    assert_eq!(
        codes,
        ["admin download_kept", "api:bernd download_case", "bernd download_case", "bernd download_attachment"]
    );
    let log = app.get("/protokoll?art=download_attachment", Some(&admin)).await.body;
    assert!(log.contains("Bernd hat den Anhang „script_.html“ aus Vorgang 1 heruntergeladen"), "{log}");
    let log = app.get("/protokoll", Some(&admin)).await.body;
    assert!(log.contains("Bernd (über die Schnittstelle) hat das Original der E-Mail „&#60;script&#62;"), "{log}");
    assert!(log.contains("Admin hat das Original der nicht zugeordneten E-Mail „Werbung“ heruntergeladen"), "{log}");
    assert!(!log.contains("<script>"), "escaped");
}

#[tokio::test]
async fn the_filters_pick_the_same_entries_on_the_page_in_the_csv_and_in_the_api() {
    let app = app().await;
    let store = &app.ctx.store;
    let anna = Person { id: 4, name: "Anna".into() };
    // Summer time began on 29 March 2026: 23:30 on the 30th and 00:30 on the 31st are one
    // office day apart but the same UTC day.
    let t1 = berlin_to_utc(2026, 3, 30, 23, 30);
    let t2 = berlin_to_utc(2026, 3, 31, 0, 30);
    let t3 = berlin_to_utc(2026, 4, 1, 12, 0);
    store.audit_entry(t1, "anna", &AuditEntry::ChangePassword { employee: anna.clone() }).await.unwrap();
    store
        .audit_entry(t2, "admin", &AuditEntry::AddEmployee { employee: Person { id: 9, name: "Zora".into() } })
        .await
        .unwrap();
    store.audit(t3, "=cmd|' /C calc'!A0", "what_is_this", "-2+3").await.unwrap();
    // What only that entry shows (the actor of the third is also in the page's „Wer“ list).
    let marks = [(1, "Passwort von Anna"), (2, "Mitarbeiter Zora"), (3, "-2+3")];
    // (query, the entries it finds)
    let cases: &[(&str, &[i32])] = &[
        ("", &[1, 2, 3]),
        ("von=2026-03-31&bis=2026-03-31", &[2]),
        ("von=2026-03-31", &[2, 3]),
        ("bis=2026-03-30", &[1]),
        ("art=change_password", &[1]),
        ("wer=admin", &[2]),
        ("wer=admin&von=2026-04-01", &[]),
    ];
    let (admin, _) = app.login("admin").await;
    let admin_e = store.find_employee("admin").await.unwrap();
    let token = postkorb_web::new_api_token(store, admin_e.id, "test").await.unwrap();
    for (query, want) in cases {
        let page = app.get(&format!("/protokoll?{query}"), Some(&admin)).await;
        let csv = app.get(&format!("{CSV}?{query}"), Some(&admin)).await;
        assert_eq!((page.status, csv.status), (StatusCode::OK, StatusCode::OK), "{query}");
        let api_query = query
            .replace("art=", "action=")
            .replace("wer=", "actor=")
            .replace("von=", "from=")
            .replace("bis=", "until=");
        let (status, json) = api_json(&app, &format!("/api/v1/audit?{api_query}"), &token).await;
        assert_eq!(status, StatusCode::OK, "{api_query}: {json}");
        for (n, mark) in marks {
            let expected = want.contains(&n);
            assert_eq!(page.body.contains(mark), expected, "page {query}: {mark}");
            assert_eq!(csv.body.contains(mark), expected, "csv {query}: {mark}");
            assert_eq!(json["entries"].to_string().contains(mark), expected, "api {api_query}: {mark}: {json}");
        }
        assert_eq!(csv.body.lines().count(), 1 + want.len(), "{query}: {}", csv.body);
        assert_eq!(json["total"], want.len(), "{api_query}");
        if want.is_empty() {
            assert!(page.body.contains("Keine Änderungen gefunden."), "{query}");
        }
    }
    // Pages of the API.
    let (_, json) = api_json(&app, "/api/v1/audit?limit=2&offset=2", &token).await;
    assert_eq!((json["total"].as_i64(), json["entries"].as_array().unwrap().len()), (Some(3), 1), "{json}");
    // A wrong day: German on the page, 400 for the file and the API.
    assert_eq!(app.get(&format!("{CSV}?von=gestern"), Some(&admin)).await.status, StatusCode::BAD_REQUEST);
    assert_eq!(api_json(&app, "/api/v1/audit?from=gestern", &token).await.0, StatusCode::BAD_REQUEST);
}

#[tokio::test]
async fn the_csv_is_for_excel_with_a_german_header_and_formulas_neutralised() {
    let app = app().await;
    let store = &app.ctx.store;
    let t = berlin_to_utc(2026, 3, 31, 14, 5);
    store.audit(t, "=cmd|' /C calc'!A0", "what_is_this", "-2+3").await.unwrap();
    let hostile = Person { id: 9, name: "@SUMME(A1) \"Zora\"; Ärger".into() };
    store.audit_entry(t, "admin", &AuditEntry::AddEmployee { employee: hostile }).await.unwrap();
    let (admin, _) = app.login("admin").await;
    let r = app.get(CSV, Some(&admin)).await;
    assert_eq!(r.status, StatusCode::OK);
    assert_eq!(r.headers.get(header::CONTENT_TYPE).unwrap(), "text/csv; charset=utf-8");
    let disposition = r.headers.get(header::CONTENT_DISPOSITION).unwrap().to_str().unwrap();
    assert!(disposition.starts_with("attachment;") && disposition.contains("protokoll-aenderungen.csv"));
    let lines: Vec<&str> = r.body.split("\r\n").collect();
    assert_eq!(lines[0], "\u{feff}\"Nr.\";\"Zeitpunkt\";\"Wer\";\"Art\";\"Änderung\";\"Details\"");
    assert_eq!(
        lines[1],
        "\"2\";\"31.03.2026 14:05\";\"Admin\";\"Mitarbeiter angelegt\";\
         \"Admin hat den Mitarbeiter @SUMME(A1) \"\"Zora\"\"; Ärger angelegt\";\"\""
    );
    assert_eq!(
        lines[2],
        "\"1\";\"31.03.2026 14:05\";\"'=cmd|' /C calc'!A0\";\"what_is_this\";\
         \"'=cmd|' /C calc'!A0 hat eine Änderung vorgenommen\";\"'-2+3\""
    );
    assert_eq!(lines[3], "", "CRLF after the last line, nothing more");
    // The page offers the file with the page's filter.
    let page = app.get("/protokoll?art=add_employee", Some(&admin)).await.body;
    assert!(page.contains("href=\"/protokoll/aenderungen.csv?art=add_employee&#38;wer=&#38;von=&#38;bis=\""), "{page}");
}

#[tokio::test]
async fn only_who_may_see_the_protokoll_reads_or_exports_it_and_nobody_edits_it() {
    let app = app().await;
    let store = &app.ctx.store;
    store
        .audit_entry(1, "admin", &AuditEntry::ChangePassword { employee: Person { id: 1, name: "Admin".into() } })
        .await
        .unwrap();
    // (web path, anonymous, Bernd, Personal, Admin)
    let matrix: &[(&str, u16, u16, u16, u16)] =
        &[("/protokoll", 303, 403, 403, 200), (CSV, 303, 403, 403, 200), ("/protokoll?art=x", 303, 403, 403, 200)];
    let mut cookies = vec![("anonymous", None)];
    for who in ["bernd", "personal", "admin"] {
        cookies.push((who, Some(app.login(who).await.0)));
    }
    for (path, anon, bernd, personal, admin) in matrix {
        for ((who, cookie), want) in cookies.iter().zip([anon, bernd, personal, admin]) {
            let r = app.get(path, cookie.as_deref()).await;
            assert_eq!(r.status.as_u16(), *want, "GET {path} as {who}");
            if r.status == StatusCode::FORBIDDEN {
                assert!(r.body.contains("Keine Berechtigung") && !r.body.contains("Passwort von"), "{path} as {who}");
            }
        }
    }
    for (who, want) in [("bernd", 403), ("personal", 403), ("admin", 200)] {
        let e = store.find_employee(who).await.unwrap();
        let token = postkorb_web::new_api_token(store, e.id, "test").await.unwrap();
        let r = app.send(api("GET", "/api/v1/audit", &token)).await;
        assert_eq!(r.status.as_u16(), want, "API as {who}: {}", r.body);
        if want == 403 {
            assert!(!r.body.contains("change_password"), "{}", r.body);
        }
        // No method changes an entry, for anyone.
        for method in ["POST", "PUT", "PATCH", "DELETE"] {
            let r = app.send(api(method, "/api/v1/audit", &token)).await;
            assert_eq!(r.status, StatusCode::METHOD_NOT_ALLOWED, "{method} /api/v1/audit as {who}");
        }
    }
    assert_eq!(app.send(api("GET", "/api/v1/audit", "wrong")).await.status, StatusCode::UNAUTHORIZED);
    let (admin, csrf) = app.login("admin").await;
    assert_eq!(
        app.post("/protokoll", Some(&admin), &format!("csrf={csrf}")).await.status,
        StatusCode::METHOD_NOT_ALLOWED
    );
    assert_eq!(store.audit_log(10).await.unwrap().len(), 1, "nothing changed it");
}
