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

/// How much of its conversation a turn's agent reads when the turn starts: a model needs the
/// conversation, the built-in agent only the state its own last reply left.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum HistoryNeed {
    /// The last [`HISTORY_LIMIT`] earlier messages.
    Recent,
    /// The newest earlier assistant message alone.
    LastReply,
}

impl HistoryNeed {
    fn limit(self) -> i64 {
        match self {
            Self::Recent => HISTORY_LIMIT,
            Self::LastReply => 1,
        }
    }

    /// The one role to read, if only one.
    fn role(self) -> Option<&'static str> {
        match self {
            Self::Recent => None,
            Self::LastReply => Some("assistant"),
        }
    }
}

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
    /// The reply was cut short: the user stopped it.
    #[serde(default)]
    pub stopped: bool,
    /// What the agent remembered with this reply (internal: not shown to clients).
    #[serde(skip)]
    #[schema(ignore)]
    pub agent_state: Option<sqlx::types::Json<Value>>,
}

/// Where a chat turn is: `queued` (stored, waiting for a worker), `running` (an attempt holds its
/// lease), `done` (reply stored), `failed` (the user was told) or `cancelled` (the user stopped
/// it). Stored as text (see the `sqlx` impls below).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum TurnStatus {
    Queued,
    Running,
    Done,
    Failed,
    /// The user stopped it.
    Cancelled,
}

impl TurnStatus {
    pub const ALL: [Self; 5] = [
        Self::Queued,
        Self::Running,
        Self::Done,
        Self::Failed,
        Self::Cancelled,
    ];

    pub fn is_finished(self) -> bool {
        matches!(self, Self::Done | Self::Failed | Self::Cancelled)
    }

    pub fn as_str(self) -> &'static str {
        match self {
            Self::Queued => "queued",
            Self::Running => "running",
            Self::Done => "done",
            Self::Failed => "failed",
            Self::Cancelled => "cancelled",
        }
    }
}

// By hand rather than `#[derive(sqlx::Type)]`: the derive names its type (`type_name = "text"`),
// and sqlx resolves a named type with a catalog query on every new connection (0.5 ms alone, 8-15
// ms while a burst grows the pool, on the first statement of each new connection). These are
// `text` by its OID, as `&str` is.
impl sqlx::Type<sqlx::Postgres> for TurnStatus {
    fn type_info() -> sqlx::postgres::PgTypeInfo {
        <&str as sqlx::Type<sqlx::Postgres>>::type_info()
    }

    fn compatible(ty: &sqlx::postgres::PgTypeInfo) -> bool {
        <&str as sqlx::Type<sqlx::Postgres>>::compatible(ty)
    }
}

impl sqlx::Encode<'_, sqlx::Postgres> for TurnStatus {
    fn encode_by_ref(
        &self,
        buf: &mut sqlx::postgres::PgArgumentBuffer,
    ) -> Result<sqlx::encode::IsNull, sqlx::error::BoxDynError> {
        <&str as sqlx::Encode<sqlx::Postgres>>::encode(self.as_str(), buf)
    }
}

impl sqlx::Decode<'_, sqlx::Postgres> for TurnStatus {
    fn decode(value: sqlx::postgres::PgValueRef<'_>) -> Result<Self, sqlx::error::BoxDynError> {
        let text = <&str as sqlx::Decode<sqlx::Postgres>>::decode(value)?;
        Self::ALL
            .into_iter()
            .find(|status| status.as_str() == text)
            .ok_or_else(|| format!("unknown turn status {text:?}").into())
    }
}

impl std::fmt::Display for TurnStatus {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(self.as_str())
    }
}

/// The unfinished statuses as an SQL list, for the statements whose partial indexes name them
/// (`where status in ('queued', 'running')`): literal, so the planner can use those indexes. A
/// unit test keeps it equal to [`TurnStatus`].
macro_rules! unfinished {
    () => {
        "('queued', 'running')"
    };
}

/// The finished statuses as an SQL list, for a statement that must not be planned on the partial
/// indexes of unfinished turns: a condition on them does not imply those indexes' predicate. A
/// unit test keeps it equal to [`TurnStatus`].
macro_rules! finished {
    () => {
        "('done', 'failed', 'cancelled')"
    };
}

/// A stored chat request.
#[derive(Debug, Clone, sqlx::FromRow)]
pub struct ChatRequestRecord {
    pub request_id: Uuid,
    pub user_id: Uuid,
    pub conversation_id: i64,
    pub turn: i64,
    pub message: String,
    pub status: TurnStatus,
    pub attempts: i32,
    pub result: Option<sqlx::types::Json<Value>>,
    /// The subject the request asked its events on (under `<prefix>.events.`), if not the default.
    pub reply_to: Option<String>,
    /// The user asked to stop the turn: it must not run (any further).
    pub cancel_requested: bool,
}

impl ChatRequestRecord {
    pub fn is_finished(&self) -> bool {
        self.status.is_finished()
    }

    /// The final event of a finished request, to replay (`None` while it is unfinished). A stored
    /// result that cannot be read (it should not happen) is logged with its cause and becomes an
    /// `internal_error` event, so a client gets an outcome instead of waiting for its timeout.
    pub fn final_event(&self) -> Option<crate::schema::ChatEvent> {
        use crate::schema::{ChatEvent, EventBody};
        if !self.is_finished() {
            return None;
        }
        let stored = self
            .result
            .as_ref()
            .ok_or_else(|| "a finished request has no stored result".to_owned())
            .and_then(|r| {
                serde_json::from_value::<ChatEvent>(r.0.clone()).map_err(|e| e.to_string())
            });
        Some(stored.unwrap_or_else(|cause| {
            tracing::error!(request_id = %self.request_id, cause, "stored final event cannot be read; answering internal_error");
            ChatEvent::new(
                self.request_id,
                EventBody::Error {
                    code: "internal_error".into(),
                    message: "The answer to this message could not be read. Please send it again."
                        .into(),
                },
            )
        }))
    }
}

/// The lease a running attempt holds on its turn: while it is renewed (more often than it
/// lasts), no other delivery of the request starts the turn; released, the next one may at once.
/// Only the attempt that took it can renew or release it.
#[derive(Debug, Clone)]
pub struct Lease {
    pool: PgPool,
    request_id: Uuid,
    attempt: i32,
    duration: std::time::Duration,
}

