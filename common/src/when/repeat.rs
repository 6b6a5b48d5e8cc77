//! How tasks repeat: a subset of RFC 5545 recurrence rules (`FREQ=DAILY|WEEKLY|MONTHLY|YEARLY`,
//! `INTERVAL`, `BYDAY` (with a number for monthly rules: `1MO` the first Monday, `-1FR` the last
//! Friday), `BYMONTHDAY`), stored as RRULE text. [`Repeat`] holds the structure; the
//! occurrences are computed by the `rrule` crate in the user's timezone (a task due 09:00 stays at
//! 09:00 local time across a DST change).

use chrono::{DateTime, NaiveDate, NaiveTime, Weekday};
use chrono_tz::Tz;
use rrule::{Frequency, NWeekday, RRule};

use super::phrase::{self, number, ordinal, tokenize, weekday};

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Freq {
    Daily,
    Weekly,
    Monthly,
    Yearly,
}

/// A recurrence rule in the supported subset.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Repeat {
    pub freq: Freq,
    /// Every `interval` days / weeks / months / years (1–999).
    pub interval: u16,
    /// Weekdays it falls on (daily and weekly rules).
    pub by_day: Vec<Weekday>,
    /// Days of the month it falls on (monthly rules; -1 is the last day).
    pub by_month_day: Vec<i8>,
    /// Weekdays of the month by their place (monthly rules): `(1, Mon)` the first Monday,
    /// `(-1, Fri)` the last Friday.
    pub by_nth_day: Vec<(i8, Weekday)>,
}

/// A refused recurrence rule.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("{0}")]
pub struct RepeatError(pub String);

const WEEKDAYS: [Weekday; 5] = [
    Weekday::Mon,
    Weekday::Tue,
    Weekday::Wed,
    Weekday::Thu,
    Weekday::Fri,
];
const WEEKEND: [Weekday; 2] = [Weekday::Sat, Weekday::Sun];

fn day_code(day: Weekday) -> &'static str {
    match day {
        Weekday::Mon => "MO",
        Weekday::Tue => "TU",
        Weekday::Wed => "WE",
        Weekday::Thu => "TH",
        Weekday::Fri => "FR",
        Weekday::Sat => "SA",
        Weekday::Sun => "SU",
    }
}

fn day_name(day: Weekday) -> &'static str {
    match day {
        Weekday::Mon => "Monday",
        Weekday::Tue => "Tuesday",
        Weekday::Wed => "Wednesday",
        Weekday::Thu => "Thursday",
        Weekday::Fri => "Friday",
        Weekday::Sat => "Saturday",
        Weekday::Sun => "Sunday",
    }
}

fn ordinal_suffix(n: i8) -> String {
    if n == -1 {
        return "last day".into();
    }
    let suffix = match (n % 10, n % 100) {
        (1, 11) | (2, 12) | (3, 13) => "th",
        (1, _) => "st",
        (2, _) => "nd",
        (3, _) => "rd",
        _ => "th",
    };
    format!("{n}{suffix}")
}

/// "Monday", "Monday and Friday", "Monday, Wednesday and Friday".
/// "first", "second", …, "last", "second to last".
fn place_name(n: i8) -> String {
    match n {
        1 => "first".into(),
        2 => "second".into(),
        3 => "third".into(),
        4 => "fourth".into(),
        5 => "fifth".into(),
        -1 => "last".into(),
        -2 => "second to last".into(),
        n if n < 0 => format!("{} to last", ordinal_suffix(-n)),
        n => ordinal_suffix(n),
    }
}

/// Weekdays by their place in the month: `(1, Mon)` the first Monday.
type Places = Vec<(i8, Weekday)>;

