//! Change notifications for the Graph source's folder (`/subscriptions`): Graph calls the
//! notification URL when a message is created there, so a pass can start at once; the delta query
//! stays the safety net. Creating one makes Graph validate the URL first (it must echo the
//! `validationToken`); a subscription for messages lasts at most 4230 minutes and is renewed.

use reqwest::{Method, StatusCode};
use serde_json::{Value, json};

use super::{GraphSession, json_of, string};
use crate::SourceError;

/// A subscription as Graph confirmed it.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Subscription {
    pub id: String,
    pub expires_ms: i64,
}

impl GraphSession {
    /// Subscribes to new messages in the folder; Graph validates `notification_url` before it
    /// answers. `client_state` comes back with every notification (to tell genuine ones).
    pub async fn subscribe(
        &self,
        notification_url: &str,
        client_state: &str,
        expires_ms: i64,
    ) -> Result<Subscription, SourceError> {
        let body = json!({
            "changeType": "created",
            "notificationUrl": notification_url,
            "resource": format!("users/{}/mailFolders('{}')/messages", self.mailbox, self.folder_id),
            "expirationDateTime": rfc3339(expires_ms),
            "clientState": client_state,
        });
        let response = self.send(Method::POST, self.api(&["subscriptions"]), Some(&body), &[]).await?;
        let answer = json_of(response).await?;
        Ok(Subscription { id: string(&answer, "id")?, expires_ms: expiry(&answer).unwrap_or(expires_ms) })
    }

    /// Moves the subscription's expiry; None when Graph no longer knows it (make a new one).
    pub async fn renew_subscription(&self, id: &str, expires_ms: i64) -> Result<Option<i64>, SourceError> {
        let body = json!({ "expirationDateTime": rfc3339(expires_ms) });
        let url = self.api(&["subscriptions", id]);
        let response = self.send(Method::PATCH, url, Some(&body), &[StatusCode::NOT_FOUND]).await?;
        if response.status() == StatusCode::NOT_FOUND {
            return Ok(None);
        }
        Ok(Some(expiry(&json_of(response).await?).unwrap_or(expires_ms)))
    }

    /// Ends a subscription; one Graph no longer knows is fine.
    pub async fn unsubscribe(&self, id: &str) -> Result<(), SourceError> {
        let url = self.api(&["subscriptions", id]);
        self.send(Method::DELETE, url, None, &[StatusCode::NOT_FOUND]).await.map(|_| ())
    }
}

fn expiry(answer: &Value) -> Option<i64> {
    answer.get("expirationDateTime").and_then(Value::as_str).and_then(parse_rfc3339)
}

/// `2026-12-07T10:00:00Z` (UTC) for unix milliseconds.
pub(crate) fn rfc3339(ms: i64) -> String {
    let (y, m, d, hh, mm) = postkorb_core::time::civil_from_ms(ms);
    let ss = ms.div_euclid(1000).rem_euclid(60);
    format!("{y:04}-{m:02}-{d:02}T{hh:02}:{mm:02}:{ss:02}Z")
}

/// Unix milliseconds of `YYYY-MM-DDTHH:MM:SS[.fraction]Z` (fractions dropped).
pub(crate) fn parse_rfc3339(s: &str) -> Option<i64> {
    let day = postkorb_core::time::parse_iso_date(s.get(..10)?)?;
    if s.get(10..11)? != "T" {
        return None;
    }
    let part = |range: std::ops::Range<usize>| s.get(range)?.parse::<i64>().ok();
    let (hh, mm, ss) = (part(11..13)?, part(14..16)?, part(17..19)?);
    Some(day + ((hh * 60 + mm) * 60 + ss) * 1000)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn times_go_to_graph_and_back_in_utc() {
        let ms = 1_796_000_000_000;
        assert_eq!(rfc3339(ms), "2026-11-30T00:53:20Z");
        assert_eq!(parse_rfc3339("2026-11-30T00:53:20Z"), Some(ms));
        assert_eq!(parse_rfc3339("2026-11-30T00:53:20.1234567Z"), Some(ms));
        assert_eq!(parse_rfc3339("2026-11-30 01:33:20"), None);
        assert_eq!(parse_rfc3339("gestern"), None);
    }
}
