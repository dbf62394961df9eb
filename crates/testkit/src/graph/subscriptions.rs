//! The Graph double's change notifications (`/v1.0/subscriptions`), as documented: creating one
//! first validates the notification URL (a POST with `?validationToken=…` that must come back as
//! the plain-text answer within ten seconds, else `400 ValidationError`); a message arriving in
//! the folder is then POSTed there as `{"value":[{subscriptionId, clientState, changeType, …}]}`;
//! `PATCH` renews, `DELETE` ends one, an unknown id answers `404`.

use serde_json::{Value, json};

use super::{GraphServer, State, error, may_open, new_id, resolve_folder};
use crate::http::{encode, post};

pub(super) struct Subscription {
    id: String,
    mailbox: String,
    folder: String,
    url: String,
    client_state: String,
    expires: String,
}

type Answer = (u16, Vec<(&'static str, String)>, Vec<u8>);

impl GraphServer {
    /// The ids of the subscriptions in force, oldest first.
    pub fn subscriptions(&self) -> Vec<String> {
        self.lock().subscriptions.iter().map(|s| s.id.clone()).collect()
    }

    /// The expiry a subscription was last given (`expirationDateTime` as sent).
    pub fn subscription_expiry(&self, id: &str) -> Option<String> {
        self.lock().subscriptions.iter().find(|s| s.id == id).map(|s| s.expires.clone())
    }

    /// Every subscription ends (expired unrenewed, or removed by an administrator).
    pub fn drop_subscriptions(&self) {
        self.lock().subscriptions.clear();
    }

    /// Notifications POSTed so far and how the receiver answered (status codes).
    pub fn notifications(&self) -> Vec<u16> {
        self.lock().notified.clone()
    }

    /// `/v1.0/subscriptions[/{id}]` for `principal`.
    pub(super) fn subscriptions_answer(&self, method: &str, id: Option<&str>, principal: &str, body: &Value) -> Answer {
        match (method, id) {
            ("POST", None) => self.subscribe(principal, body),
            ("PATCH", Some(id)) => {
                let mut st = self.lock();
                let Some(sub) = st.subscriptions.iter_mut().find(|s| s.id == id) else {
                    return (404, vec![], error("ResourceNotFound", "The object was not found."));
                };
                if let Some(expires) = body.get("expirationDateTime").and_then(Value::as_str) {
                    sub.expires = expires.to_string();
                }
                (200, vec![], serde_json::to_vec(&json_of(sub)).unwrap_or_default())
            }
            ("DELETE", Some(id)) => {
                let mut st = self.lock();
                let before = st.subscriptions.len();
                st.subscriptions.retain(|s| s.id != id);
                if st.subscriptions.len() == before {
                    return (404, vec![], error("ResourceNotFound", "The object was not found."));
                }
                (204, vec![], Vec::new())
            }
            _ => (400, vec![], error("BadRequest", "Unsupported request.")),
        }
    }

    fn subscribe(&self, principal: &str, body: &Value) -> Answer {
        let text = |k: &str| body.get(k).and_then(Value::as_str).unwrap_or("").to_string();
        let (url, resource, client_state) = (text("notificationUrl"), text("resource"), text("clientState"));
        let bad = |why: &str| (400, vec![], error("InvalidRequest", why));
        if text("changeType") != "created" || url.is_empty() {
            return bad("changeType created and a notificationUrl are required.");
        }
        // users/{mailbox}/mailFolders('{folder}')/messages
        let Some((mailbox, folder)) = resource
            .strip_prefix("users/")
            .and_then(|r| r.split_once("/mailFolders('"))
            .and_then(|(m, rest)| Some((m.to_lowercase(), rest.strip_suffix("')/messages")?.to_string())))
        else {
            return bad("Unsupported resource.");
        };
        {
            let st = self.lock();
            if !st.mailboxes.contains_key(&mailbox) || !may_open(&st, principal, &mailbox) {
                return (403, vec![], error("ExtensionError", "Operation: Create; Exception: Access denied."));
            }
            if resolve_folder(&st, &mailbox, &folder).is_none() {
                return bad("Unknown folder.");
            }
        }
        // The validation request goes out without the lock held.
        let token = new_id(&mut self.lock(), "validation");
        let separator = if url.contains('?') { '&' } else { '?' };
        let echoed = post(&format!("{url}{separator}validationToken={}", encode(&token)), "text/plain", b"");
        if !matches!(&echoed, Some((200, body)) if body == token.as_bytes()) {
            return (400, vec![], error("ValidationError", "Subscription validation request failed."));
        }
        let mut st = self.lock();
        let id = new_id(&mut st, "sub");
        let sub = Subscription { id, mailbox, folder, url, client_state, expires: text("expirationDateTime") };
        let answer = json_of(&sub);
        st.subscriptions.push(sub);
        (201, vec![], serde_json::to_vec(&answer).unwrap_or_default())
    }
}

fn json_of(s: &Subscription) -> Value {
    json!({
        "id": s.id,
        "resource": format!("users/{}/mailFolders('{}')/messages", s.mailbox, s.folder),
        "changeType": "created",
        "notificationUrl": s.url,
        "expirationDateTime": s.expires,
    })
}

/// The notifications a message `immutable` arriving in `folder` causes: (URL, body) each.
pub(super) fn due(st: &State, mailbox: &str, folder: &str, immutable: &str) -> Vec<(String, Vec<u8>)> {
    st.subscriptions
        .iter()
        .filter(|s| s.mailbox == mailbox && s.folder == folder)
        .map(|s| {
            let body = json!({ "value": [{
                "subscriptionId": s.id,
                "clientState": s.client_state,
                "changeType": "created",
                "resource": format!("users/{mailbox}/messages/{immutable}"),
                "resourceData": { "id": immutable },
            }]});
            (s.url.clone(), serde_json::to_vec(&body).unwrap_or_default())
        })
        .collect()
}

/// Sends notifications in the background, as Graph does, recording each answer's status.
pub(super) fn send(server: &GraphServer, due: Vec<(String, Vec<u8>)>) {
    if due.is_empty() {
        return;
    }
    let server = server.clone();
    std::thread::spawn(move || {
        for (url, body) in due {
            let status = post(&url, "application/json", &body).map_or(0, |(status, _)| status);
            server.lock().notified.push(status);
        }
    });
}
