//! `GET /ereignisse`: the Server-Sent Events stream of one logged-in user's Startmaske tab.
//!
//! Each message is `event: vorgang`, `id:` the event's id, `data:` JSON (`kind` new / waiting /
//! gone / changed, `case_id`, the row as the screens show it for all but „gone“, and the counts of
//! the tabs „Offen“, „Wiedervorlage“, „Erledigt“, „Alle“). A reconnect with `Last-Event-ID`
//! resumes after it; one more than [`LiveOptions::resume_max`] events back, or a stream that fell
//! behind the broadcast, gets `event: reload` and ends. Without a session: 401; over the limit of
//! open streams per user: 429. The stream ends when its session does (checked every
//! [`LiveOptions::recheck`]): logout, password change, „Aktuell“ removed.

use std::collections::VecDeque;
use std::sync::Arc;

use axum::extract::State;
use axum::http::{HeaderMap, StatusCode};
use axum::response::sse::{Event, KeepAlive, Sse};
use axum::response::{IntoResponse, Response};
use futures_util::Stream;
use postkorb_core::{Employee, EmployeeId};
use postkorb_store::StoreError;
use serde_json::json;
use tokio::sync::broadcast;
use tokio::time::Instant;

use super::filter::{Relation, relation};
use super::{Fact, Live, LiveOptions, Slot};
use crate::WebState;
use crate::auth::CurrentUser;
use crate::error::WebError;
use crate::util::now_ms;

/// The handler of `GET /ereignisse`.
pub async fn events(
    State(state): State<WebState>,
    user: Result<CurrentUser, WebError>,
    headers: HeaderMap,
) -> Response {
    let user = match user {
        Ok(u) => u,
        Err(e @ WebError::Internal(_)) => return e.into_response(),
        Err(_) => return (StatusCode::UNAUTHORIZED, "Bitte melden Sie sich an.").into_response(),
    };
    let Some(slot) = state.live.slot(user.employee.id) else {
        return (
            StatusCode::TOO_MANY_REQUESTS,
            "Die Startmaske ist in zu vielen Fenstern geöffnet. Bitte schließen Sie einige davon.",
        )
            .into_response();
    };
    let resume = headers.get("last-event-id").and_then(|v| v.to_str().ok()).and_then(|v| v.trim().parse::<i64>().ok());
    match open(&state.live, user, resume, slot).await {
        Ok(stream) => {
            Sse::new(stream).keep_alive(KeepAlive::new().interval(state.live.options().heartbeat)).into_response()
        }
        Err(e) => WebError::from(e).into_response(),
    }
}

/// One stream's state.
struct Tab {
    live: Live,
    rx: broadcast::Receiver<Arc<Fact>>,
    /// The id of the last event handled: the broadcast may repeat some of the missed ones.
    last: i64,
    /// Missed events read from the log at a reconnect, oldest first.
    missed: VecDeque<Fact>,
    me: Employee,
    covering: Vec<EmployeeId>,
    session: String,
    next_check: Instant,
    /// Say „reload“ first, then end.
    reload: bool,
    ended: bool,
    _slot: Slot,
}

async fn open(
    live: &Live,
    user: CurrentUser,
    resume: Option<i64>,
    slot: Slot,
) -> Result<impl Stream<Item = Result<Event, std::convert::Infallible>> + use<>, StoreError> {
    let (rx, at) = live.subscribe().await?;
    let store = live.store();
    let options: &LiveOptions = live.options();
    let mut tab = Tab {
        live: live.clone(),
        rx,
        last: at,
        missed: VecDeque::new(),
        covering: store.covering(user.employee.id, now_ms()).await?,
        me: user.employee,
        session: user.session,
        next_check: Instant::now() + options.recheck,
        reload: false,
        ended: false,
        _slot: slot,
    };
    match resume {
        Some(after) if at - after > options.resume_max => tab.reload = true,
        Some(after) if after < at => {
            let mut from = after;
            while from < at {
                let events = store.case_events_after(from, 200).await?;
                let Some(last) = events.last().map(|e| e.id) else { break };
                let events = events.into_iter().filter(|e| e.id <= at).collect();
                tab.missed.extend(super::facts(store, events).await?);
                from = last;
            }
            tab.last = after;
        }
        // Ahead of this instance's reader (another instance sent it): skip up to it.
        Some(after) => tab.last = after,
        None => {}
    }
    Ok(futures_util::stream::unfold(tab, |mut tab| async move {
        let event = tab.next().await?;
        Some((Ok(event), tab))
    }))
}

impl Tab {
    /// The next message, or `None` when the stream ends.
    async fn next(&mut self) -> Option<Event> {
        if self.ended {
            return None;
        }
        if self.reload {
            self.ended = true;
            return Some(Event::default().event("reload").data(""));
        }
        loop {
            let fact = match self.missed.pop_front() {
                Some(f) => Arc::new(f),
                None => tokio::select! {
                    got = self.rx.recv() => match got {
                        Ok(f) => f,
                        Err(broadcast::error::RecvError::Lagged(_)) => {
                            self.ended = true;
                            return Some(Event::default().event("reload").data(""));
                        }
                        Err(broadcast::error::RecvError::Closed) => return None,
                    },
                    _ = tokio::time::sleep_until(self.next_check) => {
                        if !self.session_lives().await {
                            return None;
                        }
                        continue;
                    }
                },
            };
            if fact.event.id <= self.last {
                continue;
            }
            self.last = fact.event.id;
            if let Some(message) = self.message(&fact).await {
                return Some(message);
            }
        }
    }

    /// Checks the session again and refreshes who the user is and whom they stand in for.
    async fn session_lives(&mut self) -> bool {
        let store = self.live.store().clone();
        self.next_check = Instant::now() + self.live.options().recheck;
        match store.session(&self.session, now_ms()).await {
            Ok(Some(s)) if s.employee.is_current && !s.must_change_password => {
                self.me = s.employee;
                if let Ok(c) = store.covering(self.me.id, now_ms()).await {
                    self.covering = c;
                }
                true
            }
            Ok(_) => false,
            // The database is away for a moment: keep the stream, check again next time.
            Err(e) => {
                tracing::warn!(error = %e, "live Startmaske: checking a session failed");
                true
            }
        }
    }

    /// The message for `fact` if it concerns this user.
    async fn message(&self, fact: &Fact) -> Option<Event> {
        let seen = fact.case.as_ref()?;
        let rel = relation(&fact.event, &seen.detail, &self.me, &self.covering)?;
        let counts = crate::pages::tab_counts(self.live.store(), self.me.id, now_ms()).await.ok()?;
        Some(
            Event::default().event("vorgang").id(fact.event.id.to_string()).data(
                data(rel, fact.event.case_id, (rel != Relation::Gone).then_some(&*seen.row), &counts).to_string(),
            ),
        )
    }
}

/// The JSON of one message: never a row for „gone“ (it is no longer theirs to read).
pub(crate) fn data(
    rel: Relation,
    case_id: i64,
    row: Option<&super::CaseRow>,
    counts: &[(&'static str, i64)],
) -> serde_json::Value {
    let counts: serde_json::Map<String, serde_json::Value> =
        counts.iter().map(|(code, n)| ((*code).to_string(), json!(n))).collect();
    let mut value =
        json!({ "kind": rel.code(), "case_id": case_id, "href": format!("/vorgang/{case_id}"), "counts": counts });
    if let (Some(row), Some(map)) = (row, value.as_object_mut()) {
        map.insert("row".into(), json!(row));
    }
    value
}
