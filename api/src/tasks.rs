//! Task REST API under `/api/{user_id}/tasks`. Thin handlers over [`todo_common::tasks`]: each
//! change runs in a transaction with its history entry; dates are read and shown in the user's
//! timezone.

use axum::extract::{OriginalUri, Path, RawQuery, State};
use axum::http::{HeaderMap, HeaderValue, StatusCode, header};
use chrono::{DateTime, Utc};
use serde::Deserialize;
use sqlx::PgConnection;
use todo_common::tasks::{
    self, Actor, DueFilter, HistoryEntry, LIST_LIMIT_DEFAULT, LIST_LIMIT_MAX, ListFilter, NewTask,
    Priority, Sort, StatusFilter, TaskChanges, TaskView, store, validate_description,
    validate_tags, validate_title,
};
use todo_common::when::{self, Clock, Due};
use utoipa::{IntoParams, ToSchema};
use utoipa_axum::{router::OpenApiRouter, routes};
use uuid::Uuid;

use crate::auth::AuthUser;
use crate::error::{ApiError, ApiJson, ErrorBody, Result};
use crate::state::AppState;

pub fn router() -> OpenApiRouter<AppState> {
    OpenApiRouter::new()
        .routes(routes!(list_tasks, create_task))
        .routes(routes!(get_task, update_task, delete_task))
        .routes(routes!(complete_task))
        .routes(routes!(uncomplete_task))
        .routes(routes!(task_history))
}

/// Filters of `GET /api/{user_id}/tasks` (documentation; the handler reads the raw query so that
/// `tag` can repeat).
#[derive(Deserialize, IntoParams)]
#[into_params(parameter_in = Query)]
pub struct ListParams {
    /// `all` (default), `pending` or `completed`.
    pub status: Option<String>,
    /// `overdue`, `today`, `tomorrow`, `week` (today to the end of Sunday) or `none` (no due date),
    /// in the user's timezone.
    pub due: Option<String>,
    /// Only tasks due before this instant (RFC 3339).
    pub due_before: Option<String>,
    /// Only tasks due after this instant (RFC 3339).
    pub due_after: Option<String>,
    /// At least this priority: `low`, `medium` or `high`.
    pub priority: Option<String>,
    /// Exactly this priority: `none`, `low`, `medium` or `high`.
    pub priority_is: Option<String>,
    /// At most this priority: `none`, `low`, `medium` or `high` (`medium`: everything but high).
    pub priority_at_most: Option<String>,
    /// A tag the task must have; repeat for several (all must match).
    pub tag: Option<Vec<String>>,
    /// Tasks with at least one of these tags; repeat for several (`any_tag=home&any_tag=work`).
    pub any_tag: Option<Vec<String>>,
    /// Leave out tasks with this tag; repeat for several.
    pub not_tag: Option<Vec<String>>,
    /// Case-insensitive text in the title or description (`%` and `_` match themselves).
    pub q: Option<String>,
    /// `true`: only repeating tasks; `false`: only one-off tasks.
    pub repeating: Option<bool>,
    /// `true`: only tasks with at least one tag; `false`: only tasks with none.
    pub tagged: Option<bool>,
    /// `created` (newest first, default), `oldest` (oldest first), `due` (soonest first, undated
    /// last) or `priority`.
    pub sort: Option<String>,
    /// Page size, 1–200 (default 100). A `Link: <…>; rel="next"` header points to the next page.
    pub limit: Option<u32>,
    /// Where the page starts: from the `Link` header of the previous page.
    pub cursor: Option<String>,
}

/// Unknown members are refused, not ignored: a misspelt `due` would otherwise create a task
/// without its date.
#[derive(Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct CreateTask {
    /// 1–200 characters after trimming.
    pub title: String,
    /// At most 1000 characters.
    pub description: Option<String>,
    /// RFC 3339 (`2026-12-05T17:00:00Z`), a local date and time in the user's timezone
    /// (`2026-12-05T17:00`), or a date (`2026-12-05`) for an all-day task.
    pub due_at: Option<String>,
    /// `none` (default), `low`, `medium` or `high`.
    pub priority: Option<Priority>,
    /// Up to 10 tags: 1–32 letters, digits, `-` or `_` (lower-cased, a leading `#` dropped).
    pub tags: Option<Vec<String>>,
    /// RFC 5545 rule in the supported subset (`FREQ=WEEKLY;BYDAY=MO`; FREQ, INTERVAL, BYDAY,
    /// BYMONTHDAY; `FREQ=MONTHLY;BYDAY=-1FR` the last Friday of each month) or a phrase (`every
    /// monday`, `the first monday of every month`). Without `due_at` the task is due at its first
    /// occurrence.
    pub repeat: Option<String>,
}

