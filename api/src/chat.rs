//! Chat on the api side: accept a turn (store it in Postgres, publish it to JetStream), then follow
//! its reply events. Shared by the WebSocket and the HTTP interface; also serves the conversation
//! history routes.
//!
//! Reply events arrive on the request's own subject (`<prefix>.events.<request_id>`), so any api
//! instance can follow any request. Core NATS delivery is at most once, so while waiting the api
//! also checks Postgres (the system of record) and replays a final event it may have missed.

use std::sync::Arc;
use std::time::Duration;

use async_nats::jetstream;
use axum::extract::{Path, State};
use axum::http::HeaderMap;
use bytes::Bytes;
use futures::StreamExt;
use serde::{Deserialize, Serialize};
use sqlx::PgPool;
use todo_common::chat::{self, Accepted, ChatRequestRecord, Conversation, Message};
use todo_common::config::NatsConfig;
use todo_common::queue;
use todo_common::schema::{ChatEvent, EventBody, MESSAGE_MAX_CHARS, ToolCall};
use utoipa::ToSchema;
use utoipa_axum::{router::OpenApiRouter, routes};
use uuid::Uuid;

use crate::auth::AuthUser;
use crate::error::{ApiError, ApiJson, ErrorBody, Result};
use crate::limits::Limits;
use crate::state::AppState;

/// How often a waiter checks Postgres for a result whose event it may have missed.
const DB_CHECK_INTERVAL: Duration = Duration::from_secs(2);
/// How long the api waits for JetStream to acknowledge a publish.
const PUBLISH_TIMEOUT: Duration = Duration::from_secs(3);
/// Namespace of request ids derived from a client-supplied idempotency key.
const IDEMPOTENCY_NAMESPACE: Uuid = Uuid::from_u128(0x6d1f_1a5e_8c1e_4f0b_9d7a_2f1e_0c3b_5a77);

/// Publishes chat requests and follows their events.
pub struct ChatService {
    db: PgPool,
    nats: async_nats::Client,
    js: jetstream::Context,
    config: NatsConfig,
    limits: Arc<Limits>,
}

/// A request the api has accepted, with the stream of its events.
pub struct Submitted {
    pub record: ChatRequestRecord,
    pub events: RequestEvents,
}

/// One event of a request: parsed, plus the raw JSON as published (relayed as is to WebSockets).
#[derive(Debug, Clone)]
pub struct RelayedEvent {
    pub event: ChatEvent,
    pub raw: Bytes,
}

/// Events of one request, ending with its `done` or `error`.
pub struct RequestEvents {
    subscriber: async_nats::Subscriber,
    db: PgPool,
    request_id: Uuid,
    /// The stored final event of a request that had finished before we subscribed.
    replay: Option<RelayedEvent>,
    finished: bool,
}

impl RequestEvents {
    /// The next event; `None` after the terminal one.
    pub async fn next(&mut self) -> Option<RelayedEvent> {
        if self.finished {
            return None;
        }
        if let Some(event) = self.replay.take() {
            self.finished = true;
            return Some(event);
        }
        let mut tick = tokio::time::interval(DB_CHECK_INTERVAL);
        tick.reset();
        loop {
            tokio::select! {
                msg = self.subscriber.next() => {
                    let msg = msg?;
                    match serde_json::from_slice::<ChatEvent>(&msg.payload) {
                        Ok(event) if event.request_id == self.request_id => {
                            self.finished = event.is_terminal();
                            return Some(RelayedEvent { event, raw: msg.payload });
                        }
                        Ok(_) => continue,
                        Err(e) => {
                            tracing::warn!(error = %e, "ignoring malformed reply event");
                            continue;
                        }
                    }
                }
                _ = tick.tick() => {
                    if let Some(event) = stored_final_event(&self.db, self.request_id).await {
                        self.finished = true;
                        return Some(event);
                    }
                }
            }
        }
    }
}

/// The final event stored with a finished request, if it finished.
async fn stored_final_event(db: &PgPool, request_id: Uuid) -> Option<RelayedEvent> {
    let mut conn = db.acquire().await.ok()?;
    let record = chat::find_request(&mut conn, request_id).await.ok()??;
    final_event_of(&record)
}

