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

/// `YYYY-MM-DD` → unix ms at 00:00 of that day on the office's clock (Europe/Berlin): where a
/// day typed into a filter (the search's date range) begins.
pub fn parse_berlin_day(s: &str) -> Option<i64> {
    let (y, m, d, _, _) = civil_from_ms(parse_iso_date(s)?);
    Some(berlin_to_utc(y, m, d, 0, 0))
}

/// The end of the office day `YYYY-MM-DD` (the next day's midnight in Europe/Berlin): 23 or 25
/// hours after its start on the days the clocks change.
pub fn parse_berlin_day_end(s: &str) -> Option<i64> {
    let (y, m, d, _, _) = civil_from_ms(parse_iso_date(s)? + 86_400_000);
    Some(berlin_to_utc(y, m, d, 0, 0))
}

/// Unix ms of `y-m-d hh:mm` in UTC (no checks; use [`parse_iso_date`] for input).
fn utc_ms(y: i64, m: i64, d: i64, hh: i64, mm: i64) -> i64 {
    let y2 = if m <= 2 { y - 1 } else { y };
    let era = y2.div_euclid(400);
    let yoe = y2 - era * 400;
    let mp = if m > 2 { m - 3 } else { m + 9 };
    let doe = yoe * 365 + yoe / 4 - yoe / 100 + (153 * mp + 2) / 5 + d - 1;
    (era * 146_097 + doe - 719_468) * 86_400_000 + (hh * 60 + mm) * 60_000
}

/// The last Sunday of month `m` (March or October) of year `y`, at 01:00 UTC: when the EU
/// changes between winter time and summer time.
fn eu_switch(y: i64, m: i64) -> i64 {
    let last = utc_ms(y, m, 31, 1, 0);
    // 1970-01-01 was a Thursday: day 0 → weekday 4 (Sunday = 0).
    let weekday = (last.div_euclid(86_400_000) + 4).rem_euclid(7);
    last - weekday * 86_400_000
}

/// The office's offset from UTC at `ms` (Europe/Berlin: +1 h, +2 h in summer time from the last
/// Sunday of March to the last Sunday of October, both at 01:00 UTC).
pub fn berlin_offset_ms(ms: i64) -> i64 {
    let (y, _, _, _, _) = civil_from_ms(ms);
    if (eu_switch(y, 3)..eu_switch(y, 10)).contains(&ms) { 7_200_000 } else { 3_600_000 }
}

/// (year, month, day, hour, minute) of `ms` on the office's clock (Europe/Berlin).
pub fn berlin_civil(ms: i64) -> (i64, i64, i64, i64, i64) {
    civil_from_ms(ms + berlin_offset_ms(ms))
}

/// Unix ms of a wall-clock time in Europe/Berlin. A time skipped in spring (02:00–02:59 on the last
/// Sunday of March) is read as summer time would name it an hour later; a time that occurs twice in
/// autumn is the first (summer time) one.
pub fn berlin_to_utc(y: i64, m: i64, d: i64, hh: i64, mm: i64) -> i64 {
    let wall = utc_ms(y, m, d, hh, mm);
    let summer = wall - 7_200_000;
    if berlin_offset_ms(summer) == 7_200_000 { summer } else { wall - 3_600_000 }
}

/// A moment on the office's clock as people type it: `YYYY-MM-DD HH:MM` (also with `T` between,
/// as a browser's `datetime-local` sends it) or `YYYY-MM-DD` alone (00:00); `None` for any other
/// form, an impossible day or time. The web form, the CLI and the tests read times through this.
pub fn parse_berlin(s: &str) -> Option<i64> {
    let s = s.trim();
    let (date, time) = match s.split_once([' ', 'T']) {
        Some((d, t)) => (d, t.trim()),
        None => (s, "00:00"),
    };
    let day = parse_iso_date(date)?;
    let (hh, mm) = time.split_once(':')?;
    let ok = |v: &str, max: i64| v.parse::<i64>().ok().filter(|n| v.len() == 2 && (0..=max).contains(n));
    let (hh, mm) = (ok(hh, 23)?, ok(mm, 59)?);
    let (y, m, d, _, _) = civil_from_ms(day);
    Some(berlin_to_utc(y, m, d, hh, mm))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_office_clock_follows_summer_time_in_europe_berlin() {
        // 2026: summer time from 29 March 01:00 UTC to 25 October 01:00 UTC.
        let march = utc_ms(2026, 3, 29, 0, 59);
        assert_eq!(berlin_civil(march), (2026, 3, 29, 1, 59));
        assert_eq!(berlin_civil(march + 60_000), (2026, 3, 29, 3, 0));
        let october = utc_ms(2026, 10, 25, 0, 59);
        assert_eq!(berlin_civil(october), (2026, 10, 25, 2, 59));
        assert_eq!(berlin_civil(october + 60_000), (2026, 10, 25, 2, 0));
        assert_eq!(berlin_civil(utc_ms(2026, 12, 31, 23, 30)), (2027, 1, 1, 0, 30));
        assert_eq!(parse_berlin_day("2026-07-01"), Some(utc_ms(2026, 6, 30, 22, 0)));
        assert_eq!(parse_berlin_day("2026-01-01"), Some(utc_ms(2025, 12, 31, 23, 0)));
        assert_eq!(parse_berlin_day("2026-02-30"), None);
        assert_eq!(berlin_civil(utc_ms(2026, 7, 1, 22, 0)), (2026, 7, 2, 0, 0));
        for (y, m, d, hh, mm) in [(2026, 1, 15, 8, 0), (2026, 7, 15, 8, 0), (2027, 3, 28, 1, 30), (2027, 10, 31, 3, 0)]
        {
            assert_eq!(berlin_civil(berlin_to_utc(y, m, d, hh, mm)), (y, m, d, hh, mm));
        }
        // Skipped in spring: 02:30 does not exist; it is read as 03:30 summer time.
        assert_eq!(berlin_civil(berlin_to_utc(2026, 3, 29, 2, 30)), (2026, 3, 29, 3, 30));
        // An office day is 23 hours long in spring, 25 in autumn.
        let day = |s: &str| parse_berlin_day_end(s).unwrap() - parse_berlin_day(s).unwrap();
        assert_eq!(
            (day("2026-03-29"), day("2026-10-25"), day("2026-07-01")),
            (23 * 3_600_000, 25 * 3_600_000, 86_400_000)
        );
        // Twice in autumn: 02:30 is the first one (summer time, 00:30 UTC).
        assert_eq!(berlin_to_utc(2026, 10, 25, 2, 30), utc_ms(2026, 10, 25, 0, 30));
    }

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

    #[test]
    fn typed_moments_are_read_on_the_office_clock() {
        assert_eq!(parse_berlin("2026-12-24 08:00"), Some(utc_ms(2026, 12, 24, 7, 0)));
        assert_eq!(parse_berlin("2026-07-01T08:30"), Some(utc_ms(2026, 7, 1, 6, 30)));
        assert_eq!(parse_berlin(" 2026-12-24 "), Some(utc_ms(2026, 12, 23, 23, 0)));
        for bad in
            ["2026-12-24 24:00", "2026-12-24 8:00", "2026-02-30 08:00", "24.12.2026 08:00", "", "2026-12-24 08:60"]
        {
            assert_eq!(parse_berlin(bad), None, "{bad}");
        }
    }
}
