//! Eingangsbestätigung: the automatic reply to a sender that their mail arrived — its settings per
//! mailbox (off by default) and the pure decision whether to send one (RFC 3834).
//!
//! The decision never answers an unverified sender (a forged From would make Postkorb send mail
//! to a stranger), an automatic mail (auto-reply, bounce, list, bulk, report, empty or
//! MAILER-DAEMON Return-Path) or one of the office's own addresses. „At most once per sender per
//! N hours“ is the store's part (`Store::ack_claim`, one conditional upsert), since only the
//! database knows what was sent and several instances may decide at once.

use serde::{Deserialize, Serialize};

use crate::keep::AutoKind;

/// The reply to a mail that became a Vorgang. `{betreff}`: the mail's subject, `{bearbeiter}`:
/// the Bearbeiter's name (or „unserem Team“ while it waits in a pool).
pub const DEFAULT_TEXT: &str =
    "Ihre E-Mail „{betreff}“ ist als Vorgang eingegangen und wird von {bearbeiter} bearbeitet.";
/// The reply to a mail that could not be assigned (kept as „E-Mail nicht zugeordnet“).
pub const DEFAULT_UNASSIGNED_TEXT: &str = "Ihre E-Mail „{betreff}“ konnte nicht zugeordnet werden; das Büro prüft sie.";
pub const DEFAULT_HOURS: i64 = 24;
/// The longest period one may set: 30 days.
pub const MAX_HOURS: i64 = 720;
/// The longest wording.
pub const MAX_TEXT: usize = 2000;
/// The words a wording may contain in braces.
pub const PLACEHOLDERS: [&str; 2] = ["{betreff}", "{bearbeiter}"];
/// What `{bearbeiter}` says while a Vorgang waits in a pool.
const NOBODY_YET: &str = "unserem Team";

/// A mailbox's Eingangsbestätigung settings, as stored in its row.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct AckSettings {
    pub enabled: bool,
    /// Empty: [`DEFAULT_TEXT`].
    pub text: String,
    /// At most one reply per sender within this many hours.
    pub hours: i64,
    /// Also answer mail that could not be assigned.
    pub unassigned: bool,
    /// Empty: [`DEFAULT_UNASSIGNED_TEXT`].
    pub unassigned_text: String,
}

impl Default for AckSettings {
    fn default() -> Self {
        AckSettings {
            enabled: false,
            text: String::new(),
            hours: DEFAULT_HOURS,
            unassigned: false,
            unassigned_text: String::new(),
        }
    }
}

/// What is wrong with a wording or period (German for the form, English for the CLI).
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum AckProblem {
    TooLong,
    /// A word in braces that is not one of [`PLACEHOLDERS`].
    UnknownPlaceholder(String),
    HoursOutOfRange,
}

impl AckProblem {
    pub fn german(&self) -> String {
        match self {
            AckProblem::TooLong => format!("Der Text darf höchstens {MAX_TEXT} Zeichen lang sein."),
            AckProblem::UnknownPlaceholder(p) => {
                format!("„{p}“ kennt Postkorb nicht; möglich sind {{betreff}} und {{bearbeiter}}.")
            }
            AckProblem::HoursOutOfRange => format!("Der Abstand muss zwischen 1 und {MAX_HOURS} Stunden liegen."),
        }
    }

    pub fn english(&self) -> String {
        match self {
            AckProblem::TooLong => format!("the text may have at most {MAX_TEXT} characters"),
            AckProblem::UnknownPlaceholder(p) => format!("unknown placeholder {p}: use {{betreff}} or {{bearbeiter}}"),
            AckProblem::HoursOutOfRange => format!("the period must be from 1 to {MAX_HOURS} hours"),
        }
    }
}

/// Checks a wording: its length and that every `{…}` is a known placeholder.
pub fn check_text(text: &str) -> Result<(), AckProblem> {
    if text.chars().count() > MAX_TEXT {
        return Err(AckProblem::TooLong);
    }
    let mut rest = text;
    while let Some(open) = rest.find('{') {
        let after = &rest[open..];
        let word = match after.find('}') {
            Some(close) => &after[..=close],
            None => after,
        };
        if !PLACEHOLDERS.contains(&word) {
            return Err(AckProblem::UnknownPlaceholder(word.chars().take(40).collect()));
        }
        rest = &after[word.len()..];
    }
    Ok(())
}

/// Reads the period: empty is [`DEFAULT_HOURS`].
pub fn parse_hours(s: &str) -> Result<i64, AckProblem> {
    match s.trim() {
        "" => Ok(DEFAULT_HOURS),
        given => given.parse::<i64>().ok().filter(|h| (1..=MAX_HOURS).contains(h)).ok_or(AckProblem::HoursOutOfRange),
    }
}

