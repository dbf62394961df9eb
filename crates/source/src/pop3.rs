//! A small POP3 client (RFC 1939 + CAPA/STLS from RFC 2449/2595), written here because the
//! available crates do not undo dot-stuffing or lack STLS. Keys are `pop3:{UIDL}`.

use std::collections::HashMap;
use std::time::Duration;

use tokio::io::{AsyncBufRead, AsyncBufReadExt, AsyncWriteExt, BufReader};
use tokio::net::TcpStream;

use crate::dotstuff::{Line, unstuff_line};
use crate::stream::{Conn, Limit, Timed, connect_tcp, io_error};
use crate::{Auth, Envelope, Fetched, SourceConfig, SourceError, TlsMode, XOAUTH2_FAILED, tls, xoauth2_response};

/// Longest status line or line of a UIDL/LIST answer accepted (RFC 1939 allows 512 octets).
const MAX_LINE: usize = 8 * 1024;

/// Largest message (and UIDL/LIST answer) accepted: the IMAP adapter's limit, async-imap's
/// largest response buffer (`Buffer::MAX_CAPACITY` in vendor/async-imap/src/imap_stream.rs).
pub(crate) const MAX_MESSAGE: usize = 512 * 1024 * 1024;

pub struct Pop3Session {
    conn: BufReader<Timed>,
    /// UIDL → (message number, size) from the last `list`.
    index: HashMap<String, (u32, Option<u64>)>,
    listed: bool,
    /// [`MAX_MESSAGE`] unless set by [`Pop3Session::set_max_message`].
    max_message: usize,
}

impl Pop3Session {
    pub(crate) async fn connect(cfg: &SourceConfig, limit: Duration) -> Result<Pop3Session, SourceError> {
        if cfg.disposal == crate::Disposal::Leave {
            return Err(SourceError::Config(
                "POP3 mail is always deleted after import; \"leave\" is not supported".into(),
            ));
        }
        let token = match &cfg.auth {
            Auth::XOAuth2 { access_token } => Some(access_token.as_str()),
            Auth::Password => None,
        };
        if [cfg.username.as_str(), cfg.password.as_str(), token.unwrap_or_default()]
            .iter()
            .any(|s| s.contains(['\r', '\n', '\x01']))
        {
            return Err(SourceError::Config("user name or password contains a line break".into()));
        }
        let tcp = connect_tcp(&cfg.host, cfg.port, limit, cfg.net).await?;
        let conn = match cfg.tls {
            TlsMode::Implicit => {
                let tls = tls::handshake(tcp, &cfg.host, cfg.ca_file.as_deref(), limit).await?;
                Conn::Tls(Box::new(tls))
            }
            TlsMode::StartTls => {
                let tcp = stls(tcp, limit).await?;
                let tls = tls::handshake(tcp, &cfg.host, cfg.ca_file.as_deref(), limit).await?;
                Conn::Tls(Box::new(tls))
            }
            TlsMode::None => Conn::Plain(tcp),
        };
        let mut session = Pop3Session {
            conn: BufReader::new(Timed::new(conn, Limit::new(limit))),
            index: HashMap::new(),
            listed: false,
            max_message: MAX_MESSAGE,
        };
        if cfg.tls != TlsMode::StartTls {
            let greeting = session.read_line().await?;
            if !greeting.starts_with("+OK") {
                return Err(SourceError::Connect(format!("server refused the connection: {}", greeting.trim_end())));
            }
        }
        match token {
            Some(token) => session.login_xoauth2(&cfg.username, token).await?,
            None => session.login(&cfg.username, &cfg.password).await?,
        }
        Ok(session)
    }

    /// Lowers (or raises) the largest message and listing this session accepts (default: the IMAP
    /// adapter's 512 MiB).
    pub fn set_max_message(&mut self, bytes: usize) {
        self.max_message = bytes;
    }

