//! Calendar arithmetic on unix milliseconds (UTC), without a date crate: the few conversions the
//! CLI and the screens need, in one place.

/// (year, month, day, hour, minute) of a unix-ms time, proleptic Gregorian, UTC.
pub fn civil_from_ms(ms: i64) -> (i64, i64, i64, i64, i64) {
    let secs = ms.div_euclid(1000);
    let days = secs.div_euclid(86_400);
    let rem = secs.rem_euclid(86_400);
    // Civil-from-days (Howard Hinnant).
    let z = days + 719_468;
    let era = z.div_euclid(146_097);
    let doe = z - era * 146_097;
    let yoe = (doe - doe / 1460 + doe / 36_524 - doe / 146_096) / 365;
    let doy = doe - (365 * yoe + yoe / 4 - yoe / 100);
    let mp = (5 * doy + 2) / 153;
    let d = doy - (153 * mp + 2) / 5 + 1;
    let m = if mp < 10 { mp + 3 } else { mp - 9 };
    let y = yoe + era * 400 + i64::from(m <= 2);
    (y, m, d, rem / 3600, rem % 3600 / 60)
}

/// `YYYY-MM-DD` of a unix-ms time (UTC).
pub fn iso_date(ms: i64) -> String {
    let (y, m, d, _, _) = civil_from_ms(ms);
    format!("{y:04}-{m:02}-{d:02}")
}

/// `YYYY-MM-DD` → unix ms at 00:00 UTC; `None` for any other form or a day that does not exist.
pub fn parse_iso_date(s: &str) -> Option<i64> {
    let s = s.trim();
    let mut p = s.split('-');
    let (y, m, d): (i64, i64, i64) = (p.next()?.parse().ok()?, p.next()?.parse().ok()?, p.next()?.parse().ok()?);
    if p.next().is_some() || !(1970..=9999).contains(&y) || !(1..=12).contains(&m) || !(1..=31).contains(&d) {
        return None;
    }
    // Days-from-civil (Howard Hinnant).
    let y2 = if m <= 2 { y - 1 } else { y };
    let era = y2.div_euclid(400);
    let yoe = y2 - era * 400;
    let mp = if m > 2 { m - 3 } else { m + 9 };
    let doe = yoe * 365 + yoe / 4 - yoe / 100 + (153 * mp + 2) / 5 + d - 1;
    let ms = (era * 146_097 + doe - 719_468) * 86_400_000;
    // 2001-02-29 would silently become 03-01: refuse it by formatting back.
    (iso_date(ms) == s).then_some(ms)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn dates_round_trip_and_impossible_days_are_refused() {
        assert_eq!(civil_from_ms(0), (1970, 1, 1, 0, 0));
        assert_eq!(civil_from_ms(1_795_793_880_000), (2026, 11, 27, 15, 38));
        assert_eq!(parse_iso_date("2000-02-29"), Some(951_782_400_000));
        assert_eq!(iso_date(951_782_400_000), "2000-02-29");
        for bad in ["2001-02-29", "2026-13-01", "27.11.2026", "2026-11", "x", "2026-1-1"] {
            assert_eq!(parse_iso_date(bad), None, "{bad}");
        }
    }
}
