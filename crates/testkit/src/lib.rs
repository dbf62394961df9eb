//! Test harness for Postkorb's integration tests: the servers they talk to, never Postkorb's own
//! code (so the crates under test can dev-depend on it without a cycle). A private Dovecot on free
//! loopback ports (optionally with TLS from a throw-away CA), a local OAuth2 token/introspection
//! server for XOAUTH2, a local Microsoft Graph mail server (`GraphServer`), a tiny blocking IMAP client to prepare and inspect mailboxes, a TCP proxy that
//! can cut connections mid-stream, a private Postfix delivering into that Dovecot (`Postfix`, for
//! the sending tests), a recording listener that plays the attacker's host, and a fresh
//! database on the test PostgreSQL (`postgres`, the one place that knows the CI rule for it).

pub mod certs;
mod config;
mod dovecot;
mod graph;
mod http;
mod imap_client;
mod oauth;
mod postfix;
pub mod postgres;
mod proxy;
mod recorder;

pub use dovecot::{Dovecot, Options};
pub use graph::GraphServer;
pub use imap_client::ImapClient;
pub use oauth::OAuthServer;
pub use postfix::{Postfix, SmtpPorts};
pub use proxy::Proxy;
pub use recorder::Recorder;

use std::net::TcpListener;

/// A loopback port that was free a moment ago (bind to 0, read, release).
/// Callers must cope with a clash: someone else may grab it before they bind.
pub fn free_port() -> u16 {
    let listener = TcpListener::bind("127.0.0.1:0").expect("bind 127.0.0.1:0");
    listener.local_addr().expect("local addr").port()
}
