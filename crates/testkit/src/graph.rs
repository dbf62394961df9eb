//! A local Microsoft Graph mail server for the Graph source's tests (Microsoft cannot be reached
//! from here), following the documented behaviour of the v1.0 endpoints Postkorb uses:
//!
//! - `GET /v1.0/users/{u}/mailFolders[/{id}[/childFolders]]` and `POST` of either to create a folder
//!   (`409 ErrorFolderExists` for a name taken); `{id}` may be a well-known name (`inbox`).
//! - `GET …/mailFolders/{id}/messages/delta`: the folder's messages, `@odata.nextLink` pages of
//!   [`GraphServer::page_size`], then an `@odata.deltaLink`; that link later gives what was added
//!   since and `@removed` entries for what left. An unknown or expired token: `410 Gone` with
//!   `syncStateNotFound`.
//! - Ids: with `Prefer: IdType="ImmutableId"` a message keeps its id across moves (and is found by
//!   it in any folder); without it the id (the "REST id") changes on every move, and the old one
//!   answers `404 ErrorItemNotFound`, as does a message deleted for good ([`GraphServer::delete`]).
//! - `GET /v1.0/users/{u}/messages/{id}/$value` (raw MIME), `POST …/messages/{id}/move`
//!   (`destinationId`), `DELETE …/messages/{id}`.
//! - Bearer tokens are checked against the [`OAuthServer`]: unknown or expired →
//!   `401 InvalidAuthenticationToken`. A user's token reaches the user's own mailbox (also as
//!   `/me`) and mailboxes shared with them ([`GraphServer::share`]); an application's token
//!   (`app:{client_id}`) reaches every mailbox unless restricted ([`GraphServer::restrict_app`],
//!   the application access policy) — else `403 ErrorAccessDenied`.
//! - Faults: the next requests answer `429` or `503` with `Retry-After` ([`GraphServer::throttle`]).
//! - Change notifications: `/v1.0/subscriptions` (graph/subscriptions.rs).

use std::collections::{HashMap, VecDeque};
use std::net::{TcpListener, TcpStream};
use std::sync::{Arc, Mutex};

use serde_json::{Value, json};

mod subscriptions;

use crate::OAuthServer;
use crate::http::{Request, read_request, respond};

struct Folder {
    id: String,
    name: String,
    parent: Option<String>,
}

struct Message {
    immutable: String,
    /// Bumped on every move: the REST id is `{immutable}-v{version}` with the prefix `rest-`.
    version: u32,
    folder: String,
    raw: Vec<u8>,
    received: String,
}

impl Message {
    fn rest_id(&self) -> String {
        format!("rest-{}-v{}", self.immutable, self.version)
    }
}

#[derive(Default)]
struct Mailbox {
    folders: Vec<Folder>,
    messages: Vec<Message>,
    /// Users who may open this mailbox with their own token (a shared mailbox).
    shared_with: Vec<String>,
}

/// A message arrived in or left a folder, in order: what a delta link sees after its position.
struct Change {
    mailbox: String,
    folder: String,
    immutable: String,
}

/// A page of a listing not yet handed out, and the delta position it ends at.
struct Paging {
    items: Vec<Value>,
    delta_at: usize,
    mailbox: String,
    folder: String,
}

#[derive(Default)]
struct State {
    mailboxes: HashMap<String, Mailbox>,
    changes: Vec<Change>,
    /// delta token → (mailbox, folder, position in `changes`)
    deltas: HashMap<String, (String, String, usize)>,
    pagings: HashMap<String, Paging>,
    counter: u64,
    page_size: usize,
    /// (part of the path it waits for, status, Retry-After seconds), the first match taken.
    faults: VecDeque<(String, u16, u32)>,
    /// app principal → the only mailboxes it may open.
    restricted: HashMap<String, Vec<String>>,
    requests: Vec<String>,
    /// What an unknown or expired delta token answers (default `410 syncStateNotFound`).
    gone: Option<(u16, String)>,
    /// The next page token asked for has expired (once).
    lose_next_page: bool,
    subscriptions: Vec<subscriptions::Subscription>,
    /// The status of each notification's answer, in order (0: not delivered).
    notified: Vec<u16>,
}

/// The running double; it serves until the test process ends.
#[derive(Clone)]
pub struct GraphServer {
    port: u16,
    state: Arc<Mutex<State>>,
    oauth: OAuthServer,
}

