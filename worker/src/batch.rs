//! Group commit of turns in the worker ([`todo_common::batch`]): starting a turn and reading what
//! its agent starts from, in one statement ([`chat::begin_and_start_many`]; a turn the batch did
//! not start takes the one-by-one path, [`chat::begin_turn`], which tells why), and finishing one
//! ([`chat::finish_many`]; a failed batch is retried turn by turn, so each turn gets its own
//! outcome).
//!
//! With the built-in agent, the batch that starts turns also answers those it can answer in one
//! step ([`BuiltinAgent::one_step`]: a reply, or one tool call and a reply written from its
//! output): the start, the call with its effect record, the reply and `done` commit together.
//! The other turns it started run step by step. If that transaction fails, nothing of it stays,
//! and each turn takes the one-by-one path.

use std::time::Duration;

use sqlx::PgPool;
use todo_common::batch::Batcher;
use todo_common::chat::{self, ChatRequestRecord, FinishedTurn, HistoryNeed, TurnStart};
use todo_common::schema::{ChatEvent, ToolCall};
use todo_common::tools::ToolOutput;
use uuid::Uuid;

use crate::agent::TurnInput;
use crate::agent::builtin::{BuiltinAgent, OneStep};
use crate::tools::{Ran, ToolJob};

/// A started turn, with what its agent starts from.
pub struct Started {
    pub record: ChatRequestRecord,
    pub start: TurnStart,
}

/// A built-in turn answered in the transaction that started it: what is left is to publish.
pub struct Answered {
    pub record: ChatRequestRecord,
    /// Its tool call and the call's output, when it made one.
    pub call: Option<(ToolCall, ToolOutput)>,
    /// The stored `done` event.
    pub done: ChatEvent,
}

/// What a start batch did with a turn.
pub enum Begun {
    /// Started: its agent runs next.
    Started(Started),
    /// Started and finished.
    Answered(Answered),
}

/// Starts turns in batches (`(request_id, user_id)`): `Some` when the batch started the turn,
/// `None` when it did not (the caller's one-by-one path finds out why: finished, blocked,
/// missing).
pub type Starter = Batcher<(Uuid, Uuid), Option<Begun>>;

/// Stores finished turns in batches.
pub type Finisher = Batcher<FinishedTurn, ()>;

/// Starts turns whose agent reads `history` of its conversation.
pub fn starter(pool: PgPool, lease: Duration, history: HistoryNeed) -> Starter {
    Batcher::start("begin", move |turns: Vec<(Uuid, Uuid)>| {
        let pool = pool.clone();
        async move {
            let started = match chat::begin_and_start_many(&pool, &turns, lease, history).await {
                Ok(started) => started
                    .into_iter()
                    .map(|(record, start)| Begun::Started(Started { record, start }))
                    .collect(),
                Err(e) if turns.len() == 1 => return vec![Err(e)],
                // each turn finds its own outcome one by one
                Err(_) => return turns.iter().map(|_| Ok(None)).collect(),
            };
            by_request(&turns, started)
        }
    })
}

/// Starts the built-in agent's turns, and answers in the same transaction those it can answer in
/// one step. `max_tasks`: the tasks a user may have.
pub fn builtin_starter(pool: PgPool, lease: Duration, max_tasks: Option<u32>) -> Starter {
    Batcher::start("begin", move |turns: Vec<(Uuid, Uuid)>| {
        let pool = pool.clone();
        async move {
            match start_and_answer(&pool, &turns, lease, max_tasks).await {
                Ok(begun) => by_request(&turns, begun),
                Err(e) => {
                    // Rolled back whole: each turn finds its own outcome one by one.
                    tracing::warn!(error = %e, turns = turns.len(), "starting a batch of built-in turns failed; starting them one by one");
                    turns.iter().map(|_| Ok(None)).collect()
                }
            }
        }
    })
}

/// One result per turn of `turns`, in order, from what a batch `begun`.
fn by_request(turns: &[(Uuid, Uuid)], mut begun: Vec<Begun>) -> Vec<sqlx::Result<Option<Begun>>> {
    turns
        .iter()
        .map(|(request_id, _)| {
            Ok(begun
                .iter()
                .position(|b| b.record().request_id == *request_id)
                .map(|i| begun.swap_remove(i)))
        })
        .collect()
}

impl Begun {
    fn record(&self) -> &ChatRequestRecord {
        match self {
            Self::Started(s) => &s.record,
            Self::Answered(a) => &a.record,
        }
    }
}

