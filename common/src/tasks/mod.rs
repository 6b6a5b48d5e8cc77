//! Tasks: the domain types, input validation, and (in [`store`]) the SQL every front end runs —
//! the REST API, the agents' tools, later MCP.
//!
//! Task ids are small per-user numbers (1, 2, 3 …) handed out from `users.task_seq`, so "task 3" always
//! means the caller's own task 3. Every statement is scoped by `user_id`: another user's task and a
//! missing task are indistinguishable. Every change appends to `task_history` in the same
//! transaction.

pub mod store;

use chrono::{DateTime, NaiveDate, Utc};
use serde::{Deserialize, Serialize};
use uuid::Uuid;

use crate::when::{self, Clock, Due, Repeat};

pub use store::{
    Actor, Completion, Created, HistoryEntry, ListFilter, NewTask, Page, Reverted, Source,
    TaskChanges,
};

pub const TITLE_MAX_CHARS: usize = 200;
pub const DESCRIPTION_MAX_CHARS: usize = 1000;
pub const TAG_MAX_CHARS: usize = 32;
pub const TAGS_MAX: usize = 10;
pub const LIST_LIMIT_MAX: u32 = 200;
pub const LIST_LIMIT_DEFAULT: u32 = 100;

/// How important a task is: none, low, medium or high.
// Stored as 0–3 so that "at least medium" is a comparison.
#[derive(
    Debug,
    Clone,
    Copy,
    Default,
    PartialEq,
    Eq,
    PartialOrd,
    Ord,
    Hash,
    Serialize,
    Deserialize,
    sqlx::Type,
    utoipa::ToSchema,
    schemars::JsonSchema,
)]
#[repr(i16)]
#[serde(rename_all = "lowercase")]
pub enum Priority {
    #[default]
    None = 0,
    Low = 1,
    Medium = 2,
    High = 3,
}

impl Priority {
    /// `none`, `low`, `medium`, `high` (case-insensitive).
    pub fn parse(s: &str) -> Option<Self> {
        match s.trim().to_ascii_lowercase().as_str() {
            "none" => Some(Self::None),
            "low" => Some(Self::Low),
            "medium" => Some(Self::Medium),
            "high" => Some(Self::High),
            _ => None,
        }
    }

    pub fn as_str(self) -> &'static str {
        match self {
            Self::None => "none",
            Self::Low => "low",
            Self::Medium => "medium",
            Self::High => "high",
        }
    }
}

/// A user's task as stored.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, sqlx::FromRow)]
pub struct Task {
    pub id: i32,
    pub user_id: Uuid,
    pub title: String,
    pub description: Option<String>,
    pub completed: bool,
    pub completed_at: Option<DateTime<Utc>>,
    pub due_at: Option<DateTime<Utc>>,
    pub due_has_time: bool,
    pub priority: Priority,
    pub tags: Vec<String>,
    /// RRULE text (`FREQ=WEEKLY;BYDAY=MO`).
    pub repeat: Option<String>,
    pub created_at: DateTime<Utc>,
    pub updated_at: DateTime<Utc>,
}

impl Task {
    pub fn due(&self) -> Option<Due> {
        self.due_at.map(|at| Due {
            at,
            has_time: self.due_has_time,
        })
    }

    pub fn repeat_rule(&self) -> Option<Repeat> {
        self.repeat
            .as_deref()
            .and_then(|r| Repeat::parse_rrule(r).ok())
    }

    pub fn is_overdue(&self, clock: &Clock) -> bool {
        !self.completed && self.due().is_some_and(|d| d.is_overdue(clock))
    }
}

