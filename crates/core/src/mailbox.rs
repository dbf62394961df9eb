//! Mailbox settings as types: the protocol, the encryption, what happens after import, the login
//! method and the sender check, each parsed once from the words the form, the CLI and the database
//! use. [`validate`] is the one validator the web form and `mailbox set` share ([`validate_smtp`]
//! the one of the SMTP settings, „E-Mail-Versand“); its errors carry
//! German words for the form and English ones for the CLI ([`SettingsError`]).
//!
//! The stored strings stay as they were (`code()` of each enum); nothing here does IO. Path rules
//! (which server paths may be named) need the file system, so callers bring theirs as a [`PathRule`].

mod error;
mod smtp;
mod validate;
mod verify_choice;

pub use error::{Field, Problem, SettingsError};
pub use smtp::{SmtpInput, SmtpSettings, is_local_host, smtp_default_port, validate_smtp};
pub use validate::{MailboxSettings, PathRule, SettingsInput, parse_since, validate};
pub use verify_choice::VerifyChoice;

/// How the mailbox is reached.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Protocol {
    Imap,
    Pop3,
    /// A Maildir directory on this server.
    Maildir,
    /// An mbox file on this server, read only: the source of `postkorb import --mbox`, never a
    /// mailbox's setting (`from_code` does not offer it).
    Mbox,
    /// Microsoft 365 through the Microsoft Graph API (HTTPS to graph.microsoft.com, OAuth2 only).
    Graph,
}

impl Protocol {
    /// The word in the database, the form and `--protocol`.
    pub fn code(self) -> &'static str {
        match self {
            Protocol::Imap => "imap",
            Protocol::Pop3 => "pop3",
            Protocol::Maildir => "maildir",
            Protocol::Mbox => "mbox",
            Protocol::Graph => "graph",
        }
    }

    pub fn from_code(s: &str) -> Option<Protocol> {
        [Protocol::Imap, Protocol::Pop3, Protocol::Maildir, Protocol::Graph].into_iter().find(|p| p.code() == s.trim())
    }

    /// The usual port for this protocol and encryption (0 for local files).
    pub fn default_port(self, tls: TlsMode) -> u16 {
        match (self, tls) {
            (Protocol::Imap, TlsMode::Implicit) => 993,
            (Protocol::Imap, _) => 143,
            (Protocol::Pop3, TlsMode::Implicit) => 995,
            (Protocol::Pop3, _) => 110,
            (Protocol::Graph, _) => 443,
            (Protocol::Maildir | Protocol::Mbox, _) => 0,
        }
    }
}

/// How the connection is encrypted.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum TlsMode {
    /// TLS from the first byte (993 / 995).
    Implicit,
    /// STARTTLS (IMAP) / STLS (POP3); refused if the server does not offer it — never a silent downgrade.
    StartTls,
    /// Plain text; only sensible on loopback.
    None,
}

impl TlsMode {
    /// The word in the database, the form and `--tls`.
    pub fn code(self) -> &'static str {
        match self {
            TlsMode::Implicit => "implicit",
            TlsMode::StartTls => "starttls",
            TlsMode::None => "none",
        }
    }

    /// Also `tls` and `ssl` for implicit TLS, which `--tls` has always accepted.
    pub fn from_code(s: &str) -> Option<TlsMode> {
        Some(match s.trim() {
            "implicit" | "tls" | "ssl" => TlsMode::Implicit,
            "starttls" => TlsMode::StartTls,
            "none" => TlsMode::None,
            _ => return None,
        })
    }
}

/// What happens to a mail on the server after it is stored (POP3 always deletes).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Disposal {
    /// Into the target folder.
    Move,
    Delete,
}

impl Disposal {
    /// The word in the database, the form and `--disposal`.
    pub fn code(self) -> &'static str {
        match self {
            Disposal::Move => "move",
            Disposal::Delete => "delete",
        }
    }

    pub fn from_code(s: &str) -> Option<Disposal> {
        [Disposal::Move, Disposal::Delete].into_iter().find(|d| d.code() == s.trim())
    }

    /// A stored value: anything but `delete` moves (as the importer has always read it).
    pub fn of_stored(s: &str) -> Disposal {
        Disposal::from_code(s).unwrap_or(Disposal::Move)
    }
}

/// How Postkorb logs in to the mailbox.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum AuthKind {
    Password,
    /// SASL XOAUTH2 with an OAuth2 access token (Microsoft 365, Gmail); for Microsoft Graph the
    /// same delegated token (device code or browser sign-in, renewed by its refresh token).
    XOAuth2,
    /// Application access (Microsoft Graph): the app's own token by the client credentials grant
    /// with its secret, fetched anew before it runs out; no user, no refresh token.
    App,
}

impl AuthKind {
    /// The word in the database.
    pub fn code(self) -> &'static str {
        match self {
            AuthKind::Password => "password",
            AuthKind::XOAuth2 => "xoauth2",
            AuthKind::App => "oauth2_app",
        }
    }

    /// Whether the login is an OAuth2 access token (delegated or the application's own).
    pub fn is_oauth(self) -> bool {
        self != AuthKind::Password
    }

    /// A stored value: anything but `xoauth2` and `oauth2_app` is a password login.
    pub fn of_stored(s: &str) -> AuthKind {
        [AuthKind::XOAuth2, AuthKind::App].into_iter().find(|k| k.code() == s).unwrap_or(AuthKind::Password)
    }
}
