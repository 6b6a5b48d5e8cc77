//! Publishing a turn's reply events on its reply subject (core NATS: low latency; the final event is
//! also stored in Postgres, where the api finds it if the event is lost).

use std::sync::atomic::{AtomicUsize, Ordering};
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
/// held for at most a window before it goes out as one delta event, or until
/// [`COALESCE_BYTES`] of it wait. The window is [`COALESCE_WINDOW`] while this process streams
/// few replies; with many at once it widens so that all of them together send at most about
/// [`DELTAS_PER_SECOND`] deltas, up to [`COALESCE_WINDOW_MAX`] (see [`coalesce_window`]).
pub const COALESCE_WINDOW: Duration = Duration::from_millis(20);
/// The widest window, however many replies stream at once.
pub const COALESCE_WINDOW_MAX: Duration = Duration::from_millis(100);
/// The rate of delta events a process aims to stay under when many replies stream at once:
/// each one is a NATS message, a relay in the api and a socket frame.
pub const DELTAS_PER_SECOND: u64 = 1_000;
/// ...or until this much of it is waiting.
pub const COALESCE_BYTES: usize = 512;

/// Replies of this process that have sent text and are not finished (their sink is alive).
static STREAMING: AtomicUsize = AtomicUsize::new(0);

/// The coalescing window when `streaming` replies share the process's delta budget: each gets
/// an equal share of [`DELTAS_PER_SECOND`], never a window under [`COALESCE_WINDOW`] or over
/// [`COALESCE_WINDOW_MAX`].
pub fn coalesce_window(streaming: usize) -> Duration {
    let share = Duration::from_micros(
        u64::try_from(streaming)
            .unwrap_or(u64::MAX)
            .saturating_mul(1_000_000)
            / DELTAS_PER_SECOND,
    );
    share.clamp(COALESCE_WINDOW, COALESCE_WINDOW_MAX)
}

fn current_window() -> Duration {
    coalesce_window(STREAMING.load(Ordering::Relaxed))
}

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
    /// Counted in [`STREAMING`] (from the first delta until the sink is dropped).
    counted: bool,
}

impl Drop for Streamed {
    fn drop(&mut self) {
        if self.counted {
            STREAMING.fetch_sub(1, Ordering::Relaxed);
        }
    }
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
    /// per window ([`coalesce_window`]) or [`COALESCE_BYTES`]. Whoever produces the text calls [`Self::flush`]
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
                    .is_none_or(|at| at.elapsed() >= current_window())
        };
        if due { self.flush().await } else { Ok(()) }
    }

    /// When the text held back must go out, if any is held.
    pub fn flush_deadline(&self) -> Option<Instant> {
        let text = self.text();
        match text.last_sent {
            Some(at) if !text.unsent.is_empty() => Some(at + current_window()),
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
            if !text.counted {
                text.counted = true;
                STREAMING.fetch_add(1, Ordering::Relaxed);
            }
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
        assert!(deadline <= Instant::now() + COALESCE_WINDOW_MAX);
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

    #[test]
    fn the_window_widens_with_the_replies_streaming_at_once_within_its_bounds() {
        // A few replies: the narrow window
        assert_eq!(coalesce_window(0), COALESCE_WINDOW);
        assert_eq!(coalesce_window(10), COALESCE_WINDOW);
        // More: an equal share of the delta budget (50 replies at 1 000 deltas/s: 50 ms each)
        assert_eq!(coalesce_window(50), Duration::from_millis(50));
        assert_eq!(coalesce_window(80), Duration::from_millis(80));
        // Very many: never wider than the cap
        assert_eq!(coalesce_window(10_000), COALESCE_WINDOW_MAX);
        assert_eq!(coalesce_window(usize::MAX), COALESCE_WINDOW_MAX);
    }
}
