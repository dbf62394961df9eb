//! Microsoft Graph adapter (Microsoft 365 without IMAP): keys `graph:{immutable id}`, new mail by a
//! delta query on the folder, the raw mail by `/messages/{id}/$value`, disposal by `move` into the
//! target folder (created if missing) or `DELETE`.
//!
//! **Ids.** Every request asks for immutable ids (`Prefer: IdType="ImmutableId"`), so a message
//! keeps its key when it is moved; a REST id would change on every move.
//!
//! **Listing.** The session carries a [`SyncState`] from pass to pass (stored by the importer after
//! a clean pass, never after a failed one or a dry run): the folder's delta link and the messages
//! listed before that are still in the folder and were not disposed of (left by the cut-off,
//! waiting for DNS, or left by a crash between commit and move). A pass lists those plus what the
//! delta link reports as added, minus what it reports as removed. A lost, expired (`410 Gone`) or
//! foreign delta link means a full listing of the folder; the ledger keeps that free of duplicates.
//!
//! **Where requests go.** Only to the Graph root, made from the settings' host, port and TLS mode
//! ([`checked_root`]): `https://graph.microsoft.com`, or a server on a loopback address (a test
//! double; only while `allow_private_hosts` allows loopback) — no other host, so a mailbox's
//! settings cannot aim the access token or the requests anywhere else. The host is resolved once,
//! checked against the [`NetPolicy`](crate::NetPolicy) and pinned; no redirects; a
//! `@odata.nextLink` or delta link elsewhere is refused.
//!
//! **Throttling.** `429`, `503` and `504` are retried after their `Retry-After` (or a short
//! doubling back-off); a wait longer than [`MAX_RETRY_WAIT`] or too many in a row end the pass
//! with [`SourceError::Throttled`], and the serve loop's back-off takes over.

use std::collections::HashSet;
use std::time::Duration;

use futures_util::{StreamExt, TryStreamExt};
use reqwest::{Method, StatusCode, Url};
use serde::{Deserialize, Serialize};
use serde_json::{Value, json};

mod subscribe;

pub use subscribe::Subscription;

use crate::http::{HttpLimit, pinned_client};
use crate::{Auth, Disposal, Envelope, Fetched, SourceConfig, SourceError, TlsMode};

/// The one Graph host (besides loopback test servers); its secrets are bound to it like any host.
pub const GRAPH_HOST: &str = "graph.microsoft.com";

/// How every `SourceError::Login` detail of a refused access token starts (`401`).
pub const GRAPH_TOKEN_REFUSED: &str = "access token refused by Microsoft Graph";

/// A `Retry-After` longer than this ends the pass instead of waiting in it.
pub const MAX_RETRY_WAIT: Duration = Duration::from_secs(120);

/// Throttled answers in a row before the pass gives up.
const MAX_TRIES: u32 = 6;

/// Requests in flight at once (Graph allows four per mailbox and app).
const PARALLEL: usize = 4;

/// Folders the picker lists at most.
pub const MAX_FOLDERS: usize = 500;

/// What a Graph session hands from one pass to the next (stored as JSON by the importer).
#[derive(Clone, Debug, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct SyncState {
    /// The folder's id the state belongs to; another folder starts afresh.
    pub folder: String,
    /// The last `@odata.deltaLink`.
    pub delta: Option<String>,
    /// Immutable ids listed before, still in the folder and not disposed of, oldest first.
    pub pending: Vec<String>,
}

/// The Graph-specific settings of a [`SourceConfig`].
#[derive(Clone, Debug, Default)]
pub struct GraphOptions {
    /// The state of the last clean pass ([`SyncState`] as JSON), if any.
    pub sync_state: Option<String>,
    /// Longest `Retry-After` waited for inside a pass; None: [`MAX_RETRY_WAIT`].
    pub max_retry_wait: Option<Duration>,
}

