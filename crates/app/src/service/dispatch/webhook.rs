//! Webhooks, the first channel: the events an endpoint subscribed to, as JSON (versioned,
//! `schema_version` 1, documented in `crates/web/openapi.json` under `webhooks`), signed per
//! Standard Webhooks (`webhook-id` = the event key, `webhook-timestamp`, `webhook-signature:
//! v1,<base64 HMAC-SHA256>` with the endpoint's `whsec_…` secret), POSTed over a client that
//! connects only to the addresses checked against `allow_private_hosts` and follows no redirect.
//! An endpoint failing for [`PAUSE_AFTER_MS`] is paused (audit entry, notice for admins).

use std::time::Duration;

use base64::Engine;
use base64::engine::general_purpose::STANDARD as B64;
use hmac::{Hmac, Mac};
use postkorb_core::AuditEntry;
use postkorb_store::{Delivery, NewDelivery, OutboxItem, Webhook};
use serde_json::{Value, json};
use sha2::Sha256;

use super::{BoxFuture, Channel, Deps, FanOut, Outcome};

/// The channel word in `deliveries.channel`.
pub const CHANNEL: &str = "webhook";
/// The binding of a sealed webhook secret (`SecretKey::seal`).
const BINDING: &[u8] = b"webhook-secret";
/// An endpoint that has not taken a delivery for this long is paused (3 days).
pub const PAUSE_AFTER_MS: i64 = 3 * 24 * 3600 * 1000;
/// One attempt at most.
const TIMEOUT: Duration = Duration::from_secs(10);

pub use postkorb_core::webhook::{EVENT_TYPES, event_type};

/// A new secret in the Standard Webhooks form: `whsec_` + base64 of 32 random bytes.
pub fn new_secret() -> anyhow::Result<String> {
    let mut bytes = [0u8; 32];
    getrandom::fill(&mut bytes).map_err(|e| anyhow::anyhow!("no randomness: {e}"))?;
    Ok(format!("whsec_{}", B64.encode(bytes)))
}

/// The secret sealed for the `webhooks.secret` column (base64).
pub fn seal_secret(key: &crate::secret::SecretKey, secret: &str) -> anyhow::Result<String> {
    Ok(B64.encode(key.seal(secret, BINDING)?))
}

fn open_secret(key: &crate::secret::SecretKey, sealed: &str) -> anyhow::Result<String> {
    let blob = B64.decode(sealed)?;
    Ok(key.open(&blob, BINDING)?)
}

/// Where `url` points, checked when an endpoint is saved (web, API): refused with a German
/// sentence when its host is — or now resolves to — an address of the own network (loopback,
/// private, link-local) and `allow_private_hosts` is off. A name that does not resolve now is
/// accepted: each delivery resolves and checks again (`oauth::http_client`).
pub async fn check_url(url: &str, net: postkorb_source::NetPolicy) -> Result<(), String> {
    let refused = || {
        Err("Diese Adresse liegt im eigenen Netz (zum Beispiel 127.0.0.1 oder 192.168.…). Webhooks dürfen \
             dorthin nur senden, wenn in den Einstellungen allow_private_hosts eingeschaltet ist."
            .to_string())
    };
    let Ok(parsed) = reqwest::Url::parse(url.trim()) else { return Ok(()) };
    let port = parsed.port_or_known_default().unwrap_or(443);
    let Some(host) = parsed.host_str() else { return Ok(()) };
    let bare = host.trim_start_matches('[').trim_end_matches(']');
    let ips: Vec<std::net::IpAddr> = match bare.parse::<std::net::IpAddr>() {
        Ok(ip) => vec![ip],
        Err(_) => match tokio::time::timeout(Duration::from_secs(3), tokio::net::lookup_host((bare, port))).await {
            Ok(Ok(addrs)) => addrs.map(|a| a.ip()).collect(),
            _ => vec![],
        },
    };
    if ips.iter().any(|ip| !net.allows(*ip)) { refused() } else { Ok(()) }
}

