//! Dates and times in plain English, resolved against a [`Clock`].
//!
//! A small recursive-descent reader over lower-cased words. It reads a whole phrase or nothing:
//! "tomorrow at 5pm", "5pm tomorrow", "next friday", "this weekend", "in 3 days", "on the 3rd",
//! "March 14", "14/3" (by the user's [`DateOrder`](super::DateOrder)), "end of the month", "noon".
//! The meanings chosen where English is ambiguous (tested in `tests` below and documented in the
//! README):
//! - a weekday alone ("friday", "this friday", "on friday") is the next such day, today included
//!   (but "thursday at 9am" said on a Thursday after 9 is next Thursday);
//!   "next friday" is the Friday of next week (weeks start on Monday);
//! - "next week" is next Monday; "this weekend" is this Saturday (today on a weekend day);
//!   "next weekend" is next week's Saturday; "end of the week" is Friday (Sunday once Friday has passed);
//! - "next month" is the 1st of next month ("next month on the 3rd" its 3rd); "end of the month"
//!   (or "the last day of the month", "end of december") its last day; "early", "mid" and "late"
//!   before a month are its 1st, 15th and last day; "next year" January 1st;
//! - a date without a year is the next such date, today included, and so is a holiday on a fixed
//!   date ("christmas", "christmas eve", "new year's eve", "halloween");
//! - a time alone ("at 5pm") is today, or tomorrow once that time has passed today;
//! - "morning" is 09:00, "noon" 12:00, "afternoon" 15:00, "evening" 19:00, "tonight" 20:00,
//!   "night" 21:00, "end of day" 17:00, "midnight" 23:59 of that day; "first thing" is the
//!   morning's 09:00 and "later today" today;
//! - "(at the) same time tomorrow" is the day alone (a task moved to it keeps its time);
//! - a weekday followed by a date ("monday the 30th") is that date when it falls on that weekday;
//! - breakfast is 08:00, lunch 12:00, dinner and supper 19:00; at the end of a sentence
//!   ([`parse_in_sentence`]) a meal is a time only after a date or "at" / "by" ("friday dinner",
//!   "at lunch"; in "pack lunch" and "make dinner tonight" it is the task), and so is a part of
//!   day said alone ("sunday night", "by morning"; in "movie night on friday" it is the task);
//! - an hour without am/pm after "at", "by", "before" or "until", or with minutes, reads 1–6 as
//!   afternoon hours and 7–11 as morning ones ("at 5" and "by 5" are 17:00, "3:30" and "half
//!   past 3" / "half past three" are 15:30, "8ish" is "at 8"; "08:15", "17:00" and "14h" / "9h30"
//!   are a 24-hour clock), unless the rest of the sentence
//!   names the part of day ([`parse_in_sentence`]): "dinner with sam at 8" is at 20:00,
//!   "breakfast meeting at 6" at 06:00.

use chrono::{Datelike, Duration, Months, NaiveDate, NaiveTime, Weekday};

use super::{Clock, DateOrder, Due, LocalDue};

/// A phrase read by [`parse`].
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Parsed {
    /// A local date, with or without a time.
    Local(LocalDue),
    /// An exact instant ("in 2 hours").
    Due(Due),
}

impl Parsed {
    /// The instant the phrase names, a local date read in `tz`.
    pub fn resolve(self, tz: chrono_tz::Tz) -> Due {
        match self {
            Self::Local(local) => local.resolve(tz),
            Self::Due(due) => due,
        }
    }
}

/// Reads a whole phrase given as a due date (a field: "dinner" alone is a time); `None` when any
/// word is not understood.
pub fn parse(text: &str, clock: &Clock) -> Option<Parsed> {
    read_due(text, clock, false, None)
}

/// Reads a whole phrase cut from a sentence as its due date, `about` being the rest of the
/// sentence (what the task is): as [`parse`], except that a meal is a time only after a date or a
/// preposition ("friday dinner", "at lunch"; not "pack lunch"), and that an hour without am/pm
/// moves into the part of day `about` names ("dinner with sam" + "at 8": 20:00).
pub fn parse_in_sentence(text: &str, clock: &Clock, about: &str) -> Option<Parsed> {
    read_due(text, clock, true, part_of_day_named(about))
}

fn read_due(
    text: &str,
    clock: &Clock,
    in_sentence: bool,
    hint: Option<TimeOfDay>,
) -> Option<Parsed> {
    let tokens = tokenize(text);
    if tokens.is_empty() {
        return None;
    }
    Reader {
        tokens: &tokens,
        at: 0,
        clock,
        dates: true,
        in_sentence,
        hint,
        bare_hour: false,
        weekday_today: false,
    }
    .phrase()
}

/// Reads a whole phrase that names only a time of day ("at 9am", "in the morning", "at 8 in the
/// evening").
pub fn time_only(text: &str) -> Option<NaiveTime> {
    let tokens = tokenize(text);
    let clock = Clock::new(chrono::Utc::now(), chrono_tz::Tz::UTC, DateOrder::Dmy);
    let reader = Reader {
        tokens: &tokens,
        at: 0,
        clock: &clock,
        dates: false,
        in_sentence: false,
        hint: None,
        bare_hour: false,
        weekday_today: false,
    };
    match reader.read()? {
        Read::Parts(None, Some(t)) => Some(t),
        _ => None,
    }
}

/// Splits a phrase into lower-case words, separating "5pm" style suffixes is left to the reader.
pub fn tokenize(text: &str) -> Vec<String> {
    text.to_lowercase()
        .replace([',', ';'], " ")
        .split_whitespace()
        .map(|w| {
            let word =
                w.trim_matches(|c: char| matches!(c, '.' | '!' | '?' | '(' | ')' | '"' | '\''));
            // "15.12.": a day and month written with dots keep the last one, which tells them
            // from a time ("10.30")
            if w.ends_with('.') && dotted_date(&format!("{word}.")).is_some() {
                format!("{word}.")
            } else {
                word.to_owned()
            }
        })
        .filter(|w| !w.is_empty())
        .collect()
}

pub fn weekday(word: &str) -> Option<Weekday> {
    Some(match word {
        "mon" | "monday" | "mondays" => Weekday::Mon,
        "tue" | "tues" | "tuesday" | "tuesdays" => Weekday::Tue,
        "wed" | "weds" | "wednesday" | "wednesdays" => Weekday::Wed,
        "thu" | "thur" | "thurs" | "thursday" | "thursdays" => Weekday::Thu,
        "fri" | "friday" | "fridays" => Weekday::Fri,
        "sat" | "saturday" | "saturdays" => Weekday::Sat,
        "sun" | "sunday" | "sundays" => Weekday::Sun,
        _ => return None,
    })
}

/// The month a name or its abbreviation names (1–12).
pub fn month(word: &str) -> Option<u32> {
    Some(match word {
        "jan" | "january" => 1,
        "feb" | "february" => 2,
        "mar" | "march" => 3,
        "apr" | "april" => 4,
        "may" => 5,
        "jun" | "june" => 6,
        "jul" | "july" => 7,
        "aug" | "august" => 8,
        "sep" | "sept" | "september" => 9,
        "oct" | "october" => 10,
        "nov" | "november" => 11,
        "dec" | "december" => 12,
        _ => return None,
    })
}

/// "3", "three", "a", "an", "couple" …
pub fn number(word: &str) -> Option<u32> {
    if let Ok(n) = word.parse::<u32>() {
        return (n <= 1000).then_some(n);
    }
    Some(match word {
        "a" | "an" | "one" => 1,
        "two" | "couple" => 2,
        "three" | "few" => 3,
        "four" => 4,
        "five" => 5,
        "six" => 6,
        "seven" => 7,
        "eight" => 8,
        "nine" => 9,
        "ten" => 10,
        "eleven" => 11,
        "twelve" => 12,
        _ => return None,
    })
}

