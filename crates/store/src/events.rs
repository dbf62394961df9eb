//! The Vorgang event log: one row per change of a Vorgang, in `case_events`, in the order the
//! changes committed. Written only by [`crate::case_write::apply`], in the transaction of the
//! change; read by the Verlauf ([`Store::case`]) and, through [`Store::case_events_after`], by
//! whatever must react to a change (notifications, webhooks, the live Startmaske).
//!
//! **Invariant:** event ids grow in commit order on both backends, so a reader that remembers the
//! last id it handled and asks for the ones after it misses nothing (see `case_write::lock_log`).

use postkorb_core::ack::AckFacts;
use postkorb_core::{CoverNote, Decision, EmployeeId, Receiver};
use serde::Serialize;
use serde_json::json;
use sqlx::Row;

use crate::{Result, Store, StoreError};

/// How a Vorgang came to be.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(crate) enum Via<'a> {
    /// Made by the importer's batch commit, with what the Eingangsbestätigung decision needs
    /// (`"ack"` in the `created` payload, read back by `LoggedEvent::ack_facts`).
    Import(Option<&'a AckFacts>),
    /// Made from the kept mail `kept_id`, routed by hand by `actor`; `unverified`: its sender
    /// was never verified („Absender nicht verifiziert“), so the Vorgang names who decided.
    Kept { kept_id: i64, actor: &'a str, unverified: bool, by_hand: Option<ByHand<'a>> },
}

/// „Nur diese E-Mail zuweisen an …“: a kept mail given to one person without a row.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(crate) struct ByHand<'a> {
    /// Why it was kept (`KeepReason::code`), so the Verlauf can say why it was routed by hand.
    pub reason: &'a str,
    /// The employee with the sender's work address, if there is one (none for a stranger).
    pub sender: Option<EmployeeId>,
    /// When the mail arrived (the kept mail's), which the Vorgang keeps.
    pub received_ms: i64,
}

/// One change of a Vorgang as it is logged.
#[derive(Clone, Debug, PartialEq, Eq)]
pub(crate) enum Event<'a> {
    /// `on_behalf_of`: given to a Vertreter for this absent person.
    Created {
        via: Via<'a>,
        on_behalf_of: Option<EmployeeId>,
    },
    /// Given to one employee when it was made (a Vertreter: `on_behalf_of` the absent one).
    Assigned {
        to: EmployeeId,
        on_behalf_of: Option<EmployeeId>,
    },
    /// Waiting for the first of these candidates to synchronise.
    Waiting {
        candidates: &'a [EmployeeId],
    },
    /// Made by hand from a kept mail whose sender was not verified.
    UnverifiedRouted {
        actor: &'a str,
    },
    /// Given by hand to one person („Nur diese E-Mail zuweisen an …“), without a row; `reason`: why
    /// the mail had been kept.
    RoutedByHand {
        actor: &'a str,
        kept_id: i64,
        reason: &'a str,
    },
    /// `on_behalf_of`: claimed by a Vertreter for this absent candidate.
    Claimed {
        by: EmployeeId,
        on_behalf_of: Option<EmployeeId>,
    },
    /// Abwesenheit: a Vertreter skipped, a loop, or the Vorgang waits for its absent recipient.
    Absence {
        note: CoverNote,
    },
    Closed {
        by: EmployeeId,
    },
    Reopened {
        by: EmployeeId,
    },
    /// No candidate was eligible any more: now the kept mail `kept_id`.
    Moved {
        kept_id: i64,
    },
    /// „Weitergeben“: `by` handed it from `from` to `to` (who gets it as new), perhaps with the
    /// note `note_id`.
    HandedOver {
        by: EmployeeId,
        from: EmployeeId,
        to: EmployeeId,
        note_id: Option<i64>,
    },
    /// „Zurückgeben“: `by` gave it from `from` back to its pool; it waits for `candidates`.
    GivenBack {
        by: EmployeeId,
        from: EmployeeId,
        candidates: Vec<EmployeeId>,
    },
    /// „Notiz“ `note_id` by `by`; `assignee`: whose Vorgang it is (none while it waits).
    NoteAdded {
        by: EmployeeId,
        note_id: i64,
        assignee: Option<EmployeeId>,
    },
    /// „Wiedervorlage“ set (or changed from `previous_ms`) to `due_ms` by `by`.
    FollowUpSet {
        by: EmployeeId,
        due_ms: i64,
        reason: Option<&'a str>,
        previous_ms: Option<i64>,
        assignee: Option<EmployeeId>,
    },
    /// „Wiedervorlage“ `previous_ms` removed by `by`.
    FollowUpCleared {
        by: EmployeeId,
        previous_ms: Option<i64>,
        assignee: Option<EmployeeId>,
    },
    /// „Wiedervorlage fällig“ (issue 17): the date `due_ms` of `assignee`'s Vorgang came; written
    /// once per date by `Store::announce_due_follow_ups`.
    FollowUpDue {
        assignee: EmployeeId,
        due_ms: i64,
        reason: Option<String>,
    },
}

