//! The model-backed agent: streams chat completions with tool calls from any OpenAI-compatible
//! server through `async-openai`, runs the requested tools, and loops until the model answers or
//! the round limit is reached.
//!
//! Retries: one policy, [`retry::model_call`]: a model step is tried at most
//! `OPENAI_MAX_RETRIES + 1` times in all, whatever failed — a connection error, a timeout,
//! HTTP 408 / 429 / 5xx, or a stream that breaks or stalls before any text was streamed (after
//! that the client has seen part of the reply, and the turn fails instead). async-openai's own
//! retry layer is not used, so retries never stack.

use std::collections::BTreeMap;

use async_openai::Client;
use async_openai::config::OpenAIConfig;
use async_openai::error::OpenAIError;
use async_openai::middleware::ReqwestService;
use async_openai::types::chat::{ChatCompletionResponseStream, CreateChatCompletionRequest};
use futures::StreamExt;
use secrecy::ExposeSecret;
use serde_json::{Value, json};
use todo_common::config::OpenAiConfig;
use todo_common::tools::PendingAction;
use todo_common::when::Clock;

use todo_common::retry;

use crate::error::AgentError;
use crate::events::EventSink;
use todo_common::chat::StepCall;

use crate::tools::ToolExecutor;

use super::early::Guess;
use super::{AgentReply, TurnInput};

const SYSTEM_PROMPT: &str = "You are todo-chat, a friendly assistant that manages the user's todo list. \
Use the tools to add, list, complete, update (reschedule, prioritise, tag, repeat) and delete tasks, and \
to undo the last change. Never invent task numbers: list or search the tasks when you are unsure which one \
the user means, and ask a short question when a request is ambiguous. Give due dates as ISO dates \
(2026-12-05, or 2026-12-05T17:00 in the user's local time) or as the user's own phrase (\"next friday \
5pm\"); the server resolves phrases in the user's timezone. A change to several tasks asks the user to \
confirm: tell them what would change and wait for their answer; call confirm_action only after they \
answered. Task numbers (1, 2, 3 ...) belong to this user only. You can only see and change this user's \
tasks. After acting, confirm what you did in one or two short sentences, with dates as the tool results \
show them (due_text).";

/// The system prompt with the user's local date, time and timezone, and any pending confirmation.
fn system_prompt(clock: &Clock, pending: Option<&PendingAction>) -> String {
    let now = clock.local_now();
    let mut prompt = format!(
        "{SYSTEM_PROMPT}\n\nNow it is {} ({}) in the user's timezone, {}. Numeric dates like 3/4 are {} for this user.",
        now.format("%A %-d %B %Y, %H:%M"),
        now.format("%Y-%m-%dT%H:%M%:z"),
        clock.tz.name(),
        match clock.date_order {
            todo_common::when::DateOrder::Dmy => "day/month",
            todo_common::when::DateOrder::Mdy => "month/day",
        }
    );
    if let Some(pending) = pending {
        let ids: Vec<String> = pending.task_ids.iter().map(i32::to_string).collect();
        prompt.push_str(&format!(
            "\n\nYour previous reply asked the user to confirm: {} tasks {}. If this message answers \
that question, call confirm_action with approve=true for yes or approve=false for no.",
            pending.action.verb(),
            ids.join(", ")
        ));
    }
    prompt
}

/// The messages of a turn's first model step: the system prompt, the earlier messages with text
/// (oldest first) and the user's message.
fn opening<'a>(
    clock: &Clock,
    pending: Option<&PendingAction>,
    history: impl Iterator<Item = (&'a str, &'a str)>,
    message: &str,
) -> Vec<Value> {
    let mut messages = vec![json!({"role": "system", "content": system_prompt(clock, pending)})];
    messages.extend(
        history
            .filter(|(_, content)| !content.is_empty())
            .map(|(role, content)| json!({"role": role, "content": content})),
    );
    messages.push(json!({"role": "user", "content": message}));
    messages
}

