//! One chat turn, from a JetStream message to a stored reply and a `done` event.
//!
//! Steps: parse and validate the request; open its model call early when this worker answered
//! the conversation's previous turn ([`crate::agent::early`]); find (or, for requests published
//! straight to the queue, store) its record; replay the final event if it already finished; wait
//! for earlier turns of the conversation; count the attempt (telling the client to `reset` on a
//! retry); load history; store the user message; run the agent (tools exactly once; the early
//! call is used only if it is exactly the first call the stored conversation asks for); store the
//! reply and mark the turn done in one transaction (for the built-in agent, the transaction of its
//! last tool call); publish `done`. A built-in turn of one step is answered by the batch that starts it
//! ([`crate::batch`]): what is left here is to publish its tool call, reply and `done`.

use std::sync::{Arc, OnceLock};
use std::time::Duration;

use tokio::time::Instant;

use anyhow::anyhow;
use bytes::Bytes;
use sqlx::PgPool;
use todo_common::chat::{self, Accepted, Begin, ChatRequestRecord, Lease};
use todo_common::config::NatsConfig;
use todo_common::schema::{ChatEvent, ChatRequest, EventBody};

use crate::agent::early::{self, Memory};
use crate::agent::openai::EarlyCall;
use crate::agent::{Agent, AgentReply, TurnInput};
use crate::batch::{Answered, Begun, Started};
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
    /// Tasks a user may have.
    pub max_tasks: Option<u32>,
    /// Tokens of the turns running here, tripped when their user stops them.
    pub cancels: crate::cancel::Cancels,
    /// Starts turns, several per statement under load.
    pub starter: crate::batch::Starter,
    /// Stores finished turns, several per statement under load.
    pub finisher: crate::batch::Finisher,
    /// Runs tool calls, several turns' calls per transaction under load.
    pub tools: crate::tools::ToolBatcher,
    /// The conversations this worker answered, for opening the next turn's model call early
    /// (`None`: never; always for the built-in agent).
    pub memory: Option<Memory>,
}