/// The events of a new Vorgang, in order: created, then assigned or waiting, then — made by hand
/// from an unverified mail — who decided, then the notes of the absence rule (`receiver`: whom an
/// assigned one went to, core's `absence::receiver`; `None`: the decision's own `to`).
pub(crate) fn created<'a>(decision: &'a Decision, via: Via<'a>, receiver: Option<Receiver>) -> Result<Vec<Event<'a>>> {
    let on_behalf_of = receiver.as_ref().and_then(Receiver::on_behalf_of);
    let mut events = vec![Event::Created { via, on_behalf_of }];
    events.push(match decision {
        Decision::Assign { to, .. } => {
            Event::Assigned { to: receiver.as_ref().map_or(*to, Receiver::to), on_behalf_of }
        }
        Decision::Pool { candidates, .. } => Event::Waiting { candidates },
        Decision::Keep(_) => return Err(StoreError::Invalid("a kept mail is not a Vorgang".into())),
    });
    if let Via::Kept { actor, kept_id, by_hand: Some(h), .. } = via {
        events.insert(1, Event::RoutedByHand { actor, kept_id, reason: h.reason });
    }
    if let Via::Kept { actor, unverified: true, .. } = via {
        events.push(Event::UnverifiedRouted { actor });
    }
    let notes = receiver.map(|r| r.notes().to_vec()).unwrap_or_default();
    events.extend(notes.into_iter().map(|note| Event::Absence { note }));
    Ok(events)
}

