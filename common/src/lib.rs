//! Shared code of todo-chat's `api` and `worker`.
//!
//! - [`config`]: typed configuration from flags / environment / `.env`, validated once at start-up.
//! - [`telemetry`]: tracing subscriber (JSON or human) and the TLS crypto provider.
//! - [`db`]: Postgres pool and the embedded migrations.
//! - [`tasks`]: the task domain types, validation and the SQL every front end shares (with history).
//! - [`tools`]: the typed task tools (args, JSON schemas, results) the agents and MCP call.
//! - [`schema`]: the versioned queue contract (chat requests and reply events).
//! - [`protocol`]: the WebSocket frames (client and server) and the task-change notice.
//! - [`queue`]: JetStream connection, stream and consumer set-up.
//! - [`retry`]: the backoff policies every retry loop follows.
//! - [`chat`]: conversations, messages and chat-request records in Postgres.
//! - [`batch`]: group commit (requests that reach a step together share one statement).
//! - [`metrics`]: the Prometheus recorder and the sampled pool / queue gauges.
//! - [`when`]: dates, times and repeats as people say them, in the user's timezone.

pub mod batch;
pub mod chat;
pub mod config;
pub mod db;
pub mod metrics;
pub mod protocol;
pub mod queue;
pub mod retry;
pub mod schema;
pub mod tasks;
pub mod telemetry;
pub mod tools;
pub mod when;

pub use config::Config;
