//! The worker's own small HTTP server (`WORKER_HTTP_ADDR`): `GET /health` (Postgres and NATS
//! reachable), `GET /health/live`, `GET /health/ready` (503 once the worker is stopping, before
//! its drain, or while a dependency is down) and `GET /metrics` (Prometheus text format).

use std::time::Duration;

use axum::extract::State;
use axum::http::{StatusCode, header};
use axum::response::IntoResponse;
use axum::routing::get;
use axum::{Json, Router};
use serde_json::json;
use sqlx::PgPool;

const CHECK_TIMEOUT: Duration = Duration::from_secs(2);

#[derive(Clone)]
struct Deps {
    db: PgPool,
    nats: async_nats::Client,
    stopping: tokio_util::sync::CancellationToken,
}

/// `stopping` is cancelled when the worker is asked to stop.
pub fn router(
    db: PgPool,
    nats: async_nats::Client,
    stopping: tokio_util::sync::CancellationToken,
) -> Router {
    Router::new()
        .route("/health", get(health))
        .route(
            "/health/live",
            get(|| async { Json(json!({"status": "live"})) }),
        )
        .route("/health/ready", get(ready))
        .route("/metrics", get(metrics))
        .fallback(|| async {
            (
                StatusCode::NOT_FOUND,
                Json(json!({"error": {"code": "not_found", "message": "not found"}})),
            )
        })
        .with_state(Deps { db, nats, stopping })
}

async fn ready(State(deps): State<Deps>) -> impl IntoResponse {
    if deps.stopping.is_cancelled() {
        return (
            StatusCode::SERVICE_UNAVAILABLE,
            Json(json!({"status": "draining"})),
        );
    }
    let nats_ok = deps.nats.connection_state() == async_nats::connection::State::Connected;
    if nats_ok
        && todo_common::db::ping(&deps.db, CHECK_TIMEOUT)
            .await
            .is_some()
    {
        (StatusCode::OK, Json(json!({"status": "ready"})))
    } else {
        (
            StatusCode::SERVICE_UNAVAILABLE,
            Json(json!({"status": "unavailable"})),
        )
    }
}

async fn health(State(deps): State<Deps>) -> impl IntoResponse {
    let db_ok = todo_common::db::ping(&deps.db, CHECK_TIMEOUT)
        .await
        .is_some();
    let nats_ok = deps.nats.connection_state() == async_nats::connection::State::Connected;
    let up = |ok: bool| if ok { "up" } else { "down" };
    let healthy = db_ok && nats_ok;
    let status = if healthy {
        StatusCode::OK
    } else {
        StatusCode::SERVICE_UNAVAILABLE
    };
    let body = json!({
        "status": if healthy { "ok" } else { "degraded" },
        "version": env!("CARGO_PKG_VERSION"),
        "database": {"status": up(db_ok)},
        "nats": {"status": up(nats_ok)},
    });
    (status, Json(body))
}

async fn metrics() -> impl IntoResponse {
    (
        [(header::CONTENT_TYPE, todo_common::metrics::CONTENT_TYPE)],
        todo_common::metrics::render(),
    )
}
