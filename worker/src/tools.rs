//! The turn's journal and the exactly-once executor of its tool calls. The tools themselves
//! (typed args, schemas, one function each) live in [`todo_common::tools`], shared with every
//! front end.
//!
//! Every call is recorded in `tool_effects` under (request id, call index) in the same transaction
//! as its effect. A model-driven turn also journals each model step before its tools run
//! (`turn_steps`): a retried turn replays the journal (recorded calls at their indices, never
//! executed or decided again) and only then asks the model for what comes after. The built-in
//! agent is deterministic: its calls replay by position.
//!
//! Calls run through a group-commit [`ToolBatcher`]: the calls of different turns that arrive
//! while an earlier batch is in Postgres run in one transaction, each followed by its effect
//! record, and commit together. A batch that fails is rolled back whole and its calls run again
//! one transaction each, so every call still gets its own outcome and every effect its record in
//! the same commit.
//!
//! The built-in agent's last call of a turn also finishes the turn in its transaction
//! ([`ToolExecutor::call_and_finish`]): the agent's reply is made from the call's output there, and
//! the effect, the reply and `done` commit together, one commit fewer per turn. A redelivered
//! turn then either finds nothing of that call or finds the turn finished.

use std::collections::BTreeMap;

use serde_json::Value;
use sqlx::PgPool;
use todo_common::batch::Batcher;
use todo_common::chat::{self, FinishedTurn, NewEffect, RecordedEffect, StepCall, TurnStep};
use todo_common::schema::{ChatEvent, ToolCall};
use todo_common::tools::{self, TOOL_NAMES, Tool, ToolContext, ToolOutput};

/// A closed-set metric label for a tool name (a model may invent any name).
fn tool_label(name: &str) -> &'static str {
    TOOL_NAMES
        .iter()
        .find(|n| **n == name)
        .copied()
        .unwrap_or("other")
}

/// What the tools of `record`'s turn run with: its user, `clock`, the turn itself (its effect
/// records are keyed by it) and the user's task limit.
pub fn turn_context(
    record: &chat::ChatRequestRecord,
    clock: todo_common::when::Clock,
    max_tasks: Option<u32>,
) -> ToolContext {
    ToolContext {
        user_id: record.user_id,
        clock,
        source: todo_common::tasks::Source::Chat,
        turn: Some(todo_common::tools::TurnRef {
            request_id: record.request_id,
            conversation_id: record.conversation_id,
            turn: record.turn,
        }),
        max_tasks,
    }
}

/// Logs and counts a call that ran.
pub fn count_call(name: &str, output: &ToolOutput) {
    let label = tool_label(name);
    let outcome = if output.is_error() { "error" } else { "ok" };
    tracing::info!(tool = label, outcome, "tool call");
    metrics::counter!("todo_tool_calls_total", "tool" => label, "outcome" => outcome).increment(1);
}

/// One tool call to run and record: a job of the [`ToolBatcher`].
pub struct ToolJob {
    ctx: ToolContext,
    index: i32,
    name: String,
    arguments: Value,
    /// The parsed call, or why it could not be parsed (recorded as the call's result).
    tool: Result<Tool, tools::ToolError>,
    /// Set on a turn's last call when the turn finishes in the call's transaction.
    finish: Option<Finish>,
}

/// Makes a turn's reply (its text and the agent's state) from its last call's output.
pub type ReplyFn = Box<dyn Fn(&ToolOutput) -> (String, Option<Value>) + Send + Sync>;

/// How a turn's last call finishes the turn: its reply, and the calls made before it.
struct Finish {
    reply: ReplyFn,
    earlier: Vec<ToolCall>,
}

/// A call that ran: its typed output and the JSON result recorded for it.
#[derive(Debug)]
pub struct Ran {
    pub output: ToolOutput,
    pub result: Value,
    /// The turn's `done` event, when this call finished the turn: stored in Postgres with the
    /// call, still to publish.
    pub finished: Option<ChatEvent>,
}

/// Runs tool calls, several turns' calls per transaction under load.
pub type ToolBatcher = Batcher<ToolJob, Ran>;

pub fn batcher(pool: PgPool) -> ToolBatcher {
    Batcher::start("tool", move |jobs: Vec<ToolJob>| {
        let pool = pool.clone();
        async move { run_batch(&pool, &jobs).await }
    })
}

