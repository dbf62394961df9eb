//! Which event of the Vorgang log reaches whom on the live Startmaske: a pure rule over the
//! logged event, the Vorgang as it is now, the reader and the absent people they stand in for.
//!
//! An event reaches `me` when it concerns them or someone they cover (`covering`, see
//! `auth::may_open`): given to them (assigned, claimed, handed to them), waiting in a pool they are a
//! candidate of (waiting, given back), taken from them (handed on, given back, claimed by another
//! candidate, moved to the kept mails), or a change of their own Vorgang that changes the counts
//! (closed, reopened, Wiedervorlage). What shows the Vorgang (new, waiting, changed) is sent only
//! while `auth::may_open` lets them open it; what is gone carries no Betreff at all.

use postkorb_core::{Employee, EmployeeId};
use postkorb_store::{CaseDetail, LoggedEvent};

/// How an event concerns its reader.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Relation {
    /// Now theirs (or of someone they cover): a row at the top of the list.
    New,
    /// Waits in a pool they may claim.
    Waiting,
    /// No longer theirs or no longer waiting for them: the row goes, without Betreff.
    Gone,
    /// Still theirs, changed (status, Wiedervorlage): the counts change.
    Changed,
}

impl Relation {
    /// The word the page's script reads (`kind`).
    pub fn code(self) -> &'static str {
        match self {
            Relation::New => "new",
            Relation::Waiting => "waiting",
            Relation::Gone => "gone",
            Relation::Changed => "changed",
        }
    }
}

/// The kinds of event that can concern someone on the Startmaske; for the others the reader does not
/// read the Vorgang.
pub const KINDS: [&str; 11] = [
    "assigned",
    "claimed",
    "waiting",
    "handed_over",
    "given_back",
    "moved",
    "closed",
    "reopened",
    "follow_up_set",
    "follow_up_cleared",
    "follow_up_due",
];