impl Lease {
    /// The lease [`begin_turn`] gave attempt `record.attempts`.
    pub fn of(pool: PgPool, record: &ChatRequestRecord, duration: std::time::Duration) -> Self {
        Self {
            pool,
            request_id: record.request_id,
            attempt: record.attempts,
            duration,
        }
    }

    pub fn attempt(&self) -> i32 {
        self.attempt
    }

    /// Extends the lease; `false` when this attempt no longer holds it (another took the turn).
    pub async fn renew(&self) -> sqlx::Result<bool> {
        let renewed = sqlx::query(
            "update chat_requests set lease_expires_at = now() + make_interval(secs => $4)
             where request_id = $1 and status = $2 and attempts = $3",
        )
        .bind(self.request_id)
        .bind(TurnStatus::Running)
        .bind(self.attempt)
        .bind(self.duration.as_secs_f64())
        .execute(&self.pool)
        .await?;
        Ok(renewed.rows_affected() == 1)
    }

    /// Hands the turn back (it will be retried): `queued` again, so the next delivery may start it
    /// at once. A later attempt that took the turn over is left alone.
    pub async fn release(&self) -> sqlx::Result<()> {
        sqlx::query(
            "update chat_requests set status = $2, lease_expires_at = null
             where request_id = $1 and status = $3 and attempts = $4",
        )
        .bind(self.request_id)
        .bind(TurnStatus::Queued)
        .bind(TurnStatus::Running)
        .bind(self.attempt)
        .execute(&self.pool)
        .await?;
        Ok(())
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
    /// The user already has `max_in_flight` unanswered requests: nothing was stored.
    TooManyInFlight,
}

macro_rules! request_columns {
    () => {
        "request_id, user_id, conversation_id, turn, message, status, attempts, result, reply_to,
         cancel_requested_at is not null as cancel_requested"
    };
}

/// A CTE (`started`) that starts the turns `unnest($1::uuid[], $2::uuid[])` (request, user) that
/// may start: queued, or running on an expired lease, with no unfinished turn before them in
/// their conversation. `$3`: the lease in seconds; `$4`, `$5`: the running and queued statuses.
///
/// Each turn is found by its key: its own status is written as "not finished, and queued or
/// past its lease", which no partial index's predicate follows from, so the planner cannot pick
/// one of those indexes (a scan of every unfinished turn of every user, and of the entries of
/// finished ones not yet vacuumed). The earlier turns are read through
/// `chat_requests_conversation_unfinished_idx`, the conversation's unfinished turns alone.
macro_rules! start_requests {
    () => {
        concat!(
            "started as (
             update chat_requests r
             set status = $4, attempts = attempts + 1,
                 lease_expires_at = now() + make_interval(secs => $3)
             from unnest($1::uuid[], $2::uuid[]) as b(rid, uid)
             where r.request_id = b.rid and r.user_id = b.uid
               and r.status not in ",
            finished!(),
            " and (r.status = $5 or r.lease_expires_at < now())
               and not exists (select 1 from chat_requests p
                               where p.conversation_id = r.conversation_id and p.turn < r.turn
                                 and p.status in ",
            unfinished!(),
            ")
             returning ",
            request_columns!(),
            "
         )"
        )
    };
}

/// The columns of a [`TurnStartRow`], from [`start_joins`].
macro_rules! start_columns {
    () => {
        "context.timezone, context.date_order, context.pending_action,
                h.id, h.role, h.content, h.tool_calls, h.request_id, h.created_at, h.stopped,
                h.agent_state"
    };
}

/// What a turn starts from, for each row of `s` (`conversation_id`, `user_id`, `request_id`): its
/// user's clock and the conversation's pending change (`context`), and its last `$limit` earlier
/// messages (only those of role `$role` unless it is null), newest first and numbered by `rank`
/// (`h`; the turn's own message left out).
macro_rules! start_joins {
    ($limit:literal, $role:literal) => {
        concat!(
            "
         left join lateral (
             select u.timezone, u.date_order, c.pending_action
             from conversations c join users u on u.id = c.user_id
             where c.id = s.conversation_id and c.user_id = s.user_id
         ) context on true
         left join lateral (
             select id, role, content, tool_calls, request_id, created_at, stopped, agent_state,
                    row_number() over (order by created_at desc, id desc) as rank
             from messages
             where conversation_id = s.conversation_id and request_id <> s.request_id
               and (",
            $role,
            "::text is null or role = ",
            $role,
            ")
             order by created_at desc, id desc limit ",
            $limit,
            "
         ) h on true"
        )
    };
}

/// A CTE (`stored`) that stores the user message of each turn in `started` (once, whatever the
/// number of attempts): starting a turn stores its message in the same statement.
///
/// Messages are stamped with the time they are written (`clock_timestamp()`), not their
/// transaction's start: a batch's transaction may open before the previous turn's reply
/// commits, and a conversation is read in `created_at` order.
macro_rules! store_user_messages {
    () => {
        "
         stored as (
             insert into messages (conversation_id, user_id, role, content, request_id, created_at)
             select conversation_id, user_id, 'user', message, request_id, clock_timestamp()
             from started
             on conflict (request_id, role) do nothing
         )"
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
/// Idempotent per `request_id`. With `max_in_flight`, refuses a new request while the user has
/// that many unanswered (`queued` or `running`) ones. One statement (one round trip) in the common case.
pub async fn accept(
    pool: &PgPool,
    request_id: Uuid,
    user_id: Uuid,
    conversation_id: Option<i64>,
    message: &str,
    reply_to: Option<&str>,
    max_in_flight: Option<u32>,
) -> sqlx::Result<Accepted> {
    let message = message.trim();
    let title: String = message.chars().take(80).collect();
    let inserted: Option<ChatRequestRecord> = sqlx::query_as(concat!(
        "with seen as (select 1 from chat_requests where request_id = $1),
         room as (
             select $6::bigint is null or count(*) < $6 as ok from chat_requests
             where $6::bigint is not null and user_id = $2 and status in ",
        unfinished!(),
        "
         ),
         existing_conversation as (
             update conversations set turn_seq = turn_seq + 1
             where $3::bigint is not null and id = $3 and user_id = $2
               and not exists (select 1 from seen) and (select ok from room)
             returning id, turn_seq
         ),
         new_conversation as (
             insert into conversations (user_id, title, turn_seq)
             select id, $5, 1 from users
             where $3::bigint is null and id = $2
               and not exists (select 1 from seen) and (select ok from room)
             returning id, turn_seq
         ),
         target as (
             select id, turn_seq from existing_conversation
             union all
             select id, turn_seq from new_conversation
         )
         insert into chat_requests (request_id, user_id, conversation_id, turn, message, reply_to)
         select $1, $2, id, turn_seq, $4, $7 from target
         on conflict (request_id) do nothing
         returning ",
        request_columns!()
    ))
    .bind(request_id)
    .bind(user_id)
    .bind(conversation_id)
    .bind(message)
    .bind(title)
    .bind(max_in_flight.map(i64::from))
    .bind(reply_to)
    .fetch_optional(pool)
    .await?;
    if let Some(record) = inserted {
        return Ok(Accepted::New(record));
    }
    // Not inserted: a duplicate request id, the in-flight limit, or nothing to attach it to.
    let mut conn = pool.acquire().await?;
    if conversation_id.is_none() {
        // Two concurrent copies of one request may both have opened a conversation before one of
        // them stored the request: the other conversation has no request at all. (A conversation
        // and its first request commit together, so a committed one without requests is such a
        // leftover.)
        sqlx::query(
            "delete from conversations c where c.user_id = $1 and c.turn_seq = 1
               and c.created_at > now() - interval '10 minutes'
               and not exists (select 1 from chat_requests r where r.conversation_id = c.id)",
        )
        .bind(user_id)
        .execute(&mut *conn)
        .await?;
    }
    let existing = find_request(&mut conn, request_id).await?;
    if existing.is_none()
        && let Some(limit) = max_in_flight
        && in_flight(&mut conn, user_id).await? >= i64::from(limit)
    {
        return Ok(Accepted::TooManyInFlight);
    }
    Ok(match existing {
        Some(r) if r.user_id == user_id => Accepted::Existing(r),
        Some(_) => Accepted::ConversationNotFound,
        None if conversation_id.is_some() => Accepted::ConversationNotFound,
        None => Accepted::UserNotFound,
    })
}

/// A new chat request for [`accept_many`].
#[derive(Debug, Clone)]
pub struct NewRequest {
    pub request_id: Uuid,
    pub user_id: Uuid,
    pub conversation_id: Option<i64>,
    pub message: String,
    pub reply_to: Option<String>,
}

/// [`accept`]'s common case for several requests in one statement: returns the records of those
/// it stored. At most one request per user and per conversation (the caller's to ensure): turns
/// of one conversation are numbered one at a time, and a user's in-flight count is read once.
/// A request it did not store (a duplicate, over the in-flight limit, no such conversation or
/// user, or a concurrent copy) is for [`accept`], which says why.
///
/// A new conversation's id is drawn from its sequence up front, so each stored row comes straight
/// from its input row: joining the statement's intermediate results back to the input made
/// Postgres, which estimates each of them at one row, compare every pair (26 ms for 64 new
/// conversations instead of ~3.5).
pub async fn accept_many(
    pool: &PgPool,
    requests: &[NewRequest],
    max_in_flight: Option<u32>,
) -> sqlx::Result<Vec<ChatRequestRecord>> {
    let mut sorted: Vec<&NewRequest> = requests.iter().collect();
    // one lock order for every batch
    sorted.sort_by_key(|r| (r.conversation_id, r.request_id));
    let messages: Vec<&str> = sorted.iter().map(|r| r.message.trim()).collect();
    let titles: Vec<String> = messages
        .iter()
        .map(|m| m.chars().take(80).collect())
        .collect();
    sqlx::query_as(concat!(
        "with input as (
             select * from unnest($1::uuid[], $2::uuid[], $3::bigint[], $4::text[], $5::text[],
                                  $6::text[])
                 as i(rid, uid, cid, msg, title, reply)
         ),
         ok as (
             select i.*, case when i.cid is null
                              then nextval(pg_get_serial_sequence('conversations', 'id'))
                         end as new_cid
             from input i
             where not exists (select 1 from chat_requests s where s.request_id = i.rid)
               and (i.cid is not null or exists (select 1 from users u where u.id = i.uid))
               and ($7::bigint is null
                    or (select count(*) from chat_requests f
                        where f.user_id = i.uid and f.status in ",
        unfinished!(),
        ") < $7)
         ),
         existing_conversation as (
             update conversations c set turn_seq = c.turn_seq + 1
             from ok where ok.cid is not null and c.id = ok.cid and c.user_id = ok.uid
             returning ok.rid, ok.uid, c.id, c.turn_seq, ok.msg, ok.reply
         ),
         new_conversation as (
             insert into conversations (id, user_id, title, turn_seq) overriding system value
             select new_cid, uid, title, 1 from ok where cid is null
         )
         insert into chat_requests (request_id, user_id, conversation_id, turn, message, reply_to)
         select rid, uid, id, turn_seq, msg, reply from existing_conversation
         union all
         select rid, uid, new_cid, 1, msg, reply from ok where cid is null
         on conflict (request_id) do nothing
         returning ",
        request_columns!()
    ))
    .bind(sorted.iter().map(|r| r.request_id).collect::<Vec<_>>())
    .bind(sorted.iter().map(|r| r.user_id).collect::<Vec<_>>())
    .bind(sorted.iter().map(|r| r.conversation_id).collect::<Vec<_>>())
    .bind(messages)
    .bind(titles)
    .bind(
        sorted
            .iter()
            .map(|r| r.reply_to.as_deref())
            .collect::<Vec<_>>(),
    )
    .bind(max_in_flight.map(i64::from))
    .fetch_all(pool)
    .await
}

/// The user's unanswered (`queued` or `running`) requests.
pub async fn in_flight(conn: &mut PgConnection, user_id: Uuid) -> sqlx::Result<i64> {
    sqlx::query_scalar(concat!(
        "select count(*) from chat_requests where user_id = $1 and status in ",
        unfinished!()
    ))
    .bind(user_id)
    .fetch_one(conn)
    .await
}

/// Outcome of [`begin_turn`].
#[derive(Debug)]
pub enum Begin {
    /// The attempt started (status `running`, attempts counted), with what its agent starts from.
    Started {
        record: ChatRequestRecord,
        start: Box<TurnStart>,
    },
    /// An earlier turn of the conversation is still queued or running, or a live attempt holds
    /// this one.
    Blocked(ChatRequestRecord),
    /// The turn already finished.
    Finished(ChatRequestRecord),
    /// No such request for this user.
    Missing,
}

/// Starts an attempt of a turn if it is unfinished, no live attempt holds it, and every earlier
/// turn of its conversation has finished, stores the turn's user message (once, whatever the
/// number of attempts) and reads what its agent starts from: [`begin_and_start_many`] for one
/// turn. When it cannot start, one more read tells why.
///
/// A `running` turn is held by a live attempt until its `lease_expires_at` (the attempt renews it
/// through its [`Lease`]); after that it may be taken over. Starting gives a lease of `lease`, and
/// reads the history `history` asks for.
pub async fn begin_turn(
    conn: &mut PgConnection,
    request_id: Uuid,
    user_id: Uuid,
    lease: std::time::Duration,
    history: HistoryNeed,
) -> sqlx::Result<Begin> {
    let started = begin_and_start_many(&mut *conn, &[(request_id, user_id)], lease, history)
        .await?
        .pop();
    if let Some((record, start)) = started {
        return Ok(Begin::Started {
            record,
            start: Box::new(start),
        });
    }
    Ok(match find_request(conn, request_id).await? {
        Some(r) if r.user_id != user_id => Begin::Missing,
        Some(r) if r.is_finished() => Begin::Finished(r),
        Some(r) => Begin::Blocked(r),
        None => Begin::Missing,
    })
}

/// The `(request_id, user_id)` pairs of a batch as the two arrays the starting statements take,
/// sorted: every batch locks its rows in one order, so two batches cannot deadlock.
fn in_lock_order(turns: &[(Uuid, Uuid)]) -> (Vec<Uuid>, Vec<Uuid>) {
    let mut sorted = turns.to_vec();
    sorted.sort_unstable();
    sorted.into_iter().unzip()
}

/// Starts what it can of `turns` (`(request_id, user_id)`, see [`begin_turn`]) in one statement
/// and returns each started turn's record with what its agent starts from, ordered by request id.
/// The history (as much as `history` asks for) is read in the statement's snapshot, before the
/// user messages it stores (and the turn's own message is left out). A turn it did not start is
/// finished, blocked by an earlier turn or a live attempt, or missing: [`begin_turn`] tells which.
pub async fn begin_and_start_many<'e>(
    executor: impl sqlx::PgExecutor<'e>,
    turns: &[(Uuid, Uuid)],
    lease: std::time::Duration,
    history: HistoryNeed,
) -> sqlx::Result<Vec<(ChatRequestRecord, TurnStart)>> {
    let (request_ids, user_ids) = in_lock_order(turns);
    let rows: Vec<BeginStartRow> = sqlx::query_as(concat!(
        "with ",
        start_requests!(),
        ",",
        store_user_messages!(),
        "
         select s.request_id as turn_request_id, s.user_id as turn_user_id,
                s.conversation_id as turn_conversation_id, s.turn as turn_number,
                case when coalesce(h.rank, 1) = 1 then s.message end as turn_message,
                s.status as turn_status, s.attempts as turn_attempts, s.result as turn_result,
                s.reply_to as turn_reply_to, s.cancel_requested as turn_cancel_requested, ",
        start_columns!(),
        "
         from started s",
        start_joins!("$6", "$7"),
        "
         order by s.request_id, h.rank"
    ))
    .bind(request_ids)
    .bind(user_ids)
    .bind(lease.as_secs_f64())
    .bind(TurnStatus::Running)
    .bind(TurnStatus::Queued)
    .bind(history.limit())
    .bind(history.role())
    .fetch_all(executor)
    .await?;
    let mut started: Vec<(ChatRequestRecord, TurnStart, bool)> = Vec::new();
    for row in rows {
        let BeginStartRow { turn, start } = row;
        if started
            .last()
            .is_none_or(|(record, _, _)| record.request_id != turn.turn_request_id)
        {
            started.push((turn.into_record(), TurnStart::empty(), false));
        }
        if let Some((record, into, clocked)) = started.last_mut() {
            start.add_to(into, clocked, record);
        }
    }
    Ok(started
        .into_iter()
        .map(|(record, mut start, _)| {
            // newest first from the query; the agent reads oldest first
            start.history.reverse();
            (record, start)
        })
        .collect())
}

/// Unfinished requests nothing has touched for `stale_after`, oldest first, at most `limit`,
/// each marked `queued` and touched so the next scan skips them for another `stale_after`.
/// Concurrent reconcilers take disjoint rows.
pub async fn claim_stale(
    pool: &PgPool,
    stale_after: std::time::Duration,
    limit: i64,
) -> sqlx::Result<Vec<ChatRequestRecord>> {
    sqlx::query_as(concat!(
        "update chat_requests set status = $3, lease_expires_at = null, updated_at = now()
         where request_id in (
             select request_id from chat_requests
             where status in ",
        unfinished!(),
        " and updated_at < now() - make_interval(secs => $1)
             order by updated_at limit $2
             for update skip locked
         )
         returning ",
        request_columns!()
    ))
    .bind(stale_after.as_secs_f64())
    .bind(limit)
    .bind(TurnStatus::Queued)
    .fetch_all(pool)
    .await
}

/// A message the workers gave up on.
#[derive(Debug, Clone)]
pub struct DeadLetter<'a> {
    pub request_id: Option<Uuid>,
    pub user_id: Option<Uuid>,
    pub reason: &'a str,
    pub cause: &'a str,
    pub deliveries: i64,
    pub payload: &'a [u8],
}

/// Largest payload kept in a dead-letter record.
pub const DEAD_LETTER_PAYLOAD_MAX: usize = 64 * 1024;

/// Records a message the workers gave up on, for operators.
pub async fn record_dead_letter(pool: &PgPool, letter: &DeadLetter<'_>) -> sqlx::Result<()> {
    let payload = &letter.payload[..letter.payload.len().min(DEAD_LETTER_PAYLOAD_MAX)];
    sqlx::query(
        "insert into dead_letters (request_id, user_id, reason, cause, deliveries, payload)
         values ($1, $2, $3, $4, $5, $6)",
    )
    .bind(letter.request_id)
    .bind(letter.user_id)
    .bind(letter.reason)
    .bind(letter.cause)
    .bind(letter.deliveries)
    .bind(String::from_utf8_lossy(payload).replace('\0', "\u{fffd}"))
    .execute(pool)
    .await?;
    Ok(())
}

/// What a turn's agent starts from: the earlier messages of the conversation, the user's clock,
/// and the bulk change the previous turn asked to confirm.
#[derive(Debug, Clone)]
pub struct TurnStart {
    /// The earlier messages of the conversation its [`HistoryNeed`] asked for, oldest first.
    pub history: Vec<Message>,
    pub clock: crate::when::Clock,
    /// Stored with the conversation; only valid for the turn right after the one that asked.
    pub pending: Option<crate::tools::PendingAction>,
}

/// One row of [`begin_and_start_many`]: the started turn (its message only on its first row) and
/// a [`TurnStartRow`].
#[derive(sqlx::FromRow)]
struct BeginStartRow {
    #[sqlx(flatten)]
    turn: StartedTurnRow,
    #[sqlx(flatten)]
    start: TurnStartRow,
}

#[derive(sqlx::FromRow)]
struct StartedTurnRow {
    turn_request_id: Uuid,
    turn_user_id: Uuid,
    turn_conversation_id: i64,
    turn_number: i64,
    turn_message: Option<String>,
    turn_status: TurnStatus,
    turn_attempts: i32,
    turn_result: Option<sqlx::types::Json<Value>>,
    turn_reply_to: Option<String>,
    turn_cancel_requested: bool,
}

impl StartedTurnRow {
    fn into_record(self) -> ChatRequestRecord {
        ChatRequestRecord {
            request_id: self.turn_request_id,
            user_id: self.turn_user_id,
            conversation_id: self.turn_conversation_id,
            turn: self.turn_number,
            message: self.turn_message.unwrap_or_default(),
            status: self.turn_status,
            attempts: self.turn_attempts,
            result: self.turn_result,
            reply_to: self.turn_reply_to,
            cancel_requested: self.turn_cancel_requested,
        }
    }
}

/// A turn's context (the same on each of its rows) and one history message, if it has any.
#[derive(sqlx::FromRow)]
struct TurnStartRow {
    timezone: Option<String>,
    date_order: Option<String>,
    pending_action: Option<sqlx::types::Json<crate::tools::PendingAction>>,
    id: Option<i64>,
    role: Option<String>,
    content: Option<String>,
    tool_calls: Option<sqlx::types::Json<Value>>,
    request_id: Option<Uuid>,
    created_at: Option<DateTime<Utc>>,
    stopped: Option<bool>,
    agent_state: Option<sqlx::types::Json<Value>>,
}

impl TurnStartRow {
    /// Adds this row to `record`'s start: its clock and pending change from the first row
    /// (`clocked` says whether that was done), its history message (newest first).
    fn add_to(self, start: &mut TurnStart, clocked: &mut bool, record: &ChatRequestRecord) {
        if !*clocked {
            *clocked = true;
            start.clock = crate::when::Clock::of_user(
                self.timezone.as_deref().unwrap_or("UTC"),
                self.date_order.as_deref().unwrap_or("dmy"),
            );
            start.pending = self
                .pending_action
                .map(|p| p.0)
                .filter(|p| p.turn == record.turn - 1);
        }
        let message = (|| {
            Some(Message {
                id: self.id?,
                conversation_id: record.conversation_id,
                role: self.role?,
                content: self.content?,
                tool_calls: self.tool_calls?,
                request_id: self.request_id?,
                created_at: self.created_at?,
                stopped: self.stopped?,
                agent_state: self.agent_state,
            })
        })();
        start.history.extend(message);
    }
}

impl TurnStart {
    /// No history, the default clock, nothing pending.
    fn empty() -> Self {
        Self {
            history: Vec::new(),
            clock: crate::when::Clock::of_user("UTC", "dmy"),
            pending: None,
        }
    }
}

/// Stores the assistant's reply (with the agent's state) and the final event and marks the turn
/// done: one statement, so all of it happens or none.
pub async fn finish(
    pool: &PgPool,
    record: &ChatRequestRecord,
    response: &str,
    tool_calls: &Value,
    final_event: &Value,
    agent_state: Option<&Value>,
) -> sqlx::Result<()> {
    let turn = FinishedTurn {
        request_id: record.request_id,
        user_id: record.user_id,
        conversation_id: record.conversation_id,
        response: response.to_owned(),
        tool_calls: tool_calls.clone(),
        final_event: final_event.clone(),
        agent_state: agent_state.cloned(),
    };
    finish_many(pool, std::slice::from_ref(&turn)).await
}

/// One finished turn for [`finish_many`]: what [`finish`] stores for it.
#[derive(Debug, Clone)]
pub struct FinishedTurn {
    pub request_id: Uuid,
    pub user_id: Uuid,
    pub conversation_id: i64,
    pub response: String,
    pub tool_calls: Value,
    pub final_event: Value,
    pub agent_state: Option<Value>,
}

impl FinishedTurn {
    /// A turn of `user_id` that ends with `response` after `tool_calls`: the row to store and the
    /// `done` event it stores (what a redelivery replays, and what the worker publishes). Every
    /// way a turn finishes builds both here, so the stored row and the published event agree.
    pub fn done(
        request_id: Uuid,
        user_id: Uuid,
        conversation_id: i64,
        response: String,
        tool_calls: Vec<crate::schema::ToolCall>,
        agent_state: Option<Value>,
    ) -> serde_json::Result<(Self, crate::schema::ChatEvent)> {
        use crate::schema::{ChatEvent, EventBody};
        let done = ChatEvent::new(
            request_id,
            EventBody::Done {
                conversation_id,
                response: response.clone(),
                tool_calls,
            },
        );
        let final_event = serde_json::to_value(&done)?;
        // the calls as the event has them: serialised once
        let tool_calls = final_event
            .get("tool_calls")
            .cloned()
            .unwrap_or_else(|| Value::Array(Vec::new()));
        let row = Self {
            request_id,
            user_id,
            conversation_id,
            response,
            tool_calls,
            final_event,
            agent_state,
        };
        Ok((row, done))
    }
}

/// [`finish`] for several turns in one statement (one round trip): the group commit of the
/// worker's finishing turns. All of them are stored, or none (the caller then finishes them one by
/// one, so one bad row cannot hold back the others). On a pool it commits by itself; in a
/// transaction it commits with whatever else that transaction does (the built-in agent's last
/// tool call: the effect, the reply and `done` in one commit).
pub async fn finish_many<'c>(
    executor: impl sqlx::PgExecutor<'c>,
    turns: &[FinishedTurn],
) -> sqlx::Result<()> {
    if turns.is_empty() {
        return Ok(());
    }
    let mut sorted: Vec<&FinishedTurn> = turns.iter().collect();
    // one lock order for every batch
    sorted.sort_by_key(|t| t.request_id);
    sqlx::query(
        "with input as (
             select * from unnest($1::uuid[], $2::uuid[], $3::bigint[], $4::text[], $5::jsonb[],
                                  $6::jsonb[], $7::jsonb[])
                 as i(request_id, user_id, conversation_id, response, tool_calls, final_event,
                      agent_state)
         ),
         stored as (
             insert into messages (conversation_id, user_id, role, content, tool_calls, request_id,
                                   agent_state, created_at)
             select conversation_id, user_id, 'assistant', response, tool_calls, request_id,
                    agent_state, clock_timestamp()
             from input
             on conflict (request_id, role) do nothing
         ),
         finished as (
             update chat_requests r
             set status = $8, result = i.final_event, error = null, lease_expires_at = null
             from input i where r.request_id = i.request_id
         ),
         journal as (delete from turn_steps where request_id in (select request_id from input))
         update conversations c set updated_at = now()
         where c.id in (select conversation_id from input)",
    )
    .bind(sorted.iter().map(|t| t.request_id).collect::<Vec<_>>())
    .bind(sorted.iter().map(|t| t.user_id).collect::<Vec<_>>())
    .bind(sorted.iter().map(|t| t.conversation_id).collect::<Vec<_>>())
    .bind(
        sorted
            .iter()
            .map(|t| t.response.as_str())
            .collect::<Vec<_>>(),
    )
    .bind(
        sorted
            .iter()
            .map(|t| sqlx::types::Json(&t.tool_calls))
            .collect::<Vec<_>>(),
    )
    .bind(
        sorted
            .iter()
            .map(|t| sqlx::types::Json(&t.final_event))
            .collect::<Vec<_>>(),
    )
    .bind(
        sorted
            .iter()
            .map(|t| t.agent_state.as_ref().map(sqlx::types::Json))
            .collect::<Vec<_>>(),
    )
    .bind(TurnStatus::Done)
    .execute(executor)
    .await?;
    Ok(())
}

/// Deletes a request that was stored but could not be queued (the client was told to retry),
/// unless a worker has already started it.
pub async fn forget(pool: &PgPool, request_id: Uuid) -> sqlx::Result<()> {
    sqlx::query("delete from chat_requests where request_id = $1 and status = $2 and attempts = 0")
        .bind(request_id)
        .bind(TurnStatus::Queued)
        .execute(pool)
        .await?;
    Ok(())
}

/// Marks a turn failed with the event sent to the user and the cause for operators.
/// Only the request's own user's request is touched: a message naming another user cannot fail
/// somebody else's turn.
pub async fn fail(
    pool: &PgPool,
    request_id: Uuid,
    user_id: Uuid,
    final_event: &Value,
    cause: &str,
) -> sqlx::Result<()> {
    sqlx::query(
        "with journal as (
             delete from turn_steps where request_id = $1 and exists (
                 select 1 from chat_requests where request_id = $1 and user_id = $4 and status <> $5))
         update chat_requests set status = $6, result = $2, error = $3, lease_expires_at = null
         where request_id = $1 and user_id = $4 and status <> $5",
    )
    .bind(request_id)
    .bind(sqlx::types::Json(final_event))
    .bind(cause)
    .bind(user_id)
    .bind(TurnStatus::Done)
    .bind(TurnStatus::Failed)
    .execute(pool)
    .await?;
    Ok(())
}

