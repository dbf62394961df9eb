//! Issue 17, the faces of webhooks and the delivery log: admins only on every page and API route
//! (data-driven), CSRF on every form, the secret shown once and never again, a hostile name
//! escaped, an address of the own network refused on saving, the paused notice on the Startmaske,
//! and „Erneut senden“ making a given-up delivery due again — then delivered to the Python
//! receiver of webhooks.rs, whose `mail.kept` link opens the real page.

use axum::http::StatusCode;
use postkorb_app::service::dispatch::{Deps, Dispatcher};
use postkorb_core::KeepReason;

use crate::web_http::{App, api, app, app_with, kept_item};
use crate::webhooks::Receiver;

fn now() -> i64 {
    std::time::SystemTime::now().duration_since(std::time::UNIX_EPOCH).unwrap().as_millis() as i64
}

/// The whsec_ secret shown on the page.
fn shown_secret(body: &str) -> String {
    let value = body.split("id=\"new-secret\" value=\"").nth(1).expect("the secret is shown");
    value.split('"').next().unwrap().to_string()
}

/// Creates a webhook through the form; returns its id and the secret shown once.
async fn create(app: &App, cookie: &str, csrf: &str, name: &str, url: &str) -> (i64, String) {
    let form =
        format!("csrf={csrf}&name={}&url={}&events=mail.kept&events=case.created", urlencode(name), urlencode(url));
    let r = app.post("/optionen/webhooks", Some(cookie), &form).await;
    assert_eq!(r.status, StatusCode::OK, "{}", r.body);
    let id = app.ctx.store.webhooks().await.unwrap().iter().find(|w| w.name == name).unwrap().id;
    (id, shown_secret(&r.body))
}

/// An API request with a JSON body.
fn api_json(method: &str, path: &str, token: &str, body: &str) -> axum::http::Request<axum::body::Body> {
    axum::http::Request::builder()
        .method(method)
        .uri(path)
        .header("authorization", format!("Bearer {token}"))
        .header("content-type", "application/json")
        .body(axum::body::Body::from(body.to_string()))
        .unwrap()
}

fn urlencode(s: &str) -> String {
    s.bytes().map(|b| if b.is_ascii_alphanumeric() { (b as char).to_string() } else { format!("%{b:02X}") }).collect()
}

