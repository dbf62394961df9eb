//! Aufbewahrungsfristen (issue 18): which stored data is due for deletion when, as pure rules on
//! the office's clock. The store asks these for its cut-offs (`Store::retention_run`); the
//! settings page and `postkorb retention show` explain them with [`RetentionClass::meaning`].
//!
//! Legal sources (Germany, insurance broker):
//! - **Vorgänge** are business letters (Handelsbriefe): § 257 Abs. 1 Nr. 2, 3, Abs. 4 HGB and
//!   § 147 Abs. 1 Nr. 2, 3, Abs. 3 AO keep received and sent business letters **6 years**; by
//!   § 257 Abs. 5 HGB / § 147 Abs. 4 AO the period begins at the **end of the calendar year** in
//!   which the letter was received or sent. A Vorgang is only finished when it is „Erledigt“, so the
//!   period runs from the end of the year it was closed; a reopened Vorgang starts over. Open
//!   Vorgänge are never due. After the period, Art. 17 Abs. 1 lit. a and Abs. 3 lit. b DSGVO require
//!   deletion (the purpose has ended, no legal duty keeps it).
//! - **Nicht zugeordnete E-Mails** have no business purpose of their own (Art. 5 Abs. 1 lit. c, e
//!   DSGVO, data minimisation and storage limitation): discarded ones go after 30 days (time to undo
//!   a mistake), open ones after one year, with a warning one month before.
//! - **Duplicates in the ledger** (the same mail received twice) keep nothing of the mail but its
//!   key and fingerprint; they never outlive the original's bytes and go in the same step.
//! - **Änderungsprotokoll and Löschprotokoll**: proof of what was done (Art. 5 Abs. 2, Art. 30
//!   DSGVO accountability); 10 years, the longest period of § 147 Abs. 3 AO, so the proof outlives
//!   any data it speaks of.
//! - **Sitzungen, fehlgeschlagene Anmeldungen, Zustellprotokoll**: operational data; 90 days after
//!   they end (security review of incidents), then deletion (Art. 5 Abs. 1 lit. e DSGVO).
//!
//! A Sperre ([`HoldKind`]) stops every deletion of what it is on while it holds.

use serde::{Deserialize, Serialize};

use crate::time::{berlin_civil, berlin_to_utc};

const DAY_MS: i64 = 86_400_000;

/// What is deleted by its own period.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, Serialize, Deserialize)]
pub enum RetentionClass {
    /// Erledigte Vorgänge with everything about them (raw mail, attachments, notes, Verlauf, index).
    Cases,
    /// Kept mails that were discarded („Verworfen“).
    KeptDiscarded,
    /// Kept mails nobody handled.
    KeptOpen,
    /// The Änderungsprotokoll (`audit_log`).
    Audit,
    /// The Löschprotokoll itself.
    DeletionLog,
    /// Ended login sessions.
    Sessions,
    /// Failed logins.
    LoginFailures,
    /// Delivered or given-up notifications and webhooks (the Zustellprotokoll).
    Deliveries,
}

/// How a class's period is counted.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Unit {
    /// Years after the end of the calendar year (office clock) the thing ended in.
    YearsAfterYearEnd,
    /// Calendar years (office clock).
    Years,
    Days,
}

impl RetentionClass {
    pub const ALL: [RetentionClass; 8] = [
        RetentionClass::Cases,
        RetentionClass::KeptDiscarded,
        RetentionClass::KeptOpen,
        RetentionClass::Audit,
        RetentionClass::DeletionLog,
        RetentionClass::Sessions,
        RetentionClass::LoginFailures,
        RetentionClass::Deliveries,
    ];