/// A task as clients see it: the stored fields plus what the user's clock makes of them.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, utoipa::ToSchema)]
pub struct TaskView {
    /// Per-user task number (the user's first task is 1).
    pub id: i32,
    pub user_id: Uuid,
    pub title: String,
    pub description: Option<String>,
    pub completed: bool,
    pub completed_at: Option<DateTime<Utc>>,
    /// When the task is due (UTC). For an all-day task, the local midnight that starts the day.
    pub due_at: Option<DateTime<Utc>>,
    /// False for an all-day due date (shown without a time).
    pub due_has_time: bool,
    /// The due date in the user's timezone (`YYYY-MM-DD`).
    #[schema(value_type = Option<String>, format = Date)]
    pub due_date: Option<NaiveDate>,
    /// The due date as a person reads it in the user's timezone ("Fri 5 Dec, 17:00").
    pub due_text: Option<String>,
    pub priority: Priority,
    pub tags: Vec<String>,
    /// RFC 5545 recurrence rule (`FREQ=WEEKLY;BYDAY=MO`), or null.
    pub repeat: Option<String>,
    /// The rule in words ("every Monday").
    pub repeat_text: Option<String>,
    /// Pending and past its due date (an all-day task once its day has ended).
    pub overdue: bool,
    pub created_at: DateTime<Utc>,
    pub updated_at: DateTime<Utc>,
}

impl TaskView {
    pub fn new(task: Task, clock: &Clock) -> Self {
        let overdue = task.is_overdue(clock);
        let due_text = task
            .due_at
            .map(|at| when::format_due(at, task.due_has_time, clock));
        let due_date = task.due().map(|d| d.local_date(clock.tz));
        let repeat_text = task.repeat_rule().map(|r| r.describe());
        Self {
            id: task.id,
            user_id: task.user_id,
            title: task.title,
            description: task.description,
            completed: task.completed,
            completed_at: task.completed_at,
            due_at: task.due_at,
            due_has_time: task.due_has_time,
            due_date,
            due_text,
            priority: task.priority,
            tags: task.tags,
            repeat: task.repeat,
            repeat_text,
            overdue,
            created_at: task.created_at,
            updated_at: task.updated_at,
        }
    }
}

/// Which tasks a listing returns.
#[derive(
    Debug,
    Clone,
    Copy,
    Default,
    PartialEq,
    Eq,
    Serialize,
    Deserialize,
    utoipa::ToSchema,
    schemars::JsonSchema,
)]
#[serde(rename_all = "lowercase")]
pub enum StatusFilter {
    #[default]
    All,
    Pending,
    Completed,
}

impl StatusFilter {
    pub fn parse(s: &str) -> Option<Self> {
        match s.trim().to_ascii_lowercase().as_str() {
            "all" | "" => Some(Self::All),
            "pending" | "open" | "incomplete" | "todo" => Some(Self::Pending),
            "completed" | "complete" | "done" | "finished" => Some(Self::Completed),
            _ => None,
        }
    }

    fn completed(self) -> Option<bool> {
        match self {
            Self::All => None,
            Self::Pending => Some(false),
            Self::Completed => Some(true),
        }
    }
}

/// Tasks by when they are due, in the user's timezone.
#[derive(
    Debug,
    Clone,
    Copy,
    PartialEq,
    Eq,
    Serialize,
    Deserialize,
    utoipa::ToSchema,
    schemars::JsonSchema,
)]
#[serde(rename_all = "lowercase")]
pub enum DueFilter {
    /// Pending and past due.
    Overdue,
    /// Due today.
    Today,
    /// Due tomorrow.
    Tomorrow,
    /// Due from today to the end of Sunday.
    Week,
    /// No due date.
    None,
}

impl DueFilter {
    pub fn parse(s: &str) -> Option<Self> {
        match s.trim().to_ascii_lowercase().as_str() {
            "overdue" => Some(Self::Overdue),
            "today" => Some(Self::Today),
            "tomorrow" => Some(Self::Tomorrow),
            "week" => Some(Self::Week),
            "none" => Some(Self::None),
            _ => None,
        }
    }

    fn as_str(self) -> &'static str {
        match self {
            Self::Overdue => "overdue",
            Self::Today => "today",
            Self::Tomorrow => "tomorrow",
            Self::Week => "week",
            Self::None => "none",
        }
    }
}

/// Listing order.
#[derive(
    Debug,
    Clone,
    Copy,
    Default,
    PartialEq,
    Eq,
    Serialize,
    Deserialize,
    utoipa::ToSchema,
    schemars::JsonSchema,
)]
#[serde(rename_all = "lowercase")]
pub enum Sort {
    /// Newest first.
    #[default]
    Created,
    /// Soonest due first; tasks without a due date last.
    Due,
    /// Highest priority first, then soonest due.
    Priority,
    /// Oldest first: the order they were added in.
    Oldest,
}

