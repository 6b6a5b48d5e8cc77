//! The worker's run loop: pull requests from the shared durable consumer, run up to
//! `WORKER_CONCURRENCY` turns at once, keep each message alive with in-progress acks while its turn
//! runs, and ack / nak (with backoff) / term it according to the outcome (a termed message leaves a
//! dead-letter record). On shutdown it stops pulling, lets in-flight turns finish within
//! `WORKER_DRAIN_TIMEOUT_SECS`, and hands the rest back (nak) so another worker runs them at once.

use std::future::Future;
use std::sync::{Arc, OnceLock};
use std::time::Duration;

use anyhow::Context;
use async_nats::jetstream::{self, AckKind};
use futures::StreamExt;
use serde::Deserialize;
use sqlx::PgPool;
use time::OffsetDateTime;
use todo_common::chat::{self, Lease};
use todo_common::{Config, db, queue, retry};
use tokio::net::TcpListener;
use tokio::sync::Semaphore;
use tokio::task::JoinSet;
use tokio::time::Instant;
use tokio_util::sync::CancellationToken;
use tracing::Instrument;
use uuid::Uuid;

use crate::agent::Agent;
use crate::agent::early::Memory;
use crate::error::{TurnError, retry_delay};
use crate::turn::{self, TurnContext};

/// How long handing unfinished turns back may take once the drain deadline has passed.
const HAND_BACK_TIMEOUT: Duration = Duration::from_secs(5);

pub struct Worker {
    config: Config,
    ctx: Arc<TurnContext>,
    listener: TcpListener,
}

impl Worker {
    /// Connects to Postgres and NATS and checks (or applies) migrations.
    pub async fn build(config: Config) -> anyhow::Result<Self> {
        let pool: PgPool = db::pool(&config.database);
        if config.database.run_migrations {
            db::migrate(&pool).await?;
        } else {
            db::check_migrations(&pool).await?;
        }
        let nats = queue::connect(&config.nats, "todo-chat-worker")
            .await
            .context("connecting to NATS")?;
        let listener = TcpListener::bind(config.worker.http_addr)
            .await
            .with_context(|| format!("binding WORKER_HTTP_ADDR {}", config.worker.http_addr))?;
        todo_common::metrics::install();
        todo_common::metrics::register_worker_counters();
        todo_common::metrics::spawn_pool_sampler(
            pool.clone(),
            "worker",
            config.database.max_connections,
        );
        let agent = Arc::new(Agent::from_config(&config.worker.agent));
        if matches!(*agent, Agent::Builtin(_)) {
            tokio::task::spawn_blocking(crate::agent::builtin::parse::warm_up);
        }
        // One subscription for every stop request; each names its request.
        let cancels = crate::cancel::Cancels::default();
        let stops = nats
            .subscribe(format!("{}.cancel.*", config.nats.subject_prefix))
            .await
            .context("subscribing to stop requests")?;
        tokio::spawn(cancels.clone().listen(stops));
        tracing::info!(
            agent = agent.name(),
            concurrency = config.worker.concurrency,
            "worker ready"
        );
        let ctx = Arc::new(TurnContext {
            starter: match *agent {
                Agent::Builtin(_) => crate::batch::builtin_starter(
                    pool.clone(),
                    config.nats.ack_wait,
                    config.limits.max_tasks_per_user,
                ),
                Agent::OpenAi(_) => {
                    crate::batch::starter(pool.clone(), config.nats.ack_wait, agent.history_need())
                }
            },
            finisher: crate::batch::finisher(pool.clone()),
            tools: crate::tools::batcher(pool.clone()),
            db: pool,
            nats,
            nats_config: config.nats.clone(),
            agent,
            max_tasks: config.limits.max_tasks_per_user,
            cancels,
            memory: match &config.worker.agent {
                todo_common::config::AgentConfig::OpenAi(c) => {
                    Memory::new(c.early_start_conversations)
                }
                todo_common::config::AgentConfig::Builtin => None,
            },
        });
        Ok(Self {
            config,
            ctx,
            listener,
        })
    }

    /// Address of the worker's `/health` and `/metrics` server.
    pub fn http_addr(&self) -> std::net::SocketAddr {
        self.listener
            .local_addr()
            .expect("bound listener has an address")
    }