/// Whether the sender's identity was checked at import (DKIM aligned, or a trusted
/// Authentication-Results pass). Verification „off“ is never verified.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize, Default)]
#[serde(rename_all = "snake_case")]
pub enum Verified {
    Yes,
    #[default]
    No,
}

/// What the import records about a mail for the decision (in the `created` event's payload —
/// `LoggedEvent::ack_facts` — and on the kept row — `Store::kept_ack_facts`).
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize, Default)]
pub struct AckFacts {
    /// The From address as read (lower case), if there was a valid one.
    pub sender: Option<String>,
    pub verified: Verified,
    /// The mail's Message-ID (without brackets), for In-Reply-To.
    pub message_id: Option<String>,
    /// Why the mail is automatic (the parser's reason), if it is.
    pub automatic: Option<String>,
    /// Return-Path empty (`<>`) or MAILER-DAEMON: a bounce or another automatic notice.
    pub null_sender: bool,
    pub subject: String,
}

/// What became of the mail.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum Arrival {
    /// A Vorgang; the Bearbeiter's name, `None` while it waits in a pool.
    Vorgang { bearbeiter: Option<String> },
    /// Kept as „E-Mail nicht zugeordnet“.
    Unassigned,
}

/// Why no Eingangsbestätigung goes out.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum Skip {
    Off,
    UnassignedOff,
    NoSender,
    Unverified,
    Automatic(AutoKind),
    NullSender,
    OwnAddress,
}

/// The reply to send.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Ack {
    pub to: String,
    /// „Eingangsbestätigung: …“
    pub subject: String,
    pub text: String,
    pub in_reply_to: Option<String>,
}

/// The decision (see the module doc); `own` are the office's own robot addresses (its mailboxes,
/// the sender address of its mail — not the employees' work e-mails: field staff mailing the
/// office are whom the reply is for), compared without case. The period is checked after
/// this, by `Store::ack_claim`.
pub fn decide(facts: &AckFacts, arrival: &Arrival, settings: &AckSettings, own: &[String]) -> Option<Ack> {
    judge(facts, arrival, settings, own).ok()
}

/// [`decide`] with the reason when nothing is sent.
pub fn judge(facts: &AckFacts, arrival: &Arrival, settings: &AckSettings, own: &[String]) -> Result<Ack, Skip> {
    if !settings.enabled {
        return Err(Skip::Off);
    }
    if *arrival == Arrival::Unassigned && !settings.unassigned {
        return Err(Skip::UnassignedOff);
    }
    let sender = facts.sender.as_deref().map(str::trim).filter(|s| !s.is_empty()).ok_or(Skip::NoSender)?;
    if let Some(reason) = &facts.automatic {
        return Err(Skip::Automatic(AutoKind::classify(reason)));
    }
    if facts.null_sender {
        return Err(Skip::NullSender);
    }
    let local = sender.split('@').next().unwrap_or_default().to_ascii_lowercase();
    if ["mailer-daemon", "postmaster"].contains(&local.as_str())
        || local.starts_with("owner-")
        || local.ends_with("-request")
    {
        return Err(Skip::Automatic(AutoKind::Bounce));
    }
    if facts.verified != Verified::Yes {
        return Err(Skip::Unverified);
    }
    if own.iter().any(|o| o.trim().eq_ignore_ascii_case(sender)) {
        return Err(Skip::OwnAddress);
    }
    let subject = facts.subject.replace(['\r', '\n'], " ");
    let subject = subject.trim();
    let (template, bearbeiter) = match arrival {
        Arrival::Vorgang { bearbeiter } => {
            (or(&settings.text, DEFAULT_TEXT), bearbeiter.clone().unwrap_or_else(|| NOBODY_YET.into()))
        }
        Arrival::Unassigned => (or(&settings.unassigned_text, DEFAULT_UNASSIGNED_TEXT), NOBODY_YET.into()),
    };
    let shown = if subject.is_empty() { "(ohne Betreff)" } else { subject };
    Ok(Ack {
        to: sender.to_ascii_lowercase(),
        subject: format!("Eingangsbestätigung: {shown}"),
        text: template.replace("{betreff}", shown).replace("{bearbeiter}", &bearbeiter),
        in_reply_to: facts.message_id.clone(),
    })
}

