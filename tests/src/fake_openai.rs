//! An OpenAI-compatible chat-completions server for tests: `POST /v1/chat/completions` answers
//! from a per-test script with streamed `data:` chunks (text deltas, tool calls whose argument JSON
//! is split across chunks), `[DONE]`; or fails with an HTTP status, or hangs.

use std::collections::VecDeque;
use std::net::SocketAddr;
use std::sync::{Arc, Mutex};
use std::time::Duration;

use axum::Router;
use axum::body::Body;
use axum::extract::State;
use axum::http::{StatusCode, header};
use axum::response::{IntoResponse, Response};
use axum::routing::post;
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
}

impl Reply {
    pub fn text(s: &str) -> Self {
        Self::Text(s.split_inclusive(' ').map(str::to_owned).collect())
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

#[derive(Default)]
struct Inner {
    script: VecDeque<Reply>,
    requests: Vec<Value>,
}

#[derive(Clone, Default)]
pub struct FakeOpenAi {
    inner: Arc<Mutex<Inner>>,
}

impl FakeOpenAi {
    /// Starts the server on a free port; returns it and its base URL (`http://…/v1`).
    pub async fn start() -> (Self, String) {
        let fake = Self::default();
        let app = Router::new()
            .route("/v1/chat/completions", post(completions))
            .with_state(fake.clone());
        let listener = tokio::net::TcpListener::bind("127.0.0.1:0")
            .await
            .expect("bind fake openai");
        let addr: SocketAddr = listener.local_addr().expect("addr");
        tokio::spawn(async move {
            let _ = axum::serve(listener, app).await;
        });
        (fake, format!("http://{addr}/v1"))
    }

    /// Queues answers for the next calls, in order.
    pub fn push(&self, replies: impl IntoIterator<Item = Reply>) {
        self.inner.lock().expect("lock").script.extend(replies);
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

async fn completions(State(fake): State<FakeOpenAi>, body: axum::Json<Value>) -> Response {
    let reply = {
        let mut inner = fake.inner.lock().expect("lock");
        inner.requests.push(body.0);
        inner
            .script
            .pop_front()
            .unwrap_or_else(|| Reply::text("OK."))
    };
    let mut sse = chunk(json!({"role": "assistant", "content": ""}), None);
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
        Reply::Text(parts) => {
            for p in parts {
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
                    sse.push_str(&chunk(
                        json!({"tool_calls": [{"index": index, "function": {"arguments": f}}]}),
                        None,
                    ));
                }
            }
            sse.push_str(&chunk(json!({}), Some("tool_calls")));
        }
    }
    sse.push_str("data: [DONE]\n\n");
    Response::builder()
        .header(header::CONTENT_TYPE, "text/event-stream")
        .body(Body::from(sse))
        .expect("response")
}