/// "3rd", "21st", "14th", "3", "first", "twenty-second".
pub fn ordinal(word: &str) -> Option<u32> {
    const WORDS: [&str; 19] = [
        "first",
        "second",
        "third",
        "fourth",
        "fifth",
        "sixth",
        "seventh",
        "eighth",
        "ninth",
        "tenth",
        "eleventh",
        "twelfth",
        "thirteenth",
        "fourteenth",
        "fifteenth",
        "sixteenth",
        "seventeenth",
        "eighteenth",
        "nineteenth",
    ];
    let named = |w: &str| {
        WORDS
            .iter()
            .position(|o| *o == w)
            .and_then(|i| u32::try_from(i + 1).ok())
    };
    if let Some(n) = named(word) {
        return Some(n);
    }
    match word {
        "twentieth" => return Some(20),
        "thirtieth" => return Some(30),
        _ => {}
    }
    if let Some((tens, unit)) = word.split_once('-') {
        let tens = match tens {
            "twenty" => 20,
            "thirty" => 30,
            _ => return None,
        };
        let n = tens + named(unit).filter(|u| *u <= 9)?;
        return (n <= 31).then_some(n);
    }
    let digits = ["st", "nd", "rd", "th"]
        .iter()
        .find_map(|s| word.strip_suffix(s))
        .unwrap_or(word);
    let n: u32 = digits.parse().ok()?;
    (1..=31).contains(&n).then_some(n)
}

fn time(h: u32, m: u32) -> Option<NaiveTime> {
    NaiveTime::from_hms_opt(h, m, 0)
}

/// "15.12." or "15.12.2026" (day first, as dates written with dots are): (day, month, year).
pub fn dotted_date(word: &str) -> Option<(u32, u32, Option<i32>)> {
    let parts: Vec<&str> = word.split('.').collect();
    let numbers = |ps: &[&str]| {
        ps.iter()
            .all(|p| (1..=2).contains(&p.len()) && p.chars().all(|c| c.is_ascii_digit()))
    };
    let (day, month, year) = match parts.as_slice() {
        [d, m, ""] if numbers(&[d, m]) => (d, m, None),
        [d, m, y] | [d, m, y, ""]
            if numbers(&[d, m])
                && (y.len() == 2 || y.len() == 4)
                && y.chars().all(|c| c.is_ascii_digit()) =>
        {
            (d, m, Some(full_year(y.parse().ok()?)))
        }
        _ => return None,
    };
    let (day, month): (u32, u32) = (day.parse().ok()?, month.parse().ok()?);
    ((1..=31).contains(&day) && (1..=12).contains(&month)).then_some((day, month, year))
}

/// "5", "5:30", "17:00" → (hour, minute, had minutes).
fn clock_digits(word: &str) -> Option<(u32, u32)> {
    let (h, m) = match word.split_once([':', '.']) {
        Some((h, m)) if m.len() == 2 => (h.parse().ok()?, m.parse().ok()?),
        Some(_) => return None,
        // "1030", "0930": hours and minutes run together
        None if (3..=4).contains(&word.len()) => {
            let n: u32 = word.parse().ok()?;
            (n / 100, n % 100)
        }
        None => (word.parse().ok()?, 0),
    };
    (h <= 24 && m < 60).then_some((h, m))
}

/// Hour with am/pm applied.
fn meridiem(h: u32, m: u32, pm: bool) -> Option<NaiveTime> {
    if !(1..=12).contains(&h) {
        return None;
    }
    let h = match (h, pm) {
        (12, false) => 0,
        (12, true) => 12,
        (h, true) => h + 12,
        (h, false) => h,
    };
    time(h, m)
}

/// Whether a word on its own is "am" (`Some(false)`) or "pm" (`Some(true)`).
fn meridiem_word(word: Option<&str>) -> Option<bool> {
    match word {
        Some("am" | "a.m" | "a.m.") => Some(false),
        Some("pm" | "p.m" | "p.m.") => Some(true),
        _ => None,
    }
}

/// An hour said without am/pm on a 12-hour clock: 1 to 6 are afternoon hours ("at 5" is 17:00),
/// the others what they say.
fn afternoon_if_early(h: u32) -> u32 {
    if (1..=6).contains(&h) { h + 12 } else { h }
}

/// The next `day` on or after `from`.
pub fn on_or_after(from: NaiveDate, day: Weekday) -> NaiveDate {
    let ahead = (7 + i64::from(day.num_days_from_monday())
        - i64::from(from.weekday().num_days_from_monday()))
        % 7;
    from + Duration::days(ahead)
}

fn monday_of(date: NaiveDate) -> NaiveDate {
    date - Duration::days(i64::from(date.weekday().num_days_from_monday()))
}

fn last_day_of_month(date: NaiveDate) -> NaiveDate {
    let first = NaiveDate::from_ymd_opt(date.year(), date.month(), 1).unwrap_or(date);
    first
        .checked_add_months(Months::new(1))
        .map_or(date, |next| next - Duration::days(1))
}

/// The next `month`/`day` on or after `today` (this year, else next year).
fn next_month_day(today: NaiveDate, month: u32, day: u32) -> Option<NaiveDate> {
    let this_year = NaiveDate::from_ymd_opt(today.year(), month, day);
    match this_year {
        Some(d) if d >= today => Some(d),
        _ => (1..=8).find_map(|y| {
            NaiveDate::from_ymd_opt(today.year() + y, month, day).filter(|d| *d >= today)
        }),
    }
}

/// The first day of `month` this year when it has not ended by `today`, else next year's.
pub fn month_ahead(today: NaiveDate, month: u32) -> Option<NaiveDate> {
    let year = today.year() + i32::from(month < today.month());
    NaiveDate::from_ymd_opt(year, month, 1)
}

/// The next day-of-month `day` on or after `today`.
fn next_day_of_month(today: NaiveDate, day: u32) -> Option<NaiveDate> {
    (0..=12).find_map(|m| {
        let base = today.checked_add_months(Months::new(m))?;
        NaiveDate::from_ymd_opt(base.year(), base.month(), day).filter(|d| *d >= today)
    })
}

fn full_year(y: i32) -> i32 {
    if y < 100 { 2000 + y } else { y }
}

struct Reader<'a> {
    tokens: &'a [String],
    at: usize,
    clock: &'a Clock,
    /// Whether dates may be read (false: times of day only).
    dates: bool,
    /// Whether the phrase ends a sentence (a meal alone is then part of the task, not a time).
    in_sentence: bool,
    /// The part of day the rest of the sentence names, for an hour without am/pm.
    hint: Option<TimeOfDay>,
    /// Whether the time read was an hour from 1 to 11 without am/pm ("at 8", "at 7:30").
    bare_hour: bool,
    /// Whether the date read was today's weekday said alone ("thursday", not "this thursday"):
    /// a time on it that has passed means that day next week.
    weekday_today: bool,
}

/// What a phrase named: an exact instant, or a date and a time of day (each optional).
enum Read {
    Exact(Due),
    Parts(Option<NaiveDate>, Option<NaiveTime>),
}

/// Meals, which name a time only with a date or a preposition ("friday dinner", "at lunch").
const MEALS: [&str; 6] = [
    "breakfast",
    "lunch",
    "lunchtime",
    "dinner",
    "dinnertime",
    "supper",
];

/// Parts of the day, which said alone at the end of a sentence name a time only after a date or a
/// preposition ("sunday night", "by morning"; not "movie night").
const PARTS_OF_DAY: [&str; 4] = ["morning", "afternoon", "evening", "night"];

/// A vague time of day ("morning") can be refined by an exact one ("at 8").
#[derive(Clone, Copy, PartialEq, Eq)]
enum TimeOfDay {
    Morning,
    Afternoon,
    Evening,
}

