//! Prometheus metrics shared by the api and the worker.
//!
//! Code records through the [`metrics`] facade (`counter!`, `gauge!`, `histogram!`); this module
//! installs the process-wide Prometheus recorder once, renders the text exposition for `/metrics`,
//! and samples the gauges nothing else updates (database pool, JetStream backlog). Every metric
//! name starts with `todo_`; `docs/OPERATIONS.md` lists them.

use std::sync::OnceLock;
use std::time::Duration;

use async_nats::jetstream;
use metrics_exporter_prometheus::{Matcher, PrometheusBuilder, PrometheusHandle};
use sqlx::PgPool;

use crate::config::NatsConfig;

/// Histogram buckets (seconds) for every `*_seconds` metric: 5 ms … 60 s.
const LATENCY_BUCKETS: &[f64] = &[
    0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1.0, 2.5, 5.0, 10.0, 30.0, 60.0,
];
/// Buckets for `todo_batch_size` (items per group-commit statement, at most 64).
const BATCH_BUCKETS: &[f64] = &[1.0, 2.0, 4.0, 8.0, 16.0, 32.0, 64.0];
/// Buckets (seconds) for `todo_batch_duration_seconds`: a batch takes about a millisecond alone
/// and tens of milliseconds in a burst, finer than the latency buckets resolve. (A full-name
/// matcher wins over the `_seconds` suffix.)
const BATCH_DURATION_BUCKETS: &[f64] = &[
    0.001, 0.002, 0.005, 0.01, 0.02, 0.05, 0.1, 0.25, 0.5, 1.0, 5.0,
];
/// `Content-Type` of the text exposition served at `/metrics`.
pub const CONTENT_TYPE: &str = "text/plain; version=0.0.4; charset=utf-8";
/// How often pool and queue gauges are sampled.
pub const SAMPLE_EVERY: Duration = Duration::from_secs(5);

static HANDLE: OnceLock<PrometheusHandle> = OnceLock::new();

/// Installs the Prometheus recorder (once per process; later calls return the same handle).
pub fn install() -> PrometheusHandle {
    HANDLE
        .get_or_init(|| {
            let builder = PrometheusBuilder::new()
                .set_buckets_for_metric(Matcher::Suffix("_seconds".into()), LATENCY_BUCKETS)
                .and_then(|b| {
                    b.set_buckets_for_metric(Matcher::Full("todo_batch_size".into()), BATCH_BUCKETS)
                })
                .and_then(|b| {
                    b.set_buckets_for_metric(
                        Matcher::Full("todo_batch_duration_seconds".into()),
                        BATCH_DURATION_BUCKETS,
                    )
                })
                .expect("bucket lists are not empty");
            let handle = match builder.install_recorder() {
                Ok(handle) => handle,
                // Another recorder is installed (by an embedding program): metrics go to it,
                // and this handle renders an empty exposition.
                Err(_) => PrometheusBuilder::new().build_recorder().handle(),
            };
            describe();
            let upkeep = handle.clone();
            // A plain thread: it must outlive any one tokio runtime (tests start many).
            let _ = std::thread::Builder::new()
                .name("metrics-upkeep".into())
                .spawn(move || {
                    loop {
                        std::thread::sleep(SAMPLE_EVERY);
                        upkeep.run_upkeep();
                    }
                });
            handle
        })
        .clone()
}

