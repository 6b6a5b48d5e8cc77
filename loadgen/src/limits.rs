//! `loadgen limits`: what this machine's Postgres and JetStream can do with nothing around them,
//! the yardstick the system's own figures are read against (docs/BENCHMARKS.md).
//!
//! - **Postgres group commit**: `clients` connections each insert one row per transaction into a
//!   scratch table (autocommit, the server's own `synchronous_commit`), as fast as they can.
//! - **JetStream publish → pull → ack**: a file-stored work-queue stream; publishes wait for
//!   their acknowledgement, with `in_flight` messages published but not yet acked by the pulling
//!   consumer (the worker's double ack), as a worker pool would keep them.
//!
//! Both run for `seconds` each, one after the other, and clean up what they created.

use std::sync::Arc;
use std::sync::atomic::{AtomicU64, Ordering};
use std::time::{Duration, Instant};

use anyhow::Context;
use async_nats::jetstream::{self, consumer, stream};
use futures::StreamExt;
use serde::Serialize;
use sqlx::AssertSqlSafe;
use sqlx::postgres::PgPoolOptions;
use tokio::sync::Semaphore;
use uuid::Uuid;

pub struct LimitsOptions {
    pub seconds: u64,
    pub clients: usize,
    pub in_flight: usize,
}

#[derive(Debug, Serialize)]
pub struct LimitsSummary {
    pub benchmark: &'static str,
    pub seconds: u64,
    pub postgres_clients: usize,
    pub postgres_commits: u64,
    pub postgres_commits_per_s: f64,
    pub jetstream_in_flight: usize,
    pub jetstream_messages: u64,
    pub jetstream_messages_per_s: f64,
}

impl LimitsSummary {
    pub fn print(&self, json: bool) {
        if json {
            println!("{}", serde_json::to_string(self).unwrap_or_default());
        } else {
            println!(
                "postgres: {:.0} single-row commits/s with {} clients\njetstream: {:.0} messages/s published, pulled and acked with {} in flight",
                self.postgres_commits_per_s,
                self.postgres_clients,
                self.jetstream_messages_per_s,
                self.jetstream_in_flight
            );
        }
    }
}

pub async fn run(
    database_url: &str,
    nats_url: &str,
    o: &LimitsOptions,
) -> anyhow::Result<LimitsSummary> {
    let duration = Duration::from_secs(o.seconds.max(1));
    let commits = postgres_commits(database_url, o.clients.max(1), duration).await?;
    let messages = jetstream_round_trips(nats_url, o.in_flight.max(1), duration).await?;
    let secs = duration.as_secs_f64();
    #[allow(clippy::cast_precision_loss)] // counts far below 2^52
    Ok(LimitsSummary {
        benchmark: "limits",
        seconds: o.seconds,
        postgres_clients: o.clients,
        postgres_commits: commits,
        postgres_commits_per_s: commits as f64 / secs,
        jetstream_in_flight: o.in_flight,
        jetstream_messages: messages,
        jetstream_messages_per_s: messages as f64 / secs,
    })
}

