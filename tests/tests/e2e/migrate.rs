//! `api migrate up | down | status` on a real database: up → down one step at a time → down to
//! zero → up, with the schema checked at each step.

use todo_api::migrate::{Action, run};
use todo_tests::{TestApp, TestOptions};

async fn migrate(url: &str, action: Action) -> String {
    let mut out = Vec::new();
    run(url, action, &mut out).await.expect("migrate runs");
    String::from_utf8(out).expect("utf-8")
}

async fn has_column(app: &TestApp, table: &str, column: &str) -> bool {
    sqlx::query_scalar(
        "select exists(select 1 from information_schema.columns where table_name = $1 and column_name = $2)",
    )
    .bind(table)
    .bind(column)
    .fetch_one(&app.db)
    .await
    .expect("query")
}

/// Whether the database has an index named `name`.
async fn has_index(db: &sqlx::PgPool, name: &str) -> bool {
    sqlx::query_scalar("select exists(select 1 from pg_indexes where indexname = $1)")
        .bind(name)
        .fetch_one(db)
        .await
        .expect("query")
}

/// How many functions named `name` the database has.
async fn functions(db: &sqlx::PgPool, name: &str) -> i64 {
    sqlx::query_scalar("select count(*) from pg_proc where proname = $1")
        .bind(name)
        .fetch_one(db)
        .await
        .expect("query")
}

#[tokio::test]
async fn migrations_go_down_to_zero_and_up_again() {
    // A fresh database, migrated by the api at start-up.
    let app = TestApp::spawn_with(TestOptions {
        workers: 0,
        ..Default::default()
    })
    .await;
    let url = app.database_url();
    let total = todo_common::db::MIGRATOR
        .iter()
        .filter(|m| !m.migration_type.is_down_migration())
        .count();

    let status = migrate(&url, Action::Status).await;
    assert_eq!(status.lines().count(), total, "{status}");
    assert!(status.lines().all(|l| l.contains("applied")), "{status}");
    assert!(migrate(&url, Action::Up).await.contains("up to date"));

    // One step down: the newest migration's index is gone, and it is pending.
    let turn_order = "chat_requests_conversation_unfinished_idx";
    assert!(has_index(&app.db, turn_order).await);
    let out = migrate(&url, Action::Down { steps: 1 }).await;
    assert_eq!(out.lines().count(), 1, "{out}");
    assert!(!has_index(&app.db, turn_order).await);
    assert_eq!(functions(&app.db, "task_snapshot").await, 1);

    // One more: the migration before it takes its functions with it, and leaves the rest.
    let out = migrate(&url, Action::Down { steps: 1 }).await;
    assert_eq!(out.lines().count(), 1, "{out}");
    assert_eq!(functions(&app.db, "task_snapshot").await, 0);
    assert_eq!(functions(&app.db, "todo_rfc3339").await, 0);
    assert!(has_column(&app, "messages", "stopped").await);
    let status = migrate(&url, Action::Status).await;
    assert_eq!(
        status.lines().filter(|l| l.contains("pending")).count(),
        2,
        "{status}"
    );

    // Down to zero: no table of ours is left.
    app.db.close().await;
    let out = migrate(&url, Action::Down { steps: total }).await;
    assert_eq!(out.lines().count(), total - 2, "{out}");
    let pool = sqlx::PgPool::connect(&url).await.expect("connect");
    let tables: i64 = sqlx::query_scalar(
        "select count(*) from information_schema.tables where table_schema = 'public' and table_name <> '_sqlx_migrations'",
    )
    .fetch_one(&pool)
    .await
    .expect("count");
    assert_eq!(tables, 0, "every table was dropped");
    let functions: i64 = sqlx::query_scalar(
        "select count(*) from pg_proc where pronamespace = 'public'::regnamespace",
    )
    .fetch_one(&pool)
    .await
    .expect("count");
    assert_eq!(functions, 0, "every function was dropped");

    // And up again: everything back.
    let out = migrate(&url, Action::Up).await;
    assert_eq!(out.lines().count(), total, "{out}");
    let status = migrate(&url, Action::Status).await;
    assert!(status.lines().all(|l| l.contains("applied")), "{status}");
    pool.close().await;
    app.shutdown().await;
}
