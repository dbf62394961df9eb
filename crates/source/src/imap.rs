//! IMAP adapter on async-imap: keys `imap:{folder}:{UIDVALIDITY}:{UID}`, fetch with BODY.PEEK[]
//! (never sets \Seen), disposal by UID MOVE (or COPY + \Deleted + EXPUNGE), and IDLE for push.

use std::collections::HashMap;
use std::time::Duration;

use futures_util::TryStreamExt;

use crate::pop3::{raw_line, raw_send};
use crate::stream::{Conn, Limit, Timed, connect_tcp, io_error};
use crate::{
    Auth, Disposal, Envelope, Fetched, SourceConfig, SourceError, TlsMode, XOAUTH2_FAILED, tls, xoauth2_response,
};

type Imap = async_imap::Session<Timed>;

pub struct ImapSession {
    /// The connection when it is not in IDLE; None while idling (`idling` holds it then) and after
    /// a failed IDLE lost it.
    session: Option<Imap>,
    idling: Option<Box<Idling>>,
    /// The folder as configured (used in keys) and as named on the server (delimiter applied).
    folder: String,
    server_folder: String,
    delimiter: Option<String>,
    uidvalidity: u32,
    disposal: Disposal,
    has_move: bool,
    has_uidplus: bool,
    has_idle: bool,
    /// Target folders known to exist, so CREATE is tried once per session.
    created: Vec<String>,
    limit: Limit,
    io_timeout: Duration,
}

/// The connection while it is in IDLE, and since when (IDLE is renewed now and then).
struct Idling {
    handle: async_imap::extensions::idle::Handle<Timed>,
    since: std::time::Instant,
}

/// SASL XOAUTH2 for async-imap: the first challenge (empty) gets the bearer response; a second one
/// is the server's error JSON, which must be answered with an empty line before its NO arrives.
struct XOAuth2 {
    response: Option<String>,
}

impl async_imap::Authenticator for XOAuth2 {
    type Response = String;

    fn process(&mut self, challenge: &[u8]) -> String {
        match self.response.take() {
            Some(response) => response,
            None => {
                tracing::debug!(error = %String::from_utf8_lossy(challenge), "XOAUTH2 refused by the server");
                String::new()
            }
        }
    }
}

/// Maps async-imap errors: I/O stays I/O (or TLS), NO/BAD and parse trouble are protocol errors.
fn imap_error(context: &str, e: async_imap::error::Error) -> SourceError {
    use async_imap::error::Error;
    match e {
        Error::Io(io) => io_error(io),
        Error::ConnectionLost => SourceError::Io(format!("{context}: connection lost")),
        Error::Validate(v) => SourceError::Config(format!("{context}: {v}")),
        other => SourceError::Protocol(format!("{context}: {other}")),
    }
}