#[derive(Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct UpdateTask {
    /// New title (1–200 characters after trimming); omitted keeps the current one.
    pub title: Option<String>,
    /// New description; `null` or `""` clears it, omitted keeps it.
    #[serde(default, deserialize_with = "todo_common::tools::double_option")]
    #[schema(value_type = Option<String>)]
    pub description: Option<Option<String>>,
    /// New completion state; `true` completes it as `PATCH …/complete` does.
    pub completed: Option<bool>,
    /// New due date (as for create); `null` clears it.
    #[serde(default, deserialize_with = "todo_common::tools::double_option")]
    #[schema(value_type = Option<String>)]
    pub due_at: Option<Option<String>>,
    pub priority: Option<Priority>,
    /// Replaces the tags.
    pub tags: Option<Vec<String>>,
    /// New repeat rule (as for create); `null` stops it repeating.
    #[serde(default, deserialize_with = "todo_common::tools::double_option")]
    #[schema(value_type = Option<String>)]
    pub repeat: Option<Option<String>>,
}

fn task_id(raw: &str) -> Result<i32> {
    raw.parse::<i32>()
        .ok()
        .filter(|id| *id > 0)
        .ok_or(ApiError::NotFound)
}

/// Tells the user's open sockets (on every instance) about a committed change.
async fn announce(state: &AppState, user_id: Uuid, changed: &[i32], deleted: &[i32]) {
    let mut notice = todo_common::protocol::TasksChangedNotice::new(user_id);
    notice.changed.extend_from_slice(changed);
    notice.deleted.extend_from_slice(deleted);
    state.tasks_feed.announce(&notice).await;
}

async fn clock_of(conn: &mut PgConnection, user_id: Uuid) -> Result<Clock> {
    store::user_clock(conn, user_id)
        .await?
        .ok_or(ApiError::Unauthorized)
}

/// A due date from the REST API: ISO forms only (phrases are for the chat).
fn parse_due(raw: &str, clock: &Clock) -> Result<Due> {
    when::parse_iso_due(raw, clock).ok_or_else(|| {
        ApiError::validation(
            "invalid_due_at",
            "due_at",
            "due_at must be RFC 3339 (2026-12-05T17:00:00Z), a local date and time (2026-12-05T17:00) or a date (2026-12-05)",
        )
    })
}

fn invalid(param: &'static str, message: String) -> ApiError {
    ApiError::validation("invalid_parameter", param, message)
}

fn instant(param: &'static str, raw: &str) -> Result<DateTime<Utc>> {
    DateTime::parse_from_rfc3339(raw.trim())
        .map(|t| t.with_timezone(&Utc))
        .map_err(|_| invalid(param, format!("{param} must be an RFC 3339 date and time")))
}

fn boolean(param: &'static str, raw: &str) -> Result<bool> {
    match raw.trim() {
        "true" => Ok(true),
        "false" => Ok(false),
        _ => Err(invalid(param, format!("{param} must be true or false"))),
    }
}

