//! The integration tests of postkorb-source in one binary: each adapter against a real Dovecot or a
//! temp Maildir.

mod common;
mod imap;
mod maildir;
mod pop3;
mod smtp;
mod tls;
mod xoauth2;
