//! The tests of the harness itself, and the workspace-wide source rules (hygiene), in one binary.

mod dovecot;
mod hygiene;
