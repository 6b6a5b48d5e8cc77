//! `POST /api/{user_id}/chat` (waits for the whole reply) and the conversation history routes.

use std::time::Duration;

use axum::extract::{Path, State};
use axum::http::HeaderMap;
use serde::{Deserialize, Serialize};
use todo_common::chat::{self, Conversation, Message};
use todo_common::schema::{EventBody, ToolCall};
use utoipa::ToSchema;
use utoipa_axum::{router::OpenApiRouter, routes};

use super::service::CancelState;
use super::{request_id_for, validate_message};
use crate::auth::AuthUser;
use crate::error::{ApiError, ApiJson, ErrorBody, Result};
use crate::state::AppState;

/// The chat route (it waits for the agent: its own, longer time budget) and the history routes.
pub fn router(chat_timeout: Duration, timeout: Duration) -> OpenApiRouter<AppState> {
    OpenApiRouter::new()
        .routes(routes!(post_chat))
        .layer(crate::http::timeout_layer(chat_timeout))
        .merge(
            OpenApiRouter::new()
                .routes(routes!(list_conversations))
                .routes(routes!(list_messages))
                .routes(routes!(rename_conversation, delete_conversation))
                .routes(routes!(cancel_request))
                .layer(crate::http::timeout_layer(timeout)),
        )
}

#[derive(Deserialize, ToSchema)]
pub struct ChatBody {
    /// Conversation to continue; omitted or `null` starts a new one.
    pub conversation_id: Option<i64>,
    /// What the user says (1–10 000 characters after trimming).
    pub message: String,
}

#[derive(Serialize, ToSchema)]
pub struct ChatResponse {
    pub conversation_id: i64,
    /// The assistant's reply.
    pub response: String,
    /// Tools the assistant ran, in order.
    pub tool_calls: Vec<ToolCall>,
}

/// Send a chat message and wait for the assistant's reply (same queue as the WebSocket).
///
/// An `Idempotency-Key` header makes retries safe: the same key is served once.
#[utoipa::path(post, path = "/api/{user_id}/chat", tag = "chat", security(("bearer" = [])),
    params(("user_id" = String, Path, description = "The authenticated user's id"),
           ("Idempotency-Key" = Option<String>, Header, description = "Client key that makes a retry return the first answer")),
    request_body = ChatBody,
    responses(
        (status = 200, description = "The assistant's reply", body = ChatResponse),
        (status = 400, description = "Malformed JSON", body = ErrorBody),
        (status = 401, description = "Missing or invalid token", body = ErrorBody),
        (status = 404, description = "Unknown conversation, or not this user's path", body = ErrorBody),
        (status = 422, description = "Empty message (`message_required`) or over 10 000 characters (`message_too_long`)", body = ErrorBody),
        (status = 429, description = "Over the per-minute (`rate_limited`) or in-flight (`too_many_in_flight`) chat limit", body = ErrorBody),
        (status = 502, description = "The assistant failed (`agent_unavailable`, ...)", body = ErrorBody),
        (status = 503, description = "Queue unavailable or full (`overloaded`)", body = ErrorBody),
        (status = 504, description = "No reply in time (`timeout`)", body = ErrorBody),
    ))]
