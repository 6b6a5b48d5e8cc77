//! The `api` binary itself: `--help`, configuration errors, and graceful shutdown on SIGTERM.

use std::process::{Command, Stdio};
use std::time::{Duration, Instant};

use sqlx::{Connection, Executor, PgConnection};

const BIN: &str = env!("CARGO_BIN_EXE_api");
const SECRET: &str = "binary-test-secret-0123456789-abcdefghij";

fn admin_url() -> String {
    std::env::var("TEST_DATABASE_URL")
        .unwrap_or_else(|_| "postgres://postgres@127.0.0.1:5432/postgres".into())
}

fn api() -> Command {
    let mut cmd = Command::new(BIN);
    cmd.env_clear()
        .env("PATH", std::env::var("PATH").unwrap_or_default())
        .current_dir(std::env::temp_dir());
    cmd
}

#[test]
fn help_lists_the_variables_and_exits_zero() {
    let out = api().arg("--help").output().expect("run api");
    assert!(out.status.success());
    let text = String::from_utf8_lossy(&out.stdout);
    for var in [
        "DATABASE_URL",
        "NATS_URL",
        "JWT_SECRET",
        "API_ADDR",
        "DB_POOL_SIZE",
        "BCRYPT_COST",
        "CORS_ORIGINS",
        "LOG_FORMAT",
    ] {
        assert!(text.contains(var), "--help mentions {var}");
    }
}

#[test]
fn a_bad_setting_stops_start_up_with_one_line_naming_the_variable() {
    for (env, var) in [
        (vec![], "JWT_SECRET"),
        (vec![("JWT_SECRET", "short")], "JWT_SECRET"),
        (
            vec![
                ("JWT_SECRET", SECRET),
                ("DATABASE_URL", "definitely not a url"),
            ],
            "DATABASE_URL",
        ),
        (
            vec![("JWT_SECRET", SECRET), ("DB_POOL_SIZE", "many")],
            "DB_POOL_SIZE",
        ),
        (
            vec![("JWT_SECRET", SECRET), ("LOG_FORMAT", "xml")],
            "LOG_FORMAT",
        ),
        (vec![("BETTER_AUTH_SECRET", "short")], "BETTER_AUTH_SECRET"),
        (
            vec![(
                "JWT_SECRET",
                "change-me-to-a-long-random-secret-of-32-chars-or-more",
            )],
            "JWT_SECRET",
        ),
        (
            vec![("JWT_SECRET", "aaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaa")],
            "JWT_SECRET",
        ),
        (
            vec![("JWT_SECRET", SECRET), ("NATS_USER", "api")],
            "NATS_PASSWORD",
        ),
    ] {
        let out = api().envs(env.iter().copied()).output().expect("run api");
        assert_eq!(out.status.code(), Some(2), "{var}");
        let stderr = String::from_utf8_lossy(&out.stderr);
        assert_eq!(stderr.trim().lines().count(), 1, "one line: {stderr}");
        assert!(stderr.contains(var), "names {var}: {stderr}");
        assert!(!stderr.contains(SECRET), "never prints the secret");
    }
}

#[test]
fn start_up_fails_fast_naming_the_database_when_postgres_is_unreachable() {
    // By design (docs/ARCHITECTURE.md): with RUN_MIGRATIONS=true the api does not serve against an
    // unmigrated database; it exits and an orchestrator restarts it.
    let started = Instant::now();
    let out = api()
        .env("JWT_SECRET", SECRET)
        .env("DATABASE_URL", "postgres://postgres@127.0.0.1:1/nowhere")
        .env("DB_ACQUIRE_TIMEOUT_SECS", "1")
        .env("API_ADDR", "127.0.0.1:0")
        .env("METRICS_ADDR", "127.0.0.1:0")
        .output()
        .expect("run api");
    assert_eq!(out.status.code(), Some(1));
    assert!(started.elapsed() < Duration::from_secs(20));
    let stderr = String::from_utf8_lossy(&out.stderr);
    let last = stderr.trim().lines().last().unwrap_or_default();
    assert!(
        last.starts_with("error:") && last.contains("DATABASE_URL") && last.contains("127.0.0.1:1"),
        "{stderr}"
    );
}