impl ToolJob {
    /// The call `name(arguments)` at `index` of the turn in `ctx` (a call that does not parse is
    /// recorded with its error as its result).
    pub fn new(ctx: ToolContext, index: i32, name: &str, arguments: Value) -> Self {
        Self {
            ctx,
            index,
            name: name.to_owned(),
            tool: Tool::from_call(name, &arguments),
            arguments,
            finish: None,
        }
    }

    /// A turn's first and only call, which finishes the turn in its transaction: `reply` writes
    /// the answer from its output.
    pub fn finishing(ctx: ToolContext, tool: &Tool, reply: ReplyFn) -> Self {
        Self {
            ctx,
            index: 0,
            name: tool.name().to_owned(),
            arguments: tool.arguments(),
            tool: Ok(tool.clone()),
            finish: Some(Finish {
                reply,
                earlier: Vec::new(),
            }),
        }
    }

    /// The call as the turn records it, with the `result` it got.
    pub fn recorded(&self, result: Value) -> ToolCall {
        ToolCall {
            tool: self.name.clone(),
            arguments: self.arguments.clone(),
            result,
        }
    }

    /// The turn this call finishes, built from the call's `ran` output: the row to store and
    /// the `done` event to publish. `None` unless it is a turn's finishing call.
    fn finished(&self, ran: &Ran) -> sqlx::Result<Option<(FinishedTurn, ChatEvent)>> {
        let (Some(finish), Some(turn)) = (&self.finish, self.ctx.turn) else {
            return Ok(None);
        };
        let (response, state) = (finish.reply)(&ran.output);
        let mut calls = finish.earlier.clone();
        calls.push(self.recorded(ran.result.clone()));
        FinishedTurn::done(
            turn.request_id,
            self.ctx.user_id,
            turn.conversation_id,
            response,
            calls,
            state,
        )
        .map(Some)
        .map_err(|e| sqlx::Error::Encode(Box::new(e)))
    }
}

/// Runs a batch of calls, each with its effect record: all in one transaction, or, when that
/// fails, each in its own (so one bad call gets its own error and the others still run). One
/// result per job, in order.
pub async fn run_batch(pool: &PgPool, jobs: &[ToolJob]) -> Vec<sqlx::Result<Ran>> {
    if jobs.len() > 1 {
        match run_in_transaction(pool, jobs).await {
            Ok(outputs) => return outputs.into_iter().map(Ok).collect(),
            Err(e) => {
                tracing::warn!(error = %e, calls = jobs.len(), "a batch of tool calls failed; running them one by one");
            }
        }
    }
    let mut results = Vec::with_capacity(jobs.len());
    for job in jobs {
        results.push(
            run_in_transaction(pool, std::slice::from_ref(job))
                .await
                .map(|mut ran| ran.remove(0)),
        );
    }
    results
}

/// Runs calls in one transaction, in the order of their users (so that two batches running at
/// once take their users' row locks in the same order and cannot deadlock), then records all
/// their effects with one statement before the commit. Returns the outputs in the jobs' order.
async fn run_in_transaction(pool: &PgPool, jobs: &[ToolJob]) -> sqlx::Result<Vec<Ran>> {
    let mut tx = pool.begin().await?;
    let (ran, finished) = run_jobs(&mut tx, jobs).await?;
    chat::finish_many(&mut *tx, &finished).await?;
    tx.commit().await?;
    Ok(ran)
}

