//! E-mail notifications (issue 17), the store's part: who is told about a logged event
//! ([`recipients`], pure), each employee's preferences (`prefs.rs`, table `notify_settings`) and the
//! items of their daily summary (`digest.rs`, table `notify_digest_items`); both migration 0024.
//! „Wiedervorlage fällig“ becomes an event through `Store::announce_due_follow_ups` (workflow.rs).
//!
//! How the e-mail channel uses it (the dispatcher reads the log with `Store::case_events_after`):
//! for each event, `recipients(event, absences, employees)` with `Store::absences_at(event.at_ms)`;
//! per recipient `Store::notify_prefs` → `Timing::Now`: send `postkorb_web::notify_mail::mail_for`;
//! `Timing::Daily`: `Store::queue_digest_item`; `Timing::Off`: nothing. Periodically
//! `Store::due_digests(now)` → send `notify_mail::digest_mail` → `Store::digest_sent`.
//! Only employees with a work e-mail can receive a mail (the channel checks `work_email`).

mod digest;
mod prefs;

use postkorb_core::absence::receiver;
use postkorb_core::notify::NotifyKind;
use postkorb_core::{Absence, Employee, EmployeeId};
use serde_json::Value;

pub use digest::{Digest, DigestItem};

use crate::LoggedEvent;

/// One person to tell about an event, and as what.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Recipient {
    pub employee: EmployeeId,
    pub kind: NotifyKind,
    /// They receive it as Vertreter(in) for this absent person („in Vertretung für …“).
    pub on_behalf_of: Option<EmployeeId>,
}

/// Who is told about `event`, from its kind and payload alone (no reads), with the absences in
/// force at the event (`Store::absences_at(event.at_ms)`) for the pool and hand-over cases:
///
/// - `assigned`: the receiver (already the Vertreter when the person was away) — „Neuer Vorgang“.
/// - `waiting`: each candidate, or their Vertreter when away — „Wartet auf mich in einem Pool“.
/// - `given_back`: the pool's remaining candidates (their Vertreter when away), not the giver.
/// - `handed_over`: the receiver (their Vertreter when away) — „An mich weitergegeben“ — unless
///   they handed it to themselves (the actor is never told about their own action).
/// - `follow_up_due`: the Bearbeiter (their Vertreter when away) — „Wiedervorlage fällig“.
/// - everything else, also `claimed` (the claimer took it themselves, a Vertreter too): nobody.
///
/// Each person once per event, in the order found.
pub fn recipients(event: &LoggedEvent, absences: &[Absence], employees: &[Employee]) -> Vec<Recipient> {
    let p = &event.payload;
    let covered = |e: EmployeeId, kind: NotifyKind| {
        let r = receiver(e, event.at_ms, absences, employees);
        Recipient { employee: r.to(), kind, on_behalf_of: r.on_behalf_of() }
    };
    let actor = id(p, "by");
    let mut out: Vec<Recipient> = match event.kind.as_str() {
        "assigned" => event
            .employee_id
            .map(|to| Recipient {
                employee: EmployeeId(to),
                kind: NotifyKind::NewCase,
                on_behalf_of: id(p, "on_behalf_of"),
            })
            .into_iter()
            .collect(),
        "waiting" => ids(p, "candidates").into_iter().map(|c| covered(c, NotifyKind::Pool)).collect(),
        "given_back" => ids(p, "candidates")
            .into_iter()
            .filter(|c| Some(*c) != id(p, "from"))
            .map(|c| covered(c, NotifyKind::Pool))
            .collect(),
        "handed_over" => id(p, "to").map(|to| covered(to, NotifyKind::HandedOver)).into_iter().collect(),
        "follow_up_due" => id(p, "assignee").map(|a| covered(a, NotifyKind::FollowUpDue)).into_iter().collect(),
        _ => Vec::new(),
    };
    out.retain(|r| Some(r.employee) != actor);
    // A candidate who is also another's Vertreter is told once, as themselves when they are one.
    out.sort_by_key(|r| (r.employee, r.on_behalf_of.is_some()));
    out.dedup_by_key(|r| r.employee);
    out
}

fn id(payload: &Value, key: &str) -> Option<EmployeeId> {
    payload.get(key).and_then(Value::as_i64).map(EmployeeId)
}

fn ids(payload: &Value, key: &str) -> Vec<EmployeeId> {
    payload
        .get(key)
        .and_then(Value::as_array)
        .map(|a| a.iter().filter_map(Value::as_i64).map(EmployeeId).collect())
        .unwrap_or_default()
}

#[cfg(test)]
mod tests {
    use super::*;
    use postkorb_core::Permission;
    use serde_json::json;

    const ANNA: i64 = 1;
    const BERND: i64 = 2;
    const CLARA: i64 = 3;
    const DORA: i64 = 4;

    fn employee(id: i64) -> Employee {
        Employee {
            id: EmployeeId(id),
            name: format!("E{id}"),
            username: Some(format!("e{id}")),
            is_current: true,
            license: Some("L".into()),
            work_email: None,
            permissions: vec![Permission::ManageMailImport],
        }
    }

    fn event(kind: &str, employee_id: Option<i64>, payload: Value) -> LoggedEvent {
        LoggedEvent { id: 9, case_id: 5, at_ms: 1_000, kind: kind.into(), employee_id, detail: String::new(), payload }
    }

