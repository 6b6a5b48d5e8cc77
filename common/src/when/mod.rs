//! Time as people say it: due dates, repeats and how both are shown, in the user's timezone.
//!
//! - [`Clock`]: "now" in a user's timezone with their date order (3/4 is March 4 or 3 April).
//! - [`phrase`]: "tomorrow at 5pm", "next friday", "in 3 days", "14/3" → a [`LocalDue`].
//! - [`repeat`]: the RRULE subset tasks repeat with ("every Monday"), its human text and the next
//!   occurrence (computed by the `rrule` crate, in the user's timezone, so 09:00 stays 09:00 across DST).
//! - [`format`]: dates as a person reads them ("Fri 5 Dec, 17:00").
//!
//! Everything is stored in UTC; a date without a time (an all-day due date) is stored as the local
//! midnight that starts it and shown without a time.

pub mod format;
pub mod phrase;
pub mod repeat;

use chrono::{
    DateTime, Datelike, Duration, LocalResult, NaiveDate, NaiveDateTime, NaiveTime, TimeZone, Utc,
};
use chrono_tz::Tz;
use serde::{Deserialize, Serialize};

pub use format::{format_due, format_local};
pub use repeat::Repeat;

/// How a numeric date such as `3/4` is read. ISO dates (`2026-03-04`) are always year-month-day,
/// and a date that is only valid one way round (`14/3`) is read that way.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Serialize, Deserialize, utoipa::ToSchema)]
#[serde(rename_all = "lowercase")]
pub enum DateOrder {
    /// Day first: `3/4` is 3 April (most of the world).
    #[default]
    Dmy,
    /// Month first: `3/4` is March 4 (United States).
    Mdy,
}

impl DateOrder {
    pub fn parse(s: &str) -> Option<Self> {
        match s.trim().to_ascii_lowercase().as_str() {
            "dmy" => Some(Self::Dmy),
            "mdy" => Some(Self::Mdy),
            _ => None,
        }
    }

    pub fn as_str(self) -> &'static str {
        match self {
            Self::Dmy => "dmy",
            Self::Mdy => "mdy",
        }
    }
}

/// Parses an IANA timezone name (`Europe/Berlin`, `UTC`).
pub fn parse_timezone(name: &str) -> Option<Tz> {
    name.trim().parse::<Tz>().ok()
}

/// "Now" as one user sees it.
#[derive(Debug, Clone, Copy)]
pub struct Clock {
    pub now: DateTime<Utc>,
    pub tz: Tz,
    pub date_order: DateOrder,
}

impl Clock {
    pub fn new(now: DateTime<Utc>, tz: Tz, date_order: DateOrder) -> Self {
        Self {
            now,
            tz,
            date_order,
        }
    }

    /// The real clock of a user with the timezone and date order stored on their row (a value
    /// the database holds but this build does not know falls back to UTC / day first).
    pub fn of_user(timezone: &str, date_order: &str) -> Self {
        Self::system(
            parse_timezone(timezone).unwrap_or(Tz::UTC),
            DateOrder::parse(date_order).unwrap_or_default(),
        )
    }

    /// The real clock in `tz`.
    pub fn system(tz: Tz, date_order: DateOrder) -> Self {
        Self::new(Utc::now(), tz, date_order)
    }

    pub fn local_now(&self) -> DateTime<Tz> {
        self.now.with_timezone(&self.tz)
    }

    pub fn today(&self) -> NaiveDate {
        self.local_now().date_naive()
    }

    /// The instant local midnight starts `date`.
    pub fn start_of(&self, date: NaiveDate) -> DateTime<Utc> {
        local_instant(self.tz, date.and_time(NaiveTime::MIN))
    }

    /// Start of today and of the following days, as instants (for "today", "tomorrow", "this week").
    pub fn day_bounds(&self, days_from_today: i64) -> DateTime<Utc> {
        self.start_of(self.today() + Duration::days(days_from_today))
    }

    /// Days until the end of this week (weeks start on Monday): 7 on a Monday, 1 on a Sunday.
    pub fn days_left_in_week(&self) -> i64 {
        7 - i64::from(self.today().weekday().num_days_from_monday())
    }
}

/// A local date and time, resolved to an instant in the timezone: a time that does not exist (the
/// hour skipped when clocks go forward) moves forward by that gap; an ambiguous one (clocks going
/// back) takes the earlier instant.
pub fn local_instant(tz: Tz, local: NaiveDateTime) -> DateTime<Utc> {
    match tz.from_local_datetime(&local) {
        LocalResult::Single(t) => t.with_timezone(&Utc),
        LocalResult::Ambiguous(a, b) => a.min(b).with_timezone(&Utc),
        LocalResult::None => {
            // Inside a DST gap: the first valid minute after it.
            let mut probe = local;
            for _ in 0..(4 * 60) {
                probe += Duration::minutes(1);
                if let Some(t) = tz.from_local_datetime(&probe).earliest() {
                    return t.with_timezone(&Utc);
                }
            }
            Utc.from_utc_datetime(&local)
        }
    }
}

/// A due date as a person gave it: a date, and a time of day or not (all-day).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct LocalDue {
    pub date: NaiveDate,
    pub time: Option<NaiveTime>,
}

impl LocalDue {
    pub fn all_day(date: NaiveDate) -> Self {
        Self { date, time: None }
    }

    pub fn at(date: NaiveDate, time: NaiveTime) -> Self {
        Self {
            date,
            time: Some(time),
        }
    }