/// A turn's first model call, opened before the turn read its conversation
/// ([`super::early`]): kept only if the turn's own first request is exactly `messages`. Dropping
/// it closes the call.
pub struct EarlyCall {
    messages: Vec<Value>,
    opening: tokio::task::JoinHandle<Result<ChatCompletionResponseStream, Failure>>,
    /// Taken by its turn; one dropped otherwise (the request differed, the turn had already
    /// finished, was stopped or replays its journal) is counted as discarded.
    used: bool,
}

impl Drop for EarlyCall {
    fn drop(&mut self) {
        if !self.used {
            metrics::counter!("todo_llm_early_calls_total", "outcome" => "discarded").increment(1);
            tracing::debug!("an early model call was not used; closed");
        }
        self.opening.abort();
    }
}

impl EarlyCall {
    /// The opened stream, if the early call was for exactly `messages`; otherwise it is closed.
    fn take_for(mut self, messages: &[Value]) -> Option<Self> {
        self.used = self.messages == messages;
        if self.used {
            metrics::counter!("todo_llm_early_calls_total", "outcome" => "used").increment(1);
        }
        self.used.then_some(self)
    }

    async fn stream(mut self) -> Result<ChatCompletionResponseStream, Failure> {
        match (&mut self.opening).await {
            Ok(opened) => opened,
            Err(e) => Err(Failure::Model {
                cause: format!("early model call: {e}"),
                retryable: true,
                reason: "open",
            }),
        }
    }
}

pub struct OpenAiAgent {
    client: Client<OpenAIConfig>,
    config: OpenAiConfig,
    /// The tool definitions the model is shown, built once: generating their JSON schemas was
    /// most of the CPU of building a model request, on every turn's way to its first token.
    tools: Value,
}

/// A tool call assembled from streamed fragments.
#[derive(Debug, Default, Clone)]
struct PendingCall {
    id: String,
    name: String,
    arguments: String,
}

/// Why one attempt at a model step failed.
enum Failure {
    /// The model server failed; `retryable` when it is transient and nothing reached the client.
    Model {
        cause: String,
        retryable: bool,
        reason: &'static str,
    },
    /// Not the model's fault (publishing a delta, building the request): not retried here.
    Agent(AgentError),
}

impl Failure {
    fn model(error: CallError, reason: &'static str) -> Self {
        match error {
            CallError::Transient(cause) => Self::Model {
                cause,
                retryable: true,
                reason,
            },
            CallError::Permanent(cause) => Self::Model {
                cause,
                retryable: false,
                reason,
            },
        }
    }
}

enum CallError {
    /// Worth retrying (rate limit, server error, timeout, connection).
    Transient(String),
    Permanent(String),
}

fn classify(e: &OpenAIError) -> CallError {
    match e {
        OpenAIError::ApiError(api) => {
            let status = api.status_code.as_u16();
            let cause = format!("HTTP {status}: {}", api.api_error.message);
            if matches!(status, 408 | 429) || status >= 500 {
                CallError::Transient(cause)
            } else {
                CallError::Permanent(cause)
            }
        }
        OpenAIError::Reqwest(e) => CallError::Transient(format!("transport: {e}")),
        OpenAIError::StreamError(e) => CallError::Transient(format!("stream: {e}")),
        other => CallError::Permanent(other.to_string()),
    }
}

/// Counts one HTTP attempt at the model server by status (`error` when no response came).
fn count_http_attempt(
    result: Result<reqwest::Response, OpenAIError>,
) -> Result<reqwest::Response, OpenAIError> {
    let status = match &result {
        Ok(response) => response.status().as_u16().to_string(),
        Err(_) => "error".to_owned(),
    };
    metrics::counter!("todo_llm_http_requests_total", "status" => status).increment(1);
    result
}

fn count_error(kind: &'static str) {
    metrics::counter!("todo_llm_errors_total", "kind" => kind).increment(1);
}

