//! Tasks: the domain type, input validation and the SQL both the REST API and the agent's tools run.
//!
//! Task ids are small per-user numbers (1, 2, 3 …) handed out from `users.task_seq`, so "task 3" always
//! means the caller's own task 3. Every statement is scoped by `user_id`: another user's task and a
//! missing task are indistinguishable.

use chrono::{DateTime, Utc};
use serde::{Deserialize, Serialize};
use sqlx::PgConnection;
use uuid::Uuid;

pub const TITLE_MAX_CHARS: usize = 200;
pub const DESCRIPTION_MAX_CHARS: usize = 1000;

/// A user's task as clients see it.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, sqlx::FromRow, utoipa::ToSchema)]
pub struct Task {
    /// Per-user task number (the user's first task is 1).
    pub id: i32,
    pub user_id: Uuid,
    pub title: String,
    pub description: Option<String>,
    pub completed: bool,
    pub created_at: DateTime<Utc>,
    pub updated_at: DateTime<Utc>,
}

/// Which tasks a listing returns.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Serialize, Deserialize, utoipa::ToSchema)]
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

/// Trims and checks a title: 1–200 characters.
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
    if title.chars().any(|c| c.is_control()) {
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

/// A change to a task; `None` leaves a field as it is, `Some(None)` clears the description.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct TaskChanges {
    pub title: Option<String>,
    pub description: Option<Option<String>>,
    pub completed: Option<bool>,
}

macro_rules! task_columns {
    () => {
        "id, user_id, title, description, completed, created_at, updated_at"
    };
}

/// Creates a task with the user's next task number. Returns `None` when the user does not exist.
pub async fn create(
    conn: &mut PgConnection,
    user_id: Uuid,
    title: &str,
    description: Option<&str>,
) -> sqlx::Result<Option<Task>> {
    sqlx::query_as::<_, Task>(concat!(
        "with seq as (
             update users set task_seq = task_seq + 1 where id = $1 returning task_seq
         )
         insert into tasks (user_id, id, title, description)
         select $1, task_seq, $2, $3 from seq
         returning ",
        task_columns!()
    ))
    .bind(user_id)
    .bind(title)
    .bind(description)
    .fetch_optional(conn)
    .await
}

/// The user's tasks, newest first.
pub async fn list(
    conn: &mut PgConnection,
    user_id: Uuid,
    filter: StatusFilter,
) -> sqlx::Result<Vec<Task>> {
    sqlx::query_as::<_, Task>(concat!(
        "select ",
        task_columns!(),
        " from tasks
         where user_id = $1 and ($2::boolean is null or completed = $2)
         order by created_at desc, id desc"
    ))
    .bind(user_id)
    .bind(filter.completed())
    .fetch_all(conn)
    .await
}

pub async fn get(conn: &mut PgConnection, user_id: Uuid, id: i32) -> sqlx::Result<Option<Task>> {
    sqlx::query_as::<_, Task>(concat!(
        "select ",
        task_columns!(),
        " from tasks where user_id = $1 and id = $2"
    ))
    .bind(user_id)
    .bind(id)
    .fetch_optional(conn)
    .await
}

/// Applies `changes`; `None` when the task does not exist for this user.
pub async fn update(
    conn: &mut PgConnection,
    user_id: Uuid,
    id: i32,
    changes: &TaskChanges,
) -> sqlx::Result<Option<Task>> {
    let (set_description, description) = match &changes.description {
        None => (false, None),
        Some(d) => (true, d.as_deref()),
    };
    sqlx::query_as::<_, Task>(concat!(
        "update tasks set
             title = coalesce($3, title),
             description = case when $4 then $5 else description end,
             completed = coalesce($6, completed)
         where user_id = $1 and id = $2
         returning ",
        task_columns!()
    ))
    .bind(user_id)
    .bind(id)
    .bind(changes.title.as_deref())
    .bind(set_description)
    .bind(description)
    .bind(changes.completed)
    .fetch_optional(conn)
    .await
}

/// Deletes a task; returns it, or `None` when it does not exist for this user.
pub async fn delete(conn: &mut PgConnection, user_id: Uuid, id: i32) -> sqlx::Result<Option<Task>> {
    sqlx::query_as::<_, Task>(concat!(
        "delete from tasks where user_id = $1 and id = $2 returning ",
        task_columns!()
    ))
    .bind(user_id)
    .bind(id)
    .fetch_optional(conn)
    .await
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
    fn status_filter_parses_synonyms() {
        assert_eq!(StatusFilter::parse("Pending"), Some(StatusFilter::Pending));
        assert_eq!(StatusFilter::parse("done"), Some(StatusFilter::Completed));
        assert_eq!(StatusFilter::parse("bogus"), None);
    }
}
