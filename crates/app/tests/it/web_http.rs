//! The web application over HTTP (no browser): who may reach what, CSRF, sessions, the login limit,
//! the API token, and that a hostile mail stays inert in the HTML we send. Then the hardening of
//! logins, sessions and tokens (issue #13 items 5, 7, 8, 11, 12). The mailbox list and its actions
//! are in web_mailboxes.rs, on this module's `App`.

use axum::Router;
use axum::body::Body;
use axum::http::{Request, StatusCode, header};
use postkorb_app::Ctx;
use postkorb_app::settings::Settings;
use postkorb_core::{Decision, EmailAddress, EmployeeId, Permission};
use postkorb_store::{ImportItem, NewEmployee};
use tower::ServiceExt;

pub(crate) struct App {
    pub(crate) ctx: Ctx,
    pub(crate) router: Router,
    _dir: tempfile::TempDir,
}

pub(crate) const PW: &str = "richtig-geheim-1";

pub(crate) async fn app() -> App {
    app_with(|_| {}).await
}

pub(crate) async fn app_with(change: impl FnOnce(&mut Settings)) -> App {
    crate::test_dns::install();
    let dir = tempfile::tempdir().unwrap();
    let mut settings = Settings { data_dir: dir.path().to_path_buf(), ..Settings::default() };
    change(&mut settings);
    let ctx = Ctx::open(settings).await.unwrap();
    let add = |name: &str, perms: Vec<Permission>, license: Option<&str>, email: Option<&str>| NewEmployee {
        name: name.into(),
        username: Some(name.to_lowercase()),
        is_current: true,
        license: license.map(str::to_string),
        work_email: email.map(|e| EmailAddress::parse(e).unwrap()),
        permissions: perms,
    };
    for e in [
        add("Admin", vec![Permission::ManageMailImport, Permission::ManageEmployees], None, None),
        add("Personal", vec![Permission::ManageEmployees], None, None),
        add("Bernd", vec![], Some("L2"), None),
        add("Anna", vec![], None, Some("anna@mustermail.de")),
    ] {
        let e = ctx.store.add_employee(&e, 1).await.unwrap();
        ctx.store.set_password_hash(e.id, &postkorb_web::hash_password(PW)).await.unwrap();
    }
    let router = postkorb_app::serve::http::router(&ctx).unwrap();
    App { ctx, router, _dir: dir }
}

pub(crate) struct Resp {
    pub(crate) status: StatusCode,
    pub(crate) cookie: Option<String>,
    pub(crate) body: String,
    pub(crate) headers: axum::http::HeaderMap,
}

impl App {
    pub(crate) async fn send(&self, req: Request<Body>) -> Resp {
        let res = self.router.clone().oneshot(req).await.unwrap();
        let status = res.status();
        let headers = res.headers().clone();
        let cookie =
            headers.get(header::SET_COOKIE).map(|v| v.to_str().unwrap().split(';').next().unwrap().to_string());
        let bytes = axum::body::to_bytes(res.into_body(), 10 << 20).await.unwrap();
        Resp { status, cookie, body: String::from_utf8_lossy(&bytes).to_string(), headers }
    }

    pub(crate) async fn get(&self, path: &str, cookie: Option<&str>) -> Resp {
        let mut b = Request::get(path);
        if let Some(c) = cookie {
            b = b.header(header::COOKIE, c);
        }
        self.send(b.body(Body::empty()).unwrap()).await
    }

    pub(crate) async fn post(&self, path: &str, cookie: Option<&str>, form: &str) -> Resp {
        let mut b = Request::post(path).header(header::CONTENT_TYPE, "application/x-www-form-urlencoded");
        if let Some(c) = cookie {
            b = b.header(header::COOKIE, c);
        }
        self.send(b.body(Body::from(form.to_string())).unwrap()).await
    }

    /// A GET as it arrives over TCP from `peer`, with extra headers.
    pub(crate) async fn get_from(&self, path: &str, peer: &str, headers: &[(&str, &str)]) -> Resp {
        let mut b = Request::get(path);
        for (k, v) in headers {
            b = b.header(*k, *v);
        }
        let mut req = b.body(Body::empty()).unwrap();
        let addr: std::net::SocketAddr = format!("{peer}:40000").parse().unwrap();
        req.extensions_mut().insert(axum::extract::ConnectInfo(addr));
        self.send(req).await
    }

    /// Logs in and returns the session cookie and the page's CSRF token.
    pub(crate) async fn login(&self, user: &str) -> (String, String) {
        let r = self.post("/anmeldung", None, &format!("username={user}&password={PW}")).await;
        assert_eq!(r.status, StatusCode::SEE_OTHER, "login of {user}: {}", r.body);
        let cookie = r.cookie.expect("session cookie");
        let home = self.get("/", Some(&cookie)).await;
        let csrf = home.body.split("name=\"csrf\" value=\"").nth(1).unwrap().split('"').next().unwrap().to_string();
        (cookie, csrf)
    }
}

#[tokio::test]
async fn every_screen_checks_login_and_permission() {
    let app = app().await;
    let admin = app.login("admin").await.0;
    let personal = app.login("personal").await.0;
    let bernd = app.login("bernd").await.0;
    // (path, anonymous, plain user Bernd, employees-only, admin)
    let matrix: &[(&str, u16, u16, u16, u16)] = &[
        ("/", 303, 200, 200, 200),
        ("/suche?q=Schaden", 303, 200, 200, 200),
        ("/optionen/e-mail", 303, 403, 403, 200),
        ("/optionen/e-mail/neu", 303, 403, 403, 200),
        ("/optionen/e-mail/default", 303, 403, 403, 404),
        ("/optionen/e-mail/adressen", 303, 403, 403, 200),
        ("/nicht-zugeordnet", 303, 403, 403, 200),
        ("/protokoll", 303, 403, 403, 200),
        ("/mitarbeiter", 303, 403, 200, 200),
        ("/mitarbeiter/neu", 303, 403, 200, 200),
        ("/mitarbeiter/1", 303, 403, 200, 200),
        ("/vorgang/999", 303, 404, 404, 404),
    ];
    for (path, anon, user, emp, adm) in matrix {
        for (who, cookie, expected) in [
            ("anonymous", None, anon),
            ("bernd", Some(&bernd), user),
            ("personal", Some(&personal), emp),
            ("admin", Some(&admin), adm),
        ] {
            let r = app.get(path, cookie.map(String::as_str)).await;
            assert_eq!(r.status.as_u16(), *expected, "GET {path} as {who}");
            if r.status == StatusCode::FORBIDDEN {
                assert!(r.body.contains("Keine Berechtigung"), "German 403 page for {path}");
            }
        }
    }
    // The menu shows only what the user may use.
    let home = app.get("/", Some(&bernd)).await.body;
    assert!(!home.contains("E-Mail-Adressen verwalten") && !home.contains("Nicht zugeordnete E-Mails"));
    let home = app.get("/", Some(&admin)).await.body;
    assert!(home.contains("E-Mail-Adressen verwalten") && home.contains("Nicht zugeordnete E-Mails"));
}

#[tokio::test]
async fn state_changing_requests_need_the_session_token_and_the_same_origin() {
    let app = app().await;
    let (admin, csrf) = app.login("admin").await;
    let bernd_id = app.ctx.store.find_employee("bernd").await.unwrap().id.0;
    let anna_id = app.ctx.store.find_employee("anna").await.unwrap().id.0;
    let form = format!("from={anna_id}&to={bernd_id}");
    let r = app.post("/optionen/e-mail/adressen", Some(&admin), &form).await;
    assert_eq!(r.status, StatusCode::BAD_REQUEST, "no token");
    let r = app.post("/optionen/e-mail/adressen", Some(&admin), &format!("csrf=wrong&{form}")).await;
    assert_eq!(r.status, StatusCode::BAD_REQUEST, "wrong token");
    let cross = Request::post("/optionen/e-mail/adressen")
        .header(header::CONTENT_TYPE, "application/x-www-form-urlencoded")
        .header(header::COOKIE, &admin)
        .header("origin", "https://evil.example")
        .header("sec-fetch-site", "cross-site")
        .body(Body::from(format!("csrf={csrf}&{form}")))
        .unwrap();
    assert_eq!(app.send(cross).await.status, StatusCode::FORBIDDEN, "cross-site");
    assert!(app.ctx.store.routes().await.unwrap().is_empty());
    let r = app.post("/optionen/e-mail/adressen", Some(&admin), &format!("csrf={csrf}&{form}")).await;
    assert_eq!(r.status, StatusCode::SEE_OTHER, "{}", r.body);
    assert_eq!(app.ctx.store.routes().await.unwrap().len(), 1);
}

#[tokio::test]
async fn a_row_that_breaks_the_rules_is_refused_with_german_messages() {
    let app = app().await;
    let (admin, csrf) = app.login("admin").await;
    let bernd_id = app.ctx.store.find_employee("bernd").await.unwrap().id.0;
    let anna_id = app.ctx.store.find_employee("anna").await.unwrap().id.0;
    // Bernd has no work e-mail, Anna no licence.
    let r =
        app.post("/optionen/e-mail/adressen", Some(&admin), &format!("csrf={csrf}&from={bernd_id}&to={anna_id}")).await;
    assert_eq!(r.status, StatusCode::UNPROCESSABLE_ENTITY);
    assert!(r.body.contains("keine E-Mail-Adresse hinterlegt"), "{}", r.body);
    assert!(r.body.contains("keinen aktiven Lizenzstring"), "{}", r.body);
    // The dropdowns offer exactly the eligible employees.
    let page = app.get("/optionen/e-mail/adressen", Some(&admin)).await.body;
    let von = page.split("id=\"from\"").nth(1).unwrap().split("</select>").next().unwrap();
    let an = page.split("id=\"to\"").nth(1).unwrap().split("</select>").next().unwrap();
    assert!(von.contains("Anna") && !von.contains("Bernd"), "{von}");
    assert!(an.contains("Bernd") && !an.contains("Anna"), "{an}");
}