    /// The word in the database, the CLI and the API.
    pub fn code(self) -> &'static str {
        match self {
            RetentionClass::Cases => "cases",
            RetentionClass::KeptDiscarded => "kept_discarded",
            RetentionClass::KeptOpen => "kept_open",
            RetentionClass::Audit => "audit",
            RetentionClass::DeletionLog => "deletion_log",
            RetentionClass::Sessions => "sessions",
            RetentionClass::LoginFailures => "login_failures",
            RetentionClass::Deliveries => "deliveries",
        }
    }

    pub fn from_code(code: &str) -> Option<RetentionClass> {
        RetentionClass::ALL.into_iter().find(|c| c.code() == code.trim())
    }

    pub fn unit(self) -> Unit {
        match self {
            RetentionClass::Cases => Unit::YearsAfterYearEnd,
            RetentionClass::Audit | RetentionClass::DeletionLog => Unit::Years,
            _ => Unit::Days,
        }
    }

    /// The period when nobody changed it.
    pub fn default_period(self) -> u32 {
        match self {
            RetentionClass::Cases => 6,
            RetentionClass::KeptDiscarded => 30,
            RetentionClass::KeptOpen => 365,
            RetentionClass::Audit | RetentionClass::DeletionLog => 10,
            RetentionClass::Sessions | RetentionClass::LoginFailures | RetentionClass::Deliveries => 90,
        }
    }

    /// The smallest and largest period the office may set: never below the legal minimum.
    pub fn bounds(self) -> (u32, u32) {
        match self {
            RetentionClass::Cases => (6, 30),
            RetentionClass::Audit | RetentionClass::DeletionLog => (1, 30),
            RetentionClass::KeptDiscarded => (1, 3650),
            RetentionClass::KeptOpen => (60, 3650),
            _ => (1, 3650),
        }
    }

    /// The German name on the page and in the Löschprotokoll.
    pub fn german(self) -> &'static str {
        match self {
            RetentionClass::Cases => "Erledigte Vorgänge",
            RetentionClass::KeptDiscarded => "Verworfene nicht zugeordnete E-Mails",
            RetentionClass::KeptOpen => "Unbearbeitete nicht zugeordnete E-Mails",
            RetentionClass::Audit => "Änderungsprotokoll",
            RetentionClass::DeletionLog => "Löschprotokoll",
            RetentionClass::Sessions => "Abgelaufene Anmeldungen",
            RetentionClass::LoginFailures => "Fehlgeschlagene Anmeldeversuche",
            RetentionClass::Deliveries => "Zustellprotokoll (Benachrichtigungen, Webhooks)",
        }
    }

    /// What the period means, in plain German, for `n`.
    pub fn meaning(self, n: u32) -> String {
        match self {
            RetentionClass::Cases => format!(
                "Ein erledigter Vorgang wird {n} Jahre nach dem Ende des Kalenderjahres gelöscht, in dem er erledigt \
                 wurde – mit E-Mail, Anhängen, Notizen und Verlauf (Handelsbriefe: § 257 HGB, § 147 AO). Wird er \
                 wieder geöffnet, beginnt die Frist neu. Offene Vorgänge werden nie gelöscht."
            ),
            RetentionClass::KeptDiscarded => {
                format!("Eine verworfene E-Mail wird {n} Tage nach dem Verwerfen endgültig gelöscht.")
            }
            RetentionClass::KeptOpen => format!(
                "Eine nicht zugeordnete E-Mail, die niemand bearbeitet, wird {n} Tage nach dem Eingang gelöscht. \
                 Einen Monat vorher wird sie in „Nicht zugeordnete E-Mails“ als „wird bald gelöscht“ gezeigt."
            ),
            RetentionClass::Audit => {
                format!("Einträge im Änderungsprotokoll werden nach {n} Jahren gelöscht (Nachweis, was getan wurde).")
            }
            RetentionClass::DeletionLog => format!(
                "Einträge im Löschprotokoll werden nach {n} Jahren gelöscht. Sie nennen nur Nummern und Prüfsummen, \
                 nie Inhalte."
            ),
            RetentionClass::Sessions => format!("Abgelaufene Anmeldungen werden {n} Tage nach ihrem Ende gelöscht."),
            RetentionClass::LoginFailures => {
                format!("Fehlgeschlagene Anmeldeversuche werden nach {n} Tagen gelöscht.")
            }
            RetentionClass::Deliveries => format!(
                "Zugestellte oder aufgegebene Benachrichtigungen und Webhook-Nachrichten werden nach {n} Tagen gelöscht."
            ),
        }
    }

    /// The unit as a German word, for a form's field.
    pub fn unit_german(self) -> &'static str {
        match self.unit() {
            Unit::YearsAfterYearEnd | Unit::Years => "Jahre",
            Unit::Days => "Tage",
        }
    }

    /// Rows of this class whose moment (closed, discarded, arrived, written, ended) lies before the
    /// returned time are due at `now_ms`, with period `n`.
    pub fn cutoff(self, now_ms: i64, n: u32) -> i64 {
        let n = i64::from(n);
        match self.unit() {
            // Closed in year Y: due from 1 January of Y + 1 + n. So due now when Y < now's year - n.
            Unit::YearsAfterYearEnd => {
                let (y, ..) = berlin_civil(now_ms);
                berlin_to_utc(y - n, 1, 1, 0, 0)
            }
            Unit::Years => years_before(now_ms, n),
            Unit::Days => now_ms - n * DAY_MS,
        }
    }

    /// When something of this class with moment `at_ms` is due, with period `n`.
    pub fn due_at(self, at_ms: i64, n: u32) -> i64 {
        let n = i64::from(n);
        match self.unit() {
            Unit::YearsAfterYearEnd => {
                let (y, ..) = berlin_civil(at_ms);
                berlin_to_utc(y + 1 + n, 1, 1, 0, 0)
            }
            Unit::Years => years_before(at_ms, -n),
            Unit::Days => at_ms + n * DAY_MS,
        }
    }
}

