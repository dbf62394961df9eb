//! The OpenAPI document tells the truth: every operation of the API is documented, and every answer
//! it gives — success and error — is checked against the schema the document names for its status.
//! The check is strict (a field the schema does not name fails), so a client generated from the
//! document (scripts/openapi-client) sees exactly what the server sends.

use axum::body::Body;
use axum::http::{Request, StatusCode, header};
use postkorb_core::{Decision, KeepReason};
use serde_json::Value;

use crate::web_http::{App, app, hostile_item, kept_item};

/// Resolves `#/components/...` references.
fn resolve<'a>(spec: &'a Value, schema: &'a Value) -> &'a Value {
    match schema.get("$ref").and_then(Value::as_str) {
        Some(r) => {
            let target = r.strip_prefix("#/").unwrap_or_else(|| panic!("only local references: {r}"));
            let found = target.split('/').fold(spec, |v, part| &v[part]);
            assert!(!found.is_null(), "dangling reference {r}");
            resolve(spec, found)
        }
        None => schema,
    }
}

/// The subset of JSON Schema the document uses: type, nullable, properties (strict), required,
/// items, enum, additionalProperties.
fn check(spec: &Value, schema: &Value, value: &Value, at: &str, errors: &mut Vec<String>) {
    let schema = resolve(spec, schema);
    if value.is_null() {
        if schema["nullable"] != Value::Bool(true) {
            errors.push(format!("{at}: null, but the schema is not nullable"));
        }
        return;
    }
    if let Some(choices) = schema["enum"].as_array()
        && !choices.contains(value)
    {
        errors.push(format!("{at}: {value} is not one of {choices:?}"));
    }
    let ty = schema["type"].as_str().unwrap_or_else(|| panic!("{at}: schema without a type: {schema}"));
    let ok = match ty {
        "object" => value.is_object(),
        "array" => value.is_array(),
        "string" => value.is_string(),
        "integer" => value.is_i64() || value.is_u64(),
        "number" => value.is_number(),
        "boolean" => value.is_boolean(),
        other => panic!("{at}: unknown type {other}"),
    };
    if !ok {
        errors.push(format!("{at}: expected {ty}, got {value}"));
        return;
    }
    if let Some(items) = value.as_array() {
        for (i, item) in items.iter().enumerate() {
            check(spec, &schema["items"], item, &format!("{at}[{i}]"), errors);
        }
    }
    if let Some(fields) = value.as_object() {
        let props = schema["properties"].as_object();
        for required in schema["required"].as_array().into_iter().flatten() {
            let name = required.as_str().unwrap();
            if !fields.contains_key(name) {
                errors.push(format!("{at}: required field {name} is missing"));
            }
        }
        for (name, v) in fields {
            match props.and_then(|p| p.get(name)) {
                Some(s) => check(spec, s, v, &format!("{at}.{name}"), errors),
                None if schema["additionalProperties"].is_object() => {
                    check(spec, &schema["additionalProperties"], v, &format!("{at}.{name}"), errors)
                }
                None => errors.push(format!("{at}: field {name} is not in the schema")),
            }
        }
    }
}

/// Every schema names the type of every field and says which are always there, so a generated
/// client gets real types instead of `Option<serde_json::Value>`.
fn check_schema_is_complete(spec: &Value, schema: &Value, at: &str) {
    let schema = resolve(spec, schema);
    assert!(schema["type"].is_string(), "{at}: no type");
    if schema["type"] == "object" {
        let props = schema["properties"].as_object();
        assert!(props.is_some() || schema["additionalProperties"].is_object(), "{at}: an object without properties");
        for (name, p) in props.into_iter().flatten() {
            check_schema_is_complete(spec, p, &format!("{at}.{name}"));
        }
    }
    if schema["type"] == "array" {
        check_schema_is_complete(spec, &schema["items"], &format!("{at}[]"));
    }
}

struct Call {
    method: &'static str,
    /// As in the document, e.g. `/cases/{id}`.
    template: &'static str,
    path: String,
    token: String,
    body: Option<String>,
}