#[tokio::test]
async fn the_session_id_changes_at_login_and_logout_ends_it() {
    let app = app().await;
    let (first, _) = app.login("bernd").await;
    let r = Request::post("/anmeldung")
        .header(header::CONTENT_TYPE, "application/x-www-form-urlencoded")
        .header(header::COOKIE, &first)
        .body(Body::from(format!("username=bernd&password={PW}")))
        .unwrap();
    let second = app.send(r).await.cookie.unwrap();
    assert_ne!(first, second);
    assert_eq!(app.get("/", Some(&first)).await.status, StatusCode::SEE_OTHER, "old session is gone");
    let home = app.get("/", Some(&second)).await;
    assert_eq!(home.status, StatusCode::OK);
    let csrf = home.body.split("name=\"csrf\" value=\"").nth(1).unwrap().split('"').next().unwrap().to_string();
    let cookie_flags = app.post("/anmeldung", None, &format!("username=bernd&password={PW}")).await.headers;
    let set_cookie = cookie_flags.get(header::SET_COOKIE).unwrap().to_str().unwrap();
    assert!(set_cookie.contains("HttpOnly") && set_cookie.contains("SameSite=Strict"), "{set_cookie}");
    assert_eq!(app.post("/abmelden", Some(&second), &format!("csrf={csrf}")).await.status, StatusCode::SEE_OTHER);
    assert_eq!(app.get("/", Some(&second)).await.status, StatusCode::SEE_OTHER);
}

#[tokio::test]
async fn guessing_passwords_is_stopped_after_five_failures() {
    let app = app().await;
    for _ in 0..5 {
        let r = app.post("/anmeldung", None, "username=bernd&password=falsch").await;
        assert_eq!(r.status, StatusCode::UNAUTHORIZED);
        assert!(r.body.contains("Benutzername oder Passwort ist falsch"));
    }
    let r = app.post("/anmeldung", None, &format!("username=bernd&password={PW}")).await;
    assert_eq!(r.status, StatusCode::TOO_MANY_REQUESTS, "even the right password waits (from the same address)");
    assert!(r.body.contains("Zu viele Fehlversuche"));
}

pub(crate) fn hostile_item(bernd: EmployeeId, anna: EmployeeId) -> ImportItem {
    let raw = concat!(
        "From: \"<script>window.__pwned=1</script>\" <anna@mustermail.de>\r\n",
        "Subject: <script>window.__pwned=1</script><img src=x onerror=alert(1)>\r\n",
        "MIME-Version: 1.0\r\nContent-Type: multipart/mixed; boundary=b\r\n\r\n",
        "--b\r\nContent-Type: text/html\r\n\r\n<p>Hallo</p><script>window.__pwned=1</script><img src=x onerror=\"window.__pwned=1\"><a href=\"javascript:window.__pwned=1\">klick</a>\r\n",
        "--b\r\nContent-Type: text/html\r\nContent-Disposition: attachment; filename=\"<script>x</script>.html\"\r\n\r\n<script>window.__pwned=1</script>\r\n",
        "--b--\r\n"
    )
    .as_bytes()
    .to_vec();
    let mail = postkorb_mail::parse(&raw);
    ImportItem {
        source_key: "test:1".into(),
        fingerprint: postkorb_mail::fingerprint(&raw, None),
        raw_digest: postkorb_mail::digests(&raw, None).raw_digest,
        legacy_fingerprint: None,
        raw: raw.into(),
        mail,
        decision: Decision::Assign { sender: anna, to: bernd },
        raw_file: None,
        ack: Default::default(),
        search_terms: None,
    }
}

#[tokio::test]
async fn a_hostile_mail_is_shown_escaped_sanitised_and_downloaded_as_an_attachment() {
    let app = app().await;
    let bernd = app.ctx.store.find_employee("bernd").await.unwrap().id;
    let anna = app.ctx.store.find_employee("anna").await.unwrap().id;
    let mb = postkorb_store::MailboxRecord { name: "t".into(), protocol: "maildir".into(), ..Default::default() };
    let mb = app.ctx.store.save_mailbox(&mb, 1).await.unwrap();
    app.ctx.store.commit_batch(mb.id, &[hostile_item(bernd, anna)], 1).await.unwrap();
    let (cookie, _) = app.login("bernd").await;
    let page = app.get("/vorgang/1", Some(&cookie)).await;
    assert_eq!(page.status, StatusCode::OK);
    assert!(!page.body.contains("<script>"), "escaped in the page");
    assert!(page.body.contains("&#60;script&#62;") || page.body.contains("&lt;script&gt;"));
    let frame_tag = "<iframe class=\"mailhtml\" sandbox=\"allow-popups allow-popups-to-escape-sandbox\" ";
    assert!(page.body.contains(frame_tag), "HTML only in a sandboxed frame (links may open a tab, nothing runs)");
    let frame = app.get("/vorgang/1/html", Some(&cookie)).await;
    assert!(
        !frame.body.contains("<script") && !frame.body.contains("onerror") && !frame.body.contains("javascript:"),
        "{}",
        frame.body
    );
    let csp = frame.headers.get(header::CONTENT_SECURITY_POLICY).unwrap().to_str().unwrap();
    assert!(csp.starts_with("sandbox") && csp.contains("default-src 'none'"), "{csp}");
    let att_id = page.body.split("/vorgang/1/anhang/").nth(1).unwrap().split('"').next().unwrap().to_string();
    let att = app.get(&format!("/vorgang/1/anhang/{att_id}"), Some(&cookie)).await;
    assert!(att.headers.get(header::CONTENT_DISPOSITION).unwrap().to_str().unwrap().starts_with("attachment;"));
    assert_eq!(
        att.headers.get(header::CONTENT_TYPE).unwrap(),
        "application/octet-stream",
        "HTML is never served as HTML"
    );
    assert_eq!(att.headers.get(header::X_CONTENT_TYPE_OPTIONS).unwrap(), "nosniff");
    // Anna's case is not Admin-less users' business: another user without rights gets 403.
    let (other, _) = app.login("personal").await;
    assert_eq!(app.get("/vorgang/1", Some(&other)).await.status, StatusCode::FORBIDDEN);
}

#[tokio::test]
async fn the_api_needs_a_token_and_respects_permissions() {
    let app = app().await;
    let bernd = app.ctx.store.find_employee("bernd").await.unwrap();
    let admin = app.ctx.store.find_employee("admin").await.unwrap();
    let bernd_token = postkorb_web::new_api_token(&app.ctx.store, bernd.id, "test").await.unwrap();
    let admin_token = postkorb_web::new_api_token(&app.ctx.store, admin.id, "test").await.unwrap();
    let api = |path: &str, token: Option<&str>| {
        let mut b = Request::get(path);
        if let Some(t) = token {
            b = b.header(header::AUTHORIZATION, format!("Bearer {t}"));
        }
        b.body(Body::empty()).unwrap()
    };
    assert_eq!(app.send(api("/api/v1/cases", None)).await.status, StatusCode::UNAUTHORIZED);
    assert_eq!(app.send(api("/api/v1/cases", Some("nonsense"))).await.status, StatusCode::UNAUTHORIZED);
    let r = app.send(api("/api/v1/cases", Some(&bernd_token))).await;
    assert_eq!((r.status, r.body.as_str()), (StatusCode::OK, "[]"));
    for path in ["/api/v1/routes", "/api/v1/kept", "/api/v1/mailboxes", "/api/v1/cases?all=true", "/api/v1/employees"] {
        assert_eq!(app.send(api(path, Some(&bernd_token))).await.status, StatusCode::FORBIDDEN, "{path} as Bernd");
        assert_eq!(app.send(api(path, Some(&admin_token))).await.status, StatusCode::OK, "{path} as admin");
    }
    let spec = app.send(api("/api/v1/openapi.json", None)).await;
    let spec: serde_json::Value = serde_json::from_str(&spec.body).unwrap();
    assert_eq!(spec["openapi"], "3.0.3");
    assert!(spec["paths"]["/sync"]["post"].is_object());
    let add = Request::post("/api/v1/routes")
        .header(header::AUTHORIZATION, format!("Bearer {admin_token}"))
        .header(header::CONTENT_TYPE, "application/json")
        .body(Body::from(format!("{{\"from\": {}, \"to\": {}}}", bernd.id, admin.id)))
        .unwrap();
    let r = app.send(add).await;
    assert_eq!(r.status, StatusCode::UNPROCESSABLE_ENTITY, "{}", r.body);
    assert!(r.body.contains("no work e-mail") && r.body.contains("no active licence"), "{}", r.body);
}