pub struct GraphSession {
    http: reqwest::Client,
    /// The mailbox's address as configured.
    mailbox: String,
    /// `{root}/v1.0/users/{mailbox}/`.
    user: Url,
    /// The Graph root's origin: every link followed must be on it.
    origin: reqwest::Url,
    token: String,
    folder_id: String,
    disposal: Disposal,
    target_id: Option<String>,
    state: SyncState,
    max_wait: Duration,
    max_message: usize,
}

/// `graph:{id}` ↔ id.
fn key(id: &str) -> String {
    format!("graph:{id}")
}

fn id_of(key: &str) -> Option<&str> {
    key.strip_prefix("graph:").filter(|id| !id.is_empty())
}

/// The Graph root for these settings: `https://graph.microsoft.com` (TLS on port 443), or a
/// loopback IP address (a local test server, with or without TLS); anything else is refused.
pub fn checked_root(host: &str, port: u16, tls: TlsMode) -> Result<Url, SourceError> {
    let host = host.trim();
    let refused = || {
        SourceError::Config(format!(
            "Microsoft Graph is reached at https://{GRAPH_HOST} only (or a test server on a loopback address), not {host}:{port}"
        ))
    };
    if host.eq_ignore_ascii_case(GRAPH_HOST) {
        return match (tls, port) {
            (TlsMode::Implicit, 443 | 0) => Url::parse(&format!("https://{GRAPH_HOST}")).map_err(|_| refused()),
            _ => Err(refused()),
        };
    }
    let ip: std::net::IpAddr = host.trim_start_matches('[').trim_end_matches(']').parse().map_err(|_| refused())?;
    let scheme = match tls {
        TlsMode::Implicit => "https",
        TlsMode::None => "http",
        TlsMode::StartTls => return Err(refused()),
    };
    if !ip.is_loopback() || port == 0 {
        return Err(refused());
    }
    let at = match ip {
        std::net::IpAddr::V6(v6) => format!("[{v6}]"),
        std::net::IpAddr::V4(v4) => v4.to_string(),
    };
    Url::parse(&format!("{scheme}://{at}:{port}")).map_err(|_| refused())
}

impl GraphSession {
    pub(crate) async fn connect(cfg: &SourceConfig, io_timeout: Duration) -> Result<GraphSession, SourceError> {
        let root = checked_root(&cfg.host, cfg.port, cfg.tls)?;
        let Auth::XOAuth2 { access_token } = &cfg.auth else {
            return Err(SourceError::Config("Microsoft Graph needs an OAuth2 access token".into()));
        };
        let mailbox = cfg.username.trim();
        if mailbox.is_empty() || mailbox.contains(['/', '?', '#']) {
            return Err(SourceError::Config("Microsoft Graph needs the mailbox's address".into()));
        }
        let http = pinned_client(root.as_str(), cfg.net, HttpLimit::Idle(io_timeout)).await?;
        let mut user = root.clone();
        user.path_segments_mut()
            .map_err(|()| SourceError::Config("Graph URL cannot take a path".into()))?
            .pop_if_empty()
            .extend(["v1.0", "users", mailbox, ""]);
        let mut session = GraphSession {
            http,
            mailbox: mailbox.to_string(),
            user,
            origin: root,
            token: access_token.clone(),
            folder_id: String::new(),
            disposal: cfg.disposal.clone(),
            target_id: None,
            state: SyncState::default(),
            max_wait: cfg.graph.max_retry_wait.unwrap_or(MAX_RETRY_WAIT),
            max_message: crate::pop3::MAX_MESSAGE,
        };
        session.folder_id = session.folder_by_path(&cfg.folder, false).await?;
        session.state = match cfg.graph.sync_state.as_deref().map(serde_json::from_str::<SyncState>) {
            Some(Ok(state)) if state.folder == session.folder_id => state,
            Some(Err(e)) => {
                tracing::warn!(error = %e, "unreadable Graph sync state; listing the folder afresh");
                SyncState::default()
            }
            _ => SyncState::default(),
        };
        session.state.folder = session.folder_id.clone();
        Ok(session)
    }

    /// Caps the size of one message (default: IMAP's and POP3's 512 MiB). For tests.
    pub fn set_max_message(&mut self, bytes: usize) {
        self.max_message = bytes;
    }