/// Reads the listing's query string; a bad value is a 422 naming the parameter.
fn list_filter(query: Option<&str>) -> Result<ListFilter> {
    let mut filter = ListFilter::default();
    let pairs: Vec<(String, String)> =
        url::form_urlencoded::parse(query.unwrap_or_default().as_bytes())
            .into_owned()
            .collect();
    let mut cursor = None;
    let (mut exactly, mut at_most) = (None, None);
    let any_priority = |param: &'static str, value: &str| {
        Priority::parse(value).ok_or_else(|| {
            invalid(
                param,
                format!("{param} must be one of none, low, medium, high"),
            )
        })
    };
    for (key, value) in &pairs {
        match key.as_str() {
            "status" => {
                filter.status = StatusFilter::parse(value).ok_or_else(|| {
                    ApiError::validation(
                        "invalid_status",
                        "status",
                        "status must be one of all, pending, completed",
                    )
                })?;
            }
            "due" => {
                filter.due = Some(DueFilter::parse(value).ok_or_else(|| {
                    invalid(
                        "due",
                        "due must be one of overdue, today, tomorrow, week, none".into(),
                    )
                })?);
            }
            "due_before" => filter.due_before = Some(instant("due_before", value)?),
            "due_after" => filter.due_after = Some(instant("due_after", value)?),
            "priority" => {
                filter.min_priority = Some(
                    Priority::parse(value)
                        .filter(|p| *p != Priority::None)
                        .ok_or_else(|| {
                            invalid(
                                "priority",
                                "priority must be one of low, medium, high".into(),
                            )
                        })?,
                );
            }
            "priority_is" => exactly = Some(any_priority("priority_is", value)?),
            "priority_at_most" => at_most = Some(any_priority("priority_at_most", value)?),
            "tag" => filter
                .tags
                .push(tasks::normalize_tag(value).map_err(|e| invalid("tag", e.message))?),
            "any_tag" => filter
                .any_tags
                .push(tasks::normalize_tag(value).map_err(|e| invalid("any_tag", e.message))?),
            "not_tag" => filter
                .not_tags
                .push(tasks::normalize_tag(value).map_err(|e| invalid("not_tag", e.message))?),
            "q" => {
                let q = value.trim();
                if q.chars().count() > 200 || q.contains('\0') {
                    return Err(invalid(
                        "q",
                        "q must be at most 200 characters of text".into(),
                    ));
                }
                filter.text = (!q.is_empty()).then(|| q.to_owned());
            }
            "repeating" => filter.repeating = Some(boolean("repeating", value)?),
            "tagged" => filter.tagged = Some(boolean("tagged", value)?),
            "sort" => {
                filter.sort = Sort::parse(value).ok_or_else(|| {
                    invalid(
                        "sort",
                        "sort must be one of created, oldest, due, priority".into(),
                    )
                })?;
            }
            "limit" => {
                filter.limit = Some(
                    value
                        .trim()
                        .parse::<u32>()
                        .ok()
                        .filter(|n| (1..=LIST_LIMIT_MAX).contains(n))
                        .ok_or_else(|| {
                            invalid(
                                "limit",
                                format!("limit must be a whole number from 1 to {LIST_LIMIT_MAX}"),
                            )
                        })?,
                );
            }
            "cursor" => cursor = Some(value.clone()),
            _ => {}
        }
    }
    // "exactly" raises the floor and sets the ceiling; with "at most", the lower ceiling counts
    filter.min_priority = filter
        .min_priority
        .max(exactly)
        .filter(|p| *p > Priority::None);
    filter.max_priority = match (exactly, at_most) {
        (Some(a), Some(b)) => Some(a.min(b)),
        (a, b) => a.or(b),
    };
    if let Some(raw) = cursor {
        filter.cursor = Some(store::Cursor::decode(&raw, filter.sort).ok_or_else(|| {
            invalid(
                "cursor",
                "cursor is not one this listing handed out (for this sort)".into(),
            )
        })?);
    }
    filter.limit = filter.limit.or(Some(LIST_LIMIT_DEFAULT));
    Ok(filter)
}

/// The listing's URL with `cursor` set to the next page's.
fn next_link(uri: &axum::http::Uri, cursor: &str) -> String {
    let kept = url::form_urlencoded::parse(uri.query().unwrap_or_default().as_bytes())
        .filter(|(k, _)| k != "cursor");
    let query = url::form_urlencoded::Serializer::new(String::new())
        .extend_pairs(kept)
        .append_pair("cursor", cursor)
        .finish();
    format!("<{}?{query}>; rel=\"next\"", uri.path())
}

/// List the user's tasks: filters, order and pages.
#[utoipa::path(get, path = "/api/{user_id}/tasks", tag = "tasks", security(("bearer" = [])),
    params(("user_id" = String, Path, description = "The authenticated user's id"), ListParams),
    responses(
        (status = 200, description = "One page of tasks; a `Link: <…>; rel=\"next\"` header when there are more", body = Vec<TaskView>),
        (status = 401, description = "Missing or invalid token", body = ErrorBody),
        (status = 404, description = "Not this user's path", body = ErrorBody),
        (status = 422, description = "A bad filter value (`invalid_status`, `invalid_parameter`, naming the parameter)", body = ErrorBody),
    ))]
