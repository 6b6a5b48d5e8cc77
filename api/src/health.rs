//! `GET /health`: the detailed state of the api and what it depends on; `GET /health/live` (the
//! process answers) and `GET /health/ready` (Postgres and NATS reachable and not shutting down:
//! 503 from the moment SIGTERM arrives) for orchestrators. `GET /metrics`
//! (Prometheus) is served on its own listener (`METRICS_ADDR`, loopback by default), never on the
//! public port: see [`metrics_router`].

use std::time::Duration;

use axum::extract::State;
use axum::http::StatusCode;
use serde::Serialize;
use utoipa::ToSchema;
use utoipa_axum::{router::OpenApiRouter, routes};

use crate::error::ApiJson;
use crate::state::AppState;

const CHECK_TIMEOUT: Duration = Duration::from_secs(2);

#[derive(Serialize, ToSchema)]
pub struct Health {
    /// `ok`, or `degraded` when a dependency is down.
    pub status: &'static str,
    pub version: &'static str,
    pub database: DatabaseHealth,
    pub nats: NatsHealth,
    pub pool: PoolHealth,
}

#[derive(Serialize, ToSchema)]
pub struct DatabaseHealth {
    /// `up` or `down`.
    pub status: &'static str,
    pub latency_ms: Option<f64>,
}

#[derive(Serialize, ToSchema)]
pub struct NatsHealth {
    /// `up` or `down`.
    pub status: &'static str,
}

#[derive(Serialize, ToSchema)]
pub struct PoolHealth {
    pub size: u32,
    pub idle: usize,
    pub max: u32,
}

pub fn router() -> OpenApiRouter<AppState> {
    OpenApiRouter::new()
        .routes(routes!(health))
        .routes(routes!(live))
        .routes(routes!(ready))
}

/// The router of the metrics listener: `GET /metrics` only.
pub fn metrics_router() -> axum::Router {
    axum::Router::new().route("/metrics", axum::routing::get(metrics))
}

/// Health of the api, Postgres and NATS.
#[utoipa::path(get, path = "/health", tag = "health",
    responses(
        (status = 200, description = "Everything is up", body = Health),
        (status = 503, description = "Postgres or NATS is unreachable; the failing part says `down`", body = Health),
    ))]
async fn health(State(state): State<AppState>) -> (StatusCode, ApiJson<Health>) {
    let latency = todo_common::db::ping(&state.db, CHECK_TIMEOUT).await;
    let db_ok = latency.is_some();
    let latency_ms = latency.map(|d| (d.as_secs_f64() * 1000.0 * 100.0).round() / 100.0);
    let nats_ok = state.nats.connection_state() == async_nats::connection::State::Connected;
    let healthy = db_ok && nats_ok;
    let body = Health {
        status: if healthy { "ok" } else { "degraded" },
        version: env!("CARGO_PKG_VERSION"),
        database: DatabaseHealth {
            status: if db_ok { "up" } else { "down" },
            latency_ms,
        },
        nats: NatsHealth {
            status: if nats_ok { "up" } else { "down" },
        },
        pool: PoolHealth {
            size: state.db.size(),
            idle: state.db.num_idle(),
            max: state.db.options().get_max_connections(),
        },
    };
    let status = if healthy {
        StatusCode::OK
    } else {
        StatusCode::SERVICE_UNAVAILABLE
    };
    (status, ApiJson(body))
}

#[derive(Serialize, ToSchema)]
pub struct Probe {
    /// `live`, `ready`, `draining` or `unavailable`.
    pub status: &'static str,
}

/// Liveness: the process is up and serving (no dependency is checked).
#[utoipa::path(get, path = "/health/live", tag = "health",
    responses((status = 200, description = "The process answers", body = Probe)))]
async fn live() -> ApiJson<Probe> {
    ApiJson(Probe { status: "live" })
}

/// Readiness: send traffic here. 503 while Postgres or NATS is unreachable, while the chat
/// request stream is missing and cannot be created, and from the moment the process is asked to
/// stop (before it drains).
#[utoipa::path(get, path = "/health/ready", tag = "health",
    responses(
        (status = 200, description = "Ready for traffic", body = Probe),
        (status = 503, description = "Shutting down (`draining`), or a dependency is down or the request stream missing (`unavailable`)", body = Probe),
    ))]
async fn ready(State(state): State<AppState>) -> (StatusCode, ApiJson<Probe>) {
    if state.draining.is_cancelled() {
        return (
            StatusCode::SERVICE_UNAVAILABLE,
            ApiJson(Probe { status: "draining" }),
        );
    }
    let nats_ok = state.nats.connection_state() == async_nats::connection::State::Connected;
    let db_ok = nats_ok
        && todo_common::db::ping(&state.db, CHECK_TIMEOUT)
            .await
            .is_some();
    if db_ok && state.chat.stream_ready(CHECK_TIMEOUT).await {
        (StatusCode::OK, ApiJson(Probe { status: "ready" }))
    } else {
        (
            StatusCode::SERVICE_UNAVAILABLE,
            ApiJson(Probe {
                status: "unavailable",
            }),
        )
    }
}

/// Prometheus metrics (text exposition format): HTTP, WebSockets, chat turns, queue, database pool.
async fn metrics() -> impl axum::response::IntoResponse {
    (
        [(
            axum::http::header::CONTENT_TYPE,
            todo_common::metrics::CONTENT_TYPE,
        )],
        todo_common::metrics::render(),
    )
}