impl GraphServer {
    /// Binds a free loopback port; tokens are checked against `oauth`.
    pub fn start(oauth: &OAuthServer) -> GraphServer {
        let listener = TcpListener::bind("127.0.0.1:0").expect("bind graph double");
        let port = listener.local_addr().expect("local addr").port();
        let state = State { page_size: 10, ..State::default() };
        let server = GraphServer { port, state: Arc::new(Mutex::new(state)), oauth: oauth.clone() };
        let serving = server.clone();
        std::thread::spawn(move || {
            for stream in listener.incoming().flatten() {
                let s = serving.clone();
                std::thread::spawn(move || s.serve(stream));
            }
        });
        server
    }

    /// The Graph root as configured in Postkorb (`/v1.0` is appended by the client).
    pub fn base_url(&self) -> String {
        format!("http://127.0.0.1:{}", self.port)
    }

    pub fn port(&self) -> u16 {
        self.port
    }

    /// Creates a mailbox with its Inbox.
    pub fn add_mailbox(&self, address: &str) {
        let mut st = self.lock();
        let inbox = new_id(&mut st, "fld");
        let mailbox = st.mailboxes.entry(address.to_lowercase()).or_default();
        if mailbox.folders.is_empty() {
            mailbox.folders.push(Folder { id: inbox, name: "Inbox".into(), parent: None });
        }
    }

    /// Creates the folder at `path` (display names joined by "/"), with the missing parents.
    pub fn add_folder(&self, mailbox: &str, path: &str) {
        let mut st = self.lock();
        let mut parent: Option<String> = None;
        for name in path.split('/') {
            let existing = st.mailboxes[&mailbox.to_lowercase()]
                .folders
                .iter()
                .find(|f| f.parent == parent && f.name.eq_ignore_ascii_case(name))
                .map(|f| f.id.clone());
            let id = match existing {
                Some(id) => id,
                None => {
                    let id = new_id(&mut st, "fld");
                    let folder = Folder { id: id.clone(), name: name.into(), parent: parent.clone() };
                    st.mailboxes.get_mut(&mailbox.to_lowercase()).expect("no such mailbox").folders.push(folder);
                    id
                }
            };
            parent = Some(id);
        }
    }

    /// Lets `user` open `mailbox` with the user's own token (delegated access to a shared mailbox).
    pub fn share(&self, mailbox: &str, user: &str) {
        self.lock().mailboxes.entry(mailbox.to_lowercase()).or_default().shared_with.push(user.to_lowercase());
    }

    /// An application access policy: `client_id`'s tokens reach only these mailboxes.
    pub fn restrict_app(&self, client_id: &str, mailboxes: &[&str]) {
        self.lock().restricted.insert(format!("app:{client_id}"), mailboxes.iter().map(|m| m.to_lowercase()).collect());
    }

    /// Messages per delta page (default 10).
    pub fn page_size(&self, n: usize) {
        self.lock().page_size = n.max(1);
    }

    /// Delivers `raw` into the folder at `path` (display names joined by "/", e.g. "Inbox");
    /// returns the message's immutable id.
    pub fn deliver(&self, mailbox: &str, path: &str, raw: &[u8]) -> String {
        let mut st = self.lock();
        let folder = folder_by_path(&st, mailbox, path).expect("no such folder");
        let immutable = new_id(&mut st, "imm");
        let received = format!("2026-01-01T00:00:{:02}Z", st.counter % 60);
        let mb = st.mailboxes.get_mut(&mailbox.to_lowercase()).expect("no such mailbox");
        mb.messages.push(Message {
            immutable: immutable.clone(),
            version: 1,
            folder: folder.clone(),
            raw: raw.to_vec(),
            received,
        });
        let due = subscriptions::due(&st, &mailbox.to_lowercase(), &folder, &immutable);
        st.changes.push(Change { mailbox: mailbox.to_lowercase(), folder, immutable: immutable.clone() });
        drop(st);
        subscriptions::send(self, due);
        immutable
    }

    /// Someone else moves a message (by immutable id) into the folder at `path`.
    pub fn move_away(&self, mailbox: &str, immutable: &str, path: &str) {
        let mut st = self.lock();
        let to = folder_by_path(&st, mailbox, path).expect("no such folder");
        move_message(&mut st, &mailbox.to_lowercase(), immutable, &to);
        let due = subscriptions::due(&st, &mailbox.to_lowercase(), &to, immutable);
        drop(st);
        subscriptions::send(self, due);
    }