async fn list_tasks(
    State(state): State<AppState>,
    auth: AuthUser,
    Path(user_id): Path<String>,
    OriginalUri(uri): OriginalUri,
    RawQuery(query): RawQuery,
) -> Result<(HeaderMap, ApiJson<Vec<TaskView>>)> {
    let user_id = auth.owner(&user_id)?;
    let filter = list_filter(query.as_deref())?;
    let mut conn = state.db.acquire().await?;
    let clock = clock_of(&mut conn, user_id).await?;
    let page = store::list(&mut conn, user_id, &filter, &clock).await?;
    let mut headers = HeaderMap::new();
    if let Some(next) = page.next
        && let Ok(value) = HeaderValue::from_str(&next_link(&uri, &next.encode()))
    {
        headers.insert(header::LINK, value);
    }
    let views = page
        .tasks
        .into_iter()
        .map(|t| TaskView::new(t, &clock))
        .collect();
    Ok((headers, ApiJson(views)))
}

fn repeat_of(raw: Option<&str>) -> Result<Option<when::repeat::RepeatPhrase>> {
    Ok(raw
        .filter(|r| !r.trim().is_empty())
        .map(tasks::validate_repeat)
        .transpose()?)
}

/// Create a task.
#[utoipa::path(post, path = "/api/{user_id}/tasks", tag = "tasks", security(("bearer" = [])),
    params(("user_id" = String, Path, description = "The authenticated user's id")),
    request_body = CreateTask,
    responses(
        (status = 201, description = "Created", body = TaskView),
        (status = 400, description = "Malformed JSON", body = ErrorBody),
        (status = 401, description = "Missing or invalid token", body = ErrorBody),
        (status = 404, description = "Not this user's path", body = ErrorBody),
        (status = 409, description = "The user has MAX_TASKS_PER_USER tasks already (`task_limit_reached`)", body = ErrorBody),
        (status = 413, description = "Body too large", body = ErrorBody),
        (status = 422, description = "Invalid title, description, due_at, tags or repeat", body = ErrorBody),
    ))]
async fn create_task(
    State(state): State<AppState>,
    auth: AuthUser,
    Path(user_id): Path<String>,
    ApiJson(body): ApiJson<CreateTask>,
) -> Result<(StatusCode, ApiJson<TaskView>)> {
    let user_id = auth.owner(&user_id)?;
    let title = validate_title(&body.title)?;
    let description = validate_description(body.description.as_deref())?;
    let tags = validate_tags(body.tags.as_deref().unwrap_or_default())?;
    let repeat = repeat_of(body.repeat.as_deref())?;
    let mut tx = state.db.begin().await?;
    let clock = clock_of(&mut tx, user_id).await?;
    let mut due = body
        .due_at
        .as_deref()
        .map(|d| parse_due(d, &clock))
        .transpose()?;
    if let Some(r) = &repeat {
        due = match due {
            Some(d) => Some(tasks::due_with_repeat_time(d, r, &clock)),
            None => tasks::first_due(r, &clock),
        };
    }
    let new = NewTask {
        title,
        description,
        due,
        priority: body.priority.unwrap_or_default(),
        tags,
        repeat: repeat.map(|r| r.repeat),
    };
    let max = state.config.limits.max_tasks_per_user;
    let task = match store::create(&mut tx, user_id, &new, &Actor::rest(), max).await? {
        tasks::Created::Task(task) => task,
        tasks::Created::LimitReached(max) => {
            return Err(ApiError::Conflict {
                code: "task_limit_reached",
                message: format!(
                    "you already have {max} tasks, the most allowed: delete some first"
                ),
            });
        }
        tasks::Created::UserMissing => return Err(ApiError::Unauthorized),
    };
    tx.commit().await?;
    announce(&state, user_id, &[task.id], &[]).await;
    Ok((StatusCode::CREATED, ApiJson(TaskView::new(task, &clock))))
}

/// Get one task.
#[utoipa::path(get, path = "/api/{user_id}/tasks/{task_id}", tag = "tasks", security(("bearer" = [])),
    params(("user_id" = String, Path), ("task_id" = i32, Path, description = "Per-user task number")),
    responses(
        (status = 200, description = "The task", body = TaskView),
        (status = 401, description = "Missing or invalid token", body = ErrorBody),
        (status = 404, description = "No such task for this user", body = ErrorBody),
    ))]
async fn get_task(
    State(state): State<AppState>,
    auth: AuthUser,
    Path((user_id, task_id_raw)): Path<(String, String)>,
) -> Result<ApiJson<TaskView>> {
    let user_id = auth.owner(&user_id)?;
    let id = task_id(&task_id_raw)?;
    let mut conn = state.db.acquire().await?;
    let clock = clock_of(&mut conn, user_id).await?;
    store::get(&mut conn, user_id, id)
        .await?
        .map(|t| ApiJson(TaskView::new(t, &clock)))
        .ok_or(ApiError::NotFound)
}

