//! A WebSocket chat client for tests (and later `loadgen`).

use std::time::Duration;

use futures::{SinkExt, StreamExt};
use serde_json::{Value, json};
use tokio::net::TcpStream;
use tokio_tungstenite::tungstenite::Message;
use tokio_tungstenite::tungstenite::client::IntoClientRequest;
use tokio_tungstenite::{MaybeTlsStream, WebSocketStream, connect_async};

pub struct WsClient {
    socket: WebSocketStream<MaybeTlsStream<TcpStream>>,
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
        let (socket, _) = connect_async(request).await?;
        Ok(Self { socket })
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
        let mut frame =
            json!({"type": "chat", "message": message, "conversation_id": conversation_id});
        if let Some(id) = client_msg_id {
            frame["client_msg_id"] = json!(id);
        }
        self.send_json(&frame).await;
    }

    /// The next JSON text frame (control frames are skipped); `None` on close or timeout.
    pub async fn next_json(&mut self, timeout: Duration) -> Option<Value> {
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

    /// Frames until the first `done` or `error` (inclusive).
    pub async fn until_final(&mut self, timeout: Duration) -> Vec<Value> {
        let mut frames = Vec::new();
        while let Some(f) = self.next_json(timeout).await {
            let done = matches!(f["type"].as_str(), Some("done" | "error"));
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
