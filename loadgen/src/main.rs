//! `loadgen` binary: see `todo_loadgen`.

use clap::Parser;

#[tokio::main]
async fn main() -> anyhow::Result<()> {
    todo_common::telemetry::install_crypto_provider();
    let cli = todo_loadgen::Cli::parse();
    let correct = todo_loadgen::run(cli).await?;
    if !correct {
        eprintln!("loadgen: the run failed its checks (see above)");
        std::process::exit(1);
    }
    Ok(())
}
