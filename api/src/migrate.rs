//! `api migrate up | down [--steps N] | status`: the schema as an operator command (what a deploy
//! runs before starting the new release, and a rollback after stopping it). It needs only
//! `DATABASE_URL`; the api's migrate-on-start (`RUN_MIGRATIONS`) stays available.

use std::io::Write;

use clap::{Parser, Subcommand};
use sqlx::postgres::PgPoolOptions;

#[derive(Debug, Parser)]
#[command(
    name = "api migrate",
    about = "Apply, revert or list the database migrations"
)]
pub struct MigrateCli {
    /// Postgres URL (the same as the api's).
    #[arg(long, env = "DATABASE_URL", hide_env_values = true)]
    pub database_url: String,
    #[command(subcommand)]
    pub action: Action,
}

#[derive(Debug, Clone, Copy, Subcommand)]
pub enum Action {
    /// Apply every pending migration (`upgrade head`).
    Up,
    /// Revert the newest applied migrations (`downgrade -N`).
    Down {
        /// How many to revert.
        #[arg(long, default_value_t = 1)]
        steps: usize,
    },
    /// List the migrations and which are applied (`current`).
    Status,
}

/// Runs the command, writing a report to `out`.
pub async fn run(database_url: &str, action: Action, out: &mut dyn Write) -> anyhow::Result<()> {
    use anyhow::Context;
    let pool = PgPoolOptions::new()
        .max_connections(1)
        .acquire_timeout(std::time::Duration::from_secs(10))
        .connect_with(
            todo_common::db::connect_options(database_url).context("parsing DATABASE_URL")?,
        )
        .await
        .context("connecting to DATABASE_URL")?;
    match action {
        Action::Up => {
            let before = pending(&pool).await?;
            todo_common::db::migrate(&pool).await?;
            if before.is_empty() {
                writeln!(out, "up to date: nothing to apply")?;
            }
            for m in before {
                writeln!(out, "applied {:04} {}", m.version, m.description)?;
            }
        }
        Action::Down { steps } => {
            let reverted = todo_common::db::migrate_down(&pool, steps).await?;
            if reverted.is_empty() {
                writeln!(out, "nothing to revert")?;
            }
            for version in reverted {
                writeln!(out, "reverted {version:04}")?;
            }
        }
        Action::Status => {
            for m in todo_common::db::migration_status(&pool).await? {
                let state = if m.applied { "applied" } else { "pending" };
                writeln!(out, "{:04} {state:<8} {}", m.version, m.description)?;
            }
        }
    }
    pool.close().await;
    Ok(())
}

async fn pending(pool: &sqlx::PgPool) -> sqlx::Result<Vec<todo_common::db::MigrationState>> {
    Ok(todo_common::db::migration_status(pool)
        .await?
        .into_iter()
        .filter(|m| !m.applied)
        .collect())
}