/// How `event` (of Vorgang `case`, read after it) concerns `me`, who stands in for `covering`;
/// `None`: not at all, or they may not open it any more.
pub fn relation(event: &LoggedEvent, case: &CaseDetail, me: &Employee, covering: &[EmployeeId]) -> Option<Relation> {
    let mine = |id: Option<i64>| id.is_some_and(|id| id == me.id.0 || covering.contains(&EmployeeId(id)));
    let any_mine = |ids: &[i64]| ids.iter().any(|id| mine(Some(*id)));
    let field = |key: &str| event.payload.get(key).and_then(serde_json::Value::as_i64);
    let listed: Vec<i64> = event
        .payload
        .get("candidates")
        .and_then(serde_json::Value::as_array)
        .map(|a| a.iter().filter_map(serde_json::Value::as_i64).collect())
        .unwrap_or_default();
    let relation = match event.kind.as_str() {
        "assigned" if mine(event.employee_id) => Relation::New,
        "claimed" if mine(event.employee_id) => Relation::New,
        "claimed" if any_mine(&case.candidates) => Relation::Gone,
        "waiting" if any_mine(&listed) => Relation::Waiting,
        "handed_over" if mine(field("to")) => Relation::New,
        "handed_over" if mine(field("from")) => Relation::Gone,
        "given_back" if mine(field("from")) => Relation::Gone,
        "given_back" if any_mine(&listed) => Relation::Waiting,
        "moved" if any_mine(&case.candidates) || mine(case.summary.assignee) => Relation::Gone,
        "closed" | "reopened" | "follow_up_set" | "follow_up_cleared" | "follow_up_due"
            if mine(case.summary.assignee) =>
        {
            Relation::Changed
        }
        _ => return None,
    };
    match relation {
        Relation::Gone => Some(Relation::Gone),
        shown => crate::auth::may_open(case, me, covering).then_some(shown),
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use postkorb_core::Permission;
    use postkorb_store::CaseSummary;
    use serde_json::json;

    const BERND: i64 = 2;
    const CLARA: i64 = 3;
    const DORA: i64 = 4;
    const ADMIN: i64 = 9;

    fn person(id: i64, licensed: bool, admin: bool) -> Employee {
        Employee {
            id: EmployeeId(id),
            name: format!("P{id}"),
            username: Some(format!("p{id}")),
            is_current: true,
            license: licensed.then(|| format!("L{id}")),
            work_email: None,
            permissions: if admin { vec![Permission::ManageMailImport] } else { vec![] },
        }
    }

    fn case(status: &str, assignee: Option<i64>, candidates: &[i64]) -> CaseDetail {
        CaseDetail {
            summary: CaseSummary {
                id: 7,
                subject: "Schaden".into(),
                from_addr: "kunde@example.org".into(),
                from_name: None,
                sender_employee: None,
                status: status.into(),
                assignee,
                assignee_name: None,
                received_ms: 0,
                attachment_count: 0,
                claimed_ms: None,
                follow_up_ms: None,
                follow_up_reason: None,
                last_note: None,
                on_behalf_of: None,
                on_behalf_of_name: None,
                restricted: false,
            },
            sent_ms: None,
            text: String::new(),
            html: None,
            forwarded: None,
            warnings: vec![],
            candidates: candidates.to_vec(),
            attachments: vec![],
            events: vec![],
            notes: vec![],
            raw_id: 1,
            body_in_raw: true,
            unverified_routed_by: None,
        }
    }

    fn event(kind: &str, employee: Option<i64>, payload: serde_json::Value) -> LoggedEvent {
        LoggedEvent {
            id: 1,
            case_id: 7,
            at_ms: 0,
            kind: kind.into(),
            employee_id: employee,
            detail: String::new(),
            payload,
        }
    }

    /// (what, event, the Vorgang now, reader, covering, expected)
    type Row<'a> = (&'static str, LoggedEvent, &'a CaseDetail, i64, Vec<i64>, Option<Relation>);

    #[test]
    fn each_event_reaches_whom_it_concerns_and_nobody_else() {
        use Relation::*;
        let open_bernd = case("open", Some(BERND), &[]);
        let open_clara = case("open", Some(CLARA), &[]);
        let pool = case("waiting", None, &[BERND, CLARA]);
        let pool_claimed_by_clara = case("open", Some(CLARA), &[BERND, CLARA]);
        let moved = case("moved", None, &[BERND, CLARA]);
        let back_to_clara = case("waiting", None, &[CLARA]);
        let done_bernd = case("done", Some(BERND), &[]);
        // „Einschränkung der Verarbeitung“ (issue 18): not even its Bearbeiter is told.
        let mut restricted = case("open", Some(BERND), &[]);
        restricted.summary.restricted = true;
        let handed = json!({ "by": BERND, "from": BERND, "to": CLARA, "note_id": null });
        let given_back = json!({ "by": BERND, "from": BERND, "candidates": [CLARA] });
        let rows: Vec<Row<'_>> = vec![
            ("assigned to me", event("assigned", Some(BERND), json!({})), &open_bernd, BERND, vec![], Some(New)),
            (
                "restricted, to its Bearbeiter",
                event("closed", Some(BERND), json!({})),
                &restricted,
                BERND,
                vec![],
                None,
            ),
            ("assigned to another", event("assigned", Some(BERND), json!({})), &open_bernd, CLARA, vec![], None),
            (
                "an admin is not told of another's",
                event("assigned", Some(BERND), json!({})),
                &open_bernd,
                ADMIN,
                vec![],
                None,
            ),
            (
                "assigned to me, handed on before it was read",
                event("assigned", Some(BERND), json!({})),
                &open_clara,
                BERND,
                vec![],
                None,
            ),
            (
                "assigned to the Vertreterin for Bernd",
                event("assigned", Some(CLARA), json!({ "on_behalf_of": BERND })),
                &open_clara,
                CLARA,
                vec![],
                Some(New),
            ),
            (
                "the absent Bernd is not told",
                event("assigned", Some(CLARA), json!({ "on_behalf_of": BERND })),
                &open_clara,
                BERND,
                vec![],
                None,
            ),
            (
                "assigned to someone I stand in for",
                event("assigned", Some(BERND), json!({})),
                &open_bernd,
                CLARA,
                vec![BERND],
                Some(New),
            ),
            (
                "waiting for me",
                event("waiting", None, json!({ "candidates": [BERND, CLARA] })),
                &pool,
                BERND,
                vec![],
                Some(Waiting),
            ),
            (
                "waiting for others",
                event("waiting", None, json!({ "candidates": [BERND, CLARA] })),
                &pool,
                DORA,
                vec![],
                None,
            ),
            (
                "waiting for someone I stand in for",
                event("waiting", None, json!({ "candidates": [BERND, CLARA] })),
                &pool,
                DORA,
                vec![BERND],
                Some(Waiting),
            ),
            (
                "claimed by me",
                event("claimed", Some(CLARA), json!({})),
                &pool_claimed_by_clara,
                CLARA,
                vec![],
                Some(New),
            ),
            (
                "claimed by another candidate",
                event("claimed", Some(CLARA), json!({})),
                &pool_claimed_by_clara,
                BERND,
                vec![],
                Some(Gone),
            ),
            (
                "claimed, not my pool",
                event("claimed", Some(CLARA), json!({})),
                &pool_claimed_by_clara,
                DORA,
                vec![],
                None,
            ),
            ("handed to me", event("handed_over", Some(CLARA), handed.clone()), &open_clara, CLARA, vec![], Some(New)),
            (
                "handed on by me",
                event("handed_over", Some(CLARA), handed.clone()),
                &open_clara,
                BERND,
                vec![],
                Some(Gone),
            ),
            (
                "handed between others",
                event("handed_over", Some(CLARA), handed.clone()),
                &open_clara,
                DORA,
                vec![],
                None,
            ),
            (
                "given back by me",
                event("given_back", Some(BERND), given_back.clone()),
                &back_to_clara,
                BERND,
                vec![],
                Some(Gone),
            ),
            (
                "given back to my pool",
                event("given_back", Some(BERND), given_back.clone()),
                &back_to_clara,
                CLARA,
                vec![],
                Some(Waiting),
            ),
            (
                "given back, not my pool",
                event("given_back", Some(BERND), given_back),
                &back_to_clara,
                DORA,
                vec![],
                None,
            ),
            ("moved from my pool", event("moved", None, json!({ "kept_id": 3 })), &moved, BERND, vec![], Some(Gone)),
            ("moved, not my pool", event("moved", None, json!({ "kept_id": 3 })), &moved, DORA, vec![], None),
            ("closed, mine", event("closed", Some(BERND), json!({})), &done_bernd, BERND, vec![], Some(Changed)),
            ("closed, another's", event("closed", Some(BERND), json!({})), &done_bernd, CLARA, vec![], None),
            (
                "Wiedervorlage on mine by an admin",
                event("follow_up_set", Some(ADMIN), json!({ "assignee": BERND, "by": ADMIN })),
                &open_bernd,
                BERND,
                vec![],
                Some(Changed),
            ),
            (
                "Wiedervorlage fällig: back under „Offen“",
                event("follow_up_due", None, json!({ "assignee": BERND, "due_ms": 1 })),
                &open_bernd,
                BERND,
                vec![],
                Some(Changed),
            ),
            (
                "a note changes no count",
                event("note_added", Some(CLARA), json!({ "assignee": BERND })),
                &open_bernd,
                BERND,
                vec![],
                None,
            ),
            (
                "created says nothing yet",
                event("created", None, json!({ "via": "import" })),
                &open_bernd,
                BERND,
                vec![],
                None,
            ),
        ];
        for (what, e, c, reader, covering, expected) in rows {
            let me = person(reader, reader != DORA || !covering.is_empty(), reader == ADMIN);
            let covering: Vec<EmployeeId> = covering.into_iter().map(EmployeeId).collect();
            assert_eq!(relation(&e, c, &me, &covering), expected, "{what}");
        }
    }

    #[test]
    fn a_waiting_vorgang_reaches_only_a_candidate_who_may_still_claim_it() {
        let pool = case("waiting", None, &[BERND, CLARA]);
        let waiting = event("waiting", None, json!({ "candidates": [BERND, CLARA] }));
        // Without a licence Bernd may not claim it, so he may not open it: not told either.
        assert_eq!(relation(&waiting, &pool, &person(BERND, false, false), &[]), None);
        assert_eq!(relation(&waiting, &pool, &person(BERND, true, false), &[]), Some(Relation::Waiting));
        // Claimed by Clara before Bernd's stream read it: no longer openable for him.
        let claimed = case("open", Some(CLARA), &[BERND, CLARA]);
        assert_eq!(relation(&waiting, &claimed, &person(BERND, true, false), &[]), None);
    }
}