impl ImapSession {
    pub(crate) async fn connect(cfg: &SourceConfig, io_timeout: Duration) -> Result<ImapSession, SourceError> {
        let limit = Limit::new(io_timeout);
        let tcp = connect_tcp(&cfg.host, cfg.port, io_timeout, cfg.net).await?;
        let (conn, greeted) = match cfg.tls {
            TlsMode::Implicit => {
                let tls = tls::handshake(tcp, &cfg.host, cfg.ca_file.as_deref(), io_timeout).await?;
                (Conn::Tls(Box::new(tls)), false)
            }
            TlsMode::StartTls => {
                let tcp = starttls(tcp, io_timeout).await?;
                let tls = tls::handshake(tcp, &cfg.host, cfg.ca_file.as_deref(), io_timeout).await?;
                (Conn::Tls(Box::new(tls)), true)
            }
            TlsMode::None => (Conn::Plain(tcp), false),
        };
        let mut client = async_imap::Client::new(Timed::new(conn, limit.clone()));
        if !greeted {
            let greeting = client.read_response().await.map_err(io_error)?;
            let Some(greeting) = greeting else {
                return Err(SourceError::Connect("server closed the connection before greeting".into()));
            };
            if let async_imap::imap_proto::Response::Data { status: async_imap::imap_proto::Status::Bye, .. } =
                greeting.parsed()
            {
                return Err(SourceError::Connect("server refused the connection (BYE)".into()));
            }
        }
        let mut session = match &cfg.auth {
            Auth::Password => match client.login(&cfg.username, &cfg.password).await {
                Ok(session) => session,
                Err((async_imap::error::Error::No(msg) | async_imap::error::Error::Bad(msg), _)) => {
                    return Err(SourceError::Login(msg));
                }
                Err((e, _)) => return Err(imap_error("LOGIN", e)),
            },
            Auth::XOAuth2 { access_token } => {
                let auth = XOAuth2 { response: Some(xoauth2_response(&cfg.username, access_token)) };
                match client.authenticate("XOAUTH2", auth).await {
                    Ok(session) => session,
                    Err((async_imap::error::Error::No(msg) | async_imap::error::Error::Bad(msg), _)) => {
                        return Err(SourceError::Login(format!("{XOAUTH2_FAILED}: {msg}")));
                    }
                    Err((e, _)) => return Err(imap_error("AUTHENTICATE XOAUTH2", e)),
                }
            }
        };
        let caps = session.capabilities().await.map_err(|e| imap_error("CAPABILITY", e))?;
        let delimiter = server_delimiter(&mut session).await?;
        let folder = if cfg.folder.trim().is_empty() { "INBOX".to_string() } else { cfg.folder.clone() };
        let mut imap = ImapSession {
            server_folder: server_name(&folder, delimiter.as_deref()),
            session: Some(session),
            idling: None,
            folder,
            delimiter,
            uidvalidity: 0,
            disposal: cfg.disposal.clone(),
            has_move: caps.has_str("MOVE"),
            has_uidplus: caps.has_str("UIDPLUS"),
            has_idle: caps.has_str("IDLE"),
            created: Vec::new(),
            limit,
            io_timeout,
        };
        imap.select().await?;
        Ok(imap)
    }

    fn session(&mut self) -> Result<&mut Imap, SourceError> {
        self.session.as_mut().ok_or_else(|| SourceError::Io("IMAP connection lost during IDLE".into()))
    }

    /// (Re-)selects the folder, refreshing UIDVALIDITY and the message list.
    async fn select(&mut self) -> Result<(), SourceError> {
        let name = self.server_folder.clone();
        let mailbox = match self.session()?.select(&name).await {
            Ok(mailbox) => mailbox,
            Err(async_imap::error::Error::No(_)) => return Err(SourceError::FolderMissing(self.folder.clone())),
            Err(e) => return Err(imap_error("SELECT", e)),
        };
        self.uidvalidity =
            mailbox.uid_validity.ok_or_else(|| SourceError::Protocol("server sent no UIDVALIDITY".into()))?;
        Ok(())
    }

    fn key(&self, uid: u32) -> String {
        format!("imap:{}:{}:{}", self.folder, self.uidvalidity, uid)
    }

    /// UIDs of keys that address the current folder and UIDVALIDITY; others are logged and skipped.
    fn current_uids(&self, keys: &[String]) -> Vec<u32> {
        keys.iter()
            .filter_map(|key| match parse_key(key) {
                Some((folder, validity, uid)) if folder == self.folder && validity == self.uidvalidity => Some(uid),
                _ => {
                    tracing::warn!(%key, uidvalidity = self.uidvalidity, "key not addressable in this folder; skipped");
                    None
                }
            })
            .collect()
    }

    pub(crate) async fn list(&mut self) -> Result<Vec<Envelope>, SourceError> {
        self.leave_idle().await?;
        self.select().await?;
        let session = self.session()?;
        let mut uids: Vec<u32> =
            session.uid_search("ALL").await.map_err(|e| imap_error("UID SEARCH", e))?.into_iter().collect();
        uids.sort_unstable();
        if uids.is_empty() {
            return Ok(Vec::new());
        }
        let set = uid_set(&uids);
        // Each response is read into a buffer of its own (4 KiB at least): kept until the whole
        // listing was read, 100,000 of them held 400 MB (bench/scale.py). So each is taken apart
        // as it arrives and only its UID and size are kept.
        let mut sizes: HashMap<u32, u64> = HashMap::with_capacity(uids.len());
        {
            let mut stream =
                session.uid_fetch(&set, "(UID RFC822.SIZE)").await.map_err(|e| imap_error("UID FETCH", e))?;
            while let Some(f) = stream.try_next().await.map_err(|e| imap_error("UID FETCH", e))? {
                if let (Some(uid), Some(size)) = (f.uid, f.size) {
                    sizes.insert(uid, u64::from(size));
                }
            }
        }
        Ok(uids.into_iter().map(|uid| Envelope { key: self.key(uid), size: sizes.get(&uid).copied() }).collect())
    }

