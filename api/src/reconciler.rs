//! The reconciler: Postgres, not the broker, is the system of record. Every
//! `RECONCILE_AFTER_SECS / 2` each api instance looks for chat requests that are unfinished and that
//! nothing has touched for `RECONCILE_AFTER_SECS` (a running attempt renews its lease far more
//! often) and publishes them again. That recovers requests whose message was lost: an api that
//! died between storing and publishing, a broker that crashed before writing a message to disk,
//! a worker that died holding a turn whose message is gone.
//!
//! Publishing again is safe: the stream drops a repeated `Nats-Msg-Id` within its duplicate
//! window, and a turn that is delivered twice runs once (the `chat_requests` state machine and
//! the recorded tool effects). Concurrent reconcilers claim disjoint rows (`skip locked`).
//!
//! It runs in the api, not the workers: publishing requests is the api's role on NATS (a worker's
//! credentials cannot publish requests, see deploy/nats/nats.conf).

use std::time::Duration;

use async_nats::jetstream;
use sqlx::PgPool;
use todo_common::config::NatsConfig;
use todo_common::{chat, queue};
use tokio_util::sync::CancellationToken;

/// Rows claimed per scan.
const BATCH: i64 = 500;
const PUBLISH_TIMEOUT: Duration = Duration::from_secs(3);

/// Scans until `stop` fires.
pub async fn run(
    db: PgPool,
    js: jetstream::Context,
    config: NatsConfig,
    stale_after: Duration,
    stop: CancellationToken,
) {
    let every = (stale_after / 2).max(Duration::from_millis(500));
    let mut tick = tokio::time::interval(every);
    tick.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Delay);
    loop {
        tokio::select! {
            () = stop.cancelled() => return,
            _ = tick.tick() => {}
        }
        match reconcile_once(&db, &js, &config, stale_after).await {
            Ok(0) => {}
            Ok(n) => tracing::warn!(republished = n, "published stale chat requests again"),
            Err(e) => tracing::warn!(error = %e, "reconciler scan failed; retrying later"),
        }
    }
}

/// One scan: claims stale requests and publishes them again; returns how many were published.
pub async fn reconcile_once(
    db: &PgPool,
    js: &jetstream::Context,
    config: &NatsConfig,
    stale_after: Duration,
) -> anyhow::Result<usize> {
    let stale = chat::claim_stale(db, stale_after, BATCH).await?;
    let mut published = 0;
    for record in &stale {
        // A duplicate here means the original is still in the stream: nothing more to do.
        match queue::publish_request(js, config, record, PUBLISH_TIMEOUT).await {
            Ok(_) => {
                published += 1;
                metrics::counter!("todo_reconciler_republished_total").increment(1);
                tracing::info!(request_id = %record.request_id, user_id = %record.user_id,
                    conversation_id = record.conversation_id, "chat request published again");
            }
            // Claimed rows were touched: they come up again after another `stale_after`.
            Err(e) => {
                tracing::warn!(request_id = %record.request_id, error = %e, "could not publish a stale request");
                break;
            }
        }
    }
    Ok(published)
}