/// The final event of a finished request. A stored result that cannot be read (it should not
/// happen) is logged with its cause and answered as an `internal_error` event, so the client gets
/// an outcome instead of waiting for its timeout.
fn final_event_of(record: &ChatRequestRecord) -> Option<RelayedEvent> {
    if !record.is_finished() {
        return None;
    }
    let event = record
        .result
        .as_ref()
        .ok_or_else(|| "a finished request has no stored result".to_owned())
        .and_then(|value| {
            serde_json::from_value::<ChatEvent>(value.0.clone()).map_err(|e| e.to_string())
        })
        .unwrap_or_else(|cause| {
            tracing::error!(request_id = %record.request_id, cause, "stored final event cannot be read");
            ChatEvent::new(
                record.request_id,
                EventBody::Error {
                    code: "internal_error".into(),
                    message: "The answer to this message could not be read. Please send it again.".into(),
                },
            )
        });
    let raw = match serde_json::to_vec(&event) {
        Ok(raw) => Bytes::from(raw),
        Err(e) => {
            tracing::error!(request_id = %record.request_id, error = %e, "cannot serialize a final event");
            return None;
        }
    };
    Some(RelayedEvent { event, raw })
}

/// Validates a chat message: trimmed, non-empty, at most 10 000 characters.
pub fn validate_message(raw: &str) -> Result<String> {
    let message = raw.trim();
    if message.is_empty() {
        return Err(ApiError::validation(
            "message_required",
            "message",
            "message must not be empty",
        ));
    }
    if message.chars().count() > MESSAGE_MAX_CHARS {
        return Err(ApiError::validation(
            "message_too_long",
            "message",
            format!("message must be at most {MESSAGE_MAX_CHARS} characters"),
        ));
    }
    if message.contains('\0') {
        return Err(ApiError::validation(
            "message_invalid",
            "message",
            "message must not contain NUL characters",
        ));
    }
    Ok(message.to_owned())
}

/// The request id for a turn: derived from the client's idempotency key when it gives one (so a
/// retried send is served once), random otherwise.
pub fn request_id_for(user_id: Uuid, idempotency_key: Option<&str>) -> Uuid {
    match idempotency_key.map(str::trim).filter(|k| !k.is_empty()) {
        Some(key) => Uuid::new_v5(
            &IDEMPOTENCY_NAMESPACE,
            format!("{user_id}:{key}").as_bytes(),
        ),
        None => Uuid::new_v4(),
    }
}

impl ChatService {
    pub fn new(
        db: PgPool,
        nats: async_nats::Client,
        config: NatsConfig,
        limits: Arc<Limits>,
    ) -> Self {
        let js = jetstream::new(nats.clone());
        Self {
            db,
            nats,
            js,
            config,
            limits,
        }
    }

    pub fn jetstream(&self) -> &jetstream::Context {
        &self.js
    }

    /// Stores and publishes a turn (or finds the earlier one with the same request id) and
    /// subscribes to its events. Refuses at once (503 `overloaded`) when NATS is unreachable, and
    /// (429) when the user is over a chat limit.
    pub async fn submit(
        &self,
        user_id: Uuid,
        request_id: Uuid,
        conversation_id: Option<i64>,
        message: &str,
    ) -> Result<Submitted> {
        let result = self
            .try_submit(user_id, request_id, conversation_id, message)
            .await;
        let outcome = match &result {
            Ok(_) => "accepted",
            Err(ApiError::TooManyRequests { .. }) => "rate_limited",
            Err(ApiError::Overloaded { .. }) => "overloaded",
            Err(_) => "rejected",
        };
        metrics::counter!("todo_chat_requests_total", "outcome" => outcome).increment(1);
        result
    }