/// The same moment on the office's clock `n` calendar years earlier (29 February → 28 February).
fn years_before(ms: i64, n: i64) -> i64 {
    let (y, m, d, hh, mm) = berlin_civil(ms);
    let y = y - n;
    let leap = (y % 4 == 0 && y % 100 != 0) || y % 400 == 0;
    let d = if m == 2 && d == 29 && !leap { 28 } else { d };
    berlin_to_utc(y, m, d, hh, mm) + ms.rem_euclid(60_000)
}

/// The periods of every class, as stored (a class without a row has its default).
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct RetentionSettings {
    periods: Vec<(RetentionClass, u32)>,
    /// When the daily deletion run starts, minutes after midnight on the office's clock.
    pub run_minute: u32,
}

impl Default for RetentionSettings {
    fn default() -> Self {
        RetentionSettings {
            periods: RetentionClass::ALL.iter().map(|c| (*c, c.default_period())).collect(),
            run_minute: 2 * 60 + 30,
        }
    }
}

/// Why a period was refused.
#[derive(Clone, Debug, PartialEq, Eq, thiserror::Error)]
#[error("{class}: {value} is outside {min}..={max}", class = .class.code())]
pub struct PeriodError {
    pub class: RetentionClass,
    pub value: i64,
    pub min: u32,
    pub max: u32,
}

impl PeriodError {
    pub fn german(&self) -> String {
        format!("{}: erlaubt sind {} bis {} {}.", self.class.german(), self.min, self.max, self.class.unit_german())
    }
}

impl RetentionSettings {
    pub fn period(&self, class: RetentionClass) -> u32 {
        self.periods.iter().find(|(c, _)| *c == class).map(|(_, n)| *n).unwrap_or(class.default_period())
    }

    /// Sets a period after checking it against the class's bounds.
    pub fn set(&mut self, class: RetentionClass, value: i64) -> Result<(), PeriodError> {
        let (min, max) = class.bounds();
        if value < i64::from(min) || value > i64::from(max) {
            return Err(PeriodError { class, value, min, max });
        }
        for p in &mut self.periods {
            if p.0 == class {
                p.1 = value as u32;
            }
        }
        Ok(())
    }

    /// Every class with its period, in [`RetentionClass::ALL`] order.
    pub fn all(&self) -> Vec<(RetentionClass, u32)> {
        RetentionClass::ALL.iter().map(|c| (*c, self.period(*c))).collect()
    }

    /// A kept mail still open that arrived at `kept_ms`: when it will be deleted, if that is within
    /// the month of warning at `now_ms` („wird bald gelöscht“).
    pub fn kept_warning(&self, kept_ms: i64, now_ms: i64) -> Option<i64> {
        let due = RetentionClass::KeptOpen.due_at(kept_ms, self.period(RetentionClass::KeptOpen));
        (now_ms >= due - WARN_DAYS * DAY_MS).then_some(due)
    }
}

