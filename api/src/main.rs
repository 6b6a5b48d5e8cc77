//! `api` binary: configuration, telemetry, run loop. Everything else is in the library.

use todo_api::{Application, startup::shutdown_signal};
use todo_common::{config, telemetry};

#[tokio::main]
async fn main() -> anyhow::Result<()> {
    if std::env::args().nth(1).as_deref() == Some("migrate") {
        return migrate().await;
    }
    let config = config::load_or_exit(
        config::Role::Api,
        "todo-chat api: auth, task REST API and WebSocket chat",
    );
    telemetry::install_crypto_provider();
    telemetry::init(config.log_format);
    config.log_summary("api");
    let app = match Application::build(config).await {
        Ok(app) => app,
        Err(e) => todo_common::db::exit_on_startup_error(&e),
    };
    app.run_until_stopped(shutdown_signal()).await
}

/// `api migrate …`: needs only DATABASE_URL (from the environment or `.env`).
async fn migrate() -> anyhow::Result<()> {
    use clap::Parser;
    let _ = dotenvy::dotenv();
    let cli = todo_api::migrate::MigrateCli::parse_from(std::env::args().skip(1));
    telemetry::install_crypto_provider();
    if let Err(e) =
        todo_api::migrate::run(&cli.database_url, cli.action, &mut std::io::stdout()).await
    {
        todo_common::db::exit_on_startup_error(&e);
    }
    Ok(())
}
