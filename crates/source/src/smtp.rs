//! A small SMTP submission client (RFC 5321; STARTTLS, RFC 3207; AUTH PLAIN and LOGIN, RFC 4954)
//! for the mails Postkorb sends (notifications, acknowledgements, „Testnachricht senden“).
//!
//! It talks over the same stream as the mailbox adapters (`stream.rs`): the host's addresses are
//! checked against the [`NetPolicy`] and only those are connected to; TLS is rustls with the ring
//! provider and the optional CA file. STARTTLS that the server does not offer is an error, never a
//! silent downgrade, and data the server sends ahead of the TLS handshake is refused. A password is
//! sent only over TLS — or in plain text to a server on this machine (loopback) when the setting
//! says „none“. Reply lines and replies are capped; every failure is a classified [`SmtpError`]
//! whose German words never quote the server (the English text, for logs and the CLI, may).

use std::net::SocketAddr;
use std::path::PathBuf;
use std::time::Duration;

use base64::Engine;
use tokio::io::{AsyncWriteExt, BufReader};

use crate::pop3::{Capped, read_line_capped};
use crate::stream::{Conn, Limit, Timed, connect_tcp, io_error};
use crate::{NetPolicy, SourceError, TlsMode, tls};

/// Longest reply line accepted (RFC 5321 allows 512 octets; servers send longer texts).
const MAX_LINE: usize = 4 * 1024;
/// Most lines in one reply (an EHLO answer has a dozen).
const MAX_LINES: usize = 100;

/// Where and how to submit mail.
#[derive(Clone)]
pub struct SmtpConfig {
    pub host: String,
    pub port: u16,
    /// Implicit TLS (465), STARTTLS (587), or none (only sensible on loopback).
    pub tls: TlsMode,
    /// Empty: no login (a relay that trusts this host).
    pub username: String,
    pub password: String,
    /// Extra CA certificate (PEM) to trust, besides the system roots.
    pub ca_file: Option<PathBuf>,
    pub net: NetPolicy,
}

impl std::fmt::Debug for SmtpConfig {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("SmtpConfig")
            .field("host", &self.host)
            .field("port", &self.port)
            .field("tls", &self.tls)
            .field("username", &self.username)
            .field("password", &"<redacted>")
            .field("ca_file", &self.ca_file)
            .field("net", &self.net)
            .finish()
    }
}

/// A server's reply: the code and its text (all lines joined by a space).
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Reply {
    pub code: u16,
    pub text: String,
}

impl std::fmt::Display for Reply {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "{} {}", self.code, self.text)
    }
}

impl Reply {
    fn is_transient(&self) -> bool {
        (400..500).contains(&self.code)
    }
}

/// Why a mail was not sent.
#[derive(Debug, thiserror::Error)]
pub enum SmtpError {
    /// Not reached, blocked by the network policy, TLS failed, or the connection broke.
    #[error("{0}")]
    Connect(SourceError),
    #[error("the server does not offer STARTTLS; refusing to send without TLS")]
    NoStartTls,
    #[error("refusing to send the password without TLS to a server that is not on this machine")]
    PlainLogin,
    #[error("the server offers no login method Postkorb knows (AUTH PLAIN or LOGIN)")]
    NoLoginMethod,
    #[error("login refused: {0}")]
    Login(Reply),
    #[error("the server refused the sender address: {0}")]
    Sender(Reply),
    #[error("the server refused the recipient {address}: {reply}")]
    Recipient { address: String, reply: Reply },
    #[error("the server refused the message: {0}")]
    Message(Reply),
    #[error("protocol error: {0}")]
    Protocol(String),
    /// An address or login with a line break or angle bracket, or no recipient.
    #[error("invalid input: {0}")]
    Input(String),
}

impl SmtpError {
    /// Worth trying again later: network trouble, a busy server, a 4xx reply.
    pub fn is_transient(&self) -> bool {
        match self {
            SmtpError::Connect(e) => e.is_transient(),
            SmtpError::Login(r) | SmtpError::Sender(r) | SmtpError::Message(r) => r.is_transient(),
            SmtpError::Recipient { reply, .. } => reply.is_transient(),
            SmtpError::Protocol(_) => true,
            SmtpError::NoStartTls | SmtpError::PlainLogin | SmtpError::NoLoginMethod | SmtpError::Input(_) => false,
        }
    }