/// Update a task: any field; `null` clears description, due date and repeat.
#[utoipa::path(method(put, patch), path = "/api/{user_id}/tasks/{task_id}", tag = "tasks", security(("bearer" = [])),
    params(("user_id" = String, Path), ("task_id" = i32, Path)),
    request_body = UpdateTask,
    responses(
        (status = 200, description = "Updated", body = TaskView),
        (status = 400, description = "Malformed JSON", body = ErrorBody),
        (status = 401, description = "Missing or invalid token", body = ErrorBody),
        (status = 404, description = "No such task for this user", body = ErrorBody),
        (status = 413, description = "Body too large", body = ErrorBody),
        (status = 422, description = "Invalid fields", body = ErrorBody),
    ))]
async fn update_task(
    State(state): State<AppState>,
    auth: AuthUser,
    Path((user_id, task_id_raw)): Path<(String, String)>,
    ApiJson(body): ApiJson<UpdateTask>,
) -> Result<ApiJson<TaskView>> {
    let user_id = auth.owner(&user_id)?;
    let id = task_id(&task_id_raw)?;
    let title = body.title.as_deref().map(validate_title).transpose()?;
    let description = match body.description {
        None => None,
        Some(d) => Some(validate_description(d.as_deref())?),
    };
    let tags = body.tags.as_deref().map(validate_tags).transpose()?;
    let repeat = match &body.repeat {
        None => None,
        Some(r) => Some(repeat_of(r.as_deref())?),
    };
    let mut tx = state.db.begin().await?;
    let clock = clock_of(&mut tx, user_id).await?;
    let due = match &body.due_at {
        None => None,
        Some(None) => Some(None),
        Some(Some(d)) if d.trim().is_empty() => Some(None),
        Some(Some(d)) => Some(Some(parse_due(d, &clock)?)),
    };
    let changes = TaskChanges {
        title,
        description,
        due,
        priority: body.priority,
        tags,
        repeat: repeat.map(|r| r.map(|r| r.repeat)),
        completed: body.completed.filter(|c| !c),
    };
    let actor = Actor::rest();
    let mut task = store::update(&mut tx, user_id, id, &changes, &actor, &clock)
        .await?
        .ok_or(ApiError::NotFound)?;
    if body.completed == Some(true) {
        task = store::complete(&mut tx, user_id, id, &actor, &clock)
            .await?
            .ok_or(ApiError::NotFound)?
            .task;
    }
    tx.commit().await?;
    announce(&state, user_id, &[task.id], &[]).await;
    Ok(ApiJson(TaskView::new(task, &clock)))
}

/// Delete a task.
#[utoipa::path(delete, path = "/api/{user_id}/tasks/{task_id}", tag = "tasks", security(("bearer" = [])),
    params(("user_id" = String, Path), ("task_id" = i32, Path)),
    responses(
        (status = 204, description = "Deleted"),
        (status = 401, description = "Missing or invalid token", body = ErrorBody),
        (status = 404, description = "No such task for this user", body = ErrorBody),
    ))]
async fn delete_task(
    State(state): State<AppState>,
    auth: AuthUser,
    Path((user_id, task_id_raw)): Path<(String, String)>,
) -> Result<StatusCode> {
    let user_id = auth.owner(&user_id)?;
    let id = task_id(&task_id_raw)?;
    let mut tx = state.db.begin().await?;
    store::delete(&mut tx, user_id, id, &Actor::rest())
        .await?
        .ok_or(ApiError::NotFound)?;
    tx.commit().await?;
    announce(&state, user_id, &[], &[id]).await;
    Ok(StatusCode::NO_CONTENT)
}

/// Complete a task (idempotent). A repeating task moves to its next occurrence and stays pending;
/// the completion is recorded in its history.
#[utoipa::path(patch, path = "/api/{user_id}/tasks/{task_id}/complete", tag = "tasks", security(("bearer" = [])),
    params(("user_id" = String, Path), ("task_id" = i32, Path)),
    responses(
        (status = 200, description = "The completed task (or, for a repeating one, its next occurrence)", body = TaskView),
        (status = 401, description = "Missing or invalid token", body = ErrorBody),
        (status = 404, description = "No such task for this user", body = ErrorBody),
    ))]