/// The part of day the words of a task name, if they name exactly one: an evening ("dinner with
/// sam", "movie night") or a morning ("breakfast meeting", "morning run"). Lunch names none: an
/// hour with it reads as usual ("lunch at 1" is 13:00, "lunch at 11" 11:00).
fn part_of_day_named(about: &str) -> Option<TimeOfDay> {
    let words = tokenize(about);
    let names = |list: &[&str]| words.iter().any(|w| list.contains(&w.as_str()));
    let evening = names(&[
        "dinner",
        "dinnertime",
        "supper",
        "evening",
        "night",
        "tonight",
    ]);
    let morning = names(&["breakfast", "morning"]);
    match (evening, morning) {
        (true, false) => Some(TimeOfDay::Evening),
        (false, true) => Some(TimeOfDay::Morning),
        _ => None,
    }
}

impl Reader<'_> {
    fn peek(&self, ahead: usize) -> Option<&str> {
        self.tokens.get(self.at + ahead).map(String::as_str)
    }

    fn eat(&mut self, word: &str) -> bool {
        if self.peek(0) == Some(word) {
            self.at += 1;
            true
        } else {
            false
        }
    }

    fn eat_seq(&mut self, words: &[&str]) -> bool {
        if words
            .iter()
            .enumerate()
            .all(|(i, w)| self.peek(i) == Some(*w))
        {
            self.at += words.len();
            true
        } else {
            false
        }
    }

    fn today(&self) -> NaiveDate {
        self.clock.today()
    }

    fn phrase(self) -> Option<Parsed> {
        let clock = self.clock;
        match self.read()? {
            Read::Exact(due) => Some(Parsed::Due(due)),
            Read::Parts(None, None) => None,
            Read::Parts(Some(d), t) => Some(Parsed::Local(LocalDue { date: d, time: t })),
            Read::Parts(None, Some(t)) => {
                // A time alone: today, or tomorrow once it has passed.
                let today = clock.today();
                let now = clock.local_now().time();
                let date = if t > now {
                    today
                } else {
                    today + Duration::days(1)
                };
                Some(Parsed::Local(LocalDue::at(date, t)))
            }
        }
    }

    /// The date and time a phrase names (each optional).
    fn read(mut self) -> Option<Read> {
        // "this time next week": seven days from today (the time is left to the task)
        for lead in [
            &["this", "time"][..],
            &["same", "time"],
            &["the", "same", "time"],
        ] {
            let start = self.at;
            if self.eat_seq(lead) && self.eat_seq(&["next", "week"]) && self.at == self.tokens.len()
            {
                return Some(Read::Parts(Some(self.today() + Duration::days(7)), None));
            }
            self.at = start;
        }
        // "(at the) same time tomorrow": the day; a task moved to it keeps its time
        if self.eat_seq(&["at", "the", "same", "time"])
            || self.eat_seq(&["the", "same", "time"])
            || self.eat_seq(&["same", "time"])
        {
            let _ = self.eat("on");
        }
        let mut date: Option<NaiveDate> = None;
        let mut at: Option<NaiveTime> = None;
        let mut vague: Option<TimeOfDay> = None;
        let mut exact_time = false;
        let mut meal_alone = false;
        while self.at < self.tokens.len() {
            let start = self.at;
            if [
                "on", "by", "due", "before", "until", "for", "the", "of", "at", "around", "about",
                "-",
            ]
            .contains(&self.peek(0).unwrap_or_default())
                && self.at + 1 < self.tokens.len()
            {
                // Fillers: "due on", "by the", "at" (the time reader looks at "at" itself).
                if self.peek(0) != Some("at") && self.peek(0) != Some("the") {
                    self.at += 1;
                    continue;
                }
            }
            if self.dates && date.is_none() && at.is_none() && self.at == 0 {
                if let Some(due) = self.relative_time() {
                    return (self.at == self.tokens.len()).then_some(Read::Exact(due));
                }
                self.at = start;
            }
            if let Some((t, v)) = self.time_of_day() {
                // A meal, or a part of day said alone, after a date ("friday dinner", "sunday
                // night") or a preposition ("at lunch", "by dinner") is a time; otherwise it is
                // what the task is about ("pack lunch", "make dinner tonight", "movie night on
                // friday").
                let said = &self.tokens[start..self.at];
                let part_of_day_alone = matches!(said, [w] if PARTS_OF_DAY.contains(&w.as_str()));
                if self.in_sentence
                    && date.is_none()
                    && (said.iter().any(|w| MEALS.contains(&w.as_str())) || part_of_day_alone)
                    && !said
                        .iter()
                        .any(|w| ["at", "@", "around", "about"].contains(&w.as_str()))
                    && !(start > 0
                        && ["by", "before", "until"].contains(&self.tokens[start - 1].as_str()))
                {
                    meal_alone = true;
                }
                match (v, at) {
                    // "tomorrow morning at 8": the exact time wins, read as a morning hour.
                    (Some(v), Some(_)) if exact_time => vague = Some(v),
                    (Some(v), _) => {
                        vague = Some(v);
                        at = Some(t);
                    }
                    (None, _) => {
                        at = Some(t);
                        exact_time = true;
                    }
                }
                continue;
            }
            self.at = start;
            if self.dates
                && date.is_none()
                && let Some((d, default_time)) = self.date()
            {
                date = Some(d);
                if default_time.is_some() {
                    // "tonight": an evening, which "at 9" refines.
                    vague = vague.or(Some(TimeOfDay::Evening));
                }
                if at.is_none() {
                    at = default_time;
                }
                continue;
            }
            self.at = start;
            return None;
        }
        if meal_alone {
            return None;
        }
        // "dinner with sam at 8": the task names the part of day the hour is in.
        if vague.is_none() && exact_time && self.bare_hour {
            vague = self.hint;
        }
        // "at 8 in the evening": move an ambiguous hour into the part of day named.
        if let (Some(t), Some(v), true) = (at, vague, exact_time) {
            use chrono::Timelike;
            let h = t.hour();
            let shifted = match v {
                TimeOfDay::Afternoon | TimeOfDay::Evening if h < 12 => h + 12,
                TimeOfDay::Morning if h > 12 => h - 12,
                _ => h,
            };
            at = time(shifted, t.minute());
        }
        // "thursday at 9am" said on a Thursday at 10: next Thursday
        if let (true, Some(d), Some(t)) = (self.weekday_today, date, at)
            && d == self.today()
            && t <= self.clock.local_now().time()
        {
            date = Some(d + Duration::days(7));
        }
        Some(Read::Parts(date, at))
    }

    /// "in 2 hours", "in 30 minutes": an exact instant.
    fn relative_time(&mut self) -> Option<Due> {
        if !self.eat("in") {
            return None;
        }
        // "in half an hour"
        if self.eat_seq(&["half", "an", "hour"]) {
            return Some(Due {
                at: self.clock.now + Duration::minutes(30),
                has_time: true,
            });
        }
        // "in 1.5 hours"
        let word = self.peek(0)?;
        let (n, tenths) = match number(word) {
            Some(n) => (i64::from(n), 0),
            None => {
                let (whole, tenth) = word.split_once('.')?;
                if tenth.len() != 1 {
                    return None;
                }
                (whole.parse().ok()?, tenth.parse::<i64>().ok()?)
            }
        };
        // "in 2 and a half hours"
        let half_before = self.peek(1) == Some("and")
            && self.peek(2) == Some("a")
            && self.peek(3) == Some("half");
        let unit_at = if half_before { 4 } else { 1 };
        let unit = self.peek(unit_at)?;
        let minutes = match unit {
            "hour" | "hours" | "hr" | "hrs" | "h" => n * 60 + tenths * 6,
            "minute" | "minutes" | "min" | "mins" if tenths == 0 => n,
            _ => return None,
        };
        self.at += unit_at + 1;
        // "in an hour and a half"
        let half_after = self.eat_seq(&["and", "a", "half"]);
        let minutes = if (half_before || half_after) && minutes % 60 == 0 {
            minutes + 30
        } else {
            minutes
        };
        Some(Due {
            at: self.clock.now + Duration::minutes(minutes),
            has_time: true,
        })
    }

    /// "half past 3" (15:30), "quarter past 9" (09:15), "quarter to 5pm" (16:45): the hour reads
    /// as a bare one ("at 3") unless am/pm follows it.
    fn spoken_time(&mut self) -> Option<NaiveTime> {
        use chrono::Timelike;
        let minutes = match (self.peek(0)?, self.peek(1)?) {
            ("half", "past") => 30,
            ("quarter", "past") => 15,
            ("quarter", "to") => -15,
            _ => return None,
        };
        let word = self.peek(2)?;
        let (digits, mut pm) = if let Some(d) = word.strip_suffix("pm") {
            (d, Some(true))
        } else if let Some(d) = word.strip_suffix("am") {
            (d, Some(false))
        } else {
            (word, None)
        };
        // "half past 3", "quarter to five"
        let h: u32 = digits
            .parse()
            .ok()
            .or_else(|| number(digits).filter(|_| !matches!(digits, "a" | "an")))
            .filter(|h| (1..=12).contains(h))?;
        self.at += 3;
        if pm.is_none() {
            pm = meridiem_word(self.peek(0));
            if pm.is_some() {
                self.at += 1;
            }
        }
        let hour = match pm {
            Some(pm) => meridiem(h, 0, pm)?.hour(),
            None => {
                self.bare_hour = h <= 11;
                afternoon_if_early(h)
            }
        };
        Some(time(hour, 0)? + Duration::minutes(minutes))
    }

    /// A time of day; the second value says it was vague ("morning").
    fn time_of_day(&mut self) -> Option<(NaiveTime, Option<TimeOfDay>)> {
        let start = self.at;
        let had_at = self.eat("at") || self.eat("@");
        let around = self.eat("around") || self.eat("about");
        let word = self.peek(0)?.to_owned();
        // "8ish" is around 8
        let (word, had_at) = match word.strip_suffix("ish") {
            Some(hour) if clock_digits(hour).is_some() => (hour.to_owned(), true),
            _ => (word, had_at || around),
        };
        // "14h", "9h30": a 24-hour clock written with an h
        if let Some((hours, minutes)) = word.split_once('h')
            && (1..=2).contains(&hours.len())
            && hours.bytes().all(|b| b.is_ascii_digit())
            && (minutes.is_empty()
                || minutes.len() == 2 && minutes.bytes().all(|b| b.is_ascii_digit()))
            && let (Ok(h), m) = (hours.parse::<u32>(), minutes.parse::<u32>().unwrap_or(0))
            && h < 24
            && m < 60
        {
            self.at += 1;
            return Some((time(h, m)?, None));
        }
        let named = match word.as_str() {
            "noon" | "midday" | "lunch" | "lunchtime" => Some((time(12, 0)?, None)),
            "breakfast" => Some((time(8, 0)?, Some(TimeOfDay::Morning))),
            "dinner" | "dinnertime" | "supper" => Some((time(19, 0)?, Some(TimeOfDay::Evening))),
            "midnight" => Some((time(23, 59)?, None)),
            "eod" => Some((time(17, 0)?, None)),
            _ => None,
        };
        if let Some(found) = named {
            self.at += 1;
            return Some(found);
        }
        // "first thing tomorrow", "first thing in the morning": the start of the morning
        if self.eat_seq(&["first", "thing"]) {
            let _ = self.eat_seq(&["in", "the", "morning"]);
            return Some((time(9, 0)?, Some(TimeOfDay::Morning)));
        }
        // "end of day", "(at) the end of the day"
        let before_the = self.at;
        let _ = self.eat("the");
        if self.eat_seq(&["end", "of", "day"]) || self.eat_seq(&["end", "of", "the", "day"]) {
            return Some((time(17, 0)?, None));
        }
        self.at = before_the;
        // "after work" (18:00), "after lunch" (13:00)
        if self.eat_seq(&["after", "work"]) {
            return Some((time(18, 0)?, Some(TimeOfDay::Evening)));
        }
        if self.eat_seq(&["after", "lunch"]) {
            return Some((time(13, 0)?, Some(TimeOfDay::Afternoon)));
        }
        // "in the morning", "this evening", "morning"
        let vague_start = self.at;
        let _ = self.eat("in") && self.eat("the") || self.eat("this") || self.eat("the");
        let vague = match self.peek(0) {
            Some("morning") => Some((TimeOfDay::Morning, 9)),
            Some("afternoon") => Some((TimeOfDay::Afternoon, 15)),
            Some("evening") => Some((TimeOfDay::Evening, 19)),
            Some("night") => Some((TimeOfDay::Evening, 21)),
            _ => None,
        };
        if let Some((v, h)) = vague
            && !had_at
        {
            self.at += 1;
            return Some((time(h, 0)?, Some(v)));
        }
        self.at = vague_start;
        if let Some(spoken) = self.spoken_time() {
            return Some((spoken, None));
        }
        // "5pm", "5:30pm", "5 pm", "17:00", "at 5"
        for suffix in ["am", "a.m", "pm", "p.m", "a", "p"] {
            if let Some(digits) = word.strip_suffix(suffix)
                && !digits.is_empty()
                && (suffix.len() > 1 || had_at)
                && let Some((h, m)) = clock_digits(digits)
            {
                self.at += 1;
                return Some((meridiem(h, m, suffix.starts_with('p'))?, None));
            }
        }
        if let Some((h, m)) = clock_digits(&word) {
            if let Some(pm) = meridiem_word(self.peek(1)) {
                self.at += 2;
                return Some((meridiem(h, m, pm)?, None));
            }
            let with_colon = word.contains(':');
            // a deadline's hour: "by 5", "before 6"
            let after_deadline =
                start > 0 && ["by", "before", "until"].contains(&self.tokens[start - 1].as_str());
            // "at 1030" is a time, "by 2027" a year
            let run_together = word.len() > 2 && !with_colon;
            if had_at || with_colon || (after_deadline && !run_together) {
                self.at += 1;
                self.bare_hour = (1..=11).contains(&h) && !word.starts_with('0');
                let _ =
                    self.eat("o'clock") || self.eat("oclock") || self.eat("hrs") || self.eat("h");
                // A leading zero ("08:15") is a 24-hour clock, as are 0 and 12 to 24; otherwise
                // 1 to 6 are afternoon hours ("at 5", "3:30") and 7 to 11 morning ones.
                let h = if word.starts_with('0') {
                    h
                } else {
                    afternoon_if_early(h)
                };
                return Some((time(h % 24, m)?, None));
            }
        }
        self.at = start;
        None
    }

    /// A holiday on a fixed date ("christmas", "new year's eve"): the next one, today included.
    fn holiday(&mut self) -> Option<NaiveDate> {
        const HOLIDAYS: &[(&[&str], u32, u32)] = &[
            (&["christmas", "eve"], 12, 24),
            (&["xmas", "eve"], 12, 24),
            (&["christmas", "day"], 12, 25),
            (&["christmas"], 12, 25),
            (&["xmas"], 12, 25),
            (&["boxing", "day"], 12, 26),
            (&["new", "year's", "eve"], 12, 31),
            (&["new", "years", "eve"], 12, 31),
            (&["nye"], 12, 31),
            (&["new", "year's", "day"], 1, 1),
            (&["new", "years", "day"], 1, 1),
            (&["new", "year's"], 1, 1),
            (&["new", "years"], 1, 1),
            (&["valentine's", "day"], 2, 14),
            (&["valentines", "day"], 2, 14),
            (&["valentine's"], 2, 14),
            (&["halloween"], 10, 31),
        ];
        let today = self.today();
        let (_, month, day) = HOLIDAYS.iter().find(|(words, _, _)| self.eat_seq(words))?;
        let this_year = NaiveDate::from_ymd_opt(today.year(), *month, *day)?;
        if this_year >= today {
            Some(this_year)
        } else {
            NaiveDate::from_ymd_opt(today.year() + 1, *month, *day)
        }
    }

    /// A date, with the time it implies ("tonight").
    fn date(&mut self) -> Option<(NaiveDate, Option<NaiveTime>)> {
        let today = self.today();
        let start = self.at;
        let word = self.peek(0)?.to_owned();
        let simple = match word.as_str() {
            "today" | "tod" | "2day" => Some((today, None)),
            "tonight" | "tonite" | "2nite" | "2night" => Some((today, time(20, 0))),
            "tomorrow" | "tmrw" | "tmr" | "tomorow" | "tommorow" | "tommorrow" | "tomorrows"
            | "2moro" | "2morrow" | "2morow" => Some((today + Duration::days(1), None)),
            "yesterday" => Some((today - Duration::days(1), None)),
            "eom" => Some((last_day_of_month(today), None)),
            _ => None,
        };
        if let Some(found) = simple {
            self.at += 1;
            return Some(found);
        }
        // "later today", "later tonight"
        if word == "later" {
            match self.peek(1) {
                Some("today") => {
                    self.at += 2;
                    return Some((today, None));
                }
                Some("tonight") => {
                    self.at += 2;
                    return Some((today, time(20, 0)));
                }
                _ => {}
            }
        }
        if let Some(date) = self.holiday() {
            return Some((date, None));
        }
        if self.eat_seq(&["the", "day", "after", "tomorrow"])
            || self.eat_seq(&["day", "after", "tomorrow"])
        {
            return Some((today + Duration::days(2), None));
        }
        // "end of the month", "the last day of next month"
        if self.eat("end")
            || self.eat_seq(&["the", "end"])
            || self.eat_seq(&["last", "day"])
            || self.eat_seq(&["the", "last", "day"])
        {
            let _ = self.eat("of");
            let _ = self.eat("the") || self.eat("this");
            let next = self.eat("next");
            let noun = self.peek(0)?.to_owned();
            let date = match noun.as_str() {
                "month" => {
                    self.at += 1;
                    let base = if next {
                        today.checked_add_months(Months::new(1))?
                    } else {
                        today
                    };
                    last_day_of_month(base)
                }
                "week" => {
                    self.at += 1;
                    let friday = on_or_after(monday_of(today), Weekday::Fri);
                    if next {
                        friday + Duration::days(7)
                    } else if friday >= today {
                        friday
                    } else {
                        on_or_after(today, Weekday::Sun)
                    }
                }
                "year" => {
                    self.at += 1;
                    NaiveDate::from_ymd_opt(today.year() + i32::from(next), 12, 31)?
                }
                // "end of december"
                name if !next && month(name).is_some() => {
                    self.at += 1;
                    last_day_of_month(self.month_ahead(month(name)?)?)
                }
                _ => return None,
            };
            return Some((date, None));
        }
        // "early next month", "mid december", "mid-january", "late march": the 1st, the 15th or
        // the last day of that month
        if let Some(date) = self.part_of_month() {
            return Some((date, None));
        }
        self.at = start;
        // "next week", "next monday", "this friday", "coming friday", "friday next week"
        let modifier = match word.as_str() {
            "next" => Some(true),
            "this" | "coming" | "upcoming" => Some(false),
            _ => None,
        };
        if let Some(next) = modifier {
            self.at += 1;
            let _ = self.eat("coming");
            let noun = self.peek(0)?.to_owned();
            self.at += 1;
            let date = match noun.as_str() {
                "week" if next => {
                    let monday = monday_of(today) + Duration::days(7);
                    // "next week on friday", "next week friday"
                    let back = self.at;
                    let _ = self.eat("on");
                    match self.peek(0).and_then(weekday) {
                        Some(day) => {
                            self.at += 1;
                            on_or_after(monday, day)
                        }
                        None => {
                            self.at = back;
                            monday
                        }
                    }
                }
                "week" => return self.backtrack(start),
                "weekend" => self.weekend(next),
                "month" if next => {
                    let base = today.checked_add_months(Months::new(1))?;
                    // "next month on the 3rd", "next month the 10th"
                    let back = self.at;
                    let _ = self.eat("on");
                    let the = self.eat("the");
                    let day = self
                        .peek(0)
                        .filter(|w| the || w.chars().any(char::is_alphabetic))
                        .and_then(ordinal)
                        .and_then(|d| NaiveDate::from_ymd_opt(base.year(), base.month(), d));
                    match day {
                        Some(date) => {
                            self.at += 1;
                            date
                        }
                        None => {
                            self.at = back;
                            NaiveDate::from_ymd_opt(base.year(), base.month(), 1)?
                        }
                    }
                }
                "year" if next => NaiveDate::from_ymd_opt(today.year() + 1, 1, 1)?,
                other => {
                    let day = weekday(other)?;
                    if next {
                        on_or_after(monday_of(today) + Duration::days(7), day)
                    } else {
                        on_or_after(today, day)
                    }
                }
            };
            return Some((date, None));
        }
        if word == "weekend" || (word == "the" && self.peek(1) == Some("weekend")) {
            self.at += if word == "the" { 2 } else { 1 };
            return Some((self.weekend(false), None));
        }
        if let Some(day) = weekday(&word) {
            self.at += 1;
            if self.eat_seq(&["next", "week"]) || self.eat_seq(&["of", "next", "week"]) {
                return Some((on_or_after(monday_of(today) + Duration::days(7), day), None));
            }
            // ("this thursday" is read above, with the other modifiers)
            let this_week = self.eat_seq(&["this", "week"]);
            // "monday the 30th", "friday, december 4": the date said after the weekday, when it
            // is that weekday
            let after_weekday = self.at;
            let _ = self.eat(",");
            if let Some((date, time)) = self.calendar_date()
                && date.weekday() == day
            {
                return Some((date, time));
            }
            self.at = after_weekday;
            self.weekday_today = !this_week && day == today.weekday();
            return Some((on_or_after(today, day), None));
        }
        // "in 3 days", "in a week", "in two months", "3 days from now", "a week from today"
        let had_in = self.eat("in");
        if let Some(n) = self.peek(0).and_then(number) {
            let unit = self.peek(1).map(str::to_owned);
            let offset = unit.as_deref().and_then(|u| Self::offset(today, n, u));
            if let Some(date) = offset {
                self.at += 2;
                let from_now = self.eat_seq(&["from", "now"])
                    || self.eat_seq(&["from", "today"])
                    || self.eat("later");
                if had_in || from_now {
                    // "in 2 weeks on thursday": that weekday of the week it lands in
                    if matches!(unit.as_deref(), Some("week" | "weeks" | "wk" | "wks")) {
                        let back = self.at;
                        let _ = self.eat("on");
                        match self.peek(0).and_then(weekday) {
                            Some(day) => {
                                self.at += 1;
                                return Some((on_or_after(monday_of(date), day), None));
                            }
                            None => self.at = back,
                        }
                    }
                    return Some((date, None));
                }
            }
        }
        if had_in && self.eat_seq(&["a", "fortnight"]) {
            return Some((today + Duration::days(14), None));
        }
        self.at = start;
        self.calendar_date()
    }

    fn backtrack<T>(&mut self, to: usize) -> Option<T> {
        self.at = to;
        None
    }

    fn weekend(&self, next: bool) -> NaiveDate {
        let today = self.today();
        let saturday = if matches!(today.weekday(), Weekday::Sat | Weekday::Sun) {
            today
        } else {
            on_or_after(today, Weekday::Sat)
        };
        if next {
            on_or_after(monday_of(today) + Duration::days(7), Weekday::Sat)
        } else {
            saturday
        }
    }

    fn offset(today: NaiveDate, n: u32, unit: &str) -> Option<NaiveDate> {
        match unit {
            "day" | "days" => Some(today + Duration::days(i64::from(n))),
            "week" | "weeks" | "wk" | "wks" => Some(today + Duration::weeks(i64::from(n))),
            "month" | "months" | "mo" => today.checked_add_months(Months::new(n)),
            "year" | "years" | "yr" | "yrs" => today.checked_add_months(Months::new(n * 12)),
            _ => None,
        }
    }

    /// "March 14", "14 March 2027", "the 3rd", "3rd of next month", "14/3", "3/14/27", "2026-03-14".
    fn calendar_date(&mut self) -> Option<(NaiveDate, Option<NaiveTime>)> {
        let today = self.today();
        let start = self.at;
        let _ = self.eat("the");
        let word = self.peek(0)?.to_owned();
        // numeric forms
        if let Ok(d) = NaiveDate::parse_from_str(&word, "%Y-%m-%d") {
            self.at += 1;
            return Some((d, None));
        }
        if let Some((day, month, year)) = dotted_date(&word) {
            self.at += 1;
            let date = match year {
                Some(y) => NaiveDate::from_ymd_opt(y, month, day),
                None => next_month_day(today, month, day),
            };
            return date.map(|d| (d, None));
        }
        let parts: Vec<&str> = word.split('/').collect();
        if parts.len() >= 2
            && parts.len() <= 3
            && parts
                .iter()
                .all(|p| !p.is_empty() && p.len() <= 4 && p.chars().all(|c| c.is_ascii_digit()))
        {
            let nums: Vec<u32> = parts.iter().filter_map(|p| p.parse().ok()).collect();
            let date = if parts[0].len() == 4 {
                // 2026/03/14
                NaiveDate::from_ymd_opt(i32::try_from(nums[0]).ok()?, *nums.get(1)?, *nums.get(2)?)
            } else {
                let (a, b) = (nums[0], nums[1]);
                let (month, day) = match self.clock.date_order {
                    _ if a > 12 && b <= 12 => (b, a),
                    _ if b > 12 && a <= 12 => (a, b),
                    DateOrder::Dmy => (b, a),
                    DateOrder::Mdy => (a, b),
                };
                match nums.get(2) {
                    Some(y) => {
                        NaiveDate::from_ymd_opt(full_year(i32::try_from(*y).ok()?), month, day)
                    }
                    None => next_month_day(today, month, day),
                }
            };
            self.at += 1;
            return date.map(|d| (d, None));
        }
        // "March 14(th)( 2027)"
        if let Some(m) = month(&word) {
            self.at += 1;
            let _ = self.eat("the");
            if let Some(day) = self.peek(0).and_then(ordinal) {
                self.at += 1;
                return self.with_year(m, day).map(|d| (d, None));
            }
            // "before january", "by march": the last day before that month begins
            if start > 0 && ["before", "by", "until"].contains(&self.tokens[start - 1].as_str()) {
                self.at = start + 1;
                return self.month_ahead(m)?.pred_opt().map(|d| (d, None));
            }
            return self.backtrack(start);
        }
        // "14(th)( of) March( 2027)", "the 3rd( of next month| of the month)"
        if let Some(day) = ordinal(&word) {
            let is_ordinal = word.chars().any(|c| c.is_alphabetic());
            self.at += 1;
            let _ = self.eat("of");
            if let Some(m) = self.peek(0).and_then(month) {
                self.at += 1;
                return self.with_year(m, day).map(|d| (d, None));
            }
            if self.eat_seq(&["next", "month"]) {
                let base = today.checked_add_months(Months::new(1))?;
                return NaiveDate::from_ymd_opt(base.year(), base.month(), day).map(|d| (d, None));
            }
            let _ = self.eat_seq(&["the", "month"]) || self.eat_seq(&["this", "month"]);
            if is_ordinal || self.tokens.get(start).map(String::as_str) == Some("the") {
                return next_day_of_month(today, day).map(|d| (d, None));
            }
        }
        self.backtrack(start)
    }

    fn month_ahead(&self, month: u32) -> Option<NaiveDate> {
        month_ahead(self.today(), month)
    }

    /// "early next month", "mid december", "mid-january", "late this month": the 1st, the 15th
    /// or the last day of that month.
    fn part_of_month(&mut self) -> Option<NaiveDate> {
        let start = self.at;
        // "in mid march"
        let skip = usize::from(self.peek(0) == Some("in"));
        let word = self.peek(skip)?.to_owned();
        let (part, joined) = match word.split_once('-') {
            Some((part, rest)) if month(rest).is_some() => (part.to_owned(), Some(rest.to_owned())),
            _ => (word, None),
        };
        // "beginning of next week", "the start of december", "the middle of next month"
        let the = usize::from(part == "the");
        let part = match (part.as_str(), self.peek(skip + the + 1)) {
            ("beginning" | "start", Some("of")) if joined.is_none() && the == 0 => {
                "early".to_owned()
            }
            ("middle", Some("of")) if joined.is_none() && the == 0 => "mid".to_owned(),
            ("the", Some("of")) => match self.peek(skip + 1) {
                Some("beginning" | "start") => "early".to_owned(),
                Some("middle") => "mid".to_owned(),
                _ => return None,
            },
            _ => part,
        };
        if !matches!(part.as_str(), "early" | "mid" | "late") {
            return None;
        }
        self.at += skip + the + 1;
        let first = match joined {
            Some(name) => self.month_ahead(month(&name)?),
            None => {
                let _ = self.eat("of");
                let _ = self.eat("the");
                let next = self.eat("next");
                let this = !next && self.eat("this");
                match self.peek(0) {
                    Some("month") => {
                        self.at += 1;
                        let base = self
                            .today()
                            .checked_add_months(Months::new(u32::from(next)))?;
                        NaiveDate::from_ymd_opt(base.year(), base.month(), 1)
                    }
                    // "early next week" (Monday), "mid next week" (Wednesday), "late this
                    // week" (Friday)
                    Some("week") if next || this => {
                        self.at += 1;
                        let monday = monday_of(self.today()) + Duration::days(7 * i64::from(next));
                        return Some(match part.as_str() {
                            "early" => monday,
                            "mid" => monday + Duration::days(2),
                            _ => monday + Duration::days(4),
                        });
                    }
                    Some(name) if !next && !this && month(name).is_some() => {
                        let m = month(name)?;
                        self.at += 1;
                        self.month_ahead(m)
                    }
                    _ => None,
                }
            }
        };
        let Some(first) = first else {
            return self.backtrack(start);
        };
        Some(match part.as_str() {
            "early" => first,
            "mid" => first + Duration::days(14),
            _ => last_day_of_month(first),
        })
    }

    /// A month and day, with an optional year after them.
    fn with_year(&mut self, month: u32, day: u32) -> Option<NaiveDate> {
        if let Some(year) = self
            .peek(0)
            .filter(|w| w.len() == 4)
            .and_then(|w| w.parse::<i32>().ok())
            .filter(|y| (1970..=2200).contains(y))
        {
            self.at += 1;
            return NaiveDate::from_ymd_opt(year, month, day);
        }
        next_month_day(self.today(), month, day)
    }
}