/// Outcome of [`request_cancel`].
#[derive(Debug)]
pub enum CancelRequest {
    /// The turn is unfinished and now marked: no worker runs it (any further).
    Marked(ChatRequestRecord),
    /// The turn had already finished: nothing to stop.
    Finished(ChatRequestRecord),
    /// No such request for this user.
    NotFound,
}

/// Marks an unfinished turn of the user as cancelled-by-request. Workers check the mark when they
/// start or resume a turn; the one running it is also told over NATS.
pub async fn request_cancel(
    pool: &PgPool,
    user_id: Uuid,
    request_id: Uuid,
) -> sqlx::Result<CancelRequest> {
    let marked: Option<ChatRequestRecord> = sqlx::query_as(concat!(
        "update chat_requests set cancel_requested_at = coalesce(cancel_requested_at, now())
         where request_id = $1 and user_id = $2 and status in ",
        unfinished!(),
        " returning ",
        request_columns!()
    ))
    .bind(request_id)
    .bind(user_id)
    .fetch_optional(pool)
    .await?;
    if let Some(record) = marked {
        return Ok(CancelRequest::Marked(record));
    }
    let mut conn = pool.acquire().await?;
    Ok(match find_request(&mut conn, request_id).await? {
        Some(r) if r.user_id == user_id && r.is_finished() => CancelRequest::Finished(r),
        // Finished meanwhile is handled above; unfinished but not marked cannot happen.
        _ => CancelRequest::NotFound,
    })
}

