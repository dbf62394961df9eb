//! Employees (Mitarbeiter), their permissions and the eligibility rules for sender rows.
//!
//! The rules of the feature description: Von needs „Aktuell“ and a work e-mail (no licence);
//! An needs „Aktuell“ and an active licence (no e-mail). They are checked when a row is saved and
//! again whenever a mail is routed or claimed, so they live in exactly one place: here.

use std::fmt;

use serde::{Deserialize, Serialize};

use crate::EmailAddress;

#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize, Deserialize)]
#[serde(transparent)]
pub struct EmployeeId(pub i64);

impl fmt::Display for EmployeeId {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        self.0.fmt(f)
    }
}

/// Access rights. Stored by their code.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize, Deserialize)]
pub enum Permission {
    /// „E-Mails automatisch einlesen“ (Bereich „Startmaske“): mailbox settings, sender list, kept mails.
    ManageMailImport,
    /// Manage employees (Fenster › Mitarbeiter).
    ManageEmployees,
    /// „Datenschutz verwalten“ (issue 18): retention periods, the Löschprotokoll, setting and lifting a
    /// Sperre, and seeing Vorgänge under „Einschränkung der Verarbeitung“. Never implied by another right.
    ManagePrivacy,
}

impl Permission {
    pub const ALL: [Permission; 3] =
        [Permission::ManageMailImport, Permission::ManageEmployees, Permission::ManagePrivacy];

    pub fn code(self) -> &'static str {
        match self {
            Permission::ManageMailImport => "mail_import",
            Permission::ManageEmployees => "employees",
            Permission::ManagePrivacy => "privacy",
        }
    }

    pub fn from_code(code: &str) -> Option<Permission> {
        Permission::ALL.into_iter().find(|p| p.code() == code.trim())
    }

    /// The German label with its area, as the office knows it.
    pub fn german(self) -> &'static str {
        match self {
            Permission::ManageMailImport => "E-Mails automatisch einlesen (Bereich „Startmaske“)",
            Permission::ManageEmployees => "Mitarbeiter verwalten",
            Permission::ManagePrivacy => "Datenschutz verwalten",
        }
    }
}

#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct Employee {
    pub id: EmployeeId,
    pub name: String,
    /// Login name; employees without an account have none.
    pub username: Option<String>,
    /// „Aktuell“: still with the company.
    pub is_current: bool,
    /// „Lizenzstring“: a seat. `None` or blank means no active licence.
    pub license: Option<String>,
    /// Vertragsdaten › Daten zur Arbeit › E-Mail.
    pub work_email: Option<EmailAddress>,
    pub permissions: Vec<Permission>,
}

/// Which side of a sender row an employee stands on.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub enum RouteRole {
    Von,
    An,
}

impl fmt::Display for RouteRole {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(match self {
            RouteRole::Von => "Von",
            RouteRole::An => "An",
        })
    }
}

/// Why an employee cannot stand on one side of a sender row.
#[derive(Clone, Debug, PartialEq, Eq, thiserror::Error, Serialize, Deserialize)]
pub enum RouteError {
    #[error("{role}: employee {id} does not exist")]
    UnknownEmployee { role: RouteRole, id: i64 },
    #[error("{role}: {name} is not marked as current (\"Aktuell\")")]
    NotCurrent { role: RouteRole, name: String },
    #[error("Von: {name} has no work e-mail address (Vertragsdaten > Daten zur Arbeit > E-Mail)")]
    NoWorkEmail { name: String },
    #[error("An: {name} has no active licence")]
    NoLicense { name: String },
    #[error("this row exists already")]
    Duplicate,
}

impl RouteError {
    /// The same rule in German, for the web UI.
    pub fn german(&self) -> String {
        match self {
            RouteError::UnknownEmployee { role, .. } => {
                format!("{role}: Diesen Mitarbeiter gibt es nicht mehr.")
            }
            RouteError::NotCurrent { role, name } => {
                format!("{role}: Bei {name} ist das Häkchen „Aktuell“ nicht gesetzt.")
            }
            RouteError::NoWorkEmail { name } => {
                format!("Von: Für {name} ist unter Vertragsdaten › Daten zur Arbeit keine E-Mail-Adresse hinterlegt.")
            }
            RouteError::NoLicense { name } => {
                format!("An: {name} besitzt keinen aktiven Lizenzstring.")
            }
            RouteError::Duplicate => "Diese Zuordnung gibt es bereits.".to_string(),
        }
    }
}

/// Why an employee's record cannot be saved as entered.
#[derive(Clone, Debug, PartialEq, Eq, thiserror::Error, Serialize, Deserialize)]
pub enum EmployeeError {
    /// Another employee has the same work e-mail (compared without case): routing would be ambiguous.
    #[error("the work e-mail {email} belongs to {other} already (e-mail addresses are compared without case)")]
    DuplicateWorkEmail { email: String, other: String },
    /// The user name (or, in a race, the work e-mail) is another employee's already.
    #[error("the user name or work e-mail is another employee's already")]
    Taken,
}

