//! The worker's run loop: pull requests from the shared durable consumer, run up to
//! `WORKER_CONCURRENCY` turns at once, keep each message alive with in-progress acks while its turn
//! runs, and ack / nak (with backoff) / term it according to the outcome. On shutdown it stops
//! pulling and lets in-flight turns finish within a deadline.

use std::future::Future;
use std::sync::Arc;
use std::time::Duration;

use anyhow::Context;
use async_nats::jetstream::{self, AckKind};
use futures::StreamExt;
use sqlx::PgPool;
use todo_common::{Config, db, queue};
use tokio::sync::Semaphore;
use tokio::task::JoinSet;
use tokio_util::sync::CancellationToken;

use crate::agent::Agent;
use crate::error::{TurnError, retry_delay};
use crate::turn::{self, TurnContext};

/// How long in-flight turns may take to finish after a shutdown signal.
pub const DRAIN_DEADLINE: Duration = Duration::from_secs(30);

pub struct Worker {
    config: Config,
    ctx: Arc<TurnContext>,
}

impl Worker {
    /// Connects to Postgres and NATS and checks (or applies) migrations.
    pub async fn build(config: Config) -> anyhow::Result<Self> {
        let pool: PgPool = db::pool(&config.database);
        if config.database.run_migrations {
            db::migrate(&pool)
                .await
                .context("applying database migrations")?;
        } else {
            db::check_migrations(&pool).await?;
        }
        let nats = queue::connect(&config.nats, "todo-chat-worker")
            .await
            .context("connecting to NATS")?;
        let agent = Arc::new(Agent::from_config(&config.worker.agent));
        tracing::info!(
            agent = agent.name(),
            concurrency = config.worker.concurrency,
            "worker ready"
        );
        let ctx = Arc::new(TurnContext {
            db: pool,
            nats,
            nats_config: config.nats.clone(),
            agent,
        });
        Ok(Self { config, ctx })
    }

    /// Consumes requests until `shutdown` resolves, then drains.
    pub async fn run_until_stopped(
        self,
        shutdown: impl Future<Output = ()> + Send + 'static,
    ) -> anyhow::Result<()> {
        let stop = CancellationToken::new();
        let trigger = stop.clone();
        tokio::spawn(async move {
            shutdown.await;
            tracing::info!("shutdown requested: no longer pulling requests");
            trigger.cancel();
        });
        let js = jetstream::new(self.ctx.nats.clone());
        let consumer = loop {
            match queue::ensure_consumer(&js, &self.config.nats).await {
                Ok(c) => break c,
                Err(e) => {
                    tracing::warn!(error = %e, "JetStream consumer not ready yet; retrying");
                    tokio::select! {
                        () = stop.cancelled() => return Ok(()),
                        () = tokio::time::sleep(Duration::from_secs(1)) => {}
                    }
                }
            }
        };
        let concurrency = self.config.worker.concurrency;
        let slots = Arc::new(Semaphore::new(concurrency));
        let mut inflight = JoinSet::new();
        let heartbeat = (self.config.nats.ack_wait / 3).max(Duration::from_millis(200));
        let max_deliver = self.config.nats.max_deliver;
        'outer: loop {
            let mut messages = match consumer
                .stream()
                .max_messages_per_batch(concurrency)
                .heartbeat(Duration::from_secs(5))
                .expires(Duration::from_secs(30))
                .messages()
                .await
            {
                Ok(m) => m,
                Err(e) => {
                    tracing::warn!(error = %e, "cannot pull from JetStream; retrying");
                    tokio::select! {
                        () = stop.cancelled() => break 'outer,
                        () = tokio::time::sleep(Duration::from_secs(1)) => continue 'outer,
                    }
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
                        continue 'outer;
                    }
                    None => continue 'outer,
                };
                let ctx = self.ctx.clone();
                inflight.spawn(async move {
                    let _permit = permit;
                    handle(ctx, message, heartbeat, max_deliver).await;
                });
                while inflight.try_join_next().is_some() {}
            }
        }
        tracing::info!(in_flight = inflight.len(), "draining in-flight turns");
        let drained = tokio::time::timeout(DRAIN_DEADLINE, async {
            while inflight.join_next().await.is_some() {}
        })
        .await;
        if drained.is_err() {
            tracing::warn!(
                left = inflight.len(),
                "drain deadline passed; remaining turns will be redelivered"
            );
            inflight.abort_all();
        }
        self.ctx.db.close().await;
        tracing::info!("worker stopped");
        Ok(())
    }
}

/// Runs one message's turn with heartbeats and settles the message.
async fn handle(
    ctx: Arc<TurnContext>,
    message: jetstream::Message,
    heartbeat: Duration,
    max_deliver: i64,
) {
    let delivered = message.info().map(|i| i.delivered).unwrap_or(1);
    let last_delivery = delivered >= max_deliver;
    // In-progress acks keep the message ours while the turn runs; they stop with the turn.
    let turn = turn::process(&ctx, &message.payload, last_delivery);
    tokio::pin!(turn);
    let mut tick = tokio::time::interval(heartbeat);
    tick.tick().await;
    let outcome = loop {
        tokio::select! {
            outcome = &mut turn => break outcome,
            _ = tick.tick() => {
                if let Err(e) = message.ack_with(AckKind::Progress).await {
                    tracing::warn!(error = %e, "in-progress ack failed");
                }
            }
        }
    };
    let settle = match &outcome {
        Ok(()) => message.double_ack().await,
        Err(TurnError::Retryable(e)) => {
            let delay = retry_delay(delivered);
            tracing::warn!(error = %format!("{e:#}"), delivered, delay_ms = delay.as_millis() as u64, "turn failed; will retry");
            message.ack_with(AckKind::Nak(Some(delay))).await
        }
        Err(TurnError::Fatal(e)) => {
            tracing::error!(error = %format!("{e:#}"), delivered, "turn dropped");
            message.ack_with(AckKind::Term).await
        }
    };
    if let Err(e) = settle {
        tracing::warn!(error = %e, "could not settle the JetStream message; it will be redelivered");
    }
}
