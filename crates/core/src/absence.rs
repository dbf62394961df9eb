//! Abwesenheit und Vertretung: who receives a Vorgang meant for someone who is away.
//!
//! Pure rules over plain data (the absences, the employees, a time), so the importer, the claim,
//! the Startmaske and the permission check all ask the same question the same way:
//!
//! - Present (no absence at that time): the intended person receives it.
//! - Absent with an eligible (Aktuell + licence), present Vertreter: the Vertreter receives it
//!   „in Vertretung für“ the absent person.
//! - Chains (A away → B, B away → C) resolve once to C, still naming A.
//! - No usable Vertreter — none named, one who may not receive any more (skipped, with a note), or
//!   a loop (A → B → A) — the Vorgang **waits for the intended person**: it stays assigned to them,
//!   never silently re-routed, and admins see it as „wartet auf abwesenden Empfänger“.

use serde::{Deserialize, Serialize};

use crate::{Employee, EmployeeId, Person, RouteError};

/// One absence: from `from_ms` (inclusive) until `until_ms` (exclusive; `None`: open end).
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct Absence {
    pub id: i64,
    pub employee: EmployeeId,
    pub from_ms: i64,
    pub until_ms: Option<i64>,
    /// The Vertreter(in), if one was named.
    pub substitute: Option<EmployeeId>,
}

impl Absence {
    /// Is the employee away at `at`?
    pub fn covers(&self, at: i64) -> bool {
        self.from_ms <= at && self.until_ms.is_none_or(|u| at < u)
    }

    /// Does it still matter at `at` (current or future)?
    pub fn not_over(&self, at: i64) -> bool {
        self.until_ms.is_none_or(|u| at < u)
    }

    fn overlaps(&self, other: &Absence) -> bool {
        let ends_after = |a: &Absence, start: i64| a.until_ms.is_none_or(|u| u > start);
        ends_after(self, other.from_ms) && ends_after(other, self.from_ms)
    }
}

/// Why the rule could not hand a Vorgang to a Vertreter; kept in the Vorgang's Verlauf, with the
/// names at the time.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(tag = "note", rename_all = "snake_case")]
pub enum CoverNote {
    /// `vertreter`, named for `absent`, may not receive (not Aktuell, no licence): skipped.
    Ineligible { absent: Person, vertreter: Person, reason: RouteError },
    /// Following the Vertreter led back to `absent`, who is away too.
    Loop { absent: Person },
    /// `absent` is away and nobody could take it: the Vorgang waits for them.
    Waits { absent: Person },
}

impl CoverNote {
    /// The sentence of the Verlauf.
    pub fn german(&self) -> String {
        match self {
            CoverNote::Ineligible { absent, vertreter, reason } => format!(
                "Vertretung übersprungen: {} (Vertretung für {}) darf keine Vorgänge erhalten – {}",
                vertreter.name,
                absent.name,
                reason.german()
            ),
            CoverNote::Loop { absent } => {
                format!("Vertretung im Kreis: die Vertretungen führen zurück zu {}, der/die abwesend ist", absent.name)
            }
            CoverNote::Waits { absent } => {
                format!(
                    "wartet auf abwesenden Empfänger: {} ist abwesend, keine Vertretung kann übernehmen",
                    absent.name
                )
            }
        }
    }

    /// The same in English, for the CLI and the API.
    pub fn english(&self) -> String {
        match self {
            CoverNote::Ineligible { absent, vertreter, reason } => {
                format!("substitute skipped: {} (covering {}) may not receive: {reason}", vertreter.name, absent.name)
            }
            CoverNote::Loop { absent } => format!("substitutes form a loop back to {}, who is absent", absent.name),
            CoverNote::Waits { absent } => {
                format!("waits for an absent recipient: {} is absent and nobody can cover", absent.name)
            }
        }
    }
}

