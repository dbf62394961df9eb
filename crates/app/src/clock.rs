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
    let (y, m, d, hh, mm) = postkorb_core::time::civil_from_ms(ms);
    format!("{y:04}-{m:02}-{d:02} {hh:02}:{mm:02}")
}

#[cfg(test)]
mod tests {
    #[test]
    fn times_are_formatted_as_utc_dates() {
        assert_eq!(super::format_ms(0), "1970-01-01 00:00");
        assert_eq!(super::format_ms(1_795_793_880_000), "2026-11-27 15:38");
        assert_eq!(super::format_ms(951_782_400_000), "2000-02-29 00:00");
    }
}