    /// The state to hand to the next pass (JSON of [`SyncState`]).
    pub(crate) fn sync_state(&self) -> String {
        serde_json::to_string(&self.state).unwrap_or_default()
    }

    fn url(&self, path: &[&str]) -> Url {
        let mut url = self.user.clone();
        if let Ok(mut segments) = url.path_segments_mut() {
            segments.pop_if_empty().extend(path);
        }
        url
    }

    /// `{root}/v1.0/{path…}`: an address outside the mailbox (`/subscriptions`).
    fn api(&self, path: &[&str]) -> Url {
        let mut url = self.origin.clone();
        if let Ok(mut segments) = url.path_segments_mut() {
            segments.pop_if_empty().push("v1.0").extend(path);
        }
        url
    }

    /// Whether `link` (from the server or the stored state) is on the Graph root's origin, below
    /// `/v1.0/`. Only the origin keeps the token where it belongs; the rest of the path is Graph's
    /// to choose (it may name the mailbox by its object id, `users('…')` or another casing).
    fn ours(&self, link: &str) -> Option<Url> {
        let url = Url::parse(link).ok()?;
        let same = url.origin() == self.origin.origin() && url.path().starts_with("/v1.0/");
        (same && url.username().is_empty() && url.password().is_none()).then_some(url)
    }

    /// One request with the token and the immutable-id preference; throttled answers are waited
    /// out (see the module doc). Answers other than 2xx become errors, except those `ok_also` names.
    async fn send(
        &self,
        method: Method,
        url: Url,
        body: Option<&Value>,
        ok_also: &[StatusCode],
    ) -> Result<reqwest::Response, SourceError> {
        let mut tries = 0;
        loop {
            let mut request = self
                .http
                .request(method.clone(), url.clone())
                .bearer_auth(&self.token)
                // Exactly this preference and no other (not even `odata.maxpagesize`): the one
                // thing the keys depend on must not be lost in a combined header.
                .header("Prefer", "IdType=\"ImmutableId\"");
            if let Some(body) = body {
                request = request
                    .header(reqwest::header::CONTENT_TYPE, "application/json")
                    .body(serde_json::to_vec(body).unwrap_or_default());
            }
            let response = request.send().await.map_err(http_error)?;
            let status = response.status();
            if status.is_success() || ok_also.contains(&status) {
                return Ok(response);
            }
            let throttled = matches!(status.as_u16(), 429 | 503 | 504);
            if !throttled {
                return Err(refusal(status, response).await);
            }
            tries += 1;
            let wait = retry_after(&response).unwrap_or(Duration::from_secs(1 << tries.min(5)));
            if tries >= MAX_TRIES || wait > self.max_wait {
                return Err(SourceError::Throttled(format!(
                    "Microsoft Graph answered {status} {tries} times; asked to wait {} s",
                    wait.as_secs()
                )));
            }
            tracing::info!(status = status.as_u16(), wait_ms = wait.as_millis() as u64, "Graph throttled; waiting");
            tokio::time::sleep(wait).await;
        }
    }

    async fn get_json(&self, url: Url) -> Result<Value, SourceError> {
        let response = self.send(Method::GET, url, None, &[]).await?;
        json_of(response).await
    }

    /// The folder's id for a path of display names ("INBOX" or "Inbox" is the well-known Inbox),
    /// creating the missing ones if `create`.
    async fn folder_by_path(&mut self, path: &str, create: bool) -> Result<String, SourceError> {
        let path = path.trim().trim_matches('/');
        if path.is_empty() || path.eq_ignore_ascii_case("inbox") {
            let inbox = self.get_json(self.url(&["mailFolders", "inbox"])).await?;
            return string(&inbox, "id");
        }
        let mut parent: Option<String> = None;
        for name in path.split('/') {
            let list = match &parent {
                None => self.url(&["mailFolders"]),
                Some(id) => self.url(&["mailFolders", id, "childFolders"]),
            };
            let found = self.find_child(list.clone(), name).await?;
            let id = match found {
                Some(id) => id,
                None if create => self.create_folder(list, name).await?,
                None => return Err(SourceError::FolderMissing(path.to_string())),
            };
            parent = Some(id);
        }
        parent.ok_or_else(|| SourceError::FolderMissing(path.to_string()))
    }