/// Every metric todo-chat records, with its help text (the list docs/OPERATIONS.md explains).
fn describe() {
    use metrics::{describe_counter, describe_gauge, describe_histogram};
    describe_counter!(
        "todo_http_requests_total",
        "HTTP requests by method, route template and status"
    );
    describe_histogram!(
        "todo_http_request_duration_seconds",
        metrics::Unit::Seconds,
        "HTTP request latency by method, route template and status"
    );
    describe_gauge!("todo_ws_connections", "Open chat WebSockets");
    describe_counter!(
        "todo_auth_failures_total",
        "Failed logins (invalid_credentials) and rejected tokens (unauthorized)"
    );
    describe_counter!(
        "todo_rate_limited_total",
        "Requests refused with 429 by code (rate_limited, too_many_in_flight)"
    );
    describe_counter!(
        "todo_chat_requests_total",
        "Chat requests at the api by outcome (accepted, rate_limited, overloaded, rejected)"
    );
    describe_counter!(
        "todo_chat_turns_completed_total",
        "Chat turns answered with done"
    );
    describe_counter!(
        "todo_chat_turns_failed_total",
        "Chat turns answered with an error, by code"
    );
    describe_counter!(
        "todo_chat_turns_cancelled_total",
        "Chat turns their user stopped"
    );
    describe_counter!(
        "todo_mcp_tool_calls_total",
        "Task tool calls over MCP, by tool and outcome"
    );
    describe_histogram!(
        "todo_batch_size",
        "Turns stored by one group-commit statement, by step (accept, begin, finish)"
    );
    describe_histogram!(
        "todo_batch_duration_seconds",
        metrics::Unit::Seconds,
        "How long one group-commit batch took to store, by step (accept, begin, finish, tool)"
    );
    describe_histogram!(
        "todo_chat_turn_duration_seconds",
        metrics::Unit::Seconds,
        "From a request entering the queue to its done event"
    );
    describe_histogram!(
        "todo_chat_time_to_first_token_seconds",
        metrics::Unit::Seconds,
        "From a request entering the queue to its first streamed text"
    );
    describe_gauge!("todo_worker_in_flight", "Turns a worker is running");
    describe_counter!(
        "todo_worker_messages_total",
        "JetStream messages settled by outcome (ack, nak, term)"
    );
    describe_counter!(
        "todo_worker_redeliveries_total",
        "Messages delivered to a worker more than once"
    );
    describe_counter!(
        "todo_dead_letters_total",
        "Messages given up and recorded in the dead_letters table, by reason"
    );
    describe_counter!(
        "todo_reconciler_republished_total",
        "Unfinished requests published again by the reconciler"
    );
    describe_counter!(
        "todo_tool_calls_total",
        "Agent tool calls by tool and outcome (ok, error, replayed)"
    );
    describe_counter!(
        "todo_llm_http_requests_total",
        "HTTP attempts at the model server by status (retries included)"
    );
    describe_histogram!(
        "todo_llm_request_duration_seconds",
        metrics::Unit::Seconds,
        "One streamed model call, from request to last chunk"
    );
    describe_counter!(
        "todo_llm_errors_total",
        "Model call failures by kind (timeout, stall, stream, gave_up)"
    );
    describe_counter!(
        "todo_llm_early_calls_total",
        "Model calls opened before their turn had read its conversation: used (exactly the call the stored conversation asked for) or discarded (closed unused)"
    );
    describe_counter!(
        "todo_llm_retries_total",
        "Model calls retried by the agent (on top of the HTTP retry layer), by reason"
    );
    describe_counter!(
        "todo_llm_tokens_total",
        "Tokens reported by the model server, by kind (prompt, completion)"
    );
    describe_gauge!(
        "todo_db_pool_connections",
        "Database pool connections by state (idle, in_use)"
    );
    describe_gauge!("todo_db_pool_max_connections", "Database pool maximum size");
    describe_counter!(
        "todo_db_pool_acquire_timeouts_total",
        "Waits for a pooled connection that timed out"
    );
    describe_gauge!(
        "todo_queue_pending_messages",
        "Requests in the stream not yet delivered to a worker"
    );
    describe_gauge!(
        "todo_queue_ack_pending_messages",
        "Requests delivered to a worker and not yet acknowledged"
    );
    describe_gauge!(
        "todo_queue_redelivered_messages",
        "Requests currently redelivered and unacknowledged"
    );
    describe_gauge!(
        "todo_queue_consumer_waiting_pulls",
        "Pull requests workers have open on the consumer"
    );
    describe_gauge!(
        "todo_queue_stream_messages",
        "Messages stored in the request stream"
    );
    describe_gauge!(
        "todo_queue_stream_max_messages",
        "NATS_STREAM_MAX_MSGS: the stream refuses publishes beyond it"
    );
}

