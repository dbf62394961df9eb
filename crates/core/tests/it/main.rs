//! The integration tests of postkorb-core, one test binary: the domain rules as data and the
//! checked architecture invariants.

mod absence;
mod invariants;
mod mailbox_settings;
mod retention;
mod rules;
mod workflow;