#[tokio::test]
async fn a_kept_mail_is_routed_after_the_admin_creates_the_missing_row_or_discarded_with_an_audit_entry() {
    let app = app().await;
    let bernd = app.ctx.store.find_employee("bernd").await.unwrap().id;
    let mb = postkorb_store::MailboxRecord { name: "t".into(), protocol: "maildir".into(), ..Default::default() };
    let mb = app.ctx.store.save_mailbox(&mb, 1).await.unwrap();
    let items: Vec<ImportItem> = (1..=2)
        .map(|i| {
            let raw = format!("From: Anna <anna@mustermail.de>\r\nSubject: Rückruf {i}\r\nMessage-ID: <k{i}@x>\r\n\r\nBitte zurückrufen.\r\n").into_bytes();
            let mail = postkorb_mail::parse(&raw);
            ImportItem {
                source_key: format!("k{i}"),
                fingerprint: postkorb_mail::fingerprint(&raw, mail.message_id.as_deref()),
                raw_digest: postkorb_mail::digests(&raw, None).raw_digest,
        legacy_fingerprint: None,
                raw: raw.into(),
                mail,
                decision: Decision::Keep(postkorb_core::KeepReason::NoRoute),
                raw_file: None,
                ack: Default::default(),
                search_terms: None,
            }
        })
        .collect();
    app.ctx.store.commit_batch(mb.id, &items, 1).await.unwrap();
    let (admin, csrf) = app.login("admin").await;
    let list = app.get("/nicht-zugeordnet", Some(&admin)).await.body;
    assert!(list.contains("Rückruf 1") && list.contains("Absender unbekannt"), "{list}");
    let detail = app.get("/nicht-zugeordnet/1", Some(&admin)).await.body;
    assert!(
        detail.contains("Zuordnung anlegen und zuordnen") && detail.contains("Anna &#60;anna@mustermail.de&#62;"),
        "{detail}"
    );

    let r = app.post("/nicht-zugeordnet/1/zuordnen", Some(&admin), &format!("csrf={csrf}&to={bernd}")).await;
    assert_eq!(r.status, StatusCode::SEE_OTHER, "{}", r.body);
    let cases = app.ctx.store.cases(Some(bernd), 10, 0).await.unwrap();
    assert_eq!(cases.len(), 1);
    assert_eq!(cases[0].subject, "Rückruf 1");
    assert_eq!(app.ctx.store.routes().await.unwrap().len(), 1, "the row was learned");
    // The second mail follows the now-existing row on „Erneut zuordnen“.
    let r = app.post("/nicht-zugeordnet/2/zuordnen", Some(&admin), &format!("csrf={csrf}&to=0")).await;
    assert_eq!(r.status, StatusCode::SEE_OTHER, "{}", r.body);
    assert_eq!(app.ctx.store.cases(Some(bernd), 10, 0).await.unwrap().len(), 2);
    assert!(app.ctx.store.kept(true, 10, 0).await.unwrap().is_empty());
    let again = app.post("/nicht-zugeordnet/2/verwerfen", Some(&admin), &format!("csrf={csrf}")).await;
    assert_eq!(again.status, StatusCode::BAD_REQUEST, "already routed: {}", again.body);
    assert!(again.body.contains("nicht mehr offen"), "{}", again.body);

    // Discarding is audited.
    let raw = b"From: x@y.de\r\nSubject: Spam\r\n\r\n.\r\n".to_vec();
    let mail = postkorb_mail::parse(&raw);
    let item = ImportItem {
        source_key: "k3".into(),
        fingerprint: "f3".into(),
        raw_digest: postkorb_mail::digests(&raw, None).raw_digest,
        legacy_fingerprint: None,
        raw: raw.into(),
        mail,
        decision: Decision::Keep(postkorb_core::KeepReason::NoRoute),
        raw_file: None,
        ack: Default::default(),
        search_terms: None,
    };
    app.ctx.store.commit_batch(mb.id, &[item], 2).await.unwrap();
    let r = app.post("/nicht-zugeordnet/3/verwerfen", Some(&admin), &format!("csrf={csrf}&bestaetigt=ja")).await;
    assert_eq!(r.status, StatusCode::SEE_OTHER);
    let log = app.get("/protokoll", Some(&admin)).await.body;
    assert!(log.contains("hat die E-Mail „Spam“ verworfen"), "{log}");
}

#[tokio::test]
async fn the_mailbox_form_shows_german_errors_keeps_the_password_write_only_and_tests_the_connection() {
    let app = app().await;
    let (admin, csrf) = app.login("admin").await;
    let page = app.get("/optionen/e-mail/neu", Some(&admin)).await.body;
    assert!(page.contains("in keinem") && page.contains("an Ihre EDV"), "the seed's hints");
    let r = app
        .post("/optionen/e-mail/default", Some(&admin), &format!("csrf={csrf}&protocol=imap&host=&port=99999&tls=implicit&username=&password=&folder=INBOX&disposal=move&target_folder=x&poll_secs=0"))
        .await;
    for msg in [
        "Bitte geben Sie den Server an",
        "Der Port muss eine Zahl",
        "Bitte geben Sie den Benutzernamen an",
        "Bitte geben Sie das Passwort",
        "Abrufintervall",
    ] {
        assert!(r.body.contains(msg), "missing {msg:?}");
    }
    assert!(app.ctx.store.mailboxes().await.unwrap().is_empty(), "nothing saved");
    let port = postkorb_testkit::free_port();
    let r = app
        .post("/optionen/e-mail/default", Some(&admin), &format!("csrf={csrf}&action=test&protocol=imap&host=127.0.0.1&port={port}&tls=none&username=v%40office.test&password=Sehr-Geheim-123&folder=INBOX&disposal=move&target_folder=Postkorb%2FImportiert&poll_secs=60"))
        .await;
    assert!(!r.body.contains("Gespeichert."), "{}", r.body);
    assert!(
        r.body.contains(&format!(
            "Verbindung fehlgeschlagen: Der Server 127.0.0.1 nimmt auf Port {port} keine Verbindung an"
        )),
        "{}",
        r.body
    );
    assert!(!r.body.contains("Sehr-Geheim-123"), "the password is never sent back");
    assert!(r.body.contains("nur für diesen Test"), "{}", r.body);
    assert!(app.ctx.store.mailboxes().await.unwrap().is_empty(), "a test saves nothing");
    let form = format!(
        "csrf={csrf}&action=save&protocol=imap&host=127.0.0.1&port={port}&tls=none&username=v%40office.test&password=Sehr-Geheim-123&folder=INBOX&disposal=move&target_folder=Postkorb%2FImportiert&poll_secs=60"
    );
    let r = app.post("/optionen/e-mail/default", Some(&admin), &form).await;
    assert!(r.body.contains("Gespeichert."), "{}", r.body);
    assert!(r.body.contains("gespeichert – leer lassen"));
    let saved = app.ctx.store.mailbox("default").await.unwrap();
    assert!(saved.secret.is_some());
    assert_eq!(
        postkorb_app::service::mailbox::open_secret(&saved, &app.ctx.key, postkorb_store::SecretColumn::Password)
            .unwrap()
            .unwrap(),
        "Sehr-Geheim-123"
    );
}

/// The form of a password mailbox at `port`, as the browser sends it.
pub(crate) fn mailbox_form(csrf: &str, action: &str, port: u16, password: &str) -> String {
    format!(
        "csrf={csrf}&action={action}&protocol=imap&host=127.0.0.1&port={port}&tls=none&username=v%40office.test\
         &password={password}&folder=INBOX&disposal=move&target_folder=Postkorb%2FImportiert&poll_secs=60"
    )
}

#[tokio::test]
async fn a_test_connection_to_a_changed_server_never_sends_it_the_stored_password() {
    let app = app().await;
    let (admin, csrf) = app.login("admin").await;
    let office = postkorb_testkit::free_port();
    let r = app
        .post("/optionen/e-mail/default", Some(&admin), &mailbox_form(&csrf, "save", office, "Sehr-Geheim-123"))
        .await;
    assert!(r.body.contains("Gespeichert."), "{}", r.body);
    let before = app.ctx.store.mailbox("default").await.unwrap();

    // The attack: the server set to a host of one's own, the password left empty, „Verbindung testen“.
    let evil = postkorb_testkit::Recorder::imap();
    for action in ["test", "dryrun", "save"] {
        let r = app.post("/optionen/e-mail/default", Some(&admin), &mailbox_form(&csrf, action, evil.port(), "")).await;
        assert!(r.body.contains("Bitte geben Sie das Passwort erneut ein"), "{action}: {}", r.body);
        assert!(!r.body.contains("Gespeichert."), "{action}: nothing is saved");
    }
    assert_eq!(evil.connections(), 0, "the foreign host was never contacted");
    let after = app.ctx.store.mailbox("default").await.unwrap();
    assert_eq!((after.port, &after.secret), (before.port, &before.secret), "the stored settings are unchanged");

    // Behind the form's back: the sealed password copied into another mailbox row that points at
    // the foreign host does not open there.
    let stolen = postkorb_store::MailboxRecord {
        name: "evil".into(),
        port: i64::from(evil.port()),
        secret: before.secret.clone(),
        ..before.clone()
    };
    app.ctx.store.save_mailbox(&stolen, 5).await.unwrap();
    let r = postkorb_app::cli::mail::fetch_all(&app.ctx, false).await;
    assert!(r.is_err(), "the copied secret is refused");
    assert!(!evil.got("Sehr-Geheim-123"), "the foreign host never received the password");
    let health = app.ctx.store.mailbox("evil").await.unwrap();
    assert!(health.last_error.unwrap_or_default().contains("enter it again"));

    // With the password entered again, the change is accepted and recorded old → new.
    let r = app
        .post("/optionen/e-mail/default", Some(&admin), &mailbox_form(&csrf, "save", evil.port(), "Neues-Geheimnis-1"))
        .await;
    assert!(r.body.contains("Gespeichert."), "{}", r.body);
    let log = app.ctx.store.audit_log(10).await.unwrap();
    let entry = log.iter().find(|(_, _, action, _)| action == "mailbox_endpoint").expect("an audit entry");
    assert_eq!(entry.1, "admin");
    assert!(entry.3.contains(&format!("Port {office} → {}", evil.port())), "{}", entry.3);
    assert!(!log.iter().any(|e| e.3.contains("Geheim")), "never the secret");
}

