//! The routing decision: what becomes of one incoming mail.
//!
//! Pure function of the mail's facts, the employees and the sender rows. The importer stores the
//! decision in the same transaction as the mail; nothing here touches a database.

use serde::{Deserialize, Serialize};

use crate::keep::{AutoKind, FromProblem, Unreadable};
use crate::{EmailAddress, Employee, EmployeeId, KeepReason, RouteError, SenderRoute};

/// What happens to a mail.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub enum Decision {
    /// A Vorgang for exactly this employee.
    Assign { sender: EmployeeId, to: EmployeeId },
    /// A Vorgang waiting for the first of these candidates to synchronise (sorted, at least two).
    Pool { sender: EmployeeId, candidates: Vec<EmployeeId> },
    /// Kept for the admin, with the reason.
    Keep(KeepReason),
}

/// Facts about a mail that decide before the sender list is even looked at.
#[derive(Clone, Debug)]
pub struct MailFacts {
    /// The strictly parsed From address, or why there is none.
    pub sender: Result<EmailAddress, String>,
    /// Set when the message is structurally unreadable.
    pub malformed: Option<String>,
    /// Set when the message is automatic (RFC 3834 / 3464, lists).
    pub automatic: Option<String>,
    /// Set when sender verification failed under the mailbox's policy.
    pub unverified: Option<String>,
}

impl MailFacts {
    /// A well-formed, human, verified mail from `sender`.
    pub fn from_sender(sender: EmailAddress) -> Self {
        MailFacts { sender: Ok(sender), malformed: None, automatic: None, unverified: None }
    }
}

/// Whether a stored row still works, and if not, why (shown in the list as inactive).
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub enum RouteStatus {
    Active { sender: EmailAddress },
    Inactive(Vec<RouteError>),
}

/// Re-checks a stored row against the employees as they are now.
pub fn route_status(route: &SenderRoute, employees: &[Employee]) -> RouteStatus {
    let mut problems = Vec::new();
    let from = employees.iter().find(|e| e.id == route.from);
    let to = employees.iter().find(|e| e.id == route.to);
    let mut sender = None;
    match from {
        None => problems.push(RouteError::UnknownEmployee { role: crate::RouteRole::Von, id: route.from.0 }),
        Some(e) => match e.check_von() {
            Ok(addr) => sender = Some(addr.clone()),
            Err(err) => problems.push(err),
        },
    }
    match to {
        None => problems.push(RouteError::UnknownEmployee { role: crate::RouteRole::An, id: route.to.0 }),
        Some(e) => {
            if let Err(err) = e.check_an() {
                problems.push(err);
            }
        }
    }
    match (sender, problems.is_empty()) {
        (Some(sender), true) => RouteStatus::Active { sender },
        _ => RouteStatus::Inactive(problems),
    }
}

/// Decides what becomes of a mail. The order matters: an unreadable, automatic or unverified mail
/// never reaches a person, whatever the sender list says.
pub fn decide(facts: &MailFacts, employees: &[Employee], routes: &[SenderRoute]) -> Decision {
    if let Some(why) = &facts.malformed {
        return Decision::Keep(KeepReason::Malformed(Unreadable::classify(why)));
    }
    let sender = match &facts.sender {
        Ok(s) => s,
        Err(why) => return Decision::Keep(KeepReason::NoUsableFrom(FromProblem::classify(why))),
    };
    if let Some(why) = &facts.automatic {
        return Decision::Keep(KeepReason::Automatic(AutoKind::classify(why)));
    }
    if let Some(why) = &facts.unverified {
        return Decision::Keep(KeepReason::Unverified(why.as_str().into()));
    }
    // Rows whose Von has this work address (checked against the employee record *now*).
    let senders: Vec<&Employee> = employees.iter().filter(|e| e.work_email.as_ref() == Some(sender)).collect();
    let rows: Vec<&SenderRoute> = routes.iter().filter(|r| senders.iter().any(|e| e.id == r.from)).collect();
    if rows.is_empty() {
        return Decision::Keep(KeepReason::NoRoute);
    }
    let mut active: Vec<(EmployeeId, EmployeeId)> = Vec::new();
    let mut inactive: Vec<RouteError> = Vec::new();
    for row in rows {
        match route_status(row, employees) {
            RouteStatus::Active { .. } => active.push((row.from, row.to)),
            RouteStatus::Inactive(problems) => {
                for p in problems {
                    if !inactive.contains(&p) {
                        inactive.push(p);
                    }
                }
            }
        }
    }
    let mut candidates: Vec<EmployeeId> = active.iter().map(|(_, to)| *to).collect();
    candidates.sort();
    candidates.dedup();
    match candidates.len() {
        0 => Decision::Keep(KeepReason::RouteInactive(inactive)),
        1 => Decision::Assign { sender: active[0].0, to: candidates[0] },
        _ => Decision::Pool { sender: active[0].0, candidates },
    }
}

/// May `employee` claim a pooled Vorgang whose candidate set (fixed at import) is `candidates`?
pub fn may_claim(employee: &Employee, candidates: &[EmployeeId]) -> bool {
    candidates.contains(&employee.id) && employee.check_an().is_ok()
}