    /// One pipelined UID FETCH for the batch; returns the messages in the order asked for.
    /// A message that vanished meanwhile is left out; a broken connection is an error.
    pub(crate) async fn fetch(&mut self, keys: &[String]) -> Result<Vec<Fetched>, SourceError> {
        let uids = self.current_uids(keys);
        if uids.is_empty() {
            return Ok(Vec::new());
        }
        self.leave_idle().await?;
        let session = self.session()?;
        // Each response's buffer becomes the mail's bytes as it arrives (`Fetch::into_body` of
        // vendor/async-imap: no copy, and the few bytes around the body are freed with it), so a
        // batch is held once — this is what bounds the importer's peak memory.
        let mut bodies: HashMap<u32, bytes::Bytes> = HashMap::new();
        {
            let mut stream =
                session.uid_fetch(uid_set(&uids), "(UID BODY.PEEK[])").await.map_err(|e| imap_error("UID FETCH", e))?;
            while let Some(fetch) = stream.try_next().await.map_err(|e| imap_error("UID FETCH", e))? {
                let uid = fetch.uid;
                if let (Some(uid), Some(body)) = (uid, fetch.into_body()) {
                    bodies.insert(uid, body);
                }
            }
        }
        if uids.iter().any(|uid| !bodies.contains_key(uid)) {
            // The fetch stream also just ends when the connection drops between two messages;
            // a NOOP tells "vanished on the server" from "connection gone".
            session.noop().await.map_err(|e| imap_error("NOOP after UID FETCH", e))?;
        }
        let uidvalidity = self.uidvalidity;
        Ok(uids
            .into_iter()
            .filter_map(|uid| {
                let raw = bodies.remove(&uid)?;
                Some(Fetched { key: format!("imap:{}:{}:{}", self.folder, uidvalidity, uid), raw })
            })
            .collect())
    }

    pub(crate) async fn dispose(&mut self, keys: &[String]) -> Result<(), SourceError> {
        let uids = self.current_uids(keys);
        if uids.is_empty() {
            return Ok(());
        }
        self.leave_idle().await?;
        let set = uid_set(&uids);
        match self.disposal.clone() {
            Disposal::MoveTo(target) => {
                let target = server_name(&target, self.delimiter.as_deref());
                self.ensure_folder(&target).await?;
                let (has_move, has_uidplus) = (self.has_move, self.has_uidplus);
                let session = self.session()?;
                if has_move {
                    session.uid_mv(&set, &target).await.map_err(|e| imap_error("UID MOVE", e))?;
                } else {
                    session.uid_copy(&set, &target).await.map_err(|e| imap_error("UID COPY", e))?;
                    delete(session, &set, has_uidplus).await?;
                }
            }
            Disposal::Delete => {
                let has_uidplus = self.has_uidplus;
                delete(self.session()?, &set, has_uidplus).await?;
            }
            Disposal::Leave => {}
        }
        Ok(())
    }

    /// CREATE the target folder unless it exists; a CREATE that fails because it exists is fine.
    async fn ensure_folder(&mut self, target: &str) -> Result<(), SourceError> {
        if self.created.iter().any(|f| f == target) {
            return Ok(());
        }
        let session = self.session()?;
        if let Err(e) = session.create(target).await {
            let exists = session
                .list(Some(""), Some(&quote(target)))
                .await
                .map_err(|e| imap_error("LIST", e))?
                .try_collect::<Vec<_>>()
                .await
                .map_err(|e| imap_error("LIST", e))?
                .iter()
                .any(|name| name.name() == target);
            if !exists {
                return Err(imap_error(&format!("CREATE {target}"), e));
            }
        }
        self.created.push(target.to_string());
        Ok(())
    }

