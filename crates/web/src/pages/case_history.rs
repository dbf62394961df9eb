//! The Vorgang's „Verlauf“: every event and every note in one chronological list, in German with
//! names (who did what, to whom, „in Vertretung für …“ when an event says so in its payload as
//! `on_behalf_of`).

use postkorb_core::Employee;
use postkorb_store::{CaseEvent, CaseNote};
use serde_json::Value;

use super::name_of;
use crate::util::german_time;

/// One line of the Verlauf: when, what, and the note's text if the entry carries one (shown
/// apart, escaped by the template).
pub struct Entry {
    pub at: String,
    pub what: String,
    pub note: Option<String>,
}

fn id(payload: &Value, key: &str) -> Option<i64> {
    payload.get(key).and_then(Value::as_i64)
}

/// The Verlauf, oldest first. Notes are placed at their `note_added` (or `handed_over`) event;
/// a note without one (never written so, but a reader must not lose it) comes at its time.
pub fn entries(events: &[CaseEvent], notes: &[CaseNote], employees: &[Employee]) -> Vec<Entry> {
    let name = |id: Option<i64>| name_of(employees, id);
    let note_text = |id: Option<i64>| id.and_then(|id| notes.iter().find(|n| n.id == id)).map(|n| n.text.clone());
    let mut placed = Vec::new();
    let mut out: Vec<(i64, Entry)> = events
        .iter()
        .map(|e| {
            let p = &e.payload;
            let who = name(e.employee_id);
            let by = name(id(p, "by"));
            let mut note = None;
            let what = match e.kind.as_str() {
                "created" => "Vorgang aus E-Mail angelegt".to_string(),
                "assigned" => format!("zugeordnet an {who}"),
                "waiting" => format!(
                    "wartet auf den ersten von: {}",
                    e.detail
                        .split(',')
                        .filter_map(|i| i.parse().ok())
                        .map(|i| name(Some(i)))
                        .collect::<Vec<_>>()
                        .join(", ")
                ),
                "claimed" => format!("übernommen von {who} (Synchronisieren/Anmeldung)"),
                // Why the Vorgang waits for an absent recipient, or which Vertreter was skipped.
                "absence" => serde_json::from_value::<postkorb_core::CoverNote>(p.clone())
                    .map(|n| n.german())
                    .unwrap_or_else(|_| "Hinweis zur Abwesenheit des Empfängers".into()),
                "closed" => format!("erledigt von {who}"),
                "reopened" => format!("wieder geöffnet von {who}"),
                "unverified_routed" => format!("Absender nicht verifiziert — von Hand zugeordnet von {}", e.detail),
                "routed_by_hand" => {
                    let (who, why) = e.detail.rsplit_once(':').unwrap_or((e.detail.as_str(), ""));
                    let why =
                        postkorb_core::KeepReason::from_legacy(why, "").map(|(r, _)| r.label()).unwrap_or("unbekannt");
                    format!("von Hand zugewiesen von {who}, ohne Zuordnung (zurückgehalten wegen: {why})")
                }
                "moved" => "zu „Nicht zugeordnete E-Mails“ verschoben: kein Empfänger mehr berechtigt".to_string(),
                "handed_over" => {
                    placed.extend(id(p, "note_id"));
                    note = note_text(id(p, "note_id"));
                    let from = name(id(p, "from"));
                    let to = name(id(p, "to"));
                    if id(p, "by") == id(p, "from") {
                        format!("{by} hat den Vorgang an {to} weitergegeben")
                    } else {
                        format!("{by} hat den Vorgang von {from} an {to} weitergegeben")
                    }
                }
                "given_back" => {
                    let waits: Vec<String> = p
                        .get("candidates")
                        .and_then(Value::as_array)
                        .map(|c| c.iter().map(|i| name(i.as_i64())).collect())
                        .unwrap_or_default();
                    let from = if id(p, "by") == id(p, "from") {
                        String::new()
                    } else {
                        format!(" (von {})", name(id(p, "from")))
                    };
                    format!("{by} hat den Vorgang zurückgegeben{from}; er wartet jetzt auf: {}", waits.join(", "))
                }
                "note_added" => {
                    placed.extend(id(p, "note_id"));
                    note = note_text(id(p, "note_id"));
                    format!("Notiz von {by}")
                }
                "follow_up_set" => {
                    let due = id(p, "due_ms").map(german_time).unwrap_or_default();
                    let reason =
                        p.get("reason").and_then(Value::as_str).map(|r| format!(" – Grund: {r}")).unwrap_or_default();
                    match id(p, "previous_ms") {
                        Some(prev) => format!(
                            "{by} hat die Wiedervorlage vom {} auf den {due} geändert{reason}",
                            german_time(prev)
                        ),
                        None => format!("{by} hat eine Wiedervorlage zum {due} gesetzt{reason}"),
                    }
                }
                "follow_up_cleared" => match id(p, "previous_ms") {
                    Some(prev) => format!("{by} hat die Wiedervorlage zum {} entfernt", german_time(prev)),
                    None => format!("{by} hat die Wiedervorlage entfernt"),
                },
                "follow_up_due" => {
                    let due = id(p, "due_ms").map(german_time).unwrap_or_default();
                    let reason =
                        p.get("reason").and_then(Value::as_str).map(|r| format!(" – Grund: {r}")).unwrap_or_default();
                    format!("Wiedervorlage fällig (zum {due}) für {}{reason}", name(id(p, "assignee")))
                }
                _ => "Änderung am Vorgang".to_string(),
            };
            let what = match id(p, "on_behalf_of") {
                Some(absent) => format!("{what} (in Vertretung für {})", name(Some(absent))),
                None => what,
            };
            (e.at_ms, Entry { at: german_time(e.at_ms), what, note })
        })
        .collect();
    for n in notes.iter().filter(|n| !placed.contains(&n.id)) {
        let entry = Entry {
            at: german_time(n.at_ms),
            what: format!("Notiz von {}", name(Some(n.author))),
            note: Some(n.text.clone()),
        };
        let at = out.partition_point(|(t, _)| *t <= n.at_ms);
        out.insert(at, (n.at_ms, entry));
    }
    out.into_iter().map(|(_, e)| e).collect()
}

