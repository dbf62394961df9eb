//! Domain rules of Postkorb, free of IO so they can be tested as plain data.
//!
//! Everything that decides *who* gets a mail lives here: employees and their eligibility,
//! sender rows (Von → An), the routing decision and the claim rule — and the typed mailbox settings
//! with their one validator.

pub mod absence;
pub mod ack;
pub mod address;
pub mod audit;
pub mod employee;
pub mod keep;
pub mod mailbox;
pub mod notify;
pub mod retention;
pub mod routing;
pub mod time;
pub mod webhook;
pub mod workflow;

pub use absence::{Absence, AbsenceError, CoverNote, Receiver};
pub use address::{AddressError, EmailAddress};
pub use audit::{AuditEntry, Person};
pub use employee::{
    Employee, EmployeeError, EmployeeId, Permission, RouteError, RouteRole, SenderRoute, an_choices, check_new_route,
    check_work_email, rows_losing, von_choices,
};
pub use keep::{AutoKind, FromProblem, KeepReason, StormLimit, Technical, Unreadable};
pub use routing::{Decision, MailFacts, RouteStatus, decide, may_claim, route_status};
pub use workflow::{CaseRefusal, FollowUpError, FollowUpState, NoteError, may_work};