/// `v1,<base64 HMAC-SHA256(key, "{id}.{timestamp}.{body}")>`, key = the base64 after `whsec_`.
pub fn signature(secret: &str, id: &str, timestamp: i64, body: &str) -> anyhow::Result<String> {
    let key = B64.decode(secret.strip_prefix("whsec_").unwrap_or(secret))?;
    let mut mac = Hmac::<Sha256>::new_from_slice(&key).map_err(|_| anyhow::anyhow!("bad key"))?;
    mac.update(format!("{id}.{timestamp}.{body}").as_bytes());
    Ok(format!("v1,{}", B64.encode(mac.finalize().into_bytes())))
}

/// RFC 3339 in UTC, to the second.
pub fn rfc3339(ms: i64) -> String {
    let (y, m, d, hh, mm) = postkorb_core::time::civil_from_ms(ms);
    format!("{y:04}-{m:02}-{d:02}T{hh:02}:{mm:02}:{:02}Z", ms.div_euclid(1000).rem_euclid(60))
}

fn person(p: &Option<(i64, String)>) -> Value {
    p.as_ref().map_or(Value::Null, |(id, name)| json!({ "id": id, "name": name }))
}

/// The body sent for `item` as `ty` (schema_version 1): ids, Betreff, Absender, Bearbeiter and
/// links — never the mail's text.
pub fn payload(item: &OutboxItem, ty: &str, public_url: &str) -> String {
    let data = match (item.case_id, item.kept_id) {
        (Some(case_id), _) => {
            let path = format!("/vorgang/{case_id}");
            // Who the event names: the new Bearbeiter (assigned, claimed, handed over) or who acted.
            let by = item.payload.get("by").and_then(Value::as_i64);
            json!({
                "event_id": item.event_id,
                "case_id": case_id,
                "subject": item.subject,
                "from": item.from_addr,
                "assignee": person(&item.assignee),
                "employee": person(&item.employee),
                "by_id": by,
                "link": { "path": path, "url": format!("{public_url}{path}") },
            })
        }
        (None, kept_id) => {
            let path = format!("/nicht-zugeordnet/{}", kept_id.unwrap_or_default());
            json!({
                "kept_id": kept_id,
                "subject": item.subject,
                "from": item.from_addr,
                "reason": item.reason,
                "link": { "path": path, "url": format!("{public_url}{path}") },
            })
        }
    };
    json!({ "type": ty, "timestamp": rfc3339(item.at_ms), "schema_version": 1, "data": data }).to_string()
}

/// The webhook channel.
pub struct Webhooks;

impl Channel for Webhooks {
    fn name(&self) -> &'static str {
        CHANNEL
    }

    fn fan_out<'a>(&'a self, deps: &'a Deps) -> BoxFuture<'a, anyhow::Result<FanOut>> {
        Box::pin(async move {
            let hooks: Vec<Webhook> = deps.store.webhooks().await?;
            let public_url = deps.public_url.clone();
            let plan: FanOut = Box::new(move |item: &OutboxItem| {
                let Some(ty) = event_type(&item.kind) else { return vec![] };
                let wanted: Vec<&Webhook> = hooks.iter().filter(|w| w.events.iter().any(|e| e == ty)).collect();
                if wanted.is_empty() {
                    return vec![];
                }
                let body = payload(item, ty, &public_url);
                wanted
                    .into_iter()
                    .map(|w| NewDelivery {
                        target: w.id.to_string(),
                        kind: ty.to_string(),
                        body: body.clone(),
                        paused: !w.active,
                    })
                    .collect()
            });
            Ok(plan)
        })
    }

    fn deliver<'a>(&'a self, deps: &'a Deps, d: &'a Delivery, now_ms: i64) -> BoxFuture<'a, anyhow::Result<Outcome>> {
        Box::pin(attempt(deps, d, now_ms))
    }
}