    /// Someone else deletes a message for good (by immutable id): from now on it answers `404`.
    pub fn delete(&self, mailbox: &str, immutable: &str) {
        let mut st = self.lock();
        let mailbox = mailbox.to_lowercase();
        let mb = st.mailboxes.get_mut(&mailbox).expect("no such mailbox");
        if let Some(i) = mb.messages.iter().position(|m| m.immutable == immutable) {
            let m = mb.messages.remove(i);
            st.changes.push(Change { mailbox, folder: m.folder, immutable: m.immutable });
        }
    }

    /// The raw messages in the folder at `path` (empty if it does not exist), oldest first.
    pub fn messages_in(&self, mailbox: &str, path: &str) -> Vec<(String, Vec<u8>)> {
        let st = self.lock();
        let Some(folder) = folder_by_path(&st, mailbox, path) else { return Vec::new() };
        st.mailboxes[&mailbox.to_lowercase()]
            .messages
            .iter()
            .filter(|m| m.folder == folder)
            .map(|m| (m.immutable.clone(), m.raw.clone()))
            .collect()
    }

    /// Whether the folder at `path` exists.
    pub fn has_folder(&self, mailbox: &str, path: &str) -> bool {
        folder_by_path(&self.lock(), mailbox, path).is_some()
    }

    /// The next `times` requests answer `status` (429 or 503) with `Retry-After: {secs}`.
    pub fn throttle(&self, status: u16, secs: u32, times: usize) {
        self.throttle_on("", status, secs, times);
    }

    /// Like [`GraphServer::throttle`], for the next `times` requests whose path contains `part`
    /// (e.g. `/move`: the disposal fails after the commit, as in a crash between the two).
    pub fn throttle_on(&self, part: &str, status: u16, secs: u32, times: usize) {
        let mut st = self.lock();
        for _ in 0..times {
            st.faults.push_back((part.to_string(), status, secs));
        }
    }

    /// Drops the faults not yet answered.
    pub fn calm(&self) {
        self.lock().faults.clear();
    }

    /// Every delta link handed out so far stops working (`410 Gone`), as after a long pause.
    pub fn expire_delta_links(&self) {
        self.lock().deltas.clear();
    }

    /// The next `@odata.nextLink` followed has expired meanwhile (once): the listing must start over.
    pub fn expire_next_page(&self) {
        self.lock().lose_next_page = true;
    }

    /// Like [`GraphServer::expire_delta_links`], answering `status` with the error `code` (Graph
    /// documents `410` with `syncStateNotFound` or `resyncRequired`; some answers are a `400`).
    pub fn expire_delta_links_answering(&self, status: u16, code: &str) {
        let mut st = self.lock();
        st.deltas.clear();
        st.gone = Some((status, code.to_string()));
    }

    /// Request lines (method + path + query) seen so far, throttled ones included.
    pub fn requests(&self) -> Vec<String> {
        self.lock().requests.clone()
    }