/// Runs the turn carried by `payload`. `first_delivery` is true when JetStream delivers it for the
/// first time (only then may its model call open early, [`crate::agent::early`]); `last_delivery`
/// when it will not deliver it again: a retryable failure then ends the turn with an error for
/// the user. `published` is when
/// the request entered the queue: turn latency and time to first token are measured from it.
/// `lease` receives the turn's lease once this delivery has started the turn: the runner renews
/// it while the turn runs and releases it when handing the turn back.
pub async fn process(
    ctx: &TurnContext,
    payload: &Bytes,
    first_delivery: bool,
    last_delivery: bool,
    published: Instant,
    lease: &OnceLock<Lease>,
) -> Result<(), TurnError> {
    let request: ChatRequest = serde_json::from_slice(payload)
        .map_err(|e| TurnError::fatal("malformed", format!("malformed chat request: {e}")))?;
    // Replies go only under the events prefix: a producer cannot make a worker publish on any
    // other subject (a `reply_to` elsewhere is refused below, and its error goes to the default).
    let events_prefix = format!("{}.events.", ctx.nats_config.subject_prefix);
    let reply_to_ok = request.reply_to.as_deref().is_none_or(|s| {
        s.starts_with(&events_prefix)
            && s.len() > events_prefix.len()
            && !s.contains(['*', '>', ' '])
    });
    let subject = request
        .reply_to
        .clone()
        .filter(|_| reply_to_ok)
        .unwrap_or_else(|| ctx.nats_config.default_event_subject(request.request_id));
    // Registered before the turn starts: a stop published from now on reaches it, and one
    // published earlier is the Postgres mark `begin` reads.
    let registration = ctx.cancels.register(request.request_id);
    let events = EventSink::new(ctx.nats.clone(), subject, request.request_id, published)
        .with_cancel(registration.token())
        .with_changes(&ctx.nats_config.subject_prefix, request.user_id);
    if let Some(id) = request.conversation_id {
        tracing::Span::current().record("conversation_id", id);
    }
    let result = async {
        let valid = request.validate().and_then(|()| {
            if reply_to_ok {
                Ok(())
            } else {
                Err(format!("reply_to must be a subject under {events_prefix}"))
            }
        });
        if let Err(reason) = valid {
            send_error(
                ctx,
                &events,
                request.user_id,
                "invalid_request",
                &reason,
                &reason,
            )
            .await;
            return Err(TurnError::fatal("invalid_request", reason));
        }
        // Opened now, while the turn starts; kept only if the stored conversation asks for
        // exactly this call.
        let early = ctx
            .memory
            .as_ref()
            .filter(|_| first_delivery)
            .and_then(|memory| memory.guess(&request))
            .and_then(|guess| ctx.agent.start_early(&guess, &request.message));
        let (record, start) = match begin(ctx, &request, &events).await? {
            Ok(Some(Begun::Answered(answered))) => {
                tracing::Span::current().record("conversation_id", answered.record.conversation_id);
                return announce(answered, &events).await;
            }
            Ok(Some(Begun::Started(started))) => {
                let _ = lease.set(Lease::of(
                    ctx.db.clone(),
                    &started.record,
                    ctx.nats_config.ack_wait,
                ));
                (started.record, started.start)
            }
            Ok(None) => return Ok(()),
            Err(reason) => {
                send_error(ctx, &events, request.user_id, "not_found", reason, reason).await;
                return Err(TurnError::fatal("not_found", reason));
            }
        };
        tracing::Span::current().record("conversation_id", record.conversation_id);
        run(ctx, record, start, &events, early).await
    }
    .await;
    match result {
        Err(TurnError::Retryable(e)) if last_delivery => {
            let cause = format!("{e:#}");
            send_error(
                ctx,
                &events,
                request.user_id,
                "internal_error",
                "Something went wrong while answering. Please try again.",
                &cause,
            )
            .await;
            Err(TurnError::fatal(
                "retries_exhausted",
                format!("gave up after the last delivery: {cause}"),
            ))
        }
        other => other,
    }
}

/// Starts an attempt of the request's turn: `Ok(Some(begun))` to run it (or, when its start batch
/// answered it, to publish the answer), `Ok(None)` when it had already finished (its final event
/// is replayed), `Err(reason)` when it can never run. Requests published straight to the queue
/// are stored first. Waits (bounded) for earlier turns of the conversation, so turns run in
/// order.
async fn begin(
    ctx: &TurnContext,
    request: &ChatRequest,
    events: &EventSink,
) -> Result<Result<Option<Begun>, &'static str>, TurnError> {
    let started = tokio::time::Instant::now();
    // The common case (a queued turn, nothing before it): started with the turns that start
    // together. Otherwise the loop below finds out why, one by one.
    if let Some(started) = ctx
        .starter
        .submit((request.request_id, request.user_id))
        .await?
    {
        return Ok(Ok(Some(started)));
    }
    let mut waits = 0;
    let mut stored = false;
    loop {
        let mut conn = ctx.db.acquire().await?;
        let lease = ctx.nats_config.ack_wait;
        let history = ctx.agent.history_need();
        match chat::begin_turn(
            &mut conn,
            request.request_id,
            request.user_id,
            lease,
            history,
        )
        .await?
        {
            Begin::Started { record, start } => {
                return Ok(Ok(Some(Begun::Started(Started {
                    record,
                    start: *start,
                }))));
            }
            Begin::Finished(record) => {
                replay(&record, events).await?;
                return Ok(Ok(None));
            }
            Begin::Missing if !stored => {
                drop(conn);
                stored = true;
                match chat::accept(
                    &ctx.db,
                    request.request_id,
                    request.user_id,
                    request.conversation_id,
                    &request.message,
                    request.reply_to.as_deref(),
                    None,
                )
                .await?
                {
                    // Stored: it starts with the turns that start together, as one the api
                    // stored would (a built-in turn of one step is answered there too).
                    Accepted::New(_) => {
                        if let Some(begun) = ctx
                            .starter
                            .submit((request.request_id, request.user_id))
                            .await?
                        {
                            return Ok(Ok(Some(begun)));
                        }
                        continue;
                    }
                    Accepted::Existing(_) | Accepted::ConversationNotFound => {
                        return Ok(Err("conversation not found"));
                    }
                    Accepted::UserNotFound => return Ok(Err("user not found")),
                    Accepted::TooManyInFlight => {
                        return Err(TurnError::Retryable(anyhow!("in-flight limit reached")));
                    }
                }
            }
            Begin::Missing => return Ok(Err("request not found")),
            Begin::Blocked(_) => {
                drop(conn);
                if started.elapsed() > ORDER_WAIT {
                    return Err(TurnError::Retryable(anyhow!(
                        "an earlier turn of the conversation is still unfinished"
                    )));
                }
                waits += 1;
                tokio::time::sleep(todo_common::retry::TURN_ORDER.delay(waits)).await;
            }
        }
    }
}

