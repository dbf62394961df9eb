//! Time comes in through a clock so tests can fix it.

use std::time::{SystemTime, UNIX_EPOCH};

#[derive(Clone, Debug, Default)]
pub struct Clock {
    fixed: Option<i64>,
}

impl Clock {
    pub fn system() -> Clock {
        Clock { fixed: None }
    }

    pub fn fixed(ms: i64) -> Clock {
        Clock { fixed: Some(ms) }
    }

    pub fn now_ms(&self) -> i64 {
        self.fixed
            .unwrap_or_else(|| SystemTime::now().duration_since(UNIX_EPOCH).map(|d| d.as_millis() as i64).unwrap_or(0))
    }
}

/// `2026-11-27 17:18` (UTC) for a unix-ms time; CLI output only.
pub fn format_ms(ms: i64) -> String {
    let secs = ms.div_euclid(1000);
    let days = secs.div_euclid(86_400);
    let rem = secs.rem_euclid(86_400);
    // Civil-from-days (Howard Hinnant), proleptic Gregorian.
    let z = days + 719_468;
    let era = z.div_euclid(146_097);
    let doe = z - era * 146_097;
    let yoe = (doe - doe / 1460 + doe / 36_524 - doe / 146_096) / 365;
    let doy = doe - (365 * yoe + yoe / 4 - yoe / 100);
    let mp = (5 * doy + 2) / 153;
    let d = doy - (153 * mp + 2) / 5 + 1;
    let m = if mp < 10 { mp + 3 } else { mp - 9 };
    let y = yoe + era * 400 + i64::from(m <= 2);
    format!("{y:04}-{m:02}-{d:02} {:02}:{:02}", rem / 3600, rem % 3600 / 60)
}

/// `YYYY-MM-DD` → unix ms at 00:00 UTC of that day.
pub fn parse_date(s: &str) -> Option<i64> {
    let mut parts = s.trim().split('-');
    let y: i64 = parts.next()?.parse().ok()?;
    let m: i64 = parts.next()?.parse().ok()?;
    let d: i64 = parts.next()?.parse().ok()?;
    if parts.next().is_some() || !(1..=12).contains(&m) || !(1..=31).contains(&d) || !(1970..=9999).contains(&y) {
        return None;
    }
    // Days-from-civil (Howard Hinnant).
    let y2 = if m <= 2 { y - 1 } else { y };
    let era = y2.div_euclid(400);
    let yoe = y2 - era * 400;
    let mp = if m > 2 { m - 3 } else { m + 9 };
    let doy = (153 * mp + 2) / 5 + d - 1;
    let doe = yoe * 365 + yoe / 4 - yoe / 100 + doy;
    let days = era * 146_097 + doe - 719_468;
    let ms = days * 86_400_000;
    // Reject days that do not exist (31.02.) by formatting back.
    (format_ms(ms).get(..10) == Some(s.trim())).then_some(ms)
}

#[cfg(test)]
mod tests {
    #[test]
    fn times_are_formatted_as_utc_dates() {
        assert_eq!(super::format_ms(0), "1970-01-01 00:00");
        assert_eq!(super::format_ms(1_795_793_880_000), "2026-11-27 15:38");
        assert_eq!(super::format_ms(951_782_400_000), "2000-02-29 00:00");
    }

    #[test]
    fn dates_are_parsed_strictly() {
        assert_eq!(super::parse_date("2000-02-29"), Some(951_782_400_000));
        assert_eq!(super::parse_date("1970-01-01"), Some(0));
        for bad in ["2001-02-29", "2026-13-01", "27.11.2026", "2026-11", "x"] {
            assert_eq!(super::parse_date(bad), None, "{bad}");
        }
    }
}
