//! Postgres pool and migrations.

use sqlx::PgPool;
use sqlx::migrate::Migrator;
use sqlx::postgres::PgPoolOptions;
use std::time::Duration;

use crate::config::DatabaseConfig;

/// The project's migrations (`migrations/` at the workspace root), embedded at compile time.
pub static MIGRATOR: Migrator = sqlx::migrate!("../migrations");

/// Builds the pool. Connections are opened lazily so a process can start (and report itself
/// unhealthy) while Postgres is down; `min_connections` are then kept open in the background.
pub fn pool(config: &DatabaseConfig) -> PgPool {
    PgPoolOptions::new()
        .min_connections(config.min_connections)
        .max_connections(config.max_connections)
        .acquire_timeout(config.acquire_timeout)
        .test_before_acquire(true)
        .max_lifetime(Duration::from_secs(60 * 60))
        .idle_timeout(Duration::from_secs(10 * 60))
        .connect_lazy_with(config.connect_options.clone())
}

/// Round-trips `select 1` within `timeout`; returns how long it took, or `None` when Postgres
/// did not answer in time. Shared by the api's and the worker's `/health`.
pub async fn ping(pool: &PgPool, timeout: Duration) -> Option<Duration> {
    let started = std::time::Instant::now();
    match tokio::time::timeout(timeout, sqlx::query("select 1").execute(pool)).await {
        Ok(Ok(_)) => Some(started.elapsed()),
        _ => None,
    }
}

/// Applies pending migrations. Start-up fails fast when Postgres cannot be reached (by design: an
/// orchestrator or `scripts/run.sh` restarts the process, and nothing is served against an
/// unmigrated database); the error names DATABASE_URL's host and port.
pub async fn migrate(pool: &PgPool) -> anyhow::Result<()> {
    use anyhow::Context;
    let options = pool.connect_options();
    MIGRATOR.run(pool).await.with_context(|| {
        format!(
            "applying database migrations: is Postgres up at DATABASE_URL ({}:{})?",
            options.get_host(),
            options.get_port()
        )
    })
}

/// Prints a start-up failure as one line with its causes and exits 1 (the binaries' edge).
pub fn exit_on_startup_error(error: &anyhow::Error) -> ! {
    eprintln!("error: {error:#}");
    std::process::exit(1)
}

/// Checks that every embedded migration has been applied (used by a worker that does not migrate).
pub async fn check_migrations(pool: &PgPool) -> anyhow::Result<()> {
    let applied: Vec<i64> =
        sqlx::query_scalar("select version from _sqlx_migrations where success order by version")
            .fetch_all(pool)
            .await?;
    let missing: Vec<i64> = MIGRATOR
        .iter()
        .filter(|m| m.migration_type.is_up_migration() || !m.migration_type.is_down_migration())
        .map(|m| m.version)
        .filter(|v| !applied.contains(v))
        .collect();
    if missing.is_empty() {
        Ok(())
    } else {
        anyhow::bail!(
            "database is missing migrations {missing:?}: run the api (or set RUN_MIGRATIONS=true)"
        )
    }
}
