//! One chat turn, from a JetStream message to a stored reply and a `done` event.
//!
//! Steps: parse and validate the request; find (or, for requests published straight to the queue,
//! store) its record; replay the final event if it already finished; wait for earlier turns of the
//! conversation; count the attempt (telling the client to `reset` on a retry); load history; store
//! the user message; run the agent (tools exactly once); store the reply and mark the turn done in
//! one transaction; publish `done`.

use std::sync::Arc;
use std::time::Duration;

use anyhow::anyhow;
use bytes::Bytes;
use serde_json::json;
use sqlx::PgPool;
use todo_common::chat::{self, Accepted, ChatRequestRecord};
use todo_common::config::NatsConfig;
use todo_common::schema::{ChatEvent, ChatRequest, EventBody};
use tracing::Instrument;

use crate::agent::Agent;
use crate::error::{AgentError, TurnError};
use crate::events::EventSink;
use crate::tools::ToolExecutor;

/// How long a turn waits for earlier turns of its conversation before handing itself back.
const ORDER_WAIT: Duration = Duration::from_secs(20);

/// What a turn needs from its worker.
pub struct TurnContext {
    pub db: PgPool,
    pub nats: async_nats::Client,
    pub nats_config: NatsConfig,
    pub agent: Arc<Agent>,
}

/// Runs the turn carried by `payload`. `last_delivery` is true when JetStream will not deliver it
/// again: a retryable failure then ends the turn with an error for the user.
pub async fn process(
    ctx: &TurnContext,
    payload: &Bytes,
    last_delivery: bool,
) -> Result<(), TurnError> {
    let request: ChatRequest = serde_json::from_slice(payload)
        .map_err(|e| TurnError::fatal(format!("malformed chat request: {e}")))?;
    let subject = request
        .reply_to
        .clone()
        .filter(|s| !s.is_empty() && !s.contains(['*', '>', ' ']))
        .unwrap_or_else(|| ctx.nats_config.default_event_subject(request.request_id));
    let events = EventSink::new(ctx.nats.clone(), subject, request.request_id);
    let span = tracing::info_span!(
        "turn",
        request_id = %request.request_id,
        user_id = %request.user_id,
        conversation_id = tracing::field::Empty,
    );
    let result = async {
        if let Err(reason) = request.validate() {
            send_error(ctx, &events, "invalid_request", &reason, &reason).await;
            return Err(TurnError::fatal(reason));
        }
        let record = match record_for(ctx, &request).await? {
            Ok(record) => record,
            Err(reason) => {
                send_error(ctx, &events, "not_found", reason, reason).await;
                return Err(TurnError::fatal(reason));
            }
        };
        tracing::Span::current().record("conversation_id", record.conversation_id);
        run(ctx, record, &events).await
    }
    .instrument(span)
    .await;
    match result {
        Err(TurnError::Retryable(e)) if last_delivery => {
            let cause = format!("{e:#}");
            send_error(
                ctx,
                &events,
                "internal_error",
                "Something went wrong while answering. Please try again.",
                &cause,
            )
            .await;
            Err(TurnError::Fatal(anyhow!(
                "gave up after the last delivery: {cause}"
            )))
        }
        other => other,
    }
}

/// The stored record of a request; requests published straight to the queue are stored here.
async fn record_for(
    ctx: &TurnContext,
    request: &ChatRequest,
) -> Result<Result<ChatRequestRecord, &'static str>, TurnError> {
    {
        let mut conn = ctx.db.acquire().await?;
        if let Some(record) = chat::find_request(&mut conn, request.request_id).await? {
            return Ok(if record.user_id == request.user_id {
                Ok(record)
            } else {
                Err("request id belongs to another user")
            });
        }
    }
    Ok(
        match chat::accept(
            &ctx.db,
            request.request_id,
            request.user_id,
            request.conversation_id,
            &request.message,
        )
        .await?
        {
            Accepted::New(r) | Accepted::Existing(r) => Ok(r),
            Accepted::ConversationNotFound => Err("conversation not found"),
            Accepted::UserNotFound => Err("user not found"),
        },
    )
}