async fn complete_task(
    State(state): State<AppState>,
    auth: AuthUser,
    Path((user_id, task_id_raw)): Path<(String, String)>,
) -> Result<ApiJson<TaskView>> {
    let user_id = auth.owner(&user_id)?;
    let id = task_id(&task_id_raw)?;
    let mut tx = state.db.begin().await?;
    let clock = clock_of(&mut tx, user_id).await?;
    let done = store::complete(&mut tx, user_id, id, &Actor::rest(), &clock)
        .await?
        .ok_or(ApiError::NotFound)?;
    tx.commit().await?;
    announce(&state, user_id, &[done.task.id], &[]).await;
    Ok(ApiJson(TaskView::new(done.task, &clock)))
}

/// Re-open a completed task (idempotent).
#[utoipa::path(patch, path = "/api/{user_id}/tasks/{task_id}/uncomplete", tag = "tasks", security(("bearer" = [])),
    params(("user_id" = String, Path), ("task_id" = i32, Path)),
    responses(
        (status = 200, description = "The pending task", body = TaskView),
        (status = 401, description = "Missing or invalid token", body = ErrorBody),
        (status = 404, description = "No such task for this user", body = ErrorBody),
    ))]
async fn uncomplete_task(
    State(state): State<AppState>,
    auth: AuthUser,
    Path((user_id, task_id_raw)): Path<(String, String)>,
) -> Result<ApiJson<TaskView>> {
    let user_id = auth.owner(&user_id)?;
    let id = task_id(&task_id_raw)?;
    let mut tx = state.db.begin().await?;
    let clock = clock_of(&mut tx, user_id).await?;
    let changes = TaskChanges {
        completed: Some(false),
        ..TaskChanges::default()
    };
    let task = store::update(&mut tx, user_id, id, &changes, &Actor::rest(), &clock)
        .await?
        .ok_or(ApiError::NotFound)?;
    tx.commit().await?;
    announce(&state, user_id, &[task.id], &[]).await;
    Ok(ApiJson(TaskView::new(task, &clock)))
}

/// A task's history: every change, oldest first, with the task before and after it.
#[utoipa::path(get, path = "/api/{user_id}/tasks/{task_id}/history", tag = "tasks", security(("bearer" = [])),
    params(("user_id" = String, Path), ("task_id" = i32, Path)),
    responses(
        (status = 200, description = "Changes, oldest first (also for a deleted task)", body = Vec<HistoryEntry>),
        (status = 401, description = "Missing or invalid token", body = ErrorBody),
        (status = 404, description = "The user never had such a task", body = ErrorBody),
    ))]
async fn task_history(
    State(state): State<AppState>,
    auth: AuthUser,
    Path((user_id, task_id_raw)): Path<(String, String)>,
) -> Result<ApiJson<Vec<HistoryEntry>>> {
    let user_id = auth.owner(&user_id)?;
    let id = task_id(&task_id_raw)?;
    let mut conn = state.db.acquire().await?;
    let entries = store::history(&mut conn, user_id, id).await?;
    if entries.is_empty() && store::get(&mut conn, user_id, id).await?.is_none() {
        return Err(ApiError::NotFound);
    }
    Ok(ApiJson(entries))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn list_filters_name_the_bad_parameter() {
        let field = |q: &str| match list_filter(Some(q)) {
            Err(ApiError::Validation(v)) => v.field,
            other => panic!(
                "expected a validation error for {q}, got {:?}",
                other.map(|_| ())
            ),
        };
        assert_eq!(field("due=someday"), "due");
        assert_eq!(field("priority=urgent"), "priority");
        assert_eq!(field("priority_is=urgent"), "priority_is");
        assert_eq!(field("priority_at_most=top"), "priority_at_most");
        assert_eq!(field("limit=0"), "limit");
        assert_eq!(field("limit=201"), "limit");
        assert_eq!(field("sort=alpha"), "sort");
        assert_eq!(field("due_before=tomorrow"), "due_before");
        assert_eq!(field("tag=two%20words"), "tag");
        assert_eq!(field("cursor=abc"), "cursor");
        let ok = list_filter(Some("tag=work&tag=%23Home&q=50%25&sort=due&limit=5")).expect("valid");
        assert_eq!(ok.tags, vec!["work", "home"]);
        assert_eq!(ok.text.as_deref(), Some("50%"));
        assert_eq!(ok.limit, Some(5));
    }
}
