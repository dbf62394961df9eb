//! Mailbox adapters behind one small interface: IMAP, POP3, Maildir, Microsoft Graph, and an mbox
//! file (read only, for the one-off bulk import); and the SMTP client the sent mails go through
//! ([`smtp`]), and the pinned HTTP client of every HTTP API ([`http`]).
//!
//! A [`Session`] lists the messages waiting, fetches their raw bytes, and disposes of them
//! (move to a folder or delete) — which the importer calls only after its database commit.
//! Keys are stable per message: `imap:{folder}:{UIDVALIDITY}:{UID}`, `pop3:{UIDL}`, `maildir:{unique}`,
//! `graph:{immutable id}`, `mbox:{index}`.

mod dotstuff;
pub mod graph;
pub mod http;
mod imap;
mod maildir;
mod mbox;
mod pop3;
pub mod smtp;
mod stream;
mod tls;

pub use graph::{GraphOptions, GraphSession, SyncState};
pub use imap::ImapSession;
pub use maildir::MaildirSession;
pub use mbox::MboxSession;
pub use pop3::Pop3Session;

use std::path::PathBuf;
use std::time::Duration;

/// How long any single network read or write may make no progress before the session fails
/// (a dead server must never hang the importer). Use [`Session::connect_with_timeout`] to change it.
pub const IO_TIMEOUT: Duration = Duration::from_secs(60);

/// The settings' own enums: one type from the form to the connection.
pub use postkorb_core::mailbox::{Protocol, TlsMode};

/// What happens to a message on the server after it is safely stored.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum Disposal {
    /// IMAP: UID MOVE (or COPY + delete) into this folder, created if missing.
    /// Maildir: moved into the Maildir++ subfolder of that name (`.Postkorb.Importiert/cur`).
    /// POP3 cannot move and always deletes.
    MoveTo(String),
    Delete,
    /// Leave every message where it is: the one-off import from an archive (Maildir, mbox).
    Leave,
}

/// How the session logs in.
#[derive(Clone, Default, PartialEq, Eq)]
pub enum Auth {
    /// IMAP LOGIN / POP3 USER+PASS with [`SourceConfig::password`].
    #[default]
    Password,
    /// SASL XOAUTH2 (Microsoft 365, Gmail) with an OAuth2 access token; `password` is unused.
    /// Microsoft Graph sends the same access token as its bearer token.
    XOAuth2 { access_token: String },
}

impl std::fmt::Debug for Auth {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            Auth::Password => f.write_str("Password"),
            Auth::XOAuth2 { .. } => f.write_str("XOAuth2 { access_token: <redacted> }"),
        }
    }
}

/// How every `SourceError::Login` detail of a refused XOAUTH2 login starts.
pub const XOAUTH2_FAILED: &str = "XOAUTH2 refused";

/// The XOAUTH2 initial client response (before base64): `user=U^Aauth=Bearer T^A^A`.
pub fn xoauth2_response(user: &str, access_token: &str) -> String {
    format!("user={user}\x01auth=Bearer {access_token}\x01\x01")
}

#[derive(Clone)]
pub struct SourceConfig {
    pub protocol: Protocol,
    pub host: String,
    pub port: u16,
    pub tls: TlsMode,
    pub username: String,
    pub password: String,
    /// Password (default) or XOAUTH2 with an access token.
    pub auth: Auth,
    /// IMAP folder to read (default INBOX).
    pub folder: String,
    pub disposal: Disposal,
    /// For Maildir: the Maildir root (with cur/ new/ tmp/); for mbox: the file.
    pub maildir: Option<PathBuf>,
    /// Extra CA certificate (PEM) to trust, besides the system roots.
    pub ca_file: Option<PathBuf>,
    /// Which addresses the connection may go to.
    pub net: NetPolicy,
    /// Microsoft Graph only: the last clean pass's sync state and the longest `Retry-After` waited.
    pub graph: GraphOptions,
}

/// Where outgoing connections may go. Checked on the addresses a name resolves to, and the
/// connection is made to exactly those addresses (no second lookup that could answer otherwise).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct NetPolicy {
    /// Loopback, link-local, private (RFC 1918, ULA), CGNAT and unspecified addresses allowed.
    pub allow_private_hosts: bool,
}

impl Default for NetPolicy {
    fn default() -> Self {
        NetPolicy { allow_private_hosts: true }
    }
}

