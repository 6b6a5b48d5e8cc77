//! An OpenAI-compatible chat-completions server for tests and benchmarks:
//! `POST /v1/chat/completions` answers with streamed `data:` chunks (text deltas, tool calls whose
//! argument JSON is split across chunks), then `[DONE]`; or fails with an HTTP status, or hangs.
//!
//! Answers come from a per-test script ([`FakeOpenAi::push`]); when the script is empty, from a
//! latency [`Profile`] (time to first token, number of tokens, time between tokens, and optionally
//! an `add_task` tool call before the text), which `loadgen fake-llm` serves for benchmarks.

use std::collections::VecDeque;
use std::net::SocketAddr;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Arc, Mutex};
use std::time::Duration;

use axum::Router;
use axum::body::Body;
use axum::extract::State;
use axum::http::{StatusCode, header};
use axum::response::{IntoResponse, Response};
use axum::routing::post;
use futures::StreamExt;
use serde_json::{Value, json};

/// One scripted answer to one completions call.
#[derive(Debug, Clone)]
pub enum Reply {
    /// Streamed text, one delta per element.
    Text(Vec<String>),
    /// Tool calls: (name, argument JSON fragments).
    ToolCalls(Vec<(String, Vec<String>)>),
    /// An HTTP error status.
    Status(u16),
    /// Never answers.
    Hang,
    /// Streams these text deltas, then hangs (a model interrupted mid-reply).
    TextThenHang(Vec<String>),
    /// Streams text deltas with a pause before each (a slow model).
    SlowText(Vec<String>, Duration),
}

impl Reply {
    pub fn text(s: &str) -> Self {
        Self::Text(s.split_inclusive(' ').map(str::to_owned).collect())
    }

    /// `s` word by word, `pause` before each word.
    pub fn slow_text(s: &str, pause: Duration) -> Self {
        Self::SlowText(s.split_inclusive(' ').map(str::to_owned).collect(), pause)
    }

    /// A single tool call whose arguments arrive in two fragments.
    pub fn tool(name: &str, arguments: &Value) -> Self {
        let args = arguments.to_string();
        let mid = args.len() / 2;
        let mid = (mid..args.len())
            .find(|i| args.is_char_boundary(*i))
            .unwrap_or(args.len());
        Self::ToolCalls(vec![(
            name.to_owned(),
            vec![args[..mid].to_owned(), args[mid..].to_owned()],
        )])
    }
}

/// Streaming latency profile used when no scripted reply is queued.
#[derive(Debug, Clone)]
pub struct Profile {
    /// Delay before the first chunk.
    pub ttft: Duration,
    /// Number of content tokens in a text reply.
    pub tokens: usize,
    /// Delay between tokens.
    pub token_delay: Duration,
    /// Answer a request without tool results with an `add_task` call first.
    pub tool_call: bool,
    /// Word that call differently every time (a title suffix ` #<nonce>`), as a real model's
    /// sampling does: a retried turn that asked again would make a different call.
    pub vary_arguments: bool,
}

impl Default for Profile {
    fn default() -> Self {
        Self {
            ttft: Duration::ZERO,
            tokens: 1,
            token_delay: Duration::ZERO,
            tool_call: false,
            vary_arguments: false,
        }
    }
}

/// Decides the answer to a request from its body (used when the script is empty).
pub type Responder = Arc<dyn Fn(&Value) -> Reply + Send + Sync>;

#[derive(Default)]
struct Inner {
    script: VecDeque<Reply>,
    requests: Vec<Value>,
    record_requests: bool,
    responder: Option<Responder>,
}

#[derive(Clone, Default)]
pub struct FakeOpenAi {
    inner: Arc<Mutex<Inner>>,
    profile: Arc<Profile>,
    /// While set, profiled calls wait without answering (a hanging model).
    hanging: Arc<AtomicBool>,
    /// Slow streams the client closed before their end.
    abandoned: Arc<std::sync::atomic::AtomicUsize>,
}

/// Counts a slow stream as abandoned when it is dropped before its end.
struct StreamEnd {
    abandoned: Option<Arc<std::sync::atomic::AtomicUsize>>,
}

impl StreamEnd {
    fn finish(mut self) {
        drop(self.abandoned.take());
    }
}

impl Drop for StreamEnd {
    fn drop(&mut self) {
        if let Some(abandoned) = self.abandoned.take() {
            abandoned.fetch_add(1, Ordering::SeqCst);
        }
    }
}

impl FakeOpenAi {
    /// Starts the server on a free port; returns it and its base URL (`http://…/v1`).
    pub async fn start() -> (Self, String) {
        let fake = Self::default();
        fake.inner.lock().expect("lock").record_requests = true;
        let listener = tokio::net::TcpListener::bind("127.0.0.1:0")
            .await
            .expect("bind fake openai");
        let addr: SocketAddr = listener.local_addr().expect("addr");
        let app = fake.router();
        tokio::spawn(async move {
            let _ = axum::serve(listener, app).await;
        });
        (fake, format!("http://{addr}/v1"))
    }

