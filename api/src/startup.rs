//! [`Application`]: builds the api from a [`Config`] and runs it until a shutdown signal.

use std::future::{Future, IntoFuture};
use std::net::SocketAddr;
use std::sync::Arc;
use std::time::Duration;

use anyhow::Context;
use axum::serve::ListenerExt;
use todo_common::{Config, db, queue};
use tokio::net::TcpListener;
use tokio_util::sync::CancellationToken;

use crate::auth::Auth;
use crate::chat::ChatService;
use crate::limits::Limits;
use crate::state::AppState;

pub struct Application {
    listener: TcpListener,
    metrics_listener: TcpListener,
    state: AppState,
}

impl Application {
    /// Connects to Postgres and NATS, applies migrations (when configured), ensures the JetStream
    /// stream exists and binds the listener. NATS being down is not fatal: the client reconnects
    /// and `/health` reports it.
    pub async fn build(config: Config) -> anyhow::Result<Self> {
        let pool = db::pool(&config.database);
        if config.database.run_migrations {
            db::migrate(&pool).await?;
        }
        let nats = queue::connect(&config.nats, "todo-chat-api")
            .await
            .context("connecting to NATS")?;
        queue::wait_connected(&nats, Duration::from_secs(2)).await;
        let auth = Arc::new(Auth::new(&config.auth, pool.clone()).await?);
        let sessions = crate::sessions::Sessions::start(nats.clone(), &config.nats.subject_prefix);
        let tasks_feed =
            crate::live::TaskFeed::start(nats.clone(), pool.clone(), &config.nats.subject_prefix);
        let limits = Limits::new(&config.limits);
        let router = crate::chat::EventRouter::start(&nats, &config.nats.subject_prefix)
            .await
            .context("subscribing to reply events")?;
        let chat = Arc::new(ChatService::new(
            pool.clone(),
            nats.clone(),
            config.nats.clone(),
            limits.clone(),
            router,
        ));
        todo_common::metrics::install();
        todo_common::metrics::spawn_pool_sampler(
            pool.clone(),
            "api",
            config.database.max_connections,
        );
        todo_common::metrics::spawn_queue_sampler(chat.jetstream().clone(), config.nats.clone());
        spawn_stream_setup(chat.clone(), config.nats.clone());
        todo_common::metrics::register_api_counters();
        let listener = TcpListener::bind(config.api_addr)
            .await
            .with_context(|| format!("binding API_ADDR {}", config.api_addr))?;
        let metrics_listener = TcpListener::bind(config.metrics_addr)
            .await
            .with_context(|| format!("binding METRICS_ADDR {}", config.metrics_addr))?;
        let state = AppState {
            config: Arc::new(config),
            db: pool,
            auth,
            nats,
            chat,
            limits,
            sessions,
            tasks_feed,
            shutdown: CancellationToken::new(),
            draining: CancellationToken::new(),
        };
        Ok(Self {
            listener,
            metrics_listener,
            state,
        })
    }

    pub fn local_addr(&self) -> SocketAddr {
        self.listener
            .local_addr()
            .expect("bound listener has an address")
    }

    /// Where `/metrics` is served.
    pub fn metrics_addr(&self) -> SocketAddr {
        self.metrics_listener
            .local_addr()
            .expect("bound listener has an address")
    }

    pub fn state(&self) -> &AppState {
        &self.state
    }

    /// Serves until `shutdown` resolves, then lets in-flight requests finish and closes WebSockets.
    pub async fn run_until_stopped(
        self,
        shutdown: impl Future<Output = ()> + Send + 'static,
    ) -> anyhow::Result<()> {
        let token = self.state.shutdown.clone();
        let app = crate::http::router(self.state.clone());
        tracing::info!(addr = %self.local_addr(), metrics_addr = %self.metrics_addr(), "api listening");
        tokio::spawn(crate::reconciler::run(
            self.state.db.clone(),
            self.state.chat.jetstream().clone(),
            self.state.config.nats.clone(),
            self.state.config.worker.reconcile_after,
            token.clone(),
        ));
        let metrics_stop = token.clone();
        let metrics = tokio::spawn(
            axum::serve(self.metrics_listener, crate::health::metrics_router())
                .with_graceful_shutdown(async move { metrics_stop.cancelled().await })
                .into_future(),
        );
        // Nagle's algorithm off: a turn's events are small frames written one after another, and
        // with it on each frame after the first waits for the client's delayed ACK (~40 ms).
        let listener = self.listener.tap_io(|tcp| {
            if let Err(e) = tcp.set_nodelay(true) {
                tracing::debug!(error = %e, "could not set TCP_NODELAY on a connection");
            }
        });
        axum::serve(
            listener,
            app.into_make_service_with_connect_info::<SocketAddr>(),
        )
        .with_graceful_shutdown({
            let token = token.clone();
            let draining = self.state.draining.clone();
            let delay = self.state.config.shutdown_delay;
            async move {
                shutdown.await;
                // Not ready from now on; keep serving for the delay so load balancers stop
                // sending new requests before the listener closes.
                draining.cancel();
                if !delay.is_zero() {
                    tracing::info!(
                        delay_secs = delay.as_secs(),
                        "shutdown requested: reporting not ready before draining"
                    );
                    tokio::time::sleep(delay).await;
                }
                tracing::info!("shutdown requested: finishing in-flight requests");
                token.cancel();
            }
        })
        .await?;
        token.cancel();
        let _ = metrics.await;
        self.state.db.close().await;
        tracing::info!("api stopped");
        Ok(())
    }
}

/// Creates the request stream, retrying in the background while NATS is unreachable.
fn spawn_stream_setup(chat: Arc<ChatService>, config: todo_common::config::NatsConfig) {
    tokio::spawn(async move {
        let mut retry = 0;
        loop {
            match queue::ensure_stream(chat.jetstream(), &config).await {
                Ok(_) => {
                    tracing::info!(stream = %config.stream, "JetStream stream ready");
                    return;
                }
                Err(e) => {
                    tracing::warn!(error = %e, "JetStream stream not ready yet; retrying");
                    retry += 1;
                    tokio::time::sleep(todo_common::retry::BROKER.delay(retry)).await;
                }
            }
        }
    });
}

/// Resolves on SIGINT or SIGTERM.
pub async fn shutdown_signal() {
    let ctrl_c = async {
        let _ = tokio::signal::ctrl_c().await;
    };
    #[cfg(unix)]
    let terminate = async {
        match tokio::signal::unix::signal(tokio::signal::unix::SignalKind::terminate()) {
            Ok(mut s) => {
                s.recv().await;
            }
            Err(_) => std::future::pending::<()>().await,
        }
    };
    #[cfg(not(unix))]
    let terminate = std::future::pending::<()>();
    tokio::select! {
        () = ctrl_c => {},
        () = terminate => {},
    }
}
