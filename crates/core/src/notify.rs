//! E-mail notifications (issue 17): the four kinds a person can be told about, how they want each
//! („sofort“, „täglich um HH:MM als Zusammenfassung“, „aus“), the defaults, and when a daily
//! summary (digest) is due on the office's clock (Europe/Berlin). Pure rules; the store keeps the
//! preferences (`notify_settings`, migration 0024), `postkorb_store::notify::recipients` says who
//! is told about an event, and `postkorb_web::notify_mail` writes the German mails.

use serde::{Deserialize, Serialize};

use crate::time::{berlin_civil, berlin_to_utc, civil_from_ms};

/// What a person is told about.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum NotifyKind {
    /// „Neuer Vorgang für mich“: assigned to me when it was made (also as Vertreter).
    NewCase,
    /// „Wartet auf mich in einem Pool“: waiting with me as a candidate (also given back).
    Pool,
    /// „Wiedervorlage fällig“: the Wiedervorlage of my Vorgang is due.
    FollowUpDue,
    /// „An mich weitergegeben“: someone else handed a Vorgang to me.
    HandedOver,
}

impl NotifyKind {
    pub const ALL: [NotifyKind; 4] =
        [NotifyKind::NewCase, NotifyKind::Pool, NotifyKind::FollowUpDue, NotifyKind::HandedOver];

    /// The stored word (column name in `notify_settings`, API field).
    pub fn code(self) -> &'static str {
        match self {
            NotifyKind::NewCase => "new_case",
            NotifyKind::Pool => "pool",
            NotifyKind::FollowUpDue => "follow_up_due",
            NotifyKind::HandedOver => "handed_over",
        }
    }

    pub fn from_code(s: &str) -> Option<NotifyKind> {
        NotifyKind::ALL.into_iter().find(|k| k.code() == s)
    }

    /// The label on the settings page.
    pub fn german(self) -> &'static str {
        match self {
            NotifyKind::NewCase => "Neuer Vorgang für mich",
            NotifyKind::Pool => "Wartet auf mich in einem Pool",
            NotifyKind::FollowUpDue => "Wiedervorlage fällig",
            NotifyKind::HandedOver => "An mich weitergegeben",
        }
    }
}

/// How a person wants one kind.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Timing {
    /// „sofort“: one mail per event.
    Now,
    /// „täglich als Zusammenfassung“ at the person's digest time.
    Daily,
    /// „aus“.
    Off,
}

impl Timing {
    pub const ALL: [Timing; 3] = [Timing::Now, Timing::Daily, Timing::Off];

    pub fn code(self) -> &'static str {
        match self {
            Timing::Now => "now",
            Timing::Daily => "daily",
            Timing::Off => "off",
        }
    }

    pub fn from_code(s: &str) -> Option<Timing> {
        Timing::ALL.into_iter().find(|t| t.code() == s)
    }

    pub fn german(self) -> &'static str {
        match self {
            Timing::Now => "sofort",
            Timing::Daily => "täglich als Zusammenfassung",
            Timing::Off => "aus",
        }
    }
}

/// One person's notification settings: a timing per kind and one time of day for the summary.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct NotifyPrefs {
    pub new_case: Timing,
    pub pool: Timing,
    pub follow_up_due: Timing,
    pub handed_over: Timing,
    /// The summary's time on the office's clock, minutes after midnight (08:00 = 480).
    pub digest_minute: i64,
}

/// The summary's default time: 08:00 on the office's clock.
pub const DEFAULT_DIGEST_MINUTE: i64 = 8 * 60;

impl Default for NotifyPrefs {
    /// Told at once about what is theirs (new, handed over, due); not about every pool Vorgang
    /// (a pool mail reaches several people, and the first to synchronise takes it).
    fn default() -> Self {
        NotifyPrefs {
            new_case: Timing::Now,
            pool: Timing::Off,
            follow_up_due: Timing::Now,
            handed_over: Timing::Now,
            digest_minute: DEFAULT_DIGEST_MINUTE,
        }
    }
}