    /// A short English word for logs, metrics and the API.
    pub fn kind(&self) -> &'static str {
        match self {
            SmtpError::Connect(SourceError::NotFound(_)) => "not_found",
            SmtpError::Connect(SourceError::Refused(_)) => "refused",
            SmtpError::Connect(SourceError::TimedOut(_)) => "timed_out",
            SmtpError::Connect(SourceError::Blocked(_)) => "blocked",
            SmtpError::Connect(SourceError::Tls(_)) => "tls",
            SmtpError::Connect(SourceError::Config(_)) => "config",
            SmtpError::Connect(_) => "connection",
            SmtpError::NoStartTls => "no_starttls",
            SmtpError::PlainLogin => "plain_login",
            SmtpError::NoLoginMethod => "no_login_method",
            SmtpError::Login(_) => "login",
            SmtpError::Sender(_) => "sender_refused",
            SmtpError::Recipient { .. } => "recipient_refused",
            SmtpError::Message(_) => "message_refused",
            SmtpError::Protocol(_) => "protocol",
            SmtpError::Input(_) => "input",
        }
    }

    /// What went wrong in words a clerk understands; never the server's own text.
    pub fn german(&self) -> String {
        match self {
            SmtpError::Connect(SourceError::NotFound(_)) => "Der Server wurde nicht gefunden. Bitte den Servernamen prüfen.".into(),
            SmtpError::Connect(SourceError::Refused(_)) => {
                "Der Server hat die Verbindung abgelehnt. Bitte Server und Port prüfen.".into()
            }
            SmtpError::Connect(SourceError::TimedOut(_)) => {
                "Der Server antwortet nicht. Bitte Server und Port prüfen oder später erneut versuchen.".into()
            }
            SmtpError::Connect(SourceError::Blocked(_)) => {
                "Dieser Server liegt in einem internen Netz; Verbindungen dorthin sind in den Einstellungen nicht erlaubt."
                    .into()
            }
            SmtpError::Connect(SourceError::Tls(_)) => {
                "Die verschlüsselte Verbindung kam nicht zustande: das Zertifikat des Servers wurde nicht anerkannt \
                 oder die Verschlüsselung passt nicht. Bitte Verschlüsselung, Port und ggf. die CA-Datei prüfen."
                    .into()
            }
            SmtpError::Connect(SourceError::Config(_)) => {
                "Die Einstellungen sind unvollständig oder die CA-Datei ist nicht lesbar.".into()
            }
            SmtpError::Connect(_) | SmtpError::Protocol(_) => {
                "Die Verbindung zum Server brach ab oder er antwortete unerwartet. Bitte später erneut versuchen.".into()
            }
            SmtpError::NoStartTls => {
                "Der Server bietet keine Verschlüsselung (STARTTLS) an; ohne Verschlüsselung sendet Postkorb nicht."
                    .into()
            }
            SmtpError::PlainLogin => {
                "Ohne Verschlüsselung sendet Postkorb das Passwort nur an einen Server auf diesem Rechner.".into()
            }
            SmtpError::NoLoginMethod => "Der Server bietet kein Anmeldeverfahren an, das Postkorb beherrscht.".into(),
            SmtpError::Login(_) => "Die Anmeldung wurde abgelehnt. Bitte Benutzername und Passwort prüfen.".into(),
            SmtpError::Sender(_) => {
                "Der Server hat die Absenderadresse abgelehnt. Darf dieses Konto mit dieser Adresse senden?".into()
            }
            SmtpError::Recipient { .. } => "Der Server hat die Empfängeradresse abgelehnt.".into(),
            SmtpError::Message(_) => "Der Server hat die Nachricht abgelehnt.".into(),
            SmtpError::Input(_) => "Eine Adresse oder die Anmeldedaten enthalten unzulässige Zeichen.".into(),
        }
    }
}

impl From<SourceError> for SmtpError {
    fn from(e: SourceError) -> Self {
        SmtpError::Connect(e)
    }
}

/// Sends `message` (a complete RFC 5322 mail, CRLF or LF lines) from `from` to `to` with the
/// default inactivity limit ([`crate::IO_TIMEOUT`]).
pub async fn send_mail(cfg: &SmtpConfig, from: &str, to: &[String], message: &[u8]) -> Result<(), SmtpError> {
    send_mail_with_timeout(cfg, from, to, message, crate::IO_TIMEOUT).await
}

