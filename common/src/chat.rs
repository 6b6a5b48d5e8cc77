//! Conversations, messages and chat-request records: Postgres is the system of record of every turn.
//!
//! A chat request is stored (`queued`) before it is published, runs (`running`) in a worker, and ends
//! `done` (with the final event kept in `result`, replayed to duplicate or late requesters) or `failed`.
//! Turns of one conversation are numbered (`turn`) and run in that order.

use chrono::{DateTime, Utc};
use serde::{Deserialize, Serialize};
use serde_json::Value;
use sqlx::{PgConnection, PgPool};
use uuid::Uuid;

/// Messages of history an agent sees.
pub const HISTORY_LIMIT: i64 = 50;

#[derive(Debug, Clone, Serialize, Deserialize, sqlx::FromRow, utoipa::ToSchema)]
pub struct Conversation {
    pub id: i64,
    pub title: Option<String>,
    pub created_at: DateTime<Utc>,
    pub updated_at: DateTime<Utc>,
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, utoipa::ToSchema)]
#[serde(rename_all = "lowercase")]
pub enum Role {
    User,
    Assistant,
}

#[derive(Debug, Clone, Serialize, Deserialize, sqlx::FromRow, utoipa::ToSchema)]
pub struct Message {
    pub id: i64,
    pub conversation_id: i64,
    /// `user` or `assistant`.
    pub role: String,
    pub content: String,
    /// Tools the assistant ran for this message: `[{tool, arguments, result}]`.
    #[schema(value_type = Vec<Object>)]
    pub tool_calls: sqlx::types::Json<Value>,
    pub request_id: Uuid,
    pub created_at: DateTime<Utc>,
}

/// A stored chat request.
#[derive(Debug, Clone, sqlx::FromRow)]
pub struct ChatRequestRecord {
    pub request_id: Uuid,
    pub user_id: Uuid,
    pub conversation_id: i64,
    pub turn: i64,
    pub message: String,
    pub status: String,
    pub attempts: i32,
    pub result: Option<sqlx::types::Json<Value>>,
}

impl ChatRequestRecord {
    pub fn is_finished(&self) -> bool {
        self.status == "done" || self.status == "failed"
    }
}

/// Outcome of [`accept`].
#[derive(Debug)]
pub enum Accepted {
    /// Newly stored: publish it.
    New(ChatRequestRecord),
    /// The request id was seen before (a duplicate): do not run it again.
    Existing(ChatRequestRecord),
    /// The conversation does not exist or is not the user's.
    ConversationNotFound,
    /// The user does not exist.
    UserNotFound,
}

macro_rules! request_columns {
    () => {
        "request_id, user_id, conversation_id, turn, message, status, attempts, result"
    };
}

pub async fn find_request(
    conn: &mut PgConnection,
    request_id: Uuid,
) -> sqlx::Result<Option<ChatRequestRecord>> {
    sqlx::query_as(concat!(
        "select ",
        request_columns!(),
        " from chat_requests where request_id = $1"
    ))
    .bind(request_id)
    .fetch_optional(conn)
    .await
}