/// The first of `tails` the tokens start with ("of the month", "each month"), if any.
fn tail_of<'t>(tokens: &[String], tails: &[&'t [&'t str]]) -> Option<&'t [&'t str]> {
    tails.iter().copied().find(|tail| {
        tokens
            .iter()
            .map(String::as_str)
            .take(tail.len())
            .eq(tail.iter().copied())
    })
}

/// "first" … "fifth", "1st" … "5th", "last": a place of a weekday in the month.
fn place_word(word: &str) -> Option<i8> {
    match word {
        "first" | "1st" => Some(1),
        "second" | "2nd" => Some(2),
        "third" | "3rd" => Some(3),
        "fourth" | "4th" => Some(4),
        "fifth" | "5th" => Some(5),
        "last" => Some(-1),
        _ => None,
    }
}

/// "the first monday (of the month)", "last friday of every month", "the 2nd and 4th tuesday":
/// the places and the weekday, whether the words said "every/each month", and the tokens read.
fn nth_weekday(tokens: &[String]) -> Option<(Places, bool, usize)> {
    let word = |i: usize| tokens.get(i).map(String::as_str);
    let mut at = 0;
    if word(at) == Some("on") {
        at += 1;
    }
    if word(at) == Some("the") {
        at += 1;
    }
    let mut places = Vec::new();
    while let Some(w) = word(at) {
        if let Some(n) = place_word(w) {
            places.push(n);
            at += 1;
        } else if !places.is_empty() && matches!(w, "and" | "&") {
            at += 1;
        } else {
            break;
        }
    }
    let day = weekday(word(at)?)?;
    if places.is_empty() {
        return None;
    }
    at += 1;
    let tail = tail_of(
        &tokens[at..],
        &[
            &["of", "the", "month"],
            &["of", "each", "month"],
            &["of", "every", "month"],
            &["of", "month"],
            &["each", "month"],
            &["every", "month"],
            &["a", "month"],
        ],
    );
    let every_month = tail.is_some_and(|tail| {
        tail.contains(&"each") || tail.contains(&"every") || tail == ["a", "month"]
    });
    at += tail.map_or(0, <[_]>::len);
    Some((
        places.into_iter().map(|n| (n, day)).collect(),
        every_month,
        at,
    ))
}

fn join_names(names: &[String]) -> String {
    match names {
        [] => String::new(),
        [one] => one.clone(),
        [rest @ .., last] => format!("{} and {last}", rest.join(", ")),
    }
}

impl Repeat {
    pub fn new(freq: Freq) -> Self {
        Self {
            freq,
            interval: 1,
            by_day: Vec::new(),
            by_month_day: Vec::new(),
            by_nth_day: Vec::new(),
        }
    }

    fn every(freq: Freq, interval: u16) -> Self {
        Self {
            interval,
            ..Self::new(freq)
        }
    }

    fn on_days(freq: Freq, interval: u16, days: &[Weekday]) -> Self {
        let mut by_day = days.to_vec();
        by_day.sort_by_key(Weekday::num_days_from_monday);
        by_day.dedup();
        Self {
            by_day,
            ..Self::every(freq, interval)
        }
    }

    /// Reads RRULE text (`FREQ=WEEKLY;BYDAY=MO`, optionally prefixed `RRULE:`).
    pub fn parse_rrule(text: &str) -> Result<Self, RepeatError> {
        let text = text.trim();
        let body = text
            .strip_prefix("RRULE:")
            .or_else(|| text.strip_prefix("rrule:"))
            .unwrap_or(text);
        let mut freq = None;
        let mut repeat = Self::new(Freq::Daily);
        for part in body.split(';').filter(|p| !p.trim().is_empty()) {
            let (key, value) = part
                .split_once('=')
                .ok_or_else(|| RepeatError(format!("`{part}` is not KEY=VALUE")))?;
            let value = value.trim().to_ascii_uppercase();
            match key.trim().to_ascii_uppercase().as_str() {
                "FREQ" => {
                    freq = Some(match value.as_str() {
                        "DAILY" => Freq::Daily,
                        "WEEKLY" => Freq::Weekly,
                        "MONTHLY" => Freq::Monthly,
                        "YEARLY" => Freq::Yearly,
                        other => {
                            return Err(RepeatError(format!(
                                "FREQ={other} is not supported (DAILY, WEEKLY, MONTHLY or YEARLY)"
                            )));
                        }
                    });
                }
                "INTERVAL" => {
                    repeat.interval = value
                        .parse::<u16>()
                        .ok()
                        .filter(|n| (1..=999).contains(n))
                        .ok_or_else(|| {
                            RepeatError("INTERVAL must be a whole number from 1 to 999".into())
                        })?;
                }
                "BYDAY" => {
                    for code in value.split(',') {
                        let code = code.trim();
                        // "1MO", "-1FR": a place in the month before the day
                        let split = code.len().saturating_sub(2);
                        let (place, name) = code.split_at(split);
                        let day = WEEKDAYS
                            .iter()
                            .chain(WEEKEND.iter())
                            .find(|d| day_code(**d) == name)
                            .ok_or_else(|| {
                                RepeatError(format!(
                                    "BYDAY value `{code}` is not one of MO, TU, WE, TH, FR, SA, SU (with a place in the month first for monthly rules, e.g. 1MO or -1FR)"
                                ))
                            })?;
                        if place.is_empty() {
                            repeat.by_day.push(*day);
                        } else {
                            let n = place
                                .trim_start_matches('+')
                                .parse::<i8>()
                                .ok()
                                .filter(|n| (1..=5).contains(&n.abs()))
                                .ok_or_else(|| {
                                    RepeatError(format!(
                                        "BYDAY value `{code}`: the place in the month must be 1 to 5 or -1 to -5"
                                    ))
                                })?;
                            repeat.by_nth_day.push((n, *day));
                        }
                    }
                }
                "BYMONTHDAY" => {
                    for day in value.split(',') {
                        let n = day
                            .trim()
                            .parse::<i8>()
                            .ok()
                            .filter(|n| (1..=31).contains(n) || *n == -1)
                            .ok_or_else(|| {
                                RepeatError(format!(
                                    "BYMONTHDAY value `{day}` must be 1 to 31 or -1"
                                ))
                            })?;
                        repeat.by_month_day.push(n);
                    }
                }
                other => {
                    return Err(RepeatError(format!(
                        "{other} is not supported: use FREQ, INTERVAL, BYDAY and BYMONTHDAY"
                    )));
                }
            }
        }
        repeat.freq = freq.ok_or_else(|| RepeatError("a repeat rule needs FREQ".into()))?;
        if !repeat.by_day.is_empty() && !matches!(repeat.freq, Freq::Daily | Freq::Weekly) {
            return Err(RepeatError(
                "BYDAY goes with FREQ=DAILY or FREQ=WEEKLY".into(),
            ));
        }
        if !repeat.by_month_day.is_empty() && repeat.freq != Freq::Monthly {
            return Err(RepeatError("BYMONTHDAY goes with FREQ=MONTHLY".into()));
        }
        if !repeat.by_nth_day.is_empty() && repeat.freq != Freq::Monthly {
            return Err(RepeatError(
                "BYDAY with a place in the month (1MO) goes with FREQ=MONTHLY".into(),
            ));
        }
        if !repeat.by_nth_day.is_empty() && !repeat.by_month_day.is_empty() {
            return Err(RepeatError(
                "use BYMONTHDAY or BYDAY with a place in the month, not both".into(),
            ));
        }
        Ok(Self::normalized(repeat))
    }

    fn normalized(mut self) -> Self {
        self.by_day.sort_by_key(Weekday::num_days_from_monday);
        self.by_day.dedup();
        self.by_month_day.sort_unstable();
        self.by_month_day.dedup();
        self.by_nth_day
            .sort_by_key(|(n, d)| (n.signum() < 0, n.abs(), d.num_days_from_monday()));
        self.by_nth_day.dedup();
        self
    }

    /// The canonical RRULE text, as stored.
    pub fn to_rrule(&self) -> String {
        let freq = match self.freq {
            Freq::Daily => "DAILY",
            Freq::Weekly => "WEEKLY",
            Freq::Monthly => "MONTHLY",
            Freq::Yearly => "YEARLY",
        };
        let mut out = format!("FREQ={freq}");
        if self.interval > 1 {
            out.push_str(&format!(";INTERVAL={}", self.interval));
        }
        if !self.by_day.is_empty() {
            let days: Vec<&str> = self.by_day.iter().map(|d| day_code(*d)).collect();
            out.push_str(&format!(";BYDAY={}", days.join(",")));
        }
        if !self.by_nth_day.is_empty() {
            let days: Vec<String> = self
                .by_nth_day
                .iter()
                .map(|(n, d)| format!("{n}{}", day_code(*d)))
                .collect();
            out.push_str(&format!(";BYDAY={}", days.join(",")));
        }
        if !self.by_month_day.is_empty() {
            let days: Vec<String> = self.by_month_day.iter().map(i8::to_string).collect();
            out.push_str(&format!(";BYMONTHDAY={}", days.join(",")));
        }
        out
    }

    /// "every Monday", "every 2 weeks on Friday", "every weekday", "every month on the 1st".
    pub fn describe(&self) -> String {
        let n = self.interval;
        let unit = |singular: &str| {
            if n == 1 {
                format!("every {singular}")
            } else {
                format!("every {n} {singular}s")
            }
        };
        let days: Vec<String> = self
            .by_day
            .iter()
            .map(|d| day_name(*d).to_owned())
            .collect();
        match self.freq {
            Freq::Daily | Freq::Weekly if self.by_day == WEEKDAYS && n == 1 => {
                "every weekday".into()
            }
            Freq::Daily | Freq::Weekly if self.by_day == WEEKEND && n == 1 => {
                "every Saturday and Sunday".into()
            }
            Freq::Daily if self.by_day.is_empty() => unit("day"),
            Freq::Daily => format!("{} on {}", unit("day"), join_names(&days)),
            Freq::Weekly if self.by_day.is_empty() => unit("week"),
            Freq::Weekly if n == 1 => format!("every {}", join_names(&days)),
            Freq::Weekly => format!("{} on {}", unit("week"), join_names(&days)),
            Freq::Monthly if !self.by_nth_day.is_empty() => {
                let days: Vec<String> = self
                    .by_nth_day
                    .iter()
                    .map(|(n, d)| format!("{} {}", place_name(*n), day_name(*d)))
                    .collect();
                format!("{} on the {}", unit("month"), join_names(&days))
            }
            Freq::Monthly if self.by_month_day.is_empty() => unit("month"),
            Freq::Monthly => {
                let days: Vec<String> = self
                    .by_month_day
                    .iter()
                    .map(|d| ordinal_suffix(*d))
                    .collect();
                format!("{} on the {}", unit("month"), join_names(&days))
            }
            Freq::Yearly => unit("year"),
        }
    }

    fn rule(&self, start: DateTime<Tz>) -> Option<rrule::RRuleSet> {
        let freq = match self.freq {
            Freq::Daily => Frequency::Daily,
            Freq::Weekly => Frequency::Weekly,
            Freq::Monthly => Frequency::Monthly,
            Freq::Yearly => Frequency::Yearly,
        };
        let mut rule = RRule::new(freq).interval(self.interval);
        if !self.by_day.is_empty() {
            rule = rule.by_weekday(self.by_day.iter().map(|d| NWeekday::Every(*d)).collect());
        }
        if !self.by_month_day.is_empty() {
            rule = rule.by_month_day(self.by_month_day.clone());
        }
        if !self.by_nth_day.is_empty() {
            rule = rule.by_weekday(
                self.by_nth_day
                    .iter()
                    .map(|(n, d)| NWeekday::Nth(i16::from(*n), *d))
                    .collect(),
            );
        }
        let tz = rrule::Tz::Tz(start.timezone());
        rule.build(start.with_timezone(&tz)).ok()
    }

    /// The first occurrence strictly after `after`, for a series that started at `start`.
    pub fn next_after(&self, start: DateTime<Tz>, after: DateTime<Tz>) -> Option<DateTime<Tz>> {
        let tz = start.timezone();
        let after_rr = after.with_timezone(&rrule::Tz::Tz(tz));
        self.rule(start)?
            .after(after_rr)
            .all(4)
            .dates
            .into_iter()
            .map(|d| d.with_timezone(&tz))
            .find(|d| *d > after)
    }

    /// The first occurrence on or after `from` (a series starting then).
    pub fn first_on_or_after(&self, from: DateTime<Tz>) -> Option<DateTime<Tz>> {
        let tz = from.timezone();
        self.rule(from)?
            .all(8)
            .dates
            .into_iter()
            .map(|d| d.with_timezone(&tz))
            .find(|d| *d >= from && self.matches(d.date_naive()))
    }

    /// Whether a date is one the rule can fall on (ignoring the interval).
    fn matches(&self, date: NaiveDate) -> bool {
        use chrono::Datelike;
        let day_ok = self.by_day.is_empty() || self.by_day.contains(&date.weekday());
        let month_day_ok = self.by_month_day.is_empty()
            || self.by_month_day.iter().any(|d| {
                u32::try_from(*d).is_ok_and(|d| d == date.day())
                    || (*d == -1 && (date + chrono::Duration::days(1)).day() == 1)
            });
        // the nth weekday: counted from the month's start, or from its end when negative
        let nth_ok = self.by_nth_day.is_empty()
            || self.by_nth_day.iter().any(|(n, d)| {
                let from_end = || {
                    let days_in_month = date
                        .with_day(1)
                        .and_then(|first| first.checked_add_months(chrono::Months::new(1)))
                        .and_then(|next| next.pred_opt())
                        .map_or(date.day(), |last| last.day());
                    (days_in_month - date.day()) / 7 + 1
                };
                date.weekday() == *d
                    && if *n > 0 {
                        (date.day() - 1) / 7 + 1 == u32::from(n.unsigned_abs())
                    } else {
                        from_end() == u32::from(n.unsigned_abs())
                    }
            });
        day_ok && month_day_ok && nth_ok
    }
}

/// A repeat read from a phrase, with the time of day it named ("every morning at 8").
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct RepeatPhrase {
    pub repeat: Repeat,
    pub time: Option<NaiveTime>,
}

/// Reads a repeat given to the API or a tool: RRULE text, or a phrase ("every monday").
pub fn parse_repeat(text: &str) -> Result<RepeatPhrase, RepeatError> {
    let trimmed = text.trim();
    if trimmed.to_ascii_uppercase().contains("FREQ=") {
        return Repeat::parse_rrule(trimmed).map(|repeat| RepeatPhrase { repeat, time: None });
    }
    parse_phrase(trimmed).ok_or_else(|| {
        RepeatError(format!(
            "could not understand the repeat {trimmed:?}; use RRULE text like FREQ=WEEKLY;BYDAY=MO or a phrase like \"every monday\""
        ))
    })
}

/// Reads a whole phrase: "every monday", "every 2 weeks", "daily", "every weekday at 9am",
/// "every month on the 1st", "every morning at 8", "on mondays and thursdays".
pub fn parse_phrase(text: &str) -> Option<RepeatPhrase> {
    let tokens = tokenize(text);
    let mut at = 0;
    let peek = |i: usize| tokens.get(i).map(String::as_str);
    while matches!(
        peek(at),
        Some("repeat" | "repeats" | "repeating" | "recurring" | "and")
    ) {
        at += 1;
    }
    let nth = nth_weekday(&tokens[at..]).filter(|(_, every_month, _)| *every_month);
    let (mut repeat, mut time, consumed) = if let Some((days, _, n)) = nth {
        // "on the first monday of every month", "the last friday of each month"
        let mut monthly = Repeat::new(Freq::Monthly);
        monthly.by_nth_day = days;
        (monthly, None, n)
    } else {
        match month_days(&tokens[at..]) {
            // "on the 1st of every month", "the 15th of each month"
            Some((days, n))
                if n >= 2
                    && tokens[at + n - 1] == "month"
                    && matches!(tokens[at + n - 2].as_str(), "every" | "each") =>
            {
                let mut monthly = Repeat::new(Freq::Monthly);
                monthly.by_month_day = days;
                (monthly, None, n)
            }
            _ => head(&tokens[at..])?,
        }
    };
    // "every morning at 8": the exact time refines the part of day.
    let part_of_day = time.and(tokens.get(at + consumed - 1).cloned());
    at += consumed;
    // Qualifiers: "on monday", "on the 1st", "at 9am", "in the morning".
    while at < tokens.len() {
        let rest = &tokens[at..];
        if let Some((days, n)) = weekday_list(rest, true) {
            if repeat.freq == Freq::Daily && repeat.interval == 1 && repeat.by_day.is_empty() {
                repeat = Repeat::on_days(Freq::Weekly, 1, &days);
            } else if matches!(repeat.freq, Freq::Weekly | Freq::Daily) {
                repeat = Repeat::on_days(repeat.freq, repeat.interval, &days);
            } else {
                return None;
            }
            at += n;
            continue;
        }
        if let Some((days, _, n)) = nth_weekday(rest) {
            if repeat.freq != Freq::Monthly || !repeat.by_month_day.is_empty() {
                return None;
            }
            repeat.by_nth_day = days;
            at += n;
            continue;
        }
        if let Some((days, n)) = month_days(rest) {
            if repeat.freq != Freq::Monthly {
                return None;
            }
            repeat.by_month_day = days;
            at += n;
            continue;
        }
        let words = match &part_of_day {
            Some(part) => format!("{} in the {part}", rest.join(" ")),
            None => rest.join(" "),
        };
        if (time.is_none() || part_of_day.is_some())
            && let Some(t) = phrase::time_only(&words)
        {
            time = Some(t);
            at = tokens.len();
            continue;
        }
        return None;
    }
    Some(RepeatPhrase {
        repeat: repeat.normalized(),
        time,
    })
}

/// "every 2 weeks", "daily", "every monday and friday", "every morning": the rule, a time the
/// words imply, and the number of tokens read.
fn head(tokens: &[String]) -> Option<(Repeat, Option<NaiveTime>, usize)> {
    let word = |i: usize| tokens.get(i).map(String::as_str);
    let simple = match word(0)? {
        "daily" | "everyday" => Some(Repeat::new(Freq::Daily)),
        "weekly" => Some(Repeat::new(Freq::Weekly)),
        "monthly" => Some(Repeat::new(Freq::Monthly)),
        "yearly" | "annually" => Some(Repeat::new(Freq::Yearly)),
        "biweekly" | "fortnightly" => Some(Repeat::every(Freq::Weekly, 2)),
        "quarterly" => Some(Repeat::every(Freq::Monthly, 3)),
        "weekdays" => Some(Repeat::on_days(Freq::Weekly, 1, &WEEKDAYS)),
        "weekends" => Some(Repeat::on_days(Freq::Weekly, 1, &WEEKEND)),
        _ => None,
    };
    if let Some(r) = simple {
        return Some((r, None, 1));
    }
    if word(0) == Some("on") {
        // "on mondays (and thursdays)": plural weekdays repeat.
        let (days, n) = weekday_list(&tokens[1..], false)?;
        // ("tues", "thurs" are one day, not a plural)
        if !tokens[1].ends_with("days") {
            return None;
        }
        return Some((Repeat::on_days(Freq::Weekly, 1, &days), None, n + 1));
    }
    if !matches!(word(0)?, "every" | "each") {
        // "mondays and thursdays"
        let (days, n) = weekday_list(tokens, false)?;
        return tokens[0]
            .ends_with("days")
            .then(|| (Repeat::on_days(Freq::Weekly, 1, &days), None, n));
    }
    let mut at = 1;
    if word(at) == Some("single") {
        at += 1;
    }
    let interval = match word(at)? {
        "other" => {
            at += 1;
            2
        }
        w if number(w).is_some() && !matches!(w, "a" | "an") => {
            at += 1;
            number(w)?
        }
        _ => 1,
    };
    let interval = u16::try_from(interval)
        .ok()
        .filter(|n| (1..=999).contains(n))?;
    let unit = word(at)?;
    let found = match unit {
        "day" | "days" => Some((Repeat::every(Freq::Daily, interval), None)),
        "week" | "weeks" => Some((Repeat::every(Freq::Weekly, interval), None)),
        "month" | "months" => Some((Repeat::every(Freq::Monthly, interval), None)),
        "quarter" | "quarters" => Some((
            Repeat::every(
                Freq::Monthly,
                interval.checked_mul(3).filter(|n| *n <= 999)?,
            ),
            None,
        )),
        "year" | "years" => Some((Repeat::every(Freq::Yearly, interval), None)),
        "weekday" | "weekdays" | "workday" | "workdays" | "business" if interval == 1 => {
            if unit == "business" && word(at + 1).is_some_and(|w| w.starts_with("day")) {
                at += 1;
            }
            Some((Repeat::on_days(Freq::Weekly, 1, &WEEKDAYS), None))
        }
        "weekend" | "weekends" if interval == 1 => {
            Some((Repeat::on_days(Freq::Weekly, 1, &WEEKEND), None))
        }
        "morning" if interval == 1 => {
            Some((Repeat::new(Freq::Daily), NaiveTime::from_hms_opt(9, 0, 0)))
        }
        "afternoon" if interval == 1 => {
            Some((Repeat::new(Freq::Daily), NaiveTime::from_hms_opt(15, 0, 0)))
        }
        "evening" if interval == 1 => {
            Some((Repeat::new(Freq::Daily), NaiveTime::from_hms_opt(19, 0, 0)))
        }
        "night" if interval == 1 => {
            Some((Repeat::new(Freq::Daily), NaiveTime::from_hms_opt(21, 0, 0)))
        }
        _ => None,
    };
    if let Some((r, t)) = found {
        return Some((r, t, at + 1));
    }
    // "every first monday (of the month)", "every last friday"
    if let Some((days, _, n)) = nth_weekday(&tokens[at..]) {
        let mut r = Repeat::every(Freq::Monthly, interval);
        r.by_nth_day = days;
        return Some((r, None, at + n));
    }
    // "every monday (and friday)", "every 2 mondays" is not a thing.
    if let Some((days, n)) = weekday_list(&tokens[at..], false) {
        return Some((Repeat::on_days(Freq::Weekly, interval, &days), None, at + n));
    }
    // "every 1st (of the month)", "every 15th"
    let day = ordinal(unit)?;
    let mut n = at + 1;
    n += tail_of(
        &tokens[n..],
        &[
            &["of", "the", "month"],
            &["of", "every", "month"],
            &["of", "month"],
        ],
    )
    .map_or(0, <[_]>::len);
    let mut r = Repeat::every(Freq::Monthly, interval);
    r.by_month_day = vec![i8::try_from(day).ok()?];
    Some((r, None, n))
}

/// "monday", "mon and wed", "monday, wednesday & friday"; with `on`, an optional leading "on".
fn weekday_list(tokens: &[String], with_on: bool) -> Option<(Vec<Weekday>, usize)> {
    let mut at = usize::from(with_on && tokens.first().map(String::as_str) == Some("on"));
    let mut days = Vec::new();
    while let Some(w) = tokens.get(at) {
        if let Some(d) = weekday(w) {
            days.push(d);
            at += 1;
        } else if !days.is_empty() && matches!(w.as_str(), "and" | "&" | "+") {
            at += 1;
        } else {
            break;
        }
    }
    if days.is_empty() {
        return None;
    }
    // a trailing "and" belongs to whatever follows
    while at > 0 && matches!(tokens[at - 1].as_str(), "and" | "&" | "+") {
        at -= 1;
    }
    Some((days, at))
}

/// "on the 1st", "on the 1st and 15th", "on the last day", "on day 15".
fn month_days(tokens: &[String]) -> Option<(Vec<i8>, usize)> {
    let word = |i: usize| tokens.get(i).map(String::as_str);
    let mut at = 0;
    if word(at) == Some("on") {
        at += 1;
    }
    if word(at) == Some("the") {
        at += 1;
    }
    if word(at) == Some("last") && word(at + 1) == Some("day") {
        return Some((vec![-1], at + 2));
    }
    if word(at) == Some("day") {
        at += 1;
    }
    let mut days = Vec::new();
    while let Some(w) = word(at) {
        if let Some(d) = ordinal(w) {
            days.push(i8::try_from(d).ok()?);
            at += 1;
        } else if !days.is_empty() && matches!(w, "and" | "&") {
            at += 1;
        } else {
            break;
        }
    }
    if days.is_empty() {
        return None;
    }
    at += tail_of(
        &tokens[at..],
        &[
            &["of", "the", "month"],
            &["of", "each", "month"],
            &["of", "every", "month"],
        ],
    )
    .map_or(0, <[_]>::len);
    Some((days, at))
}

#[cfg(test)]
mod tests {
    use chrono::TimeZone;

    use super::*;

    fn read(text: &str) -> Option<(String, Option<String>)> {
        parse_phrase(text).map(|p| {
            (
                p.repeat.to_rrule(),
                p.time.map(|t| t.format("%H:%M").to_string()),
            )
        })
    }

    #[test]
    fn phrases_become_rules() {
        let cases: &[(&str, &str, Option<&str>)] = &[
            ("every day", "FREQ=DAILY", None),
            ("daily", "FREQ=DAILY", None),
            ("every monday", "FREQ=WEEKLY;BYDAY=MO", None),
            ("every Monday and Thursday", "FREQ=WEEKLY;BYDAY=MO,TH", None),
            ("every mon, wed & fri", "FREQ=WEEKLY;BYDAY=MO,WE,FR", None),
            ("every 2 weeks", "FREQ=WEEKLY;INTERVAL=2", None),
            (
                "every other week on friday",
                "FREQ=WEEKLY;INTERVAL=2;BYDAY=FR",
                None,
            ),
            ("every two days", "FREQ=DAILY;INTERVAL=2", None),
            ("every month on the 1st", "FREQ=MONTHLY;BYMONTHDAY=1", None),
            ("every 1st of the month", "FREQ=MONTHLY;BYMONTHDAY=1", None),
            (
                "on the first of every month",
                "FREQ=MONTHLY;BYMONTHDAY=1",
                None,
            ),
            (
                "the 15th of each month at 9am",
                "FREQ=MONTHLY;BYMONTHDAY=15",
                Some("09:00"),
            ),
            ("monthly on the 15th", "FREQ=MONTHLY;BYMONTHDAY=15", None),
            (
                "every month on the last day",
                "FREQ=MONTHLY;BYMONTHDAY=-1",
                None,
            ),
            ("every weekday", "FREQ=WEEKLY;BYDAY=MO,TU,WE,TH,FR", None),
            (
                "weekdays at 9am",
                "FREQ=WEEKLY;BYDAY=MO,TU,WE,TH,FR",
                Some("09:00"),
            ),
            ("every morning at 8", "FREQ=DAILY", Some("08:00")),
            ("every morning", "FREQ=DAILY", Some("09:00")),
            ("every evening", "FREQ=DAILY", Some("19:00")),
            (
                "every monday at 9:30",
                "FREQ=WEEKLY;BYDAY=MO",
                Some("09:30"),
            ),
            ("every year", "FREQ=YEARLY", None),
            ("annually", "FREQ=YEARLY", None),
            ("biweekly", "FREQ=WEEKLY;INTERVAL=2", None),
            ("every 3 months", "FREQ=MONTHLY;INTERVAL=3", None),
            ("every quarter", "FREQ=MONTHLY;INTERVAL=3", None),
            ("quarterly", "FREQ=MONTHLY;INTERVAL=3", None),
            ("every 2 quarters", "FREQ=MONTHLY;INTERVAL=6", None),
            ("on mondays", "FREQ=WEEKLY;BYDAY=MO", None),
            ("every day at 7pm", "FREQ=DAILY", Some("19:00")),
            (
                "every first monday of the month",
                "FREQ=MONTHLY;BYDAY=1MO",
                None,
            ),
            ("every last friday", "FREQ=MONTHLY;BYDAY=-1FR", None),
            (
                "on the second tuesday of every month at 7pm",
                "FREQ=MONTHLY;BYDAY=2TU",
                Some("19:00"),
            ),
            (
                "the last friday of each month",
                "FREQ=MONTHLY;BYDAY=-1FR",
                None,
            ),
            (
                "monthly on the 1st and 3rd wednesday",
                "FREQ=MONTHLY;BYDAY=1WE,3WE",
                None,
            ),
            (
                "every 2 months on the first monday",
                "FREQ=MONTHLY;INTERVAL=2;BYDAY=1MO",
                None,
            ),
        ];
        for (text, rule, time) in cases {
            assert_eq!(
                read(text),
                Some(((*rule).to_owned(), time.map(str::to_owned))),
                "{text:?}"
            );
        }
        for text in [
            "every",
            "every blue moon",
            "on monday",
            "monday",
            "thurs",
            "tues 2:30",
            "on weds",
            "everything",
            "every 0 days",
        ] {
            assert_eq!(read(text), None, "{text:?}");
        }
    }

    #[test]
    fn rrule_text_round_trips_and_is_validated() {
        let r = Repeat::parse_rrule("RRULE:FREQ=WEEKLY;INTERVAL=2;BYDAY=FR,MO").expect("valid");
        assert_eq!(r.to_rrule(), "FREQ=WEEKLY;INTERVAL=2;BYDAY=MO,FR");
        assert_eq!(r.describe(), "every 2 weeks on Monday and Friday");
        assert!(Repeat::parse_rrule("FREQ=HOURLY").is_err());
        assert!(Repeat::parse_rrule("FREQ=DAILY;COUNT=3").is_err());
        assert!(Repeat::parse_rrule("INTERVAL=2").is_err());
        assert!(Repeat::parse_rrule("FREQ=MONTHLY;BYDAY=MO").is_err());
        assert!(Repeat::parse_rrule("FREQ=DAILY;INTERVAL=0").is_err());
        // a place in the month: monthly rules only, 1 to 5 from either end
        let r = Repeat::parse_rrule("FREQ=MONTHLY;BYDAY=-1FR,+1MO").expect("valid");
        assert_eq!(r.to_rrule(), "FREQ=MONTHLY;BYDAY=1MO,-1FR");
        assert_eq!(
            r.describe(),
            "every month on the first Monday and last Friday"
        );
        assert!(Repeat::parse_rrule("FREQ=WEEKLY;BYDAY=1MO").is_err());
        assert!(Repeat::parse_rrule("FREQ=MONTHLY;BYDAY=6MO").is_err());
        assert!(Repeat::parse_rrule("FREQ=MONTHLY;BYDAY=0MO").is_err());
        assert!(Repeat::parse_rrule("FREQ=MONTHLY;BYDAY=1XX").is_err());
        assert!(Repeat::parse_rrule("FREQ=MONTHLY;BYDAY=1MO;BYMONTHDAY=1").is_err());
    }

    #[test]
    fn the_nth_weekday_of_the_month_falls_on_that_day() {
        let tz = chrono_tz::Europe::Berlin;
        // Thursday 26 November 2026, 09:00.
        let from = tz
            .with_ymd_and_hms(2026, 11, 26, 9, 0, 0)
            .single()
            .expect("time");
        let days = |rule: &str| {
            let r = Repeat::parse_rrule(rule).expect("valid");
            let first = r.first_on_or_after(from).expect("first");
            let second = r.next_after(first, first).expect("second");
            [first, second].map(|d| d.date_naive().to_string())
        };
        // the last Friday of November is the 27th, of December the 25th
        assert_eq!(
            days("FREQ=MONTHLY;BYDAY=-1FR"),
            ["2026-11-27", "2026-12-25"]
        );
        // the first Monday of November has passed: December's, then January's
        assert_eq!(days("FREQ=MONTHLY;BYDAY=1MO"), ["2026-12-07", "2027-01-04"]);
        // the fourth Thursday of November is today
        assert_eq!(days("FREQ=MONTHLY;BYDAY=4TH"), ["2026-11-26", "2026-12-24"]);
    }

    #[test]
    fn descriptions_read_naturally() {
        let text = |s: &str| Repeat::parse_rrule(s).expect("valid").describe();
        assert_eq!(text("FREQ=DAILY"), "every day");
        assert_eq!(text("FREQ=DAILY;INTERVAL=3"), "every 3 days");
        assert_eq!(text("FREQ=WEEKLY;BYDAY=MO"), "every Monday");
        assert_eq!(text("FREQ=WEEKLY;BYDAY=MO,TU,WE,TH,FR"), "every weekday");
        assert_eq!(text("FREQ=MONTHLY;BYMONTHDAY=1"), "every month on the 1st");
        assert_eq!(
            text("FREQ=MONTHLY;BYMONTHDAY=22"),
            "every month on the 22nd"
        );
        assert_eq!(text("FREQ=YEARLY"), "every year");
    }

    #[test]
    fn occurrences_keep_local_time_across_dst() {
        let tz = chrono_tz::Europe::Berlin;
        // Saturday 24 October 2026, 09:00 CEST; clocks go back on Sunday the 25th.
        let start = tz
            .with_ymd_and_hms(2026, 10, 24, 9, 0, 0)
            .single()
            .expect("time");
        let daily = Repeat::new(Freq::Daily);
        let next = daily.next_after(start, start).expect("next");
        let after = daily.next_after(start, next).expect("after");
        assert_eq!(next.to_rfc3339(), "2026-10-25T09:00:00+01:00");
        assert_eq!(after.to_rfc3339(), "2026-10-26T09:00:00+01:00");
    }

    #[test]
    fn first_occurrence_skips_to_a_matching_day() {
        let tz = chrono_tz::Europe::Berlin;
        // Thursday 26 November 2026.
        let from = tz
            .with_ymd_and_hms(2026, 11, 26, 0, 0, 0)
            .single()
            .expect("time");
        let mondays = Repeat::parse_rrule("FREQ=WEEKLY;BYDAY=MO").expect("valid");
        assert_eq!(
            mondays
                .first_on_or_after(from)
                .map(|d| d.date_naive().to_string())
                .as_deref(),
            Some("2026-11-30")
        );
        let first = Repeat::parse_rrule("FREQ=MONTHLY;BYMONTHDAY=1").expect("valid");
        assert_eq!(
            first
                .first_on_or_after(from)
                .map(|d| d.date_naive().to_string())
                .as_deref(),
            Some("2026-12-01")
        );
        let daily = Repeat::new(Freq::Daily);
        assert_eq!(daily.first_on_or_after(from), Some(from));
    }
}