#[cfg(test)]
mod tests {
    use super::*;
    use postkorb_core::EmployeeId;
    use serde_json::json;

    fn person(id: i64, name: &str) -> Employee {
        Employee {
            id: EmployeeId(id),
            name: name.into(),
            username: None,
            is_current: true,
            license: Some("L".into()),
            work_email: None,
            permissions: vec![],
        }
    }

    fn ev(at_ms: i64, kind: &str, employee_id: Option<i64>, payload: Value) -> CaseEvent {
        CaseEvent { at_ms, kind: kind.into(), employee_id, detail: String::new(), payload }
    }

    #[test]
    fn the_verlauf_says_who_did_what_to_whom_with_notes_in_place() {
        let people =
            [person(2, "Bernd Büro"), person(3, "Clara Czerny"), person(4, "Dora Dienst"), person(9, "Anna Admin")];
        let notes = [CaseNote { id: 5, at_ms: 2_000, author: 2, text: "Bitte <b>heute</b> anrufen".into() }];
        let events = [
            ev(1_000, "claimed", Some(2), json!({})),
            ev(2_000, "handed_over", Some(3), json!({"by": 2, "from": 2, "to": 3, "note_id": 5})),
            ev(3_000, "handed_over", Some(4), json!({"by": 9, "from": 3, "to": 4, "note_id": null, "on_behalf_of": 3})),
            ev(4_000, "given_back", Some(4), json!({"by": 4, "from": 4, "candidates": [2, 3]})),
            ev(
                5_000,
                "follow_up_set",
                Some(3),
                json!({"by": 3, "due_ms": 1_790_000_000_000_i64, "previous_ms": null, "reason": "Antwort"}),
            ),
            ev(6_000, "follow_up_cleared", Some(3), json!({"by": 3, "previous_ms": 1_790_000_000_000_i64})),
            ev(
                7_000,
                "follow_up_due",
                Some(3),
                json!({"assignee": 3, "due_ms": 1_790_000_000_000_i64, "reason": null}),
            ),
        ];
        let lines: Vec<(String, Option<String>)> =
            entries(&events, &notes, &people).into_iter().map(|e| (e.what, e.note)).collect();
        let expected: Vec<(&str, Option<&str>)> = vec![
            ("übernommen von Bernd Büro (Synchronisieren/Anmeldung)", None),
            ("Bernd Büro hat den Vorgang an Clara Czerny weitergegeben", Some("Bitte <b>heute</b> anrufen")),
            (
                "Anna Admin hat den Vorgang von Clara Czerny an Dora Dienst weitergegeben (in Vertretung für Clara Czerny)",
                None,
            ),
            ("Dora Dienst hat den Vorgang zurückgegeben; er wartet jetzt auf: Bernd Büro, Clara Czerny", None),
            ("Clara Czerny hat eine Wiedervorlage zum 21.09.2026 16:13 gesetzt – Grund: Antwort", None),
            ("Clara Czerny hat die Wiedervorlage zum 21.09.2026 16:13 entfernt", None),
            ("Wiedervorlage fällig (zum 21.09.2026 16:13) für Clara Czerny", None),
        ];
        let expected: Vec<(String, Option<String>)> =
            expected.into_iter().map(|(w, n)| (w.to_string(), n.map(str::to_string))).collect();
        assert_eq!(lines, expected);
    }

    #[test]
    fn a_note_without_its_event_is_not_lost() {
        let notes = [CaseNote { id: 1, at_ms: 1_500, author: 2, text: "alt".into() }];
        let events = [ev(1_000, "created", None, json!({})), ev(2_000, "closed", Some(2), json!({}))];
        let lines: Vec<String> =
            entries(&events, &notes, &[person(2, "Bernd Büro")]).into_iter().map(|e| e.what).collect();
        assert_eq!(lines, ["Vorgang aus E-Mail angelegt", "Notiz von Bernd Büro", "erledigt von Bernd Büro"]);
    }
}
