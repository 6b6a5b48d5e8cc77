//! Dates written the way a person reads them, in their timezone: "Fri 5 Dec, 17:00", "Fri 5 Dec"
//! for an all-day date, with the year added when it is not the current one.

use chrono::{DateTime, Datelike, Utc};
use chrono_tz::Tz;

use super::Clock;

/// "Fri 5 Dec, 17:00" (or "Fri 5 Dec" when `has_time` is false).
pub fn format_due(at: DateTime<Utc>, has_time: bool, clock: &Clock) -> String {
    format_local(at.with_timezone(&clock.tz), has_time, clock.today().year())
}

/// Formats a local date-time, adding the year when it differs from `current_year`.
pub fn format_local(local: DateTime<Tz>, has_time: bool, current_year: i32) -> String {
    let mut out = local.format("%a %-d %b").to_string();
    if local.year() != current_year {
        out.push_str(&format!(" {}", local.year()));
    }
    if has_time {
        out.push_str(&local.format(", %H:%M").to_string());
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::when::DateOrder;

    #[test]
    fn dates_read_like_a_calendar() {
        let now = DateTime::parse_from_rfc3339("2026-11-26T10:30:00Z")
            .expect("rfc3339")
            .with_timezone(&Utc);
        let clock = Clock::new(now, chrono_tz::Europe::Berlin, DateOrder::Dmy);
        let at = DateTime::parse_from_rfc3339("2026-12-05T16:00:00Z")
            .expect("rfc3339")
            .with_timezone(&Utc);
        assert_eq!(format_due(at, true, &clock), "Sat 5 Dec, 17:00");
        assert_eq!(format_due(at, false, &clock), "Sat 5 Dec");
        let next_year = at + chrono::Duration::days(40);
        assert_eq!(format_due(next_year, false, &clock), "Thu 14 Jan 2027");
    }
}