#[cfg(test)]
mod tests {
    use chrono::{DateTime, Utc};

    use super::*;

    /// Thursday 26 November 2026, 10:30 in Berlin.
    fn clock(order: DateOrder) -> Clock {
        let now = DateTime::parse_from_rfc3339("2026-11-26T10:30:00+01:00")
            .expect("rfc3339")
            .with_timezone(&Utc);
        Clock::new(now, chrono_tz::Europe::Berlin, order)
    }

    /// What [`parse_in_sentence`] reads at the end of a sentence about `about`: a local date and
    /// time as `YYYY-MM-DD HH:MM`, anything else as its debug form.
    fn in_sentence(phrase: &str, about: &str, clock: &Clock) -> Option<String> {
        match parse_in_sentence(phrase, clock, about)? {
            Parsed::Local(LocalDue {
                date,
                time: Some(t),
            }) => Some(format!("{date} {}", t.format("%H:%M"))),
            other => Some(format!("{other:?}")),
        }
    }

    /// The phrase's local date and time as `YYYY-MM-DD` or `YYYY-MM-DD HH:MM`.
    fn read(phrase: &str, order: DateOrder) -> Option<String> {
        let clock = clock(order);
        Some(match parse(phrase, &clock)? {
            Parsed::Local(LocalDue { date, time: None }) => date.to_string(),
            Parsed::Local(LocalDue {
                date,
                time: Some(t),
            }) => format!("{date} {}", t.format("%H:%M")),
            Parsed::Due(due) => due
                .at
                .with_timezone(&clock.tz)
                .format("%Y-%m-%d %H:%M")
                .to_string(),
        })
    }