    /// Every folder of the mailbox as a path of display names ("Inbox", "Inbox/Vorgänge"), for the
    /// form's folder picker; at most [`MAX_FOLDERS`], breadth first.
    pub(crate) async fn folders(&self) -> Result<Vec<String>, SourceError> {
        let mut out = Vec::new();
        let mut queue = std::collections::VecDeque::from([(self.url(&["mailFolders"]), String::new())]);
        while let Some((list, prefix)) = queue.pop_front() {
            let mut next = Some(list);
            while let Some(mut url) = next.take() {
                if !url.query().is_some_and(|q| q.contains("skiptoken")) {
                    url.query_pairs_mut().append_pair("$top", "100");
                }
                let page = self.get_json(url).await?;
                for folder in page.get("value").and_then(Value::as_array).into_iter().flatten() {
                    let (Some(id), Some(name)) =
                        (folder.get("id").and_then(Value::as_str), folder.get("displayName").and_then(Value::as_str))
                    else {
                        continue;
                    };
                    let path = if prefix.is_empty() { name.to_string() } else { format!("{prefix}/{name}") };
                    if folder.get("childFolderCount").and_then(Value::as_u64).unwrap_or(0) > 0 {
                        queue.push_back((self.url(&["mailFolders", id, "childFolders"]), path.clone()));
                    }
                    out.push(path);
                    if out.len() >= MAX_FOLDERS {
                        return Ok(out);
                    }
                }
                next = self.next_link(&page)?;
            }
        }
        Ok(out)
    }

    /// The child folder named `name` in a listing (following its pages).
    async fn find_child(&self, mut list: Url, name: &str) -> Result<Option<String>, SourceError> {
        list.query_pairs_mut().append_pair("$top", "100").append_pair("includeHiddenFolders", "false");
        let mut next = Some(list);
        while let Some(url) = next.take() {
            let page = self.get_json(url).await?;
            for folder in page.get("value").and_then(Value::as_array).into_iter().flatten() {
                if folder.get("displayName").and_then(Value::as_str).is_some_and(|n| n.eq_ignore_ascii_case(name)) {
                    return string(folder, "id").map(Some);
                }
            }
            next = self.next_link(&page)?;
        }
        Ok(None)
    }

    async fn create_folder(&self, list: Url, name: &str) -> Result<String, SourceError> {
        let body = json!({ "displayName": name });
        let response = self.send(Method::POST, list.clone(), Some(&body), &[StatusCode::CONFLICT]).await?;
        if response.status() == StatusCode::CONFLICT {
            // Made meanwhile by someone else (or hidden from the listing): look again.
            return self
                .find_child(list, name)
                .await?
                .ok_or_else(|| SourceError::Protocol(format!("folder {name:?} exists but is not listed")));
        }
        string(&json_of(response).await?, "id")
    }

    /// A page's `@odata.nextLink`, refused unless it stays on the Graph root and this mailbox.
    fn next_link(&self, page: &Value) -> Result<Option<Url>, SourceError> {
        match page.get("@odata.nextLink").and_then(Value::as_str) {
            None => Ok(None),
            Some(link) => self
                .ours(link)
                .map(Some)
                .ok_or_else(|| SourceError::Protocol("a next-page link points outside the Graph mailbox".into())),
        }
    }