impl NotifyPrefs {
    pub fn timing(&self, kind: NotifyKind) -> Timing {
        match kind {
            NotifyKind::NewCase => self.new_case,
            NotifyKind::Pool => self.pool,
            NotifyKind::FollowUpDue => self.follow_up_due,
            NotifyKind::HandedOver => self.handed_over,
        }
    }

    pub fn set(&mut self, kind: NotifyKind, timing: Timing) {
        match kind {
            NotifyKind::NewCase => self.new_case = timing,
            NotifyKind::Pool => self.pool = timing,
            NotifyKind::FollowUpDue => self.follow_up_due = timing,
            NotifyKind::HandedOver => self.handed_over = timing,
        }
    }

    /// Does any kind go into the daily summary?
    pub fn any_daily(&self) -> bool {
        NotifyKind::ALL.iter().any(|k| self.timing(*k) == Timing::Daily)
    }
}

/// `HH:MM` → minutes after midnight; `None` for anything else.
pub fn parse_digest_time(s: &str) -> Option<i64> {
    let (h, m) = s.trim().split_once(':')?;
    let ok = |v: &str, max: i64| v.parse::<i64>().ok().filter(|n| (1..=2).contains(&v.len()) && (0..=max).contains(n));
    Some(ok(h, 23)? * 60 + ok(m, 59)?)
}

/// Minutes after midnight → `HH:MM`.
pub fn digest_time(minute: i64) -> String {
    format!("{:02}:{:02}", minute.div_euclid(60), minute.rem_euclid(60))
}

/// The last moment at or before `now_ms` at which the clocks of the office showed `minute`
/// (minutes after midnight): today's if it has passed, else yesterday's. On the spring day a
/// time that does not exist (02:30) is 03:30; 08:00 is 08:00 local on both sides of a change.
pub fn last_digest_slot(minute: i64, now_ms: i64) -> i64 {
    let (hh, mm) = (minute.div_euclid(60), minute.rem_euclid(60));
    let (y, m, d, _, _) = berlin_civil(now_ms);
    let today = berlin_to_utc(y, m, d, hh, mm);
    if today <= now_ms {
        return today;
    }
    // The calendar day before (noon UTC of the day, one day back, is safely that date).
    let (y, m, d, _, _) = civil_from_ms(berlin_to_utc(y, m, d, 12, 0) - 86_400_000);
    berlin_to_utc(y, m, d, hh, mm)
}