    /// Golden table: phrase → local date (and time), on Thu 2026-11-26 10:30 Europe/Berlin.
    const GOLDEN: &[(&str, &str)] = &[
        ("today", "2026-11-26"),
        ("tonight", "2026-11-26 20:00"),
        ("later today", "2026-11-26"),
        ("later tonight", "2026-11-26 20:00"),
        ("in half an hour", "2026-11-26 11:00"),
        ("first thing tomorrow", "2026-11-27 09:00"),
        ("first thing in the morning", "2026-11-27 09:00"),
        ("monday first thing", "2026-11-30 09:00"),
        ("monday the 30th", "2026-11-30"),
        ("friday december 4", "2026-12-04"),
        ("friday at 5", "2026-11-27 17:00"),
        ("tonight at 9", "2026-11-26 21:00"),
        ("tomorrow", "2026-11-27"),
        ("tmrw", "2026-11-27"),
        ("2moro", "2026-11-27"),
        ("tomorrow after work", "2026-11-27 18:00"),
        ("after lunch", "2026-11-26 13:00"),
        ("2day", "2026-11-26"),
        ("2nite", "2026-11-26 20:00"),
        ("tomorrow at 1030", "2026-11-27 10:30"),
        ("at 1145", "2026-11-26 11:45"),
        ("at 0930", "2026-11-27 09:30"),
        ("friday at 1530", "2026-11-27 15:30"),
        ("tomorrow at 5pm", "2026-11-27 17:00"),
        ("tomorrow 5pm", "2026-11-27 17:00"),
        ("5pm tomorrow", "2026-11-27 17:00"),
        ("tomorrow at 17:30", "2026-11-27 17:30"),
        ("tomorrow morning", "2026-11-27 09:00"),
        ("tomorrow morning at 8", "2026-11-27 08:00"),
        ("tomorrow evening", "2026-11-27 19:00"),
        ("tomorrow at noon", "2026-11-27 12:00"),
        ("at 14h", "2026-11-26 14:00"),
        ("tomorrow 9h30", "2026-11-27 09:30"),
        ("at half past three", "2026-11-26 15:30"),
        ("quarter to five tomorrow", "2026-11-27 16:45"),
        ("8ish", "2026-11-27 08:00"),
        ("at around 5", "2026-11-26 17:00"),
        ("same time tomorrow", "2026-11-27"),
        ("at the same time on friday", "2026-11-27"),
        ("noon", "2026-11-26 12:00"),
        ("at 9am", "2026-11-27 09:00"),
        ("at 5", "2026-11-26 17:00"),
        ("5:30pm", "2026-11-26 17:30"),
        ("at 8 in the evening", "2026-11-26 20:00"),
        ("midnight", "2026-11-26 23:59"),
        ("end of day", "2026-11-26 17:00"),
        ("at the end of the day", "2026-11-26 17:00"),
        ("tomorrow at the end of the day", "2026-11-27 17:00"),
        ("the day after tomorrow", "2026-11-28"),
        ("friday", "2026-11-27"),
        ("on friday", "2026-11-27"),
        ("this friday", "2026-11-27"),
        ("fri", "2026-11-27"),
        ("next friday", "2026-12-04"),
        ("next friday 5pm", "2026-12-04 17:00"),
        ("thursday", "2026-11-26"),
        ("next thursday", "2026-12-03"),
        ("monday", "2026-11-30"),
        ("next monday", "2026-11-30"),
        ("this monday", "2026-11-30"),
        ("on monday at 10am", "2026-11-30 10:00"),
        ("monday next week", "2026-11-30"),
        ("wednesday", "2026-12-02"),
        ("next wednesday", "2026-12-02"),
        ("saturday", "2026-11-28"),
        ("next week", "2026-11-30"),
        ("this weekend", "2026-11-28"),
        ("the weekend", "2026-11-28"),
        ("next weekend", "2026-12-05"),
        ("in 3 days", "2026-11-29"),
        ("in three days", "2026-11-29"),
        ("in 2 weeks", "2026-12-10"),
        ("in 2 weeks on thursday", "2026-12-10"),
        ("in three weeks on monday", "2026-12-14"),
        ("in a week", "2026-12-03"),
        ("in a month", "2026-12-26"),
        ("in 2 hours", "2026-11-26 12:30"),
        ("in 30 minutes", "2026-11-26 11:00"),
        ("3 days from now", "2026-11-29"),
        ("on the 3rd", "2026-12-03"),
        ("the 30th", "2026-11-30"),
        ("on the 26th", "2026-11-26"),
        ("the 3rd of next month", "2026-12-03"),
        ("march 14", "2027-03-14"),
        ("March 14th", "2027-03-14"),
        ("14 march", "2027-03-14"),
        ("14th of march", "2027-03-14"),
        ("dec 24", "2026-12-24"),
        ("december 24 at 6pm", "2026-12-24 18:00"),
        ("march 14 2028", "2028-03-14"),
        ("14/3", "2027-03-14"),
        ("3/14", "2027-03-14"),
        ("1/12", "2026-12-01"),
        ("24/12/2026", "2026-12-24"),
        ("2026-12-05", "2026-12-05"),
        ("end of the month", "2026-11-30"),
        ("end of month", "2026-11-30"),
        ("last day of the month", "2026-11-30"),
        ("the last day of next month", "2026-12-31"),
        ("end of next month", "2026-12-31"),
        ("next month", "2026-12-01"),
        ("next month on the 3rd", "2026-12-03"),
        ("next month the 10th", "2026-12-10"),
        ("next week on friday", "2026-12-04"),
        ("next week friday", "2026-12-04"),
        ("end of december", "2026-12-31"),
        ("early next month", "2026-12-01"),
        ("mid december", "2026-12-15"),
        ("mid-january", "2027-01-15"),
        ("in mid march", "2027-03-15"),
        ("late this month", "2026-11-30"),
        ("late november", "2026-11-30"),
        ("beginning of next week", "2026-11-30"),
        ("the start of next month", "2026-12-01"),
        ("middle of next week", "2026-12-02"),
        ("late this week", "2026-11-27"),
        ("this time next week", "2026-12-03"),
        ("before january", "2026-12-31"),
        ("by march", "2027-02-28"),
        ("end of the week", "2026-11-27"),
        ("end of year", "2026-12-31"),
        ("next year", "2027-01-01"),
        ("by friday", "2026-11-27"),
        ("christmas", "2026-12-25"),
        ("by christmas", "2026-12-25"),
        ("on christmas eve", "2026-12-24"),
        ("xmas at 6pm", "2026-12-25 18:00"),
        ("new year's eve", "2026-12-31"),
        ("new years day", "2027-01-01"),
        ("valentine's day", "2027-02-14"),
        ("halloween", "2027-10-31"),
        ("due tomorrow", "2026-11-27"),
        ("on dec 1st at 9:15", "2026-12-01 09:15"),
        ("friday dinner", "2026-11-27 19:00"),
        ("tonight for supper", "2026-11-26 19:00"),
        ("breakfast", "2026-11-27 08:00"),
    ];

