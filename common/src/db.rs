//! Postgres pool and migrations.

use sqlx::PgPool;
use sqlx::migrate::Migrator;
use sqlx::postgres::PgPoolOptions;
use std::time::Duration;

use crate::config::DatabaseConfig;

/// The project's migrations (`migrations/` at the workspace root), embedded at compile time.
pub static MIGRATOR: Migrator = sqlx::migrate!("../migrations");

/// How long a pooled connection may sit idle before it is pinged on checkout.
const IDLE_BEFORE_PING: Duration = Duration::from_secs(1);

/// Builds the pool. Connections are opened lazily so a process can start (and report itself
/// unhealthy) while Postgres is down; `min_connections` are then kept open in the background.
pub fn pool(config: &DatabaseConfig) -> PgPool {
    PgPoolOptions::new()
        .min_connections(config.min_connections)
        .max_connections(config.max_connections)
        .acquire_timeout(config.acquire_timeout)
        // A ping per checkout costs a round trip on every statement of the hot path. Only a
        // connection that sat idle for a while is checked (it may have been cut by a Postgres
        // restart or a firewall); one in steady use proves itself, and a broken one fails its
        // statement with a retryable error.
        .test_before_acquire(false)
        .before_acquire(|conn, meta| {
            Box::pin(async move {
                if meta.idle_for < IDLE_BEFORE_PING {
                    return Ok(true);
                }
                sqlx::Connection::ping(conn).await.map(|()| true)
            })
        })
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
    let missing: Vec<i64> = migration_status(pool)
        .await?
        .into_iter()
        .filter(|m| !m.applied)
        .map(|m| m.version)
        .collect();
    if missing.is_empty() {
        Ok(())
    } else {
        anyhow::bail!(
            "database is missing migrations {missing:?}: run `api migrate up` (or start the api with RUN_MIGRATIONS=true)"
        )
    }
}

/// One migration and whether this database has it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct MigrationState {
    pub version: i64,
    pub description: String,
    pub applied: bool,
}

/// Every embedded migration, oldest first, with whether it is applied.
pub async fn migration_status(pool: &PgPool) -> sqlx::Result<Vec<MigrationState>> {
    let table: Option<String> = sqlx::query_scalar("select to_regclass('_sqlx_migrations')::text")
        .fetch_one(pool)
        .await?;
    let applied: Vec<i64> = if table.is_some() {
        sqlx::query_scalar("select version from _sqlx_migrations where success")
            .fetch_all(pool)
            .await?
    } else {
        Vec::new()
    };
    Ok(MIGRATOR
        .iter()
        .filter(|m| !m.migration_type.is_down_migration())
        .map(|m| MigrationState {
            version: m.version,
            description: m.description.to_string(),
            applied: applied.contains(&m.version),
        })
        .collect())
}

/// Reverts the newest `steps` applied migrations (all of them when `steps` is at least their
/// number); returns the versions reverted, newest first.
pub async fn migrate_down(pool: &PgPool, steps: usize) -> anyhow::Result<Vec<i64>> {
    let mut applied: Vec<i64> = migration_status(pool)
        .await?
        .into_iter()
        .filter(|m| m.applied)
        .map(|m| m.version)
        .collect();
    applied.sort_unstable_by(|a, b| b.cmp(a));
    let reverted: Vec<i64> = applied.iter().take(steps).copied().collect();
    let target = applied.get(steps).copied().unwrap_or(0);
    MIGRATOR.undo(pool, target).await?;
    Ok(reverted)
}
