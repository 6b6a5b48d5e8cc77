//! `faults`: the fault-injection suite (docs/RELIABILITY.md), see `todo_tests::faults`.

use clap::Parser;

#[derive(Debug, Parser)]
#[command(
    name = "faults",
    version,
    about = "Fault injection: steady load through private servers and processes while a worker, NATS (or a cluster node), Postgres or an api dies, NATS loses its data, or the model hangs"
)]
struct Cli {
    #[command(flatten)]
    args: todo_tests::faults::FaultArgs,
}

#[tokio::main]
async fn main() -> anyhow::Result<()> {
    todo_common::telemetry::install_crypto_provider();
    let cli = Cli::parse();
    if !todo_tests::faults::run(cli.args).await? {
        eprintln!("faults: requests were lost or answered / applied twice");
        std::process::exit(1);
    }
    Ok(())
}
