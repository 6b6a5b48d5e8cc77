//! Accepting a chat turn: limits, then one statement stores it in Postgres (the durable record
//! before anything is acknowledged), then it is published to JetStream; the follower is subscribed
//! before the publish so no event can be missed.

use std::collections::{HashMap, HashSet};
use std::sync::Arc;
use std::time::Duration;

use async_nats::jetstream;
use sqlx::PgPool;
use todo_common::batch::Batcher;
use todo_common::chat::{self, Accepted, ChatRequestRecord};
use todo_common::config::NatsConfig;
use todo_common::queue;
use uuid::Uuid;

use super::follow::{RequestEvents, Source};
use crate::error::{ApiError, Result};
use crate::limits::Limits;

/// How long the api waits for JetStream to acknowledge a publish.
const PUBLISH_TIMEOUT: Duration = Duration::from_secs(3);

/// Publishes chat requests and follows their events.
pub struct ChatService {
    db: PgPool,
    nats: async_nats::Client,
    js: jetstream::Context,
    config: NatsConfig,
    limits: Arc<Limits>,
    router: Arc<super::EventRouter>,
    /// Stores accepted turns, several per statement under load.
    acceptor: Batcher<chat::NewRequest, Accepted>,
}

/// Where a stop request left its turn.
#[derive(Debug, Clone, Copy, PartialEq, Eq, serde::Serialize, utoipa::ToSchema)]
#[serde(rename_all = "lowercase")]
pub enum CancelState {
    /// It had not started: it is cancelled (the `cancelled` event is out).
    Cancelled,
    /// A worker is stopping it; its `cancelled` event follows within a second.
    Cancelling,
}

/// A request the api has accepted, with the stream of its events.
pub struct Submitted {
    pub record: ChatRequestRecord,
    pub events: RequestEvents,
}

impl ChatService {
    pub fn new(
        db: PgPool,
        nats: async_nats::Client,
        config: NatsConfig,
        limits: Arc<Limits>,
        router: Arc<super::EventRouter>,
    ) -> Self {
        let js = jetstream::new(nats.clone());
        let acceptor = acceptor(db.clone(), limits.chat_max_in_flight);
        Self {
            acceptor,
            db,
            nats,
            js,
            config,
            limits,
            router,
        }
    }

    pub fn jetstream(&self) -> &jetstream::Context {
        &self.js
    }

    /// Whether the request stream exists, creating it when it does not (a NATS server that came
    /// back without its storage, or a start-up whose stream setup is still retrying). `false`
    /// when neither answers within `timeout`: chat requests could not be queued.
    pub async fn stream_ready(&self, timeout: Duration) -> bool {
        let check = async {
            self.js.get_stream(&self.config.stream).await.is_ok()
                || queue::ensure_stream(&self.js, &self.config).await.is_ok()
        };
        tokio::time::timeout(timeout, check).await.unwrap_or(false)
    }

    /// Stores and publishes a turn (or finds the earlier one with the same request id) and
    /// subscribes to its events. Refuses at once (503 `overloaded`) when NATS is unreachable, and
    /// (429) when the user is over a chat limit.
    pub async fn submit(
        &self,
        user_id: Uuid,
        request_id: Uuid,
        conversation_id: Option<i64>,
        message: &str,
    ) -> Result<Submitted> {
        let result = self
            .try_submit(user_id, request_id, conversation_id, message)
            .await;
        let outcome = match &result {
            Ok(_) => "accepted",
            Err(ApiError::TooManyRequests { .. }) => "rate_limited",
            Err(ApiError::Overloaded { .. }) => "overloaded",
            Err(_) => "rejected",
        };
        metrics::counter!("todo_chat_requests_total", "outcome" => outcome).increment(1);
        result
    }

