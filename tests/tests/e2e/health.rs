use reqwest::StatusCode;
use serde_json::Value;
use todo_tests::{TestApp, TestOptions};

#[tokio::test]
async fn health_reports_every_dependency_up() {
    let app = TestApp::spawn_with(TestOptions {
        workers: 0,
        ..Default::default()
    })
    .await;
    // Ready within a moment of start-up (the NATS connection is established in the background).
    let body: Value = todo_tests::eventually(std::time::Duration::from_secs(10), || async {
        let res = app.http.get(app.url("/health")).send().await.ok()?;
        if res.status() == StatusCode::OK {
            res.json().await.ok()
        } else {
            None
        }
    })
    .await
    .expect("health turns 200");
    assert_eq!(body["status"], "ok");
    assert_eq!(body["database"]["status"], "up");
    assert!(body["database"]["latency_ms"].as_f64().is_some());
    assert_eq!(body["nats"]["status"], "up");
    assert!(body["pool"]["max"].as_u64().expect("max") >= 1);
    assert!(body["version"].is_string());
    app.shutdown().await;
}

#[tokio::test]
async fn health_is_503_naming_postgres_when_the_database_is_unreachable() {
    let app = TestApp::spawn_with(TestOptions {
        workers: 0,
        database_url: Some("postgres://postgres@127.0.0.1:1/none".into()),
        ..Default::default()
    })
    .await;
    let res = app
        .http
        .get(app.url("/health"))
        .send()
        .await
        .expect("health");
    assert_eq!(res.status(), StatusCode::SERVICE_UNAVAILABLE);
    let body: Value = res.json().await.expect("json");
    assert_eq!(body["database"]["status"], "down");
    assert_eq!(body["nats"]["status"], "up");

    // A request that needs the database fails cleanly, without leaking internals.
    let res = app
        .http
        .post(app.url("/api/auth/login"))
        .json(&serde_json::json!({"email": "a@example.com", "password": "whatever1"}))
        .send()
        .await
        .expect("login");
    assert!(res.status().is_server_error());
    let text = res.text().await.expect("body");
    assert!(
        !text.to_lowercase().contains("sqlx") && !text.contains("127.0.0.1"),
        "{text}"
    );
    app.shutdown().await;
}

#[tokio::test]
async fn health_is_503_naming_nats_when_the_broker_is_unreachable() {
    let app = TestApp::spawn_with(TestOptions {
        workers: 0,
        nats_url: Some("nats://127.0.0.1:1".into()),
        ..Default::default()
    })
    .await;
    let res = app
        .http
        .get(app.url("/health"))
        .send()
        .await
        .expect("health");
    assert_eq!(res.status(), StatusCode::SERVICE_UNAVAILABLE);
    let body: Value = res.json().await.expect("json");
    assert_eq!(body["nats"]["status"], "down");
    assert_eq!(body["database"]["status"], "up");
    app.shutdown().await;
}