    fn lock(&self) -> std::sync::MutexGuard<'_, State> {
        self.state.lock().unwrap_or_else(|e| e.into_inner())
    }

    fn serve(&self, stream: TcpStream) {
        let Some(req) = read_request(&stream) else { return };
        let (status, headers, body) = self.answer(&req);
        let mut all = headers;
        if !body.is_empty() && !all.iter().any(|(n, _)| *n == "Content-Type") {
            all.push(("Content-Type", "application/json".into()));
        }
        respond(stream, status, &all, &body);
    }

    fn answer(&self, req: &Request) -> (u16, Vec<(&'static str, String)>, Vec<u8>) {
        let mut query: Vec<_> = req.query.iter().map(|(k, v)| format!("{k}={v}")).collect();
        query.sort();
        self.lock().requests.push(format!("{} {}?{}", req.method, req.path, query.join("&")));
        let fault = {
            let mut st = self.lock();
            let i = st.faults.iter().position(|(part, _, _)| req.path.contains(part.as_str()));
            i.and_then(|i| st.faults.remove(i))
        };
        if let Some((_, status, secs)) = fault {
            let code = if status == 429 { "TooManyRequests" } else { "ServiceUnavailable" };
            return (status, vec![("Retry-After", secs.to_string())], error(code, "Please retry later."));
        }
        let token = req.header("authorization").and_then(|a| a.strip_prefix("Bearer ")).unwrap_or("");
        let Some(principal) = self.oauth.principal_of(token) else {
            return (
                401,
                vec![("WWW-Authenticate", "Bearer".into())],
                error("InvalidAuthenticationToken", "Access token has expired or is not yet valid."),
            );
        };
        let immutable = req.header("prefer").is_some_and(|p| p.replace(' ', "").contains("IdType=\"ImmutableId\""));
        let Some(rest) = req.path.strip_prefix("/v1.0/") else {
            return (404, vec![], error("BadRequest", "no version"));
        };
        let segments: Vec<&str> = rest.split('/').collect();
        if segments[0] == "subscriptions" {
            let body = serde_json::from_slice(&req.body).unwrap_or(Value::Null);
            return self.subscriptions_answer(&req.method, segments.get(1).copied(), &principal, &body);
        }
        let (mailbox, tail) = match segments.as_slice() {
            ["me", tail @ ..] if !principal.starts_with("app:") => (principal.to_lowercase(), tail),
            ["users", user, tail @ ..] => (user.to_lowercase(), tail),
            _ => return (404, vec![], error("BadRequest", "Resource not found for the segment.")),
        };
        let mut st = self.lock();
        if !st.mailboxes.contains_key(&mailbox) {
            return (404, vec![], error("ErrorInvalidUser", "The requested user is invalid."));
        }
        if !may_open(&st, &principal, &mailbox) {
            return (403, vec![], error("ErrorAccessDenied", "Access is denied. Check credentials and try again."));
        }
        let base = format!("{}/v1.0/users/{mailbox}", self.base_url());
        let ids = Ids { immutable };
        let body =
            if req.body.is_empty() { Value::Null } else { serde_json::from_slice(&req.body).unwrap_or(Value::Null) };
        match (req.method.as_str(), tail) {
            ("GET", ["mailFolders"]) => ok(list_folders(&st, &mailbox, None)),
            ("GET", ["mailFolders", id]) => match resolve_folder(&st, &mailbox, id) {
                Some(f) => ok(folder_json(&st, &mailbox, &f)),
                None => (404, vec![], error("ErrorItemNotFound", "The specified object was not found in the store.")),
            },
            ("GET", ["mailFolders", id, "childFolders"]) => match resolve_folder(&st, &mailbox, id) {
                Some(f) => ok(list_folders(&st, &mailbox, Some(&f))),
                None => (404, vec![], error("ErrorItemNotFound", "The specified object was not found in the store.")),
            },
            ("POST", ["mailFolders"]) => create_folder(&mut st, &mailbox, None, &body),
            ("POST", ["mailFolders", id, "childFolders"]) => match resolve_folder(&st, &mailbox, id) {
                Some(parent) => create_folder(&mut st, &mailbox, Some(parent), &body),
                None => (404, vec![], error("ErrorItemNotFound", "The specified object was not found in the store.")),
            },
            ("GET", ["mailFolders", id, "messages", "delta"]) => {
                let Some(folder) = resolve_folder(&st, &mailbox, id) else {
                    return (
                        404,
                        vec![],
                        error("ErrorItemNotFound", "The specified object was not found in the store."),
                    );
                };
                let link = format!("{base}/mailFolders/{folder}/messages/delta");
                delta(&mut st, &mailbox, &folder, &req.query, &link, ids)
            }
            ("GET", ["messages", id, "$value"]) => match find(&st, &mailbox, id) {
                Some(i) => {
                    let raw = st.mailboxes[&mailbox].messages[i].raw.clone();
                    (200, vec![("Content-Type", "text/plain".into())], raw)
                }
                None => (404, vec![], error("ErrorItemNotFound", "The specified object was not found in the store.")),
            },
            ("POST", ["messages", id, "move"]) => {
                let Some(i) = find(&st, &mailbox, id) else {
                    return (
                        404,
                        vec![],
                        error("ErrorItemNotFound", "The specified object was not found in the store."),
                    );
                };
                let to = body.get("destinationId").and_then(Value::as_str).unwrap_or("");
                let Some(to) = resolve_folder(&st, &mailbox, to) else {
                    return (400, vec![], error("ErrorInvalidIdMalformed", "Id is malformed."));
                };
                let imm = st.mailboxes[&mailbox].messages[i].immutable.clone();
                move_message(&mut st, &mailbox, &imm, &to);
                let m = &st.mailboxes[&mailbox].messages[i];
                (201, vec![], serde_json::to_vec(&message_json(m, ids)).unwrap_or_default())
            }
            ("DELETE", ["messages", id]) => match find(&st, &mailbox, id) {
                Some(i) => {
                    let m = st.mailboxes.get_mut(&mailbox).expect("checked").messages.remove(i);
                    st.changes.push(Change { mailbox: mailbox.clone(), folder: m.folder, immutable: m.immutable });
                    (204, vec![], Vec::new())
                }
                None => (404, vec![], error("ErrorItemNotFound", "The specified object was not found in the store.")),
            },
            _ => (400, vec![], error("BadRequest", "Unsupported request.")),
        }
    }
}

