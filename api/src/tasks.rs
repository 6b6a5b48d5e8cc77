//! Task REST API under `/api/{user_id}/tasks`. Thin handlers over [`todo_common::tasks`].

use axum::extract::{Path, Query, State};
use axum::http::StatusCode;
use serde::Deserialize;
use todo_common::tasks::{
    self, StatusFilter, Task, TaskChanges, validate_description, validate_title,
};
use utoipa::{IntoParams, ToSchema};
use utoipa_axum::{router::OpenApiRouter, routes};

use crate::auth::AuthUser;
use crate::error::{ApiError, ApiJson, ErrorBody, Result};
use crate::state::AppState;

pub fn router() -> OpenApiRouter<AppState> {
    OpenApiRouter::new()
        .routes(routes!(list_tasks, create_task))
        .routes(routes!(get_task, update_task, delete_task))
        .routes(routes!(complete_task))
}

#[derive(Deserialize, IntoParams)]
pub struct ListQuery {
    /// `all` (default), `pending` or `completed`.
    pub status: Option<String>,
}

#[derive(Deserialize, ToSchema)]
pub struct CreateTask {
    /// 1–200 characters after trimming.
    pub title: String,
    /// At most 1000 characters.
    pub description: Option<String>,
}

#[derive(Deserialize, ToSchema)]
pub struct UpdateTask {
    /// New title (1–200 characters after trimming); omitted keeps the current one.
    pub title: Option<String>,
    /// New description; `null` or `""` clears it, omitted keeps it.
    #[serde(default, deserialize_with = "double_option")]
    #[schema(value_type = Option<String>)]
    pub description: Option<Option<String>>,
    /// New completion state; omitted keeps it.
    pub completed: Option<bool>,
}

/// Distinguishes an absent field (`None`) from an explicit `null` (`Some(None)`).
fn double_option<'de, D>(de: D) -> std::result::Result<Option<Option<String>>, D::Error>
where
    D: serde::Deserializer<'de>,
{
    Option::<String>::deserialize(de).map(Some)
}

fn task_id(raw: &str) -> Result<i32> {
    raw.parse::<i32>()
        .ok()
        .filter(|id| *id > 0)
        .ok_or(ApiError::NotFound)
}

/// List the user's tasks, newest first.
#[utoipa::path(get, path = "/api/{user_id}/tasks", tag = "tasks", security(("bearer" = [])),
    params(("user_id" = String, Path, description = "The authenticated user's id"), ListQuery),
    responses(
        (status = 200, description = "Tasks, newest first", body = Vec<Task>),
        (status = 401, description = "Missing or invalid token", body = ErrorBody),
        (status = 404, description = "Not this user's path", body = ErrorBody),
        (status = 422, description = "Unknown status filter (`invalid_status`)", body = ErrorBody),
    ))]
async fn list_tasks(
    State(state): State<AppState>,
    auth: AuthUser,
    Path(user_id): Path<String>,
    Query(query): Query<ListQuery>,
) -> Result<ApiJson<Vec<Task>>> {
    let user_id = auth.owner(&user_id)?;
    let filter = match query.status.as_deref() {
        None => StatusFilter::All,
        Some(s) => StatusFilter::parse(s).ok_or_else(|| {
            ApiError::validation(
                "invalid_status",
                "status",
                "status must be one of all, pending, completed",
            )
        })?,
    };
    let mut conn = state.db.acquire().await?;
    Ok(ApiJson(tasks::list(&mut conn, user_id, filter).await?))
}

/// Create a task.
#[utoipa::path(post, path = "/api/{user_id}/tasks", tag = "tasks", security(("bearer" = [])),
    params(("user_id" = String, Path, description = "The authenticated user's id")),
    request_body = CreateTask,
    responses(
        (status = 201, description = "Created", body = Task),
        (status = 400, description = "Malformed JSON", body = ErrorBody),
        (status = 401, description = "Missing or invalid token", body = ErrorBody),
        (status = 404, description = "Not this user's path", body = ErrorBody),
        (status = 413, description = "Body too large", body = ErrorBody),
        (status = 422, description = "Invalid title or description", body = ErrorBody),
    ))]