#[test]
fn secrets_are_refused_on_the_command_line() {
    for (flag, value, var) in [
        ("--jwt-secret", SECRET, "JWT_SECRET"),
        ("--openai-api-key", "sk-live-something", "OPENAI_API_KEY"),
        ("--nats-password", "hunter2hunter2", "NATS_PASSWORD"),
        (
            "--database-url",
            "postgres://app:hunter2@127.0.0.1:5432/x",
            "DATABASE_URL",
        ),
    ] {
        let out = api()
            .env("JWT_SECRET", SECRET)
            .args([flag, value])
            .output()
            .expect("run api");
        assert_eq!(out.status.code(), Some(2), "{flag}");
        let stderr = String::from_utf8_lossy(&out.stderr);
        assert!(
            stderr.contains(var) && stderr.contains("command line"),
            "{stderr}"
        );
        assert!(!stderr.contains(value), "never prints the secret: {stderr}");
    }
}

#[tokio::test]
async fn sigterm_lets_in_flight_requests_finish_then_exits_zero() {
    // Arrange: a fresh database and an api on a free port.
    let db = format!("todo_chat_bin_{}", uuid_like());
    let mut admin = PgConnection::connect(&admin_url())
        .await
        .expect("admin connection");
    admin
        .execute(sqlx::AssertSqlSafe(format!(r#"create database "{db}""#)))
        .await
        .expect("create db");
    let port = std::net::TcpListener::bind("127.0.0.1:0")
        .expect("bind")
        .local_addr()
        .expect("addr")
        .port();
    let database_url = format!("{}/{db}", admin_url().rsplit_once('/').expect("url").0);
    let stream = format!("BIN_{}", uuid_like());
    let mut child = api()
        .env("JWT_SECRET", SECRET)
        .env("DATABASE_URL", &database_url)
        .env("API_ADDR", format!("127.0.0.1:{port}"))
        .env("METRICS_ADDR", "127.0.0.1:0")
        .env("BCRYPT_COST", "4")
        .env("CHAT_TIMEOUT_SECS", "2")
        .env("NATS_STREAM", &stream)
        .env("NATS_SUBJECT_PREFIX", format!("bin_{}", uuid_like()))
        .stdout(Stdio::null())
        .stderr(Stdio::null())
        .spawn()
        .expect("spawn api");
    let base = format!("http://127.0.0.1:{port}");
    let http = reqwest::Client::new();
    let started = Instant::now();
    while http.get(format!("{base}/health")).send().await.is_err() {
        assert!(
            started.elapsed() < Duration::from_secs(20),
            "api did not start"
        );
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
    http.post(format!("{base}/api/auth/signup"))
        .json(&serde_json::json!({"email": "s@example.com", "password": "password123"}))
        .send()
        .await
        .expect("signup");
    let login: serde_json::Value = http
        .post(format!("{base}/api/auth/login"))
        .json(&serde_json::json!({"email": "s@example.com", "password": "password123"}))
        .send()
        .await
        .expect("login")
        .json()
        .await
        .expect("json");
    let token = login["access_token"].as_str().expect("token").to_owned();
    let user_id = login["user"]["id"].as_str().expect("id").to_owned();

    // Act: a chat request that waits (no worker runs, so it ends with 504 after 2 s), then SIGTERM.
    let in_flight = tokio::spawn({
        let http = http.clone();
        let url = format!("{base}/api/{user_id}/chat");
        async move {
            http.post(url)
                .bearer_auth(token)
                .json(&serde_json::json!({"message": "hello"}))
                .send()
                .await
        }
    });
    tokio::time::sleep(Duration::from_millis(300)).await;
    let kill = Command::new("kill")
        .args(["-TERM", &child.id().to_string()])
        .status()
        .expect("kill");
    assert!(kill.success());

    // Assert: the in-flight request got its answer, and the process exited 0.
    let response = in_flight
        .await
        .expect("join")
        .expect("in-flight request completed");
    assert_eq!(response.status(), reqwest::StatusCode::GATEWAY_TIMEOUT);
    let status = tokio::task::spawn_blocking(move || child.wait())
        .await
        .expect("join")
        .expect("wait");
    assert_eq!(status.code(), Some(0));
    let _ = admin
        .execute(sqlx::AssertSqlSafe(format!(
            r#"drop database if exists "{db}" with (force)"#
        )))
        .await;
    // Leave nothing on the shared broker either.
    let nats_url = std::env::var("NATS_URL").unwrap_or_else(|_| "nats://127.0.0.1:4222".to_owned());
    if let Ok(nats) = async_nats::connect(nats_url).await {
        let _ = async_nats::jetstream::new(nats)
            .delete_stream(&stream)
            .await;
    }
}

fn uuid_like() -> String {
    uuid::Uuid::new_v4().simple().to_string()
}