async fn post_chat(
    State(state): State<AppState>,
    auth: AuthUser,
    Path(user_id): Path<String>,
    headers: HeaderMap,
    ApiJson(body): ApiJson<ChatBody>,
) -> Result<axum::response::Response> {
    use axum::response::IntoResponse;
    let user_id = auth.owner(&user_id)?;
    let message = validate_message(&body.message)?;
    let key = headers.get("idempotency-key").and_then(|v| v.to_str().ok());
    let request_id = request_id_for(user_id, key);
    tracing::Span::current().record("request_id", tracing::field::display(request_id));
    let mut submitted = state
        .chat
        .submit(user_id, request_id, body.conversation_id, &message)
        .await?;
    let deadline = tokio::time::Instant::now() + state.config.chat_timeout;
    loop {
        let event = match tokio::time::timeout_at(deadline, submitted.events.next()).await {
            Ok(Some(e)) => e,
            Ok(None) => {
                return Err(anyhow::anyhow!("reply stream ended without a final event").into());
            }
            Err(_) => return Err(ApiError::GatewayTimeout),
        };
        match event.event.body {
            EventBody::Done {
                conversation_id,
                response,
                tool_calls,
            } => {
                return Ok(ApiJson(ChatResponse {
                    conversation_id,
                    response,
                    tool_calls,
                })
                .into_response());
            }
            EventBody::Error { code, message } => {
                return Err(ApiError::Agent { code, message });
            }
            EventBody::Cancelled { .. } => {
                return Err(ApiError::Conflict {
                    code: "request_cancelled",
                    message: "the reply was stopped; what was done before it stopped is kept in the conversation".into(),
                });
            }
            _ => continue,
        }
    }
}

/// The user's conversations, most recently active first.
#[utoipa::path(get, path = "/api/{user_id}/conversations", tag = "chat", security(("bearer" = [])),
    params(("user_id" = String, Path)),
    responses(
        (status = 200, description = "Conversations", body = Vec<Conversation>),
        (status = 401, description = "Missing or invalid token", body = ErrorBody),
        (status = 404, description = "Not this user's path", body = ErrorBody),
    ))]
async fn list_conversations(
    State(state): State<AppState>,
    auth: AuthUser,
    Path(user_id): Path<String>,
) -> Result<ApiJson<Vec<Conversation>>> {
    let user_id = auth.owner(&user_id)?;
    Ok(ApiJson(chat::list_conversations(&state.db, user_id).await?))
}

/// A conversation's messages, oldest first, to resume it.
#[utoipa::path(get, path = "/api/{user_id}/conversations/{conversation_id}/messages", tag = "chat",
    security(("bearer" = [])),
    params(("user_id" = String, Path), ("conversation_id" = i64, Path)),
    responses(
        (status = 200, description = "Messages, oldest first", body = Vec<Message>),
        (status = 401, description = "Missing or invalid token", body = ErrorBody),
        (status = 404, description = "No such conversation for this user", body = ErrorBody),
    ))]
async fn list_messages(
    State(state): State<AppState>,
    auth: AuthUser,
    Path((user_id, conversation_id)): Path<(String, String)>,
) -> Result<ApiJson<Vec<Message>>> {
    let user_id = auth.owner(&user_id)?;
    let conversation_id: i64 = conversation_id.parse().map_err(|_| ApiError::NotFound)?;
    chat::list_messages(&state.db, user_id, conversation_id)
        .await?
        .map(ApiJson)
        .ok_or(ApiError::NotFound)
}

#[derive(Deserialize, ToSchema)]
pub struct RenameBody {
    /// The new title (1–200 characters after trimming).
    pub title: String,
}

/// Largest conversation title, in characters.
const TITLE_MAX_CHARS: usize = 200;

fn conversation_id(raw: &str) -> Result<i64> {
    raw.parse::<i64>()
        .ok()
        .filter(|id| *id > 0)
        .ok_or(ApiError::NotFound)
}

/// Rename a conversation.
#[utoipa::path(patch, path = "/api/{user_id}/conversations/{conversation_id}", tag = "chat",
    security(("bearer" = [])),
    params(("user_id" = String, Path), ("conversation_id" = i64, Path)),
    request_body = RenameBody,
    responses(
        (status = 200, description = "The renamed conversation", body = Conversation),
        (status = 401, description = "Missing or invalid token", body = ErrorBody),
        (status = 404, description = "No such conversation for this user", body = ErrorBody),
        (status = 422, description = "Empty title (`title_required`), too long (`title_too_long`) or with NUL (`invalid_characters`)", body = ErrorBody),
    ))]