    pub(crate) async fn list(&mut self) -> Result<Vec<Envelope>, SourceError> {
        let stored = self.state.delta.as_deref().and_then(|link| {
            let ours = self.ours(link);
            if ours.is_none() {
                tracing::warn!("stored Graph delta link is not on the Graph root; listing the folder afresh");
            }
            ours
        });
        let changes = match stored {
            Some(url) => match self.delta(url).await? {
                Delta::Done(changes, link) => Some((changes, link)),
                Delta::Gone(why) => {
                    tracing::info!(%why, "Graph delta link expired; listing the folder afresh");
                    None
                }
            },
            None => None,
        };
        let (changes, link, fresh) = match changes {
            Some((changes, link)) => (changes, link, false),
            None => {
                let (changes, link) = self.full_listing().await?;
                (changes, link, true)
            }
        };
        if fresh {
            self.state.pending.clear();
        }
        let mut present: HashSet<String> = self.state.pending.iter().cloned().collect();
        for (id, removed) in changes {
            if removed {
                present.remove(&id);
            } else if present.insert(id.clone()) {
                self.state.pending.push(id);
            }
        }
        self.state.pending.retain(|id| present.contains(id));
        self.state.delta = Some(link);
        Ok(self.state.pending.iter().map(|id| Envelope { key: key(id), size: None }).collect())
    }

    /// The whole folder by a delta listing without a token. A page token that expires while the
    /// listing is paged through starts it over (three times at most).
    async fn full_listing(&self) -> Result<(Vec<(String, bool)>, String), SourceError> {
        let mut url = self.url(&["mailFolders", &self.folder_id, "messages", "delta"]);
        url.query_pairs_mut().append_pair("$select", "id,receivedDateTime");
        let mut lost = String::new();
        for _ in 0..3 {
            match self.delta(url.clone()).await? {
                Delta::Done(changes, link) => return Ok((changes, link)),
                Delta::Gone(why) => {
                    tracing::info!(%why, "Graph listing expired while paging; starting over");
                    lost = why;
                }
            }
        }
        Err(SourceError::Protocol(format!("the folder listing expired three times while paging ({lost})")))
    }

    /// Follows a delta listing to its end: (id, removed) in order, and the new delta link.
    async fn delta(&self, first: Url) -> Result<Delta, SourceError> {
        let mut changes = Vec::new();
        let mut next = first;
        loop {
            let lost = [StatusCode::GONE, StatusCode::BAD_REQUEST];
            let response = self.send(Method::GET, next, None, &lost).await?;
            if lost.contains(&response.status()) {
                // 410 Gone (`syncStateNotFound`, `resyncRequired`): start over. A 400 only when
                // its code says the same of the sync state; any other 400 is an error.
                let status = response.status();
                let body = json_lossy(response).await;
                let code = body.pointer("/error/code").and_then(Value::as_str).unwrap_or("gone").to_string();
                let sync = code.to_ascii_lowercase();
                if status == StatusCode::GONE || sync.contains("syncstate") || sync.contains("resync") {
                    return Ok(Delta::Gone(code));
                }
                let code: String = code.chars().filter(|c| c.is_ascii_alphanumeric()).take(60).collect();
                return Err(SourceError::Protocol(format!("Microsoft Graph answered {status} {code}")));
            }
            let page = json_of(response).await?;
            for item in page.get("value").and_then(Value::as_array).into_iter().flatten() {
                let Some(id) = item.get("id").and_then(Value::as_str) else { continue };
                changes.push((id.to_string(), item.get("@removed").is_some()));
            }
            if let Some(url) = self.next_link(&page)? {
                next = url;
                continue;
            }
            let link = page
                .get("@odata.deltaLink")
                .and_then(Value::as_str)
                .ok_or_else(|| SourceError::Protocol("delta listing ended without a delta link".into()))?;
            if self.ours(link).is_none() {
                return Err(SourceError::Protocol("the delta link points outside the Graph mailbox".into()));
            }
            return Ok(Delta::Done(changes, link.to_string()));
        }
    }