impl Call {
    fn new(method: &'static str, template: &'static str, path: impl Into<String>, token: &str) -> Call {
        Call { method, template, path: path.into(), token: token.into(), body: None }
    }
    fn json(mut self, body: &str) -> Call {
        self.body = Some(body.into());
        self
    }
}

async fn send(app: &App, call: &Call) -> (StatusCode, String, String) {
    let mut b = Request::builder().method(call.method).uri(format!("/api/v1{}", call.path));
    if !call.token.is_empty() {
        b = b.header(header::AUTHORIZATION, format!("Bearer {}", call.token));
    }
    let req = match &call.body {
        Some(body) => b.header(header::CONTENT_TYPE, "application/json").body(Body::from(body.clone())),
        None => b.body(Body::empty()),
    }
    .unwrap();
    let r = app.send(req).await;
    let ct = r.headers.get(header::CONTENT_TYPE).map(|v| v.to_str().unwrap().to_string()).unwrap_or_default();
    (r.status, ct, r.body)
}

#[tokio::test]
async fn every_api_answer_matches_the_schema_its_openapi_document_names() {
    let app = app().await;
    let store = &app.ctx.store;
    let bernd = store.find_employee("bernd").await.unwrap();
    let anna = store.find_employee("anna").await.unwrap();
    let admin = store.find_employee("admin").await.unwrap();
    let bernd_token = postkorb_web::new_api_token(store, bernd.id, "schema").await.unwrap();
    let admin_token = postkorb_web::new_api_token(store, admin.id, "schema").await.unwrap();
    let _spare = postkorb_web::new_api_token(store, admin.id, "to revoke").await.unwrap();
    let mb = postkorb_store::MailboxRecord { name: "t".into(), protocol: "maildir".into(), ..Default::default() };
    let mb = store.save_mailbox(&mb, 1).await.unwrap();
    let failing = postkorb_store::MailboxRecord { name: "f".into(), protocol: "imap".into(), ..Default::default() };
    let failing = store.save_mailbox(&failing, 1).await.unwrap();
    store.record_fetch_error(failing.id, 2, "connection refused: imap.example.de:993").await.unwrap();
    let forwarded = "From: Anna <anna@mustermail.de>\r\nSubject: WG: Schaden\r\nMessage-ID: <f@x>\r\n\r\n\
        ---------- Forwarded message ---------\r\nFrom: Kunde <k@kunde.de>\r\nDate: Mon, 2 Nov 2026 10:00:00 +0100\r\n\
        Subject: Schaden\r\n\r\nDer Keller ist nass.\r\n";
    let mut assigned = kept_item("s2", forwarded, KeepReason::NoRoute);
    assigned.decision = Decision::Assign { sender: anna.id, to: bernd.id };
    let kept = kept_item("s3", "From: x@y.de\r\nSubject: Werbung\r\n\r\n.\r\n", KeepReason::NoRoute);
    let kept2 = kept_item(
        "s4",
        "Subject: ohne Absender\r\n\r\n.\r\n",
        KeepReason::NoUsableFrom(postkorb_core::FromProblem::Missing),
    );
    store.outbox_fan_out("webhook", 100, 1, |_| vec![]).await.unwrap(); // the cursor starts here
    store.commit_batch(mb.id, &[hostile_item(bernd.id, anna.id), assigned, kept, kept2], 1).await.unwrap();
    // Deliveries to webhook 1 (created by the calls below) for the log and „Erneut senden“.
    store
        .outbox_fan_out("webhook", 100, 2, |item| {
            let kind = postkorb_core::webhook::event_type(&item.kind).unwrap_or("case.created").to_string();
            vec![postkorb_store::NewDelivery { target: "1".into(), kind, body: "{}".into(), paused: false }]
        })
        .await
        .unwrap();
    let spare_id = store.api_tokens(admin.id).await.unwrap().iter().find(|t| t.label == "to revoke").unwrap().id;

    let clara = postkorb_store::NewEmployee {
        name: "Clara".into(),
        username: Some("clara".into()),
        is_current: true,
        license: Some("L3".into()),
        ..Default::default()
    };
    let clara = store.add_employee(&clara, 1).await.unwrap();
    // Issue 18: Dora holds „Datenschutz verwalten“ only; Vorgang 3 (Bernd's) is restricted.
    let dora = postkorb_store::NewEmployee {
        name: "Dora".into(),
        username: Some("dora".into()),
        is_current: true,
        permissions: vec![postkorb_core::Permission::ManagePrivacy],
        ..Default::default()
    };
    let dora = store.add_employee(&dora, 1).await.unwrap();
    let privacy_token = postkorb_web::new_api_token(store, dora.id, "schema").await.unwrap();
    let p = privacy_token.as_str();
    let mut restricted =
        kept_item("s5", "From: Anna <anna@mustermail.de>\r\nSubject: Widerspruch\r\n\r\n.\r\n", KeepReason::NoRoute);
    restricted.decision = Decision::Assign { sender: anna.id, to: bernd.id };
    store.commit_batch(mb.id, &[restricted], 1).await.unwrap();
    let kind = postkorb_core::retention::HoldKind::Restriction;
    store.set_hold(postkorb_store::HoldTarget::Case(3), kind, "Widerspruch", i64::MAX / 2, "dora", 1).await.unwrap();
    let (b, a) = (bernd_token.as_str(), admin_token.as_str());
    let to = |e: postkorb_core::EmployeeId| format!("{{\"to\": {}, \"note\": \"Bitte übernehmen\"}}", e.0);
    let route = format!("{{\"from\": {}, \"to\": {}}}", anna.id, bernd.id);
    let now = std::time::SystemTime::now().duration_since(std::time::UNIX_EPOCH).unwrap().as_millis() as i64;
    let own_absence = format!("{{\"from_ms\": {now}, \"until_ms\": {}}}", now + 3_600_000);
    let bad_absence = format!("{{\"from_ms\": {now}, \"substitute\": {}}}", admin.id);
    let annas_absence =
        format!("{{\"employee\": {}, \"from_ms\": {}, \"substitute\": {}}}", anna.id, now + 86_400_000, bernd.id);
    let calls = vec![
        Call::new("GET", "/cases", "/cases", b),
        Call::new("GET", "/cases", "/cases?all=true&limit=5", a),
        Call::new("GET", "/cases", "/cases", ""),
        Call::new("GET", "/cases", "/cases?all=true", b),
        Call::new("GET", "/cases/{id}", "/cases/1", b),
        Call::new("GET", "/cases/{id}", "/cases/2", b),
        Call::new("GET", "/cases/{id}", "/cases/999", b),
        Call::new("GET", "/cases/{id}/raw", "/cases/1/raw", b),
        Call::new("POST", "/cases/{id}/done", "/cases/1/done", b),
        Call::new("POST", "/cases/{id}/done", "/cases/1/done", a),
        Call::new("POST", "/cases/{id}/reopen", "/cases/1/reopen", b),
        Call::new("POST", "/cases/{id}/reopen", "/cases/1/reopen", b),
        // Issue 16: working a Vorgang (1 and 2 are Bernd's, open).
        Call::new("POST", "/cases/{id}/notes", "/cases/1/notes", b)
            .json(r#"{"text": "Kunde ruft <b>morgen</b> zurück"}"#),
        Call::new("POST", "/cases/{id}/notes", "/cases/1/notes", b).json(r#"{"text": "  "}"#),
        Call::new("PUT", "/cases/{id}/follow-up", "/cases/1/follow-up", b)
            .json(r#"{"date": "2099-10-25", "reason": "Antwort der Versicherung"}"#),
        Call::new("PUT", "/cases/{id}/follow-up", "/cases/1/follow-up", b).json(r#"{"date": "2000-01-01"}"#),
        Call::new("DELETE", "/cases/{id}/follow-up", "/cases/1/follow-up", b),
        Call::new("POST", "/cases/{id}/giveback", "/cases/1/giveback", b).json("{}"),
        Call::new("POST", "/cases/{id}/handover", "/cases/2/handover", b).json(&to(clara.id)),
        Call::new("POST", "/cases/{id}/handover", "/cases/2/handover", a).json(&to(bernd.id)),
        Call::new("POST", "/cases/{id}/handover", "/cases/2/handover", b)
            .json(&format!("{{\"to\": {}, \"expected_assignee\": {}}}", clara.id.0, clara.id.0)),
        Call::new("POST", "/cases/{id}/handover", "/cases/2/handover", b).json(&to(admin.id)),
        Call::new("POST", "/sync", "/sync", b),
        Call::new("GET", "/employees", "/employees", a),
        Call::new("POST", "/routes", "/routes", a).json(&route),
        Call::new("POST", "/routes", "/routes", a).json(&route),
        Call::new("POST", "/routes", "/routes", a).json(&format!("{{\"from\": {}, \"to\": {}}}", bernd.id, admin.id)),
        Call::new("GET", "/routes", "/routes", a),
        Call::new("DELETE", "/routes/{id}", "/routes/1", a),
        Call::new("GET", "/kept", "/kept", a),
        Call::new("POST", "/kept/{id}/discard", "/kept/1/discard", a),
        Call::new("POST", "/kept/{id}/discard", "/kept/1/discard", a),
        Call::new("GET", "/mailboxes", "/mailboxes", a),
        Call::new("GET", "/tokens", "/tokens", a),
        Call::new("DELETE", "/tokens/{id}", format!("/tokens/{spare_id}"), a),
        Call::new("DELETE", "/tokens/{id}", format!("/tokens/{spare_id}"), a),
        Call::new("GET", "/absences", "/absences", b),
        Call::new("GET", "/absences", "/absences", ""),
        Call::new("POST", "/absences", "/absences", b).json(&own_absence),
        Call::new("POST", "/absences", "/absences", b).json(&own_absence),
        Call::new("POST", "/absences", "/absences", b).json(&bad_absence),
        Call::new("POST", "/absences", "/absences", b).json(&annas_absence),
        Call::new("POST", "/absences", "/absences", a).json(&annas_absence),
        Call::new("GET", "/absences", format!("/absences?employee={}", anna.id), b),
        Call::new("GET", "/absences", "/absences?all=true", a),
        Call::new("POST", "/absences/{id}/end", "/absences/2/end", b),
        Call::new("POST", "/absences/{id}/end", "/absences/1/end", b),
        Call::new("POST", "/absences/{id}/end", "/absences/1/end", b),
        Call::new("POST", "/absences/{id}/end", "/absences/2/end", a),
        Call::new("GET", "/search", "/search?q=Schaden", b),
        Call::new("GET", "/search", "/search?q=Schaden&status=open&from=2020-01-01&until=2099-12-31&per_page=1", a),
        Call::new("GET", "/search", "/search?q=der", b),
        Call::new("GET", "/search", "/search?q=Schaden&status=kaputt", b),
        Call::new("GET", "/search", "/search?q=Schaden", ""),
        // Issue 17: one's own notification preferences only.
        Call::new("GET", "/account/notifications", "/account/notifications", b),
        Call::new("GET", "/account/notifications", "/account/notifications", ""),
        Call::new("PUT", "/account/notifications", "/account/notifications", b)
            .json(r#"{"pool": "daily", "digest_time": "07:30"}"#),
        Call::new("PUT", "/account/notifications", "/account/notifications", b).json(r#"{"pool": "sometimes"}"#),
        Call::new("PUT", "/account/notifications", "/account/notifications", b).json(r#"{"digest_time": "25:00"}"#),
        Call::new("GET", "/account/notifications", "/account/notifications", a),
        // Issue 17: webhooks and the delivery log, admins only.
        Call::new("GET", "/webhooks", "/webhooks", a),
        Call::new("GET", "/webhooks", "/webhooks", b),
        Call::new("POST", "/webhooks", "/webhooks", a)
            .json(r#"{"name": "CRM", "url": "https://203.0.113.10/hook", "events": ["case.created", "mail.kept"]}"#),
        Call::new("POST", "/webhooks", "/webhooks", a)
            .json(r#"{"name": "CRM", "url": "https://203.0.113.11/hook", "events": ["case.closed"]}"#),
        Call::new("POST", "/webhooks", "/webhooks", a).json(r#"{"name": "X", "url": "ftp://x", "events": []}"#),
        Call::new("POST", "/webhooks", "/webhooks", b).json(r#"{"name": "X", "url": "https://x.de/", "events": []}"#),
        Call::new("GET", "/webhooks/{id}", "/webhooks/1", a),
        Call::new("GET", "/webhooks/{id}", "/webhooks/99", a),
        Call::new("GET", "/webhooks/{id}", "/webhooks/1", b),
        Call::new("PATCH", "/webhooks/{id}", "/webhooks/1", a).json(r#"{"active": false}"#),
        Call::new("PATCH", "/webhooks/{id}", "/webhooks/1", a).json(r#"{"name": "CRM neu", "active": true}"#),
        Call::new("PATCH", "/webhooks/{id}", "/webhooks/1", a).json(r#"{"events": ["case.deleted"]}"#),
        Call::new("POST", "/webhooks/{id}/secret", "/webhooks/1/secret", a),
        Call::new("POST", "/webhooks/{id}/secret", "/webhooks/1/secret", b),
        Call::new("GET", "/deliveries", "/deliveries", a),
        Call::new("GET", "/deliveries", "/deliveries?status=pending&limit=2&offset=1", a),
        Call::new("GET", "/deliveries", "/deliveries?status=kaputt", a),
        Call::new("GET", "/deliveries", "/deliveries", b),
        Call::new("POST", "/deliveries/{id}/retry", "/deliveries/1/retry", a),
        Call::new("POST", "/deliveries/{id}/retry", "/deliveries/999/retry", a),
        Call::new("POST", "/deliveries/{id}/retry", "/deliveries/1/retry", b),
        Call::new("DELETE", "/webhooks/{id}", "/webhooks/1", b),
        Call::new("DELETE", "/webhooks/{id}", "/webhooks/1", a),
        Call::new("DELETE", "/webhooks/{id}", "/webhooks/1", a),
        Call::new("GET", "/audit", "/audit", a),
        Call::new("GET", "/audit", "/audit?action=download_case&from=2000-01-01&until=2999-12-31&limit=1&offset=0", a),
        Call::new("GET", "/audit", "/audit?actor=cli", a),
        Call::new("GET", "/audit", "/audit?from=gestern", a),
        Call::new("GET", "/audit", "/audit", b),
        Call::new("GET", "/audit", "/audit", ""),
        // Issue 18: the restricted Vorgang for the Datenschutz holder only; retention; Löschprotokoll.
        Call::new("GET", "/cases/{id}", "/cases/3", p),
        Call::new("GET", "/cases/{id}", "/cases/3", b),
        Call::new("GET", "/retention", "/retention", p),
        Call::new("GET", "/retention", "/retention", a),
        Call::new("GET", "/retention", "/retention", ""),
        Call::new("PUT", "/retention", "/retention", p).json(r#"{"periods": {"cases": 8}, "run_at": "03:15"}"#),
        Call::new("PUT", "/retention", "/retention", p).json(r#"{"periods": {"cases": 5}}"#),
        Call::new("PUT", "/retention", "/retention", p).json(r#"{"periods": {"forever": 1}}"#),
        Call::new("PUT", "/retention", "/retention", p).json(r#"{"run_at": "25:00"}"#),
        Call::new("PUT", "/retention", "/retention", a).json(r#"{"periods": {"cases": 8}}"#),
        Call::new("GET", "/deletion-log", "/deletion-log?limit=5&offset=0", p),
        Call::new("GET", "/deletion-log", "/deletion-log", b),
        // Auskunft and Löschen auf Antrag: the holder only; a short query; an item not found.
        Call::new("GET", "/privacy/person", "/privacy/person?person=anna%40mustermail.de", p),
        Call::new("GET", "/privacy/person", "/privacy/person?person=an", p),
        Call::new("GET", "/privacy/person", "/privacy/person?person=anna%40mustermail.de", b),
        Call::new("POST", "/privacy/erase", "/privacy/erase", p)
            .json(r#"{"person": "anna@mustermail.de", "item": "case-999999"}"#),
        Call::new("POST", "/privacy/erase", "/privacy/erase", p).json(r#"{"person": "an", "item": "case-1"}"#),
        Call::new("POST", "/privacy/erase", "/privacy/erase", b)
            .json(r#"{"person": "anna@mustermail.de", "item": "case-1"}"#),
    ];
    // An entry of an older version: no kind, a free detail (both nullable in the document).
    store.audit(1, "cli", "what_is_this", "old text").await.unwrap();

    let (status, _, body) = send(&app, &Call::new("GET", "", "/openapi.json", "")).await;
    assert_eq!(status, StatusCode::OK);
    let spec: Value = serde_json::from_str(&body).unwrap();
    let mut errors = Vec::new();
    let mut seen = std::collections::BTreeSet::new();
    for call in &calls {
        let op = &spec["paths"][call.template][call.method.to_lowercase()];
        assert!(op.is_object(), "{} {} is not documented", call.method, call.template);
        let (status, content_type, body) = send(&app, call).await;
        seen.insert((call.method, call.template, status.as_u16()));
        let what = format!("{} {} → {status}", call.method, call.path);
        let documented = &op["responses"][status.as_str()];
        let documented = resolve(&spec, documented);
        if !documented.is_object() {
            errors.push(format!("{what}: status not documented ({body})"));
            continue;
        }
        let media = content_type.split(';').next().unwrap_or("").trim().to_string();
        match documented["content"].as_object() {
            None => {
                if !body.is_empty() {
                    errors.push(format!("{what}: documented without content, but sent {content_type}: {body}"))
                }
            }
            Some(content) => {
                let Some(doc) = content.get(&media) else {
                    errors.push(format!("{what}: sent {media}, documented {:?}", content.keys().collect::<Vec<_>>()));
                    continue;
                };
                if media == "application/json" {
                    let value: Value = serde_json::from_str(&body).unwrap_or_else(|e| panic!("{what}: not JSON: {e}"));
                    check(&spec, &doc["schema"], &value, &what, &mut errors);
                }
            }
        }
    }
    assert!(errors.is_empty(), "the API and its document disagree:\n{}", errors.join("\n"));
    for (template, status) in [
        ("/webhooks", 201),
        ("/webhooks", 422),
        ("/webhooks", 403),
        ("/webhooks/{id}", 404),
        ("/deliveries", 400),
        ("/deliveries/{id}/retry", 200),
        ("/audit", 200),
        ("/audit", 400),
        ("/audit", 403),
        ("/retention", 200),
        ("/retention", 401),
        ("/retention", 403),
        ("/retention", 422),
        ("/deletion-log", 200),
        ("/deletion-log", 403),
    ] {
        assert!(
            seen.iter().any(|(_, t, s)| *t == template && *s == status),
            "{template} → {status} was checked: {seen:?}"
        );
    }
    check_webhook_payloads(&spec);
    privacy_answers(&app, &spec, p, b).await;
    // The optional parts were really there to be checked.
    let (_, _, body) = send(&app, &Call::new("GET", "", "/mailboxes", a)).await;
    let boxes: Value = serde_json::from_str(&body).unwrap();
    assert!(boxes.as_array().unwrap().iter().any(|m| m["last_error"]["kind"] == "refused"), "{body}");
    let (_, _, body) = send(&app, &Call::new("GET", "", "/cases/2", b)).await;
    assert!(serde_json::from_str::<Value>(&body).unwrap()["forwarded"].is_object(), "{body}");
    for conflict in ["POST /kept/1/discard", "POST /cases/1/reopen"] {
        let (method, path) = conflict.split_once(' ').unwrap();
        let template = if path.starts_with("/kept") { "/kept/{id}/discard" } else { "/cases/{id}/reopen" };
        assert!(seen.contains(&(method, template, 409)), "{conflict} twice: the second is a documented 409");
    }
    for (template, status) in [
        ("/cases/{id}/handover", 200),
        ("/cases/{id}/handover", 409),
        ("/cases/{id}/giveback", 409),
        ("/cases/{id}/notes", 201),
        ("/cases/{id}/notes", 400),
        ("/cases/{id}/follow-up", 400),
    ] {
        assert!(seen.iter().any(|(_, t, s)| *t == template && *s == status), "{template} → {status} was checked");
    }
    // The hand-over back and forth is in the Verlauf with names; the note stays text.
    let (_, _, body) = send(&app, &Call::new("GET", "", "/cases/2", b)).await;
    let kinds: Vec<Value> = serde_json::from_str::<Value>(&body).unwrap()["events"]
        .as_array()
        .unwrap()
        .iter()
        .map(|e| e["kind"].clone())
        .collect();
    assert_eq!(kinds.iter().filter(|k| *k == "handed_over").count(), 2, "{body}");
    let (_, _, body) = send(&app, &Call::new("GET", "", "/cases?limit=5", b)).await;
    assert!(body.contains(r#""last_note":"Kunde ruft <b>morgen</b> zurück""#), "{body}");

    // Abwesenheit: entered, refused (overlap, Vertreter without licence: 422; someone else's: 403), ended.
    for (method, template, status) in [
        ("POST", "/absences", 201),
        ("POST", "/absences", 422),
        ("POST", "/absences", 403),
        ("GET", "/absences", 403),
        ("POST", "/absences/{id}/end", 403),
        ("POST", "/absences/{id}/end", 200),
        ("POST", "/absences/{id}/end", 404),
    ] {
        assert!(seen.contains(&(method, template, status)), "{method} {template} never answered {status}");
    }
    let later = std::time::SystemTime::now().duration_since(std::time::UNIX_EPOCH).unwrap().as_millis() as i64 + 1;
    assert!(store.absence_list(None, later).await.unwrap().is_empty(), "both ended");

    // Notifications: Bernd's change is his own; the admin still has the defaults; 422 was checked.
    assert!(seen.contains(&("PUT", "/account/notifications", 422)), "an unknown timing is a documented 422");
    let prefs = |token: &str| {
        let call = Call::new("GET", "", "/account/notifications", token);
        let app = &app;
        async move { serde_json::from_str::<Value>(&send(app, &call).await.2).unwrap() }
    };
    let (bernds, admins) = (prefs(b).await, prefs(a).await);
    assert_eq!((bernds["pool"].as_str(), bernds["digest_time"].as_str()), (Some("daily"), Some("07:30")), "{bernds}");
    assert_eq!((admins["pool"].as_str(), admins["digest_time"].as_str()), (Some("off"), Some("08:00")), "{admins}");

    // Every documented operation was called, and every route of the API is documented.
    for (path, ops) in spec["paths"].as_object().unwrap() {
        for (method, op) in ops.as_object().unwrap() {
            let method = method.to_uppercase();
            assert!(
                seen.iter().any(|(m, t, _)| *m == method && *t == path),
                "{method} {path} is documented but this test does not call it"
            );
            assert!(op["operationId"].is_string(), "{method} {path}: no operationId (a generated client needs one)");
            for (status, response) in op["responses"].as_object().unwrap() {
                let response = resolve(&spec, response);
                assert!(response["description"].is_string(), "{method} {path} {status}: no description");
                if status.starts_with('2') && status != "204" {
                    let content = response["content"].as_object();
                    assert!(content.is_some(), "{method} {path} {status}: a success without a schema");
                    for (media, c) in content.into_iter().flatten() {
                        if media == "application/json" {
                            check_schema_is_complete(&spec, &c["schema"], &format!("{method} {path} {status}"));
                        }
                    }
                }
            }
        }
    }
    let source = include_str!("../../../web/src/api.rs");
    for route in source.split(".route(\"").skip(1) {
        let path = route.split('"').next().unwrap();
        if path != "/openapi.json" {
            assert!(spec["paths"][path].is_object(), "the API route {path} is not in openapi.json");
        }
    }
}

/// The `x-webhooks` section: one entry per event type webhooks send, each example valid against
/// its schema, and the payloads the webhook channel really makes valid too.
fn check_webhook_payloads(spec: &Value) {
    use postkorb_app::service::dispatch::webhook;
    let hooks = spec["x-webhooks"].as_object().expect("the document has x-webhooks");
    let mut types: Vec<&str> = webhook::EVENT_TYPES.iter().map(|(t, _, _)| *t).collect();
    types.sort();
    assert_eq!(hooks.keys().map(String::as_str).collect::<Vec<_>>(), types, "one entry per event type");
    let mut errors = Vec::new();
    for (ty, op) in hooks {
        let op = &op["post"];
        assert!(op["operationId"].is_string(), "{ty}: no operationId");
        let headers: Vec<&str> =
            op["parameters"].as_array().unwrap().iter().map(|p| p["name"].as_str().unwrap()).collect();
        assert_eq!(headers, ["webhook-id", "webhook-timestamp", "webhook-signature"], "{ty}");
        let media = &op["requestBody"]["content"]["application/json"];
        check(spec, &media["schema"], &media["example"], &format!("x-webhooks {ty} example"), &mut errors);
        assert_eq!(media["example"]["type"], ty.as_str());
    }
    let item = |kind: &str, case: bool| postkorb_store::OutboxItem {
        key: "evt_7".into(),
        event_id: case.then_some(7),
        kept_id: (!case).then_some(3),
        case_id: case.then_some(12),
        kind: kind.into(),
        at_ms: 1_795_793_880_123,
        payload: serde_json::json!({"by": 2}),
        subject: "Schaden <b>".into(),
        from_addr: Some("anna@kunde.example".into()),
        employee: Some((2, "Bernd".into())),
        assignee: case.then(|| (2, "Bernd".into())),
        reason: (!case).then(|| "no_route".into()),
        mailbox_id: Some(1),
    };
    for (ty, kind, _) in webhook::EVENT_TYPES {
        let body = webhook::payload(&item(kind, kind != "kept"), ty, "https://postkorb.example");
        let value: Value = serde_json::from_str(&body).unwrap();
        let schema = &hooks[ty]["post"]["requestBody"]["content"]["application/json"]["schema"];
        check(spec, schema, &value, &format!("the payload of {ty}"), &mut errors);
    }
    assert!(errors.is_empty(), "the webhook payloads and their document disagree:\n{}", errors.join("\n"));
}

/// Issue 18: `restricted` is true where the caller may see the Vorgang and never in a list; the
/// retention settings were saved (and only the valid change); a Löschprotokoll with an entry
/// matches its schema.
async fn privacy_answers(app: &App, spec: &Value, p: &str, b: &str) {
    let get = |path: &str, token: &str| {
        let call = Call::new("GET", "", path.to_string(), token);
        async move { serde_json::from_str::<Value>(&send(app, &call).await.2).unwrap() }
    };
    assert_eq!(get("/cases/3", p).await["summary"]["restricted"], true);
    let listed = get("/cases", b).await;
    let rows = listed.as_array().unwrap();
    assert!(!rows.is_empty() && rows.iter().all(|c| c["restricted"] == false && c["id"] != 3), "{listed}");
    let s = get("/retention", p).await;
    let cases = s["periods"].as_array().unwrap().iter().find(|c| c["class"] == "cases").unwrap().clone();
    assert_eq!((cases["period"].as_i64(), s["run_at"].as_str()), (Some(8), Some("03:15")), "{s}");
    // A kept mail discarded long ago: the next run deletes it and logs that.
    let store = &app.ctx.store;
    let far = 4_102_444_800_000; // 2100
    store.retention_run(far, false, 10).await.unwrap();
    let log = get("/deletion-log", p).await;
    assert!(log["total"].as_i64().unwrap() > 0, "{log}");
    let mut errors = Vec::new();
    let schema = &spec["paths"]["/deletion-log"]["get"]["responses"]["200"]["content"]["application/json"]["schema"];
    check(spec, schema, &log, "GET /deletion-log after a run", &mut errors);
    assert!(errors.is_empty(), "{errors:?}");
    let has_hash = log["entries"]
        .as_array()
        .unwrap()
        .iter()
        .any(|e| e["items"].as_array().unwrap().iter().any(|i| i["sha256"].is_string()));
    assert!(has_hash, "{log}");
}