/// What the one-step plan of a turn does in the transaction.
enum Step {
    Runs,
    Calls(usize),
    Replies(Box<ChatEvent>),
}

async fn start_and_answer(
    pool: &PgPool,
    turns: &[(Uuid, Uuid)],
    lease: Duration,
    max_tasks: Option<u32>,
) -> sqlx::Result<Vec<Begun>> {
    let mut tx = pool.begin().await?;
    let started =
        chat::begin_and_start_many(&mut *tx, turns, lease, HistoryNeed::LastReply).await?;
    // A first attempt that was not stopped: a retry replays what earlier attempts recorded, and
    // a stopped turn is ended by the step-by-step path.
    let plans = plan(
        started
            .iter()
            .map(|(record, start)| {
                (record.attempts == 1 && !record.cancel_requested)
                    .then(|| (record.message.clone(), start.clone()))
            })
            .collect(),
    )
    .await;
    let mut jobs = Vec::new();
    let mut replies = Vec::new();
    let mut steps = Vec::with_capacity(started.len());
    for ((record, start), plan) in started.iter().zip(plans) {
        steps.push(match plan {
            None => Step::Runs,
            Some(OneStep::Call { tool, reply }) => {
                let ctx = crate::tools::turn_context(record, start.clock, max_tasks);
                jobs.push(ToolJob::finishing(ctx, &tool, reply));
                Step::Calls(jobs.len() - 1)
            }
            Some(OneStep::Reply { text, state }) => {
                let (row, done) = FinishedTurn::done(
                    record.request_id,
                    record.user_id,
                    record.conversation_id,
                    text,
                    Vec::new(),
                    state,
                )
                .map_err(|e| sqlx::Error::Encode(Box::new(e)))?;
                replies.push(row);
                Step::Replies(Box::new(done))
            }
        });
    }
    let (ran, mut finished) = crate::tools::run_jobs(&mut tx, &jobs).await?;
    finished.append(&mut replies);
    chat::finish_many(&mut *tx, &finished).await?;
    tx.commit().await?;
    let mut ran: Vec<Option<Ran>> = ran.into_iter().map(Some).collect();
    Ok(started
        .into_iter()
        .zip(steps)
        .filter_map(|((record, start), step)| match step {
            Step::Runs => Some(Begun::Started(Started { record, start })),
            Step::Replies(done) => Some(Begun::Answered(Answered {
                record,
                call: None,
                done: *done,
            })),
            // A finishing call always finishes its turn. Were it not so, the turn is left out:
            // the one-by-one path then reads what became of it.
            Step::Calls(i) => match ran[i].take()? {
                Ran {
                    output,
                    result,
                    finished: Some(done),
                } => Some(Begun::Answered(Answered {
                    record,
                    call: Some((jobs[i].recorded(result), output)),
                    done,
                })),
                Ran { finished: None, .. } => None,
            },
        })
        .collect())
}

/// The one-step plans of the turns given (message and start), off the async workers; `None`
/// for a turn not given, one that needs more than one step, or when planning failed.
async fn plan(turns: Vec<Option<(String, TurnStart)>>) -> Vec<Option<OneStep>> {
    let n = turns.len();
    tokio::task::spawn_blocking(move || {
        turns
            .iter()
            .map(|turn| {
                let (message, start) = turn.as_ref()?;
                BuiltinAgent::one_step(&TurnInput {
                    message,
                    history: &start.history,
                    clock: start.clock,
                    pending: start.pending.as_ref(),
                })
            })
            .collect()
    })
    .await
    .unwrap_or_else(|_| (0..n).map(|_| None).collect())
}

pub fn finisher(pool: PgPool) -> Finisher {
    Batcher::start("finish", move |turns: Vec<FinishedTurn>| {
        let pool = pool.clone();
        async move {
            match chat::finish_many(&pool, &turns).await {
                Ok(()) => turns.iter().map(|_| Ok(())).collect(),
                Err(e) if turns.len() == 1 => vec![Err(e)],
                Err(e) => {
                    tracing::warn!(error = %e, turns = turns.len(), "storing a batch of finished turns failed; storing them one by one");
                    let mut results = Vec::with_capacity(turns.len());
                    for turn in &turns {
                        results.push(chat::finish_many(&pool, std::slice::from_ref(turn)).await);
                    }
                    results
                }
            }
        }
    })
}