/// Who receives a Vorgang meant for one person.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub enum Receiver {
    /// Present: receives it themselves.
    Present(EmployeeId),
    /// Away; `to` receives it in their place („in Vertretung für `absent`“). `notes`: Vertreter
    /// skipped on the way.
    Vertreter { to: EmployeeId, absent: EmployeeId, notes: Vec<CoverNote> },
    /// Away, and nobody can take it: it waits for them (the last note says so).
    Waits { absent: EmployeeId, notes: Vec<CoverNote> },
}

impl Receiver {
    /// Who gets the Vorgang.
    pub fn to(&self) -> EmployeeId {
        match self {
            Receiver::Present(e) | Receiver::Waits { absent: e, .. } | Receiver::Vertreter { to: e, .. } => *e,
        }
    }

    /// For whom, when a Vertreter gets it.
    pub fn on_behalf_of(&self) -> Option<EmployeeId> {
        match self {
            Receiver::Vertreter { absent, .. } => Some(*absent),
            _ => None,
        }
    }

    pub fn notes(&self) -> &[CoverNote] {
        match self {
            Receiver::Present(_) => &[],
            Receiver::Vertreter { notes, .. } | Receiver::Waits { notes, .. } => notes,
        }
    }
}

/// The absence of `employee` at `at`, if they are away. Absences of one person do not overlap
/// ([`check_absence`]); should they, the one that began last counts.
pub fn absence_at(employee: EmployeeId, at: i64, absences: &[Absence]) -> Option<&Absence> {
    absences.iter().filter(|a| a.employee == employee && a.covers(at)).max_by_key(|a| (a.from_ms, a.id))
}

fn person(id: EmployeeId, employees: &[Employee]) -> Person {
    employees.iter().find(|e| e.id == id).map(Person::of).unwrap_or(Person { id: id.0, name: format!("#{}", id.0) })
}

/// Who receives a Vorgang meant for `intended` at `at`. See the module's rules; the eligibility of
/// every Vertreter on the way is checked again here (`Employee::check_an`).
pub fn receiver(intended: EmployeeId, at: i64, absences: &[Absence], employees: &[Employee]) -> Receiver {
    let Some(mut away) = absence_at(intended, at, absences) else { return Receiver::Present(intended) };
    let mut notes = Vec::new();
    let mut seen = vec![intended];
    while let Some(v) = away.substitute {
        if seen.contains(&v) {
            notes.push(CoverNote::Loop { absent: person(v, employees) });
            break;
        }
        let check = employees
            .iter()
            .find(|e| e.id == v)
            .map_or(Err(RouteError::UnknownEmployee { role: crate::RouteRole::An, id: v.0 }), Employee::check_an);
        if let Err(reason) = check {
            notes.push(CoverNote::Ineligible {
                absent: person(away.employee, employees),
                vertreter: person(v, employees),
                reason,
            });
            break;
        }
        match absence_at(v, at, absences) {
            None => return Receiver::Vertreter { to: v, absent: intended, notes },
            Some(next) => {
                seen.push(v);
                away = next;
            }
        }
    }
    notes.push(CoverNote::Waits { absent: person(intended, employees) });
    Receiver::Waits { absent: intended, notes }
}

/// The people `vertreter` stands in for at `at`: every absent employee whose Vorgänge
/// [`receiver`] gives to them (directly or at the end of a chain).
pub fn covered_by(vertreter: EmployeeId, at: i64, absences: &[Absence], employees: &[Employee]) -> Vec<EmployeeId> {
    let mut absent: Vec<EmployeeId> = absences.iter().filter(|a| a.covers(at)).map(|a| a.employee).collect();
    absent.sort();
    absent.dedup();
    absent.into_iter().filter(|a| receiver(*a, at, absences, employees).to() == vertreter && *a != vertreter).collect()
}

/// The absent people at `at` whose Vorgänge wait for them (nobody can cover).
pub fn waiting_absent(at: i64, absences: &[Absence], employees: &[Employee]) -> Vec<EmployeeId> {
    let mut absent: Vec<EmployeeId> = absences.iter().filter(|a| a.covers(at)).map(|a| a.employee).collect();
    absent.sort();
    absent.dedup();
    absent.into_iter().filter(|a| matches!(receiver(*a, at, absences, employees), Receiver::Waits { .. })).collect()
}