#[tokio::test]
async fn a_stored_oauth_connection_is_dropped_when_the_server_or_token_endpoint_changes() {
    let app = app().await;
    let mut m = postkorb_store::MailboxRecord {
        name: "default".into(),
        protocol: "imap".into(),
        host: "imap.buero.de".into(),
        port: 993,
        tls: "implicit".into(),
        username: "v@office.test".into(),
        auth: "xoauth2".into(),
        ..Default::default()
    };
    m.oauth.provider = Some("custom".into());
    m.oauth.client_id = Some("cid".into());
    m.oauth.token_url = Some("https://idp.buero.de/token".into());
    let seal = |m: &postkorb_store::MailboxRecord, c, v: &str| {
        postkorb_app::service::mailbox::seal_secret(m, &app.ctx.key, c, v).unwrap()
    };
    m.oauth.client_secret = Some(seal(&m, postkorb_store::SecretColumn::OAuthClientSecret, "client-geheim"));
    m.oauth.refresh = Some(seal(&m, postkorb_store::SecretColumn::OAuthRefresh, "refresh-geheim"));
    m.oauth.access = Some(seal(&m, postkorb_store::SecretColumn::OAuthAccess, "access-geheim"));
    let saved = app.ctx.store.save_mailbox(&m, 1).await.unwrap();
    assert!(saved.oauth.refresh.is_some());

    // Only the token URL changes, the client secret is "kept": it goes.
    let moved = postkorb_store::MailboxRecord {
        oauth: postkorb_store::OAuthFields {
            token_url: Some("https://evil.example/token".into()),
            ..Default::default()
        },
        ..saved.clone()
    };
    let moved = postkorb_store::MailboxRecord { secret: None, ..moved };
    let after = app.ctx.store.save_mailbox_by(&moved, 2, "admin").await.unwrap();
    assert_eq!((after.oauth.client_secret.as_ref(), after.oauth.refresh.as_ref()), (None, None));
    assert!(after.oauth.access.is_none());
    let log = app.ctx.store.audit_log(5).await.unwrap();
    assert!(log[0].3.contains("Token-URL https://idp.buero.de/token → https://evil.example/token"), "{}", log[0].3);
}

#[tokio::test]
async fn the_probelauf_in_the_form_says_what_would_happen_and_touches_nothing() {
    let app = app().await;
    let bernd = app.ctx.store.find_employee("bernd").await.unwrap().id;
    let anna = app.ctx.store.find_employee("anna").await.unwrap().id;
    app.ctx.store.add_route(anna, bernd, 1).await.unwrap();
    let dovecot = postkorb_testkit::Dovecot::start();
    dovecot.add_user("v@office.test", "geheim-123");
    dovecot.deliver(
        "v@office.test",
        b"From: anna@mustermail.de\r\nSubject: Neu\r\nDate: Thu, 26 Nov 2026 08:00:00 +0100\r\n\r\nx\r\n",
    );
    dovecot.deliver(
        "v@office.test",
        b"From: anna@mustermail.de\r\nSubject: Alt\r\nDate: Mon, 03 Feb 2020 08:00:00 +0100\r\n\r\nx\r\n",
    );
    let (admin, csrf) = app.login("admin").await;
    let form = format!(
        "csrf={csrf}&action=dryrun&protocol=imap&host=127.0.0.1&port={}&tls=none&username=v%40office.test&password=geheim-123&folder=INBOX&disposal=move&target_folder=Postkorb%2FImportiert&poll_secs=60&verify=off&since=2025-01-01",
        dovecot.imap_port()
    );
    let r = app.post("/optionen/e-mail/default", Some(&admin), &form).await;
    assert!(r.body.contains("2 E-Mails im Postfach, davon 0 bereits eingelesen."), "{}", r.body);
    assert!(r.body.contains("1 × Vorgang für Bernd"), "{}", r.body);
    assert!(r.body.contains("1 × älter als das Startdatum"), "{}", r.body);
    assert!(r.body.contains("Es wurde nichts gespeichert, verschoben oder gelöscht."));
    assert!(r.body.contains("value=\"2025-01-01\""), "the cut-off is kept in the form");
    assert_eq!(dovecot.count("v@office.test", "INBOX"), 2);
    assert!(app.ctx.store.cases(None, 10, 0).await.unwrap().is_empty());
    assert!(app.ctx.store.mailboxes().await.unwrap().is_empty(), "a Probelauf saves no mailbox");
    let bad =
        app.post("/optionen/e-mail/default", Some(&admin), &form.replace("since=2025-01-01", "since=31.12.2025")).await;
    assert!(bad.body.contains("Bitte geben Sie das Datum als JJJJ-MM-TT an"), "{}", bad.body);
}

#[tokio::test]
async fn konto_verbinden_runs_the_oauth_code_flow_with_pkce_and_a_state_used_once() {
    let app = app().await;
    let oauth = postkorb_testkit::OAuthServer::start();
    oauth.approve_devices_for("v@office.test");
    let mb = postkorb_store::MailboxRecord {
        name: "default".into(),
        protocol: "imap".into(),
        host: "127.0.0.1".into(),
        port: 993,
        tls: "implicit".into(),
        username: "v@office.test".into(),
        ..Default::default()
    };
    app.ctx.store.save_mailbox(&mb, 1).await.unwrap();
    let (admin, csrf) = app.login("admin").await;
    let auth_url = format!("http://127.0.0.1:{}/authorize", oauth.port());
    let form = format!(
        "csrf={csrf}&provider=custom&client_id=postkorb-test&auth_url={}&token_url={}",
        auth_url.replace(':', "%3A").replace('/', "%2F"),
        oauth.token_url().replace(':', "%3A").replace('/', "%2F")
    );
    let page = app.post("/optionen/e-mail/default/oauth", Some(&admin), &form).await;
    assert_eq!(page.status, StatusCode::OK, "{}", page.body);
    let link = page
        .body
        .split("id=\"provider-link\" href=\"")
        .nth(1)
        .unwrap()
        .split('"')
        .next()
        .unwrap()
        .replace("&amp;", "&");
    assert!(link.starts_with(&auth_url), "{link}");
    assert!(link.contains("code_challenge_method=S256"), "PKCE: {link}");
    assert!(link.contains("redirect_uri=http%3A%2F%2Flocalhost%3A8080%2Foauth%2Fcallback"), "{link}");
    let state = link.split("state=").nth(1).unwrap().split('&').next().unwrap().to_string();

    // The provider's redirect is a cross-site navigation: the SameSite=Strict session cookie is not
    // sent. The single-use state carries the flow; the page then moves on within the site.
    let r = app.get(&format!("/oauth/callback?code=code-ok&state={state}"), None).await;
    assert_eq!(r.status, StatusCode::OK, "{}", r.body);
    assert!(r.body.contains("url=/optionen/e-mail/default?verbunden=1"), "{}", r.body);
    let m = app.ctx.store.mailbox("default").await.unwrap();
    assert_eq!(m.auth, "xoauth2");
    let refresh =
        postkorb_app::service::mailbox::open_secret(&m, &app.ctx.key, postkorb_store::SecretColumn::OAuthRefresh)
            .unwrap()
            .unwrap();
    assert!(oauth.refresh_valid(&refresh));
    let form_page = app.get("/optionen/e-mail/default?verbunden=1", Some(&admin)).await.body;
    assert!(form_page.contains("Konto verbunden") && form_page.contains("(OAuth2)"), "{form_page}");
    let log = app.get("/protokoll", Some(&admin)).await.body;
    assert!(log.contains("OAuth2, Token bis"), "{log}");
    let metrics = app.get_from("/metrics", "127.0.0.1", &[]).await.body;
    assert!(metrics.contains("postkorb_oauth_token_expires_timestamp_seconds{mailbox=\"default\"}"), "{metrics}");

    let replay = app.get(&format!("/oauth/callback?code=code-ok&state={state}"), Some(&admin)).await;
    assert_eq!(replay.status, StatusCode::BAD_REQUEST);
    assert!(replay.body.contains("abgelaufen oder ungültig"), "{}", replay.body);
    let denied = app.get("/oauth/callback?error=access_denied&state=x", Some(&admin)).await;
    assert!(denied.body.contains("abgebrochen oder abgelehnt"));
    let (bernd, _) = app.login("bernd").await;
    assert_eq!(
        app.get(&format!("/oauth/callback?code=code-ok&state={state}"), Some(&bernd)).await.status,
        StatusCode::BAD_REQUEST
    );

    // A flow started by someone who lost the permission meanwhile is not finished.
    let page = app.post("/optionen/e-mail/default/oauth", Some(&admin), &form).await;
    let state = page.body.split("state=").nth(1).unwrap().split("&amp;").next().unwrap().to_string();
    let mut who = app.ctx.store.find_employee("admin").await.unwrap();
    who.permissions.retain(|p| *p != Permission::ManageMailImport);
    app.ctx.store.update_employee(&who).await.unwrap();
    let late = app.get(&format!("/oauth/callback?code=code-ok&state={state}"), None).await;
    assert_eq!(late.status, StatusCode::BAD_REQUEST, "{}", late.body);
}

#[tokio::test]
async fn the_startmaske_counts_new_vorgaenge_since_the_last_visit_and_a_visit_with_nothing_new_writes_nothing() {
    let app = app().await;
    let bernd = app.ctx.store.find_employee("bernd").await.unwrap().id;
    let anna = app.ctx.store.find_employee("anna").await.unwrap().id;
    let mb = postkorb_store::MailboxRecord { name: "t".into(), protocol: "maildir".into(), ..Default::default() };
    let mb = app.ctx.store.save_mailbox(&mb, 1).await.unwrap();
    let item = |key: &str, decision: Decision| {
        let raw = format!("From: anna@mustermail.de\r\nSubject: {key}\r\n\r\nText\r\n").into_bytes();
        let mail = postkorb_mail::parse(&raw);
        ImportItem {
            source_key: key.into(),
            fingerprint: postkorb_mail::fingerprint(&raw, None),
            raw_digest: postkorb_mail::digests(&raw, None).raw_digest,
            legacy_fingerprint: None,
            raw: raw.into(),
            mail,
            decision,
            raw_file: None,
            ack: Default::default(),
            search_terms: None,
        }
    };
    let assign = || Decision::Assign { sender: anna, to: bernd };
    let items = [item("a", assign()), item("b", assign()), item("c", assign())];
    app.ctx.store.commit_batch(mb.id, &items, 1_000).await.unwrap();
    let login = app.post("/anmeldung", None, &format!("username=bernd&password={PW}")).await;
    let cookie = login.cookie.unwrap();
    let badge = |body: &str| body.split("id=\"new-count\">").nth(1).map(|b| b.split(' ').next().unwrap().to_string());

    let first = app.get("/", Some(&cookie)).await.body;
    assert_eq!(badge(&first).as_deref(), Some("3"), "first visit: all three are new");
    let seen = app.ctx.store.last_seen(bernd).await.unwrap();
    assert!(seen.is_some());
    let second = app.get("/", Some(&cookie)).await.body;
    assert_eq!(badge(&second), None, "nothing new since the first visit");
    assert_eq!(app.ctx.store.last_seen(bernd).await.unwrap(), seen, "a visit with nothing new writes nothing");

    // A pooled Vorgang arrives and Bernd synchronises: the next visit shows one new, the one after none.
    tokio::time::sleep(std::time::Duration::from_millis(5)).await;
    let now = std::time::SystemTime::now().duration_since(std::time::UNIX_EPOCH).unwrap().as_millis() as i64;
    let pool = Decision::Pool { sender: anna, candidates: vec![bernd] };
    app.ctx.store.commit_batch(mb.id, &[item("d", pool)], now).await.unwrap();
    let csrf = second.split("name=\"csrf\" value=\"").nth(1).unwrap().split('"').next().unwrap().to_string();
    let sync = app.post("/synchronisieren", Some(&cookie), &format!("csrf={csrf}")).await;
    assert_eq!(sync.status, StatusCode::SEE_OTHER, "{}", sync.body);
    let third = app.get("/", Some(&cookie)).await.body;
    assert_eq!(badge(&third).as_deref(), Some("1"), "{third}");
    assert!(app.ctx.store.last_seen(bernd).await.unwrap() > seen);
    assert_eq!(badge(&app.get("/", Some(&cookie)).await.body), None);
}

