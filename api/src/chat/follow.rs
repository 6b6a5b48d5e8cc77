//! Following a turn's reply events: they arrive on the request's own subject (its `reply_to`:
//! `<prefix>.events.<instance>.<request_id>` for a turn accepted by an api instance, which routes
//! it through its one subscription, see [`super::router`]; `<prefix>.events.<request_id>` by
//! default), so any api instance can follow any request. Core NATS delivers
//! at most once, so while waiting the follower also checks Postgres and replays a final event it
//! may have missed.

use std::time::Duration;

use bytes::Bytes;
use futures::StreamExt;
use sqlx::PgPool;
use todo_common::chat::{self, ChatRequestRecord};
use todo_common::schema::ChatEvent;
use uuid::Uuid;

/// How often a waiter checks Postgres for a result whose event it may have missed.
const DB_CHECK_INTERVAL: Duration = Duration::from_secs(2);

/// One event of a request: parsed, plus the raw JSON as published (relayed as is to WebSockets).
#[derive(Debug, Clone)]
pub struct RelayedEvent {
    pub event: ChatEvent,
    pub raw: Bytes,
}

/// Where a follower's NATS messages come from.
pub enum Source {
    /// The instance's shared subscription (a request accepted here).
    Routed(super::router::Route),
    /// A subscription of its own (a request accepted elsewhere or published to the queue).
    Subscribed(async_nats::Subscriber),
}

impl Source {
    async fn next(&mut self) -> Option<async_nats::Message> {
        match self {
            Self::Routed(route) => route.events.recv().await,
            Self::Subscribed(subscriber) => subscriber.next().await,
        }
    }
}

/// Events of one request, ending with its `done` or `error`.
pub struct RequestEvents {
    subscriber: Source,
    db: PgPool,
    request_id: Uuid,
    /// The stored final event of a request that had finished before we subscribed.
    replay: Option<RelayedEvent>,
    finished: bool,
}

impl RequestEvents {
    /// Follows `record`'s events from `subscriber`; a record that already finished replays its
    /// stored final event.
    pub fn new(subscriber: Source, db: PgPool, record: &ChatRequestRecord) -> Self {
        Self {
            subscriber,
            db,
            request_id: record.request_id,
            replay: final_event_of(record),
            finished: false,
        }
    }

    /// The next event; `None` after the terminal one.
    pub async fn next(&mut self) -> Option<RelayedEvent> {
        if self.finished {
            return None;
        }
        if let Some(event) = self.replay.take() {
            self.finished = true;
            return Some(event);
        }
        let mut tick = tokio::time::interval(DB_CHECK_INTERVAL);
        tick.reset();
        loop {
            tokio::select! {
                msg = self.subscriber.next() => {
                    let msg = msg?;
                    match serde_json::from_slice::<ChatEvent>(&msg.payload) {
                        Ok(event) if event.request_id == self.request_id => {
                            self.finished = event.is_terminal();
                            return Some(RelayedEvent { event, raw: msg.payload });
                        }
                        Ok(_) => continue,
                        Err(e) => {
                            tracing::warn!(error = %e, "ignoring malformed reply event");
                            continue;
                        }
                    }
                }
                _ = tick.tick() => {
                    if let Some(event) = stored_final_event(&self.db, self.request_id).await {
                        self.finished = true;
                        return Some(event);
                    }
                }
            }
        }
    }
}

/// The final event stored with a finished request, if it finished.
async fn stored_final_event(db: &PgPool, request_id: Uuid) -> Option<RelayedEvent> {
    let mut conn = db.acquire().await.ok()?;
    let record = chat::find_request(&mut conn, request_id).await.ok()??;
    final_event_of(&record)
}

/// The final event of a finished request ([`ChatRequestRecord::final_event`]), ready to relay.
fn final_event_of(record: &ChatRequestRecord) -> Option<RelayedEvent> {
    let event = record.final_event()?;
    let raw = match serde_json::to_vec(&event) {
        Ok(raw) => Bytes::from(raw),
        Err(e) => {
            tracing::error!(request_id = %record.request_id, error = %e, "cannot serialize a final event");
            return None;
        }
    };
    Some(RelayedEvent { event, raw })
}