impl NetPolicy {
    /// Whether `ip` may be connected to.
    pub fn allows(&self, ip: std::net::IpAddr) -> bool {
        self.allow_private_hosts || !is_internal(ip)
    }
}

/// Loopback, link-local, private, CGNAT, unspecified, multicast and broadcast addresses, also as
/// IPv4-mapped IPv6.
pub fn is_internal(ip: std::net::IpAddr) -> bool {
    use std::net::IpAddr;
    match ip {
        IpAddr::V4(v4) => {
            let o = v4.octets();
            v4.is_loopback()
                || v4.is_private()
                || v4.is_link_local()
                || v4.is_unspecified()
                || v4.is_broadcast()
                || v4.is_multicast()
                || (o[0] == 100 && (64..128).contains(&o[1]))
                || o[0] == 0
        }
        IpAddr::V6(v6) => {
            if let Some(v4) = v6.to_ipv4_mapped() {
                return is_internal(IpAddr::V4(v4));
            }
            let seg = v6.segments();
            v6.is_loopback()
                || v6.is_unspecified()
                || v6.is_multicast()
                || (seg[0] & 0xfe00) == 0xfc00
                || (seg[0] & 0xffc0) == 0xfe80
        }
    }
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
            .field("auth", &self.auth)
            .field("folder", &self.folder)
            .field("disposal", &self.disposal)
            .field("maildir", &self.maildir)
            .field("ca_file", &self.ca_file)
            .field("net", &self.net)
            .field("graph", &self.graph)
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
    /// The raw mail. From IMAP it is the response's own buffer, cut to the body (no copy).
    pub raw: bytes::Bytes,
}

#[derive(Debug, thiserror::Error)]
pub enum SourceError {
    /// Reached, but the server refused us at its greeting.
    #[error("server not reachable: {0}")]
    Connect(String),
    /// The host name does not resolve.
    #[error("server not found: {0}")]
    NotFound(String),
    /// Nothing listens on that port (connection refused).
    #[error("connection refused: {0}")]
    Refused(String),
    /// No answer in time (a firewall, a wrong address).
    #[error("no answer: {0}")]
    TimedOut(String),
    /// The address is loopback, link-local or private and `allow_private_hosts` is off.
    #[error("refused by the network policy: {0}")]
    Blocked(String),
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
    /// The server slows us down (HTTP 429/503 with a long `Retry-After`): try again later.
    #[error("throttled: {0}")]
    Throttled(String),
    /// Signed in, but the account may not open this mailbox (Graph: 403, or no such mailbox).
    #[error("access denied: {0}")]
    Denied(String),
}

impl SourceError {
    /// Worth retrying later with back-off (network, server busy). Login/TLS/config are not.
    pub fn is_transient(&self) -> bool {
        matches!(
            self,
            SourceError::Connect(_)
                | SourceError::NotFound(_)
                | SourceError::Refused(_)
                | SourceError::TimedOut(_)
                | SourceError::Io(_)
                | SourceError::Protocol(_)
                | SourceError::Throttled(_)
        )
    }
}

/// One open connection to a mailbox.
pub enum Session {
    Imap(ImapSession),
    Pop3(Pop3Session),
    Maildir(MaildirSession),
    Mbox(MboxSession),
    Graph(GraphSession),
}

impl Session {
    /// Connects and logs in. A wrong password is `SourceError::Login` and touches nothing.
    pub async fn connect(cfg: &SourceConfig) -> Result<Session, SourceError> {
        Session::connect_with_timeout(cfg, IO_TIMEOUT).await
    }

    /// Like [`Session::connect`] with another inactivity limit for every read and write.
    pub async fn connect_with_timeout(cfg: &SourceConfig, io_timeout: Duration) -> Result<Session, SourceError> {
        Ok(match cfg.protocol {
            Protocol::Imap => Session::Imap(ImapSession::connect(cfg, io_timeout).await?),
            Protocol::Pop3 => Session::Pop3(Pop3Session::connect(cfg, io_timeout).await?),
            Protocol::Maildir => Session::Maildir(MaildirSession::connect(cfg).await?),
            Protocol::Mbox => Session::Mbox(MboxSession::connect(cfg).await?),
            Protocol::Graph => Session::Graph(GraphSession::connect(cfg, io_timeout).await?),
        })
    }

    /// Every message currently waiting in the folder, oldest first.
    pub async fn list(&mut self) -> Result<Vec<Envelope>, SourceError> {
        match self {
            Session::Imap(s) => s.list().await,
            Session::Pop3(s) => s.list().await,
            Session::Maildir(s) => s.list().await,
            Session::Mbox(s) => s.list().await,
            Session::Graph(s) => s.list().await,
        }
    }