/// Runs calls in `tx` (in the order of their users) and records their effects with one
/// statement. Returns the outputs in the jobs' order and the turns they finish, for the caller
/// to store in the same transaction.
pub async fn run_jobs(
    tx: &mut sqlx::PgConnection,
    jobs: &[ToolJob],
) -> sqlx::Result<(Vec<Ran>, Vec<FinishedTurn>)> {
    let mut order: Vec<usize> = (0..jobs.len()).collect();
    order.sort_by_key(|&i| jobs[i].ctx.user_id);
    let mut outputs: Vec<Option<ToolOutput>> = jobs.iter().map(|_| None).collect();
    // Adds that come one after another in this order run as one statement.
    let mut adds: Vec<(usize, AddCall<'_>)> = Vec::new();
    for i in order {
        let job = &jobs[i];
        match &job.tool {
            Ok(Tool::AddTask(args)) => adds.push((i, (&job.ctx, args))),
            Ok(tool) => {
                add_together(tx, &mut adds, &mut outputs).await?;
                outputs[i] = Some(tools::run(tx, &job.ctx, tool).await?);
            }
            Err(e) => outputs[i] = Some(ToolOutput::from(e.clone())),
        }
    }
    add_together(tx, &mut adds, &mut outputs).await?;
    let mut ran: Vec<Ran> = outputs
        .into_iter()
        .flatten()
        .map(|output| Ran {
            result: output.to_value(),
            output,
            finished: None,
        })
        .collect();
    let effects: Vec<NewEffect> = jobs
        .iter()
        .zip(&ran)
        .filter_map(|(job, ran)| {
            job.ctx.turn.map(|turn| NewEffect {
                request_id: turn.request_id,
                call_index: job.index,
                tool: &job.name,
                arguments: &job.arguments,
                result: &ran.result,
            })
        })
        .collect();
    chat::record_effects(tx, &effects).await?;
    let mut finished = Vec::new();
    for (job, ran) in jobs.iter().zip(&mut ran) {
        if let Some((row, turn)) = job.finished(ran)? {
            finished.push(row);
            ran.finished = Some(turn);
        }
    }
    Ok((ran, finished))
}

/// An `add_task` call of a job: its turn's context and arguments.
type AddCall<'a> = (&'a ToolContext, &'a tools::AddTaskArgs);

/// Runs the `add_task` calls in `adds` (the jobs' indices and calls; emptied): one statement for
/// all of them.
async fn add_together(
    conn: &mut sqlx::PgConnection,
    adds: &mut Vec<(usize, AddCall<'_>)>,
    outputs: &mut [Option<ToolOutput>],
) -> sqlx::Result<()> {
    if adds.is_empty() {
        return Ok(());
    }
    let calls: Vec<AddCall<'_>> = adds.iter().map(|(_, call)| *call).collect();
    let ran = tools::add_tasks(conn, &calls).await?;
    for ((i, _), output) in adds.drain(..).zip(ran) {
        outputs[i] = Some(output);
    }
    Ok(())
}

/// Runs a turn's tool calls exactly once across redeliveries, and keeps its journal.
pub struct ToolExecutor {
    db: PgPool,
    runner: ToolBatcher,
    ctx: ToolContext,
    /// Effects recorded by earlier attempts of this turn, by call index.
    recorded: BTreeMap<i32, RecordedEffect>,
    /// Model steps journaled by earlier attempts, in order.
    journal: Vec<TurnStep>,
    /// Index of the next call made in sequence (the built-in agent's way).
    next_index: i32,
    calls: Vec<ToolCall>,
}

impl ToolExecutor {
    /// Loads what earlier attempts recorded; a first attempt (`attempt == 1`) has nothing to load.
    pub async fn load(
        db: PgPool,
        runner: ToolBatcher,
        ctx: ToolContext,
        attempt: i32,
    ) -> sqlx::Result<Self> {
        let (recorded, journal) = match ctx.turn {
            Some(turn) if attempt > 1 => (
                chat::recorded_effects(&db, turn.request_id).await?,
                chat::turn_steps(&db, turn.request_id).await?,
            ),
            _ => (Vec::new(), Vec::new()),
        };
        Ok(Self {
            db,
            runner,
            ctx,
            recorded: recorded.into_iter().map(|r| (r.call_index, r)).collect(),
            journal,
            next_index: 0,
            calls: Vec::new(),
        })
    }

    pub fn context(&self) -> &ToolContext {
        &self.ctx
    }

    /// The model steps earlier attempts journaled, in order.
    pub fn journal(&self) -> &[TurnStep] {
        &self.journal
    }

    /// Journals a model step before its tools run; returns the step as journaled (an earlier
    /// attempt's, if it got there first).
    pub async fn record_step(
        &mut self,
        step: i32,
        content: &str,
        calls: &[StepCall],
    ) -> sqlx::Result<TurnStep> {
        let Some(turn) = self.ctx.turn else {
            return Ok(TurnStep {
                step,
                content: content.to_owned(),
                tool_calls: sqlx::types::Json(calls.to_vec()),
            });
        };
        chat::record_step(&self.db, turn.request_id, step, content, calls).await
    }

    /// Calls a typed tool, next in sequence.
    pub async fn call(&mut self, tool: &Tool) -> sqlx::Result<(ToolOutput, ToolCall)> {
        let (output, call, _) = self.call_with(tool, None).await?;
        Ok((output, call))
    }

    /// Calls a typed tool, next in sequence, as the turn's last call: `reply` makes the turn's
    /// answer from the call's output inside the call's transaction, which also stores the answer
    /// and marks the turn done. Gives the stored `done` event when it did; `None` when the call
    /// was replayed from an earlier attempt or runs outside a turn (the caller then finishes the
    /// turn itself).
    pub async fn call_and_finish(
        &mut self,
        tool: &Tool,
        reply: ReplyFn,
    ) -> sqlx::Result<(ToolOutput, ToolCall, Option<ChatEvent>)> {
        self.call_with(tool, Some(reply)).await
    }

    async fn call_with(
        &mut self,
        tool: &Tool,
        reply: Option<ReplyFn>,
    ) -> sqlx::Result<(ToolOutput, ToolCall, Option<ChatEvent>)> {
        let index = self.next_index;
        let replay = self
            .recorded
            .get(&index)
            .is_some_and(|r| r.tool == tool.name() && r.arguments.0 == tool.arguments());
        if !replay && self.recorded.contains_key(&index) {
            // The agent diverged from the recorded attempt: new calls go after every recorded one.
            self.next_index = self.recorded.keys().next_back().map_or(0, |i| i + 1);
        }
        let index = self.next_index;
        let (call, output, finished) = self
            .call_at(
                index,
                tool.name(),
                tool.arguments(),
                Ok(tool.clone()),
                reply,
            )
            .await?;
        // A replayed call has only its recorded JSON.
        let output = output.unwrap_or_else(|| {
            ToolOutput::from_value(&call.result).unwrap_or_else(|| {
                ToolOutput::from(tools::ToolError::new(
                    "INTERNAL",
                    "a recorded result could not be read",
                ))
            })
        });
        Ok((output, call, finished))
    }

    /// Runs the call a journaled model step made at `index` (by the name and JSON arguments the
    /// model gave), or replays its recorded result. Bad names or arguments give an error result
    /// the model can recover from (recorded like any call).
    pub async fn call_journaled(
        &mut self,
        index: i32,
        name: &str,
        arguments: Value,
    ) -> sqlx::Result<ToolCall> {
        let parsed = Tool::from_call(name, &arguments);
        let (call, _, _) = self.call_at(index, name, arguments, parsed, None).await?;
        Ok(call)
    }

    /// Runs (or replays) the call at `index`; with `reply`, a call that runs also finishes the
    /// turn. Returns the call, its output when it ran, and the finished turn.
    async fn call_at(
        &mut self,
        index: i32,
        name: &str,
        arguments: Value,
        tool: Result<Tool, tools::ToolError>,
        reply: Option<ReplyFn>,
    ) -> sqlx::Result<(ToolCall, Option<ToolOutput>, Option<ChatEvent>)> {
        let label = tool_label(name);
        self.next_index = self.next_index.max(index + 1);
        if let Some(previous) = self.recorded.get(&index) {
            let call = ToolCall {
                tool: previous.tool.clone(),
                arguments: previous.arguments.0.clone(),
                result: previous.result.0.clone(),
            };
            tracing::info!(tool = label, index, "replayed recorded tool effect");
            metrics::counter!("todo_tool_calls_total", "tool" => label, "outcome" => "replayed")
                .increment(1);
            self.calls.push(call.clone());
            return Ok((call, None, None));
        }
        let finish = reply.map(|reply| Finish {
            reply,
            earlier: self.calls.clone(),
        });
        let Ran {
            output,
            result,
            finished,
        } = self
            .runner
            .submit(ToolJob {
                ctx: self.ctx,
                index,
                name: name.to_owned(),
                arguments: arguments.clone(),
                tool,
                finish,
            })
            .await?;
        count_call(name, &output);
        let call = ToolCall {
            tool: name.to_owned(),
            arguments,
            result,
        };
        self.calls.push(call.clone());
        Ok((call, Some(output), finished))
    }

    /// Calls made (or replayed) so far in this attempt.
    pub fn calls_made(&self) -> usize {
        self.calls.len()
    }

    pub fn into_calls(self) -> Vec<ToolCall> {
        self.calls
    }
}