    async fn try_submit(
        &self,
        user_id: Uuid,
        request_id: Uuid,
        conversation_id: Option<i64>,
        message: &str,
    ) -> Result<Submitted> {
        if self.nats.connection_state() != async_nats::connection::State::Connected {
            return Err(ApiError::Overloaded {
                message: "the chat queue is unreachable right now, try again shortly".into(),
                retry_after_secs: 2,
            });
        }
        self.limits.check_chat(user_id)?;
        let accepted = chat::accept(
            &self.db,
            request_id,
            user_id,
            conversation_id,
            message,
            None,
            self.limits.chat_max_in_flight,
        )
        .await?;
        let record = match accepted {
            Accepted::New(record) => record,
            Accepted::Existing(record) => {
                tracing::Span::current().record("conversation_id", record.conversation_id);
                tracing::info!(request_id = %request_id, "duplicate chat request: following the original");
                let events = self.follow(&record).await?;
                return Ok(Submitted { record, events });
            }
            Accepted::ConversationNotFound | Accepted::UserNotFound => {
                return Err(ApiError::NotFound);
            }
            Accepted::TooManyInFlight => {
                return Err(ApiError::TooManyRequests {
                    code: "too_many_in_flight",
                    message: format!(
                        "at most {} chat messages may wait for an answer at once; wait for a reply",
                        self.limits.chat_max_in_flight.unwrap_or_default()
                    ),
                    retry_after_secs: 1,
                });
            }
        };
        tracing::Span::current().record("conversation_id", record.conversation_id);
        tracing::info!("chat request accepted");
        // Subscribe before publishing so no event can be missed.
        let events = self.follow(&record).await?;
        if let Err(e) = self.publish(&record).await {
            tracing::error!(request_id = %request_id, error = %e, "publishing chat request failed");
            // If the stream is gone (a NATS server that came back without its storage), create
            // it again so the client's retry can succeed.
            let _ = tokio::time::timeout(
                Duration::from_secs(1),
                queue::ensure_stream(&self.js, &self.config),
            )
            .await;
            // The client is told to retry: forget the request so a retry with the same
            // idempotency key is accepted afresh. (Should the publish have reached the stream
            // after all, a worker stores and runs it, and that retry follows it.)
            chat::forget(&self.db, request_id).await?;
            return Err(ApiError::Overloaded {
                message: "the chat queue is unavailable, try again shortly".into(),
                retry_after_secs: 2,
            });
        }
        Ok(Submitted { record, events })
    }

    /// Follows a request the user sent earlier (from any api instance): its remaining events, or
    /// its stored final event if it has finished. `NotFound` when it is not the user's.
    pub async fn resume(&self, user_id: Uuid, request_id: Uuid) -> Result<Submitted> {
        let mut conn = self.db.acquire().await?;
        let record = chat::find_request(&mut conn, request_id)
            .await?
            .filter(|r| r.user_id == user_id)
            .ok_or(ApiError::NotFound)?;
        drop(conn);
        let events = self.follow(&record).await?;
        // Should it finish between the lookup and the subscription, the waiter's periodic
        // Postgres check finds the final event.
        Ok(Submitted { record, events })
    }

    async fn follow(&self, record: &ChatRequestRecord) -> Result<RequestEvents> {
        let subscriber = self
            .nats
            .subscribe(self.config.default_event_subject(record.request_id))
            .await
            .map_err(|e| ApiError::Overloaded {
                message: format!("the message broker is unavailable ({e}), try again shortly"),
                retry_after_secs: 2,
            })?;
        Ok(RequestEvents {
            subscriber,
            db: self.db.clone(),
            request_id: record.request_id,
            replay: final_event_of(record),
            finished: false,
        })
    }

    async fn publish(&self, record: &ChatRequestRecord) -> anyhow::Result<()> {
        queue::publish_request(&self.js, &self.config, record, PUBLISH_TIMEOUT).await
    }
}

/// The chat route (it waits for the agent: its own, longer time budget) and the history routes.
pub fn router(chat_timeout: Duration, timeout: Duration) -> OpenApiRouter<AppState> {
    OpenApiRouter::new()
        .routes(routes!(post_chat))
        .layer(crate::http::timeout_layer(chat_timeout))
        .merge(
            OpenApiRouter::new()
                .routes(routes!(list_conversations))
                .routes(routes!(list_messages))
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