    async fn try_submit(
        &self,
        user_id: Uuid,
        request_id: Uuid,
        conversation_id: Option<i64>,
        message: &str,
    ) -> Result<Submitted> {
        if self.nats.connection_state() != async_nats::connection::State::Connected {
            return Err(ApiError::Overloaded {
                message: "the chat queue is unreachable right now, try again shortly".into(),
                retry_after_secs: 2,
            });
        }
        self.limits.check_chat(user_id)?;
        let accepted = self
            .acceptor
            .submit(chat::NewRequest {
                request_id,
                user_id,
                conversation_id,
                message: message.to_owned(),
                reply_to: Some(self.router.reply_subject(request_id)),
            })
            .await?;
        let record = match accepted {
            Accepted::New(record) => record,
            Accepted::Existing(record) => {
                tracing::Span::current().record("conversation_id", record.conversation_id);
                tracing::info!(request_id = %request_id, "duplicate chat request: following the original");
                let events = self.follow(&record).await?;
                return Ok(Submitted { record, events });
            }
            Accepted::ConversationNotFound | Accepted::UserNotFound => {
                return Err(ApiError::NotFound);
            }
            Accepted::TooManyInFlight => {
                return Err(ApiError::TooManyRequests {
                    code: "too_many_in_flight",
                    message: format!(
                        "at most {} chat messages may wait for an answer at once; wait for a reply",
                        self.limits.chat_max_in_flight.unwrap_or_default()
                    ),
                    retry_after_secs: 1,
                });
            }
        };
        tracing::Span::current().record("conversation_id", record.conversation_id);
        tracing::info!("chat request accepted");
        // Subscribe before publishing so no event can be missed.
        let events = self.follow(&record).await?;
        if let Err(e) = self.publish(&record).await {
            tracing::error!(request_id = %request_id, error = %e, "publishing chat request failed");
            // If the stream is gone (a NATS server that came back without its storage), create
            // it again so the client's retry can succeed.
            let _ = tokio::time::timeout(
                Duration::from_secs(1),
                queue::ensure_stream(&self.js, &self.config),
            )
            .await;
            // The client is told to retry: forget the request so a retry with the same
            // idempotency key is accepted afresh. (Should the publish have reached the stream
            // after all, a worker stores and runs it, and that retry follows it.)
            chat::forget(&self.db, request_id).await?;
            return Err(ApiError::Overloaded {
                message: "the chat queue is unavailable, try again shortly".into(),
                retry_after_secs: 2,
            });
        }
        Ok(Submitted { record, events })
    }

    /// Follows a request the user sent earlier (from any api instance): its remaining events, or
    /// its stored final event if it has finished. `NotFound` when it is not the user's.
    pub async fn resume(&self, user_id: Uuid, request_id: Uuid) -> Result<Submitted> {
        let mut conn = self.db.acquire().await?;
        let record = chat::find_request(&mut conn, request_id)
            .await?
            .filter(|r| r.user_id == user_id)
            .ok_or(ApiError::NotFound)?;
        drop(conn);
        let events = self.follow(&record).await?;
        // Should it finish between the lookup and the subscription, the waiter's periodic
        // Postgres check finds the final event.
        Ok(Submitted { record, events })
    }

    /// Stops a request of the user: marks it (so no worker runs it any further) and tells the
    /// workers; a request no worker holds yet is ended here at once. `Conflict` when it has
    /// already finished, `NotFound` when it is not the user's.
    pub async fn cancel(&self, user_id: Uuid, request_id: Uuid) -> Result<CancelState> {
        let record = self.mark_cancel(user_id, request_id).await?;
        self.stop_marked(&record).await
    }

    /// The first half of [`Self::cancel`]: records the stop in Postgres (from here on no worker
    /// runs the turn any further). A socket acknowledges the stop after this, before the workers
    /// hear of it, so the acknowledgement always precedes the `cancelled` event.
    pub async fn mark_cancel(&self, user_id: Uuid, request_id: Uuid) -> Result<ChatRequestRecord> {
        match chat::request_cancel(&self.db, user_id, request_id).await? {
            chat::CancelRequest::Marked(record) => Ok(record),
            chat::CancelRequest::Finished(record) => Err(ApiError::Conflict {
                code: "request_finished",
                message: format!(
                    "this request has already finished ({}); there is nothing to stop",
                    record.status
                ),
            }),
            chat::CancelRequest::NotFound => Err(ApiError::NotFound),
        }
    }