    /// The raw mails, a few at a time, in the order asked for. A message gone since the listing
    /// (`404`: moved or deleted by someone else) is left out and forgotten.
    pub(crate) async fn fetch(&mut self, keys: &[String]) -> Result<Vec<Fetched>, SourceError> {
        let ids: Vec<&str> = keys.iter().filter_map(|k| id_of(k)).collect();
        // The futures are made first (a closure inside the stream would make the pass's future
        // not `Send` for rustc), then run a few at a time, in order.
        let requests: Vec<_> = ids.iter().map(|id| self.fetch_one(id)).collect();
        let got: Vec<Option<Fetched>> = futures_util::stream::iter(requests).buffered(PARALLEL).try_collect().await?;
        let fetched: Vec<Fetched> = got.into_iter().flatten().collect();
        let gone: HashSet<&str> =
            ids.iter().copied().filter(|id| !fetched.iter().any(|f| id_of(&f.key) == Some(*id))).collect();
        if !gone.is_empty() {
            tracing::info!(gone = gone.len(), "Graph messages vanished between listing and fetch");
            self.state.pending.retain(|id| !gone.contains(id.as_str()));
        }
        Ok(fetched)
    }

    async fn fetch_one(&self, id: &str) -> Result<Option<Fetched>, SourceError> {
        let url = self.url(&["messages", id, "$value"]);
        let mut response = self.send(Method::GET, url, None, &[StatusCode::NOT_FOUND]).await?;
        if response.status() == StatusCode::NOT_FOUND {
            return Ok(None);
        }
        if response.content_length().is_some_and(|n| n > self.max_message as u64) {
            return Err(too_big(self.max_message));
        }
        let mut raw = bytes::BytesMut::new();
        while let Some(chunk) = response.chunk().await.map_err(http_error)? {
            if raw.len() + chunk.len() > self.max_message {
                return Err(too_big(self.max_message));
            }
            raw.extend_from_slice(&chunk);
        }
        Ok(Some(Fetched { key: key(id), raw: raw.freeze() }))
    }

    /// Moves (into the target folder, created if missing) or deletes these messages. A message
    /// gone already is fine.
    pub(crate) async fn dispose(&mut self, keys: &[String]) -> Result<(), SourceError> {
        let ids: Vec<String> = keys.iter().filter_map(|k| id_of(k)).map(str::to_string).collect();
        let (method, target) = match self.disposal.clone() {
            Disposal::Leave => return Ok(()),
            Disposal::Delete => (Method::DELETE, None),
            Disposal::MoveTo(path) => {
                if self.target_id.is_none() {
                    self.target_id = Some(self.folder_by_path(&path, true).await?);
                }
                (Method::POST, self.target_id.clone())
            }
        };
        let requests: Vec<_> = ids.iter().map(|id| self.dispose_one(method.clone(), target.as_deref(), id)).collect();
        futures_util::stream::iter(requests).buffered(PARALLEL).try_collect::<Vec<()>>().await?;
        let done: HashSet<&str> = ids.iter().map(String::as_str).collect();
        self.state.pending.retain(|id| !done.contains(id.as_str()));
        Ok(())
    }
}

impl GraphSession {
    /// Moves one message into `target` (POST) or deletes it (DELETE); gone already is fine.
    async fn dispose_one(&self, method: Method, target: Option<&str>, id: &str) -> Result<(), SourceError> {
        let (url, body) = match target {
            Some(to) => (self.url(&["messages", id, "move"]), Some(json!({ "destinationId": to }))),
            None => (self.url(&["messages", id]), None),
        };
        self.send(method, url, body.as_ref(), &[StatusCode::NOT_FOUND]).await.map(|_| ())
    }
}

fn too_big(limit: usize) -> SourceError {
    SourceError::Protocol(format!("message larger than {} MiB", limit >> 20))
}

fn string(v: &Value, field: &str) -> Result<String, SourceError> {
    v.get(field)
        .and_then(Value::as_str)
        .map(str::to_string)
        .ok_or_else(|| SourceError::Protocol(format!("Graph answer without {field:?}")))
}

async fn json_of(response: reqwest::Response) -> Result<Value, SourceError> {
    let bytes = response.bytes().await.map_err(http_error)?;
    serde_json::from_slice(&bytes).map_err(|e| SourceError::Protocol(format!("unreadable Graph answer: {e}")))
}

/// An error answer's body as JSON, or Null.
async fn json_lossy(response: reqwest::Response) -> Value {
    match response.bytes().await {
        Ok(b) => serde_json::from_slice(&b).unwrap_or(Value::Null),
        Err(_) => Value::Null,
    }
}

