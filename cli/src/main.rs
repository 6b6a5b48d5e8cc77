//! `todo`: wires the real terminal and Ctrl-C to [`todo_cli::run`].

use std::io::IsTerminal;
use std::process::ExitCode;

use clap::Parser;
use tokio::sync::mpsc;

#[tokio::main(flavor = "current_thread")]
async fn main() -> ExitCode {
    let cli = todo_cli::Cli::parse();
    // One process-wide rustls provider, so https and wss connections never meet two.
    todo_common::telemetry::install_crypto_provider();
    let (interrupt, interrupts) = mpsc::unbounded_channel();
    tokio::spawn(async move {
        while tokio::signal::ctrl_c().await.is_ok() {
            if interrupt.send(()).is_err() {
                break;
            }
        }
    });
    let mut io = todo_cli::Io {
        input: Box::new(tokio::io::BufReader::new(tokio::io::stdin())),
        out: Box::new(std::io::stdout()),
        err: Box::new(std::io::stderr()),
        interrupts,
        interactive: std::io::stdin().is_terminal(),
    };
    ExitCode::from(todo_cli::run(cli, &mut io).await)
}