fn count_retry(reason: &'static str) {
    metrics::counter!("todo_llm_retries_total", "reason" => reason).increment(1);
}

impl OpenAiAgent {
    pub fn new(config: OpenAiConfig) -> Self {
        let openai = OpenAIConfig::new()
            .with_api_base(config.base_url.clone())
            .with_api_key(config.api_key.expose_secret());
        let http = tower::ServiceBuilder::new()
            // Every HTTP attempt is counted, retried ones included.
            .map_result(count_http_attempt)
            .service(ReqwestService::new(reqwest::Client::new()));
        let client = Client::with_config(openai).with_http_service(http);
        Self {
            client,
            config,
            tools: todo_common::tools::openai_tools(),
        }
    }

    fn request(&self, messages: &[Value]) -> Result<CreateChatCompletionRequest, AgentError> {
        serde_json::from_value(json!({
            "model": self.config.model,
            "messages": messages,
            "tools": self.tools,
            "stream": true,
            "stream_options": {"include_usage": true},
        }))
        .map_err(|e| AgentError::Provider(format!("building request: {e}")))
    }

    /// Opens a completion stream (one attempt).
    async fn open(&self, messages: &[Value]) -> Result<ChatCompletionResponseStream, Failure> {
        let request = self.request(messages).map_err(Failure::Agent)?;
        open(self.client.clone(), request, self.config.timeout).await
    }

    /// Opens the first model call of a turn that is expected to start from `guess`, while the
    /// turn starts; see [`super::early`].
    pub fn start_early(&self, guess: &Guess, message: &str) -> Option<EarlyCall> {
        let messages = opening(
            &guess.clock,
            None,
            guess
                .history
                .iter()
                .map(|m| (m.role.as_str(), m.content.as_str())),
            message.trim(),
        );
        let request = self.request(&messages).ok()?;
        let opening = tokio::spawn(open(self.client.clone(), request, self.config.timeout));
        Some(EarlyCall {
            messages,
            opening,
            used: false,
        })
    }

    pub async fn run(
        &self,
        input: &TurnInput<'_>,
        tools: &mut ToolExecutor,
        events: &EventSink,
        mut early: Option<EarlyCall>,
    ) -> Result<AgentReply, AgentError> {
        let mut messages = opening(
            &input.clock,
            input.pending,
            input
                .history
                .iter()
                .map(|m| (m.role.as_str(), m.content.as_str())),
            input.message,
        );

        // A retried turn first replays its journal: the steps the model already took, with the
        // recorded results of their tools (a call interrupted before it was recorded runs now,
        // once). The client, told to `reset`, sees the whole reply again.
        let mut response = String::new();
        let mut index = 0;
        let journal = tools.journal().to_vec();
        for step in &journal {
            if !step.content.is_empty() {
                events.delta(&step.content).await?;
                response.push_str(&step.content);
            }
            self.run_step(
                &step.content,
                &step.tool_calls.0,
                &mut index,
                &mut messages,
                tools,
                events,
            )
            .await?;
        }
        let first_new = u32::try_from(journal.len()).unwrap_or(u32::MAX);
        if first_new > 0 {
            tracing::info!(
                steps = journal.len(),
                "continuing the turn from its journal"
            );
        }
        for round in first_new..self.config.max_tool_rounds {
            let early = early.take().and_then(|e| e.take_for(&messages));
            let (text, calls) = self.stream_round(&messages, events, round, early).await?;
            if calls.is_empty() {
                response.push_str(&text);
                return Ok(AgentReply::Answer {
                    response,
                    state: None,
                });
            }
            let planned = usize::try_from(index).unwrap_or(usize::MAX) + calls.len();
            if planned > self.config.max_tool_calls as usize {
                return Err(AgentError::TooManyToolCalls(self.config.max_tool_calls));
            }
            let calls: Vec<StepCall> = calls
                .into_iter()
                .map(|c| StepCall {
                    id: c.id,
                    name: c.name,
                    arguments: c.arguments,
                })
                .collect();
            // Journaled before any of its tools runs: from here on this step is never re-decided.
            let step_no = i32::try_from(round).unwrap_or(i32::MAX);
            let step = tools.record_step(step_no, &text, &calls).await?;
            response.push_str(&step.content);
            self.run_step(
                &step.content,
                &step.tool_calls.0,
                &mut index,
                &mut messages,
                tools,
                events,
            )
            .await?;
        }
        Err(AgentError::TooManyRounds(self.config.max_tool_rounds))
    }

