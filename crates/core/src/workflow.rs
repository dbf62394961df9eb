//! Working a Vorgang (issue 16): the rules of Weitergeben / Zurückgeben, Notizen and
//! Wiedervorlage that need no IO — who may act, why a change was refused (German for the
//! screens, English for the API and CLI), a note's limits, and the Wiedervorlage date on the
//! office's clock (Europe/Berlin) with its „fällig“ state.

use crate::employee::{Employee, EmployeeId, Permission};
use crate::time::{berlin_civil, berlin_to_utc};

/// The longest note, in characters (a note is a remark, not a document).
pub const NOTE_MAX_CHARS: usize = 4000;
/// The longest reason of a Wiedervorlage, in characters.
pub const REASON_MAX_CHARS: usize = 200;
/// A Wiedervorlage without a time returns at 08:00 on the office's clock.
pub const DEFAULT_FOLLOW_UP_TIME: (i64, i64) = (8, 0);

/// May `e` hand the Vorgang of `assignee` on, give it back or set its Wiedervorlage: its
/// Bearbeiter, or a holder of „E-Mails automatisch einlesen“ (the office's admin).
pub fn may_work(e: &Employee, assignee: Option<EmployeeId>) -> bool {
    assignee == Some(e.id) || e.has(Permission::ManageMailImport)
}

/// Why the store refused a change of a Vorgang; the state is read after the refusal, so the
/// person learns what happened meanwhile.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum CaseRefusal {
    /// Someone else has it now (handed over, claimed): their name.
    TakenBy(String),
    /// It is waiting for its pool again (given back meanwhile).
    Waiting,
    /// It is done (or moved to the kept mails): only an open Vorgang can be changed so.
    NotOpen,
    /// The receiver may not receive (not Aktuell, or no licence) — checked inside the write.
    ReceiverNotEligible(String),
    /// Handed to the person who has it already.
    SameReceiver,
    /// Zurückgeben is only for a Vorgang that came from a pool.
    NotFromPool,
    /// Nobody else of its pool may still receive it.
    NoOtherCandidate,
}

impl CaseRefusal {
    pub fn german(&self) -> String {
        match self {
            CaseRefusal::TakenBy(name) => format!("Dieser Vorgang wurde inzwischen von {name} übernommen."),
            CaseRefusal::Waiting => {
                "Dieser Vorgang wurde inzwischen zurückgegeben und wartet wieder auf seine Empfänger.".into()
            }
            CaseRefusal::NotOpen => "Dieser Vorgang ist nicht mehr offen (er wurde inzwischen erledigt).".into(),
            CaseRefusal::ReceiverNotEligible(name) => format!(
                "{name} kann keine Vorgänge erhalten (nicht „Aktuell“ oder ohne Lizenz). Bitte wählen Sie \
                 jemand anderen."
            ),
            CaseRefusal::SameReceiver => "Der Vorgang ist bereits bei dieser Person.".into(),
            CaseRefusal::NotFromPool => {
                "Zurückgeben geht nur bei Vorgängen, die auf mehrere Empfänger gewartet haben. Geben Sie \
                 ihn stattdessen weiter."
                    .into()
            }
            CaseRefusal::NoOtherCandidate => {
                "Zurückgeben ist nicht möglich: Niemand sonst kann diesen Vorgang übernehmen. Geben Sie ihn \
                 stattdessen weiter."
                    .into()
            }
        }
    }

    pub fn english(&self) -> String {
        match self {
            CaseRefusal::TakenBy(name) => format!("conflict: the case was taken over by {name} meanwhile"),
            CaseRefusal::Waiting => "conflict: the case was given back to its pool meanwhile".into(),
            CaseRefusal::NotOpen => "conflict: the case is not open".into(),
            CaseRefusal::ReceiverNotEligible(name) => {
                format!("conflict: {name} may not receive cases (not current or no licence)")
            }
            CaseRefusal::SameReceiver => "conflict: the case is already with this employee".into(),
            CaseRefusal::NotFromPool => "conflict: only a case that came from a pool can be given back".into(),
            CaseRefusal::NoOtherCandidate => "conflict: no other candidate of the pool may receive the case".into(),
        }
    }
}

/// A note's text after trimming, or why it cannot be a note.
pub fn check_note(text: &str) -> Result<String, NoteError> {
    let text = text.trim();
    if text.is_empty() {
        return Err(NoteError::Empty);
    }
    if text.chars().count() > NOTE_MAX_CHARS {
        return Err(NoteError::TooLong);
    }
    // Text only: control characters other than line breaks and tabs are dropped.
    Ok(text.chars().filter(|c| !c.is_control() || matches!(c, '\n' | '\t')).collect::<String>().replace("\r", ""))
}

#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum NoteError {
    Empty,
    TooLong,
}

impl NoteError {
    pub fn german(self) -> String {
        match self {
            NoteError::Empty => "Bitte schreiben Sie einen Text für die Notiz.".into(),
            NoteError::TooLong => format!("Eine Notiz darf höchstens {NOTE_MAX_CHARS} Zeichen lang sein."),
        }
    }

