//! Webhooks (issue 17): the event types an endpoint may subscribe to, the log kinds they come
//! from, their German names, and the one validator of an endpoint's settings (web, API, CLI).

/// (type, log kind — `kept` for a kept mail —, German name).
pub const EVENT_TYPES: [(&str, &str, &str); 8] = [
    ("case.created", "created", "Vorgang angelegt"),
    ("case.assigned", "assigned", "Vorgang zugewiesen"),
    ("case.claimed", "claimed", "Vorgang übernommen"),
    ("case.handed_over", "handed_over", "Vorgang weitergegeben"),
    ("case.follow_up_due", "follow_up_due", "Wiedervorlage fällig"),
    ("case.closed", "closed", "Vorgang erledigt"),
    ("case.reopened", "reopened", "Vorgang wieder geöffnet"),
    ("mail.kept", "kept", "E-Mail nicht zugeordnet"),
];

/// The webhook type of a log kind, if webhooks send it.
pub fn event_type(kind: &str) -> Option<&'static str> {
    EVENT_TYPES.iter().find(|(_, k, _)| *k == kind).map(|(t, _, _)| *t)
}

/// Why an endpoint's settings were refused.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum WebhookError {
    NoName,
    /// Not an `http://` or `https://` URL with a host (or with user:password, or too long).
    BadUrl,
    NoEvents,
    UnknownEvent(String),
}

impl WebhookError {
    pub fn german(&self) -> String {
        match self {
            WebhookError::NoName => "Bitte einen Namen angeben.".into(),
            WebhookError::BadUrl => {
                "Die Adresse muss mit https:// (oder http://) beginnen und einen Server nennen.".into()
            }
            WebhookError::NoEvents => "Bitte mindestens ein Ereignis auswählen.".into(),
            WebhookError::UnknownEvent(e) => format!("Unbekanntes Ereignis „{e}“."),
        }
    }

    pub fn english(&self) -> String {
        match self {
            WebhookError::NoName => "a name is required".into(),
            WebhookError::BadUrl => "the URL must be http:// or https:// with a host, without user or password".into(),
            WebhookError::NoEvents => "at least one event type is required".into(),
            WebhookError::UnknownEvent(e) => format!("unknown event type {e:?}"),
        }
    }
}

/// Checks name, URL and event types; returns the trimmed name and the event types in the
/// canonical order. Where the URL points (loopback, private) is checked at each delivery
/// against `allow_private_hosts`, when the name is resolved.
pub fn validate(name: &str, url: &str, events: &[String]) -> Result<(String, Vec<String>), WebhookError> {
    let name = name.trim();
    if name.is_empty() || name.chars().count() > 100 {
        return Err(WebhookError::NoName);
    }
    let url = url.trim();
    let rest = url.strip_prefix("https://").or_else(|| url.strip_prefix("http://")).ok_or(WebhookError::BadUrl)?;
    let authority = rest.split(['/', '?', '#']).next().unwrap_or("");
    if authority.is_empty() || authority.contains('@') || url.len() > 2000 || url.chars().any(char::is_whitespace) {
        return Err(WebhookError::BadUrl);
    }
    if let Some(bad) = events.iter().find(|e| event_type_known(e).is_none()) {
        return Err(WebhookError::UnknownEvent(bad.clone()));
    }
    let chosen: Vec<String> =
        EVENT_TYPES.iter().filter(|(t, _, _)| events.iter().any(|e| e == t)).map(|(t, _, _)| t.to_string()).collect();
    if chosen.is_empty() {
        return Err(WebhookError::NoEvents);
    }
    Ok((name.to_string(), chosen))
}

fn event_type_known(ty: &str) -> Option<&'static str> {
    EVENT_TYPES.iter().find(|(t, _, _)| *t == ty).map(|(t, _, _)| *t)
}

#[cfg(test)]
mod tests {
    use super::*;

    /// (name, URL, events, expected: the name and events kept, or the error).
    type Case = (
        &'static str,
        &'static str,
        &'static [&'static str],
        Result<(&'static str, &'static [&'static str]), WebhookError>,
    );

    #[test]
    fn an_endpoint_needs_a_name_a_web_url_and_known_events() {
        let all = |v: &[&str]| v.iter().map(|s| s.to_string()).collect::<Vec<_>>();
        let cases: [Case; 9] = [
            (
                " CRM ",
                "https://crm.example/hook",
                &["mail.kept", "case.created"],
                Ok(("CRM", &["case.created", "mail.kept"])),
            ),
            ("CRM", "http://10.0.0.5:8080/x?y=1", &["case.closed"], Ok(("CRM", &["case.closed"]))),
            ("", "https://crm.example/hook", &["case.closed"], Err(WebhookError::NoName)),
            ("CRM", "ftp://crm.example/hook", &["case.closed"], Err(WebhookError::BadUrl)),
            ("CRM", "https://", &["case.closed"], Err(WebhookError::BadUrl)),
            ("CRM", "https://user:pw@crm.example/", &["case.closed"], Err(WebhookError::BadUrl)),
            ("CRM", "https://crm.example/a b", &["case.closed"], Err(WebhookError::BadUrl)),
            ("CRM", "https://crm.example/", &[], Err(WebhookError::NoEvents)),
            ("CRM", "https://crm.example/", &["case.deleted"], Err(WebhookError::UnknownEvent("case.deleted".into()))),
        ];
        for (name, url, events, expected) in cases {
            let got = validate(name, url, &all(events));
            let expected = expected.map(|(n, e)| (n.to_string(), all(e)));
            assert_eq!(got, expected, "{name} {url} {events:?}");
        }
    }
}