    /// Every selectable folder, with "/" as the delimiter (at most 500).
    pub(crate) async fn folders(&mut self) -> Result<Vec<String>, SourceError> {
        let delimiter = self.delimiter.clone();
        let names: Vec<_> = self
            .session()?
            .list(Some(""), Some("*"))
            .await
            .map_err(|e| imap_error("LIST", e))?
            .try_collect()
            .await
            .map_err(|e| imap_error("LIST", e))?;
        let mut out: Vec<String> = names
            .iter()
            .filter(|n| !n.attributes().iter().any(|a| matches!(a, async_imap::types::NameAttribute::NoSelect)))
            .map(|n| match delimiter.as_deref() {
                Some(d) if d != "/" => n.name().replace(d, "/"),
                _ => n.name().to_string(),
            })
            .collect();
        out.sort();
        out.truncate(500);
        Ok(out)
    }

    /// Whether the server announced IDLE (push); without it `idle_wait` only sleeps.
    pub(crate) fn has_idle(&self) -> bool {
        self.has_idle
    }

    /// Waits in IDLE until the server announces new mail (`* n EXISTS`: Ok(true)) or `timeout`
    /// passes (Ok(false)), and **stays in IDLE** when it returns: the server's change notifications
    /// keep coming while the caller works, and a mail that arrives between two calls is reported
    /// by the next one at once. Other reports (EXPUNGE, flag changes, keepalives) are read and
    /// passed over. An IDLE older than `timeout` is renewed (DONE + IDLE) before waiting, so one
    /// IDLE lasts at most twice `timeout`. Any other command leaves IDLE first.
    ///
    /// `timeout` is a hard wall-clock limit: async-imap's own IDLE timeout restarts on every
    /// response, so a server sending `* OK Still here` keepalives would otherwise keep us in one
    /// wait forever and never renew the IDLE.
    pub(crate) async fn idle_wait(&mut self, timeout: Duration) -> Result<bool, SourceError> {
        if !self.has_idle {
            tokio::time::sleep(timeout).await;
            return Ok(true);
        }
        let mut new = false;
        if self.idling.as_ref().is_some_and(|i| i.since.elapsed() >= timeout) {
            new |= self.leave_idle().await?;
        }
        if self.idling.is_none() {
            new |= self.enter_idle(timeout).await?;
        }
        if new {
            return Ok(true);
        }
        let Some(idling) = self.idling.as_mut() else {
            return Err(SourceError::Io("IMAP connection lost during IDLE".into()));
        };
        let deadline = tokio::time::Instant::now() + timeout;
        loop {
            let left = deadline.saturating_duration_since(tokio::time::Instant::now());
            if left.is_zero() {
                return Ok(false);
            }
            match wait_at_most(&mut idling.handle, left).await {
                Ok(Some(true)) => {
                    tracing::debug!(target: "arrival", "IDLE: new mail (EXISTS)");
                    return Ok(true);
                }
                Ok(Some(false)) => {}
                Ok(None) => return Ok(false),
                Err(e) => {
                    self.idling = None;
                    return Err(e);
                }
            }
        }
    }

    /// Sends IDLE; true when the server reported new mail before its "+ idling" (it syncs first).
    async fn enter_idle(&mut self, timeout: Duration) -> Result<bool, SourceError> {
        let session = self.session.take().ok_or_else(|| SourceError::Io("IMAP connection lost".into()))?;
        // Whatever was reported before now is covered by the caller's last `list`.
        while session.unsolicited_responses.try_recv().is_ok() {}
        // async-imap files what arrives before "+ idling" under unsolicited responses.
        let unsolicited = session.unsolicited_responses.clone();
        let mut handle = session.idle();
        handle.init().await.map_err(|e| imap_error("IDLE", e))?;
        let new = drain_new_mail(std::iter::from_fn(|| unsolicited.try_recv().ok()));
        // The inactivity limit would end a quiet IDLE; lift it while we idle on purpose (a wait
        // may begin up to `timeout` after the last thing read, and last `timeout`).
        self.limit.set(2 * timeout + self.io_timeout);
        self.idling = Some(Box::new(Idling { handle, since: std::time::Instant::now() }));
        Ok(new)
    }