    /// Adds a model step to the conversation and runs (or replays) its tool calls in order,
    /// adding their results.
    async fn run_step(
        &self,
        content: &str,
        calls: &[StepCall],
        index: &mut i32,
        messages: &mut Vec<Value>,
        tools: &mut ToolExecutor,
        events: &EventSink,
    ) -> Result<(), AgentError> {
        let tool_calls: Vec<Value> = calls
            .iter()
            .map(|c| json!({"id": c.id, "type": "function", "function": {"name": c.name, "arguments": c.arguments}}))
            .collect();
        messages.push(json!({"role": "assistant", "content": if content.is_empty() { Value::Null } else { json!(content) }, "tool_calls": tool_calls}));
        for call in calls {
            // No further tool call once the user stopped the turn (calls already made stay).
            if events.is_cancelled() {
                return Err(AgentError::Cancelled);
            }
            let raw = if call.arguments.trim().is_empty() {
                "{}"
            } else {
                call.arguments.as_str()
            };
            let arguments = serde_json::from_str::<Value>(raw).unwrap_or_else(|e| {
                tracing::warn!(tool = %call.name, error = %e, "model sent malformed tool arguments");
                // Not an object: the tool answers INVALID_ARGUMENTS (recorded like any call).
                Value::String(raw.chars().take(1000).collect())
            });
            let done = tools.call_journaled(*index, &call.name, arguments).await?;
            *index += 1;
            events.tool(&done, None).await?;
            messages.push(
                json!({"role": "tool", "tool_call_id": call.id, "content": done.result.to_string()}),
            );
        }
        Ok(())
    }

    /// One model step under the model-call policy: retried while nothing of it reached the client.
    async fn stream_round(
        &self,
        messages: &[Value],
        events: &EventSink,
        round: u32,
        mut early: Option<EarlyCall>,
    ) -> Result<(String, Vec<PendingCall>), AgentError> {
        let policy = retry::model_call(self.config.max_retries);
        let mut retries = 0;
        // the first attempt may be the call opened early; a retry opens its own
        loop {
            match self.attempt(messages, events, round, early.take()).await {
                Ok(step) => return Ok(step),
                Err(Failure::Agent(e)) => return Err(e),
                Err(Failure::Model {
                    cause,
                    retryable,
                    reason,
                }) => {
                    if retryable && policy.allows(retries + 1) {
                        retries += 1;
                        count_retry(reason);
                        tracing::warn!(retry = retries, round, cause = %cause, "model call failed; retrying");
                        tokio::select! {
                            () = events.cancelled() => return Err(AgentError::Cancelled),
                            () = tokio::time::sleep(policy.delay(retries)) => {}
                        }
                        continue;
                    }
                    count_error("gave_up");
                    return Err(AgentError::Provider(format!(
                        "{cause} (after {retries} retries)"
                    )));
                }
            }
        }
    }