/// Like [`send_mail`] with another limit for every read and write.
pub async fn send_mail_with_timeout(
    cfg: &SmtpConfig,
    from: &str,
    to: &[String],
    message: &[u8],
    limit: Duration,
) -> Result<(), SmtpError> {
    check_input(cfg, from, to)?;
    let mut session = Session::open(cfg, limit).await?;
    session.login(cfg).await?;
    session.transfer(from, to, message).await?;
    session.quit().await;
    Ok(())
}

fn check_input(cfg: &SmtpConfig, from: &str, to: &[String]) -> Result<(), SmtpError> {
    let bad = |s: &str| s.chars().any(|c| c.is_control() || c == '<' || c == '>' || c.is_whitespace());
    if to.is_empty() {
        return Err(SmtpError::Input("no recipient".into()));
    }
    if bad(from) || to.iter().any(|t| t.is_empty() || bad(t)) {
        return Err(SmtpError::Input("an address contains a space, control character or angle bracket".into()));
    }
    if [&cfg.username, &cfg.password].iter().any(|s| s.contains(['\r', '\n', '\0'])) {
        return Err(SmtpError::Input("user name or password contains a line break".into()));
    }
    Ok(())
}

struct Session {
    conn: BufReader<Timed>,
    limit: Limit,
    /// EHLO keywords (upper case), e.g. "STARTTLS", "AUTH PLAIN LOGIN".
    caps: Vec<String>,
    tls: bool,
    peer: SocketAddr,
    ehlo: String,
}

impl Session {
    async fn open(cfg: &SmtpConfig, limit: Duration) -> Result<Session, SmtpError> {
        let tcp = connect_tcp(&cfg.host, cfg.port, limit, cfg.net).await?;
        let peer = tcp.peer_addr().map_err(|e| SmtpError::Connect(io_error(e)))?;
        let ehlo = match tcp.local_addr() {
            Ok(SocketAddr::V4(a)) => format!("[{}]", a.ip()),
            Ok(SocketAddr::V6(a)) => format!("[IPv6:{}]", a.ip()),
            Err(_) => "[127.0.0.1]".into(),
        };
        let limit = Limit::new(limit);
        let conn = match cfg.tls {
            TlsMode::Implicit => {
                let stream = tls::handshake(tcp, &cfg.host, cfg.ca_file.as_deref(), limit.get()).await?;
                Conn::Tls(Box::new(stream))
            }
            TlsMode::StartTls | TlsMode::None => Conn::Plain(tcp),
        };
        let mut s = Session {
            conn: BufReader::new(Timed::new(conn, limit.clone())),
            limit,
            caps: Vec::new(),
            tls: cfg.tls == TlsMode::Implicit,
            peer,
            ehlo,
        };
        let greeting = s.reply().await?;
        if greeting.code != 220 {
            return Err(SmtpError::Connect(SourceError::Connect(format!("greeting: {greeting}"))));
        }
        s.hello().await?;
        if cfg.tls == TlsMode::StartTls {
            return s.start_tls(cfg).await;
        }
        Ok(s)
    }

    async fn hello(&mut self) -> Result<(), SmtpError> {
        let (reply, lines) = self.command_lines(&format!("EHLO {}", self.ehlo)).await?;
        if reply.code != 250 {
            return Err(SmtpError::Protocol(format!("EHLO: {reply}")));
        }
        self.caps = lines.iter().skip(1).map(|l| l.trim().to_ascii_uppercase()).collect();
        Ok(())
    }

    fn offers(&self, keyword: &str) -> bool {
        self.caps.iter().any(|c| c.split([' ', '=']).next() == Some(keyword))
    }

    async fn start_tls(mut self, cfg: &SmtpConfig) -> Result<Session, SmtpError> {
        if !self.offers("STARTTLS") {
            self.quit().await;
            return Err(SmtpError::NoStartTls);
        }
        let reply = self.command("STARTTLS").await?;
        if reply.code != 220 {
            return Err(SmtpError::Connect(SourceError::Tls(format!("STARTTLS refused: {reply}"))));
        }
        if !self.conn.buffer().is_empty() {
            // Anything sent before the handshake could be an attacker's injection (CVE-2011-0411).
            return Err(SmtpError::Protocol("the server sent data before the TLS handshake".into()));
        }
        let Session { conn, limit, peer, ehlo, .. } = self;
        let Conn::Plain(tcp) = conn.into_inner().into_inner() else {
            return Err(SmtpError::Protocol("STARTTLS on a connection that is not plain".into()));
        };
        let stream = tls::handshake(tcp, &cfg.host, cfg.ca_file.as_deref(), limit.get()).await?;
        let conn = BufReader::new(Timed::new(Conn::Tls(Box::new(stream)), limit.clone()));
        let mut s = Session { conn, limit, caps: Vec::new(), tls: true, peer, ehlo };
        // What the server said before TLS is forgotten (RFC 3207 4.2).
        s.hello().await?;
        Ok(s)
    }