async fn run(
    ctx: &TurnContext,
    record: ChatRequestRecord,
    start: chat::TurnStart,
    events: &EventSink,
    early: Option<EarlyCall>,
) -> Result<(), TurnError> {
    if record.cancel_requested {
        // Stopped while it waited (or while an earlier attempt ran): it does not run (further).
        return stop(ctx, &record, events, None).await;
    }
    if record.attempts > 1 {
        tracing::info!(attempt = record.attempts, "running the turn again");
        events
            .publish(EventBody::Reset {
                reason: "retrying after an interruption".into(),
            })
            .await?;
    }
    let chat::TurnStart {
        history,
        clock,
        pending,
    } = start;

    let mut tools = ToolExecutor::load(
        ctx.db.clone(),
        ctx.tools.clone(),
        crate::tools::turn_context(&record, clock, ctx.max_tasks),
        record.attempts,
    )
    .await?;
    let input = TurnInput {
        message: &record.message,
        history: &history,
        clock,
        pending: pending.as_ref(),
    };
    let reply = match ctx.agent.run(&input, &mut tools, events, early).await {
        Ok(reply) => reply,
        Err(AgentError::Cancelled) => {
            return stop(ctx, &record, events, Some(tools.into_calls())).await;
        }
        Err(AgentError::Database(e)) => return Err(e.into()),
        Err(AgentError::Publish(e)) => return Err(e.into()),
        Err(e @ (AgentError::TooManyRounds(_) | AgentError::TooManyToolCalls(_))) => {
            tracing::warn!(error = %e, agent = ctx.agent.name(), "turn exceeded its limits");
            let message = match e {
                AgentError::TooManyToolCalls(n) => format!(
                    "That request needed more than {n} task operations in one go, so I stopped. Your message was saved; try asking for fewer changes at once."
                ),
                _ => "That request needed too many steps, so I stopped. Your message was saved; try asking for it in smaller parts.".to_owned(),
            };
            send_error(
                ctx,
                events,
                record.user_id,
                "turn_limit_exceeded",
                &message,
                &e.to_string(),
            )
            .await;
            return Ok(());
        }
        Err(e @ AgentError::Provider(_)) => {
            tracing::error!(error = %e, agent = ctx.agent.name(), "agent failed");
            let message = "Sorry, the assistant is unavailable right now. Your message was saved; please try again in a moment.";
            send_error(
                ctx,
                events,
                record.user_id,
                "agent_unavailable",
                message,
                &e.to_string(),
            )
            .await;
            return Ok(());
        }
    };
    let tool_calls = tools.into_calls();
    let calls_made = tool_calls.len();
    let done = match reply {
        // stored with the turn's last tool call
        AgentReply::Stored(done) => done,
        AgentReply::Answer { response, state } => {
            let remembered = ctx.memory.as_ref().map(|memory| {
                (
                    memory,
                    response.clone(),
                    early::asks_to_confirm(&tool_calls),
                )
            });
            let (row, done) = chat::FinishedTurn::done(
                record.request_id,
                record.user_id,
                record.conversation_id,
                response,
                tool_calls,
                state,
            )
            .map_err(|e| TurnError::fatal("internal", format!("serializing the reply: {e}")))?;
            ctx.finisher.submit(row).await?;
            if let Some((memory, response, asked)) = remembered {
                memory.remember(&record, &history, clock, asked, &response);
            }
            done
        }
    };
    completed(done, calls_made, events).await
}