    /// Ends IDLE (DONE) if the connection is in it; true when new mail was reported meanwhile.
    async fn leave_idle(&mut self) -> Result<bool, SourceError> {
        let Some(idling) = self.idling.take() else { return Ok(false) };
        let handle = idling.handle;
        self.limit.set(self.io_timeout);
        let session = handle.done().await.map_err(|e| imap_error("DONE", e))?;
        // A server may report new mail while DONE is on its way; async-imap files that under
        // unsolicited responses.
        let new = drain_new_mail(std::iter::from_fn(|| session.unsolicited_responses.try_recv().ok()));
        self.session = Some(session);
        Ok(new)
    }

    pub(crate) async fn close(mut self) -> Result<(), SourceError> {
        self.leave_idle().await?;
        if let Some(mut session) = self.session.take() {
            session.logout().await.map_err(|e| imap_error("LOGOUT", e))?;
        }
        Ok(())
    }
}

/// One IDLE wait with a hard limit, until the server's first response other than a keepalive:
/// Some(true) when it announces new mail, Some(false) for anything else; None when the time is up.
async fn wait_at_most(
    handle: &mut async_imap::extensions::idle::Handle<Timed>,
    limit: Duration,
) -> Result<Option<bool>, SourceError> {
    use async_imap::extensions::idle::IdleResponse;
    let (wait, stop) = handle.wait_with_timeout(limit);
    let mut wait = std::pin::pin!(wait);
    let (response, stopped) = tokio::select! {
        response = &mut wait => (response, false),
        () = tokio::time::sleep(limit) => {
            // Dropping the stop source ends the wait at once (ManualInterrupt), leaving the
            // connection in IDLE and ready for DONE.
            drop(stop);
            (wait.await, true)
        }
    };
    match response.map_err(|e| imap_error("IDLE", e))? {
        IdleResponse::NewData(data) => Ok(Some(announces_new_mail(data.parsed()))),
        IdleResponse::Timeout => Ok(None),
        IdleResponse::ManualInterrupt if stopped => Ok(None),
        // Not stopped by us: the response stream ended, the server closed the connection.
        IdleResponse::ManualInterrupt => Err(SourceError::Io("IMAP connection closed during IDLE".into())),
    }
}

/// `* n EXISTS` (or `* n RECENT`): the mailbox has a message we have not seen. EXPUNGE and flag
/// changes are not new mail.
fn announces_new_mail(response: &async_imap::imap_proto::Response<'_>) -> bool {
    use async_imap::imap_proto::{MailboxDatum, Response};
    matches!(response, Response::MailboxData(MailboxDatum::Exists(_) | MailboxDatum::Recent(_)))
}

/// Reads all of the unsolicited responses; true when one of them announced new mail.
fn drain_new_mail(unsolicited: impl Iterator<Item = async_imap::types::UnsolicitedResponse>) -> bool {
    use async_imap::types::UnsolicitedResponse;
    unsolicited.fold(false, |new, r| new | matches!(r, UnsolicitedResponse::Exists(_) | UnsolicitedResponse::Recent(_)))
}

/// STORE \Deleted then expunge only these UIDs (UID EXPUNGE) or, without UIDPLUS, all \Deleted.
async fn delete(session: &mut Imap, set: &str, has_uidplus: bool) -> Result<(), SourceError> {
    session
        .uid_store(set, "+FLAGS.SILENT (\\Deleted)")
        .await
        .map_err(|e| imap_error("UID STORE", e))?
        .try_collect::<Vec<_>>()
        .await
        .map_err(|e| imap_error("UID STORE", e))?;
    if has_uidplus {
        session
            .uid_expunge(set)
            .await
            .map_err(|e| imap_error("UID EXPUNGE", e))?
            .try_collect::<Vec<_>>()
            .await
            .map_err(|e| imap_error("UID EXPUNGE", e))?;
    } else {
        session
            .expunge()
            .await
            .map_err(|e| imap_error("EXPUNGE", e))?
            .try_collect::<Vec<_>>()
            .await
            .map_err(|e| imap_error("EXPUNGE", e))?;
    }
    Ok(())
}