// ---- logins, sessions, API tokens (issue #13: 5, 7, 8, 11, 12) ----

fn login_from(address: &str, user: &str, password: &str) -> Request<Body> {
    let mut r = Request::post("/anmeldung")
        .header(header::CONTENT_TYPE, "application/x-www-form-urlencoded")
        .body(Body::from(format!("username={user}&password={password}")))
        .unwrap();
    let addr: std::net::SocketAddr = format!("{address}:40000").parse().unwrap();
    r.extensions_mut().insert(axum::extract::ConnectInfo(addr));
    r
}

pub(crate) fn api(method: &str, path: &str, token: &str) -> Request<Body> {
    Request::builder()
        .method(method)
        .uri(path)
        .header(header::AUTHORIZATION, format!("Bearer {token}"))
        .body(Body::empty())
        .unwrap()
}

fn location(r: &Resp) -> &str {
    r.headers.get(header::LOCATION).map(|v| v.to_str().unwrap()).unwrap_or("")
}

#[tokio::test]
async fn failures_from_one_address_do_not_lock_the_admin_out_from_another() {
    let app = app().await;
    for _ in 0..5 {
        let r = app.send(login_from("203.0.113.66", "admin", "falsch")).await;
        assert_eq!(r.status, StatusCode::UNAUTHORIZED);
    }
    let r = app.send(login_from("203.0.113.66", "admin", PW)).await;
    assert_eq!(r.status, StatusCode::TOO_MANY_REQUESTS, "the attacker's address waits");
    let r = app.send(login_from("198.51.100.10", "admin", PW)).await;
    assert_eq!(r.status, StatusCode::SEE_OTHER, "the admin from the office logs in: {}", r.body);

    // One address trying many names is stopped as a whole, other addresses are not.
    for i in 0..20 {
        let r = app.send(login_from("203.0.113.77", &format!("user{i}"), "falsch")).await;
        assert_eq!(r.status, StatusCode::UNAUTHORIZED);
    }
    let r = app.send(login_from("203.0.113.77", "bernd", PW)).await;
    assert_eq!(r.status, StatusCode::TOO_MANY_REQUESTS);
    assert!(r.body.contains("von Ihrer Adresse aus"), "{}", r.body);
    assert_eq!(app.send(login_from("198.51.100.11", "bernd", PW)).await.status, StatusCode::SEE_OTHER);
    // Refused attempts are not stored; the table holds only the counted failures.
    assert_eq!(app.ctx.store.login_failure_rows().await.unwrap(), 5 + 20);
}

#[tokio::test]
async fn behind_a_trusted_proxy_the_forwarded_client_is_limited_and_a_forged_header_is_ignored() {
    let app = app_with(|s| s.trusted_proxies = vec!["127.0.0.1".parse().unwrap()]).await;
    let through_proxy = |client: &str, password: &str| {
        let mut r = login_from("127.0.0.1", "admin", password);
        r.headers_mut().insert("x-forwarded-for", format!("10.1.1.1, {client}").parse().unwrap());
        r
    };
    for _ in 0..5 {
        assert_eq!(app.send(through_proxy("203.0.113.66", "falsch")).await.status, StatusCode::UNAUTHORIZED);
    }
    assert_eq!(app.send(through_proxy("203.0.113.66", PW)).await.status, StatusCode::TOO_MANY_REQUESTS);
    assert_eq!(app.send(through_proxy("198.51.100.10", PW)).await.status, StatusCode::SEE_OTHER);
    // Not through the proxy: the header is the client's own words and does not count.
    for _ in 0..5 {
        let mut r = login_from("203.0.113.90", "bernd", "falsch");
        r.headers_mut().insert("x-forwarded-for", "198.51.100.99".parse().unwrap());
        assert_eq!(app.send(r).await.status, StatusCode::UNAUTHORIZED);
    }
    assert_eq!(app.send(login_from("203.0.113.90", "bernd", PW)).await.status, StatusCode::TOO_MANY_REQUESTS);
}

#[tokio::test]
async fn the_session_cookie_is_secure_when_public_url_is_https_or_when_forced() {
    for (public_url, force, secure) in [
        (None, false, false),
        (Some("http://postkorb.buero.local"), false, false),
        (Some("https://postkorb.buero.de"), false, true),
        (Some("http://postkorb.buero.local"), true, true),
    ] {
        let app = app_with(|s| {
            s.public_url = public_url.map(str::to_string);
            s.force_secure_cookies = force;
        })
        .await;
        let r = app.post("/anmeldung", None, &format!("username=bernd&password={PW}")).await;
        let set_cookie = r.headers.get(header::SET_COOKIE).unwrap().to_str().unwrap();
        assert_eq!(set_cookie.contains("; Secure"), secure, "public_url {public_url:?}, forced {force}: {set_cookie}");
        assert!(set_cookie.contains("SameSite=Strict") && set_cookie.contains("HttpOnly"), "{set_cookie}");
    }
}

#[tokio::test]
async fn a_password_change_ends_every_other_session_and_every_api_token() {
    let app = app().await;
    let bernd = app.ctx.store.find_employee("bernd").await.unwrap();
    let (laptop, csrf) = app.login("bernd").await;
    let (phone, _) = app.login("bernd").await;
    let token = postkorb_web::new_api_token(&app.ctx.store, bernd.id, "MVP").await.unwrap();
    assert_eq!(app.send(api("GET", "/api/v1/cases", &token)).await.status, StatusCode::OK);

    let form =
        |current: &str, new: &str, repeat: &str| format!("csrf={csrf}&current={current}&new={new}&repeat={repeat}");
    let r = app.post("/konto/passwort", Some(&laptop), &form("falsch", "ganz-neu-2026", "ganz-neu-2026")).await;
    assert_eq!(r.status, StatusCode::UNPROCESSABLE_ENTITY);
    assert!(r.body.contains("Das bisherige Passwort ist falsch."), "{}", r.body);
    let r = app.post("/konto/passwort", Some(&laptop), &form(PW, "ganz-neu-2026", "ganz-neu-2027")).await;
    assert!(r.body.contains("stimmen nicht überein"), "{}", r.body);
    let r = app.post("/konto/passwort", Some(&laptop), &form(PW, "kurz", "kurz")).await;
    assert!(r.body.contains("mindestens 10 Zeichen"), "{}", r.body);
    assert_eq!(app.get("/", Some(&phone)).await.status, StatusCode::OK, "nothing changed yet");

    let r = app.post("/konto/passwort", Some(&laptop), &form(PW, "ganz-neu-2026", "ganz-neu-2026")).await;
    assert_eq!((r.status, location(&r)), (StatusCode::SEE_OTHER, "/konto?hinweis=passwort"), "{}", r.body);
    let fresh = r.cookie.expect("this browser gets a new session");
    assert_eq!(app.get("/", Some(&phone)).await.status, StatusCode::SEE_OTHER, "the other session ended");
    assert_eq!(app.get("/", Some(&laptop)).await.status, StatusCode::SEE_OTHER, "the old id of this one too");
    assert_eq!(app.get("/", Some(&fresh)).await.status, StatusCode::OK);
    assert_eq!(app.send(api("GET", "/api/v1/cases", &token)).await.status, StatusCode::UNAUTHORIZED);
    assert_eq!(
        app.post("/anmeldung", None, &format!("username=bernd&password={PW}")).await.status,
        StatusCode::UNAUTHORIZED
    );
    assert_eq!(
        app.post("/anmeldung", None, "username=bernd&password=ganz-neu-2026").await.status,
        StatusCode::SEE_OTHER
    );
}