/// Publishes what a turn answered in the transaction that started it (its tool call, the
/// reply, `done`), as [`run`] would have along the way.
async fn announce(answered: Answered, events: &EventSink) -> Result<(), TurnError> {
    let Answered { call, done, .. } = answered;
    let calls_made = usize::from(call.is_some());
    if let Some((call, output)) = &call {
        crate::tools::count_call(&call.tool, output);
        events.tool(call, Some(output)).await?;
    }
    if let EventBody::Done { response, .. } = &done.body {
        events.delta(response).await?;
    }
    completed(done, calls_made, events).await
}

/// Publishes a finished turn's stored `done` event and counts the turn.
async fn completed(
    done: todo_common::schema::ChatEvent,
    calls_made: usize,
    events: &EventSink,
) -> Result<(), TurnError> {
    events.publish(done.body).await?;
    metrics::counter!("todo_chat_turns_completed_total").increment(1);
    metrics::histogram!("todo_chat_turn_duration_seconds")
        .record(events.published().elapsed().as_secs_f64());
    tracing::info!(tools = calls_made, "turn done");
    Ok(())
}

/// Ends the turn as stopped by its user: the partial reply and the tools already applied are
/// kept, and the `cancelled` event is stored and published.
async fn stop(
    ctx: &TurnContext,
    record: &ChatRequestRecord,
    events: &EventSink,
    tool_calls: Option<Vec<todo_common::schema::ToolCall>>,
) -> Result<(), TurnError> {
    let partial = events.streamed();
    let stopper = chat::Stopper::Attempt(record.attempts);
    match chat::stop(&ctx.db, record, &partial, tool_calls, stopper).await? {
        Some(event) => {
            events.publish(event.body).await?;
            metrics::counter!("todo_chat_turns_cancelled_total").increment(1);
            tracing::info!("turn stopped by its user");
        }
        None => tracing::info!("turn was stopped elsewhere"),
    }
    Ok(())
}

async fn replay(record: &ChatRequestRecord, events: &EventSink) -> Result<(), TurnError> {
    if let Some(event) = record.final_event() {
        tracing::info!("request already finished: replaying its final event");
        events.publish(event.body).await?;
    }
    Ok(())
}

/// Records that a turn failed and tells the user. The user hears only what Postgres recorded: if
/// the failure cannot be recorded (the database is down), nothing is sent, the turn stays
/// unfinished, and the reconciler runs it again later.
async fn send_error(
    ctx: &TurnContext,
    events: &EventSink,
    user_id: uuid::Uuid,
    code: &str,
    message: &str,
    cause: &str,
) {
    let event = ChatEvent::new(
        events.request_id(),
        EventBody::Error {
            code: code.into(),
            message: message.into(),
        },
    );
    let recorded = match serde_json::to_value(&event) {
        Ok(value) => chat::fail(&ctx.db, events.request_id(), user_id, &value, cause)
            .await
            .map_err(|e| e.to_string()),
        Err(e) => Err(e.to_string()),
    };
    if let Err(e) = recorded {
        tracing::error!(error = %e, cause, "could not record the failed turn; the reconciler will retry it");
        return;
    }
    if let Err(e) = events.publish(event.body).await {
        tracing::error!(error = %e, "could not publish the error event");
    }
    metrics::counter!("todo_chat_turns_failed_total", "code" => code.to_owned()).increment(1);
    tracing::warn!(code, cause, "turn failed");
}
