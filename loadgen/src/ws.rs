//! A WebSocket chat client for tests, speaking the typed protocol ([`ClientFrame`] out,
//! [`ServerFrame`] in). `tasks_changed` frames are kept apart from the frames of requests
//! ([`WsClient::next_tasks_changed`]), so a request's frames read the same whatever else changes.

use std::collections::VecDeque;
use std::time::Duration;

use futures::{SinkExt, StreamExt};
use serde_json::Value;
use todo_common::protocol::{ClientFrame, ServerFrame};
use tokio::net::TcpStream;
use tokio_tungstenite::tungstenite::Message;
use tokio_tungstenite::tungstenite::client::IntoClientRequest;
use tokio_tungstenite::tungstenite::protocol::WebSocketConfig;
use tokio_tungstenite::{MaybeTlsStream, WebSocketStream, connect_async_with_config};

/// Chat frames are small: one read takes a few of them.
const READ_BUFFER_BYTES: usize = 4 * 1024;

pub struct WsClient {
    socket: WebSocketStream<MaybeTlsStream<TcpStream>>,
    /// `tasks_changed` frames received meanwhile, oldest first.
    task_changes: VecDeque<ServerFrame>,
    /// Request frames read while waiting for a `tasks_changed`, oldest first.
    pending: VecDeque<Value>,
}

impl WsClient {
    /// Connects; `token` goes in the `Authorization` header (or pass it in the URL's `?token=`).
    pub async fn connect(
        url: &str,
        token: Option<&str>,
    ) -> Result<Self, tokio_tungstenite::tungstenite::Error> {
        let mut request = url.into_client_request()?;
        if let Some(token) = token {
            let value = format!("Bearer {token}").parse().expect("header value");
            request.headers_mut().insert("authorization", value);
        }
        // Nagle off, as browsers do: frames go out when written. A small read buffer:
        // tungstenite zero-fills the whole buffer before each read, and its default of 128 KiB
        // made the simulated clients spend a noticeable share of the shared cores on memset.
        // Larger frames still arrive whole (the buffer grows to the frame).
        let config = WebSocketConfig::default().read_buffer_size(READ_BUFFER_BYTES);
        let (socket, _) = connect_async_with_config(request, Some(config), true).await?;
        Ok(Self {
            socket,
            task_changes: VecDeque::new(),
            pending: VecDeque::new(),
        })
    }

    /// Sends a typed frame.
    pub async fn send(&mut self, frame: &ClientFrame) {
        let text = serde_json::to_string(frame).expect("frame encodes");
        self.send_raw(&text).await;
    }

    /// Asks to stop a request.
    pub async fn cancel(&mut self, request_id: uuid::Uuid) {
        self.send(&ClientFrame::Cancel {
            request_id,
            client_msg_id: None,
        })
        .await;
    }

    /// The next request frame, typed; `None` on close or timeout.
    pub async fn next_frame(&mut self, timeout: Duration) -> Option<ServerFrame> {
        let value = self.next_json(timeout).await?;
        Some(serde_json::from_value(value).expect("the server sends protocol frames"))
    }

    /// The next `tasks_changed` frame (received already, or within `timeout`).
    pub async fn next_tasks_changed(&mut self, timeout: Duration) -> Option<ServerFrame> {
        let deadline = tokio::time::Instant::now() + timeout;
        while self.task_changes.is_empty() {
            let left = deadline.saturating_duration_since(tokio::time::Instant::now());
            if left.is_zero() {
                return None;
            }
            // Request frames read meanwhile wait for `next_json`.
            let frame = self.read_any(left).await?;
            if let Some(other) = self.sort(frame) {
                self.pending.push_back(other);
            }
        }
        self.task_changes.pop_front()
    }

    /// Queues a `tasks_changed` frame apart; gives back any other.
    fn sort(&mut self, frame: Value) -> Option<Value> {
        if frame["type"] == "tasks_changed" {
            let typed = serde_json::from_value(frame).expect("a tasks_changed frame");
            self.task_changes.push_back(typed);
            return None;
        }
        Some(frame)
    }

    /// The next JSON text frame of any kind; `None` on close or timeout.
    async fn read_any(&mut self, timeout: Duration) -> Option<Value> {
        let deadline = tokio::time::Instant::now() + timeout;
        loop {
            let msg = tokio::time::timeout_at(deadline, self.socket.next())
                .await
                .ok()??
                .ok()?;
            match msg {
                Message::Text(t) => return serde_json::from_str(t.as_str()).ok(),
                Message::Close(_) => return None,
                _ => continue,
            }
        }
    }

    pub async fn send_json(&mut self, frame: &Value) {
        self.socket
            .send(Message::Text(frame.to_string().into()))
            .await
            .expect("send frame");
    }

    pub async fn send_raw(&mut self, text: &str) {
        self.socket
            .send(Message::Text(text.to_owned().into()))
            .await
            .expect("send frame");
    }

    /// Sends a chat frame.
    pub async fn chat(
        &mut self,
        message: &str,
        conversation_id: Option<i64>,
        client_msg_id: Option<&str>,
    ) {
        self.send(&ClientFrame::Chat {
            message: message.to_owned(),
            conversation_id,
            client_msg_id: client_msg_id.map(str::to_owned),
        })
        .await;
    }

    /// The next JSON text frame of a request (control and `tasks_changed` frames are skipped);
    /// `None` on close or timeout.
    pub async fn next_json(&mut self, timeout: Duration) -> Option<Value> {
        if let Some(frame) = self.pending.pop_front() {
            return Some(frame);
        }
        let deadline = tokio::time::Instant::now() + timeout;
        loop {
            let left = deadline.saturating_duration_since(tokio::time::Instant::now());
            let frame = self.read_any(left).await?;
            if let Some(frame) = self.sort(frame) {
                return Some(frame);
            }
        }
    }

    /// Waits for the server to close the socket; its close code (`None`: no close within `timeout`).
    pub async fn close_code(&mut self, timeout: Duration) -> Option<u16> {
        let deadline = tokio::time::Instant::now() + timeout;
        loop {
            match tokio::time::timeout_at(deadline, self.socket.next()).await {
                Ok(Some(Ok(Message::Close(frame)))) => {
                    return Some(frame.map_or(1005, |f| u16::from(f.code)));
                }
                Ok(Some(Ok(_))) => continue,
                Ok(Some(Err(_)) | None) => return Some(1006),
                Err(_) => return None,
            }
        }
    }

    /// Frames until the first `done`, `cancelled` or `error` (inclusive).
    pub async fn until_final(&mut self, timeout: Duration) -> Vec<Value> {
        let mut frames = Vec::new();
        while let Some(f) = self.next_json(timeout).await {
            let done = matches!(f["type"].as_str(), Some("done" | "error" | "cancelled"));
            frames.push(f);
            if done {
                break;
            }
        }
        frames
    }

    /// Sends one chat message and returns every frame of its answer.
    pub async fn ask(&mut self, message: &str, conversation_id: Option<i64>) -> Vec<Value> {
        self.chat(message, conversation_id, None).await;
        self.until_final(Duration::from_secs(20)).await
    }

    pub async fn close(mut self) {
        let _ = self.socket.close(None).await;
    }
}

/// The final frame of an answer.
pub fn final_frame(frames: &[Value]) -> &Value {
    frames.last().expect("at least one frame")
}