async fn attempt(deps: &Deps, d: &Delivery, now_ms: i64) -> anyhow::Result<Outcome> {
    let Ok(id) = d.target.parse::<i64>() else { return Ok(Outcome::GiveUp("kein Webhook".into())) };
    let Some(hook) = deps.store.webhook(id).await? else {
        return Ok(Outcome::GiveUp("Webhook gelöscht".into()));
    };
    if !hook.active {
        return Ok(Outcome::Paused("Webhook pausiert".into()));
    }
    let sealed = deps.store.webhook_sealed_secret(id).await?.unwrap_or_default();
    let secret = open_secret(&deps.key, &sealed)?;
    let client = match crate::service::oauth::http_client(&hook.url, deps.net).await {
        Ok(c) => c,
        Err(e) if e.to_string().contains("allow_private_hosts") => {
            return Ok(Outcome::GiveUp("Adresse im eigenen Netz gesperrt (allow_private_hosts)".into()));
        }
        Err(_) => return failed(deps, &hook, "Name nicht auflösbar", now_ms).await,
    };
    let timestamp = now_ms.div_euclid(1000);
    let request = client
        .post(&hook.url)
        .header("content-type", "application/json")
        .header("user-agent", "Postkorb-Webhooks/1")
        .header("webhook-id", &d.event_key)
        .header("webhook-timestamp", timestamp.to_string())
        .header("webhook-signature", signature(&secret, &d.event_key, timestamp, &d.body)?)
        .body(d.body.clone())
        .send();
    // The answer's body is never read: only its status counts.
    match tokio::time::timeout(TIMEOUT, request).await {
        Err(_) => failed(deps, &hook, "Zeitüberschreitung", now_ms).await,
        Ok(Err(_)) => failed(deps, &hook, "nicht erreichbar", now_ms).await,
        Ok(Ok(answer)) if answer.status().is_success() => {
            deps.store.webhook_succeeded(id, now_ms).await?;
            Ok(Outcome::Delivered(format!("HTTP {}", answer.status().as_u16())))
        }
        Ok(Ok(answer)) if answer.status().is_redirection() => {
            let text = format!("HTTP {} (Weiterleitung nicht gefolgt)", answer.status().as_u16());
            failed(deps, &hook, &text, now_ms).await
        }
        Ok(Ok(answer)) => failed(deps, &hook, &format!("HTTP {}", answer.status().as_u16()), now_ms).await,
    }
}

/// A failed attempt: retried later, or — the endpoint failing for [`PAUSE_AFTER_MS`] — the
/// endpoint paused, its deliveries kept, and an audit entry written.
async fn failed(deps: &Deps, hook: &Webhook, reason: &str, now_ms: i64) -> anyhow::Result<Outcome> {
    let since = deps.store.webhook_failed(hook.id, now_ms).await?.unwrap_or(now_ms);
    if now_ms - since < PAUSE_AFTER_MS {
        return Ok(Outcome::Retry(reason.to_string()));
    }
    if deps.store.set_webhook_active(hook.id, false, "failing", now_ms).await? {
        let entry = AuditEntry::WebhookPaused { webhook: hook.id, name: hook.name.clone() };
        deps.store.audit_entry(now_ms, "postkorb", &entry).await?;
    }
    Ok(Outcome::Paused(format!("{reason}; Webhook pausiert")))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_signature_is_the_standard_webhooks_example() {
        // The example of the Standard Webhooks specification (and its reference libraries).
        let secret = "whsec_MfKQ9r8GKYqrTwjUPD8ILPZIo2LaLaSw";
        let body = r#"{"test": 2432232314}"#;
        assert_eq!(
            signature(secret, "msg_p5jXN8AQM9LWM0D4loKWxJek", 1614265330, body).unwrap(),
            "v1,g0hM9SsE+OTPJTGt/tmIKtSyZlE3uFJELVlNIOLJ1OE="
        );
    }

    #[test]
    fn every_sent_kind_has_a_type_and_others_none() {
        let cases = [
            ("created", Some("case.created")),
            ("assigned", Some("case.assigned")),
            ("claimed", Some("case.claimed")),
            ("handed_over", Some("case.handed_over")),
            ("follow_up_due", Some("case.follow_up_due")),
            ("closed", Some("case.closed")),
            ("reopened", Some("case.reopened")),
            ("kept", Some("mail.kept")),
            ("note_added", None),
            ("waiting", None),
            ("moved", None),
        ];
        for (kind, ty) in cases {
            assert_eq!(event_type(kind), ty, "{kind}");
        }
        assert_eq!(rfc3339(1_795_793_880_123), "2026-11-27T15:38:00Z");
        assert!(new_secret().unwrap().starts_with("whsec_"));
    }
}