impl EmployeeError {
    /// The same problem in German, for the web UI.
    pub fn german(&self) -> String {
        match self {
            EmployeeError::DuplicateWorkEmail { email, other } => format!(
                "Die E-Mail-Adresse {email} ist bereits bei {other} eingetragen. Jede Adresse darf nur bei einem \
                 Mitarbeiter stehen (Groß- und Kleinschreibung zählt nicht), sonst wäre unklar, wem eine E-Mail \
                 zugeordnet wird."
            ),
            EmployeeError::Taken => "Der Benutzername (oder die E-Mail-Adresse) gehört schon einem anderen \
                                     Mitarbeiter. Bitte wählen Sie einen anderen."
                .into(),
        }
    }
}

/// Checks that no other employee has `email` as work e-mail (addresses are compared lower-cased).
/// `id` is the employee being saved (`None` for a new one).
pub fn check_work_email(
    id: Option<EmployeeId>,
    email: Option<&EmailAddress>,
    employees: &[Employee],
) -> Result<(), EmployeeError> {
    let Some(email) = email else { return Ok(()) };
    let wanted = email.as_str().to_lowercase();
    match employees
        .iter()
        .find(|e| Some(e.id) != id && e.work_email.as_ref().is_some_and(|w| w.as_str().to_lowercase() == wanted))
    {
        Some(other) => Err(EmployeeError::DuplicateWorkEmail { email: email.to_string(), other: other.name.clone() }),
        None => Ok(()),
    }
}

/// The rows that are active now and would become inactive if `changed` replaced its old record,
/// each with the rules it would break (for the warning before saving and the count after).
pub fn rows_losing(
    changed: &Employee,
    employees: &[Employee],
    routes: &[SenderRoute],
) -> Vec<(SenderRoute, Vec<RouteError>)> {
    let after: Vec<Employee> =
        employees.iter().map(|e| if e.id == changed.id { changed.clone() } else { e.clone() }).collect();
    routes
        .iter()
        .filter(|r| r.from == changed.id || r.to == changed.id)
        .filter(|r| matches!(crate::route_status(r, employees), crate::RouteStatus::Active { .. }))
        .filter_map(|r| match crate::route_status(r, &after) {
            crate::RouteStatus::Inactive(problems) => Some((r.clone(), problems)),
            crate::RouteStatus::Active { .. } => None,
        })
        .collect()
}

impl Employee {
    pub fn has(&self, permission: Permission) -> bool {
        self.permissions.contains(&permission)
    }

    pub fn has_active_license(&self) -> bool {
        self.license.as_deref().is_some_and(|l| !l.trim().is_empty())
    }

    /// May this employee stand in the column „Von“?
    pub fn check_von(&self) -> Result<&EmailAddress, RouteError> {
        if !self.is_current {
            return Err(RouteError::NotCurrent { role: RouteRole::Von, name: self.name.clone() });
        }
        self.work_email.as_ref().ok_or_else(|| RouteError::NoWorkEmail { name: self.name.clone() })
    }

    /// May this employee stand in the column „An“ (and so receive or claim a Vorgang)?
    pub fn check_an(&self) -> Result<(), RouteError> {
        if !self.is_current {
            return Err(RouteError::NotCurrent { role: RouteRole::An, name: self.name.clone() });
        }
        if !self.has_active_license() {
            return Err(RouteError::NoLicense { name: self.name.clone() });
        }
        Ok(())
    }
}

/// One row of „E-Mail-Adressen verwalten“: mails from `from`'s work address go to `to`.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct SenderRoute {
    pub id: i64,
    pub from: EmployeeId,
    pub to: EmployeeId,
}

/// Checks a new row before it is saved. Returns every rule it breaks, so the form can name them all.
pub fn check_new_route(
    from: EmployeeId,
    to: EmployeeId,
    employees: &[Employee],
    existing: &[SenderRoute],
) -> Result<(), Vec<RouteError>> {
    let mut errors = Vec::new();
    match employees.iter().find(|e| e.id == from) {
        None => errors.push(RouteError::UnknownEmployee { role: RouteRole::Von, id: from.0 }),
        Some(e) => {
            if let Err(err) = e.check_von() {
                errors.push(err);
            }
        }
    }
    match employees.iter().find(|e| e.id == to) {
        None => errors.push(RouteError::UnknownEmployee { role: RouteRole::An, id: to.0 }),
        Some(e) => {
            if let Err(err) = e.check_an() {
                errors.push(err);
            }
        }
    }
    if existing.iter().any(|r| r.from == from && r.to == to) {
        errors.push(RouteError::Duplicate);
    }
    if errors.is_empty() { Ok(()) } else { Err(errors) }
}

/// The employees the „Von“ dropdown offers: current, with a work e-mail.
pub fn von_choices(employees: &[Employee]) -> Vec<&Employee> {
    employees.iter().filter(|e| e.check_von().is_ok()).collect()
}

/// The employees the „An“ dropdown offers: current, with an active licence.
pub fn an_choices(employees: &[Employee]) -> Vec<&Employee> {
    employees.iter().filter(|e| e.check_an().is_ok()).collect()
}
