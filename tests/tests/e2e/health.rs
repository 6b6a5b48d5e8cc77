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

#[tokio::test]
async fn readiness_turns_503_as_soon_as_the_api_is_asked_to_stop_while_it_still_serves() {
    // Arrange: a second api on the same database with a shutdown delay, as behind a balancer.
    let app = TestApp::spawn_with(TestOptions {
        workers: 0,
        ..Default::default()
    })
    .await;
    let mut config = app.config.clone();
    config.database.run_migrations = false;
    config.shutdown_delay = std::time::Duration::from_secs(3);
    let api = todo_api::Application::build(config).await.expect("builds");
    let base = format!("http://{}", api.local_addr());
    let stop = tokio_util::sync::CancellationToken::new();
    let signal = stop.clone();
    let running = tokio::spawn(api.run_until_stopped(async move { signal.cancelled().await }));
    let get = |path: &'static str| {
        let http = app.http.clone();
        let url = format!("{base}{path}");
        async move { http.get(url).send().await.map(|r| r.status()).ok() }
    };
    let ready = todo_tests::eventually(std::time::Duration::from_secs(10), || async {
        (get("/health/ready").await == Some(StatusCode::OK)).then_some(())
    })
    .await;
    assert!(ready.is_some(), "ready once its dependencies answer");
    assert_eq!(get("/health/live").await, Some(StatusCode::OK));

    // Act: SIGTERM.
    stop.cancel();

    // Assert: not ready at once, yet still serving (live, and real requests) during the delay.
    let draining = todo_tests::eventually(std::time::Duration::from_secs(2), || async {
        (get("/health/ready").await == Some(StatusCode::SERVICE_UNAVAILABLE)).then_some(())
    })
    .await;
    assert!(draining.is_some(), "readiness turned 503");
    assert_eq!(get("/health/live").await, Some(StatusCode::OK));
    assert_eq!(get("/openapi.json").await, Some(StatusCode::OK));
    tokio::time::timeout(std::time::Duration::from_secs(15), running)
        .await
        .expect("stops after the delay")
        .expect("joined")
        .expect("clean exit");
    app.shutdown().await;
}

#[tokio::test]
async fn a_stopping_worker_reports_not_ready_while_it_drains() {
    // Arrange: a worker of our own, busy with a slow reply when it is asked to stop.
    let (fake, url) = todo_tests::fake_openai::FakeOpenAi::start().await;
    fake.push([todo_tests::fake_openai::Reply::slow_text(
        "one two three four five six seven eight",
        std::time::Duration::from_millis(300),
    )]);
    let app = TestApp::spawn_with(TestOptions {
        workers: 0,
        ..TestOptions::openai(&url)
    })
    .await;
    let mut config = app.config.clone();
    config.database.run_migrations = false;
    let worker = todo_worker::Worker::build(config).await.expect("builds");
    let base = format!("http://{}", worker.http_addr());
    let stop = tokio_util::sync::CancellationToken::new();
    let signal = stop.clone();
    let running = tokio::spawn(worker.run_until_stopped(async move { signal.cancelled().await }));
    let status = |path: &'static str| {
        let http = app.http.clone();
        let url = format!("{base}{path}");
        async move { http.get(url).send().await.map(|r| r.status()).ok() }
    };
    let ready = todo_tests::eventually(std::time::Duration::from_secs(10), || async {
        (status("/health/ready").await == Some(StatusCode::OK)).then_some(())
    })
    .await;
    assert!(ready.is_some());
    let user = app.user().await;
    let mut ws = app.ws(&user).await;
    ws.chat("tell me something slowly", None, None).await;
    let first = ws
        .next_json(std::time::Duration::from_secs(5))
        .await
        .expect("accepted");
    assert_eq!(first["type"], "accepted");
    let delta = ws
        .next_json(std::time::Duration::from_secs(5))
        .await
        .expect("a delta");
    assert_eq!(delta["type"], "delta", "the turn is running");

    // Act
    stop.cancel();

    // Assert: not ready while the turn drains; live; and the turn still completes.
    let draining = todo_tests::eventually(std::time::Duration::from_secs(2), || async {
        (status("/health/ready").await == Some(StatusCode::SERVICE_UNAVAILABLE)).then_some(())
    })
    .await;
    assert!(draining.is_some(), "readiness turned 503 during the drain");
    assert_eq!(status("/health/live").await, Some(StatusCode::OK));
    let frames = ws.until_final(std::time::Duration::from_secs(10)).await;
    assert_eq!(frames.last().expect("frames")["type"], "done", "{frames:?}");
    running.await.expect("joined").expect("clean exit");
    app.shutdown().await;
}

#[tokio::test]
async fn readiness_puts_back_a_request_stream_that_went_missing() {
    // Arrange: a running api whose request stream is deleted behind its back (a NATS server
    // that came back without its storage)
    let app = TestApp::spawn_with(TestOptions {
        workers: 0,
        ..Default::default()
    })
    .await;
    let js = async_nats::jetstream::new(app.nats.clone());
    let stream = app.config.nats.stream.clone();
    js.delete_stream(&stream).await.expect("delete the stream");
    assert!(js.get_stream(&stream).await.is_err(), "the stream is gone");

    // Act
    let res = app
        .http
        .get(app.url("/health/ready"))
        .send()
        .await
        .expect("ready");

    // Assert: ready again, because the stream is back
    assert_eq!(res.status(), StatusCode::OK);
    let body: Value = res.json().await.expect("json");
    assert_eq!(body["status"], "ready");
    assert!(js.get_stream(&stream).await.is_ok(), "the stream is back");
    app.shutdown().await;
}