    async fn login(&mut self, cfg: &SmtpConfig) -> Result<(), SmtpError> {
        if cfg.username.is_empty() {
            return Ok(());
        }
        let plain_to_loopback = cfg.tls == TlsMode::None && self.peer.ip().is_loopback();
        if !self.tls && !plain_to_loopback {
            self.quit().await;
            return Err(SmtpError::PlainLogin);
        }
        let b64 = base64::engine::general_purpose::STANDARD;
        let mechanisms: Vec<String> = self
            .caps
            .iter()
            .filter_map(|c| c.strip_prefix("AUTH").filter(|rest| rest.starts_with([' ', '='])))
            .flat_map(|rest| rest[1..].split_whitespace().map(str::to_string).collect::<Vec<_>>())
            .collect();
        let reply = if mechanisms.iter().any(|m| m == "PLAIN") {
            let token = b64.encode(format!("\0{}\0{}", cfg.username, cfg.password));
            self.command(&format!("AUTH PLAIN {token}")).await?
        } else if mechanisms.iter().any(|m| m == "LOGIN") {
            let first = self.command("AUTH LOGIN").await?;
            if first.code != 334 {
                return Err(SmtpError::Login(first));
            }
            let second = self.command(&b64.encode(&cfg.username)).await?;
            if second.code != 334 {
                return Err(SmtpError::Login(second));
            }
            self.command(&b64.encode(&cfg.password)).await?
        } else {
            self.quit().await;
            return Err(SmtpError::NoLoginMethod);
        };
        if reply.code != 235 {
            return Err(SmtpError::Login(reply));
        }
        Ok(())
    }

    async fn transfer(&mut self, from: &str, to: &[String], message: &[u8]) -> Result<(), SmtpError> {
        let reply = self.command(&format!("MAIL FROM:<{from}>")).await?;
        if reply.code != 250 {
            return Err(SmtpError::Sender(reply));
        }
        for address in to {
            let reply = self.command(&format!("RCPT TO:<{address}>")).await?;
            if reply.code != 250 && reply.code != 251 {
                self.quit().await;
                return Err(SmtpError::Recipient { address: address.clone(), reply });
            }
        }
        let reply = self.command("DATA").await?;
        if reply.code != 354 {
            return Err(SmtpError::Message(reply));
        }
        let w = self.conn.get_mut();
        w.write_all(&wire(message)).await.map_err(io_error)?;
        w.flush().await.map_err(io_error)?;
        let reply = self.reply().await?;
        if reply.code != 250 {
            return Err(SmtpError::Message(reply));
        }
        Ok(())
    }

    /// QUIT; its answer does not matter (the mail is accepted or the session failed already).
    async fn quit(&mut self) {
        if self.send("QUIT").await.is_ok() {
            let _ = self.reply().await;
        }
    }

    async fn send(&mut self, line: &str) -> Result<(), SmtpError> {
        let w = self.conn.get_mut();
        w.write_all(format!("{line}\r\n").as_bytes()).await.map_err(io_error)?;
        w.flush().await.map_err(io_error)?;
        Ok(())
    }

    async fn command(&mut self, line: &str) -> Result<Reply, SmtpError> {
        Ok(self.command_lines(line).await?.0)
    }

    async fn command_lines(&mut self, line: &str) -> Result<(Reply, Vec<String>), SmtpError> {
        self.send(line).await?;
        self.reply_lines().await
    }

    async fn reply(&mut self) -> Result<Reply, SmtpError> {
        Ok(self.reply_lines().await?.0)
    }

