//! One mailbox's health as the settings list (`/optionen/e-mail`) and the API (`/api/v1/mailboxes`)
//! show it: where it fetches from, whether it is on, the last successful fetch, the last error as a
//! [`ProblemReport`] (never the recorded text itself, which may quote the server), the mails waiting
//! on the server at the last fetch, what the ledger holds, and roughly when the next try is.

use postkorb_store::{MailboxRecord, Store, StoreError};

use crate::problems::ProblemReport;
use crate::util::german_time;

pub struct MailboxHealth {
    pub name: String,
    pub protocol: String,
    /// `imap.example.de:993`, or the Maildir's path.
    pub place: String,
    pub enabled: bool,
    pub last_success_ms: Option<i64>,
    pub problem: Option<ProblemReport>,
    pub last_error_ms: Option<i64>,
    pub waiting_on_server: Option<i64>,
    /// From the ledger: stored as Vorgang, kept, duplicates.
    pub cases: i64,
    pub kept: i64,
    pub duplicates: i64,
    /// The poll interval after the last fetch (a watch with IMAP IDLE fetches sooner); none while
    /// disabled or before the first fetch.
    pub next_try_ms: Option<i64>,
}

impl MailboxHealth {
    pub async fn of(store: &Store, m: &MailboxRecord) -> Result<MailboxHealth, StoreError> {
        let (cases, kept, duplicates) = store.mailbox_counts(m.id).await?;
        let place = if m.protocol == "maildir" {
            m.maildir_path.clone().unwrap_or_default()
        } else if m.port > 0 {
            format!("{}:{}", m.host, m.port)
        } else {
            m.host.clone()
        };
        let last = m.last_success_ms.max(m.last_error_ms.filter(|_| m.last_error.is_some()));
        Ok(MailboxHealth {
            name: m.name.clone(),
            protocol: m.protocol.clone(),
            place,
            enabled: m.enabled,
            last_success_ms: m.last_success_ms,
            problem: ProblemReport::of_health(m),
            last_error_ms: m.last_error_ms,
            waiting_on_server: m.waiting_on_server,
            cases,
            kept,
            duplicates,
            next_try_ms: last.filter(|_| m.enabled).map(|t| t + m.poll_secs.max(1) * 1000),
        })
    }

    /// Every mailbox, by name.
    pub async fn all(store: &Store) -> Result<Vec<MailboxHealth>, StoreError> {
        let mut out = Vec::new();
        for m in store.mailboxes().await? {
            out.push(MailboxHealth::of(store, &m).await?);
        }
        Ok(out)
    }

    /// „IMAP“, „POP3“, „Maildir“, „Microsoft 365 (Graph)“.
    pub fn protocol_label(&self) -> &'static str {
        match self.protocol.as_str() {
            "pop3" => "POP3",
            "maildir" => "Maildir",
            "graph" => "Microsoft 365 (Graph)",
            _ => "IMAP",
        }
    }

    pub fn last_success(&self) -> String {
        self.last_success_ms.map(german_time).unwrap_or_else(|| "noch nie".into())
    }

    /// When the problem was recorded, for the list.
    pub fn problem_time(&self) -> String {
        self.last_error_ms.map(german_time).unwrap_or_default()
    }

    pub fn waiting(&self) -> String {
        self.waiting_on_server.map(|n| n.to_string()).unwrap_or_else(|| "unbekannt".into())
    }

    pub fn imported(&self) -> i64 {
        self.cases + self.kept
    }

    pub fn next_try(&self) -> String {
        match (self.enabled, self.next_try_ms) {
            (false, _) => "keiner (deaktiviert)".into(),
            (true, Some(t)) => format!("etwa {}", german_time(t)),
            (true, None) => "sobald Postkorb läuft".into(),
        }
    }

    /// The API's object: the problem as its kind and German words, never the recorded text.
    pub fn json(&self) -> serde_json::Value {
        serde_json::json!({
            "name": self.name,
            "protocol": self.protocol,
            "place": self.place,
            "enabled": self.enabled,
            "last_success_ms": self.last_success_ms,
            "last_error": self.problem.as_ref().map(|p| serde_json::json!({
                "kind": p.kind.code(),
                "german": p.german(),
                "at_ms": self.last_error_ms,
            })),
            "waiting_on_server": self.waiting_on_server,
            "imported_cases": self.cases,
            "kept": self.kept,
            "duplicates": self.duplicates,
            "next_try_ms": self.next_try_ms,
        })
    }
}