    #[test]
    fn golden_phrasings() {
        let mut failures = Vec::new();
        for (phrase, expected) in GOLDEN {
            let got = read(phrase, DateOrder::Dmy);
            if got.as_deref() != Some(*expected) {
                failures.push(format!("{phrase:?}: expected {expected}, got {got:?}"));
            }
        }
        assert!(GOLDEN.len() >= 60);
        assert!(failures.is_empty(), "{}", failures.join("\n"));
    }

    #[test]
    fn dates_written_with_dots_are_day_first_and_times_stay_times() {
        for order in [DateOrder::Dmy, DateOrder::Mdy] {
            assert_eq!(read("15.12.", order).as_deref(), Some("2026-12-15"));
            assert_eq!(read("on 3.1.", order).as_deref(), Some("2027-01-03"));
            assert_eq!(read("15.12.2026", order).as_deref(), Some("2026-12-15"));
            assert_eq!(read("1.2.27", order).as_deref(), Some("2027-02-01"));
            assert_eq!(
                read("15.12. at 9:30", order).as_deref(),
                Some("2026-12-15 09:30")
            );
        }
        // no last dot: a time
        assert_eq!(
            read("at 11.30", DateOrder::Dmy).as_deref(),
            Some("2026-11-26 11:30")
        );
        assert_eq!(
            read("tomorrow at 5.15", DateOrder::Dmy).as_deref(),
            Some("2026-11-27 17:15")
        );
        assert_eq!(read("32.12.", DateOrder::Dmy), None);
        assert_eq!(read("15.13.", DateOrder::Dmy), None);
    }