/// How a delta listing ended: its changes and new delta link, or `410 Gone` (the link expired).
enum Delta {
    Done(Vec<(String, bool)>, String),
    Gone(String),
}

/// `Retry-After` in seconds (Graph sends seconds, not dates).
fn retry_after(response: &reqwest::Response) -> Option<Duration> {
    let value = response.headers().get(reqwest::header::RETRY_AFTER)?.to_str().ok()?;
    value.trim().parse::<u64>().ok().map(Duration::from_secs)
}

/// An answer that is neither success nor throttling, classified; the detail names the status and
/// Graph's error code only (never its message text).
async fn refusal(status: StatusCode, response: reqwest::Response) -> SourceError {
    let body = json_lossy(response).await;
    let code = body.pointer("/error/code").and_then(Value::as_str).unwrap_or("").to_string();
    let code: String = code.chars().filter(|c| c.is_ascii_alphanumeric()).take(60).collect();
    match status.as_u16() {
        401 => SourceError::Login(format!("{GRAPH_TOKEN_REFUSED} ({code})")),
        403 => SourceError::Denied(format!("Microsoft Graph: {status} {code}")),
        404 if code == "ErrorInvalidUser" || code == "MailboxNotEnabledForRESTAPI" => {
            SourceError::Denied(format!("Microsoft Graph: mailbox not found ({code})"))
        }
        404 => SourceError::FolderMissing(format!("Microsoft Graph: {status} {code}")),
        _ => SourceError::Protocol(format!("Microsoft Graph answered {status} {code}")),
    }
}

/// reqwest's failures as source errors (a timeout, a refused or lost connection, TLS).
fn http_error(e: reqwest::Error) -> SourceError {
    let mut detail = e.to_string();
    let mut source = std::error::Error::source(&e);
    while let Some(inner) = source {
        detail = format!("{detail}: {inner}");
        source = inner.source();
    }
    if e.is_timeout() {
        SourceError::TimedOut(detail)
    } else if e.is_connect() {
        if detail.contains("certificate") || detail.contains("tls") || detail.contains("TLS") {
            SourceError::Tls(detail)
        } else {
            SourceError::Refused(detail)
        }
    } else {
        SourceError::Io(detail)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn only_graph_microsoft_com_over_tls_or_a_loopback_server() {
        use TlsMode::*;
        let ok = [
            ("graph.microsoft.com", 443, Implicit, "https://graph.microsoft.com/"),
            ("Graph.Microsoft.com", 0, Implicit, "https://graph.microsoft.com/"),
            ("127.0.0.1", 8080, None, "http://127.0.0.1:8080/"),
            ("::1", 8443, Implicit, "https://[::1]:8443/"),
        ];
        for (host, port, tls, root) in ok {
            assert_eq!(checked_root(host, port, tls).unwrap().as_str(), root, "{host}");
        }
        let bad = [
            ("graph.microsoft.com", 443, None),
            ("graph.microsoft.com", 8443, Implicit),
            ("graph.microsoft.com", 443, StartTls),
            ("graph.microsoft.com.evil.test", 443, Implicit),
            ("evil.test", 443, Implicit),
            ("169.254.169.254", 80, None),
            ("10.0.0.1", 443, Implicit),
            ("localhost", 8080, None),
            ("127.0.0.1", 0, None),
            ("127.0.0.1/x", 80, None),
            ("user@127.0.0.1", 80, None),
        ];
        for (host, port, tls) in bad {
            assert!(matches!(checked_root(host, port, tls), Err(SourceError::Config(_))), "{host}:{port}");
        }
    }

    #[test]
    fn keys_are_the_immutable_id() {
        assert_eq!(key("AAkALg=="), "graph:AAkALg==");
        assert_eq!(id_of("graph:AAkALg=="), Some("AAkALg=="));
        assert_eq!(id_of("graph:"), None);
        assert_eq!(id_of("imap:INBOX:1:2"), None);
    }
}