    /// (what, event, absent → Vertreter, expected (employee, kind, on behalf of)).
    type Case = (&'static str, LoggedEvent, Vec<(i64, Option<i64>)>, Vec<(i64, NotifyKind, Option<i64>)>);

    #[test]
    fn who_is_told_about_each_kind_of_event() {
        use NotifyKind::*;
        let cases: Vec<Case> = vec![
            ("assigned", event("assigned", Some(BERND), json!({})), vec![], vec![(BERND, NewCase, None)]),
            (
                "assigned to a Vertreter",
                event("assigned", Some(CLARA), json!({"on_behalf_of": BERND})),
                vec![(BERND, Some(CLARA))],
                vec![(CLARA, NewCase, Some(BERND))],
            ),
            ("created is not told", event("created", None, json!({"via": "import"})), vec![], vec![]),
            (
                "waiting: every candidate",
                event("waiting", None, json!({"candidates": [BERND, CLARA]})),
                vec![],
                vec![(BERND, Pool, None), (CLARA, Pool, None)],
            ),
            (
                "waiting: an absent candidate's Vertreter",
                event("waiting", None, json!({"candidates": [BERND, CLARA]})),
                vec![(BERND, Some(DORA))],
                vec![(CLARA, Pool, None), (DORA, Pool, Some(BERND))],
            ),
            (
                "waiting: a Vertreter who is a candidate too is told once, as themselves",
                event("waiting", None, json!({"candidates": [BERND, CLARA]})),
                vec![(BERND, Some(CLARA))],
                vec![(CLARA, Pool, None)],
            ),
            (
                "waiting: absent without a Vertreter, the Vorgang waits for them",
                event("waiting", None, json!({"candidates": [BERND]})),
                vec![(BERND, None)],
                vec![(BERND, Pool, None)],
            ),
            ("claimed: not the claimer", event("claimed", Some(CLARA), json!({})), vec![], vec![]),
            (
                "claimed by a Vertreter: nobody",
                event("claimed", Some(CLARA), json!({"on_behalf_of": BERND})),
                vec![(BERND, Some(CLARA))],
                vec![],
            ),
            (
                "handed over by its Bearbeiter",
                event("handed_over", Some(CLARA), json!({"by": BERND, "from": BERND, "to": CLARA, "note_id": null})),
                vec![],
                vec![(CLARA, HandedOver, None)],
            ),
            (
                "handed over by an admin: the receiver, not the admin",
                event("handed_over", Some(CLARA), json!({"by": ANNA, "from": BERND, "to": CLARA, "note_id": 3})),
                vec![],
                vec![(CLARA, HandedOver, None)],
            ),
            (
                "handed over to someone away: their Vertreter",
                event("handed_over", Some(CLARA), json!({"by": BERND, "from": BERND, "to": CLARA, "note_id": null})),
                vec![(CLARA, Some(DORA))],
                vec![(DORA, HandedOver, Some(CLARA))],
            ),
            (
                "handed over to someone whose Vertreter is the actor: nobody",
                event("handed_over", Some(CLARA), json!({"by": BERND, "from": ANNA, "to": CLARA, "note_id": null})),
                vec![(CLARA, Some(BERND))],
                vec![],
            ),
            (
                "given back: the other candidates, not the giver",
                event("given_back", Some(BERND), json!({"by": BERND, "from": BERND, "candidates": [CLARA, DORA]})),
                vec![],
                vec![(CLARA, Pool, None), (DORA, Pool, None)],
            ),
            (
                "given back by an admin: neither the admin nor the one it was taken from",
                event("given_back", Some(ANNA), json!({"by": ANNA, "from": BERND, "candidates": [ANNA, BERND, CLARA]})),
                vec![],
                vec![(CLARA, Pool, None)],
            ),
            (
                "Wiedervorlage fällig",
                event("follow_up_due", Some(BERND), json!({"assignee": BERND, "due_ms": 900, "reason": null})),
                vec![],
                vec![(BERND, FollowUpDue, None)],
            ),
            (
                "Wiedervorlage fällig while away: the Vertreter",
                event("follow_up_due", Some(BERND), json!({"assignee": BERND, "due_ms": 900, "reason": "Rückruf"})),
                vec![(BERND, Some(CLARA))],
                vec![(CLARA, FollowUpDue, Some(BERND))],
            ),
            (
                "Wiedervorlage set: nobody",
                event("follow_up_set", Some(BERND), json!({"by": BERND, "due_ms": 900, "assignee": BERND})),
                vec![],
                vec![],
            ),
            ("note: nobody", event("note_added", Some(CLARA), json!({"by": CLARA, "assignee": BERND})), vec![], vec![]),
            ("closed: nobody", event("closed", Some(BERND), json!({})), vec![], vec![]),
            ("reopened: nobody", event("reopened", Some(BERND), json!({})), vec![], vec![]),
            ("moved: nobody", event("moved", None, json!({"kept_id": 4})), vec![], vec![]),
            ("an old row without payload: nobody", event("waiting", None, json!({})), vec![], vec![]),
        ];
        let employees: Vec<Employee> = (1..=4).map(employee).collect();
        for (what, event, away, expected) in cases {
            let absences: Vec<Absence> = away
                .iter()
                .enumerate()
                .map(|(i, (e, v))| Absence {
                    id: i as i64 + 1,
                    employee: EmployeeId(*e),
                    from_ms: 0,
                    until_ms: None,
                    substitute: v.map(EmployeeId),
                })
                .collect();
            let got: Vec<_> = recipients(&event, &absences, &employees)
                .into_iter()
                .map(|r| (r.employee.0, r.kind, r.on_behalf_of.map(|e| e.0)))
                .collect();
            assert_eq!(got, expected, "{what}");
        }
    }
}
