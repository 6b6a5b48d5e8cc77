//! `worker` binary: configuration, telemetry, run loop. Everything else is in the library.

use todo_common::{config, telemetry};
use todo_worker::{Worker, shutdown_signal};

#[tokio::main]
async fn main() -> anyhow::Result<()> {
    let config = config::load_or_exit(
        config::Role::Worker,
        "todo-chat worker: runs the chat agent on requests from JetStream",
    );
    telemetry::install_crypto_provider();
    telemetry::init(config.log_format);
    config.log_summary("worker");
    let worker = match Worker::build(config).await {
        Ok(worker) => worker,
        Err(e) => todo_common::db::exit_on_startup_error(&e),
    };
    worker.run_until_stopped(shutdown_signal()).await
}
