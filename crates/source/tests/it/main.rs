//! The integration tests of postkorb-source in one binary: each adapter against a real Dovecot, a
//! temp Maildir, or the local Graph double.

mod common;
mod graph;
mod imap;
mod maildir;
mod pop3;
mod smtp;
mod tls;
mod xoauth2;
