//! Postgres pool and migrations.

use sqlx::PgPool;
use sqlx::migrate::Migrator;
use sqlx::postgres::{PgConnectOptions, PgPoolOptions, PgSslMode};
use std::str::FromStr;
use std::time::Duration;

use crate::config::DatabaseConfig;

/// The project's migrations (`migrations/` at the workspace root), embedded at compile time.
pub static MIGRATOR: Migrator = sqlx::migrate!("../migrations");

/// Parses a Postgres URL. A server on this machine (a loopback address or `localhost`) is reached
/// without TLS unless the URL (or `PGSSLMODE`) names an `sslmode`: encrypting traffic that never
/// leaves the host protects nothing, and sqlx 0.9.0 opens its sockets without `TCP_NODELAY`, so
/// each TLS handshake waits out Postgres' delayed ACKs: a new connection took ~90 ms instead of
/// ~2 ms (docs/BENCHMARKS.md). Any other host keeps libpq's default (`prefer`), and an explicit
/// `sslmode` is always kept as given.
pub fn connect_options(url: &str) -> Result<PgConnectOptions, sqlx::Error> {
    let options = PgConnectOptions::from_str(url)?;
    let explicit = std::env::var_os("PGSSLMODE").is_some()
        || url.split_once('?').is_some_and(|(_, query)| {
            query
                .split('&')
                .any(|pair| matches!(pair.split('=').next(), Some("sslmode" | "ssl-mode")))
        });
    if explicit || !is_loopback(options.get_host()) {
        return Ok(options);
    }
    Ok(options.ssl_mode(PgSslMode::Disable))
}

fn is_loopback(host: &str) -> bool {
    host.eq_ignore_ascii_case("localhost")
        || host
            .trim_start_matches('[')
            .trim_end_matches(']')
            .parse::<std::net::IpAddr>()
            .is_ok_and(|ip| ip.is_loopback())
}

/// How long a pooled connection may sit idle before it is pinged on checkout.
const IDLE_BEFORE_PING: Duration = Duration::from_secs(1);

/// Builds the pool. Connections are opened lazily so a process can start (and report itself
/// unhealthy) while Postgres is down: each opens when a checkout finds none idle, and once open
/// sqlx keeps `min_connections` of them (its reaper replaces the ones it closes).
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

#[cfg(test)]
mod tests {
    use super::*;

    fn mode(url: &str) -> PgSslMode {
        connect_options(url).expect("a valid URL").get_ssl_mode()
    }

    #[test]
    fn a_server_on_this_machine_is_reached_without_tls_unless_the_url_asks_for_it() {
        for url in [
            "postgres://postgres@127.0.0.1:5432/todo_chat",
            "postgres://postgres@127.0.0.2/todo_chat",
            "postgres://postgres@localhost/todo_chat",
            "postgresql://postgres@[::1]:5432/todo_chat",
        ] {
            assert!(matches!(mode(url), PgSslMode::Disable), "{url}");
        }
        assert!(matches!(
            mode("postgres://postgres@127.0.0.1/todo_chat?sslmode=require"),
            PgSslMode::Require
        ));
        assert!(matches!(
            mode("postgres://postgres@localhost/todo_chat?application_name=x&sslmode=verify-full"),
            PgSslMode::VerifyFull
        ));
    }

    #[test]
    fn a_remote_server_keeps_the_url_s_tls_mode() {
        assert!(!matches!(
            mode("postgres://todo@db.example.internal:5432/todo_chat"),
            PgSslMode::Disable
        ));
        assert!(matches!(
            mode("postgres://todo@10.0.0.5/todo_chat?sslmode=require"),
            PgSslMode::Require
        ));
    }
}