fn or<'a>(given: &'a str, default: &'a str) -> &'a str {
    if given.trim().is_empty() { default } else { given }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn facts() -> AckFacts {
        AckFacts {
            sender: Some("kunde@example.de".into()),
            verified: Verified::Yes,
            message_id: Some("m1@example.de".into()),
            automatic: None,
            null_sender: false,
            subject: "Schaden Glasfassade".into(),
        }
    }

    fn on() -> AckSettings {
        AckSettings { enabled: true, unassigned: true, ..AckSettings::default() }
    }

    #[test]
    fn the_decision_follows_rfc_3834() {
        let own = vec!["Vorgaenge@Buero.de".to_string()];
        let bernd = Arrival::Vorgang { bearbeiter: Some("Bernd Beispiel".into()) };
        type Case = (&'static str, AckFacts, Arrival, AckSettings, Result<(), Skip>);
        let cases: Vec<Case> = vec![
            ("verified personal mail", facts(), bernd.clone(), on(), Ok(())),
            ("pooled", facts(), Arrival::Vorgang { bearbeiter: None }, on(), Ok(())),
            ("unassigned, answered", facts(), Arrival::Unassigned, on(), Ok(())),
            ("off by default", facts(), bernd.clone(), AckSettings::default(), Err(Skip::Off)),
            (
                "unassigned, not answered",
                facts(),
                Arrival::Unassigned,
                AckSettings { unassigned: false, ..on() },
                Err(Skip::UnassignedOff),
            ),
            ("unverified", AckFacts { verified: Verified::No, ..facts() }, bernd.clone(), on(), Err(Skip::Unverified)),
            (
                "auto-reply",
                AckFacts { automatic: Some("Auto-Submitted: auto-replied".into()), ..facts() },
                bernd.clone(),
                on(),
                Err(Skip::Automatic(AutoKind::AutoReply)),
            ),
            (
                "mailing list",
                AckFacts { automatic: Some("List-Id header (mailing list)".into()), ..facts() },
                bernd.clone(),
                on(),
                Err(Skip::Automatic(AutoKind::MailingList)),
            ),
            (
                "bulk",
                AckFacts { automatic: Some("Precedence: bulk".into()), ..facts() },
                bernd.clone(),
                on(),
                Err(Skip::Automatic(AutoKind::Bulk)),
            ),
            (
                "bounce by Return-Path",
                AckFacts { null_sender: true, ..facts() },
                bernd.clone(),
                on(),
                Err(Skip::NullSender),
            ),
            (
                "MAILER-DAEMON",
                AckFacts { sender: Some("MAILER-DAEMON@mx.example.de".into()), ..facts() },
                bernd.clone(),
                on(),
                Err(Skip::Automatic(AutoKind::Bounce)),
            ),
            (
                "our own address",
                AckFacts { sender: Some("vorgaenge@buero.de".into()), ..facts() },
                bernd.clone(),
                on(),
                Err(Skip::OwnAddress),
            ),
            ("no sender", AckFacts { sender: None, ..facts() }, bernd.clone(), on(), Err(Skip::NoSender)),
        ];
        for (name, f, arrival, settings, expected) in cases {
            let got = judge(&f, &arrival, &settings, &own).map(|_| ());
            assert_eq!(got, expected, "{name}");
            assert_eq!(decide(&f, &arrival, &settings, &own).is_some(), expected.is_ok(), "{name}");
        }
    }

    #[test]
    fn the_reply_names_subject_and_bearbeiter_and_threads() {
        let ack =
            decide(&facts(), &Arrival::Vorgang { bearbeiter: Some("Bernd Beispiel".into()) }, &on(), &[]).unwrap();
        assert_eq!(ack.to, "kunde@example.de");
        assert_eq!(ack.subject, "Eingangsbestätigung: Schaden Glasfassade");
        assert_eq!(
            ack.text,
            "Ihre E-Mail „Schaden Glasfassade“ ist als Vorgang eingegangen und wird von Bernd Beispiel bearbeitet."
        );
        assert_eq!(ack.in_reply_to.as_deref(), Some("m1@example.de"));
        let own = AckSettings { text: "Danke! Ihr Anliegen „{betreff}“ ist angekommen.".into(), ..on() };
        let ack = decide(&facts(), &Arrival::Vorgang { bearbeiter: None }, &own, &[]).unwrap();
        assert_eq!(ack.text, "Danke! Ihr Anliegen „Schaden Glasfassade“ ist angekommen.");
        let ack = decide(&facts(), &Arrival::Unassigned, &on(), &[]).unwrap();
        assert!(ack.text.contains("konnte nicht zugeordnet werden"), "{}", ack.text);
    }

    #[test]
    fn wordings_and_periods_are_checked() {
        let cases: [(&str, Result<(), AckProblem>); 5] = [
            ("Danke für „{betreff}“, {bearbeiter} meldet sich.", Ok(())),
            ("", Ok(())),
            ("Hallo {name}", Err(AckProblem::UnknownPlaceholder("{name}".into()))),
            ("offen {betreff", Err(AckProblem::UnknownPlaceholder("{betreff".into()))),
            (&"x".repeat(MAX_TEXT + 1), Err(AckProblem::TooLong)),
        ];
        for (text, expected) in cases {
            assert_eq!(check_text(text), expected, "{text}");
        }
        assert_eq!(parse_hours(""), Ok(24));
        assert_eq!(parse_hours("48"), Ok(48));
        for bad in ["0", "721", "-1", "zwei"] {
            assert_eq!(parse_hours(bad), Err(AckProblem::HoursOutOfRange), "{bad}");
        }
    }
}