async fn rename_conversation(
    State(state): State<AppState>,
    auth: AuthUser,
    Path((user_id, conversation_id_raw)): Path<(String, String)>,
    ApiJson(body): ApiJson<RenameBody>,
) -> Result<ApiJson<Conversation>> {
    let user_id = auth.owner(&user_id)?;
    let id = conversation_id(&conversation_id_raw)?;
    let title = body.title.trim();
    if title.is_empty() {
        return Err(ApiError::validation(
            "title_required",
            "title",
            "`title` must not be empty",
        ));
    }
    if title.chars().count() > TITLE_MAX_CHARS {
        return Err(ApiError::validation(
            "title_too_long",
            "title",
            format!("`title` must be at most {TITLE_MAX_CHARS} characters"),
        ));
    }
    if title.contains('\0') {
        return Err(ApiError::validation(
            "invalid_characters",
            "title",
            "`title` must not contain NUL characters",
        ));
    }
    chat::rename_conversation(&state.db, user_id, id, title)
        .await?
        .map(ApiJson)
        .ok_or(ApiError::NotFound)
}

/// Delete a conversation and its messages (task changes made in it stay).
#[utoipa::path(delete, path = "/api/{user_id}/conversations/{conversation_id}", tag = "chat",
    security(("bearer" = [])),
    params(("user_id" = String, Path), ("conversation_id" = i64, Path)),
    responses(
        (status = 204, description = "Deleted"),
        (status = 401, description = "Missing or invalid token", body = ErrorBody),
        (status = 404, description = "No such conversation for this user", body = ErrorBody),
        (status = 409, description = "A reply in it is still running (`conversation_busy`): stop it or wait", body = ErrorBody),
    ))]
async fn delete_conversation(
    State(state): State<AppState>,
    auth: AuthUser,
    Path((user_id, conversation_id_raw)): Path<(String, String)>,
) -> Result<axum::http::StatusCode> {
    let user_id = auth.owner(&user_id)?;
    let id = conversation_id(&conversation_id_raw)?;
    match chat::delete_conversation(&state.db, user_id, id).await? {
        chat::Deleted::Deleted => Ok(axum::http::StatusCode::NO_CONTENT),
        chat::Deleted::NotFound => Err(ApiError::NotFound),
        chat::Deleted::Busy => Err(ApiError::Conflict {
            code: "conversation_busy",
            message: "a reply in this conversation is still running: stop it or wait for it".into(),
        }),
    }
}

#[derive(Serialize, ToSchema)]
pub struct CancelResponse {
    pub request_id: uuid::Uuid,
    /// `cancelled` (it had not started) or `cancelling` (a worker stops it within a second).
    pub status: CancelState,
}

/// Stop a reply that is queued or running (on whichever worker). The request then ends with a
/// `cancelled` event: its partial reply and the tools it already applied are kept.
#[utoipa::path(post, path = "/api/{user_id}/chat/{request_id}/cancel", tag = "chat",
    security(("bearer" = [])),
    params(("user_id" = String, Path), ("request_id" = String, Path, description = "The `request_id` from `accepted`")),
    responses(
        (status = 202, description = "Stopping (or stopped)", body = CancelResponse),
        (status = 401, description = "Missing or invalid token", body = ErrorBody),
        (status = 404, description = "No such request for this user", body = ErrorBody),
        (status = 409, description = "The request has already finished (`request_finished`)", body = ErrorBody),
    ))]
async fn cancel_request(
    State(state): State<AppState>,
    auth: AuthUser,
    Path((user_id, request_id_raw)): Path<(String, String)>,
) -> Result<(axum::http::StatusCode, ApiJson<CancelResponse>)> {
    let user_id = auth.owner(&user_id)?;
    let request_id = uuid::Uuid::parse_str(&request_id_raw).map_err(|_| ApiError::NotFound)?;
    let status = state.chat.cancel(user_id, request_id).await?;
    Ok((
        axum::http::StatusCode::ACCEPTED,
        ApiJson(CancelResponse { request_id, status }),
    ))
}