    async fn login(&mut self, user: &str, password: &str) -> Result<(), SourceError> {
        let user_answer = self.command_raw(&format!("USER {user}")).await?;
        if !user_answer.starts_with("+OK") {
            return Err(SourceError::Login(user_answer.trim_end().to_string()));
        }
        let pass_answer = self.command_raw(&format!("PASS {password}")).await?;
        if !pass_answer.starts_with("+OK") {
            return Err(SourceError::Login(pass_answer.trim_end().to_string()));
        }
        Ok(())
    }

    /// `AUTH XOAUTH2` (RFC 5034 with Google's/Microsoft's mechanism): the response goes along as
    /// the initial response when the line stays within 255 octets, else after the server's "+".
    /// A refusal comes as "+ <base64 error JSON>", answered with an empty line, then -ERR.
    async fn login_xoauth2(&mut self, user: &str, token: &str) -> Result<(), SourceError> {
        use base64::Engine;
        let b64 = base64::engine::general_purpose::STANDARD;
        let response = b64.encode(xoauth2_response(user, token));
        let initial = format!("AUTH XOAUTH2 {response}");
        let mut pending = if initial.len() + 2 <= 255 {
            self.send(&initial).await?;
            None
        } else {
            self.send("AUTH XOAUTH2").await?;
            Some(response)
        };
        let mut server_error = String::new();
        loop {
            let line = self.read_line().await?;
            let line = line.trim_end();
            if line.starts_with("+OK") {
                return Ok(());
            }
            if line.starts_with("-ERR") {
                let detail =
                    if server_error.is_empty() { line.to_string() } else { format!("{line} ({server_error})") };
                return Err(SourceError::Login(format!("{XOAUTH2_FAILED}: {detail}")));
            }
            let Some(challenge) = line.strip_prefix('+') else {
                return Err(SourceError::Protocol(format!("AUTH XOAUTH2: unexpected answer {line:?}")));
            };
            match pending.take() {
                Some(response) => self.send(&response).await?,
                None if server_error.is_empty() => {
                    let decoded = b64.decode(challenge.trim()).unwrap_or_default();
                    server_error = String::from_utf8_lossy(&decoded).chars().take(300).collect();
                    if server_error.is_empty() {
                        server_error = "no detail".into();
                    }
                    self.send("").await?;
                }
                None => return Err(SourceError::Protocol("AUTH XOAUTH2: server keeps asking".into())),
            }
        }
    }

    async fn read_line(&mut self) -> Result<String, SourceError> {
        let mut line = Vec::new();
        read_line_capped(&mut self.conn, &mut line, MAX_LINE).await.map_err(|e| match e {
            Capped::Lost => SourceError::Io("connection lost".into()),
            Capped::TooLong => SourceError::Protocol(format!("server sent a line longer than {MAX_LINE} bytes")),
            Capped::Io(e) => e,
        })?;
        Ok(String::from_utf8_lossy(&line).into_owned())
    }

    async fn send(&mut self, command: &str) -> Result<(), SourceError> {
        let w = self.conn.get_mut();
        w.write_all(format!("{command}\r\n").as_bytes()).await.map_err(io_error)?;
        w.flush().await.map_err(io_error)
    }

    /// Sends a command and returns the status line, whatever it says.
    async fn command_raw(&mut self, command: &str) -> Result<String, SourceError> {
        self.send(command).await?;
        self.read_line().await
    }

    /// Sends a command; -ERR is a protocol error naming the command's verb (never its arguments).
    async fn command(&mut self, command: &str) -> Result<String, SourceError> {
        let answer = self.command_raw(command).await?;
        if answer.starts_with("+OK") {
            return Ok(answer);
        }
        let verb = command.split_whitespace().next().unwrap_or_default();
        Err(SourceError::Protocol(format!("{verb}: {}", answer.trim_end())))
    }

