//! The integration tests of postkorb-store in one binary: the storage contract on SQLite and
//! PostgreSQL.

mod absences;
mod audit_log;
mod blobs;
mod case_events;
mod common;
mod contract;
mod copy_into;
mod invariants;
mod lease;
mod mailbox_delete;
mod migrations;
mod notify;
mod oauth;
mod office;
mod outbox;
mod person;
mod pool;
mod retention;
mod sealing;
mod search;
mod smtp;
mod source_state;
mod workflow;