/// Who ends a turn as cancelled: the attempt running it, or (for a turn no live attempt holds)
/// anybody.
#[derive(Debug, Clone, Copy)]
pub enum Stopper {
    /// The attempt with this number, holding the lease.
    Attempt(i32),
    /// Only if the turn is queued or its lease has expired (the api, for a turn still waiting).
    Idle,
}

/// Ends an unfinished turn as `cancelled`: keeps the user's message and the partial reply (marked
/// stopped) in the conversation, stores the `cancelled` event as the final one, and returns it.
/// `tool_calls` are the calls already applied (`None`: read them from the recorded effects).
/// `None` when the turn was not `stopper`'s to end (finished meanwhile, or a live attempt holds it).
pub async fn stop(
    pool: &PgPool,
    record: &ChatRequestRecord,
    partial: &str,
    tool_calls: Option<Vec<crate::schema::ToolCall>>,
    stopper: Stopper,
) -> sqlx::Result<Option<crate::schema::ChatEvent>> {
    use crate::schema::{ChatEvent, EventBody, ToolCall};
    let mut tx = pool.begin().await?;
    let row: Option<(TurnStatus, i32, bool)> = sqlx::query_as(
        "select status, attempts, coalesce(lease_expires_at < now(), true)
         from chat_requests where request_id = $1 for no key update",
    )
    .bind(record.request_id)
    .fetch_optional(&mut *tx)
    .await?;
    let ours = match (row, stopper) {
        (Some((TurnStatus::Running, attempts, _)), Stopper::Attempt(a)) => attempts == a,
        (Some((TurnStatus::Queued, _, _)), Stopper::Idle) => true,
        (Some((TurnStatus::Running, _, expired)), Stopper::Idle) => expired,
        _ => false,
    };
    if !ours {
        return Ok(None);
    }
    let tool_calls = match tool_calls {
        Some(calls) => calls,
        None => recorded_effects(&mut *tx, record.request_id)
            .await?
            .into_iter()
            .map(|e| ToolCall {
                tool: e.tool,
                arguments: e.arguments.0,
                result: e.result.0,
            })
            .collect(),
    };
    let event = ChatEvent::new(
        record.request_id,
        EventBody::Cancelled {
            conversation_id: record.conversation_id,
            response: partial.to_owned(),
            tool_calls: tool_calls.clone(),
        },
    );
    let event_value = serde_json::to_value(&event).map_err(|e| sqlx::Error::Encode(e.into()))?;
    sqlx::query(
        "with user_message as (
             insert into messages (conversation_id, user_id, role, content, request_id)
             values ($1, $2, 'user', $3, $4) on conflict (request_id, role) do nothing
         ),
         reply as (
             insert into messages (conversation_id, user_id, role, content, tool_calls, request_id, stopped)
             values ($1, $2, 'assistant', $5, $6, $4, true) on conflict (request_id, role) do nothing
         ),
         cancelled as (
             update chat_requests set status = $8, result = $7, error = null, lease_expires_at = null
             where request_id = $4
         ),
         journal as (delete from turn_steps where request_id = $4)
         update conversations set updated_at = now() where id = $1",
    )
    .bind(record.conversation_id)
    .bind(record.user_id)
    .bind(&record.message)
    .bind(record.request_id)
    .bind(partial)
    .bind(sqlx::types::Json(&tool_calls))
    .bind(sqlx::types::Json(&event_value))
    .bind(TurnStatus::Cancelled)
    .execute(&mut *tx)
    .await?;
    tx.commit().await?;
    Ok(Some(event))
}