    #[test]
    fn ambiguous_numeric_dates_follow_the_users_date_order() {
        assert_eq!(read("3/4", DateOrder::Dmy).as_deref(), Some("2027-04-03"));
        assert_eq!(read("3/4", DateOrder::Mdy).as_deref(), Some("2027-03-04"));
        // Valid one way only: read that way whatever the setting.
        assert_eq!(read("14/3", DateOrder::Mdy).as_deref(), Some("2027-03-14"));
        assert_eq!(read("3/14", DateOrder::Dmy).as_deref(), Some("2027-03-14"));
    }

    #[test]
    fn a_meal_or_a_part_of_day_ends_a_sentence_as_a_time_only_after_a_date_or_a_preposition() {
        let clock = clock(DateOrder::Dmy);
        let local = |phrase: &str| in_sentence(phrase, "", &clock);
        for (phrase, expected) in [
            ("friday dinner", "2026-11-27 19:00"),
            ("for saturday lunch", "2026-11-28 12:00"),
            ("at lunch", "2026-11-26 12:00"),
            ("by dinner", "2026-11-26 19:00"),
            ("tomorrow at breakfast", "2026-11-27 08:00"),
            // so is a part of day said alone
            ("sunday night", "2026-11-29 21:00"),
            ("by morning", "2026-11-27 09:00"),
            ("this evening", "2026-11-26 19:00"),
            ("in the afternoon", "2026-11-26 15:00"),
        ] {
            assert_eq!(local(phrase).as_deref(), Some(expected), "{phrase:?}");
        }
        for phrase in [
            "lunch",
            "for dinner",
            "breakfast",
            "dinner tonight",
            "dinner on sunday",
            "night",
            "night on friday",
            "evening",
        ] {
            assert_eq!(local(phrase), None, "{phrase:?}");
        }
        // Given as a due date on its own, a meal or a part of day is its time.
        assert_eq!(
            read("evening", DateOrder::Dmy).as_deref(),
            Some("2026-11-26 19:00")
        );
        assert_eq!(
            read("dinner", DateOrder::Dmy).as_deref(),
            Some("2026-11-26 19:00")
        );
        assert_eq!(
            read("lunch", DateOrder::Dmy).as_deref(),
            Some("2026-11-26 12:00")
        );
    }

