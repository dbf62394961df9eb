//! The Eingangsbestätigung (issue 17), a channel of the dispatcher: a short German reply to the
//! sender of a mail that became a Vorgang — or, when the mailbox says so, of one that could not be
//! assigned — per the mailbox's settings (off by default; `postkorb_core::ack`).
//!
//! The fan-out decides with core's `ack::judge` from what the import recorded (`"ack"` in the
//! `created` event's payload, `kept.ack_facts` for a kept mail): never to an unverified sender,
//! automatic mail, lists, bounces or the office's own addresses (its mailboxes, its sender). The delivery then claims the
//! sender for the mailbox's period (`Store::ack_claim`, one conditional upsert, so two instances
//! or two mails at once send one reply) and sends `service::smtp::ack_mail` (`Auto-Submitted:
//! auto-replied`, `In-Reply-To`/`References`, RFC 3834). A send that fails gives the claim back
//! (`Store::ack_unclaim`), so the retry may send it.

use std::collections::HashMap;

use postkorb_core::ack::{Ack, AckFacts, AckSettings, Arrival, judge};
use postkorb_store::{Delivery, NewDelivery, OutboxItem};
use serde_json::{Value, json};

use super::{BoxFuture, Channel, Deps, FanOut, Outcome, mail_outcome};
use crate::service::smtp::{ack_mail, send_with};

/// The channel word in `deliveries.channel`.
pub const CHANNEL: &str = "ack";

/// The Eingangsbestätigung channel.
pub struct Acknowledgements;

impl Channel for Acknowledgements {
    fn name(&self) -> &'static str {
        CHANNEL
    }

    fn fan_out<'a>(&'a self, deps: &'a Deps) -> BoxFuture<'a, anyhow::Result<FanOut>> {
        Box::pin(async move {
            let mailboxes = deps.store.mailboxes().await?;
            // The office's own addresses — the dedicated mailboxes and the sender of its mail —
            // are never answered (a loop between two robots). Employees' work addresses are not
            // among them: the field staff who mail the office are whom the reply is for.
            let mut own: Vec<String> =
                mailboxes.iter().map(|m| m.username.clone()).filter(|u| u.contains('@')).collect();
            let settings: HashMap<i64, AckSettings> =
                mailboxes.into_iter().filter(|m| m.ack.enabled).map(|m| (m.id, m.ack)).collect();
            let smtp = deps.store.smtp_settings().await?;
            let (Some(smtp), false) = (smtp, settings.is_empty()) else {
                return Ok(Box::new(|_: &OutboxItem| Vec::new()) as FanOut);
            };
            own.push(smtp.sender_address.clone());
            let plan: FanOut = Box::new(move |item: &OutboxItem| plan(item, &settings, &own).into_iter().collect());
            Ok(plan)
        })
    }

    fn deliver<'a>(&'a self, deps: &'a Deps, d: &'a Delivery, now_ms: i64) -> BoxFuture<'a, anyhow::Result<Outcome>> {
        Box::pin(attempt(deps, d, now_ms))
    }
}

/// The reply one item makes, if any: a new Vorgang from the import, or a kept mail.
fn plan(item: &OutboxItem, settings: &HashMap<i64, AckSettings>, own: &[String]) -> Option<NewDelivery> {
    let mailbox = item.mailbox_id?;
    let settings = settings.get(&mailbox)?;
    let arrival = match item.kind.as_str() {
        "created" if item.payload.get("via").and_then(Value::as_str) == Some("import") => {
            Arrival::Vorgang { bearbeiter: item.assignee.as_ref().map(|(_, name)| name.clone()) }
        }
        "kept" => Arrival::Unassigned,
        _ => return None,
    };
    let facts: AckFacts = serde_json::from_value(item.payload.get("ack")?.clone()).ok()?;
    let ack = judge(&facts, &arrival, settings, own).ok()?;
    let kind = if arrival == Arrival::Unassigned { "ack.kept" } else { "ack.case" };
    let body = json!({
        "mailbox_id": mailbox,
        "hours": settings.hours,
        "to": ack.to,
        "subject": ack.subject,
        "text": ack.text,
        "in_reply_to": ack.in_reply_to,
    });
    Some(NewDelivery { target: ack.to.clone(), kind: kind.into(), body: body.to_string(), paused: false })
}

async fn attempt(deps: &Deps, d: &Delivery, now_ms: i64) -> anyhow::Result<Outcome> {
    let body: Value = serde_json::from_str(&d.body)?;
    let text = |key: &str| body.get(key).and_then(Value::as_str).unwrap_or_default().to_string();
    let (Some(mailbox), Some(hours)) =
        (body.get("mailbox_id").and_then(Value::as_i64), body.get("hours").and_then(Value::as_i64))
    else {
        return Ok(Outcome::GiveUp("unvollständig".into()));
    };
    let ack = Ack {
        to: text("to"),
        subject: text("subject"),
        text: text("text"),
        in_reply_to: body.get("in_reply_to").and_then(Value::as_str).map(str::to_string),
    };
    let Some(smtp) = deps.store.smtp_settings().await? else {
        return Ok(Outcome::Retry("E-Mail-Versand nicht eingerichtet".into()));
    };
    if !deps.store.ack_claim(mailbox, &ack.to, now_ms, hours).await? {
        return Ok(Outcome::Delivered(format!("nicht gesendet: in den letzten {hours} Stunden schon bestätigt")));
    }
    let sent = send_with(&smtp, &deps.key, deps.net, &ack_mail(&smtp, &ack, now_ms)).await;
    if sent.is_err() {
        deps.store.ack_unclaim(mailbox, &ack.to, now_ms).await?;
    }
    Ok(mail_outcome(sent))
}