    /// Consumes requests until `shutdown` resolves, then drains.
    pub async fn run_until_stopped(
        self,
        shutdown: impl Future<Output = ()> + Send + 'static,
    ) -> anyhow::Result<()> {
        let stop = CancellationToken::new();
        let hand_back = CancellationToken::new();
        let trigger = stop.clone();
        tokio::spawn(async move {
            shutdown.await;
            tracing::info!("shutdown requested: no longer pulling requests");
            trigger.cancel();
        });
        let js = jetstream::new(self.ctx.nats.clone());
        tracing::info!(addr = %self.http_addr(), "worker health and metrics listening");
        let http_stop = CancellationToken::new();
        let server = axum::serve(
            self.listener,
            crate::http::router(self.ctx.db.clone(), self.ctx.nats.clone(), stop.clone()),
        )
        .with_graceful_shutdown(http_stop.clone().cancelled_owned());
        let server = tokio::spawn(async move {
            if let Err(e) = server.await {
                tracing::error!(error = %e, "worker HTTP server failed");
            }
        });
        let stop_http = http_stop.drop_guard();
        todo_common::metrics::spawn_queue_sampler(js.clone(), self.config.nats.clone());
        let Some(mut consumer) = wait_for_consumer(&js, &self.config.nats, &stop).await else {
            return Ok(());
        };
        let concurrency = self.config.worker.concurrency;
        let slots = Arc::new(Semaphore::new(concurrency));
        let mut inflight = JoinSet::new();
        let heartbeat = (self.config.nats.ack_wait / 3).max(Duration::from_millis(200));
        let max_deliver = self.config.nats.max_deliver;
        let mut pull_failures = 0;
        'outer: loop {
            let mut messages = match consumer
                .stream()
                .max_messages_per_batch(concurrency)
                .heartbeat(Duration::from_secs(2))
                .expires(Duration::from_secs(30))
                .messages()
                .await
            {
                Ok(m) => {
                    pull_failures = 0;
                    m
                }
                Err(e) => {
                    tracing::warn!(error = %e, "cannot pull from JetStream; retrying");
                    pull_failures += 1;
                    tokio::select! {
                        () = stop.cancelled() => break 'outer,
                        () = tokio::time::sleep(retry::BROKER.delay(pull_failures)) => {}
                    }
                    // The stream or the consumer may be gone (a NATS server that came back
                    // without its storage): create them again. Lost requests are the
                    // reconciler's to publish again.
                    recreate_consumer(&js, &self.config.nats, &mut consumer).await;
                    continue 'outer;
                }
            };
            loop {
                let permit = tokio::select! {
                    () = stop.cancelled() => break 'outer,
                    p = slots.clone().acquire_owned() => p.context("semaphore closed")?,
                };
                let next = tokio::select! {
                    () = stop.cancelled() => break 'outer,
                    m = messages.next() => m,
                    Some(_) = inflight.join_next(), if !inflight.is_empty() => { continue; }
                };
                let message = match next {
                    Some(Ok(m)) => m,
                    Some(Err(e)) => {
                        tracing::warn!(error = %e, "pull error; resubscribing");
                        // Missed heartbeats can mean the consumer is gone: make sure it exists.
                        recreate_consumer(&js, &self.config.nats, &mut consumer).await;
                        continue 'outer;
                    }
                    None => continue 'outer,
                };
                let ctx = self.ctx.clone();
                let hand_back = hand_back.clone();
                inflight.spawn(async move {
                    let _permit = permit;
                    handle(ctx, message, heartbeat, max_deliver, hand_back).await;
                });
                while inflight.try_join_next().is_some() {}
            }
        }
        drain(inflight, self.config.worker.drain_timeout, &hand_back).await;
        drop(stop_http);
        let _ = server.await;
        self.ctx.db.close().await;
        tracing::info!("worker stopped");
        Ok(())
    }
}

/// The durable consumer, once JetStream has it (retrying while NATS is unreachable); `None` when
/// the worker is stopped first.
async fn wait_for_consumer(
    js: &jetstream::Context,
    config: &todo_common::config::NatsConfig,
    stop: &CancellationToken,
) -> Option<jetstream::consumer::PullConsumer> {
    let mut retry = 0;
    loop {
        match queue::ensure_consumer(js, config).await {
            Ok(c) => return Some(c),
            Err(e) => {
                tracing::warn!(error = %e, "JetStream consumer not ready yet; retrying");
                retry += 1;
                tokio::select! {
                    () = stop.cancelled() => return None,
                    () = tokio::time::sleep(retry::BROKER.delay(retry)) => {}
                }
            }
        }
    }
}

