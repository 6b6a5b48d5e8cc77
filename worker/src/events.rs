//! Publishing a turn's reply events on its reply subject (core NATS: low latency; the final event is
//! also stored in Postgres, where the api finds it if the event is lost).

use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Arc, Mutex};

use bytes::Bytes;
use todo_common::schema::{ChatEvent, EventBody, ToolCall};
use tokio::time::Instant;
use tokio_util::sync::CancellationToken;
use uuid::Uuid;

/// Why an event could not be sent: both are retryable for the turn.
#[derive(Debug, thiserror::Error)]
pub enum EventError {
    #[error("serializing an event: {0}")]
    Serialize(#[from] serde_json::Error),
    #[error("publishing an event: {0}")]
    Publish(#[from] async_nats::PublishError),
    /// The user stopped the turn: no more of the reply is sent.
    #[error("the user stopped the turn")]
    Cancelled,
}

#[derive(Clone)]
pub struct EventSink {
    nats: async_nats::Client,
    subject: String,
    request_id: Uuid,
    /// When the request entered the queue.
    published: Instant,
    first_delta_sent: Arc<AtomicBool>,
    /// Trips when the user stops the turn.
    cancel: CancellationToken,
    /// The reply text sent so far (since the last `reset`): what a stopped turn keeps.
    streamed: Arc<Mutex<String>>,
    /// Where task changes are announced (`<prefix>.changes.<user>`), and for whom.
    changes: Option<(String, Uuid)>,
}

impl EventSink {
    pub fn new(
        nats: async_nats::Client,
        subject: String,
        request_id: Uuid,
        published: Instant,
    ) -> Self {
        Self {
            nats,
            subject,
            request_id,
            published,
            first_delta_sent: Arc::new(AtomicBool::new(false)),
            cancel: CancellationToken::new(),
            streamed: Arc::default(),
            changes: None,
        }
    }

    /// Announces the task changes of the turn's tools to the user's other sockets.
    #[must_use]
    pub fn with_changes(mut self, prefix: &str, user_id: Uuid) -> Self {
        self.changes = Some((prefix.to_owned(), user_id));
        self
    }

    /// Stops the reply when `cancel` trips.
    #[must_use]
    pub fn with_cancel(mut self, cancel: CancellationToken) -> Self {
        self.cancel = cancel;
        self
    }

    /// The user asked to stop the turn.
    pub fn is_cancelled(&self) -> bool {
        self.cancel.is_cancelled()
    }

    /// Resolves when the user asks to stop the turn.
    pub async fn cancelled(&self) {
        self.cancel.cancelled().await;
    }

    /// The reply text sent since the last `reset`.
    pub fn streamed(&self) -> String {
        self.streamed
            .lock()
            .unwrap_or_else(std::sync::PoisonError::into_inner)
            .clone()
    }

    pub fn request_id(&self) -> Uuid {
        self.request_id
    }

    /// When the request entered the queue.
    pub fn published(&self) -> Instant {
        self.published
    }

    pub async fn publish(&self, body: EventBody) -> Result<ChatEvent, EventError> {
        if matches!(body, EventBody::Reset { .. }) {
            self.streamed
                .lock()
                .unwrap_or_else(std::sync::PoisonError::into_inner)
                .clear();
        }
        let event = ChatEvent::new(self.request_id, body);
        let payload = serde_json::to_vec(&event)?;
        self.nats
            .publish(self.subject.clone(), Bytes::from(payload))
            .await?;
        Ok(event)
    }

    pub async fn delta(&self, text: &str) -> Result<(), EventError> {
        if text.is_empty() {
            return Ok(());
        }
        if self.is_cancelled() {
            return Err(EventError::Cancelled);
        }
        self.streamed
            .lock()
            .unwrap_or_else(std::sync::PoisonError::into_inner)
            .push_str(text);
        if !self.first_delta_sent.swap(true, Ordering::Relaxed) {
            metrics::histogram!("todo_chat_time_to_first_token_seconds")
                .record(self.published.elapsed().as_secs_f64());
        }
        self.publish(EventBody::Delta {
            text: text.to_owned(),
        })
        .await
        .map(|_| ())
    }

    /// Reports a tool call (after it ran: reported even when the user stopped the turn meanwhile,
    /// since its effect stays).
    pub async fn tool(&self, call: &ToolCall) -> Result<(), EventError> {
        if let Some((prefix, user_id)) = &self.changes
            && let Some(output) = todo_common::tools::ToolOutput::from_value(&call.result)
        {
            let mut notice = todo_common::protocol::TasksChangedNotice::new(*user_id);
            notice.add_tool_result(&output);
            notice.publish(&self.nats, prefix).await;
        }
        self.publish(EventBody::Tool {
            tool: call.tool.clone(),
            arguments: call.arguments.clone(),
            result: call.result.clone(),
        })
        .await
        .map(|_| ())
    }

    /// Streams a finished text as word-sized deltas, as a model would.
    pub async fn stream_text(&self, text: &str) -> Result<(), EventError> {
        for chunk in chunks(text, 24) {
            self.delta(chunk).await?;
        }
        Ok(())
    }
}

/// Splits `text` into pieces of roughly `size` bytes, cut after whitespace, that concatenate to `text`.
pub fn chunks(text: &str, size: usize) -> Vec<&str> {
    let mut out = Vec::new();
    let mut start = 0;
    let mut last_cut = 0;
    for (i, c) in text.char_indices() {
        if c.is_whitespace() {
            last_cut = i + c.len_utf8();
        }
        if i - start >= size && last_cut > start {
            out.push(&text[start..last_cut]);
            start = last_cut;
        }
    }
    if start < text.len() {
        out.push(&text[start..]);
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn chunks_concatenate_to_the_text() {
        let text = "Here are your pending tasks:\n• #1 Buy milk\n• #2 Call mom — tonight";
        let parts = chunks(text, 10);
        assert!(parts.len() > 2);
        assert_eq!(parts.concat(), text);
        assert_eq!(chunks("", 10), Vec::<&str>::new());
        assert_eq!(chunks("short", 10), vec!["short"]);
    }
}