async fn run(
    ctx: &TurnContext,
    record: ChatRequestRecord,
    events: &EventSink,
) -> Result<(), TurnError> {
    if record.is_finished() {
        return replay(ctx, &record, events).await;
    }
    wait_for_predecessors(ctx, &record).await?;
    let mut conn = ctx.db.acquire().await?;
    let Some(record) = chat::start_attempt(&mut conn, record.request_id).await? else {
        // Finished meanwhile (a concurrent delivery): replay its result.
        let record = chat::find_request(&mut conn, events.request_id())
            .await?
            .ok_or_else(|| TurnError::fatal("request vanished"))?;
        return replay(ctx, &record, events).await;
    };
    if record.attempts > 1 {
        tracing::info!(attempt = record.attempts, "running the turn again");
        events
            .publish(EventBody::Reset {
                reason: "retrying after an interruption".into(),
            })
            .await?;
    }
    let history = chat::history(&mut conn, record.conversation_id, record.request_id).await?;
    chat::store_user_message(&mut conn, &record).await?;
    drop(conn);

    let mut tools = ToolExecutor::load(ctx.db.clone(), record.user_id, record.request_id).await?;
    let reply = match ctx
        .agent
        .run(&record.message, &history, &mut tools, events)
        .await
    {
        Ok(reply) => reply,
        Err(AgentError::Database(e)) => return Err(e.into()),
        Err(AgentError::Publish(e)) => return Err(e.into()),
        Err(e @ (AgentError::Provider(_) | AgentError::TooManyRounds(_))) => {
            tracing::error!(error = %e, agent = ctx.agent.name(), "agent failed");
            let message = "Sorry, the assistant is unavailable right now. Your message was saved; please try again in a moment.";
            send_error(ctx, events, "agent_unavailable", message, &e.to_string()).await;
            return Ok(());
        }
    };
    let tool_calls = tools.into_calls();
    let done = ChatEvent::new(
        record.request_id,
        EventBody::Done {
            conversation_id: record.conversation_id,
            response: reply.response.clone(),
            tool_calls: tool_calls.clone(),
        },
    );
    let done_value = serde_json::to_value(&done).map_err(|e| TurnError::Fatal(e.into()))?;
    chat::finish(
        &ctx.db,
        &record,
        &reply.response,
        &json!(tool_calls),
        &done_value,
    )
    .await?;
    events.publish(done.body).await?;
    tracing::info!(tools = tool_calls.len(), "turn done");
    Ok(())
}

async fn replay(
    ctx: &TurnContext,
    record: &ChatRequestRecord,
    events: &EventSink,
) -> Result<(), TurnError> {
    let _ = ctx;
    if let Some(result) = &record.result
        && let Ok(event) = serde_json::from_value::<ChatEvent>(result.0.clone())
    {
        tracing::info!("request already finished: replaying its final event");
        events.publish(event.body).await?;
    }
    Ok(())
}

/// Waits until every earlier turn of the conversation has finished (turns run in order).
async fn wait_for_predecessors(
    ctx: &TurnContext,
    record: &ChatRequestRecord,
) -> Result<(), TurnError> {
    let started = tokio::time::Instant::now();
    let mut delay = Duration::from_millis(5);
    loop {
        let mut conn = ctx.db.acquire().await?;
        if !chat::has_unfinished_predecessor(&mut conn, record).await? {
            return Ok(());
        }
        drop(conn);
        if started.elapsed() > ORDER_WAIT {
            return Err(TurnError::Retryable(anyhow!(
                "an earlier turn of the conversation is still unfinished"
            )));
        }
        tokio::time::sleep(delay).await;
        delay = (delay * 2).min(Duration::from_millis(200));
    }
}

/// Tells the user a turn failed and records it; failures to do so are only logged.
async fn send_error(ctx: &TurnContext, events: &EventSink, code: &str, message: &str, cause: &str) {
    let event = ChatEvent::new(
        events.request_id(),
        EventBody::Error {
            code: code.into(),
            message: message.into(),
        },
    );
    if let Ok(value) = serde_json::to_value(&event)
        && let Err(e) = chat::fail(&ctx.db, events.request_id(), &value, cause).await
    {
        tracing::error!(error = %e, "could not record the failed turn");
    }
    if let Err(e) = events.publish(event.body).await {
        tracing::error!(error = %e, "could not publish the error event");
    }
    tracing::warn!(code, cause, "turn failed");
}
