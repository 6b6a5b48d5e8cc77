//! Publishing a turn's reply events on its reply subject (core NATS: low latency; the final event is
//! also stored in Postgres, where the api finds it if the event is lost).

use std::sync::{Arc, Mutex};
use std::time::Duration;

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

/// Deltas are coalesced: after the first one (sent at once: the time to first token), text is
/// held for at most this long before it goes out as one delta event...
pub const COALESCE_WINDOW: Duration = Duration::from_millis(20);
/// ...or until this much of it is waiting.
pub const COALESCE_BYTES: usize = 512;

#[derive(Clone)]
pub struct EventSink {
    nats: async_nats::Client,
    subject: String,
    request_id: Uuid,
    /// When the request entered the queue.
    published: Instant,
    /// Trips when the user stops the turn.
    cancel: CancellationToken,
    /// The reply text so far (since the last `reset`): what a stopped turn keeps; and the part of
    /// it not sent yet.
    text: Arc<Mutex<Streamed>>,
    /// Where task changes are announced (`<prefix>.changes.<user>`), and for whom.
    changes: Option<(String, Uuid)>,
}

#[derive(Default)]
struct Streamed {
    all: String,
    unsent: String,
    /// When the last delta went out; `None` before the first.
    last_sent: Option<Instant>,
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
            cancel: CancellationToken::new(),
            text: Arc::default(),
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

