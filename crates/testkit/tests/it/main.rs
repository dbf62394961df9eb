//! The tests of the harness itself, in one binary.

mod dovecot;