#[tokio::test]
async fn removing_the_licence_or_aktuell_ends_sessions_and_revokes_tokens_and_an_admin_can_end_them_all() {
    let app = app().await;
    let bernd = app.ctx.store.find_employee("bernd").await.unwrap();
    let (admin, csrf) = app.login("admin").await;
    let edit = |license: &str, current: bool| {
        format!("csrf={csrf}&name=Bernd&username=bernd&license={license}{}", if current { "&current=1" } else { "" })
    };
    // A change of name keeps them; removing the licence ends them.
    let (session, _) = app.login("bernd").await;
    let token = postkorb_web::new_api_token(&app.ctx.store, bernd.id, "MVP").await.unwrap();
    let r = app.post(&format!("/mitarbeiter/{}", bernd.id), Some(&admin), &edit("L2", true)).await;
    assert_eq!(r.status, StatusCode::SEE_OTHER, "{}", r.body);
    assert_eq!(app.get("/", Some(&session)).await.status, StatusCode::OK);
    assert_eq!(app.send(api("GET", "/api/v1/cases", &token)).await.status, StatusCode::OK);
    let r = app.post(&format!("/mitarbeiter/{}", bernd.id), Some(&admin), &edit("", true)).await;
    assert_eq!(r.status, StatusCode::SEE_OTHER, "{}", r.body);
    assert_eq!(app.get("/", Some(&session)).await.status, StatusCode::SEE_OTHER, "licence removed: logged out");
    assert_eq!(app.send(api("GET", "/api/v1/cases", &token)).await.status, StatusCode::UNAUTHORIZED);

    // Removing „Aktuell“ (here through the CLI) ends them too.
    let (session, _) = app.login("bernd").await;
    let token = postkorb_web::new_api_token(&app.ctx.store, bernd.id, "MVP").await.unwrap();
    let fields = postkorb_app::cli::EmployeeFields { current: Some(false), ..Default::default() };
    let cmd = postkorb_app::cli::EmployeeCmd::Set { who: "bernd".into(), fields, password_stdin: false };
    postkorb_app::cli::admin::employee(&app.ctx, cmd).await.unwrap();
    assert!(app.ctx.store.api_tokens(bernd.id).await.unwrap().is_empty());
    let mut again = app.ctx.store.employee(bernd.id).await.unwrap();
    again.is_current = true;
    app.ctx.store.update_employee(&again).await.unwrap();
    assert_eq!(app.get("/", Some(&session)).await.status, StatusCode::SEE_OTHER, "Aktuell removed: logged out");
    assert_eq!(app.send(api("GET", "/api/v1/cases", &token)).await.status, StatusCode::UNAUTHORIZED);

    // „Alle Sitzungen und Tokens beenden“ by an admin; not by Bernd himself.
    let (session, bernd_csrf) = app.login("bernd").await;
    let token = postkorb_web::new_api_token(&app.ctx.store, bernd.id, "MVP").await.unwrap();
    let page = app.get(&format!("/mitarbeiter/{}", bernd.id), Some(&admin)).await.body;
    assert!(page.contains("Alle Sitzungen und Tokens beenden") && page.contains("MVP"), "{page}");
    let path = format!("/mitarbeiter/{}/abmelden", bernd.id);
    assert_eq!(app.post(&path, Some(&session), &format!("csrf={bernd_csrf}")).await.status, StatusCode::FORBIDDEN);
    assert_eq!(app.post(&path, Some(&admin), "csrf=wrong").await.status, StatusCode::BAD_REQUEST);
    let r = app.post(&path, Some(&admin), &format!("csrf={csrf}")).await;
    assert_eq!(r.status, StatusCode::SEE_OTHER);
    assert!(app.get(location(&r), Some(&admin)).await.body.contains("Alle Sitzungen und API-Tokens wurden beendet."));
    assert_eq!(app.get("/", Some(&session)).await.status, StatusCode::SEE_OTHER);
    assert_eq!(app.send(api("GET", "/api/v1/cases", &token)).await.status, StatusCode::UNAUTHORIZED);
    assert!(app.get("/protokoll", Some(&admin)).await.body.contains("revoke_all"));
}

#[tokio::test]
async fn api_tokens_are_listed_without_their_secret_revoked_by_web_api_and_cli_and_expire() {
    let app = app().await;
    let bernd = app.ctx.store.find_employee("bernd").await.unwrap();
    let admin = app.ctx.store.find_employee("admin").await.unwrap();
    let (session, csrf) = app.login("bernd").await;

    // Made on „Mein Konto“, shown once, listed with label, created, last used.
    let r = app.post("/konto/tokens", Some(&session), &format!("csrf={csrf}&label=MVP&days=30")).await;
    assert_eq!(r.status, StatusCode::OK, "{}", r.body);
    let web_token = r.body.split("id=\"new-token\">").nth(1).unwrap().split('<').next().unwrap().to_string();
    let r = app.post("/konto/tokens", Some(&session), &format!("csrf={csrf}&label=x&days=0")).await;
    assert_eq!(r.status, StatusCode::UNPROCESSABLE_ENTITY);
    assert!(r.body.contains("zwischen 1 und 3650"), "{}", r.body);
    let page = app.get("/konto", Some(&session)).await.body;
    assert!(page.contains("MVP") && page.contains("nie") && !page.contains(&web_token), "{page}");
    assert_eq!(app.send(api("GET", "/api/v1/cases", &web_token)).await.status, StatusCode::OK);
    assert!(app.get("/konto", Some(&session)).await.body.contains("<td>MVP</td>"), "last use shown");

    // The API lists the caller's own tokens only, never a token or its hash.
    let other = postkorb_web::new_api_token(&app.ctx.store, bernd.id, "Skript").await.unwrap();
    let admin_token = postkorb_web::new_api_token(&app.ctx.store, admin.id, "Admin").await.unwrap();
    let r = app.send(api("GET", "/api/v1/tokens", &web_token)).await;
    let list: serde_json::Value = serde_json::from_str(&r.body).unwrap();
    let labels: Vec<&str> = list.as_array().unwrap().iter().map(|t| t["label"].as_str().unwrap()).collect();
    assert_eq!(labels, ["Skript", "MVP"]);
    assert!(list[1]["last_used_ms"].is_i64() && list[1]["expires_ms"].is_i64(), "{list}");
    assert!(!r.body.contains(&web_token) && !r.body.contains("hash"), "{}", r.body);
    let skript_id = list[0]["id"].as_i64().unwrap();
    let admin_id = app.ctx.store.api_tokens(admin.id).await.unwrap()[0].id;

    // Revoke through the API: not someone else's, one's own yes.
    let r = app.send(api("DELETE", &format!("/api/v1/tokens/{admin_id}"), &web_token)).await;
    assert_eq!(r.status, StatusCode::NOT_FOUND);
    assert_eq!(app.send(api("GET", "/api/v1/cases", &admin_token)).await.status, StatusCode::OK);
    let r = app.send(api("DELETE", &format!("/api/v1/tokens/{skript_id}"), &web_token)).await;
    assert_eq!(r.status, StatusCode::NO_CONTENT);
    assert_eq!(app.send(api("GET", "/api/v1/cases", &other)).await.status, StatusCode::UNAUTHORIZED);

    // Revoke on the web page.
    let mvp_id = app.ctx.store.api_tokens(bernd.id).await.unwrap()[0].id;
    let path = format!("/konto/tokens/{mvp_id}/widerrufen");
    assert_eq!(app.post(&path, Some(&session), "csrf=wrong").await.status, StatusCode::BAD_REQUEST);
    assert_eq!(app.post(&path, Some(&session), &format!("csrf={csrf}")).await.status, StatusCode::SEE_OTHER);
    assert_eq!(app.send(api("GET", "/api/v1/cases", &web_token)).await.status, StatusCode::UNAUTHORIZED);

    // Revoke through the CLI, and list there.
    use postkorb_app::cli::EmployeeCmd;
    let cli_token = postkorb_web::new_api_token(&app.ctx.store, bernd.id, "cli").await.unwrap();
    let id = app.ctx.store.api_tokens(bernd.id).await.unwrap()[0].id;
    postkorb_app::cli::admin::employee(&app.ctx, EmployeeCmd::Tokens { who: "bernd".into(), json: false })
        .await
        .unwrap();
    let wrong = EmployeeCmd::Revoke { who: "admin".into(), token: Some(id), all: false };
    assert!(postkorb_app::cli::admin::employee(&app.ctx, wrong).await.is_err(), "not admin's token");
    let cmd = EmployeeCmd::Revoke { who: "bernd".into(), token: Some(id), all: false };
    postkorb_app::cli::admin::employee(&app.ctx, cmd).await.unwrap();
    assert_eq!(app.send(api("GET", "/api/v1/cases", &cli_token)).await.status, StatusCode::UNAUTHORIZED);

    // A token past its expiry stops working.
    let (expired, _) = postkorb_web::new_api_token_until(&app.ctx.store, bernd.id, "alt", Some(1)).await.unwrap();
    assert_eq!(app.send(api("GET", "/api/v1/cases", &expired)).await.status, StatusCode::UNAUTHORIZED);
    assert!(app.get("/konto", Some(&session)).await.body.contains("abgelaufen am"));
}

#[tokio::test]
async fn a_pool_candidate_who_lost_the_licence_can_no_longer_open_the_waiting_vorgang() {
    let app = app().await;
    let bernd = app.ctx.store.find_employee("bernd").await.unwrap();
    let anna = app.ctx.store.find_employee("anna").await.unwrap().id;
    let clara = NewEmployee {
        name: "Clara".into(),
        username: Some("clara".into()),
        is_current: true,
        license: Some("L3".into()),
        permissions: vec![],
        ..Default::default()
    };
    let clara = app.ctx.store.add_employee(&clara, 1).await.unwrap();
    app.ctx.store.set_password_hash(clara.id, &postkorb_web::hash_password(PW)).await.unwrap();
    let mb = postkorb_store::MailboxRecord { name: "t".into(), protocol: "maildir".into(), ..Default::default() };
    let mb = app.ctx.store.save_mailbox(&mb, 1).await.unwrap();
    let mut item = hostile_item(bernd.id, anna);
    item.decision = Decision::Pool { sender: anna, candidates: vec![bernd.id, clara.id] };
    app.ctx.store.commit_batch(mb.id, &[item], 1).await.unwrap();
    // Through the API (which, unlike a login, claims nothing) Clara sees the waiting Vorgang.
    let token = postkorb_web::new_api_token(&app.ctx.store, clara.id, "MVP").await.unwrap();
    assert_eq!(app.send(api("GET", "/api/v1/cases/1", &token)).await.status, StatusCode::OK, "a candidate sees it");

    // Clara's licence is removed: her sessions and tokens end, and with a new login she still
    // must not open it — the candidate set is fixed at import, eligibility is checked at the read.
    let mut c = app.ctx.store.employee(clara.id).await.unwrap();
    c.license = None;
    app.ctx.store.update_employee(&c).await.unwrap();
    let (session, _) = app.login("clara").await;
    let token2 = postkorb_web::new_api_token(&app.ctx.store, clara.id, "MVP").await.unwrap();
    assert_eq!(app.get("/vorgang/1", Some(&session)).await.status, StatusCode::FORBIDDEN);
    assert_eq!(app.get("/vorgang/1/original.eml", Some(&session)).await.status, StatusCode::FORBIDDEN);
    assert_eq!(app.send(api("GET", "/api/v1/cases/1", &token2)).await.status, StatusCode::FORBIDDEN);
    assert_eq!(app.send(api("GET", "/api/v1/cases/1/raw", &token2)).await.status, StatusCode::FORBIDDEN);
    assert_eq!(app.send(api("GET", "/api/v1/cases/1", &token)).await.status, StatusCode::UNAUTHORIZED, "revoked");
    assert_eq!(app.ctx.store.case(1).await.unwrap().summary.status, "waiting", "her login claimed nothing");
    // Bernd, still eligible, opens it.
    let (b, _) = app.login("bernd").await;
    assert_eq!(app.get("/vorgang/1", Some(&b)).await.status, StatusCode::OK);
}