#[tokio::test]
async fn only_admins_reach_webhooks_and_deliveries_on_every_page_and_api_route() {
    let app = app().await;
    let (admin, csrf) = app.login("admin").await;
    let (id, _) = create(&app, &admin, &csrf, "CRM", "https://203.0.113.10/hook").await;
    for user in ["bernd", "personal"] {
        let (cookie, csrf) = app.login(user).await;
        let pages = ["/optionen/webhooks".to_string(), "/optionen/zustellungen".to_string()];
        for path in pages {
            assert_eq!(app.get(&path, Some(&cookie)).await.status, StatusCode::FORBIDDEN, "{user} GET {path}");
        }
        let posts = [
            ("/optionen/webhooks".to_string(), format!("csrf={csrf}&name=X&url=https%3A%2F%2Fx.de&events=mail.kept")),
            (format!("/optionen/webhooks/{id}/geheimnis"), format!("csrf={csrf}&bestaetigt=ja")),
            (format!("/optionen/webhooks/{id}/pausieren"), format!("csrf={csrf}")),
            (format!("/optionen/webhooks/{id}/fortsetzen"), format!("csrf={csrf}")),
            (format!("/optionen/webhooks/{id}/loeschen"), format!("csrf={csrf}&bestaetigt=ja")),
            ("/optionen/zustellungen/1/erneut".to_string(), format!("csrf={csrf}")),
        ];
        for (path, form) in posts {
            assert_eq!(app.post(&path, Some(&cookie), &form).await.status, StatusCode::FORBIDDEN, "{user} POST {path}");
        }
        let employee = app.ctx.store.find_employee(user).await.unwrap();
        let token = postkorb_web::new_api_token(&app.ctx.store, employee.id, "t").await.unwrap();
        let new = r#"{"name": "X", "url": "https://203.0.113.9/", "events": ["mail.kept"]}"#;
        for (method, path, body) in [
            ("GET", "/api/v1/webhooks".to_string(), None),
            ("POST", "/api/v1/webhooks".to_string(), Some(new)),
            ("GET", format!("/api/v1/webhooks/{id}"), None),
            ("PATCH", format!("/api/v1/webhooks/{id}"), Some(r#"{"active": false}"#)),
            ("DELETE", format!("/api/v1/webhooks/{id}"), None),
            ("POST", format!("/api/v1/webhooks/{id}/secret"), None),
            ("GET", "/api/v1/deliveries".to_string(), None),
            ("POST", "/api/v1/deliveries/1/retry".to_string(), None),
        ] {
            let request = match body {
                Some(body) => api_json(method, &path, &token, body),
                None => api(method, &path, &token),
            };
            let r = app.send(request).await;
            assert_eq!(r.status, StatusCode::FORBIDDEN, "{user} {method} {path}: {}", r.body);
        }
    }
    let w = app.ctx.store.webhook(id).await.unwrap().unwrap();
    assert!(w.active && w.name == "CRM", "nothing changed: {w:?}");
}

#[tokio::test]
async fn every_form_needs_the_csrf_token() {
    let app = app().await;
    let (admin, csrf) = app.login("admin").await;
    let (id, _) = create(&app, &admin, &csrf, "CRM", "https://203.0.113.10/hook").await;
    for (path, form) in [
        ("/optionen/webhooks".to_string(), "name=X&url=https%3A%2F%2Fx.de&events=mail.kept".to_string()),
        (format!("/optionen/webhooks/{id}/geheimnis"), "bestaetigt=ja".into()),
        (format!("/optionen/webhooks/{id}/pausieren"), String::new()),
        (format!("/optionen/webhooks/{id}/fortsetzen"), "csrf=falsch".into()),
        (format!("/optionen/webhooks/{id}/loeschen"), "bestaetigt=ja&csrf=".into()),
        ("/optionen/zustellungen/1/erneut".to_string(), String::new()),
    ] {
        let r = app.post(&path, Some(&admin), &form).await;
        assert_eq!(r.status, StatusCode::BAD_REQUEST, "POST {path} without the token: {}", r.body);
    }
    assert_eq!(app.ctx.store.webhooks().await.unwrap().len(), 1, "nothing made or deleted");
    assert!(app.ctx.store.webhook(id).await.unwrap().unwrap().active);
}

#[tokio::test]
async fn the_secret_is_shown_once_and_never_again_and_a_hostile_name_stays_text() {
    let app = app().await;
    let (admin, csrf) = app.login("admin").await;
    let hostile = "<script>alert(1)</script>\"'";
    let (id, first) = create(&app, &admin, &csrf, hostile, "https://203.0.113.10/hook").await;
    assert!(first.starts_with("whsec_") && first.len() > 40, "{first}");
    // „Neues Geheimnis“ asks first, then shows a new one once.
    let ask = app.post(&format!("/optionen/webhooks/{id}/geheimnis"), Some(&admin), &format!("csrf={csrf}")).await;
    assert!(ask.body.contains("Neues Geheimnis erzeugen?") && !ask.body.contains("id=\"new-secret\""), "{}", ask.body);
    let form = format!("csrf={csrf}&bestaetigt=ja");
    let r = app.post(&format!("/optionen/webhooks/{id}/geheimnis"), Some(&admin), &form).await;
    let second = shown_secret(&r.body);
    assert_ne!(first, second);
    let admin_id = app.ctx.store.find_employee("admin").await.unwrap().id;
    let token = postkorb_web::new_api_token(&app.ctx.store, admin_id, "t").await.unwrap();
    let mut seen = Vec::new();
    for path in ["/optionen/webhooks", "/optionen/zustellungen", "/protokoll", "/"] {
        seen.push((path.to_string(), app.get(path, Some(&admin)).await.body));
    }
    for path in ["/api/v1/webhooks".to_string(), format!("/api/v1/webhooks/{id}"), "/api/v1/deliveries".into()] {
        seen.push((path.clone(), app.send(api("GET", &path, &token)).await.body));
    }
    let patched = app.send(api_json("PATCH", &format!("/api/v1/webhooks/{id}"), &token, r#"{"active": false}"#)).await;
    seen.push(("PATCH".into(), patched.body));
    let sealed = app.ctx.store.webhook_sealed_secret(id).await.unwrap().unwrap();
    seen.push(("the stored column".into(), sealed));
    for (what, body) in &seen {
        for secret in [&first, &second] {
            let key = secret.trim_start_matches("whsec_");
            assert!(!body.contains(key), "{what} shows a secret");
        }
    }
    let list = &seen[0].1;
    assert!(!list.contains("<script>alert(1)"), "the name is escaped");
    assert!(list.contains("alert(1)") && !list.contains("</script>\""), "{list}");
    let api_list = &seen[4].1;
    assert!(api_list.contains("<script>alert(1)</script>"), "JSON carries the name as text: {api_list}");
}

#[tokio::test]
async fn an_address_of_the_own_network_is_refused_on_saving_with_a_german_word_at_the_field() {
    let app = app_with(|s| s.allow_private_hosts = false).await;
    let (admin, csrf) = app.login("admin").await;
    for url in ["http://127.0.0.1:8080/hook", "http://[::1]/hook", "https://192.168.1.5/", "http://localhost:9/x"] {
        let form = format!("csrf={csrf}&name=Intern&url={}&events=mail.kept", urlencode(url));
        let r = app.post("/optionen/webhooks", Some(&admin), &form).await;
        assert_eq!(r.status, StatusCode::UNPROCESSABLE_ENTITY, "{url}");
        let error = r.body.split("id=\"error-url\">").nth(1).unwrap_or_else(|| panic!("{url}: {}", r.body));
        assert!(error.starts_with("Diese Adresse liegt im eigenen Netz"), "{url}: {error}");
        assert!(r.body.contains(&format!("value=\"{url}\"").replace('&', "&amp;")), "the URL typed stays: {url}");
    }
    let admin_id = app.ctx.store.find_employee("admin").await.unwrap().id;
    let token = postkorb_web::new_api_token(&app.ctx.store, admin_id, "t").await.unwrap();
    let body = r#"{"name": "Intern", "url": "http://10.0.0.5/hook", "events": ["mail.kept"]}"#;
    let r = app.send(api_json("POST", "/api/v1/webhooks", &token, body)).await;
    assert_eq!(r.status, StatusCode::UNPROCESSABLE_ENTITY, "{}", r.body);
    assert!(r.body.contains("\"field\":\"url\"") && r.body.contains("allow_private_hosts"), "{}", r.body);
    // Core's validator and a missing event: German, next to their fields.
    let form = format!("csrf={csrf}&name=%20&url=ftp%3A%2F%2Fx");
    let r = app.post("/optionen/webhooks", Some(&admin), &form).await;
    assert!(r.body.contains("id=\"error-name\">Bitte einen Namen angeben."), "{}", r.body);
    let form = format!("csrf={csrf}&name=A&url=https%3A%2F%2F203.0.113.1%2F");
    let r = app.post("/optionen/webhooks", Some(&admin), &form).await;
    assert!(r.body.contains("id=\"error-events\">Bitte mindestens ein Ereignis"), "{}", r.body);
    assert!(app.ctx.store.webhooks().await.unwrap().is_empty());
}

#[tokio::test]
async fn erneut_senden_makes_a_given_up_delivery_due_and_it_arrives_with_a_link_that_opens() {
    let app = app().await;
    let (admin, csrf) = app.login("admin").await;
    let mut deps = Deps::of(&app.ctx).unwrap();
    deps.public_url = "https://postkorb.example".into();
    let refusing =
        Dispatcher::new(Deps { net: postkorb_source::NetPolicy { allow_private_hosts: false }, ..deps.clone() });
    let allowing = Dispatcher::new(deps);
    allowing.once(now()).await.unwrap(); // the channel starts here
    // The secret of the form is what the receiver verifies with.
    let secret = {
        let (_, s) = create(&app, &admin, &csrf, "Empfänger", "http://127.0.0.1:1/").await;
        s
    };
    let receiver = Receiver::start(&secret);
    let id = app.ctx.store.webhooks().await.unwrap()[0].id;
    app.ctx.store.update_webhook(id, "Empfänger", &receiver.url("/hook"), &["mail.kept".into()]).await.unwrap();
    let mb = postkorb_store::MailboxRecord { name: "t".into(), protocol: "maildir".into(), ..Default::default() };
    let mb = app.ctx.store.save_mailbox(&mb, 1).await.unwrap();
    let raw = "From: x@y.de\r\nSubject: Werbung <b>fett</b>\r\nMessage-ID: <w@x>\r\n\r\nGeheimer Text\r\n";
    app.ctx.store.commit_batch(mb.id, &[kept_item("k1", raw, KeepReason::NoRoute)], 1).await.unwrap();
    let round = refusing.once(now()).await.unwrap();
    assert_eq!(round.failed, 1, "{round:?}");
    let log = app.get("/optionen/zustellungen?status=failed", Some(&admin)).await;
    assert!(log.body.contains("E-Mail nicht zugeordnet") && log.body.contains("Webhook „Empfänger“"), "{}", log.body);
    assert!(log.body.contains("aufgegeben"), "{}", log.body);
    let delivery = app.ctx.store.deliveries(Some("failed"), 10, 0).await.unwrap().0[0].id;
    let r = app.post(&format!("/optionen/zustellungen/{delivery}/erneut"), Some(&admin), &format!("csrf={csrf}")).await;
    assert_eq!(r.status, StatusCode::SEE_OTHER);
    let back = app.get(r.headers["location"].to_str().unwrap(), Some(&admin)).await;
    assert!(back.body.contains("Die Zustellung wird gleich erneut versucht."), "{}", back.body);
    assert_eq!(app.ctx.store.delivery(delivery).await.unwrap().unwrap().status, "pending");
    let round = allowing.once(now() + 1).await.unwrap();
    assert_eq!(round.delivered, 1, "{round:?}");
    let accepted = receiver.accepted();
    assert_eq!(accepted.len(), 1, "once, signed: {accepted:?}");
    assert_eq!(accepted[0].1, "mail.kept");
    // The link of mail.kept is the real page of the kept mail.
    let body: serde_json::Value = serde_json::from_str(receiver.log()[0]["body"].as_str().unwrap()).unwrap();
    let path = body["data"]["link"]["path"].as_str().unwrap();
    assert_eq!(body["data"]["link"]["url"], format!("https://postkorb.example{path}"));
    let page = app.get(path, Some(&admin)).await;
    assert_eq!(page.status, StatusCode::OK, "{path}");
    assert!(page.body.contains("fett") && !page.body.contains("<b>fett"), "{}", page.body);
    assert!(!receiver.log().iter().any(|r| r["body"].as_str().unwrap().contains("Geheimer Text")));
}

#[tokio::test]
async fn a_webhook_paused_for_failing_is_told_to_admins_on_the_startmaske_only() {
    let app = app().await;
    let (admin, csrf) = app.login("admin").await;
    let (id, _) = create(&app, &admin, &csrf, "Maklerverwaltung", "https://203.0.113.10/hook").await;
    app.ctx.store.set_webhook_active(id, false, "failing", now()).await.unwrap();
    let told = "Webhook „Maklerverwaltung“ wurde nach 3 Tagen ohne Erfolg pausiert.";
    for path in ["/", "/optionen/webhooks", "/optionen/zustellungen"] {
        let page = app.get(path, Some(&admin)).await.body;
        assert!(page.contains(told) && page.contains("href=\"/optionen/webhooks\""), "{path}: {page}");
    }
    let (bernd, _) = app.login("bernd").await;
    assert!(!app.get("/", Some(&bernd)).await.body.contains("pausiert"));
    // „Fortsetzen“ ends the notice; „Pausieren“ by hand is no failure.
    let r = app.post(&format!("/optionen/webhooks/{id}/fortsetzen"), Some(&admin), &format!("csrf={csrf}")).await;
    assert_eq!(r.status, StatusCode::SEE_OTHER);
    app.post(&format!("/optionen/webhooks/{id}/pausieren"), Some(&admin), &format!("csrf={csrf}")).await;
    let list = app.get("/optionen/webhooks", Some(&admin)).await.body;
    assert!(!list.contains(told) && list.contains("von Hand"), "{list}");
    assert!(!app.get("/", Some(&admin)).await.body.contains(told));
    // „Löschen“ asks first.
    let path = format!("/optionen/webhooks/{id}/loeschen");
    let ask = app.post(&path, Some(&admin), &format!("csrf={csrf}")).await;
    assert!(ask.body.contains("Webhook löschen?"), "{}", ask.body);
    assert_eq!(app.ctx.store.webhooks().await.unwrap().len(), 1);
    let done = app.post(&path, Some(&admin), &format!("csrf={csrf}&bestaetigt=ja")).await;
    assert_eq!(done.status, StatusCode::SEE_OTHER);
    assert!(app.ctx.store.webhooks().await.unwrap().is_empty());
}