/// Lets in-flight turns finish for `timeout`, then hands the rest back to the queue (their
/// messages nak'ed, their leases released); what still runs after that is aborted, and JetStream
/// redelivers it after the ack wait.
async fn drain(mut inflight: JoinSet<()>, timeout: Duration, hand_back: &CancellationToken) {
    tracing::info!(in_flight = inflight.len(), "draining in-flight turns");
    let drained = tokio::time::timeout(timeout, async {
        while inflight.join_next().await.is_some() {}
    })
    .await;
    if drained.is_ok() {
        return;
    }
    tracing::warn!(
        left = inflight.len(),
        "drain deadline passed; handing the remaining turns back to the queue"
    );
    hand_back.cancel();
    let handed_back = tokio::time::timeout(HAND_BACK_TIMEOUT, async {
        while inflight.join_next().await.is_some() {}
    })
    .await;
    if handed_back.is_err() {
        inflight.abort_all();
    }
}

/// Makes sure the stream and the consumer exist (creating them if they were lost) and pulls from
/// that consumer from now on.
async fn recreate_consumer(
    js: &jetstream::Context,
    config: &todo_common::config::NatsConfig,
    consumer: &mut jetstream::consumer::PullConsumer,
) {
    match queue::ensure_consumer(js, config).await {
        Ok(c) => *consumer = c,
        Err(e) => tracing::warn!(error = %e, "JetStream consumer not ready yet"),
    }
}

/// The request id of a payload, without validating the rest (for leases and dead letters).
fn request_ids(payload: &[u8]) -> (Option<Uuid>, Option<Uuid>) {
    #[derive(Deserialize)]
    struct Ids {
        request_id: Option<Uuid>,
        user_id: Option<Uuid>,
    }
    serde_json::from_slice::<Ids>(payload).map_or((None, None), |ids| (ids.request_id, ids.user_id))
}

/// Runs one message's turn with heartbeats and settles the message: ack when done, nak with
/// backoff when it may succeed later, term (and a dead-letter record) when it never will; nak at
/// once when the worker is stopping and `hand_back` fires. Every log line of the turn carries its
/// `request_id`, `user_id` and `conversation_id` (the api logs the same fields).
async fn handle(
    ctx: Arc<TurnContext>,
    message: jetstream::Message,
    heartbeat: Duration,
    max_deliver: i64,
    hand_back: CancellationToken,
) {
    let (request_id, user_id) = request_ids(&message.payload);
    let span = tracing::info_span!(
        "turn",
        request_id = request_id.map(tracing::field::display),
        user_id = user_id.map(tracing::field::display),
        conversation_id = tracing::field::Empty,
    );
    let ids = (request_id, user_id);
    settle(ctx, message, ids, heartbeat, max_deliver, hand_back)
        .instrument(span)
        .await;
}

/// The message's delivery count and how long it waited in the queue.
fn delivery(message: &jetstream::Message) -> (i64, Instant) {
    let info = message.info().ok();
    let delivered = info.as_ref().map_or(1, |i| i.delivered);
    let queued_for = info
        .as_ref()
        .map(|i| OffsetDateTime::now_utc() - i.published)
        .and_then(|d| Duration::try_from(d).ok())
        .unwrap_or_default();
    let published = Instant::now()
        .checked_sub(queued_for)
        .unwrap_or_else(Instant::now);
    (delivered, published)
}

async fn settle(
    ctx: Arc<TurnContext>,
    message: jetstream::Message,
    ids: (Option<Uuid>, Option<Uuid>),
    heartbeat: Duration,
    max_deliver: i64,
    hand_back: CancellationToken,
) {
    let (delivered, published) = delivery(&message);
    if delivered > 1 {
        metrics::counter!("todo_worker_redeliveries_total").increment(1);
    }
    let _in_flight = InFlight::new();
    let lease = OnceLock::new();
    let turn = turn::process(
        &ctx,
        &message.payload,
        delivered <= 1,
        delivered >= max_deliver,
        published,
        &lease,
    );
    let outcome = keep_alive(turn, &message, &lease, heartbeat, &hand_back).await;
    let settled = finish_message(&ctx, &message, ids, delivered, outcome, lease.get()).await;
    if let Err(e) = settled {
        tracing::warn!(error = %e, "could not settle the JetStream message; it will be redelivered");
    }
}

