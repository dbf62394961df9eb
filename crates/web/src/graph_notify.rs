//! `POST /graph/benachrichtigung`: Microsoft Graph's change notifications for Graph mailboxes
//! (issue 20). Graph calls it, not a person: no session, no form token. Creating a subscription,
//! Graph first sends `?validationToken=…` and wants it back as plain text. A notification counts
//! only with its subscription's clientState (`Store::graph_notified`); it marks the mailbox, and the
//! loop of whichever instance fetches it starts a pass within seconds. Anything else is answered
//! the same way and changes nothing, so the endpoint tells an outsider nothing.

use axum::body::Bytes;
use axum::extract::{Query, State};
use axum::http::{StatusCode, header};
use axum::response::{IntoResponse, Response};
use serde::Deserialize;

use crate::WebState;
use crate::util::now_ms;

/// Where Graph sends the notifications, below `public_url`.
pub const PATH: &str = "/graph/benachrichtigung";

/// Notifications handled per request at most (Graph batches a few).
const MAX_PER_REQUEST: usize = 100;

#[derive(Deserialize)]
pub struct Validation {
    #[serde(rename = "validationToken")]
    validation_token: Option<String>,
}

#[derive(Deserialize)]
struct Notification {
    #[serde(rename = "subscriptionId", default)]
    subscription_id: String,
    #[serde(rename = "clientState", default)]
    client_state: String,
}

#[derive(Deserialize)]
struct Notifications {
    value: Vec<Notification>,
}

pub async fn receive(State(state): State<WebState>, Query(q): Query<Validation>, body: Bytes) -> Response {
    if let Some(token) = q.validation_token {
        // Echoed as plain text (with nosniff from the router): never rendered as a page.
        if token.len() > 1024 {
            return StatusCode::BAD_REQUEST.into_response();
        }
        return ([(header::CONTENT_TYPE, "text/plain; charset=utf-8")], token).into_response();
    }
    let Ok(batch) = serde_json::from_slice::<Notifications>(&body) else {
        return StatusCode::BAD_REQUEST.into_response();
    };
    for n in batch.value.iter().take(MAX_PER_REQUEST) {
        match state.store.graph_notified(&n.subscription_id, &n.client_state, now_ms()).await {
            Ok(true) => {}
            Ok(false) => tracing::info!("a Graph notification without a matching subscription was ignored"),
            Err(e) => tracing::warn!(error = %e, "a Graph notification could not be noted"),
        }
    }
    StatusCode::ACCEPTED.into_response()
}
