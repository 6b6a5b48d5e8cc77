use sqlx::PgPool;
use todo_common::db::MIGRATOR;
use todo_tests::{TestApp, TestOptions};

async fn tables(pool: &PgPool) -> Vec<String> {
    sqlx::query_scalar("select table_name::text from information_schema.tables where table_schema = 'public' and table_name <> '_sqlx_migrations' order by 1")
        .fetch_all(pool)
        .await
        .expect("tables")
}

#[tokio::test]
async fn migrations_apply_revert_to_zero_and_apply_again() {
    let app = TestApp::spawn_with(TestOptions {
        workers: 0,
        ..Default::default()
    })
    .await;
    let applied = tables(&app.db).await;
    for t in [
        "users",
        "tasks",
        "conversations",
        "messages",
        "chat_requests",
        "tool_effects",
    ] {
        assert!(applied.contains(&t.to_owned()), "{t} exists");
    }

    MIGRATOR.undo(&app.db, 0).await.expect("revert to zero");
    assert!(tables(&app.db).await.is_empty(), "every table is dropped");
    let functions: i64 =
        sqlx::query_scalar("select count(*) from pg_proc where proname = 'set_updated_at'")
            .fetch_one(&app.db)
            .await
            .expect("count");
    assert_eq!(functions, 0);

    MIGRATOR.run(&app.db).await.expect("apply again");
    assert_eq!(tables(&app.db).await, applied);
    app.shutdown().await;
}

#[tokio::test]
async fn updated_at_is_maintained_and_foreign_keys_cascade_and_are_indexed() {
    let app = TestApp::spawn_with(TestOptions {
        workers: 0,
        ..Default::default()
    })
    .await;
    let user = app.user().await;
    let task = app.create_task(&user, "Trigger check").await;
    tokio::time::sleep(std::time::Duration::from_millis(20)).await;
    let res = app
        .authed(
            &user,
            reqwest::Method::PATCH,
            &format!("/api/{}/tasks/1/complete", user.id),
        )
        .send()
        .await
        .expect("complete");
    let after: serde_json::Value = res.json().await.expect("json");
    assert!(
        after["updated_at"].as_str() > task["updated_at"].as_str(),
        "trigger bumps updated_at"
    );

    // every foreign key column leads some index
    let unindexed: Vec<String> = sqlx::query_scalar(
        "select c.conrelid::regclass::text || '.' || a.attname
         from pg_constraint c
         join pg_attribute a on a.attrelid = c.conrelid and a.attnum = c.conkey[1]
         where c.contype = 'f' and not exists (
             select 1 from pg_index i where i.indrelid = c.conrelid and i.indkey[0] = c.conkey[1])",
    )
    .fetch_all(&app.db)
    .await
    .expect("query");
    assert!(
        unindexed.is_empty(),
        "unindexed foreign keys: {unindexed:?}"
    );

    sqlx::query("delete from users where id = $1")
        .bind(user.id)
        .execute(&app.db)
        .await
        .expect("delete user");
    let left: i64 = sqlx::query_scalar("select count(*) from tasks")
        .fetch_one(&app.db)
        .await
        .expect("count");
    assert_eq!(left, 0, "tasks cascade with their user");
    app.shutdown().await;
}