/// Stores a chat request durably, creating its conversation when `conversation_id` is `None`.
/// Idempotent per `request_id`. One statement (one round trip) in the common case.
pub async fn accept(
    pool: &PgPool,
    request_id: Uuid,
    user_id: Uuid,
    conversation_id: Option<i64>,
    message: &str,
) -> sqlx::Result<Accepted> {
    let message = message.trim();
    let title: String = message.chars().take(80).collect();
    let inserted: Option<ChatRequestRecord> = sqlx::query_as(concat!(
        "with seen as (select 1 from chat_requests where request_id = $1),
         existing_conversation as (
             update conversations set turn_seq = turn_seq + 1
             where $3::bigint is not null and id = $3 and user_id = $2 and not exists (select 1 from seen)
             returning id, turn_seq
         ),
         new_conversation as (
             insert into conversations (user_id, title, turn_seq)
             select id, $5, 1 from users
             where $3::bigint is null and id = $2 and not exists (select 1 from seen)
             returning id, turn_seq
         ),
         target as (
             select id, turn_seq from existing_conversation
             union all
             select id, turn_seq from new_conversation
         )
         insert into chat_requests (request_id, user_id, conversation_id, turn, message)
         select $1, $2, id, turn_seq, $4 from target
         on conflict (request_id) do nothing
         returning ",
        request_columns!()
    ))
    .bind(request_id)
    .bind(user_id)
    .bind(conversation_id)
    .bind(message)
    .bind(title)
    .fetch_optional(pool)
    .await?;
    if let Some(record) = inserted {
        return Ok(Accepted::New(record));
    }
    // Not inserted: a duplicate request id, or nothing to attach it to.
    let mut conn = pool.acquire().await?;
    Ok(match find_request(&mut conn, request_id).await? {
        Some(r) if r.user_id == user_id => Accepted::Existing(r),
        Some(_) => Accepted::ConversationNotFound,
        None if conversation_id.is_some() => Accepted::ConversationNotFound,
        None => Accepted::UserNotFound,
    })
}

/// Outcome of [`begin_turn`].
#[derive(Debug)]
pub enum Begin {
    /// The attempt started (status `running`, attempts counted).
    Started(ChatRequestRecord),
    /// An earlier turn of the conversation is still queued or running.
    Blocked(ChatRequestRecord),
    /// The turn already finished.
    Finished(ChatRequestRecord),
    /// No such request for this user.
    Missing,
}

/// Starts an attempt of a turn if it is unfinished and every earlier turn of its conversation has
/// finished; one statement in the common case.
pub async fn begin_turn(
    conn: &mut PgConnection,
    request_id: Uuid,
    user_id: Uuid,
) -> sqlx::Result<Begin> {
    let started: Option<ChatRequestRecord> = sqlx::query_as(concat!(
        "update chat_requests r set status = 'running', attempts = attempts + 1
         where request_id = $1 and user_id = $2 and status in ('queued', 'running')
           and not exists (select 1 from chat_requests p
                           where p.conversation_id = r.conversation_id and p.turn < r.turn
                             and p.status in ('queued', 'running'))
         returning ",
        request_columns!()
    ))
    .bind(request_id)
    .bind(user_id)
    .fetch_optional(&mut *conn)
    .await?;
    if let Some(record) = started {
        return Ok(Begin::Started(record));
    }
    Ok(match find_request(conn, request_id).await? {
        Some(r) if r.user_id != user_id => Begin::Missing,
        Some(r) if r.is_finished() => Begin::Finished(r),
        Some(r) => Begin::Blocked(r),
        None => Begin::Missing,
    })
}

/// Stores the user's message of a turn (once, whatever the number of attempts) and returns the
/// last [`HISTORY_LIMIT`] earlier messages of the conversation, oldest first. One statement.
pub async fn store_user_message_and_history(
    conn: &mut PgConnection,
    record: &ChatRequestRecord,
) -> sqlx::Result<Vec<Message>> {
    let mut messages: Vec<Message> = sqlx::query_as(
        "with stored as (
             insert into messages (conversation_id, user_id, role, content, request_id)
             values ($1, $2, 'user', $3, $4) on conflict (request_id, role) do nothing
         )
         select id, conversation_id, role, content, tool_calls, request_id, created_at from messages
         where conversation_id = $1 and request_id <> $4
         order by created_at desc, id desc limit $5",
    )
    .bind(record.conversation_id)
    .bind(record.user_id)
    .bind(&record.message)
    .bind(record.request_id)
    .bind(HISTORY_LIMIT)
    .fetch_all(conn)
    .await?;
    messages.reverse();
    Ok(messages)
}