/// Single-row transactions committed by `clients` connections in `duration`.
async fn postgres_commits(url: &str, clients: usize, duration: Duration) -> anyhow::Result<u64> {
    let pool = PgPoolOptions::new()
        .max_connections(u32::try_from(clients).unwrap_or(u32::MAX))
        .min_connections(u32::try_from(clients).unwrap_or(u32::MAX))
        .connect_with(todo_common::db::connect_options(url)?)
        .await
        .context("connecting to Postgres")?;
    let table = format!("loadgen_limits_{}", Uuid::new_v4().simple());
    // The table name is generated here, not taken from input.
    sqlx::query(AssertSqlSafe(format!(
        "create table {table} (id bigserial primary key, at timestamptz not null default now(), note text not null)"
    )))
    .execute(&pool)
    .await?;
    let insert = format!("insert into {table} (note) values ($1)");
    let deadline = Instant::now() + duration;
    let committed = Arc::new(AtomicU64::new(0));
    let mut clients_done = Vec::with_capacity(clients);
    for client in 0..clients {
        let (pool, insert, committed) = (pool.clone(), insert.clone(), committed.clone());
        clients_done.push(tokio::spawn(async move {
            // One connection per client for the whole run: no pool overhead in the figure.
            let mut conn = pool.acquire().await?;
            while Instant::now() < deadline {
                sqlx::query(AssertSqlSafe(insert.as_str()))
                    .bind(format!("client {client}"))
                    .execute(&mut *conn)
                    .await?;
                committed.fetch_add(1, Ordering::Relaxed);
            }
            anyhow::Ok(())
        }));
    }
    let mut failure = None;
    for client in clients_done {
        if let Err(e) = client.await? {
            failure.get_or_insert(e);
        }
    }
    sqlx::query(AssertSqlSafe(format!("drop table {table}")))
        .execute(&pool)
        .await?;
    pool.close().await;
    match failure {
        Some(e) => Err(e),
        None => Ok(committed.load(Ordering::Relaxed)),
    }
}

/// Messages published (acknowledged by JetStream), pulled and acked in `duration`, with at most
/// `in_flight` of them between their publish and their ack.
async fn jetstream_round_trips(
    url: &str,
    in_flight: usize,
    duration: Duration,
) -> anyhow::Result<u64> {
    let nats = async_nats::connect(url)
        .await
        .context("connecting to NATS")?;
    let js = jetstream::new(nats);
    let tag = Uuid::new_v4().simple().to_string();
    let name = format!("LIMITS_{tag}");
    let subject = format!("limits_{tag}.requests");
    let stream = js
        .create_stream(stream::Config {
            name: name.clone(),
            subjects: vec![subject.clone()],
            retention: stream::RetentionPolicy::WorkQueue,
            storage: stream::StorageType::File,
            ..Default::default()
        })
        .await?;
    let consumer = stream
        .create_consumer(consumer::pull::Config {
            durable_name: Some("limits".into()),
            ack_policy: consumer::AckPolicy::Explicit,
            ..Default::default()
        })
        .await?;
    let slots = Arc::new(Semaphore::new(in_flight));
    let deadline = tokio::time::Instant::now() + duration;
    let producer = {
        let (js, slots) = (js.clone(), slots.clone());
        tokio::spawn(async move {
            let mut n: u64 = 0;
            let mut publishes = futures::stream::FuturesUnordered::new();
            loop {
                tokio::select! {
                    permit = slots.clone().acquire_owned() => {
                        let Ok(permit) = permit else { break };
                        // the consumer returns the slot when it acks the message
                        permit.forget();
                        n += 1;
                        let body = format!(r#"{{"n":{n},"padding":"{}"}}"#, "x".repeat(160));
                        let ack = js.publish(subject.clone(), body.into()).await?;
                        publishes.push(ack.into_future());
                    }
                    Some(acked) = publishes.next(), if !publishes.is_empty() => { acked?; }
                    () = tokio::time::sleep_until(deadline) => break,
                }
            }
            anyhow::Ok(())
        })
    };
    let mut messages = consumer
        .stream()
        .max_messages_per_batch(in_flight)
        .messages()
        .await?;
    let mut acked: u64 = 0;
    // Acks are awaited concurrently, as a worker's turns each await their own.
    let mut acks = futures::stream::FuturesUnordered::new();
    loop {
        tokio::select! {
            next = messages.next() => {
                let Some(message) = next else { break };
                let message = message.map_err(|e| anyhow::anyhow!("pulling: {e}"))?;
                acks.push(async move { message.double_ack().await });
            }
            Some(done) = acks.next(), if !acks.is_empty() => {
                done.map_err(|e| anyhow::anyhow!("acking: {e}"))?;
                acked += 1;
                slots.add_permits(1);
            }
            () = tokio::time::sleep_until(deadline) => break,
        }
    }
    slots.close();
    producer.await??;
    let _ = js.delete_stream(&name).await;
    Ok(acked)
}
