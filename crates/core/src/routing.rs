//! The routing decision: what becomes of one incoming mail.
//!
//! Pure function of the mail's facts, the employees and the sender rows. The importer stores the
//! decision in the same transaction as the mail; nothing here touches a database.

use serde::{Deserialize, Serialize};

use crate::{EmailAddress, Employee, EmployeeId, RouteError, SenderRoute};

/// Why a mail is kept for the admin instead of becoming someone's Vorgang.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub enum KeepReason {
    /// From is missing, holds several addresses, or is not a strict addr-spec.
    NoUsableFrom(String),
    /// No row in „E-Mail-Adressen verwalten“ has this sender.
    NoRoute,
    /// Rows exist, but none is active any more (Von or An lost eligibility).
    RouteInactive(String),
    /// Auto-reply, out-of-office, bounce, mailing list.
    Automatic(String),
    /// The sender could not be verified.
    Unverified(String),
    /// The message could not be understood.
    Malformed(String),
    /// A pooled Vorgang whose candidates all lost eligibility.
    NoCandidateLeft,
    /// Too many mails from one sender in a short time: held instead of flooding a Startmaske.
    Storm(String),
    /// The sender could not be verified because its domain's DNS stayed unreachable for longer
    /// than the importer retries (default 24 h).
    UnverifiedDns(String),
}

impl KeepReason {
    pub fn code(&self) -> &'static str {
        match self {
            KeepReason::NoUsableFrom(_) => "no_usable_from",
            KeepReason::NoRoute => "no_route",
            KeepReason::RouteInactive(_) => "route_inactive",
            KeepReason::Automatic(_) => "automatic",
            KeepReason::Unverified(_) => "unverified",
            KeepReason::Malformed(_) => "malformed",
            KeepReason::NoCandidateLeft => "no_candidate_left",
            KeepReason::Storm(_) => "storm",
            KeepReason::UnverifiedDns(_) => "unverified_dns",
        }
    }

    pub fn detail(&self) -> &str {
        match self {
            KeepReason::NoUsableFrom(d)
            | KeepReason::RouteInactive(d)
            | KeepReason::Automatic(d)
            | KeepReason::Unverified(d)
            | KeepReason::Malformed(d)
            | KeepReason::Storm(d)
            | KeepReason::UnverifiedDns(d) => d,
            KeepReason::NoRoute | KeepReason::NoCandidateLeft => "",
        }
    }

    /// Kept because the sender could not be verified (for whatever reason).
    pub fn is_unverified(&self) -> bool {
        matches!(self, KeepReason::Unverified(_) | KeepReason::UnverifiedDns(_))
    }

    pub fn from_code(code: &str, detail: &str) -> Option<KeepReason> {
        let d = detail.to_string();
        Some(match code {
            "no_usable_from" => KeepReason::NoUsableFrom(d),
            "no_route" => KeepReason::NoRoute,
            "route_inactive" => KeepReason::RouteInactive(d),
            "automatic" => KeepReason::Automatic(d),
            "unverified" => KeepReason::Unverified(d),
            "malformed" => KeepReason::Malformed(d),
            "no_candidate_left" => KeepReason::NoCandidateLeft,
            "storm" => KeepReason::Storm(d),
            "unverified_dns" => KeepReason::UnverifiedDns(d),
            _ => return None,
        })
    }

    /// A short English sentence for the CLI.
    pub fn english(&self) -> String {
        let base = match self {
            KeepReason::NoUsableFrom(_) => "no usable sender address in From",
            KeepReason::NoRoute => "sender has no row in the sender list",
            KeepReason::RouteInactive(_) => "sender's rows are all inactive",
            KeepReason::Automatic(_) => "automatic mail (auto-reply, bounce, list)",
            KeepReason::Unverified(_) => "sender not verified",
            KeepReason::Malformed(_) => "message could not be read",
            KeepReason::NoCandidateLeft => "no recipient of the pool is eligible any more",
            KeepReason::Storm(_) => "held: too many mails from this sender in a short time",
            KeepReason::UnverifiedDns(_) => "sender not verified (DNS unreachable)",
        };
        with_detail(base, self.detail())
    }

    /// The label for „Nicht zugeordnete E-Mails“.
    pub fn german(&self) -> String {
        let base = match self {
            KeepReason::NoUsableFrom(_) => "Kein gültiger Absender",
            KeepReason::NoRoute => "Kein Eintrag in „E-Mail-Adressen verwalten“",
            KeepReason::RouteInactive(_) => "Zuordnung inaktiv",
            KeepReason::Automatic(_) => "Automatische E-Mail",
            KeepReason::Unverified(_) => "Absender nicht verifiziert",
            KeepReason::Malformed(_) => "E-Mail nicht lesbar",
            KeepReason::NoCandidateLeft => "Kein Empfänger mehr berechtigt",
            KeepReason::Storm(_) => "Zurückgehalten: zu viele E-Mails dieses Absenders in kurzer Zeit",
            KeepReason::UnverifiedDns(_) => "Absender nicht verifiziert (DNS nicht erreichbar)",
        };
        with_detail(base, self.detail())
    }
}

fn with_detail(base: &str, detail: &str) -> String {
    if detail.is_empty() { base.to_string() } else { format!("{base}: {detail}") }
}

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
        return Decision::Keep(KeepReason::Malformed(why.clone()));
    }
    let sender = match &facts.sender {
        Ok(s) => s,
        Err(why) => return Decision::Keep(KeepReason::NoUsableFrom(why.clone())),
    };
    if let Some(why) = &facts.automatic {
        return Decision::Keep(KeepReason::Automatic(why.clone()));
    }
    if let Some(why) = &facts.unverified {
        return Decision::Keep(KeepReason::Unverified(why.clone()));
    }
    // Rows whose Von has this work address (checked against the employee record *now*).
    let senders: Vec<&Employee> = employees.iter().filter(|e| e.work_email.as_ref() == Some(sender)).collect();
    let rows: Vec<&SenderRoute> = routes.iter().filter(|r| senders.iter().any(|e| e.id == r.from)).collect();
    if rows.is_empty() {
        return Decision::Keep(KeepReason::NoRoute);
    }
    let mut active: Vec<(EmployeeId, EmployeeId)> = Vec::new();
    let mut inactive: Vec<String> = Vec::new();
    for row in rows {
        match route_status(row, employees) {
            RouteStatus::Active { .. } => active.push((row.from, row.to)),
            RouteStatus::Inactive(problems) => {
                inactive.extend(problems.iter().map(|p| p.to_string()));
            }
        }
    }
    let mut candidates: Vec<EmployeeId> = active.iter().map(|(_, to)| *to).collect();
    candidates.sort();
    candidates.dedup();
    match candidates.len() {
        0 => {
            inactive.sort();
            inactive.dedup();
            Decision::Keep(KeepReason::RouteInactive(inactive.join("; ")))
        }
        1 => Decision::Assign { sender: active[0].0, to: candidates[0] },
        _ => Decision::Pool { sender: active[0].0, candidates },
    }
}

/// May `employee` claim a pooled Vorgang whose candidate set (fixed at import) is `candidates`?
pub fn may_claim(employee: &Employee, candidates: &[EmployeeId]) -> bool {
    candidates.contains(&employee.id) && employee.check_an().is_ok()
}