    /// A server that answers every call from `profile` (requests are not recorded).
    pub fn with_profile(profile: Profile) -> Self {
        Self {
            inner: Arc::default(),
            profile: Arc::new(profile),
            hanging: Arc::default(),
            abandoned: Arc::default(),
        }
    }

    /// How many slow streams the client stopped reading before their end.
    pub fn abandoned_streams(&self) -> usize {
        self.abandoned.load(Ordering::SeqCst)
    }

    /// Makes profiled calls hang (`true`) until released (`false`).
    pub fn set_hanging(&self, hanging: bool) {
        self.hanging.store(hanging, Ordering::SeqCst);
    }

    /// The server's routes (`/v1/chat/completions`, also without the `/v1`).
    pub fn router(&self) -> Router {
        Router::new()
            .route("/v1/chat/completions", post(completions))
            .route("/chat/completions", post(completions))
            .with_state(self.clone())
    }

    /// Queues answers for the next calls, in order.
    pub fn push(&self, replies: impl IntoIterator<Item = Reply>) {
        self.inner.lock().expect("lock").script.extend(replies);
    }

    /// Answers every call the script does not cover with `responder(request)`: a model whose
    /// answer depends on what it is shown (and may differ on every call).
    pub fn respond_with(&self, responder: impl Fn(&Value) -> Reply + Send + Sync + 'static) {
        self.inner.lock().expect("lock").responder = Some(Arc::new(responder));
    }

    /// Bodies of the calls received so far.
    pub fn requests(&self) -> Vec<Value> {
        self.inner.lock().expect("lock").requests.clone()
    }
}

fn chunk(delta: Value, finish: Option<&str>) -> String {
    let body = json!({
        "id": "chatcmpl-fake", "object": "chat.completion.chunk", "created": 1_700_000_000, "model": "fake-model",
        "choices": [{"index": 0, "delta": delta, "finish_reason": finish}]
    });
    format!("data: {body}\n\n")
}

/// The usage chunk OpenAI sends last (empty `choices`) when the request asks for
/// `stream_options.include_usage`; the counts are rough stand-ins (4 characters per token).
fn usage_chunk(request: &Value, completion_chars: usize) -> String {
    if request["stream_options"]["include_usage"] != json!(true) {
        return String::new();
    }
    let prompt = request["messages"].to_string().len() / 4;
    let completion = completion_chars.div_ceil(4);
    let body = json!({
        "id": "chatcmpl-fake", "object": "chat.completion.chunk", "created": 1_700_000_000, "model": "fake-model",
        "choices": [],
        "usage": {"prompt_tokens": prompt, "completion_tokens": completion, "total_tokens": prompt + completion}
    });
    format!("data: {body}\n\n")
}

async fn completions(State(fake): State<FakeOpenAi>, body: axum::Json<Value>) -> Response {
    let scripted =
        {
            let mut inner = fake.inner.lock().expect("lock");
            if inner.record_requests {
                // scripted (test) mode: an empty script answers "OK."
                inner.requests.push(body.0.clone());
                let responder = inner.responder.clone();
                Some(inner.script.pop_front().unwrap_or_else(|| {
                    responder.map_or_else(|| Reply::text("OK."), |r| r(&body.0))
                }))
            } else {
                inner.script.pop_front()
            }
        };
    let Some(reply) = scripted else {
        while fake.hanging.load(Ordering::SeqCst) {
            tokio::time::sleep(Duration::from_millis(20)).await;
        }
        return profiled(&fake.profile, &body.0);
    };
    let mut sse = chunk(json!({"role": "assistant", "content": ""}), None);
    let mut completion_chars = 0;
    match reply {
        Reply::Status(code) => {
            let status = StatusCode::from_u16(code).unwrap_or(StatusCode::INTERNAL_SERVER_ERROR);
            let body = json!({"error": {"message": "scripted failure", "type": "server_error", "param": null, "code": null}});
            return (status, axum::Json(body)).into_response();
        }
        Reply::Hang => {
            tokio::time::sleep(Duration::from_secs(3600)).await;
            return StatusCode::GATEWAY_TIMEOUT.into_response();
        }
        Reply::TextThenHang(parts) => {
            let head: Vec<String> = std::iter::once(sse)
                .chain(parts.iter().map(|p| chunk(json!({"content": p}), None)))
                .collect();
            let stream = futures::stream::iter(head)
                .map(Ok::<_, std::convert::Infallible>)
                .chain(futures::stream::once(async {
                    tokio::time::sleep(Duration::from_secs(3600)).await;
                    Ok(String::new())
                }));
            return Response::builder()
                .header(header::CONTENT_TYPE, "text/event-stream")
                .body(Body::from_stream(stream))
                .expect("response");
        }
        Reply::SlowText(parts, pause) => {
            let end = StreamEnd {
                abandoned: Some(fake.abandoned.clone()),
            };
            let tail = format!("{}data: [DONE]\n\n", chunk(json!({}), Some("stop")));
            let stream = async_stream_of(sse, parts, pause, tail, move || end.finish());
            return Response::builder()
                .header(header::CONTENT_TYPE, "text/event-stream")
                .body(Body::from_stream(stream))
                .expect("response");
        }
        Reply::Text(parts) => {
            for p in parts {
                completion_chars += p.len();
                sse.push_str(&chunk(json!({"content": p}), None));
            }
            sse.push_str(&chunk(json!({}), Some("stop")));
        }
        Reply::ToolCalls(calls) => {
            for (index, (name, fragments)) in calls.iter().enumerate() {
                sse.push_str(&chunk(
                    json!({"tool_calls": [{"index": index, "id": format!("call_{index}_{name}"), "type": "function",
                                           "function": {"name": name, "arguments": ""}}]}),
                    None,
                ));
                for f in fragments {
                    completion_chars += f.len();
                    sse.push_str(&chunk(
                        json!({"tool_calls": [{"index": index, "function": {"arguments": f}}]}),
                        None,
                    ));
                }
            }
            sse.push_str(&chunk(json!({}), Some("tool_calls")));
        }
    }
    sse.push_str(&usage_chunk(&body.0, completion_chars));
    sse.push_str("data: [DONE]\n\n");
    Response::builder()
        .header(header::CONTENT_TYPE, "text/event-stream")
        .body(Body::from(sse))
        .expect("response")
}