/// Renames a conversation of the user; `None` when it is not the user's.
pub async fn rename_conversation(
    pool: &PgPool,
    user_id: Uuid,
    conversation_id: i64,
    title: &str,
) -> sqlx::Result<Option<Conversation>> {
    sqlx::query_as(
        "update conversations set title = $3, updated_at = now() where id = $1 and user_id = $2
         returning id, title, created_at, updated_at",
    )
    .bind(conversation_id)
    .bind(user_id)
    .bind(title)
    .fetch_optional(pool)
    .await
}

/// Outcome of [`delete_conversation`].
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Deleted {
    Deleted,
    NotFound,
    /// A turn of it is still queued or running: stop it or wait for it first.
    Busy,
}

/// Deletes a conversation of the user with its messages and finished requests (task changes its
/// turns made stay; their history keeps the request id).
pub async fn delete_conversation(
    pool: &PgPool,
    user_id: Uuid,
    conversation_id: i64,
) -> sqlx::Result<Deleted> {
    let mut tx = pool.begin().await?;
    let owned: Option<i64> = sqlx::query_scalar(
        "select id from conversations where id = $1 and user_id = $2 for update",
    )
    .bind(conversation_id)
    .bind(user_id)
    .fetch_optional(&mut *tx)
    .await?;
    if owned.is_none() {
        return Ok(Deleted::NotFound);
    }
    let busy: bool = sqlx::query_scalar(concat!(
        "select exists(select 1 from chat_requests where conversation_id = $1 and status in ",
        unfinished!(),
        ")"
    ))
    .bind(conversation_id)
    .fetch_one(&mut *tx)
    .await?;
    if busy {
        return Ok(Deleted::Busy);
    }
    sqlx::query("delete from conversations where id = $1")
        .bind(conversation_id)
        .execute(&mut *tx)
        .await?;
    tx.commit().await?;
    Ok(Deleted::Deleted)
}