impl Sort {
    pub fn parse(s: &str) -> Option<Self> {
        match s.trim().to_ascii_lowercase().as_str() {
            "created" => Some(Self::Created),
            "due" => Some(Self::Due),
            "priority" => Some(Self::Priority),
            "oldest" => Some(Self::Oldest),
            _ => None,
        }
    }
}

/// A rejected input field, with a stable code for clients.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("{message}")]
pub struct ValidationError {
    pub code: &'static str,
    pub field: &'static str,
    pub message: String,
}

impl ValidationError {
    pub fn new(code: &'static str, field: &'static str, message: impl Into<String>) -> Self {
        Self {
            code,
            field,
            message: message.into(),
        }
    }
}

/// Trims and checks a title: 1–200 characters, no control characters.
pub fn validate_title(raw: &str) -> Result<String, ValidationError> {
    let title = raw.trim();
    if title.is_empty() {
        return Err(ValidationError::new(
            "title_required",
            "title",
            "title must not be empty",
        ));
    }
    if title.chars().count() > TITLE_MAX_CHARS {
        return Err(ValidationError::new(
            "title_too_long",
            "title",
            format!("title must be at most {TITLE_MAX_CHARS} characters"),
        ));
    }
    if title.chars().any(char::is_control) {
        return Err(ValidationError::new(
            "title_invalid",
            "title",
            "title must not contain control characters",
        ));
    }
    Ok(title.to_owned())
}

/// Trims and checks a description: at most 1000 characters; blank becomes `None`.
pub fn validate_description(raw: Option<&str>) -> Result<Option<String>, ValidationError> {
    let Some(d) = raw.map(str::trim) else {
        return Ok(None);
    };
    if d.is_empty() {
        return Ok(None);
    }
    if d.chars().count() > DESCRIPTION_MAX_CHARS {
        return Err(ValidationError::new(
            "description_too_long",
            "description",
            format!("description must be at most {DESCRIPTION_MAX_CHARS} characters"),
        ));
    }
    if d.contains('\0') {
        return Err(ValidationError::new(
            "description_invalid",
            "description",
            "description must not contain NUL characters",
        ));
    }
    Ok(Some(d.to_owned()))
}

/// Normalizes one tag: trimmed, a leading `#` dropped, lower-cased; 1–32 letters, digits, `-`, `_`.
pub fn normalize_tag(raw: &str) -> Result<String, ValidationError> {
    let tag = raw.trim().trim_start_matches('#').to_lowercase();
    if tag.is_empty() || tag.chars().count() > TAG_MAX_CHARS {
        return Err(ValidationError::new(
            "invalid_tag",
            "tags",
            format!("a tag has 1 to {TAG_MAX_CHARS} characters"),
        ));
    }
    if !tag
        .chars()
        .all(|c| c.is_alphanumeric() || c == '-' || c == '_')
    {
        return Err(ValidationError::new(
            "invalid_tag",
            "tags",
            format!("tag {raw:?} may only contain letters, digits, '-' and '_'"),
        ));
    }
    Ok(tag)
}

/// Normalizes a task's tags: each by [`normalize_tag`], duplicates dropped, at most 10.
pub fn validate_tags<S: AsRef<str>>(raw: &[S]) -> Result<Vec<String>, ValidationError> {
    let mut tags: Vec<String> = Vec::with_capacity(raw.len());
    for t in raw {
        let tag = normalize_tag(t.as_ref())?;
        if !tags.contains(&tag) {
            tags.push(tag);
        }
    }
    if tags.len() > TAGS_MAX {
        return Err(ValidationError::new(
            "too_many_tags",
            "tags",
            format!("a task has at most {TAGS_MAX} tags"),
        ));
    }
    Ok(tags)
}

/// Reads a due date (ISO or a phrase) in the user's timezone, as a validation error on `field`.
pub fn validate_due(raw: &str, clock: &Clock, field: &'static str) -> Result<Due, ValidationError> {
    when::parse_due(raw, clock).map_err(|e| ValidationError::new("invalid_due", field, e.0))
}

