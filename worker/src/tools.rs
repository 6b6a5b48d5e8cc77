//! The exactly-once executor of a turn's tool calls. The tools themselves (typed args, schemas,
//! one function each) live in [`todo_common::tools`], shared with every front end.
//!
//! Every call is recorded in `tool_effects` under (request id, call index) in the same transaction
//! as its effect; when a redelivered turn makes the same call again, the recorded result is
//! replayed instead of running the effect twice.

use serde_json::Value;
use sqlx::PgPool;
use todo_common::chat::{self, RecordedEffect};
use todo_common::schema::ToolCall;
use todo_common::tools::{self, TOOL_NAMES, Tool, ToolContext, ToolOutput};

/// A closed-set metric label for a tool name (a model may invent any name).
fn tool_label(name: &str) -> &'static str {
    TOOL_NAMES
        .iter()
        .find(|n| **n == name)
        .copied()
        .unwrap_or("other")
}

/// Runs a turn's tool calls exactly once across redeliveries.
pub struct ToolExecutor {
    db: PgPool,
    ctx: ToolContext,
    /// Effects recorded by earlier attempts of this turn, in call order.
    recorded: Vec<RecordedEffect>,
    cursor: usize,
    next_index: i32,
    calls: Vec<ToolCall>,
}

impl ToolExecutor {
    /// Loads what earlier attempts recorded; a first attempt (`attempt == 1`) has nothing to load.
    pub async fn load(db: PgPool, ctx: ToolContext, attempt: i32) -> sqlx::Result<Self> {
        let recorded = match ctx.turn {
            Some(turn) if attempt > 1 => chat::recorded_effects(&db, turn.request_id).await?,
            _ => Vec::new(),
        };
        let next_index = recorded.last().map_or(0, |r| r.call_index + 1);
        Ok(Self {
            db,
            ctx,
            recorded,
            cursor: 0,
            next_index,
            calls: Vec::new(),
        })
    }

    pub fn context(&self) -> &ToolContext {
        &self.ctx
    }

    /// Calls a typed tool.
    pub async fn call(&mut self, tool: &Tool) -> sqlx::Result<(ToolOutput, ToolCall)> {
        let call = self
            .call_named(tool.name(), tool.arguments(), Ok(tool))
            .await?;
        let output = ToolOutput::from_value(&call.result).unwrap_or_else(|| {
            ToolOutput::from(tools::ToolError::new(
                "INTERNAL",
                "a recorded result could not be read",
            ))
        });
        Ok((output, call))
    }

    /// Calls a tool by the name and JSON arguments a model gave; bad names or arguments give an
    /// error result the model can recover from (recorded like any call).
    pub async fn call_raw(&mut self, name: &str, arguments: Value) -> sqlx::Result<ToolCall> {
        let parsed = Tool::from_call(name, &arguments);
        self.call_named(name, arguments, parsed.as_ref().map_err(Clone::clone))
            .await
    }

    async fn call_named(
        &mut self,
        name: &str,
        arguments: Value,
        tool: Result<&Tool, tools::ToolError>,
    ) -> sqlx::Result<ToolCall> {
        let label = tool_label(name);
        if let Some(previous) = self.recorded.get(self.cursor)
            && previous.tool == name
            && previous.arguments.0 == arguments
        {
            self.cursor += 1;
            let call = ToolCall {
                tool: name.to_owned(),
                arguments,
                result: previous.result.0.clone(),
            };
            tracing::info!(tool = label, "replayed recorded tool effect");
            metrics::counter!("todo_tool_calls_total", "tool" => label, "outcome" => "replayed")
                .increment(1);
            self.calls.push(call.clone());
            return Ok(call);
        }
        // The agent diverged from the recorded attempt: new calls get fresh indices.
        self.cursor = self.recorded.len();
        let mut tx = self.db.begin().await?;
        let output = match tool {
            Ok(tool) => tools::run(&mut tx, &self.ctx, tool).await?,
            Err(e) => ToolOutput::from(e),
        };
        let result = output.to_value();
        if let Some(turn) = self.ctx.turn {
            chat::record_effect(
                &mut tx,
                turn.request_id,
                self.next_index,
                name,
                &arguments,
                &result,
            )
            .await?;
        }
        tx.commit().await?;
        self.next_index += 1;
        let outcome = if output.is_error() { "error" } else { "ok" };
        tracing::info!(tool = label, outcome, "tool call");
        metrics::counter!("todo_tool_calls_total", "tool" => label, "outcome" => outcome)
            .increment(1);
        let call = ToolCall {
            tool: name.to_owned(),
            arguments,
            result,
        };
        self.calls.push(call.clone());
        Ok(call)
    }

    pub fn into_calls(self) -> Vec<ToolCall> {
        self.calls
    }
}