/// One tool call of a journaled model step, as the model gave it.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct StepCall {
    pub id: String,
    pub name: String,
    /// The arguments' JSON text, unparsed (a model may send malformed JSON).
    pub arguments: String,
}

/// A journaled model step: what the model answered, before any of its tools ran.
#[derive(Debug, Clone, PartialEq, Eq, sqlx::FromRow)]
pub struct TurnStep {
    pub step: i32,
    pub content: String,
    pub tool_calls: sqlx::types::Json<Vec<StepCall>>,
}

/// The turn's journal, in step order.
pub async fn turn_steps(pool: &PgPool, request_id: Uuid) -> sqlx::Result<Vec<TurnStep>> {
    sqlx::query_as(
        "select step, content, tool_calls from turn_steps where request_id = $1 order by step",
    )
    .bind(request_id)
    .fetch_all(pool)
    .await
}

/// Journals a model step before its tools run. When the step is already journaled (another
/// attempt got there first), the journaled one is returned: the journal wins, a step is never
/// re-decided.
pub async fn record_step(
    pool: &PgPool,
    request_id: Uuid,
    step: i32,
    content: &str,
    calls: &[StepCall],
) -> sqlx::Result<TurnStep> {
    let inserted: Option<TurnStep> = sqlx::query_as(
        "insert into turn_steps (request_id, step, content, tool_calls) values ($1, $2, $3, $4)
         on conflict (request_id, step) do nothing
         returning step, content, tool_calls",
    )
    .bind(request_id)
    .bind(step)
    .bind(content)
    .bind(sqlx::types::Json(calls))
    .fetch_optional(pool)
    .await?;
    match inserted {
        Some(step) => Ok(step),
        None => sqlx::query_as(
            "select step, content, tool_calls from turn_steps where request_id = $1 and step = $2",
        )
        .bind(request_id)
        .bind(step)
        .fetch_one(pool)
        .await,
    }
}

