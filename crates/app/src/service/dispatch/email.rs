//! E-mail notifications (issue 17), a channel of the dispatcher: who is told about an event is
//! `postkorb_store::notify::recipients` (Vertreter for the absent, never the actor), how is each
//! person's preference (`Store::notify_prefs`): „sofort“ → one mail per event through the office's
//! SMTP server (`service::smtp`), „täglich“ → the event goes into their daily summary
//! (`Store::queue_digest_item`; [`send_due_digests`] sends the summaries), „aus“ → nothing.
//!
//! A delivery's target is the employee's id; its body names the kind and whether it is for the
//! summary. The mail is written when it is sent (`postkorb_web::notify_mail`): Betreff, Absender,
//! Eingang and a link, the mail's first lines only with the office setting `notify_include_text`.
//! Nothing fans out while no SMTP server is set up („E-Mail-Versand“), so an office without one
//! collects no undeliverable mails, and setting one up does not send the past.

use std::collections::HashMap;

use postkorb_core::notify::{NotifyKind, NotifyPrefs, Timing};
use postkorb_core::{Employee, EmployeeId};
use postkorb_mail::compose::AutoSubmitted;
use postkorb_store::notify::recipients;
use postkorb_store::{Delivery, LoggedEvent, NewDelivery, OutboxItem};
use postkorb_web::notify_mail::{CaseFacts, digest_mail, mail_for};
use serde_json::{Value, json};

use super::{BoxFuture, Channel, Deps, FanOut, Outcome, mail_outcome};
use crate::service::smtp::{outgoing_from, send_with};

/// The channel word in `deliveries.channel`.
pub const CHANNEL: &str = "email";

/// The e-mail channel.
pub struct Notifications;

impl Channel for Notifications {
    fn name(&self) -> &'static str {
        CHANNEL
    }

    fn fan_out<'a>(&'a self, deps: &'a Deps) -> BoxFuture<'a, anyhow::Result<FanOut>> {
        Box::pin(async move {
            if deps.store.smtp_settings().await?.is_none() {
                return Ok(Box::new(|_: &OutboxItem| Vec::new()) as FanOut);
            }
            // The absences in force now: an event is fanned out within a round of its commit.
            // (`absences_at` names the employees only when someone is away.)
            let (absences, _) = deps.store.absences_at(deps.now_ms()).await?;
            let employees = deps.store.employees().await?;
            let mut prefs: HashMap<EmployeeId, NotifyPrefs> = HashMap::new();
            for e in employees.iter().filter(|e| e.work_email.is_some()) {
                prefs.insert(e.id, deps.store.notify_prefs(e.id).await?);
            }
            let plan: FanOut = Box::new(move |item: &OutboxItem| plan(item, &absences, &employees, &prefs));
            Ok(plan)
        })
    }

    fn deliver<'a>(&'a self, deps: &'a Deps, d: &'a Delivery, now_ms: i64) -> BoxFuture<'a, anyhow::Result<Outcome>> {
        Box::pin(attempt(deps, d, now_ms))
    }
}

/// The deliveries one item makes: one per recipient with a work e-mail whose timing for the
/// kind is not „aus“.
fn plan(
    item: &OutboxItem,
    absences: &[postkorb_core::Absence],
    employees: &[Employee],
    prefs: &HashMap<EmployeeId, NotifyPrefs>,
) -> Vec<NewDelivery> {
    let (Some(event_id), Some(case_id)) = (item.event_id, item.case_id) else { return Vec::new() };
    let event = LoggedEvent {
        id: event_id,
        case_id,
        at_ms: item.at_ms,
        kind: item.kind.clone(),
        employee_id: item.employee.as_ref().map(|(id, _)| *id),
        detail: String::new(),
        payload: item.payload.clone(),
    };
    recipients(&event, absences, employees)
        .into_iter()
        .filter_map(|r| {
            let timing = prefs.get(&r.employee)?.timing(r.kind);
            let daily = match timing {
                Timing::Off => return None,
                Timing::Now => false,
                Timing::Daily => true,
            };
            let body = json!({
                "kind": r.kind.code(),
                "daily": daily,
                "on_behalf_of": r.on_behalf_of.map(|e| e.0),
                "by": item.payload.get("by").and_then(Value::as_i64),
            });
            Some(NewDelivery {
                target: r.employee.0.to_string(),
                kind: format!("notify.{}", r.kind.code()),
                body: body.to_string(),
                paused: false,
            })
        })
        .collect()
}