/// Reads a repeat (RRULE text or a phrase such as "every monday").
pub fn validate_repeat(raw: &str) -> Result<when::repeat::RepeatPhrase, ValidationError> {
    when::repeat::parse_repeat(raw)
        .map_err(|e| ValidationError::new("invalid_repeat", "repeat", e.0))
}

/// The due date a repeating task starts with when none was given: its first occurrence from
/// today (at the time the repeat names, if any).
pub fn first_due(repeat: &when::repeat::RepeatPhrase, clock: &Clock) -> Option<Due> {
    let today = clock.today();
    let start = when::LocalDue {
        date: today,
        time: repeat.time,
    }
    .resolve(clock.tz)
    .at
    .with_timezone(&clock.tz);
    let first = repeat.repeat.first_on_or_after(start)?;
    // A time of day that has already passed today starts tomorrow.
    let first = if repeat.time.is_some() && first.with_timezone(&Utc) < clock.now {
        repeat
            .repeat
            .next_after(first, clock.now.with_timezone(&clock.tz))?
    } else {
        first
    };
    Some(Due {
        at: first.with_timezone(&Utc),
        has_time: repeat.time.is_some(),
    })
}

/// A due date that keeps a repeat's time of day: "every morning at 8" with due "friday" is Friday 08:00.
pub fn due_with_repeat_time(due: Due, repeat: &when::repeat::RepeatPhrase, clock: &Clock) -> Due {
    match repeat.time {
        Some(t) if !due.has_time => {
            when::LocalDue::at(due.local_date(clock.tz), t).resolve(clock.tz)
        }
        _ => due,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn title_is_trimmed_and_bounded() {
        assert_eq!(validate_title("  buy milk \n").as_deref(), Ok("buy milk"));
        assert_eq!(
            validate_title("   ").map_err(|e| e.code),
            Err("title_required")
        );
        assert!(validate_title(&"é".repeat(200)).is_ok());
        assert_eq!(
            validate_title(&"a".repeat(201)).map_err(|e| e.code),
            Err("title_too_long")
        );
        assert_eq!(
            validate_title("a\0b").map_err(|e| e.code),
            Err("title_invalid")
        );
    }

    #[test]
    fn description_blank_is_none_and_bounded() {
        assert_eq!(validate_description(Some("  ")), Ok(None));
        assert_eq!(validate_description(None), Ok(None));
        assert!(validate_description(Some(&"x".repeat(1000))).is_ok());
        assert_eq!(
            validate_description(Some(&"x".repeat(1001))).map_err(|e| e.code),
            Err("description_too_long")
        );
    }

    #[test]
    fn tags_are_normalized_deduplicated_and_bounded() {
        assert_eq!(
            validate_tags(&["#Work", "work", " home "]),
            Ok(vec!["work".to_owned(), "home".to_owned()])
        );
        assert_eq!(
            validate_tags(&["two words"]).map_err(|e| e.code),
            Err("invalid_tag")
        );
        assert_eq!(
            validate_tags(&["a".repeat(33)]).map_err(|e| e.code),
            Err("invalid_tag")
        );
        let eleven: Vec<String> = (0..11).map(|i| format!("t{i}")).collect();
        assert_eq!(
            validate_tags(&eleven).map_err(|e| e.code),
            Err("too_many_tags")
        );
        assert!(validate_tags(&["deep-work", "q4_2026"]).is_ok());
    }

    #[test]
    fn filters_parse_their_values() {
        assert_eq!(StatusFilter::parse("Pending"), Some(StatusFilter::Pending));
        assert_eq!(StatusFilter::parse("done"), Some(StatusFilter::Completed));
        assert_eq!(StatusFilter::parse("bogus"), None);
        assert_eq!(DueFilter::parse("overdue"), Some(DueFilter::Overdue));
        assert_eq!(DueFilter::parse("later"), None);
        assert_eq!(Priority::parse("HIGH"), Some(Priority::High));
        assert!(Priority::High > Priority::Medium);
        assert_eq!(Sort::parse("due"), Some(Sort::Due));
    }
}