    /// Raw bytes of these messages (keys from `list`), in the same order. Pipelined where the protocol allows.
    /// A message that disappeared since `list` is left out (and logged); a broken connection is an error,
    /// never a partial success.
    pub async fn fetch(&mut self, keys: &[String]) -> Result<Vec<Fetched>, SourceError> {
        match self {
            Session::Imap(s) => s.fetch(keys).await,
            Session::Pop3(s) => s.fetch(keys).await,
            Session::Maildir(s) => s.fetch(keys).await,
            Session::Mbox(s) => s.fetch(keys).await,
            Session::Graph(s) => s.fetch(keys).await,
        }
    }

    /// Moves or deletes these messages per `Disposal`. Idempotent: a key that is gone already is fine.
    /// IMAP keys from another UIDVALIDITY cannot be addressed and are skipped (logged).
    /// POP3 always deletes, and the deletion only takes effect at `close`.
    pub async fn dispose(&mut self, keys: &[String]) -> Result<(), SourceError> {
        match self {
            Session::Imap(s) => s.dispose(keys).await,
            Session::Pop3(s) => s.dispose(keys).await,
            Session::Maildir(s) => s.dispose(keys).await,
            Session::Mbox(_) => Ok(()),
            Session::Graph(s) => s.dispose(keys).await,
        }
    }

    /// What this session hands to the next pass of the mailbox (Graph: its [`SyncState`] as JSON;
    /// others None). Store it only after a clean pass, so a failed one is repeated from the old state.
    pub fn sync_state(&self) -> Option<String> {
        match self {
            Session::Graph(s) => Some(s.sync_state()),
            _ => None,
        }
    }

    /// The mailbox's folders as paths with "/" (for the form's folder picker): Graph and IMAP;
    /// the other sources have none to choose.
    pub async fn folders(&mut self) -> Result<Vec<String>, SourceError> {
        match self {
            Session::Graph(s) => s.folders().await,
            Session::Imap(s) => s.folders().await,
            Session::Pop3(_) | Session::Maildir(_) | Session::Mbox(_) => Ok(Vec::new()),
        }
    }

    /// Whether [`Session::idle_wait`] is real push: an IMAP server that announced IDLE.
    pub fn supports_idle(&self) -> bool {
        matches!(self, Session::Imap(s) if s.has_idle())
    }

    /// IMAP only: waits in IDLE up to `timeout` (a hard limit, also when the server sends
    /// keepalives; keep it below 14 min so the server does not log us out) for new mail:
    /// Ok(true) at `* n EXISTS` (call `list`), Ok(false) on timeout. The connection **stays in
    /// IDLE** between calls (renewed once it is older than `timeout`), so nothing announced in
    /// between is missed; EXPUNGE and flag changes are no new mail; any other command leaves IDLE
    /// first. Servers without IDLE: sleeps `timeout` and returns Ok(true).
    pub async fn idle_wait(&mut self, timeout: Duration) -> Result<bool, SourceError> {
        match self {
            Session::Imap(s) => s.idle_wait(timeout).await,
            Session::Pop3(_) | Session::Maildir(_) | Session::Mbox(_) | Session::Graph(_) => {
                Err(SourceError::Config("waiting for new mail (IDLE) needs IMAP".into()))
            }
        }
    }

    /// Ends the session cleanly (POP3: QUIT, which commits deletions).
    pub async fn close(self) -> Result<(), SourceError> {
        match self {
            Session::Imap(s) => s.close().await,
            Session::Pop3(s) => s.close().await,
            Session::Maildir(_) | Session::Mbox(_) | Session::Graph(_) => Ok(()),
        }
    }
}

/// Connects, lists the mailbox's folders and disconnects — for the form's folder picker.
pub async fn list_folders(cfg: &SourceConfig) -> Result<Vec<String>, SourceError> {
    let mut session = Session::connect(cfg).await?;
    let folders = session.folders().await?;
    session.close().await?;
    Ok(folders)
}

/// Connects, counts the waiting messages and disconnects — for the "test connection" button.
pub async fn test_connection(cfg: &SourceConfig) -> Result<usize, SourceError> {
    let mut session = Session::connect(cfg).await?;
    let waiting = session.list().await?.len();
    session.close().await?;
    Ok(waiting)
}
