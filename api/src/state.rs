//! Shared application state handed to every handler.

use std::sync::Arc;

use axum::extract::FromRef;
use sqlx::PgPool;
use todo_common::Config;
use tokio_util::sync::CancellationToken;

use crate::auth::Auth;
use crate::chat::ChatService;
use crate::limits::Limits;
use crate::sessions::Sessions;

#[derive(Clone)]
pub struct AppState {
    pub config: Arc<Config>,
    pub db: PgPool,
    pub auth: Arc<Auth>,
    pub nats: async_nats::Client,
    pub chat: Arc<ChatService>,
    pub limits: Arc<Limits>,
    /// Revoked sessions, fanned out to open sockets.
    pub sessions: Arc<Sessions>,
    /// Task changes, fanned out to the user's open sockets.
    pub tasks_feed: Arc<crate::live::TaskFeed>,
    /// Cancelled when the server shuts down: long-lived WebSockets close on it.
    pub shutdown: CancellationToken,
    /// Cancelled as soon as the process is asked to stop: readiness answers 503 from then on.
    pub draining: CancellationToken,
}

impl FromRef<AppState> for Arc<Auth> {
    fn from_ref(state: &AppState) -> Self {
        state.auth.clone()
    }
}