    /// One attempt at a model step: streams text deltas to the client and assembles tool calls.
    async fn attempt(
        &self,
        messages: &[Value],
        events: &EventSink,
        round: u32,
        early: Option<EarlyCall>,
    ) -> Result<(String, Vec<PendingCall>), Failure> {
        let started = std::time::Instant::now();
        let opened = async {
            match early {
                Some(early) => early.stream().await,
                None => self.open(messages).await,
            }
        };
        let mut stream = tokio::select! {
            biased;
            () = events.cancelled() => return Err(Failure::Agent(AgentError::Cancelled)),
            opened = opened => opened?,
        };
        let mut text = String::new();
        let mut calls: BTreeMap<u32, PendingCall> = BTreeMap::new();
        loop {
            // Text held back for coalescing goes out by its deadline even if the model pauses.
            let flush_at = events.flush_deadline();
            let next = tokio::select! {
                biased;
                // Stop reading the model at once (dropping the stream closes the connection).
                () = events.cancelled() => return Err(Failure::Agent(AgentError::Cancelled)),
                () = sleep_until(flush_at), if flush_at.is_some() => {
                    events.flush().await.map_err(|e| Failure::Agent(e.into()))?;
                    continue;
                }
                next = tokio::time::timeout(self.config.timeout, stream.next()) => next,
            };
            let next = match next {
                Ok(next) => next,
                Err(_) => {
                    count_error("stall");
                    return Err(Failure::Model {
                        cause: "the model stopped responding".into(),
                        retryable: text.is_empty(),
                        reason: "stall",
                    });
                }
            };
            let Some(chunk) = next else { break };
            let chunk = match chunk {
                Ok(c) => c,
                Err(e) => {
                    count_error("stream");
                    let transient = matches!(classify(&e), CallError::Transient(_));
                    return Err(Failure::Model {
                        cause: e.to_string(),
                        retryable: transient && text.is_empty(),
                        reason: "stream",
                    });
                }
            };
            if let Some(usage) = &chunk.usage {
                metrics::counter!("todo_llm_tokens_total", "kind" => "prompt")
                    .increment(u64::from(usage.prompt_tokens));
                metrics::counter!("todo_llm_tokens_total", "kind" => "completion")
                    .increment(u64::from(usage.completion_tokens));
            }
            for choice in chunk.choices {
                if let Some(content) = choice.delta.content.filter(|c| !c.is_empty()) {
                    events
                        .delta(&content)
                        .await
                        .map_err(|e| Failure::Agent(e.into()))?;
                    text.push_str(&content);
                }
                for fragment in choice.delta.tool_calls.unwrap_or_default() {
                    let call = calls.entry(fragment.index).or_default();
                    if let Some(id) = fragment.id {
                        call.id = id;
                    }
                    if let Some(function) = fragment.function {
                        if let Some(name) = function.name {
                            call.name.push_str(&name);
                        }
                        if let Some(args) = function.arguments {
                            call.arguments.push_str(&args);
                        }
                    }
                }
            }
        }
        metrics::histogram!("todo_llm_request_duration_seconds")
            .record(started.elapsed().as_secs_f64());
        let calls: Vec<PendingCall> = calls
            .into_values()
            .enumerate()
            .map(|(i, mut c)| {
                if c.id.is_empty() {
                    c.id = format!("call_{round}_{i}");
                }
                c
            })
            .filter(|c| !c.name.is_empty())
            .collect();
        Ok((text, calls))
    }
}

/// Opens a completion stream for `request` (one attempt), within `timeout`.
async fn open(
    client: Client<OpenAIConfig>,
    request: CreateChatCompletionRequest,
    timeout: std::time::Duration,
) -> Result<ChatCompletionResponseStream, Failure> {
    match tokio::time::timeout(timeout, client.chat().create_stream(request)).await {
        Ok(Ok(stream)) => Ok(stream),
        Ok(Err(e)) => Err(Failure::model(classify(&e), "open")),
        Err(_) => {
            count_error("timeout");
            Err(Failure::model(
                CallError::Transient("timed out".into()),
                "open",
            ))
        }
    }
}

/// Resolves at `at` (never, for `None`).
async fn sleep_until(at: Option<tokio::time::Instant>) {
    match at {
        Some(at) => tokio::time::sleep_until(at).await,
        None => std::future::pending().await,
    }
}