    /// Reads a multi-line body up to the "." line, undoing dot-stuffing: at most `max_line` bytes
    /// a line and `max_total` in all (the "." line's few bytes beyond). A longer answer is a
    /// protocol error (the session cannot go on), never unbounded memory.
    async fn read_multiline(&mut self, what: &str, max_line: usize, max_total: usize) -> Result<Vec<u8>, SourceError> {
        let mut out = Vec::new();
        let mut line = Vec::new();
        loop {
            line.clear();
            let room = max_total.saturating_sub(out.len()).min(max_line).max(3);
            match read_line_capped(&mut self.conn, &mut line, room).await {
                Ok(()) => {}
                Err(Capped::Lost) => {
                    return Err(SourceError::Io("connection lost in the middle of a response".into()));
                }
                Err(Capped::TooLong) if room < max_line => {
                    return Err(SourceError::Protocol(format!("{what} is larger than {max_total} bytes; refused")));
                }
                Err(Capped::TooLong) => {
                    return Err(SourceError::Protocol(format!("{what}: a line longer than {max_line} bytes")));
                }
                Err(Capped::Io(e)) => return Err(e),
            }
            match unstuff_line(&line) {
                Line::End => return Ok(out),
                Line::Data(data) if out.len() + data.len() > max_total => {
                    return Err(SourceError::Protocol(format!("{what} is larger than {max_total} bytes; refused")));
                }
                Line::Data(data) => out.extend_from_slice(data),
            }
        }
    }

    pub(crate) async fn list(&mut self) -> Result<Vec<Envelope>, SourceError> {
        self.command("UIDL").await?;
        let uidls = self.read_multiline("the UIDL answer", MAX_LINE, self.max_message).await?;
        self.command("LIST").await?;
        let sizes = self.read_multiline("the LIST answer", MAX_LINE, self.max_message).await?;
        let sizes: HashMap<u32, u64> = pairs(&sizes).filter_map(|(n, size)| Some((n, size.parse().ok()?))).collect();
        let mut numbered: Vec<(u32, String)> = pairs(&uidls).map(|(n, uidl)| (n, uidl.to_string())).collect();
        numbered.sort_by_key(|(n, _)| *n);
        self.index.clear();
        let mut out = Vec::with_capacity(numbered.len());
        for (n, uidl) in numbered {
            let size = sizes.get(&n).copied();
            self.index.insert(uidl.clone(), (n, size));
            out.push(Envelope { key: format!("pop3:{uidl}"), size });
        }
        self.listed = true;
        Ok(out)
    }

    async fn ensure_listed(&mut self) -> Result<(), SourceError> {
        if !self.listed {
            self.list().await?;
        }
        Ok(())
    }

    pub(crate) async fn fetch(&mut self, keys: &[String]) -> Result<Vec<Fetched>, SourceError> {
        self.ensure_listed().await?;
        let mut out = Vec::with_capacity(keys.len());
        for key in keys {
            let Some(&(n, size)) = uidl_of(key).and_then(|u| self.index.get(u)) else {
                tracing::warn!(%key, "message not on the POP3 server (any more); skipped");
                continue;
            };
            if size.is_some_and(|size| size > self.max_message as u64) {
                return Err(SourceError::Protocol(format!(
                    "message {key} is larger than {} bytes; refused (remove it from the mailbox by hand)",
                    self.max_message
                )));
            }
            self.command(&format!("RETR {n}")).await?;
            let what = format!("message {key}");
            let raw = self.read_multiline(&what, usize::MAX, self.max_message).await?;
            out.push(Fetched { key: key.clone(), raw: raw.into() });
        }
        Ok(out)
    }

    /// Marks the messages deleted; the server removes them at QUIT (`close`).
    pub(crate) async fn dispose(&mut self, keys: &[String]) -> Result<(), SourceError> {
        self.ensure_listed().await?;
        for key in keys {
            let Some(&(n, _)) = uidl_of(key).and_then(|u| self.index.get(u)) else {
                tracing::debug!(%key, "already gone from the POP3 server");
                continue;
            };
            let answer = self.command_raw(&format!("DELE {n}")).await?;
            if !answer.starts_with("+OK") {
                // Most likely "already deleted" in this session; it will go at QUIT either way.
                tracing::debug!(%key, answer = answer.trim_end(), "DELE refused");
            }
        }
        Ok(())
    }