/// Is a person's daily summary due at `now_ms`: has the digest time (`minute` after midnight on the
/// office's clock) come since the last summary was sent (`last_sent_ms`)? Once per day: after a
/// summary at 08:00 the next is due at 08:00 the next day.
pub fn digest_due(minute: i64, last_sent_ms: i64, now_ms: i64) -> bool {
    last_sent_ms < last_digest_slot(minute, now_ms)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::time::berlin_to_utc;

    const MIN: i64 = 60_000;

    #[test]
    fn the_defaults_tell_at_once_about_ones_own_and_not_about_pools() {
        let p = NotifyPrefs::default();
        let got: Vec<_> = NotifyKind::ALL.iter().map(|k| p.timing(*k)).collect();
        assert_eq!(got, [Timing::Now, Timing::Off, Timing::Now, Timing::Now]);
        assert_eq!(digest_time(p.digest_minute), "08:00");
        assert!(!p.any_daily());
        for k in NotifyKind::ALL {
            assert_eq!(NotifyKind::from_code(k.code()), Some(k));
        }
        for t in Timing::ALL {
            assert_eq!(Timing::from_code(t.code()), Some(t));
        }
    }

    #[test]
    fn a_digest_time_is_hh_mm() {
        for (text, minute) in [
            ("08:00", Some(480)),
            ("7:05", Some(425)),
            ("00:00", Some(0)),
            ("23:59", Some(1439)),
            (" 12:30 ", Some(750)),
        ] {
            assert_eq!(parse_digest_time(text), minute, "{text}");
        }
        for bad in ["24:00", "12:60", "12", "", "ab:cd", "-1:00", "123:00", "12:5x"] {
            assert_eq!(parse_digest_time(bad), None, "{bad}");
        }
    }

    /// (digest time, last sent, now, due?) with times on the office's clock.
    #[test]
    fn the_digest_is_due_once_a_day_at_its_local_time_across_summer_time_and_midnight() {
        let at = |y, m, d, hh, mm| berlin_to_utc(y, m, d, hh, mm);
        let cases: &[(&str, i64, i64, i64, bool)] = &[
            ("before its time", 480, at(2026, 6, 9, 8, 0), at(2026, 6, 10, 7, 59), false),
            ("at its time", 480, at(2026, 6, 9, 8, 0), at(2026, 6, 10, 8, 0), true),
            ("sent today already", 480, at(2026, 6, 10, 8, 0), at(2026, 6, 10, 17, 0), false),
            ("sent late today (missed slot caught up)", 480, at(2026, 6, 10, 9, 30), at(2026, 6, 10, 23, 0), false),
            ("days missed: one digest", 480, at(2026, 6, 1, 8, 0), at(2026, 6, 10, 8, 1), true),
            // Spring forward, 29 March 2026: 08:00 local is 06:00 UTC, the day before 07:00 UTC.
            ("spring: not at 07:00 local", 480, at(2026, 3, 28, 8, 0), at(2026, 3, 29, 7, 0), false),
            ("spring: 08:00 local", 480, at(2026, 3, 28, 8, 0), at(2026, 3, 29, 8, 0), true),
            // Fall back, 25 October 2026: 08:00 local is 07:00 UTC, the day before 06:00 UTC.
            ("autumn: not at 07:59 local", 480, at(2026, 10, 24, 8, 0), at(2026, 10, 25, 7, 59), false),
            ("autumn: 08:00 local", 480, at(2026, 10, 24, 8, 0), at(2026, 10, 25, 8, 0), true),
            // Midnight digests: the slot of the new day.
            ("midnight: 23:59 the day before", 0, at(2026, 6, 9, 0, 0), at(2026, 6, 9, 23, 59), false),
            ("midnight: 00:00", 0, at(2026, 6, 9, 0, 0), at(2026, 6, 10, 0, 0), true),
            (
                "23:30: after midnight, yesterday's slot was sent",
                1410,
                at(2026, 6, 9, 23, 30),
                at(2026, 6, 10, 0, 10),
                false,
            ),
            ("23:30: yesterday's slot missed", 1410, at(2026, 6, 8, 23, 30), at(2026, 6, 10, 0, 10), true),
            // New Year, in winter time.
            ("new year", 480, at(2026, 12, 31, 8, 0), at(2027, 1, 1, 8, 0), true),
            // Never sent (0): due at the first slot.
            ("never sent", 480, 0, at(2026, 6, 10, 8, 0), true),
        ];
        for (what, minute, last, now, due) in cases {
            assert_eq!(digest_due(*minute, *last, *now), *due, "{what}");
        }
    }

    #[test]
    fn the_digest_slot_is_local_time_on_both_sides_of_a_change() {
        let utc = |y: i64, m: i64, d: i64, hh: i64| {
            crate::time::parse_iso_date(&format!("{y:04}-{m:02}-{d:02}")).unwrap() + hh * 3_600_000
        };
        // 08:00 local: 07:00 UTC in winter, 06:00 UTC in summer.
        assert_eq!(last_digest_slot(480, utc(2026, 3, 28, 12)), utc(2026, 3, 28, 7));
        assert_eq!(last_digest_slot(480, utc(2026, 3, 29, 12)), utc(2026, 3, 29, 6));
        assert_eq!(last_digest_slot(480, utc(2026, 10, 25, 12)), utc(2026, 10, 25, 7));
        assert_eq!(last_digest_slot(480, utc(2026, 10, 24, 12)), utc(2026, 10, 24, 6));
        // Before today's slot: yesterday's, even across the change (2026-03-29 05:00 UTC is 07:00 local).
        assert_eq!(last_digest_slot(480, utc(2026, 3, 29, 5)), utc(2026, 3, 28, 7));
        // 02:30 does not exist on 29 March: read as 03:30 summer time (01:30 UTC).
        assert_eq!(last_digest_slot(150, utc(2026, 3, 29, 12)), utc(2026, 3, 29, 1) + 30 * MIN);
    }
}