/// Creates the api's counters that alerts compare at zero, so their series exist before the first
/// event.
pub fn register_api_counters() {
    metrics::counter!("todo_reconciler_republished_total").increment(0);
}

/// Creates the worker's counters that alerts divide or compare at zero, so their series exist
/// before the first event.
pub fn register_worker_counters() {
    metrics::counter!("todo_chat_turns_completed_total").increment(0);
    for code in ["agent_unavailable", "internal_error"] {
        metrics::counter!("todo_chat_turns_failed_total", "code" => code).increment(0);
    }
    metrics::counter!("todo_worker_redeliveries_total").increment(0);
    for reason in [
        "malformed",
        "invalid_request",
        "not_found",
        "retries_exhausted",
    ] {
        metrics::counter!("todo_dead_letters_total", "reason" => reason).increment(0);
    }
}

/// The current metrics in the Prometheus text format.
pub fn render() -> String {
    install().render()
}

/// Counts a failed wait for a pooled database connection.
pub fn record_db_error(pool: &'static str, error: &sqlx::Error) {
    if matches!(error, sqlx::Error::PoolTimedOut) {
        metrics::counter!("todo_db_pool_acquire_timeouts_total", "pool" => pool).increment(1);
    }
}

/// Samples the pool's size, idle connections and maximum every [`SAMPLE_EVERY`] until the pool closes.
pub fn spawn_pool_sampler(pool: PgPool, name: &'static str, max_connections: u32) {
    metrics::counter!("todo_db_pool_acquire_timeouts_total", "pool" => name).increment(0);
    tokio::spawn(async move {
        let mut tick = tokio::time::interval(SAMPLE_EVERY);
        while !pool.is_closed() {
            tick.tick().await;
            let size = pool.size();
            let idle = u32::try_from(pool.num_idle()).unwrap_or(u32::MAX);
            metrics::gauge!("todo_db_pool_connections", "pool" => name, "state" => "idle")
                .set(f64::from(idle));
            metrics::gauge!("todo_db_pool_connections", "pool" => name, "state" => "in_use")
                .set(f64::from(size.saturating_sub(idle)));
            metrics::gauge!("todo_db_pool_max_connections", "pool" => name)
                .set(f64::from(max_connections));
        }
    });
}

/// Samples the request stream and the workers' consumer: messages waiting, delivered but not yet
/// acknowledged, redelivered, and stored in the stream.
pub fn spawn_queue_sampler(js: jetstream::Context, config: NatsConfig) {
    tokio::spawn(async move {
        let mut tick = tokio::time::interval(SAMPLE_EVERY);
        loop {
            tick.tick().await;
            if let Err(e) = sample_queue(&js, &config).await {
                tracing::debug!(error = %e, "could not sample the queue");
            }
        }
    });
}

async fn sample_queue(js: &jetstream::Context, config: &NatsConfig) -> anyhow::Result<()> {
    let mut stream = js.get_stream(&config.stream).await?;
    let info = stream.info().await?;
    let stream_name = config.stream.clone();
    metrics::gauge!("todo_queue_stream_messages", "stream" => stream_name.clone())
        .set(info.state.messages as f64);
    metrics::gauge!("todo_queue_stream_max_messages", "stream" => stream_name.clone())
        .set(config.stream_max_msgs as f64);
    let mut consumer: jetstream::consumer::PullConsumer = stream
        .get_consumer(&config.consumer)
        .await
        .map_err(|e| anyhow::anyhow!("{e}"))?;
    let info = consumer.info().await?;
    metrics::gauge!("todo_queue_pending_messages", "stream" => stream_name.clone())
        .set(info.num_pending as f64);
    metrics::gauge!("todo_queue_ack_pending_messages", "stream" => stream_name.clone())
        .set(info.num_ack_pending as f64);
    metrics::gauge!("todo_queue_redelivered_messages", "stream" => stream_name.clone())
        .set(info.num_redelivered as f64);
    metrics::gauge!("todo_queue_consumer_waiting_pulls", "stream" => stream_name)
        .set(info.num_waiting as f64);
    Ok(())
}