async fn create_task(
    State(state): State<AppState>,
    auth: AuthUser,
    Path(user_id): Path<String>,
    ApiJson(body): ApiJson<CreateTask>,
) -> Result<(StatusCode, ApiJson<Task>)> {
    let user_id = auth.owner(&user_id)?;
    let title = validate_title(&body.title)?;
    let description = validate_description(body.description.as_deref())?;
    let mut conn = state.db.acquire().await?;
    let task = tasks::create(&mut conn, user_id, &title, description.as_deref())
        .await?
        .ok_or(ApiError::NotFound)?;
    Ok((StatusCode::CREATED, ApiJson(task)))
}

/// Get one task.
#[utoipa::path(get, path = "/api/{user_id}/tasks/{task_id}", tag = "tasks", security(("bearer" = [])),
    params(("user_id" = String, Path), ("task_id" = i32, Path, description = "Per-user task number")),
    responses(
        (status = 200, description = "The task", body = Task),
        (status = 401, description = "Missing or invalid token", body = ErrorBody),
        (status = 404, description = "No such task for this user", body = ErrorBody),
    ))]
async fn get_task(
    State(state): State<AppState>,
    auth: AuthUser,
    Path((user_id, task_id_raw)): Path<(String, String)>,
) -> Result<ApiJson<Task>> {
    let user_id = auth.owner(&user_id)?;
    let id = task_id(&task_id_raw)?;
    let mut conn = state.db.acquire().await?;
    tasks::get(&mut conn, user_id, id)
        .await?
        .map(ApiJson)
        .ok_or(ApiError::NotFound)
}

/// Update a task's title, description and/or completion.
#[utoipa::path(put, path = "/api/{user_id}/tasks/{task_id}", tag = "tasks", security(("bearer" = [])),
    params(("user_id" = String, Path), ("task_id" = i32, Path)),
    request_body = UpdateTask,
    responses(
        (status = 200, description = "Updated", body = Task),
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
) -> Result<ApiJson<Task>> {
    let user_id = auth.owner(&user_id)?;
    let id = task_id(&task_id_raw)?;
    let changes = TaskChanges {
        title: body.title.as_deref().map(validate_title).transpose()?,
        description: match body.description {
            None => None,
            Some(d) => Some(validate_description(d.as_deref())?),
        },
        completed: body.completed,
    };
    let mut conn = state.db.acquire().await?;
    tasks::update(&mut conn, user_id, id, &changes)
        .await?
        .map(ApiJson)
        .ok_or(ApiError::NotFound)
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
    let mut conn = state.db.acquire().await?;
    tasks::delete(&mut conn, user_id, id)
        .await?
        .ok_or(ApiError::NotFound)?;
    Ok(StatusCode::NO_CONTENT)
}

/// Mark a task as completed (idempotent).
#[utoipa::path(patch, path = "/api/{user_id}/tasks/{task_id}/complete", tag = "tasks", security(("bearer" = [])),
    params(("user_id" = String, Path), ("task_id" = i32, Path)),
    responses(
        (status = 200, description = "The completed task", body = Task),
        (status = 401, description = "Missing or invalid token", body = ErrorBody),
        (status = 404, description = "No such task for this user", body = ErrorBody),
    ))]
async fn complete_task(
    State(state): State<AppState>,
    auth: AuthUser,
    Path((user_id, task_id_raw)): Path<(String, String)>,
) -> Result<ApiJson<Task>> {
    let user_id = auth.owner(&user_id)?;
    let id = task_id(&task_id_raw)?;
    let changes = TaskChanges {
        completed: Some(true),
        ..TaskChanges::default()
    };
    let mut conn = state.db.acquire().await?;
    tasks::update(&mut conn, user_id, id, &changes)
        .await?
        .map(ApiJson)
        .ok_or(ApiError::NotFound)
}