/// Stores the assistant's reply and the final event and marks the turn done: one statement, so
/// all of it happens or none.
pub async fn finish(
    pool: &PgPool,
    record: &ChatRequestRecord,
    response: &str,
    tool_calls: &Value,
    final_event: &Value,
) -> sqlx::Result<()> {
    sqlx::query(
        "with stored as (
             insert into messages (conversation_id, user_id, role, content, tool_calls, request_id)
             values ($1, $2, 'assistant', $3, $4, $5) on conflict (request_id, role) do nothing
         ),
         finished as (
             update chat_requests set status = 'done', result = $6, error = null where request_id = $5
         )
         update conversations set updated_at = now() where id = $1",
    )
    .bind(record.conversation_id)
    .bind(record.user_id)
    .bind(response)
    .bind(sqlx::types::Json(tool_calls))
    .bind(record.request_id)
    .bind(sqlx::types::Json(final_event))
    .execute(pool)
    .await?;
    Ok(())
}

/// Marks a turn failed with the event sent to the user and the cause for operators.
pub async fn fail(
    pool: &PgPool,
    request_id: Uuid,
    final_event: &Value,
    cause: &str,
) -> sqlx::Result<()> {
    sqlx::query(
        "update chat_requests set status = 'failed', result = $2, error = $3
         where request_id = $1 and status <> 'done'",
    )
    .bind(request_id)
    .bind(sqlx::types::Json(final_event))
    .bind(cause)
    .execute(pool)
    .await?;
    Ok(())
}

/// A tool effect recorded for a turn, replayed on redelivery.
#[derive(Debug, Clone, sqlx::FromRow)]
pub struct RecordedEffect {
    pub call_index: i32,
    pub tool: String,
    pub arguments: sqlx::types::Json<Value>,
    pub result: sqlx::types::Json<Value>,
}

/// The tool effects recorded for a turn by earlier attempts, in call order.
pub async fn recorded_effects(
    pool: &PgPool,
    request_id: Uuid,
) -> sqlx::Result<Vec<RecordedEffect>> {
    sqlx::query_as(
        "select call_index, tool, arguments, result from tool_effects where request_id = $1 order by call_index",
    )
    .bind(request_id)
    .fetch_all(pool)
    .await
}

/// Records a tool effect; call inside the transaction that made the effect.
pub async fn record_effect(
    conn: &mut PgConnection,
    request_id: Uuid,
    call_index: i32,
    tool: &str,
    arguments: &Value,
    result: &Value,
) -> sqlx::Result<()> {
    sqlx::query(
        "insert into tool_effects (request_id, call_index, tool, arguments, result) values ($1, $2, $3, $4, $5)",
    )
    .bind(request_id)
    .bind(call_index)
    .bind(tool)
    .bind(sqlx::types::Json(arguments))
    .bind(sqlx::types::Json(result))
    .execute(conn)
    .await?;
    Ok(())
}

pub async fn list_conversations(pool: &PgPool, user_id: Uuid) -> sqlx::Result<Vec<Conversation>> {
    sqlx::query_as(
        "select id, title, created_at, updated_at from conversations
         where user_id = $1 order by updated_at desc, id desc",
    )
    .bind(user_id)
    .fetch_all(pool)
    .await
}

/// A conversation's messages, oldest first; `None` when it is not the user's.
pub async fn list_messages(
    pool: &PgPool,
    user_id: Uuid,
    conversation_id: i64,
) -> sqlx::Result<Option<Vec<Message>>> {
    let owned: bool = sqlx::query_scalar(
        "select exists(select 1 from conversations where id = $1 and user_id = $2)",
    )
    .bind(conversation_id)
    .bind(user_id)
    .fetch_one(pool)
    .await?;
    if !owned {
        return Ok(None);
    }
    sqlx::query_as(
        "select id, conversation_id, role, content, tool_calls, request_id, created_at from messages
         where conversation_id = $1 order by created_at, id",
    )
    .bind(conversation_id)
    .fetch_all(pool)
    .await
    .map(Some)
}
