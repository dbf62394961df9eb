//! Mailbox adapters behind one small interface: IMAP, POP3 and Maildir.
//!
//! A [`Session`] lists the messages waiting, fetches their raw bytes, and disposes of them
//! (move to a folder or delete) — which the importer calls only after its database commit.
//! Keys are stable per message: `imap:{folder}:{UIDVALIDITY}:{UID}`, `pop3:{UIDL}`, `maildir:{unique}`.
//! INTERFACE PINNED BY THE LEAD — implementation is the source helper's.

use std::path::PathBuf;

#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Protocol {
    Imap,
    Pop3,
    Maildir,
}

#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum TlsMode {
    /// TLS from the first byte (993 / 995).
    Implicit,
    /// STARTTLS (IMAP) / STLS (POP3); refused if the server does not offer it — never a silent downgrade.
    StartTls,
    /// Plain text; only sensible on loopback.
    None,
}

/// What happens to a message on the server after it is safely stored.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum Disposal {
    /// IMAP: UID MOVE (or COPY + delete) into this folder, created if missing.
    /// Maildir: moved into the Maildir++ subfolder of that name (`.Postkorb.Importiert/cur`).
    /// POP3 cannot move and always deletes.
    MoveTo(String),
    Delete,
}

#[derive(Clone)]
pub struct SourceConfig {
    pub protocol: Protocol,
    pub host: String,
    pub port: u16,
    pub tls: TlsMode,
    pub username: String,
    pub password: String,
    /// IMAP folder to read (default INBOX).
    pub folder: String,
    pub disposal: Disposal,
    /// For Maildir: the Maildir root (with cur/ new/ tmp/).
    pub maildir: Option<PathBuf>,
    /// Extra CA certificate (PEM) to trust, besides the system roots.
    pub ca_file: Option<PathBuf>,
}

impl std::fmt::Debug for SourceConfig {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("SourceConfig")
            .field("protocol", &self.protocol)
            .field("host", &self.host)
            .field("port", &self.port)
            .field("tls", &self.tls)
            .field("username", &self.username)
            .field("password", &"<redacted>")
            .field("folder", &self.folder)
            .field("disposal", &self.disposal)
            .field("maildir", &self.maildir)
            .field("ca_file", &self.ca_file)
            .finish()
    }
}

#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Envelope {
    pub key: String,
    pub size: Option<u64>,
}

#[derive(Clone, Debug)]
pub struct Fetched {
    pub key: String,
    pub raw: Vec<u8>,
}

#[derive(Debug, thiserror::Error)]
pub enum SourceError {
    #[error("server not reachable: {0}")]
    Connect(String),
    #[error("TLS failed: {0}")]
    Tls(String),
    #[error("login failed: {0}")]
    Login(String),
    #[error("folder missing: {0}")]
    FolderMissing(String),
    #[error("protocol error: {0}")]
    Protocol(String),
    #[error("I/O error: {0}")]
    Io(String),
    #[error("configuration error: {0}")]
    Config(String),
}

impl SourceError {
    /// Worth retrying later with back-off (network, server busy). Login/TLS/config are not.
    pub fn is_transient(&self) -> bool {
        matches!(self, SourceError::Connect(_) | SourceError::Io(_) | SourceError::Protocol(_))
    }

    /// The problem in German, for the web UI.
    pub fn german(&self) -> String {
        match self {
            SourceError::Connect(d) => format!("Server nicht erreichbar ({d})"),
            SourceError::Tls(d) => format!("Zertifikat nicht vertrauenswürdig oder TLS fehlgeschlagen ({d})"),
            SourceError::Login(_) => "Anmeldung fehlgeschlagen: Benutzername oder Passwort falsch".into(),
            SourceError::FolderMissing(f) => format!("Ordner fehlt: {f}"),
            SourceError::Protocol(d) => format!("Protokollfehler ({d})"),
            SourceError::Io(d) => format!("Ein-/Ausgabefehler ({d})"),
            SourceError::Config(d) => format!("Einstellung fehlerhaft ({d})"),
        }
    }
}

/// One open connection to a mailbox.
pub enum Session {
    // Imap(imap::ImapSession), Pop3(pop3::Pop3Session), Maildir(maildir::MaildirSession)
}

impl Session {
    /// Connects and logs in. A wrong password is `SourceError::Login` and touches nothing.
    pub async fn connect(_cfg: &SourceConfig) -> Result<Session, SourceError> {
        todo!("source helper")
    }

    /// Every message currently waiting in the folder, oldest first.
    pub async fn list(&mut self) -> Result<Vec<Envelope>, SourceError> {
        todo!("source helper")
    }

    /// Raw bytes of these messages (keys from `list`), in the same order. Pipelined where the protocol allows.
    pub async fn fetch(&mut self, _keys: &[String]) -> Result<Vec<Fetched>, SourceError> {
        todo!("source helper")
    }

    /// Moves or deletes these messages per `Disposal`. Idempotent: a key that is gone already is fine.
    pub async fn dispose(&mut self, _keys: &[String]) -> Result<(), SourceError> {
        todo!("source helper")
    }

    /// Ends the session cleanly (POP3: QUIT, which commits deletions).
    pub async fn close(self) -> Result<(), SourceError> {
        todo!("source helper")
    }
}