/// How long before its deletion an open kept mail is marked.
pub const WARN_DAYS: i64 = 30;

/// The state of a Vorgang as far as its deletion is concerned.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct CaseFacts {
    /// Only „Erledigt“ Vorgänge are ever due.
    pub done: bool,
    /// When it was (last) closed; „Wieder öffnen“ clears it, so a reopened one starts over.
    pub closed_ms: Option<i64>,
    /// A Sperre holds it.
    pub held: bool,
}

/// Whether a Vorgang is due for deletion at `now_ms` with a period of `years`.
pub fn case_due(facts: CaseFacts, now_ms: i64, years: u32) -> bool {
    match facts {
        CaseFacts { done: true, closed_ms: Some(closed), held: false } => {
            closed < RetentionClass::Cases.cutoff(now_ms, years)
        }
        _ => false,
    }
}

/// Löschen auf Antrag (Art. 17 Abs. 3 lit. b DSGVO): until when a legal duty keeps a Vorgang —
/// an „Erledigt“ one within its period, as a business letter. `None`: no duty, it may go now (an
/// open Vorgang is the running business the person asks to end; a due one is deleted anyway).
pub fn erase_duty(facts: CaseFacts, now_ms: i64, years: u32) -> Option<i64> {
    let closed = facts.closed_ms.filter(|_| facts.done)?;
    let due = RetentionClass::Cases.due_at(closed, years);
    (due > now_ms).then_some(due)
}

/// The reason of the Sperre „Einschränkung der Verarbeitung“ set instead of a deletion, in German.
pub fn erase_duty_reason(until_ms: i64) -> String {
    let (y, m, d, ..) = berlin_civil(until_ms);
    format!(
        "Aufbewahrungspflicht für Handelsbriefe (§ 257 HGB, § 147 AO) bis {d:02}.{m:02}.{y:04}: \
         Löschung auf Antrag nicht möglich, Verarbeitung eingeschränkt (Art. 17 Abs. 3 lit. b, Art. 18 DSGVO)"
    )
}

/// A Sperre on a Vorgang or a kept mail.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, Serialize, Deserialize)]
pub enum HoldKind {
    /// „Aufbewahrung“ (legal hold): never deleted while it holds.
    Retention,
    /// „Einschränkung der Verarbeitung“ (Art. 18 DSGVO): not deleted, and seen only by holders of
    /// „Datenschutz verwalten“.
    Restriction,
}

impl HoldKind {
    pub const ALL: [HoldKind; 2] = [HoldKind::Retention, HoldKind::Restriction];

    pub fn code(self) -> &'static str {
        match self {
            HoldKind::Retention => "retention",
            HoldKind::Restriction => "restriction",
        }
    }

    pub fn from_code(code: &str) -> Option<HoldKind> {
        HoldKind::ALL.into_iter().find(|k| k.code() == code.trim())
    }

    pub fn german(self) -> &'static str {
        match self {
            HoldKind::Retention => "Aufbewahrung",
            HoldKind::Restriction => "Einschränkung der Verarbeitung",
        }
    }

    /// Whether it hides the Vorgang from everyone without „Datenschutz verwalten“.
    pub fn hides(self) -> bool {
        self == HoldKind::Restriction
    }
}

/// The longest reason of a Sperre.
pub const HOLD_REASON_MAX: usize = 1000;

/// Checks a Sperre's reason and its date (end or review, must lie ahead).
pub fn check_hold(reason: &str, until_ms: i64, now_ms: i64) -> Result<(), &'static str> {
    if reason.trim().is_empty() {
        return Err("Bitte geben Sie einen Grund an.");
    }
    if reason.chars().count() > HOLD_REASON_MAX {
        return Err("Der Grund ist zu lang (höchstens 1000 Zeichen).");
    }
    if until_ms <= now_ms {
        return Err("Das Datum (Ende oder Überprüfung) muss in der Zukunft liegen.");
    }
    Ok(())
}