impl Event<'_> {
    pub(crate) fn kind(&self) -> &'static str {
        match self {
            Event::Created { .. } => "created",
            Event::Assigned { .. } => "assigned",
            Event::Waiting { .. } => "waiting",
            Event::UnverifiedRouted { .. } => "unverified_routed",
            Event::RoutedByHand { .. } => "routed_by_hand",
            Event::Claimed { .. } => "claimed",
            Event::Closed { .. } => "closed",
            Event::Reopened { .. } => "reopened",
            Event::Moved { .. } => "moved",
            Event::HandedOver { .. } => "handed_over",
            Event::GivenBack { .. } => "given_back",
            Event::NoteAdded { .. } => "note_added",
            Event::FollowUpSet { .. } => "follow_up_set",
            Event::FollowUpCleared { .. } => "follow_up_cleared",
            Event::FollowUpDue { .. } => "follow_up_due",
            Event::Absence { .. } => "absence",
        }
    }

    /// The employee the event is about: who got, claimed, closed or reopened the Vorgang, who
    /// received it when handed over; who gave it back, wrote the note, set the Wiedervorlage.
    pub(crate) fn employee(&self) -> Option<EmployeeId> {
        match self {
            Event::Assigned { to: e, .. }
            | Event::Claimed { by: e, .. }
            | Event::Closed { by: e }
            | Event::Reopened { by: e }
            | Event::HandedOver { to: e, .. }
            | Event::GivenBack { by: e, .. }
            | Event::NoteAdded { by: e, .. }
            | Event::FollowUpSet { by: e, .. }
            | Event::FollowUpCleared { by: e, .. }
            | Event::FollowUpDue { assignee: e, .. } => Some(*e),
            _ => None,
        }
    }

    /// The short text the Verlauf reads (as rows of older versions hold it).
    pub(crate) fn detail(&self) -> String {
        match self {
            Event::Waiting { candidates } => candidates.iter().map(|c| c.0.to_string()).collect::<Vec<_>>().join(","),
            Event::UnverifiedRouted { actor } => (*actor).to_string(),
            // Who, and why the mail had been kept (a `KeepReason` code, which has no colon).
            Event::RoutedByHand { actor, reason, .. } => format!("{actor}:{reason}"),
            Event::Moved { kept_id } => format!("kept {kept_id}"),
            // For whom, after a colon: the Verlauf says „in Vertretung für“.
            Event::Assigned { to, on_behalf_of: Some(of) } => format!("{}:{}", to.0, of.0),
            Event::Assigned { to, on_behalf_of: None } => to.0.to_string(),
            Event::Claimed { on_behalf_of: Some(of), .. } => of.0.to_string(),
            // The note as JSON: the Verlauf says it in German (`CoverNote::german`).
            Event::Absence { note } => serde_json::to_value(note).map(|v| v.to_string()).unwrap_or_default(),
            // Issue 16's workflow events: the Verlauf reads their payload.
            Event::Created { .. }
            | Event::Claimed { .. }
            | Event::Closed { .. }
            | Event::Reopened { .. }
            | Event::HandedOver { .. }
            | Event::GivenBack { .. }
            | Event::NoteAdded { .. }
            | Event::FollowUpSet { .. }
            | Event::FollowUpCleared { .. }
            | Event::FollowUpDue { .. } => String::new(),
        }
    }

    /// What a reader of the log needs beyond kind, Vorgang, employee and time, as JSON (keys in
    /// alphabetical order, whether or not serde_json preserves insertion order).
    pub(crate) fn payload(&self) -> String {
        let value = match self {
            Event::Created { via: Via::Import(ack), on_behalf_of } => {
                let mut value = json!({ "via": "import" });
                if let Some(ack) = ack {
                    value["ack"] = serde_json::to_value(ack).unwrap_or_default();
                }
                with_behalf(value, on_behalf_of)
            }
            Event::Created { via: Via::Kept { kept_id, actor, unverified, .. }, on_behalf_of } => with_behalf(
                json!({ "actor": actor, "kept_id": kept_id, "unverified": unverified, "via": "kept" }),
                on_behalf_of,
            ),
            Event::Assigned { on_behalf_of, .. } | Event::Claimed { on_behalf_of, .. } => {
                with_behalf(json!({}), on_behalf_of)
            }
            Event::Absence { note } => serde_json::to_value(note).unwrap_or_default(),
            Event::Waiting { candidates } => {
                json!({ "candidates": candidates.iter().map(|c| c.0).collect::<Vec<_>>() })
            }
            Event::UnverifiedRouted { actor } => json!({ "actor": actor }),
            Event::RoutedByHand { actor, kept_id, reason } => {
                json!({ "actor": actor, "kept_id": kept_id, "reason": reason })
            }
            Event::Moved { kept_id } => json!({ "kept_id": kept_id, "reason": "no_candidate_left" }),
            Event::Closed { .. } | Event::Reopened { .. } => json!({}),
            // Who acted, and for whom: what a notification needs.
            Event::HandedOver { by, from, to, note_id } => {
                json!({ "by": by.0, "from": from.0, "note_id": note_id, "to": to.0 })
            }
            Event::GivenBack { by, from, candidates } => {
                json!({ "by": by.0, "candidates": candidates.iter().map(|c| c.0).collect::<Vec<_>>(), "from": from.0 })
            }
            Event::NoteAdded { by, note_id, assignee } => {
                json!({ "assignee": assignee.map(|a| a.0), "by": by.0, "note_id": note_id })
            }
            Event::FollowUpSet { by, due_ms, reason, previous_ms, assignee } => json!({
                "assignee": assignee.map(|a| a.0), "by": by.0, "due_ms": due_ms,
                "previous_ms": previous_ms, "reason": reason
            }),
            Event::FollowUpCleared { by, previous_ms, assignee } => {
                json!({ "assignee": assignee.map(|a| a.0), "by": by.0, "previous_ms": previous_ms })
            }
            Event::FollowUpDue { assignee, due_ms, reason } => {
                json!({ "assignee": assignee.0, "due_ms": due_ms, "reason": reason })
            }
        };
        value.to_string()
    }

    /// The employee who now has one more Vorgang (`case_counts`, the Startmaske's pager).
    pub(crate) fn gives(&self) -> Option<EmployeeId> {
        match self {
            Event::Assigned { to: e, .. } | Event::Claimed { by: e, .. } | Event::HandedOver { to: e, .. } => Some(*e),
            _ => None,
        }
    }

    /// The employee who now has one Vorgang less (handed over, given back).
    pub(crate) fn takes(&self) -> Option<EmployeeId> {
        match self {
            Event::HandedOver { from: e, .. } | Event::GivenBack { from: e, .. } => Some(*e),
            _ => None,
        }
    }
}

/// Adds `"on_behalf_of"` (the absent person a Vertreter got it for) to a payload, when there is one.
fn with_behalf(mut value: serde_json::Value, on_behalf_of: &Option<EmployeeId>) -> serde_json::Value {
    if let (Some(of), Some(map)) = (on_behalf_of, value.as_object_mut()) {
        map.insert("on_behalf_of".into(), json!(of.0));
    }
    value
}