async fn attempt(deps: &Deps, d: &Delivery, now_ms: i64) -> anyhow::Result<Outcome> {
    let body: Value = serde_json::from_str(&d.body)?;
    let Some(kind) = body.get("kind").and_then(Value::as_str).and_then(NotifyKind::from_code) else {
        return Ok(Outcome::GiveUp("unbekannte Art".into()));
    };
    let (Ok(employee), Some(case_id), Some(event_id)) = (d.target.parse::<i64>(), d.case_id, d.event_id) else {
        return Ok(Outcome::GiveUp("kein Empfänger".into()));
    };
    let employee = EmployeeId(employee);
    if body.get("daily").and_then(Value::as_bool) == Some(true) {
        deps.store.queue_digest_item(employee, kind, event_id, case_id, now_ms).await?;
        return Ok(Outcome::Delivered("für die tägliche Zusammenfassung vorgemerkt".into()));
    }
    let Some(to) = deps.store.employee(employee).await?.work_email else {
        return Ok(Outcome::GiveUp("keine E-Mail-Adresse hinterlegt".into()));
    };
    let Some(smtp) = deps.store.smtp_settings().await? else {
        return Ok(Outcome::Retry("E-Mail-Versand nicht eingerichtet".into()));
    };
    let names = names(deps).await?;
    let mut facts = facts(deps, case_id, &names).await?;
    facts.on_behalf_of = body.get("on_behalf_of").and_then(Value::as_i64).and_then(|id| names.get(&id).cloned());
    if kind == NotifyKind::HandedOver {
        facts.handed_over_by = body.get("by").and_then(Value::as_i64).and_then(|id| names.get(&id).cloned());
    }
    let (subject, text) = mail_for(kind, &facts, &deps.public_url);
    let mail = outgoing_from(&smtp, to.as_str(), &subject, &text, AutoSubmitted::Generated, now_ms);
    Ok(mail_outcome(send_with(&smtp, &deps.key, deps.net, &mail).await))
}

async fn names(deps: &Deps) -> anyhow::Result<HashMap<i64, String>> {
    Ok(deps.store.employees().await?.into_iter().map(|e| (e.id.0, e.name)).collect())
}

/// What a notification says about the Vorgang `case_id`, read now.
async fn facts(deps: &Deps, case_id: i64, names: &HashMap<i64, String>) -> anyhow::Result<CaseFacts> {
    let case = deps.store.case(case_id).await?;
    let s = &case.summary;
    let text = if deps.include_text {
        match deps.store.raw(case.raw_id).await {
            Ok(raw) => Some(postkorb_mail::parse_for_import(&raw).text),
            Err(_) => None,
        }
    } else {
        None
    };
    Ok(CaseFacts {
        case_id,
        subject: s.subject.clone(),
        from_name: s.from_name.clone(),
        from_addr: s.from_addr.clone(),
        received_ms: s.received_ms,
        on_behalf_of: s.on_behalf_of.and_then(|id| names.get(&id).cloned()),
        handed_over_by: None,
        due_ms: s.follow_up_ms,
        due_reason: s.follow_up_reason.clone(),
        text,
    })
}

/// Sends the daily summaries due at `now_ms` (each person's once a day, also with two
/// instances: `Store::due_digests` takes them). A summary whose mail fails stays queued and comes
/// with the next one; returns how many were sent.
pub async fn send_due_digests(deps: &Deps, now_ms: i64) -> anyhow::Result<usize> {
    let Some(smtp) = deps.store.smtp_settings().await? else { return Ok(0) };
    let names = names(deps).await?;
    let mut sent_count = 0;
    for digest in deps.store.due_digests(now_ms).await? {
        let Some(to) = deps.store.employee(digest.employee).await?.work_email else { continue };
        let mut items = Vec::with_capacity(digest.items.len());
        for item in &digest.items {
            // Under an „Einschränkung der Verarbeitung“ (art. 18): not told.
            if deps.store.case_restricted(item.case_id).await? {
                continue;
            }
            // A Vorgang deleted meanwhile (data protection) is left out.
            if let Ok(f) = facts(deps, item.case_id, &names).await {
                items.push((item.kind, f));
            }
        }
        if !items.is_empty() {
            let (subject, text) = digest_mail(&items, &deps.public_url);
            let mail = outgoing_from(&smtp, to.as_str(), &subject, &text, AutoSubmitted::Generated, now_ms);
            if let Err(e) = send_with(&smtp, &deps.key, deps.net, &mail).await {
                tracing::warn!(employee = digest.employee.0, error = %e.german(), "daily summary not sent; it comes with the next");
                continue;
            }
            sent_count += 1;
        }
        deps.store.digest_sent(digest.employee, digest.taken_ms).await?;
    }
    Ok(sent_count)
}