    #[test]
    fn an_hour_without_am_pm_moves_into_the_part_of_day_the_task_names() {
        let clock = clock(DateOrder::Dmy);
        let local = |phrase: &str, about: &str| in_sentence(phrase, about, &clock);
        for (phrase, about, expected) in [
            ("at 8", "dinner with sam", "2026-11-26 20:00"),
            (
                "on sunday at 8",
                "reserve seats for dinner",
                "2026-11-29 20:00",
            ),
            ("at 7:30", "supper at the Smiths'", "2026-11-26 19:30"),
            ("friday at 9", "movie night", "2026-11-27 21:00"),
            ("tomorrow at 6", "breakfast meeting", "2026-11-27 06:00"),
            ("at 6:30", "morning run", "2026-11-27 06:30"),
            ("at quarter to 8", "dinner", "2026-11-26 19:45"),
            // am/pm, a 24-hour time and noon are what they say
            ("at 8am", "dinner prep", "2026-11-27 08:00"),
            ("at 08:00", "dinner prep", "2026-11-27 08:00"),
            ("at 12", "dinner", "2026-11-26 12:00"),
            ("at 6pm", "breakfast things", "2026-11-26 18:00"),
            // a task that names no part of day, or both, or lunch: the usual reading
            ("at 8", "call mom", "2026-11-27 08:00"),
            ("at 5", "call mom", "2026-11-26 17:00"),
            ("at 8", "breakfast and dinner plans", "2026-11-27 08:00"),
            ("at 1", "lunch with ana", "2026-11-26 13:00"),
            ("at 11", "lunch with ana", "2026-11-26 11:00"),
        ] {
            assert_eq!(
                local(phrase, about).as_deref(),
                Some(expected),
                "{phrase:?} about {about:?}"
            );
        }
    }

    #[test]
    fn words_that_are_not_dates_are_refused() {
        for phrase in [
            "buy milk",
            "2 apples",
            "1984",
            "march",
            "next",
            "in the box",
            "friday the",
            "at home",
            "13/13",
            "soon",
            "by 2027",
            "at 1975",
            "at 12345",
        ] {
            assert_eq!(read(phrase, DateOrder::Dmy), None, "{phrase:?}");
        }
    }

    #[test]
    fn an_hour_without_am_pm_reads_as_the_hour_people_mean() {
        for (phrase, expected) in [
            ("at 5", "2026-11-26 17:00"),
            ("by 5", "2026-11-26 17:00"),
            ("before 6", "2026-11-26 18:00"),
            ("until 4:30", "2026-11-26 16:30"),
            ("friday at 3:30", "2026-11-27 15:30"),
            ("on the 5th at 3:30", "2026-12-05 15:30"),
            ("tomorrow at 9:15", "2026-11-27 09:15"),
            ("tomorrow at 08:15", "2026-11-27 08:15"),
            ("tomorrow at 03:30", "2026-11-27 03:30"),
            ("tomorrow at 12:30", "2026-11-27 12:30"),
            ("tomorrow at 17:00", "2026-11-27 17:00"),
            ("tomorrow at 0:30", "2026-11-27 00:30"),
            ("by 11", "2026-11-26 11:00"),
            // said in words
            ("at half past 3", "2026-11-26 15:30"),
            ("tomorrow at quarter past 9", "2026-11-27 09:15"),
            ("friday at quarter to 5pm", "2026-11-27 16:45"),
            ("friday at quarter to 7 am", "2026-11-27 06:45"),
            ("quarter to 12", "2026-11-26 11:45"),
            ("half past 12", "2026-11-26 12:30"),
        ] {
            assert_eq!(
                read(phrase, DateOrder::Dmy).as_deref(),
                Some(expected),
                "{phrase:?}"
            );
        }
        // A number alone is not a time, nor an incomplete or impossible spoken one
        assert_eq!(read("5", DateOrder::Dmy), None);
        assert_eq!(read("half past", DateOrder::Dmy), None);
        assert_eq!(read("quarter to 13", DateOrder::Dmy), None);
    }

    #[test]
    fn a_time_that_has_passed_today_means_tomorrow() {
        assert_eq!(
            read("at 9am", DateOrder::Dmy).as_deref(),
            Some("2026-11-27 09:00")
        );
        assert_eq!(
            read("at 11am", DateOrder::Dmy).as_deref(),
            Some("2026-11-26 11:00")
        );
        // today's weekday alone, at a time that has passed: that day next week
        assert_eq!(
            read("thursday at 9am", DateOrder::Dmy).as_deref(),
            Some("2026-12-03 09:00")
        );
        assert_eq!(
            read("thu 11am", DateOrder::Dmy).as_deref(),
            Some("2026-11-26 11:00")
        );
    }
}
