//! scripts/backup.sh and scripts/restore.sh on a real database: back up, change the data,
//! restore, compare; and old backups go after the retention period.

use std::path::{Path, PathBuf};
use std::process::Command;

use todo_tests::{TestApp, TestOptions};

fn script(name: &str) -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR"))
        .join("../scripts")
        .join(name)
}

/// The user's tasks as stored: (id, title, completed), in id order.
async fn stored_tasks(url: &str) -> Vec<(i32, String, bool)> {
    let pool = sqlx::PgPool::connect(url).await.expect("connect");
    let rows = sqlx::query_as("select id, title, completed from tasks order by user_id, id")
        .fetch_all(&pool)
        .await
        .expect("tasks");
    pool.close().await;
    rows
}

#[tokio::test]
async fn a_backup_restores_the_data_as_it_was_and_old_backups_expire() {
    // Arrange: some data, and an old backup past the retention period.
    let app = TestApp::spawn_with(TestOptions {
        workers: 0,
        ..Default::default()
    })
    .await;
    let user = app.user().await;
    app.create_task(&user, "Buy milk").await;
    app.create_task(&user, "Call mom").await;
    app.patch_task(&user, 2, "complete").await;
    let url = app.database_url();
    let before = stored_tasks(&url).await;
    let dir = std::env::temp_dir().join(format!("todo-backups-{}", uuid::Uuid::new_v4().simple()));
    std::fs::create_dir_all(&dir).expect("dir");
    let old = dir.join("todo_chat-20200101T000000Z.dump");
    std::fs::write(&old, b"old").expect("old backup");
    let aged = Command::new("touch")
        .args(["-d", "30 days ago"])
        .arg(&old)
        .status()
        .expect("touch");
    assert!(aged.success());

    // Act 1: back up.
    let backup = Command::new("bash")
        .arg(script("backup.sh"))
        .env("DATABASE_URL", &url)
        .env("BACKUP_DIR", &dir)
        .env("BACKUP_RETENTION_DAYS", "7")
        .output()
        .expect("backup runs");
    assert!(
        backup.status.success(),
        "{}",
        String::from_utf8_lossy(&backup.stderr)
    );
    let file = PathBuf::from(String::from_utf8_lossy(&backup.stdout).trim());
    assert!(file.exists(), "{file:?}");
    assert!(!old.exists(), "the backup past retention was removed");

    // Change the data after the backup.
    let res = app
        .authed(
            &user,
            reqwest::Method::DELETE,
            &format!("/api/{}/tasks/1", user.id),
        )
        .send()
        .await
        .expect("delete");
    assert_eq!(res.status(), 204);
    app.create_task(&user, "Made after the backup").await;
    assert_ne!(stored_tasks(&url).await, before);

    // Act 2: restore (refused without --yes, then done).
    let unconfirmed = Command::new("bash")
        .arg(script("restore.sh"))
        .arg(&file)
        .env("DATABASE_URL", &url)
        .output()
        .expect("restore runs");
    assert_eq!(unconfirmed.status.code(), Some(2));
    let restore = Command::new("bash")
        .arg(script("restore.sh"))
        .arg(&file)
        .arg("--yes")
        .env("DATABASE_URL", &url)
        .output()
        .expect("restore runs");
    assert!(
        restore.status.success(),
        "{}",
        String::from_utf8_lossy(&restore.stderr)
    );

    // Assert: the data is exactly as it was at the backup, and the planner has statistics for
    // the restored tables (a dump carries none).
    assert_eq!(stored_tasks(&url).await, before);
    let analysed: i64 = sqlx::query_scalar(
        "select count(distinct tablename) from pg_stats
         where schemaname = 'public' and tablename in ('tasks', 'users')",
    )
    .fetch_one(&app.db)
    .await
    .expect("planner statistics");
    assert_eq!(analysed, 2);
    let _ = std::fs::remove_dir_all(&dir);
    app.shutdown().await;
}