/// A tool effect recorded for a turn, replayed on redelivery.
#[derive(Debug, Clone, sqlx::FromRow)]
pub struct RecordedEffect {
    pub call_index: i32,
    pub tool: String,
    pub arguments: sqlx::types::Json<Value>,
    pub result: sqlx::types::Json<Value>,
}

/// The tool effects recorded for a turn by earlier attempts, in call order (on the pool, or inside
/// a transaction).
pub async fn recorded_effects<'e>(
    executor: impl sqlx::PgExecutor<'e>,
    request_id: Uuid,
) -> sqlx::Result<Vec<RecordedEffect>> {
    sqlx::query_as(
        "select call_index, tool, arguments, result from tool_effects where request_id = $1 order by call_index",
    )
    .bind(request_id)
    .fetch_all(executor)
    .await
}

/// A tool effect to record (see [`record_effects`]).
#[derive(Debug, Clone)]
pub struct NewEffect<'a> {
    pub request_id: Uuid,
    pub call_index: i32,
    pub tool: &'a str,
    pub arguments: &'a Value,
    pub result: &'a Value,
}

/// Records tool effects, any number in one statement; call inside the transaction that made the
/// effects.
pub async fn record_effects(
    conn: &mut PgConnection,
    effects: &[NewEffect<'_>],
) -> sqlx::Result<()> {
    if effects.is_empty() {
        return Ok(());
    }
    let request_ids: Vec<Uuid> = effects.iter().map(|e| e.request_id).collect();
    let indexes: Vec<i32> = effects.iter().map(|e| e.call_index).collect();
    let tools: Vec<&str> = effects.iter().map(|e| e.tool).collect();
    let arguments: Vec<sqlx::types::Json<&Value>> = effects
        .iter()
        .map(|e| sqlx::types::Json(e.arguments))
        .collect();
    let results: Vec<sqlx::types::Json<&Value>> = effects
        .iter()
        .map(|e| sqlx::types::Json(e.result))
        .collect();
    sqlx::query(
        "insert into tool_effects (request_id, call_index, tool, arguments, result)
         select * from unnest($1::uuid[], $2::integer[], $3::text[], $4::jsonb[], $5::jsonb[])",
    )
    .bind(&request_ids)
    .bind(&indexes)
    .bind(&tools)
    .bind(&arguments)
    .bind(&results)
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
        "select id, conversation_id, role, content, tool_calls, request_id, created_at, stopped, agent_state
         from messages where conversation_id = $1 order by created_at, id",
    )
    .bind(conversation_id)
    .fetch_all(pool)
    .await
    .map(Some)
}

