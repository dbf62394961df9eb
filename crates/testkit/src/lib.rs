//! Test harness for Postkorb's integration tests: a private Dovecot on free loopback ports
//! (optionally with TLS from a throw-away CA),
//! a local OAuth2 token/introspection server for XOAUTH2, a tiny blocking IMAP client to prepare and inspect mailboxes, and a TCP proxy that can cut
//! connections mid-stream, and a recording listener that plays the attacker's host. Std-only on purpose so tests stay independent of the code under test.

pub mod certs;
mod config;
mod dovecot;
mod imap_client;
mod oauth;
mod proxy;
mod recorder;

pub use dovecot::{Dovecot, Options};
pub use imap_client::ImapClient;
pub use oauth::OAuthServer;
pub use proxy::Proxy;
pub use recorder::Recorder;

use std::net::TcpListener;

/// A loopback port that was free a moment ago (bind to 0, read, release).
/// Callers must cope with a clash: someone else may grab it before they bind.
pub fn free_port() -> u16 {
    let listener = TcpListener::bind("127.0.0.1:0").expect("bind 127.0.0.1:0");
    listener.local_addr().expect("local addr").port()
}
