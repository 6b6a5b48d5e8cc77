//! `api` binary: configuration, telemetry, run loop. Everything else is in the library.

use todo_api::{Application, startup::shutdown_signal};
use todo_common::{config, telemetry};

#[tokio::main]
async fn main() -> anyhow::Result<()> {
    let config = config::load_or_exit("todo-chat api: auth, task REST API and WebSocket chat");
    telemetry::install_crypto_provider();
    telemetry::init(config.log_format);
    config.log_summary("api");
    let app = match Application::build(config).await {
        Ok(app) => app,
        Err(e) => todo_common::db::exit_on_startup_error(&e),
    };
    app.run_until_stopped(shutdown_signal()).await
}
