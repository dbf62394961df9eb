//! The integration tests of postkorb-store in one binary: the storage contract on SQLite and
//! PostgreSQL.

mod blobs;
mod common;
mod contract;
mod copy_into;
mod lease;
mod migrations;
mod oauth;