    pub fn resolve(self, tz: Tz) -> Due {
        Due {
            at: local_instant(tz, self.date.and_time(self.time.unwrap_or(NaiveTime::MIN))),
            has_time: self.time.is_some(),
        }
    }
}

/// A due date as stored: an instant, and whether its time of day matters.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Due {
    pub at: DateTime<Utc>,
    pub has_time: bool,
}

impl Due {
    /// Whether a pending task with this due date is overdue: a timed one once its time has passed,
    /// an all-day one once its day has ended.
    pub fn is_overdue(&self, clock: &Clock) -> bool {
        if self.has_time {
            self.at < clock.now
        } else {
            self.at < clock.start_of(clock.today())
        }
    }

    pub fn local_date(&self, tz: Tz) -> NaiveDate {
        self.at.with_timezone(&tz).date_naive()
    }
}

/// Why a due date was refused.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("{0}")]
pub struct DueError(pub String);

/// Reads a due date given to the API or a tool: RFC 3339 (`2026-12-05T17:00:00Z`), a local date and
/// time (`2026-12-05T17:00`, `2026-12-05 17:00`), a date (`2026-12-05`, all-day), or a phrase
/// ("next friday 5pm") resolved in the user's timezone.
pub fn parse_due(text: &str, clock: &Clock) -> Result<Due, DueError> {
    let text = text.trim();
    if text.is_empty() {
        return Err(DueError("the due date is empty".into()));
    }
    if let Some(due) = parse_iso_due(text, clock) {
        return Ok(due);
    }
    match phrase::parse(text, clock) {
        Some(parsed) => Ok(parsed.resolve(clock.tz)),
        None => Err(DueError(format!(
            "could not understand the date {text:?}; use a date like 2026-12-05, 2026-12-05T17:00, or a phrase like \"next friday 5pm\""
        ))),
    }
}

/// Reads the ISO forms of a due date only: RFC 3339, a local date and time in the user's timezone,
/// or a date (all-day).
pub fn parse_iso_due(text: &str, clock: &Clock) -> Option<Due> {
    let text = text.trim();
    if let Ok(at) = DateTime::parse_from_rfc3339(text) {
        return Some(Due {
            at: at.with_timezone(&Utc),
            has_time: true,
        });
    }
    for format in [
        "%Y-%m-%dT%H:%M:%S",
        "%Y-%m-%dT%H:%M",
        "%Y-%m-%d %H:%M:%S",
        "%Y-%m-%d %H:%M",
    ] {
        if let Ok(local) = NaiveDateTime::parse_from_str(text, format) {
            return Some(Due {
                at: local_instant(clock.tz, local),
                has_time: true,
            });
        }
    }
    NaiveDate::parse_from_str(text, "%Y-%m-%d")
        .ok()
        .map(|date| LocalDue::all_day(date).resolve(clock.tz))
}

#[cfg(test)]
mod tests {
    use super::*;

    fn berlin(now: &str) -> Clock {
        let now = DateTime::parse_from_rfc3339(now)
            .expect("rfc3339")
            .with_timezone(&Utc);
        Clock::new(now, chrono_tz::Europe::Berlin, DateOrder::Dmy)
    }

    #[test]
    fn iso_forms_are_read_exactly() {
        let clock = berlin("2026-11-26T10:30:00+01:00");
        let due = parse_due("2026-12-05T17:00:00Z", &clock).expect("rfc3339");
        assert_eq!(due.at.to_rfc3339(), "2026-12-05T17:00:00+00:00");
        assert!(due.has_time);
        let local = parse_due("2026-12-05T17:00", &clock).expect("local");
        assert_eq!(local.at.to_rfc3339(), "2026-12-05T16:00:00+00:00");
        let day = parse_due("2026-12-05", &clock).expect("date");
        assert_eq!(day.at.to_rfc3339(), "2026-12-04T23:00:00+00:00");
        assert!(!day.has_time);
        assert!(parse_due("someday maybe", &clock).is_err());
    }

    #[test]
    fn dst_gap_moves_forward_and_overlap_takes_the_earlier_instant() {
        let tz = chrono_tz::Europe::Berlin;
        let gap = NaiveDate::from_ymd_opt(2026, 3, 29)
            .and_then(|d| d.and_hms_opt(2, 30, 0))
            .expect("date");
        assert_eq!(
            local_instant(tz, gap).to_rfc3339(),
            "2026-03-29T01:00:00+00:00"
        );
        let overlap = NaiveDate::from_ymd_opt(2026, 10, 25)
            .and_then(|d| d.and_hms_opt(2, 30, 0))
            .expect("date");
        assert_eq!(
            local_instant(tz, overlap).to_rfc3339(),
            "2026-10-25T00:30:00+00:00"
        );
    }

    #[test]
    fn all_day_tasks_are_overdue_only_after_their_day() {
        let clock = berlin("2026-11-26T23:30:00+01:00");
        let today = LocalDue::all_day(clock.today()).resolve(clock.tz);
        assert!(!today.is_overdue(&clock));
        let yesterday = LocalDue::all_day(clock.today() - Duration::days(1)).resolve(clock.tz);
        assert!(yesterday.is_overdue(&clock));
        let earlier_today = LocalDue::at(
            clock.today(),
            NaiveTime::from_hms_opt(9, 0, 0).expect("time"),
        )
        .resolve(clock.tz);
        assert!(earlier_today.is_overdue(&clock));
    }
}