    pub fn english(self) -> String {
        match self {
            NoteError::Empty => "the note is empty".into(),
            NoteError::TooLong => format!("a note may have at most {NOTE_MAX_CHARS} characters"),
        }
    }
}

/// Why a Wiedervorlage date was not accepted.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum FollowUpError {
    /// Not a date `YYYY-MM-DD` (or `TT.MM.JJJJ`), or not a time `HH:MM`.
    Unreadable,
    /// Not after now.
    NotInFuture,
    ReasonTooLong,
}

impl FollowUpError {
    pub fn german(self) -> String {
        match self {
            FollowUpError::Unreadable => {
                "Bitte geben Sie ein Datum (TT.MM.JJJJ) und, wenn Sie möchten, eine Uhrzeit (HH:MM) an.".into()
            }
            FollowUpError::NotInFuture => "Die Wiedervorlage muss in der Zukunft liegen.".into(),
            FollowUpError::ReasonTooLong => {
                format!("Der Grund der Wiedervorlage darf höchstens {REASON_MAX_CHARS} Zeichen lang sein.")
            }
        }
    }

    pub fn english(self) -> String {
        match self {
            FollowUpError::Unreadable => "date must be YYYY-MM-DD (or DD.MM.YYYY), time HH:MM".into(),
            FollowUpError::NotInFuture => "the follow-up date must be in the future".into(),
            FollowUpError::ReasonTooLong => format!("the reason may have at most {REASON_MAX_CHARS} characters"),
        }
    }
}

fn parse_date(s: &str) -> Option<(i64, i64, i64)> {
    let s = s.trim();
    let parts: Vec<&str> = if s.contains('-') { s.split('-').collect() } else { s.split('.').rev().collect() };
    let [y, m, d] = parts.as_slice() else { return None };
    let (y, m, d): (i64, i64, i64) = (y.trim().parse().ok()?, m.trim().parse().ok()?, d.trim().parse().ok()?);
    let leap = (y % 4 == 0 && y % 100 != 0) || y % 400 == 0;
    let days = [31, if leap { 29 } else { 28 }, 31, 30, 31, 30, 31, 31, 30, 31, 30, 31];
    ((1970..=9999).contains(&y) && (1..=12).contains(&m) && d >= 1 && d <= days[(m - 1) as usize]).then_some((y, m, d))
}

fn parse_time(s: &str) -> Option<(i64, i64)> {
    let (h, m) = s.trim().split_once(':')?;
    let (h, m): (i64, i64) = (h.parse().ok()?, m.parse().ok()?);
    ((0..24).contains(&h) && (0..60).contains(&m)).then_some((h, m))
}

/// The moment a Wiedervorlage returns: `date` (`YYYY-MM-DD` or `TT.MM.JJJJ`) at `time` (`HH:MM`;
/// empty: 08:00) on the office's clock, which must lie after `now_ms`.
pub fn follow_up_at(date: &str, time: &str, now_ms: i64) -> Result<i64, FollowUpError> {
    let (y, m, d) = parse_date(date).ok_or(FollowUpError::Unreadable)?;
    let (hh, mm) = if time.trim().is_empty() {
        DEFAULT_FOLLOW_UP_TIME
    } else {
        parse_time(time).ok_or(FollowUpError::Unreadable)?
    };
    let at = berlin_to_utc(y, m, d, hh, mm);
    if at <= now_ms {
        return Err(FollowUpError::NotInFuture);
    }
    Ok(at)
}

/// A reason after trimming (empty: none), or why not.
pub fn check_reason(reason: &str) -> Result<Option<String>, FollowUpError> {
    let r: String = reason.trim().chars().filter(|c| !c.is_control()).collect();
    if r.chars().count() > REASON_MAX_CHARS {
        return Err(FollowUpError::ReasonTooLong);
    }
    Ok((!r.is_empty()).then_some(r))
}

/// Where a Vorgang with a Wiedervorlage stands at `now_ms`.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum FollowUpState {
    /// Not yet: the Vorgang is under „Wiedervorlage“.
    Pending,
    /// The moment has come today (office's clock): back under „Offen“, marked „fällig“.
    Due,
    /// Due since an earlier day: „überfällig“, highlighted.
    Overdue,
}

/// The state of a Wiedervorlage at `due_ms`, seen at `now_ms`; days are the office's days.
pub fn follow_up_state(due_ms: i64, now_ms: i64) -> FollowUpState {
    if due_ms > now_ms {
        return FollowUpState::Pending;
    }
    let day = |ms| {
        let (y, m, d, _, _) = berlin_civil(ms);
        (y, m, d)
    };
    if day(due_ms) < day(now_ms) { FollowUpState::Overdue } else { FollowUpState::Due }
}

impl FollowUpState {
    /// The mark on the Startmaske and the Vorgang.
    pub fn german(self) -> &'static str {
        match self {
            FollowUpState::Pending => "Wiedervorlage",
            FollowUpState::Due => "fällig",
            FollowUpState::Overdue => "überfällig",
        }
    }

    pub fn code(self) -> &'static str {
        match self {
            FollowUpState::Pending => "pending",
            FollowUpState::Due => "due",
            FollowUpState::Overdue => "overdue",
        }
    }
}