#[cfg(test)]
mod status_tests {
    use super::TurnStatus;

    #[test]
    fn the_unfinished_sql_list_names_the_unfinished_statuses() {
        let expected = format!(
            "('{}', '{}')",
            TurnStatus::Queued.as_str(),
            TurnStatus::Running.as_str()
        );
        assert_eq!(unfinished!(), expected);
        let finished: Vec<String> = TurnStatus::ALL
            .iter()
            .filter(|s| s.is_finished())
            .map(|s| format!("'{}'", s.as_str()))
            .collect();
        assert_eq!(finished!(), format!("({})", finished.join(", ")));
        assert!(!TurnStatus::Queued.is_finished() && !TurnStatus::Running.is_finished());
        assert!(TurnStatus::Done.is_finished() && TurnStatus::Failed.is_finished());
    }

    #[test]
    fn a_status_is_text_by_oid_so_no_connection_looks_its_type_up() {
        use sqlx::{Postgres, Type};
        let info = <TurnStatus as Type<Postgres>>::type_info();
        assert_eq!(info, <&str as Type<Postgres>>::type_info());
        assert!(
            info.oid().is_some(),
            "a named type is resolved per connection"
        );
    }
}

#[cfg(test)]
mod finished_tests {
    use super::FinishedTurn;
    use crate::schema::{ChatEvent, EventBody, ToolCall};
    use serde_json::json;
    use uuid::Uuid;

    #[test]
    fn a_finished_turns_row_stores_the_event_it_publishes() {
        let (request_id, user_id) = (Uuid::new_v4(), Uuid::new_v4());
        let calls = vec![ToolCall {
            tool: "add_task".to_owned(),
            arguments: json!({ "title": "buy milk" }),
            result: json!({ "task_id": 7 }),
        }];

        let (row, done) = FinishedTurn::done(
            request_id,
            user_id,
            42,
            "Added \"buy milk\".".to_owned(),
            calls.clone(),
            Some(json!({ "tasks": [7] })),
        )
        .expect("json");

        assert_eq!(
            done,
            ChatEvent::new(
                request_id,
                EventBody::Done {
                    conversation_id: 42,
                    response: "Added \"buy milk\".".to_owned(),
                    tool_calls: calls.clone(),
                },
            )
        );
        assert_eq!(row.final_event, serde_json::to_value(&done).expect("json"));
        assert_eq!(row.tool_calls, serde_json::to_value(&calls).expect("json"));
        assert_eq!(
            (row.request_id, row.user_id, row.conversation_id),
            (request_id, user_id, 42)
        );
        assert_eq!(row.response, "Added \"buy milk\".");
        assert_eq!(row.agent_state, Some(json!({ "tasks": [7] })));
    }
}