    /// The second half of [`Self::cancel`]: tells the workers, and ends the turn here when no
    /// worker holds it.
    pub async fn stop_marked(&self, record: &ChatRequestRecord) -> Result<CancelState> {
        let request_id = record.request_id;
        let subject =
            todo_common::protocol::cancel_subject(&self.config.subject_prefix, request_id);
        if let Err(e) = self.nats.publish(subject, bytes::Bytes::new()).await {
            // The mark stays: a worker that (re)starts the turn stops it.
            tracing::warn!(error = %e, "could not announce a stop request");
        }
        // Nobody runs it yet (or its worker died): end it here, so the stop shows at once.
        match chat::stop(&self.db, record, "", None, chat::Stopper::Idle).await? {
            Some(event) => {
                let subject = record
                    .reply_to
                    .clone()
                    .unwrap_or_else(|| self.config.default_event_subject(request_id));
                match serde_json::to_vec(&event) {
                    Ok(payload) => {
                        if let Err(e) = self.nats.publish(subject, payload.into()).await {
                            // Followers find the stored final event by their periodic check.
                            tracing::warn!(error = %e, "could not publish the cancelled event");
                        }
                    }
                    Err(e) => tracing::warn!(error = %e, "could not encode the cancelled event"),
                }
                metrics::counter!("todo_chat_turns_cancelled_total").increment(1);
                Ok(CancelState::Cancelled)
            }
            None => Ok(CancelState::Cancelling),
        }
    }

    async fn follow(&self, record: &ChatRequestRecord) -> Result<RequestEvents> {
        // A request published with its own reply subject (always under the events prefix) is
        // followed there.
        let subject = record
            .reply_to
            .clone()
            .unwrap_or_else(|| self.config.default_event_subject(record.request_id));
        let source = match self.router.follow(&subject, record.request_id) {
            Some(route) => Source::Routed(route),
            None => Source::Subscribed(self.nats.subscribe(subject).await.map_err(|e| {
                ApiError::Overloaded {
                    message: format!("the message broker is unavailable ({e}), try again shortly"),
                    retry_after_secs: 2,
                }
            })?),
        };
        Ok(RequestEvents::new(source, self.db.clone(), record))
    }

    async fn publish(&self, record: &ChatRequestRecord) -> anyhow::Result<()> {
        queue::publish_new_request(&self.js, &self.config, record, PUBLISH_TIMEOUT).await
    }
}

/// Group commit of accepted turns: the requests that arrive while a batch is being stored are
/// stored by the next one in one statement ([`chat::accept_many`]), at most one per user (a
/// user's in-flight count and conversation are read once per batch). A request the batch did not
/// store, or a lone one, goes through [`chat::accept`], which also says why it was refused.
fn acceptor(db: PgPool, max_in_flight: Option<u32>) -> Batcher<chat::NewRequest, Accepted> {
    Batcher::start("accept", move |requests: Vec<chat::NewRequest>| {
        let db = db.clone();
        async move {
            let mut stored: HashMap<Uuid, ChatRequestRecord> = HashMap::new();
            let mut users = HashSet::new();
            let batch: Vec<chat::NewRequest> = requests
                .iter()
                .filter(|r| users.insert(r.user_id))
                .cloned()
                .collect();
            if batch.len() > 1 {
                match chat::accept_many(&db, &batch, max_in_flight).await {
                    Ok(records) => stored.extend(records.into_iter().map(|r| (r.request_id, r))),
                    Err(e) => {
                        tracing::warn!(error = %e, requests = batch.len(), "storing a batch of chat requests failed; storing them one by one")
                    }
                }
            }
            let mut results = Vec::with_capacity(requests.len());
            for r in &requests {
                results.push(match stored.remove(&r.request_id) {
                    Some(record) => Ok(Accepted::New(record)),
                    None => {
                        chat::accept(
                            &db,
                            r.request_id,
                            r.user_id,
                            r.conversation_id,
                            &r.message,
                            r.reply_to.as_deref(),
                            max_in_flight,
                        )
                        .await
                    }
                });
            }
            results
        }
    })
}