/// A pooled Vorgang (waiting for the first of `candidates`) that nobody can claim because its
/// candidates are away without a usable Vertreter: at least one waits for their return and every
/// other one may not receive at all. Admins see it under „Wartet auf abwesenden Empfänger“; a
/// candidate who is present, or away with a Vertreter, can still claim it, so it is not listed.
pub fn pool_waits_for_absent(candidates: &[EmployeeId], at: i64, absences: &[Absence], employees: &[Employee]) -> bool {
    let mut waits = false;
    for c in candidates {
        match receiver(*c, at, absences, employees) {
            Receiver::Waits { .. } => waits = true,
            Receiver::Vertreter { .. } => return false,
            Receiver::Present(_) => {
                if employees.iter().find(|e| e.id == *c).is_some_and(|e| e.check_an().is_ok()) {
                    return false;
                }
            }
        }
    }
    waits
}

/// Why an absence cannot be saved as entered.
#[derive(Clone, Debug, PartialEq, Eq, thiserror::Error, Serialize, Deserialize)]
pub enum AbsenceError {
    #[error("employee {0} does not exist")]
    UnknownEmployee(i64),
    #[error("the end is not after the start")]
    EndBeforeStart,
    #[error("the absence is over already")]
    InThePast,
    #[error("an employee cannot be their own substitute")]
    SelfSubstitute,
    #[error("the substitute may not receive Vorgänge: {0}")]
    SubstituteIneligible(RouteError),
    #[error("{name} is absent already in this time (from {from_ms})")]
    Overlaps { name: String, from_ms: i64 },
}

impl AbsenceError {
    /// The same in German, for the web UI; `time` formats a moment on the office's clock.
    pub fn german(&self, time: impl Fn(i64) -> String) -> String {
        match self {
            AbsenceError::UnknownEmployee(_) => "Diesen Mitarbeiter gibt es nicht.".into(),
            AbsenceError::EndBeforeStart => "Das Ende muss nach dem Beginn liegen.".into(),
            AbsenceError::InThePast => "Diese Abwesenheit ist schon vorbei.".into(),
            AbsenceError::SelfSubstitute => "Niemand kann sich selbst vertreten.".into(),
            AbsenceError::SubstituteIneligible(e) => {
                format!("Die Vertretung darf keine Vorgänge erhalten: {}", e.german())
            }
            AbsenceError::Overlaps { name, from_ms } => {
                format!("{name} ist in dieser Zeit schon abwesend (Abwesenheit ab {}).", time(*from_ms))
            }
        }
    }
}

/// Checks a new absence before it is saved, against the employees and the absences stored.
pub fn check_absence(
    new: &Absence,
    now_ms: i64,
    employees: &[Employee],
    existing: &[Absence],
) -> Result<(), AbsenceError> {
    let who = employees.iter().find(|e| e.id == new.employee).ok_or(AbsenceError::UnknownEmployee(new.employee.0))?;
    if new.until_ms.is_some_and(|u| u <= new.from_ms) {
        return Err(AbsenceError::EndBeforeStart);
    }
    if !new.not_over(now_ms) {
        return Err(AbsenceError::InThePast);
    }
    if let Some(v) = new.substitute {
        if v == new.employee {
            return Err(AbsenceError::SelfSubstitute);
        }
        let vertreter = employees.iter().find(|e| e.id == v).ok_or(AbsenceError::UnknownEmployee(v.0))?;
        vertreter.check_an().map_err(AbsenceError::SubstituteIneligible)?;
    }
    if let Some(other) = existing.iter().find(|a| a.employee == new.employee && a.id != new.id && a.overlaps(new)) {
        return Err(AbsenceError::Overlaps { name: who.name.clone(), from_ms: other.from_ms });
    }
    Ok(())
}