/// `head`, then each part after `pause`, then `tail`; `on_end` runs when the tail was produced.
fn async_stream_of(
    head: String,
    parts: Vec<String>,
    pause: Duration,
    tail: String,
    on_end: impl FnOnce() + Send + 'static,
) -> impl futures::Stream<Item = Result<String, std::convert::Infallible>> + Send {
    let parts = parts
        .into_iter()
        .map(move |p| (pause, chunk(json!({"content": p}), None)));
    let body = std::iter::once((Duration::ZERO, head))
        .chain(parts)
        .collect::<Vec<_>>();
    let mut on_end = Some(on_end);
    futures::stream::iter(body)
        .then(|(pause, text)| async move {
            tokio::time::sleep(pause).await;
            Ok(text)
        })
        .chain(futures::stream::once(async move { Ok(tail) }))
        .chain(futures::stream::poll_fn(move |_| {
            if let Some(end) = on_end.take() {
                end();
            }
            std::task::Poll::Ready(None)
        }))
}

/// Streams a reply shaped by `profile`, with real delays between chunks.
fn profiled(profile: &Profile, request: &Value) -> Response {
    let has_tool_result = request["messages"]
        .as_array()
        .is_some_and(|m| m.iter().any(|m| m["role"] == "tool"));
    let mut chunks: Vec<(Duration, String)> = vec![(
        profile.ttft,
        chunk(json!({"role": "assistant", "content": ""}), None),
    )];
    if profile.tool_call && !has_tool_result {
        // The task is named after the user's message, so effects can be counted per request.
        let said = request["messages"]
            .as_array()
            .and_then(|m| m.iter().rev().find(|m| m["role"] == "user"))
            .and_then(|m| m["content"].as_str())
            .unwrap_or("Benchmark task");
        let mut title: String = said.chars().take(180).collect();
        if profile.vary_arguments {
            title.push_str(&format!(
                " #{}",
                &uuid::Uuid::new_v4().simple().to_string()[..8]
            ));
        }
        let args = json!({ "title": title }).to_string();
        chunks.push((Duration::ZERO, chunk(
            json!({"tool_calls": [{"index": 0, "id": "call_0", "type": "function", "function": {"name": "add_task", "arguments": ""}}]}),
            None,
        )));
        chunks.push((
            profile.token_delay,
            chunk(
                json!({"tool_calls": [{"index": 0, "function": {"arguments": args}}]}),
                None,
            ),
        ));
        chunks.push((Duration::ZERO, chunk(json!({}), Some("tool_calls"))));
    } else {
        for i in 0..profile.tokens.max(1) {
            let delay = if i == 0 {
                Duration::ZERO
            } else {
                profile.token_delay
            };
            chunks.push((delay, chunk(json!({"content": format!("tok{i} ")}), None)));
        }
        chunks.push((Duration::ZERO, chunk(json!({}), Some("stop"))));
    }
    chunks.push((
        Duration::ZERO,
        usage_chunk(request, profile.tokens.max(1) * 5),
    ));
    chunks.push((Duration::ZERO, "data: [DONE]\n\n".to_owned()));
    let stream = futures::stream::iter(chunks).then(|(delay, data)| async move {
        if !delay.is_zero() {
            tokio::time::sleep(delay).await;
        }
        Ok::<_, std::convert::Infallible>(data)
    });
    Response::builder()
        .header(header::CONTENT_TYPE, "text/event-stream")
        .body(Body::from_stream(stream))
        .expect("response")
}