/// Runs the turn while keeping it alive: in-progress acks keep the message ours, and the lease
/// (once the turn started, see [`turn::process`]) tells other deliveries this attempt is alive. A
/// delivery still waiting for its turn renews nothing, so it cannot keep alive the attempt it
/// waits for. `None` when the worker is stopping and hands the turn back.
async fn keep_alive(
    turn: impl std::future::Future<Output = Result<(), TurnError>>,
    message: &jetstream::Message,
    lease: &OnceLock<Lease>,
    heartbeat: Duration,
    hand_back: &CancellationToken,
) -> Option<Result<(), TurnError>> {
    tokio::pin!(turn);
    let mut tick = tokio::time::interval(heartbeat);
    tick.tick().await;
    loop {
        tokio::select! {
            outcome = &mut turn => return Some(outcome),
            _ = tick.tick() => {
                if let Err(e) = message.ack_with(AckKind::Progress).await {
                    tracing::warn!(error = %e, "in-progress ack failed");
                }
                if let Some(lease) = lease.get() {
                    match lease.renew().await {
                        Ok(true) => {}
                        Ok(false) => tracing::warn!(attempt = lease.attempt(), "the turn's lease was taken over"),
                        Err(e) => tracing::warn!(error = %e, "could not renew the turn's lease"),
                    }
                }
            }
            () = hand_back.cancelled() => return None,
        }
    }
}

/// Settles the message by the turn's outcome: ack when done; nak (the lease released) when it
/// may succeed later or the worker is stopping; term with a dead-letter record when it never will.
async fn finish_message(
    ctx: &TurnContext,
    message: &jetstream::Message,
    (request_id, user_id): (Option<Uuid>, Option<Uuid>),
    delivered: i64,
    outcome: Option<Result<(), TurnError>>,
    lease: Option<&Lease>,
) -> Result<(), async_nats::Error> {
    let release = || async {
        if let Some(lease) = lease
            && let Err(e) = lease.release().await
        {
            tracing::warn!(error = %e, "could not hand the turn back; its lease will expire instead");
        }
    };
    match outcome {
        Some(Ok(())) => {
            metrics::counter!("todo_worker_messages_total", "outcome" => "ack").increment(1);
            message.double_ack().await
        }
        None => {
            tracing::warn!("handing an unfinished turn back to the queue");
            release().await;
            metrics::counter!("todo_worker_messages_total", "outcome" => "nak").increment(1);
            message.ack_with(AckKind::Nak(None)).await
        }
        Some(Err(TurnError::Retryable(e))) => {
            let delay = retry_delay(delivered);
            tracing::warn!(error = %format!("{e:#}"), delivered, delay_ms = delay.as_millis() as u64, "turn failed; will retry");
            release().await;
            metrics::counter!("todo_worker_messages_total", "outcome" => "nak").increment(1);
            message.ack_with(AckKind::Nak(Some(delay))).await
        }
        Some(Err(TurnError::Fatal { reason, error })) => {
            let cause = format!("{error:#}");
            tracing::error!(reason, cause, delivered, "turn dropped to the dead letters");
            metrics::counter!("todo_worker_messages_total", "outcome" => "term").increment(1);
            metrics::counter!("todo_dead_letters_total", "reason" => reason).increment(1);
            let letter = chat::DeadLetter {
                request_id,
                user_id,
                reason,
                cause: &cause,
                deliveries: delivered,
                payload: &message.payload,
            };
            if let Err(e) = chat::record_dead_letter(&ctx.db, &letter).await {
                tracing::error!(error = %e, "could not record the dead letter");
            }
            message.ack_with(AckKind::Term).await
        }
    }
}

/// Counts a turn in `todo_worker_in_flight` for as long as it lives.
struct InFlight;

impl InFlight {
    fn new() -> Self {
        metrics::gauge!("todo_worker_in_flight").increment(1.0);
        Self
    }
}

impl Drop for InFlight {
    fn drop(&mut self) {
        metrics::gauge!("todo_worker_in_flight").decrement(1.0);
    }
}