/// One row of the event log, as a reader of the log sees it.
#[derive(Clone, Debug, PartialEq, Serialize)]
pub struct LoggedEvent {
    /// Grows in commit order: the reader's position, and the key to drop an event seen twice.
    pub id: i64,
    pub case_id: i64,
    pub at_ms: i64,
    pub kind: String,
    pub employee_id: Option<i64>,
    pub detail: String,
    /// `{}` on rows written before migration 0016.
    pub payload: serde_json::Value,
}

impl LoggedEvent {
    /// What the import recorded for the Eingangsbestätigung: `"ack"` in the payload of a
    /// `created` event made by the importer (none on other events, or on older rows).
    pub fn ack_facts(&self) -> Option<AckFacts> {
        serde_json::from_value(self.payload.get("ack")?.clone()).ok()
    }
}

impl Store {
    /// The id of the newest event (0 for an empty log): where a reader that wants only what comes
    /// from now on starts (the live Startmaske without `Last-Event-ID`).
    pub async fn case_events_end(&self) -> Result<i64> {
        let end: Option<i64> = sqlx::query_scalar("SELECT MAX(id) FROM case_events").fetch_one(&self.pool).await?;
        Ok(end.unwrap_or(0))
    }

    /// The events after `after_id` (0: from the start), oldest first, at most `limit`.
    ///
    /// A reader keeps the id of the last event it handled and passes it here: no event can
    /// commit later with a smaller id (`case_write::lock_log`), so nothing is missed; an event
    /// handled but not yet remembered comes again, which its id makes easy to drop.
    pub async fn case_events_after(&self, after_id: i64, limit: i64) -> Result<Vec<LoggedEvent>> {
        let rows = sqlx::query(
            "SELECT id, case_id, at_ms, kind, employee_id, detail, payload FROM case_events
             WHERE id > $1 ORDER BY id LIMIT $2",
        )
        .bind(after_id)
        .bind(limit)
        .fetch_all(&self.pool)
        .await?;
        rows.iter()
            .map(|r| {
                let id: i64 = r.try_get(0)?;
                let payload: String = r.try_get(6)?;
                Ok(LoggedEvent {
                    id,
                    case_id: r.try_get(1)?,
                    at_ms: r.try_get(2)?,
                    kind: r.try_get(3)?,
                    employee_id: r.try_get(4)?,
                    detail: r.try_get(5)?,
                    payload: serde_json::from_str(&payload)
                        .map_err(|e| StoreError::Invalid(format!("event {id} has a payload that is not JSON: {e}")))?,
                })
            })
            .collect()
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use postkorb_core::KeepReason;

    const ANNA: EmployeeId = EmployeeId(1);
    const BERND: EmployeeId = EmployeeId(2);
    const CLARA: EmployeeId = EmployeeId(3);

    /// (kind, employee, detail, payload, gives) of each event.
    type Row = (&'static str, Option<i64>, &'static str, &'static str, Option<i64>);

    fn check(events: &[Event<'_>], expected: &[Row]) {
        assert_eq!(events.len(), expected.len(), "{events:?}");
        for (e, (kind, employee, detail, payload, gives)) in events.iter().zip(expected) {
            assert_eq!(
                (e.kind(), e.employee().map(|e| e.0), e.detail(), e.payload(), e.gives().map(|e| e.0)),
                (*kind, *employee, detail.to_string(), payload.to_string(), *gives),
                "{e:?}"
            );
        }
    }

    #[test]
    fn a_new_vorgang_logs_its_creation_then_who_has_or_awaits_it() {
        let assign = Decision::Assign { sender: ANNA, to: BERND };
        let pool = Decision::Pool { sender: ANNA, candidates: vec![BERND, CLARA] };
        let by_hand = Via::Kept { kept_id: 7, actor: "admin", unverified: false, by_hand: None };
        let unverified = Via::Kept { kept_id: 8, actor: "admin", unverified: true, by_hand: None };
        check(
            &created(&assign, Via::Import(None), None).unwrap(),
            &[("created", None, "", r#"{"via":"import"}"#, None), ("assigned", Some(2), "2", "{}", Some(2))],
        );
        check(
            &created(&pool, Via::Import(None), None).unwrap(),
            &[
                ("created", None, "", r#"{"via":"import"}"#, None),
                ("waiting", None, "2,3", r#"{"candidates":[2,3]}"#, None),
            ],
        );
        check(
            &created(&assign, by_hand, None).unwrap(),
            &[
                ("created", None, "", r#"{"actor":"admin","kept_id":7,"unverified":false,"via":"kept"}"#, None),
                ("assigned", Some(2), "2", "{}", Some(2)),
            ],
        );
        check(
            &created(&pool, unverified, None).unwrap(),
            &[
                ("created", None, "", r#"{"actor":"admin","kept_id":8,"unverified":true,"via":"kept"}"#, None),
                ("waiting", None, "2,3", r#"{"candidates":[2,3]}"#, None),
                ("unverified_routed", None, "admin", r#"{"actor":"admin"}"#, None),
            ],
        );
        assert!(
            created(&Decision::Keep(KeepReason::NoRoute), Via::Import(None), None).is_err(),
            "a kept mail is not a Vorgang"
        );
    }

    #[test]
    fn a_vorgang_for_an_absent_person_names_for_whom_and_why_it_waits() {
        use postkorb_core::Person;
        let assign = Decision::Assign { sender: ANNA, to: BERND };
        let covered = Receiver::Vertreter { to: CLARA, absent: BERND, notes: vec![] };
        check(
            &created(&assign, Via::Import(None), Some(covered)).unwrap(),
            &[
                ("created", None, "", r#"{"on_behalf_of":2,"via":"import"}"#, None),
                ("assigned", Some(3), "3:2", r#"{"on_behalf_of":2}"#, Some(3)),
            ],
        );
        let bernd = Person { id: 2, name: "Bernd Büro".into() };
        let waits = Receiver::Waits { absent: BERND, notes: vec![CoverNote::Waits { absent: bernd }] };
        let note = r#"{"absent":{"id":2,"name":"Bernd Büro"},"note":"waits"}"#;
        check(
            &created(&assign, Via::Import(None), Some(waits)).unwrap(),
            &[
                ("created", None, "", r#"{"via":"import"}"#, None),
                ("assigned", Some(2), "2", "{}", Some(2)),
                ("absence", None, note, note, None),
            ],
        );
    }

    #[test]
    fn later_changes_name_their_employee_and_only_a_claim_gives_a_vorgang() {
        check(
            &[
                Event::Claimed { by: CLARA, on_behalf_of: None },
                Event::Claimed { by: CLARA, on_behalf_of: Some(BERND) },
                Event::Closed { by: BERND },
                Event::Reopened { by: BERND },
                Event::Moved { kept_id: 5 },
            ],
            &[
                ("claimed", Some(3), "", "{}", Some(3)),
                ("claimed", Some(3), "2", r#"{"on_behalf_of":2}"#, Some(3)),
                ("closed", Some(2), "", "{}", None),
                ("reopened", Some(2), "", "{}", None),
                ("moved", None, "kept 5", r#"{"kept_id":5,"reason":"no_candidate_left"}"#, None),
            ],
        );
    }

    #[test]
    fn working_a_vorgang_names_who_acted_and_for_whom() {
        let handed = Event::HandedOver { by: ANNA, from: BERND, to: CLARA, note_id: Some(4) };
        assert_eq!((handed.gives(), handed.takes()), (Some(CLARA), Some(BERND)));
        let back = Event::GivenBack { by: BERND, from: BERND, candidates: vec![CLARA] };
        assert_eq!((back.gives(), back.takes()), (None, Some(BERND)));
        check(
            &[
                handed,
                back,
                Event::NoteAdded { by: CLARA, note_id: 9, assignee: Some(BERND) },
                Event::FollowUpSet {
                    by: BERND,
                    due_ms: 50,
                    reason: Some("Antwort"),
                    previous_ms: None,
                    assignee: Some(BERND),
                },
                Event::FollowUpCleared { by: BERND, previous_ms: Some(50), assignee: Some(BERND) },
                Event::FollowUpDue { assignee: BERND, due_ms: 50, reason: Some("Antwort".into()) },
            ],
            &[
                ("handed_over", Some(3), "", r#"{"by":1,"from":2,"note_id":4,"to":3}"#, Some(3)),
                ("given_back", Some(2), "", r#"{"by":2,"candidates":[3],"from":2}"#, None),
                ("note_added", Some(3), "", r#"{"assignee":2,"by":3,"note_id":9}"#, None),
                (
                    "follow_up_set",
                    Some(2),
                    "",
                    r#"{"assignee":2,"by":2,"due_ms":50,"previous_ms":null,"reason":"Antwort"}"#,
                    None,
                ),
                ("follow_up_cleared", Some(2), "", r#"{"assignee":2,"by":2,"previous_ms":50}"#, None),
                ("follow_up_due", Some(2), "", r#"{"assignee":2,"due_ms":50,"reason":"Antwort"}"#, None),
            ],
        );
    }
}