#[tokio::test]
async fn the_bootstrap_admins_one_time_password_must_be_changed_before_anything_else() {
    let dir = tempfile::tempdir().unwrap();
    let ctx = Ctx::open(Settings { data_dir: dir.path().to_path_buf(), ..Settings::default() }).await.unwrap();
    let once = postkorb_web::bootstrap_admin(&ctx.store).await.unwrap().expect("a one-time password");
    let app = App { router: postkorb_app::serve::http::router(&ctx).unwrap(), ctx, _dir: dir };
    let admin = app.ctx.store.find_employee("admin").await.unwrap();
    let token = postkorb_web::new_api_token(&app.ctx.store, admin.id, "early").await.unwrap();

    let r = app.post("/anmeldung", None, &format!("username=admin&password={once}")).await;
    assert_eq!((r.status, location(&r)), (StatusCode::SEE_OTHER, "/konto/passwort"));
    let cookie = r.cookie.unwrap();
    for path in ["/", "/mitarbeiter", "/optionen/e-mail", "/konto", "/vorgang/1", "/protokoll"] {
        let r = app.get(path, Some(&cookie)).await;
        assert_eq!((r.status, location(&r)), (StatusCode::SEE_OTHER, "/konto/passwort"), "GET {path}");
    }
    let page = app.get("/konto/passwort", Some(&cookie)).await;
    assert_eq!(page.status, StatusCode::OK);
    assert!(page.body.contains("Einmalpasswort"), "{}", page.body);
    let csrf = page.body.split("name=\"csrf\" value=\"").nth(1).unwrap().split('"').next().unwrap().to_string();
    let r = app.post("/mitarbeiter/neu", Some(&cookie), &format!("csrf={csrf}&name=Eve&username=eve")).await;
    assert_eq!(location(&r), "/konto/passwort", "no form works before the change");
    assert!(app.ctx.store.find_employee("eve").await.is_err());
    let r = app.send(api("GET", "/api/v1/cases", &token)).await;
    assert_eq!(r.status, StatusCode::FORBIDDEN);
    assert!(r.body.contains("change the one-time password"), "{}", r.body);

    let r = app
        .post("/konto/passwort", Some(&cookie), &format!("csrf={csrf}&current={once}&new={once}&repeat={once}"))
        .await;
    assert!(r.body.contains("muss sich vom bisherigen unterscheiden"), "{}", r.body);
    let form = format!("csrf={csrf}&current={once}&new=mein-eigenes-2026&repeat=mein-eigenes-2026");
    let r = app.post("/konto/passwort", Some(&cookie), &form).await;
    assert_eq!(r.status, StatusCode::SEE_OTHER, "{}", r.body);
    let fresh = r.cookie.unwrap();
    assert_eq!(app.get("/mitarbeiter", Some(&fresh)).await.status, StatusCode::OK);
    assert!(!app.ctx.store.must_change_password(admin.id).await.unwrap());
    assert_eq!(app.send(api("GET", "/api/v1/cases", &token)).await.status, StatusCode::UNAUTHORIZED, "revoked");
    let r = app.post("/anmeldung", None, "username=admin&password=mein-eigenes-2026").await;
    assert_eq!((r.status, location(&r)), (StatusCode::SEE_OTHER, "/"));
}

#[test]
fn the_cli_revokes_one_token_or_all_and_refuses_an_unclear_command() {
    use clap::Parser;
    use postkorb_app::cli::{Cli, Command, EmployeeCmd};
    let parse = |args: &[&str]| Cli::try_parse_from([&["postkorb", "employee"], args].concat());
    assert!(parse(&["revoke", "bernd"]).is_err(), "neither --token nor --all");
    assert!(parse(&["revoke", "bernd", "--token", "3", "--all"]).is_err(), "both");
    assert!(parse(&["token", "bernd", "--expires-days", "0"]).is_err());
    match parse(&["revoke", "bernd", "--token", "3"]).unwrap().command {
        Command::Employee(EmployeeCmd::Revoke { who, token: Some(3), all: false }) => assert_eq!(who, "bernd"),
        other => panic!("{other:?}"),
    }
    match parse(&["token", "bernd", "--label", "MVP", "--expires-days", "30"]).unwrap().command {
        Command::Employee(EmployeeCmd::Token { label, expires_days: Some(30), .. }) => assert_eq!(label, "MVP"),
        other => panic!("{other:?}"),
    }
    assert!(matches!(
        parse(&["token", "bernd"]).unwrap().command,
        Command::Employee(EmployeeCmd::Token { expires_days: None, .. })
    ));
}

#[tokio::test]
async fn health_tells_a_stranger_nothing_and_metrics_are_only_for_loopback_or_the_bearer_token() {
    let mut app = app().await;
    let m = postkorb_store::MailboxRecord {
        name: "default".into(),
        protocol: "imap".into(),
        host: "imap.intern.buero".into(),
        port: 993,
        tls: "implicit".into(),
        enabled: true,
        ..Default::default()
    };
    let m = app.ctx.store.save_mailbox(&m, 1).await.unwrap();
    app.ctx.store.record_fetch_error(m.id, 2, "login failed: * NO [AUTHENTICATIONFAILED] intern-dc01").await.unwrap();
    let health = app.get_from("/health", "203.0.113.9", &[]).await;
    let body: serde_json::Value = serde_json::from_str(&health.body).unwrap();
    assert_eq!(health.status, StatusCode::OK);
    assert_eq!(body, serde_json::json!({"status": "degraded", "mailboxes": [{"name": "default", "ok": false}]}));
    assert!(!health.body.contains("intern"), "never the error: {}", health.body);

    for (peer, headers) in [
        ("203.0.113.9", vec![]),
        ("127.0.0.1", vec![("x-forwarded-for", "203.0.113.9")]),
        ("127.0.0.1", vec![("forwarded", "for=203.0.113.9")]),
        ("203.0.113.9", vec![("authorization", "Bearer geraten")]),
    ] {
        let r = app.get_from("/metrics", peer, &headers).await;
        assert_eq!(r.status, StatusCode::UNAUTHORIZED, "{peer} {headers:?}");
        assert!(!r.body.contains("default") && !r.body.contains("intern"), "{}", r.body);
    }
    assert_eq!(app.get("/metrics", None).await.status, StatusCode::UNAUTHORIZED, "no peer known: refused");
    let local = app.get_from("/metrics", "127.0.0.1", &[]).await;
    assert!(local.body.contains("postkorb_mailbox_error{mailbox=\"default\"} 1"), "{}", local.body);

    let mut settings = app.ctx.settings.clone();
    settings.metrics_token = Some("prom-token-123".into());
    app.router = postkorb_app::serve::http::router(&postkorb_app::Ctx::open(settings).await.unwrap()).unwrap();
    let remote = app.get_from("/metrics", "203.0.113.9", &[("authorization", "Bearer prom-token-123")]).await;
    assert_eq!(remote.status, StatusCode::OK);
    assert!(remote.body.contains("postkorb_imported_total"), "{}", remote.body);
}

#[tokio::test]
async fn a_kept_unverified_mail_routed_by_hand_carries_a_visible_warning_and_an_audit_entry() {
    let app = app().await;
    let bernd = app.ctx.store.find_employee("bernd").await.unwrap().id;
    let anna = app.ctx.store.find_employee("anna").await.unwrap().id;
    app.ctx.store.add_route(anna, bernd, 1).await.unwrap();
    let mb = postkorb_store::MailboxRecord { name: "t".into(), protocol: "maildir".into(), ..Default::default() };
    let mb = app.ctx.store.save_mailbox(&mb, 1).await.unwrap();
    let raw = "From: Anna <anna@mustermail.de>\r\nSubject: Bitte 5000 EUR ueberweisen\r\nMessage-ID: <u1@x>\r\n\r\nDringend.\r\n";
    let unverified = postkorb_core::KeepReason::Unverified("no DKIM signature".into());
    app.ctx.store.commit_batch(mb.id, &[kept_item("u1", raw, unverified)], 2).await.unwrap();
    let (admin, csrf) = app.login("admin").await;
    let r = app.post("/nicht-zugeordnet/1/zuordnen", Some(&admin), &format!("csrf={csrf}&to=0")).await;
    assert_eq!(r.status, StatusCode::SEE_OTHER, "{}", r.body);
    let case_id = app.ctx.store.cases(Some(bernd), 10, 0).await.unwrap()[0].id;

    let (bernd_cookie, _) = app.login("bernd").await;
    let page = app.get(&format!("/vorgang/{case_id}"), Some(&bernd_cookie)).await.body;
    assert!(page.contains("Absender nicht verifiziert — von Hand zugeordnet von admin"), "{page}");
    let detail = app.ctx.store.case(case_id).await.unwrap();
    assert_eq!(detail.unverified_routed_by.as_deref(), Some("admin"));
    assert!(detail.events.iter().any(|e| e.kind == "unverified_routed"));
    let log = app.ctx.store.audit_log(5).await.unwrap();
    assert!(log.iter().any(|e| e.2 == "reroute_kept" && e.3.contains("Absender nicht verifiziert")), "{log:?}");

    // A kept mail without a verification problem routed the same way carries no such warning.
    let raw = "From: Anna <anna@mustermail.de>\r\nSubject: Rueckruf\r\nMessage-ID: <u2@x>\r\n\r\nx\r\n";
    app.ctx.store.commit_batch(mb.id, &[kept_item("u2", raw, postkorb_core::KeepReason::NoRoute)], 3).await.unwrap();
    app.post("/nicht-zugeordnet/2/zuordnen", Some(&admin), &format!("csrf={csrf}&to=0")).await;
    let plain = app.ctx.store.cases(Some(bernd), 10, 0).await.unwrap().into_iter().find(|c| c.id != case_id).unwrap();
    assert_eq!(app.ctx.store.case(plain.id).await.unwrap().unverified_routed_by, None);
}