    /// One reply: "250-first", …, "250 last"; each line's text without the code.
    async fn reply_lines(&mut self) -> Result<(Reply, Vec<String>), SmtpError> {
        let mut texts = Vec::new();
        loop {
            let mut raw = Vec::new();
            read_line_capped(&mut self.conn, &mut raw, MAX_LINE).await.map_err(|e| match e {
                Capped::Lost => SmtpError::Connect(SourceError::Io("connection lost".into())),
                Capped::TooLong => SmtpError::Protocol(format!("a reply line longer than {MAX_LINE} bytes")),
                Capped::Io(e) => SmtpError::Connect(e),
            })?;
            let line = String::from_utf8_lossy(&raw);
            let line = line.trim_end_matches(['\r', '\n']);
            let code = line.get(..3).and_then(|c| c.parse::<u16>().ok()).filter(|c| (200..600).contains(c));
            let Some(code) = code else {
                return Err(SmtpError::Protocol(format!(
                    "not a reply: {:?}",
                    line.chars().take(80).collect::<String>()
                )));
            };
            let more = line.as_bytes().get(3) == Some(&b'-');
            texts.push(line.get(4..).unwrap_or_default().to_string());
            if !more {
                let text = texts.join(" ").chars().take(500).collect();
                return Ok((Reply { code, text }, texts));
            }
            if texts.len() >= MAX_LINES {
                return Err(SmtpError::Protocol(format!("a reply of more than {MAX_LINES} lines")));
            }
        }
    }
}

/// The DATA section on the wire: CRLF line ends (a lone LF or CR becomes CRLF), lines starting
/// with "." doubled, then the terminating ".".
fn wire(message: &[u8]) -> Vec<u8> {
    let mut out = Vec::with_capacity(message.len() + message.len() / 50 + 5);
    let mut at_line_start = true;
    let mut i = 0;
    while i < message.len() {
        let b = message[i];
        match b {
            b'\r' | b'\n' => {
                out.extend_from_slice(b"\r\n");
                if b == b'\r' && message.get(i + 1) == Some(&b'\n') {
                    i += 1;
                }
                at_line_start = true;
            }
            _ => {
                if at_line_start && b == b'.' {
                    out.push(b'.');
                }
                out.push(b);
                at_line_start = false;
            }
        }
        i += 1;
    }
    if !at_line_start {
        out.extend_from_slice(b"\r\n");
    }
    out.extend_from_slice(b".\r\n");
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_data_section_is_dot_stuffed_with_crlf_and_terminated() {
        let cases: [(&[u8], &[u8]); 5] = [
            (b"a\r\nb\r\n", b"a\r\nb\r\n.\r\n"),
            (b".hidden\n..two\nend", b"..hidden\r\n...two\r\nend\r\n.\r\n"),
            (b"x\r\n.\r\ny", b"x\r\n..\r\ny\r\n.\r\n"),
            (b"lone\rcr\n", b"lone\r\ncr\r\n.\r\n"),
            (b"", b".\r\n"),
        ];
        for (body, expected) in cases {
            assert_eq!(wire(body), expected, "{:?}", String::from_utf8_lossy(body));
        }
    }

    #[test]
    fn unstuffing_the_wire_gives_the_crlf_body_back() {
        let body = b"Subject: x\r\n\r\n.a\r\n..b\r\n.\r\nend\r\n";
        assert_eq!(crate::dotstuff::unstuff(&wire(body)).unwrap(), body);
    }

    #[test]
    fn addresses_with_line_breaks_or_brackets_are_refused_before_connecting() {
        let cfg = SmtpConfig {
            host: "127.0.0.1".into(),
            port: 1,
            tls: TlsMode::StartTls,
            username: String::new(),
            password: String::new(),
            ca_file: None,
            net: NetPolicy::default(),
        };
        for (from, to) in [("a@b.de\r\nRCPT TO:<x@y>", "c@d.de"), ("a@b.de", "c@d.de>"), ("a@b.de", "")] {
            let err = check_input(&cfg, from, &[to.to_string()]).unwrap_err();
            assert_eq!(err.kind(), "input");
        }
        assert_eq!(check_input(&cfg, "a@b.de", &[]).unwrap_err().kind(), "input");
    }

    #[test]
    fn only_4xx_replies_are_worth_another_try() {
        let r = |code| Reply { code, text: String::new() };
        assert!(SmtpError::Message(r(451)).is_transient());
        assert!(!SmtpError::Message(r(554)).is_transient());
        assert!(!SmtpError::NoStartTls.is_transient());
        assert!(SmtpError::Connect(SourceError::TimedOut("x".into())).is_transient());
    }
}