    /// QUIT commits the deletions; anything but +OK means they did not happen.
    pub(crate) async fn close(mut self) -> Result<(), SourceError> {
        self.command("QUIT").await?;
        Ok(())
    }
}

/// Why a capped line read ended without a line.
pub(crate) enum Capped {
    /// End of stream before the line ended.
    Lost,
    /// No line end within the cap.
    TooLong,
    Io(SourceError),
}

/// Appends one line (through its LF) to `line`, reading at most `max` bytes: unlike
/// `read_until`, an endless line from a hostile server ends in `TooLong`, not in memory use.
pub(crate) async fn read_line_capped<R: AsyncBufRead + Unpin>(
    r: &mut R,
    line: &mut Vec<u8>,
    max: usize,
) -> Result<(), Capped> {
    loop {
        let available = r.fill_buf().await.map_err(|e| Capped::Io(io_error(e)))?;
        if available.is_empty() {
            return Err(Capped::Lost);
        }
        let (take, ends) = match available.iter().position(|&b| b == b'\n') {
            Some(i) => (i + 1, true),
            None => (available.len(), false),
        };
        if line.len() + take > max {
            return Err(Capped::TooLong);
        }
        line.extend_from_slice(&available[..take]);
        r.consume(take);
        if ends {
            return Ok(());
        }
    }
}

fn uidl_of(key: &str) -> Option<&str> {
    key.strip_prefix("pop3:")
}

/// "n value" lines of a UIDL or LIST answer.
fn pairs(body: &[u8]) -> impl Iterator<Item = (u32, &str)> {
    std::str::from_utf8(body).unwrap_or_default().lines().filter_map(|line| {
        let mut parts = line.split_whitespace();
        let n = parts.next()?.parse().ok()?;
        Some((n, parts.next()?))
    })
}

/// Greeting, CAPA and STLS on the plain connection; refuses if STLS is not offered.
/// Reads byte by byte so nothing of the TLS handshake is swallowed by a buffer.
async fn stls(mut tcp: TcpStream, limit: Duration) -> Result<TcpStream, SourceError> {
    let greeting = raw_line(&mut tcp, limit).await?;
    if !greeting.starts_with("+OK") {
        return Err(SourceError::Connect(format!("server refused the connection: {}", greeting.trim_end())));
    }
    raw_send(&mut tcp, "CAPA", limit).await?;
    let mut offers_stls = false;
    if raw_line(&mut tcp, limit).await?.starts_with("+OK") {
        loop {
            let line = raw_line(&mut tcp, limit).await?;
            if line.trim_end() == "." {
                break;
            }
            offers_stls |= line.trim_end().eq_ignore_ascii_case("STLS");
        }
    }
    if !offers_stls {
        return Err(SourceError::Tls("server does not offer STLS; refusing to log in without TLS".into()));
    }
    raw_send(&mut tcp, "STLS", limit).await?;
    let answer = raw_line(&mut tcp, limit).await?;
    if !answer.starts_with("+OK") {
        return Err(SourceError::Tls(format!("STLS refused: {}", answer.trim_end())));
    }
    Ok(tcp)
}

pub(crate) async fn raw_send(tcp: &mut TcpStream, command: &str, limit: Duration) -> Result<(), SourceError> {
    tokio::time::timeout(limit, tcp.write_all(format!("{command}\r\n").as_bytes()))
        .await
        .map_err(|_| SourceError::Io("timed out writing to the server".into()))?
        .map_err(io_error)
}

/// One line from an unbuffered stream (only used for the few lines before STARTTLS/STLS).
pub(crate) async fn raw_line(tcp: &mut TcpStream, limit: Duration) -> Result<String, SourceError> {
    use tokio::io::AsyncReadExt;
    let read = async {
        let mut line = Vec::new();
        loop {
            let b = tcp.read_u8().await.map_err(io_error)?;
            line.push(b);
            if b == b'\n' || line.len() > 64 * 1024 {
                return Ok(String::from_utf8_lossy(&line).into_owned());
            }
        }
    };
    tokio::time::timeout(limit, read).await.map_err(|_| SourceError::Io("timed out waiting for the server".into()))?
}