    fn text(&self) -> std::sync::MutexGuard<'_, Streamed> {
        self.text
            .lock()
            .unwrap_or_else(std::sync::PoisonError::into_inner)
    }

    /// The reply text since the last `reset` (sent, or held to be coalesced).
    pub fn streamed(&self) -> String {
        self.text().all.clone()
    }

    pub fn request_id(&self) -> Uuid {
        self.request_id
    }

    /// When the request entered the queue.
    pub fn published(&self) -> Instant {
        self.published
    }

    /// Publishes an event; reply text held back for coalescing goes out first (unless the user
    /// stopped the turn: then no more of the reply is sent), and a `reset` discards it.
    pub async fn publish(&self, body: EventBody) -> Result<ChatEvent, EventError> {
        if matches!(body, EventBody::Reset { .. }) {
            let mut text = self.text();
            text.all.clear();
            text.unsent.clear();
        } else if !self.is_cancelled() {
            self.flush().await?;
        }
        self.send(body).await
    }

    async fn send(&self, body: EventBody) -> Result<ChatEvent, EventError> {
        let event = ChatEvent::new(self.request_id, body);
        let payload = serde_json::to_vec(&event)?;
        self.nats
            .publish(self.subject.clone(), Bytes::from(payload))
            .await?;
        Ok(event)
    }

    /// Adds reply text. The first piece goes out at once; later ones are coalesced into one delta
    /// per [`COALESCE_WINDOW`] or [`COALESCE_BYTES`]. Whoever produces the text calls [`Self::flush`]
    /// by [`Self::flush_deadline`] when no more text comes before it.
    pub async fn delta(&self, piece: &str) -> Result<(), EventError> {
        if piece.is_empty() {
            return Ok(());
        }
        if self.is_cancelled() {
            return Err(EventError::Cancelled);
        }
        let due = {
            let mut text = self.text();
            text.all.push_str(piece);
            text.unsent.push_str(piece);
            text.unsent.len() >= COALESCE_BYTES
                || text
                    .last_sent
                    .is_none_or(|at| at.elapsed() >= COALESCE_WINDOW)
        };
        if due { self.flush().await } else { Ok(()) }
    }

    /// When the text held back must go out, if any is held.
    pub fn flush_deadline(&self) -> Option<Instant> {
        let text = self.text();
        match text.last_sent {
            Some(at) if !text.unsent.is_empty() => Some(at + COALESCE_WINDOW),
            _ => None,
        }
    }

    /// Sends the text held back, as one delta.
    pub async fn flush(&self) -> Result<(), EventError> {
        let (unsent, first) = {
            let mut text = self.text();
            if text.unsent.is_empty() {
                return Ok(());
            }
            let first = text.last_sent.is_none();
            text.last_sent = Some(Instant::now());
            (std::mem::take(&mut text.unsent), first)
        };
        if first {
            metrics::histogram!("todo_chat_time_to_first_token_seconds")
                .record(self.published.elapsed().as_secs_f64());
        }
        self.send(EventBody::Delta { text: unsent })
            .await
            .map(|_| ())
    }

    /// Reports a tool call (after it ran: reported even when the user stopped the turn meanwhile,
    /// since its effect stays). `output` is the call's typed result when the caller has it (else
    /// it is read back from the call's JSON) and names the tasks it changed.
    pub async fn tool(
        &self,
        call: &ToolCall,
        output: Option<&todo_common::tools::ToolOutput>,
    ) -> Result<(), EventError> {
        if let Some((prefix, user_id)) = &self.changes {
            let parsed;
            let output = match output {
                Some(o) => Some(o),
                None => {
                    parsed = todo_common::tools::ToolOutput::from_value(&call.result);
                    parsed.as_ref()
                }
            };
            if let Some(output) = output {
                let mut notice = todo_common::protocol::TasksChangedNotice::new(*user_id);
                notice.add_tool_result(output);
                notice.publish(&self.nats, prefix).await;
            }
        }
        self.publish(EventBody::Tool {
            tool: call.tool.clone(),
            arguments: call.arguments.clone(),
            result: call.result.clone(),
        })
        .await
        .map(|_| ())
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use futures::StreamExt;

    /// A sink on a fresh subject of the machine's NATS (`NATS_URL`, else the local default), and
    /// a subscription to it.
    async fn sink() -> (EventSink, async_nats::Subscriber) {
        let url = std::env::var("NATS_URL").unwrap_or_else(|_| "nats://127.0.0.1:4222".into());
        let nats = async_nats::connect(url).await.expect("NATS is running");
        let subject = format!("test.events.{}", Uuid::new_v4());
        let subscriber = nats.subscribe(subject.clone()).await.expect("subscribe");
        nats.flush().await.expect("flush");
        let sink = EventSink::new(nats, subject, Uuid::new_v4(), Instant::now());
        (sink, subscriber)
    }

    async fn next_body(subscriber: &mut async_nats::Subscriber) -> EventBody {
        let message = tokio::time::timeout(Duration::from_secs(5), subscriber.next())
            .await
            .expect("an event in time")
            .expect("an event");
        serde_json::from_slice::<ChatEvent>(&message.payload)
            .expect("a chat event")
            .body
    }

    fn delta_text(body: EventBody) -> String {
        match body {
            EventBody::Delta { text } => text,
            other => panic!("expected a delta, got {other:?}"),
        }
    }

    #[tokio::test]
    async fn the_first_delta_goes_out_at_once_and_the_rest_is_coalesced_before_the_next_event() {
        // Arrange
        let (sink, mut events) = sink().await;
        let pieces: Vec<String> = (0..30).map(|i| format!("word{i} ")).collect();

        // Act: a burst of tokens, a reset, more text, then the final event
        for piece in &pieces {
            sink.delta(piece).await.expect("delta");
        }
        assert!(sink.flush_deadline().is_some(), "text is held back");
        sink.publish(EventBody::Reset { reason: "x".into() })
            .await
            .expect("reset");
        sink.delta("after").await.expect("delta");
        sink.delta(" that").await.expect("delta");
        sink.publish(EventBody::Done {
            conversation_id: 1,
            response: "after that".into(),
            tool_calls: Vec::new(),
        })
        .await
        .expect("done");

        // Assert: the first token alone; the held-back burst discarded by the reset; the text
        // after it coalesced ahead of `done`
        assert_eq!(delta_text(next_body(&mut events).await), "word0 ");
        assert!(matches!(
            next_body(&mut events).await,
            EventBody::Reset { .. }
        ));
        assert_eq!(delta_text(next_body(&mut events).await), "after that");
        assert!(matches!(
            next_body(&mut events).await,
            EventBody::Done { .. }
        ));
        assert_eq!(sink.streamed(), "after that");
    }

    #[tokio::test]
    async fn held_back_text_goes_out_as_one_delta_by_its_deadline_or_size() {
        // Arrange
        let (sink, mut events) = sink().await;
        sink.delta("Hello").await.expect("first delta");
        assert_eq!(delta_text(next_body(&mut events).await), "Hello");

        // Act: two quick pieces, flushed at the deadline the sink names; then one piece as large
        // as the size limit, which goes out at once
        sink.delta(", wor").await.expect("delta");
        sink.delta("ld").await.expect("delta");
        let deadline = sink.flush_deadline().expect("a deadline");
        assert!(deadline <= Instant::now() + COALESCE_WINDOW);
        tokio::time::sleep_until(deadline).await;
        sink.flush().await.expect("flush");
        assert_eq!(sink.flush_deadline(), None, "nothing held back");
        let big = "x".repeat(COALESCE_BYTES);
        sink.delta(&big).await.expect("big delta");

        // Assert
        assert_eq!(delta_text(next_body(&mut events).await), ", world");
        assert_eq!(delta_text(next_body(&mut events).await), big);
        assert_eq!(sink.streamed(), format!("Hello, world{big}"));
    }
}