#[derive(Clone, Copy)]
struct Ids {
    immutable: bool,
}

fn ok(v: Value) -> (u16, Vec<(&'static str, String)>, Vec<u8>) {
    (200, vec![], serde_json::to_vec(&v).unwrap_or_default())
}

fn error(code: &str, message: &str) -> Vec<u8> {
    serde_json::to_vec(&json!({"error": {"code": code, "message": message}})).unwrap_or_default()
}

fn new_id(st: &mut State, prefix: &str) -> String {
    st.counter += 1;
    format!("{prefix}-{}", st.counter)
}

fn may_open(st: &State, principal: &str, mailbox: &str) -> bool {
    if principal.starts_with("app:") {
        return st.restricted.get(principal).is_none_or(|allowed| allowed.iter().any(|m| m == mailbox));
    }
    principal.eq_ignore_ascii_case(mailbox)
        || st.mailboxes[mailbox].shared_with.iter().any(|u| u == &principal.to_lowercase())
}

/// The folder id for an id or a well-known name.
fn resolve_folder(st: &State, mailbox: &str, id: &str) -> Option<String> {
    let folders = &st.mailboxes.get(mailbox)?.folders;
    if id.eq_ignore_ascii_case("inbox") {
        return folders.iter().find(|f| f.parent.is_none() && f.name == "Inbox").map(|f| f.id.clone());
    }
    folders.iter().find(|f| f.id == id).map(|f| f.id.clone())
}

fn folder_by_path(st: &State, mailbox: &str, path: &str) -> Option<String> {
    let folders = &st.mailboxes.get(&mailbox.to_lowercase())?.folders;
    let mut parent: Option<String> = None;
    for name in path.split('/') {
        let found = folders.iter().find(|f| f.parent == parent && f.name.eq_ignore_ascii_case(name))?;
        parent = Some(found.id.clone());
    }
    parent
}

fn folder_json(st: &State, mailbox: &str, id: &str) -> Value {
    let mb = &st.mailboxes[mailbox];
    let f = mb.folders.iter().find(|f| f.id == id).expect("resolved");
    json!({
        "id": f.id,
        "displayName": f.name,
        "parentFolderId": f.parent,
        "childFolderCount": mb.folders.iter().filter(|c| c.parent.as_deref() == Some(id)).count(),
        "totalItemCount": mb.messages.iter().filter(|m| m.folder == id).count(),
    })
}

fn list_folders(st: &State, mailbox: &str, parent: Option<&str>) -> Value {
    let ids: Vec<String> =
        st.mailboxes[mailbox].folders.iter().filter(|f| f.parent.as_deref() == parent).map(|f| f.id.clone()).collect();
    json!({ "value": ids.iter().map(|id| folder_json(st, mailbox, id)).collect::<Vec<_>>() })
}

fn create_folder(
    st: &mut State,
    mailbox: &str,
    parent: Option<String>,
    body: &Value,
) -> (u16, Vec<(&'static str, String)>, Vec<u8>) {
    let name = body.get("displayName").and_then(Value::as_str).unwrap_or("").to_string();
    if name.is_empty() {
        return (400, vec![], error("ErrorInvalidRequest", "displayName is required."));
    }
    let taken = st.mailboxes[mailbox].folders.iter().any(|f| f.parent == parent && f.name.eq_ignore_ascii_case(&name));
    if taken {
        return (409, vec![], error("ErrorFolderExists", "A folder with the specified name already exists."));
    }
    let id = new_id(st, "fld");
    st.mailboxes.get_mut(mailbox).expect("checked").folders.push(Folder { id: id.clone(), name, parent });
    (201, vec![], serde_json::to_vec(&folder_json(st, mailbox, &id)).unwrap_or_default())
}

/// A message by immutable id, or by its current REST id (an old REST id is not found).
fn find(st: &State, mailbox: &str, id: &str) -> Option<usize> {
    st.mailboxes[mailbox].messages.iter().position(|m| m.immutable == id || m.rest_id() == id)
}

fn move_message(st: &mut State, mailbox: &str, immutable: &str, to: &str) {
    let mb = st.mailboxes.get_mut(mailbox).expect("no such mailbox");
    let Some(m) = mb.messages.iter_mut().find(|m| m.immutable == immutable) else { return };
    let from = std::mem::replace(&mut m.folder, to.to_string());
    m.version += 1;
    st.changes.push(Change { mailbox: mailbox.into(), folder: from, immutable: immutable.into() });
    st.changes.push(Change { mailbox: mailbox.into(), folder: to.into(), immutable: immutable.into() });
}

fn message_json(m: &Message, ids: Ids) -> Value {
    let id = if ids.immutable { m.immutable.clone() } else { m.rest_id() };
    json!({ "id": id, "receivedDateTime": m.received, "parentFolderId": m.folder })
}

/// One page of a delta listing: a fresh one (no token), one after a delta token, or the next page.
fn delta(
    st: &mut State,
    mailbox: &str,
    folder: &str,
    query: &HashMap<String, String>,
    link: &str,
    ids: Ids,
) -> (u16, Vec<(&'static str, String)>, Vec<u8>) {
    let (status, code) = st.gone.clone().unwrap_or((410, "syncStateNotFound".into()));
    let gone = || (status, vec![], error(&code, "The sync state generation is not found."));
    let paging = if let Some(skip) = query.get("$skiptoken") {
        if std::mem::take(&mut st.lose_next_page) {
            st.pagings.remove(skip);
        }
        match st.pagings.remove(skip) {
            Some(p) if p.mailbox == mailbox && p.folder == folder => p,
            _ => return gone(),
        }
    } else {
        let since = match query.get("$deltatoken") {
            Some(token) => match st.deltas.get(token) {
                Some((m, f, at)) if m == mailbox && f == folder => Some(*at),
                _ => return gone(),
            },
            None => None,
        };
        let messages = &st.mailboxes[mailbox].messages;
        let items: Vec<Value> = match since {
            None => messages.iter().filter(|m| m.folder == folder).map(|m| message_json(m, ids)).collect(),
            Some(at) => {
                // The net change per message since `at`: present now → listed, gone → @removed.
                let mut seen: Vec<String> = Vec::new();
                for c in st.changes[at..].iter().filter(|c| c.mailbox == mailbox && c.folder == folder) {
                    if !seen.contains(&c.immutable) {
                        seen.push(c.immutable.clone());
                    }
                }
                seen.iter()
                    .map(|imm| match messages.iter().find(|m| &m.immutable == imm && m.folder == folder) {
                        Some(m) => message_json(m, ids),
                        None => {
                            // A removed item's id as the client knew it: with ImmutableId the
                            // immutable one; otherwise the REST id it had in this folder.
                            let id = match messages.iter().find(|m| &m.immutable == imm) {
                                Some(m) if !ids.immutable => format!("rest-{imm}-v{}", m.version - 1),
                                _ => imm.clone(),
                            };
                            json!({ "id": id, "@removed": { "reason": "deleted" } })
                        }
                    })
                    .collect()
            }
        };
        Paging { items, delta_at: st.changes.len(), mailbox: mailbox.into(), folder: folder.into() }
    };
    let mut paging = paging;
    let rest = paging.items.split_off(paging.items.len().min(st.page_size));
    let page = std::mem::replace(&mut paging.items, rest);
    let mut answer = json!({ "value": page });
    if paging.items.is_empty() {
        let token = new_id(st, "delta");
        st.deltas.insert(token.clone(), (mailbox.into(), folder.into(), paging.delta_at));
        answer["@odata.deltaLink"] = json!(format!("{link}?$deltatoken={token}"));
    } else {
        let token = new_id(st, "skip");
        st.pagings.insert(token.clone(), paging);
        answer["@odata.nextLink"] = json!(format!("{link}?$skiptoken={token}"));
    }
    ok(answer)
}