/// The server's hierarchy delimiter (LIST "" ""), so "Postkorb/Importiert" works on "." servers.
async fn server_delimiter(session: &mut Imap) -> Result<Option<String>, SourceError> {
    let names: Vec<_> = session
        .list(Some(""), Some("\"\""))
        .await
        .map_err(|e| imap_error("LIST", e))?
        .try_collect()
        .await
        .map_err(|e| imap_error("LIST", e))?;
    Ok(names.first().and_then(|n| n.delimiter()).map(str::to_string))
}

/// Folder names are configured with "/"; the server may use another delimiter.
fn server_name(folder: &str, delimiter: Option<&str>) -> String {
    match delimiter {
        Some(d) if d != "/" => folder.replace('/', d),
        _ => folder.to_string(),
    }
}

fn quote(s: &str) -> String {
    format!("\"{}\"", s.replace('\\', "\\\\").replace('"', "\\\""))
}

/// `imap:{folder}:{uidvalidity}:{uid}`; the folder may itself contain ':'.
pub(crate) fn parse_key(key: &str) -> Option<(&str, u32, u32)> {
    let rest = key.strip_prefix("imap:")?;
    let mut parts = rest.rsplitn(3, ':');
    let uid = parts.next()?.parse().ok()?;
    let validity = parts.next()?.parse().ok()?;
    Some((parts.next()?, validity, uid))
}

/// A compact UID set: "1:3,7,9:10".
pub(crate) fn uid_set(uids: &[u32]) -> String {
    let mut sorted = uids.to_vec();
    sorted.sort_unstable();
    sorted.dedup();
    let mut out = Vec::new();
    let mut i = 0;
    while i < sorted.len() {
        let start = sorted[i];
        let mut end = start;
        while i + 1 < sorted.len() && sorted[i + 1] == end + 1 {
            i += 1;
            end = sorted[i];
        }
        out.push(if start == end { start.to_string() } else { format!("{start}:{end}") });
        i += 1;
    }
    out.join(",")
}

/// Capability check and STARTTLS on the plain connection; refuses if STARTTLS is not offered.
async fn starttls(mut tcp: tokio::net::TcpStream, limit: Duration) -> Result<tokio::net::TcpStream, SourceError> {
    let greeting = raw_line(&mut tcp, limit).await?;
    if !greeting.starts_with("* OK") && !greeting.starts_with("* PREAUTH") {
        return Err(SourceError::Connect(format!("server refused the connection: {}", greeting.trim_end())));
    }
    raw_send(&mut tcp, "S1 CAPABILITY", limit).await?;
    let mut offers = false;
    loop {
        let line = raw_line(&mut tcp, limit).await?;
        if line.starts_with("S1 ") {
            break;
        }
        offers |= line.to_ascii_uppercase().split_whitespace().any(|w| w == "STARTTLS");
    }
    if !offers {
        return Err(SourceError::Tls("server does not offer STARTTLS; refusing to log in without TLS".into()));
    }
    raw_send(&mut tcp, "S2 STARTTLS", limit).await?;
    loop {
        let line = raw_line(&mut tcp, limit).await?;
        if line.starts_with("S2 OK") {
            return Ok(tcp);
        }
        if line.starts_with("S2 ") {
            return Err(SourceError::Tls(format!("STARTTLS refused: {}", line.trim_end())));
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn uid_sets_compress_runs() {
        assert_eq!(uid_set(&[3, 1, 2, 7, 9, 10]), "1:3,7,9:10");
        assert_eq!(uid_set(&[5]), "5");
    }

    #[test]
    fn keys_parse_from_the_right_so_folders_may_contain_colons() {
        assert_eq!(parse_key("imap:INBOX:17:4"), Some(("INBOX", 17, 4)));
        assert_eq!(parse_key("imap:a:b:17:4"), Some(("a:b", 17, 4)));
        assert_eq!(parse_key("pop3:x"), None);
        assert_eq!(parse_key("imap:INBOX:x:4"), None);
    }

    #[test]
    fn folder_names_use_the_server_delimiter() {
        assert_eq!(server_name("Postkorb/Importiert", Some(".")), "Postkorb.Importiert");
        assert_eq!(server_name("Postkorb/Importiert", Some("/")), "Postkorb/Importiert");
        assert_eq!(server_name("Postkorb/Importiert", None), "Postkorb/Importiert");
    }
}
