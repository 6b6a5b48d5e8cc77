//! The todo-chat worker: consumes chat requests from JetStream and runs the agent.
//!
//! - [`runner`]: the consume loop (concurrency, heartbeats and leases, ack / nak / term, dead
//!   letters, drain on shutdown).
//! - [`http`]: the worker's `/health` and `/metrics` server.
//! - [`turn`]: one chat turn from request to stored reply and `done` event (ordering, replay, retries).
//! - [`agent`]: the built-in offline agent and the OpenAI-compatible one; [`agent::early`] is what
//!   a worker remembers of the conversations it answered, to open the next turn's model call early.
//! - [`tools`]: the five task tools and their exactly-once executor.
//! - [`events`]: publishing reply events (deltas coalesced).
//! - [`batch`]: group commit across turns (turns that start or finish together share a statement;
//!   a built-in turn of one step is answered by the statement batch that starts it).
//! - [`cancel`]: stopping a running turn when its user asks (one NATS subscription per worker).
//! - [`error`]: retryable vs fatal turn errors and agent errors.

pub mod agent;
pub mod batch;
pub mod cancel;
pub mod error;
pub mod events;
pub mod http;
pub mod runner;
pub mod tools;
pub mod turn;

pub use runner::Worker;

/// Resolves on SIGINT or SIGTERM.
pub async fn shutdown_signal() {
    let ctrl_c = async {
        let _ = tokio::signal::ctrl_c().await;
    };
    let terminate = async {
        match tokio::signal::unix::signal(tokio::signal::unix::SignalKind::terminate()) {
            Ok(mut s) => {
                s.recv().await;
            }
            Err(_) => std::future::pending::<()>().await,
        }
    };
    tokio::select! {
        () = ctrl_c => {},
        () = terminate => {},
    }
}