#[tokio::test]
async fn the_mailbox_form_names_no_server_path_outside_its_roots_and_does_not_reveal_which_exist() {
    let mut app = app().await;
    let (admin, csrf) = app.login("admin").await;
    let form = |extra: &str| {
        format!(
            "csrf={csrf}&action=save&protocol=maildir&tls=none&folder=INBOX&disposal=move\
             &target_folder=Postkorb%2FImportiert&poll_secs=60&{extra}"
        )
    };
    // No maildir_root: the web names no Maildir at all.
    let r = app.post("/optionen/e-mail/default", Some(&admin), &form("maildir_path=%2Fetc")).await;
    assert!(r.body.contains("kann nur der Betreiber einrichten"), "{}", r.body);
    // A CA file outside ca_dir: the same answer whether the file exists or not.
    let existing =
        app.post("/optionen/e-mail/default", Some(&admin), &form("maildir_path=x&ca_file=%2Fetc%2Fpasswd")).await;
    let missing = app
        .post("/optionen/e-mail/default", Some(&admin), &form("maildir_path=x&ca_file=%2Fetc%2Fgibt-es-nicht"))
        .await;
    let ca_error =
        |body: &str| body.split("Die Zertifikatsdatei").nth(1).map(|s| s.split('<').next().unwrap().to_string());
    assert!(ca_error(&existing.body).is_some(), "{}", existing.body);
    assert_eq!(ca_error(&existing.body), ca_error(&missing.body));
    assert!(app.ctx.store.mailboxes().await.unwrap().is_empty(), "nothing saved");

    // With a root, a Maildir below it is accepted, one beside it is not.
    let root = tempfile::tempdir().unwrap();
    std::fs::create_dir_all(root.path().join("vorgaenge/new")).unwrap();
    let mut settings = app.ctx.settings.clone();
    settings.maildir_root = Some(root.path().to_path_buf());
    app.router = postkorb_app::serve::http::router(&postkorb_app::Ctx::open(settings).await.unwrap()).unwrap();
    let r = app.post("/optionen/e-mail/default", Some(&admin), &form("maildir_path=..%2F..%2Fetc")).await;
    assert!(r.body.contains("muss im freigegebenen Verzeichnis"), "{}", r.body);
    let r = app.post("/optionen/e-mail/default", Some(&admin), &form("maildir_path=vorgaenge")).await;
    assert!(r.body.contains("Gespeichert."), "{}", r.body);
    let saved = app.ctx.store.mailbox("default").await.unwrap();
    assert!(saved.maildir_path.unwrap().ends_with("/vorgaenge"));
}

/// A mail as the import's batch commit gets it, with `decision` (the fingerprint salted by `key`, so
/// equal bytes under two keys are two mails).
pub(crate) fn import_item(key: &str, raw: &[u8], decision: Decision) -> ImportItem {
    ImportItem {
        source_key: key.into(),
        fingerprint: postkorb_mail::fingerprint(raw, Some(key)),
        raw_digest: postkorb_mail::digests(raw, Some(key)).raw_digest,
        legacy_fingerprint: None,
        raw: raw.to_vec().into(),
        mail: postkorb_mail::parse(raw),
        decision,
        raw_file: None,
        ack: Default::default(),
        search_terms: None,
    }
}

/// A mail kept with `reason`, as the import's batch commit gets it.
pub(crate) fn kept_item(key: &str, raw: &str, reason: postkorb_core::KeepReason) -> ImportItem {
    let raw = raw.as_bytes().to_vec();
    let mail = postkorb_mail::parse(&raw);
    ImportItem {
        source_key: key.into(),
        fingerprint: postkorb_mail::fingerprint(&raw, mail.message_id.as_deref()),
        raw_digest: postkorb_mail::digests(&raw, None).raw_digest,
        legacy_fingerprint: None,
        raw: raw.into(),
        mail,
        decision: Decision::Keep(reason),
        raw_file: None,
        ack: Default::default(),
        search_terms: None,
    }
}

#[tokio::test]
async fn verbindung_testen_against_a_foreign_host_shows_a_classified_german_message_never_its_banner() {
    let app = app().await;
    let (admin, csrf) = app.login("admin").await;
    // A POP3 server where IMAP was chosen: it greets with its own words.
    let foreign = postkorb_testkit::Recorder::start("+OK Geheimes internes Banner intern-dc01.buero.lan\r\n", "");
    let r = app
        .post("/optionen/e-mail/default", Some(&admin), &mailbox_form(&csrf, "test", foreign.port(), "x-Geheim-1"))
        .await;
    assert!(r.body.contains("Verbindung fehlgeschlagen: Die Verbindung zu 127.0.0.1 ist abgebrochen."), "{}", r.body);
    assert!(!r.body.contains("intern-dc01") && !r.body.contains("Banner"), "{}", r.body);
    let nobody = postkorb_testkit::free_port();
    let r =
        app.post("/optionen/e-mail/default", Some(&admin), &mailbox_form(&csrf, "test", nobody, "x-Geheim-1")).await;
    assert!(r.body.contains(&format!("nimmt auf Port {nobody} keine Verbindung an")), "{}", r.body);
    // Our own error text only behind „Details“, never in the sentence.
    let (words, details) =
        r.body.split_once("<details class=\"technisch\"><summary>Details</summary>").expect("a Details toggle");
    assert!(!words.contains("os error") && !words.contains("Connection refused"), "{}", r.body);
    assert!(details.split("</details>").next().unwrap().contains("os error"), "{}", r.body);
}

#[tokio::test]
async fn the_form_and_mailbox_set_refuse_the_same_bad_settings_for_the_same_reasons() {
    use clap::Parser;
    use postkorb_core::mailbox::{Field, Problem, SettingsError};
    let app = app().await;
    let (admin, csrf) = app.login("admin").await;
    // A good IMAP mailbox; each case changes one setting.
    let good = [
        (Field::Protocol, "imap"),
        (Field::Host, "imap.buero.de"),
        (Field::Tls, "implicit"),
        (Field::Username, "v@office.test"),
        (Field::Disposal, "move"),
        (Field::PollSecs, "60"),
        (Field::Verify, "dkim"),
    ];
    let bad = |field: Field, problem: Problem| SettingsError::new(field, problem);
    let cases = [
        (Field::PollSecs, "0", bad(Field::PollSecs, Problem::PollOutOfRange)),
        (Field::PollSecs, "100000", bad(Field::PollSecs, Problem::PollOutOfRange)),
        (Field::Verify, "dmarc", bad(Field::Verify, Problem::UnknownVerify("dmarc".into()))),
        (Field::Verify, "auth-results", bad(Field::AuthservIds, Problem::AuthservIdMissing)),
        (Field::Protocol, "smtp", bad(Field::Protocol, Problem::UnknownProtocol("smtp".into()))),
        (Field::Tls, "ssl3", bad(Field::Tls, Problem::UnknownTls("ssl3".into()))),
        (Field::Disposal, "keep", bad(Field::Disposal, Problem::UnknownDisposal("keep".into()))),
        (Field::Port, "0", bad(Field::Port, Problem::PortInvalid)),
        (Field::Port, "70000", bad(Field::Port, Problem::PortInvalid)),
        (Field::Host, "imap buero.de", bad(Field::Host, Problem::HostHasSpace)),
        (Field::Since, "31.12.2025", bad(Field::Since, Problem::BadDate("31.12.2025".into()))),
    ];
    for (field, value, expected) in cases {
        let settings: Vec<(Field, &str)> =
            good.iter().copied().filter(|(f, _)| *f != field).chain([(field, value)]).collect();

        let mut args = vec!["postkorb", "mailbox", "set", "--keep-password"];
        args.extend(settings.iter().flat_map(|(f, v)| [f.cli_flag(), *v]));
        let postkorb_app::cli::Command::Mailbox(cmd) = postkorb_app::cli::Cli::try_parse_from(&args).unwrap().command
        else {
            unreachable!()
        };
        let cli = postkorb_app::cli::mailbox::run(&app.ctx, cmd).await.expect_err("mailbox set refuses it");
        assert_eq!(cli.to_string(), expected.english(), "mailbox set {field:?}={value}");

        let mut form = format!("csrf={csrf}&action=save&password=geheim-123");
        for (f, v) in &settings {
            form.push_str(&format!("&{}={}", f.form_name(), v.replace('@', "%40").replace(' ', "%20")));
        }
        let page = app.post("/optionen/e-mail/default", Some(&admin), &form).await.body;
        let errors: Vec<&str> =
            page.split("class=\"field-error\">").skip(1).filter_map(|s| s.split('<').next()).collect();
        assert_eq!(errors, [expected.german()], "the form {field:?}={value}");
    }
    assert!(app.ctx.store.mailboxes().await.unwrap().is_empty(), "nothing saved");
}
