//! Security regressions: each test pins down a class of attack an outside suite found (sessions
//! that could not end, unbounded sockets and frames, unlimited signups, 500s on NUL, label
//! explosion on a public /metrics, unbounded task lists, replies on any subject).

use std::time::Duration;

use reqwest::{Method, StatusCode};
use serde_json::{Value, json};
use todo_common::config::LimitsConfig;
use todo_tests::ws::final_frame;
use todo_tests::{TestApp, TestOptions, TestUser, WsClient};
use uuid::Uuid;

fn limits() -> LimitsConfig {
    TestOptions::default().limits
}

async fn me(app: &TestApp, base: &str, token: &str) -> StatusCode {
    app.http
        .get(format!("{base}/api/auth/me"))
        .bearer_auth(token)
        .send()
        .await
        .expect("me")
        .status()
}

async fn ws_with(app: &TestApp, user: &TestUser, token: &str) -> Result<WsClient, String> {
    let url = format!(
        "{}/api/{}/ws",
        app.base.replace("http://", "ws://"),
        user.id
    );
    WsClient::connect(&url, Some(token))
        .await
        .map_err(|e| e.to_string())
}

async fn login_token(app: &TestApp, user: &TestUser, password: &str) -> String {
    let body: Value = app
        .login(&user.email, password)
        .await
        .json()
        .await
        .expect("json");
    body["access_token"].as_str().expect("token").to_owned()
}

#[tokio::test]
async fn logout_ends_the_session_on_every_api_instance_and_closes_its_socket() {
    // Arrange: two api instances, two sessions of one user, a socket on the first.
    let app = TestApp::spawn_with(TestOptions {
        workers: 0,
        ..TestOptions::default()
    })
    .await;
    let (other_api, stop_other) = app.second_api().await;
    let user = app.user().await;
    let second_session = login_token(&app, &user, &user.password).await;
    let mut socket = ws_with(&app, &user, &user.token).await.expect("socket");
    assert_eq!(me(&app, &other_api, &user.token).await, StatusCode::OK);

    // Act
    let res = app
        .authed(&user, Method::POST, "/api/auth/logout")
        .send()
        .await
        .expect("logout");

    // Assert
    assert_eq!(res.status(), StatusCode::NO_CONTENT);
    assert_eq!(
        me(&app, &app.base, &user.token).await,
        StatusCode::UNAUTHORIZED
    );
    assert_eq!(
        me(&app, &other_api, &user.token).await,
        StatusCode::UNAUTHORIZED,
        "revoked on the other instance too"
    );
    assert_eq!(socket.close_code(Duration::from_secs(5)).await, Some(4001));
    assert_eq!(
        me(&app, &other_api, &second_session).await,
        StatusCode::OK,
        "only that session ended"
    );
    assert!(ws_with(&app, &user, &user.token).await.is_err());
    stop_other.cancel();
    app.shutdown().await;
}

#[tokio::test]
async fn changing_the_password_ends_every_older_session() {
    let app = TestApp::spawn_with(TestOptions {
        workers: 0,
        ..TestOptions::default()
    })
    .await;
    let user = app.user().await;
    let other_session = login_token(&app, &user, &user.password).await;
    let mut socket = ws_with(&app, &user, &other_session).await.expect("socket");

    let wrong = app
        .authed(&user, Method::POST, "/api/auth/password")
        .json(&json!({"current_password": "not it at all", "new_password": "a new passphrase"}))
        .send()
        .await
        .expect("password");
    assert_eq!(wrong.status(), StatusCode::UNAUTHORIZED);
    let res = app
        .authed(&user, Method::POST, "/api/auth/password")
        .json(&json!({"current_password": user.password, "new_password": "a new passphrase"}))
        .send()
        .await
        .expect("password");
    assert_eq!(res.status(), StatusCode::OK);
    assert_eq!(res.headers()["cache-control"], "no-store");
    let body: Value = res.json().await.expect("json");
    let fresh = body["access_token"].as_str().expect("token");

    assert_eq!(
        me(&app, &app.base, &user.token).await,
        StatusCode::UNAUTHORIZED
    );
    assert_eq!(
        me(&app, &app.base, &other_session).await,
        StatusCode::UNAUTHORIZED
    );
    assert_eq!(me(&app, &app.base, fresh).await, StatusCode::OK);
    assert_eq!(socket.close_code(Duration::from_secs(5)).await, Some(4001));
    assert_eq!(
        app.login(&user.email, &user.password).await.status(),
        StatusCode::UNAUTHORIZED
    );
    assert_eq!(
        app.login(&user.email, "a new passphrase").await.status(),
        StatusCode::OK
    );
    app.shutdown().await;
}

#[tokio::test]
async fn sockets_are_capped_per_user_and_every_frame_type_is_rate_limited() {
    let app = TestApp::spawn_with(TestOptions {
        workers: 0,
        limits: LimitsConfig {
            ws_max_per_user: Some(2),
            ws_frames_per_second: 2.try_into().ok(),
            ..limits()
        },
        ..TestOptions::default()
    })
    .await;
    let user = app.user().await;
    let first = ws_with(&app, &user, &user.token).await.expect("first");
    let mut second = ws_with(&app, &user, &user.token).await.expect("second");
    let third = ws_with(&app, &user, &user.token).await;
    assert!(
        third.is_err_and(|e| e.contains("429")),
        "a third socket is refused"
    );
    let other = app.user().await;
    assert!(
        ws_with(&app, &other, &other.token).await.is_ok(),
        "per user"
    );
    first.close().await;
    let again = tokio::time::timeout(Duration::from_secs(5), async {
        loop {
            if let Ok(ws) = ws_with(&app, &user, &user.token).await {
                return ws;
            }
            tokio::time::sleep(Duration::from_millis(50)).await;
        }
    })
    .await;
    assert!(again.is_ok(), "a closed socket frees its slot");

    // 20 pings and resumes at once: beyond the burst (4) they are refused.
    for i in 0..20 {
        let frame = if i % 2 == 0 {
            json!({"type": "ping"})
        } else {
            json!({"type": "resume", "request_id": Uuid::new_v4()})
        };
        second.send_json(&frame).await;
    }
    let mut limited = 0;
    while let Some(f) = second.next_json(Duration::from_millis(500)).await {
        if f["code"] == "rate_limited" {
            limited += 1;
        }
    }
    assert!(limited >= 10, "{limited} frames were refused");
    app.shutdown().await;
}

#[tokio::test]
async fn signups_are_limited_per_address() {
    let app = TestApp::spawn_with(TestOptions {
        workers: 0,
        limits: LimitsConfig {
            signup_per_hour_per_ip: 3.try_into().ok(),
            ..limits()
        },
        ..TestOptions::default()
    })
    .await;
    for i in 0..3 {
        let res = app
            .signup(
                &format!("u{i}-{}@example.com", Uuid::new_v4()),
                "long enough",
            )
            .await;
        assert_eq!(res.status(), StatusCode::CREATED);
    }
    let res = app.signup("one-too-many@example.com", "long enough").await;
    assert_eq!(res.status(), StatusCode::TOO_MANY_REQUESTS);
    assert!(res.headers().contains_key("retry-after"));
    let body: Value = res.json().await.expect("json");
    assert_eq!(body["error"]["code"], "rate_limited");
    app.shutdown().await;
}

#[tokio::test]
async fn text_with_nul_is_refused_with_422_everywhere() {
    let app = TestApp::spawn().await;
    let user = app.user().await;
    let nul = "bad\u{0}text";
    let cases: Vec<(Method, String, Value, &str)> = vec![
        (
            Method::POST,
            format!("/api/{}/chat", user.id),
            json!({"message": nul}),
            "message",
        ),
        (
            Method::POST,
            "/api/auth/signup".into(),
            json!({"email": "n@example.com", "password": "long enough", "name": nul}),
            "name",
        ),
        (
            Method::POST,
            "/api/auth/login".into(),
            json!({"email": "a\u{0}@example.com", "password": "long enough"}),
            "email",
        ),
        (
            Method::POST,
            format!("/api/{}/tasks", user.id),
            json!({"title": nul}),
            "title",
        ),
        (
            Method::POST,
            format!("/api/{}/tasks", user.id),
            json!({"title": "ok", "description": nul}),
            "description",
        ),
        (
            Method::POST,
            format!("/api/{}/tasks", user.id),
            json!({"title": "ok", "tags": [nul]}),
            "tags",
        ),
        (
            Method::PATCH,
            "/api/auth/me".into(),
            json!({"name": nul}),
            "name",
        ),
    ];
    for (method, path, body, field) in cases {
        let res = app
            .authed(&user, method, &path)
            .json(&body)
            .send()
            .await
            .expect("request");
        assert_eq!(
            res.status(),
            StatusCode::UNPROCESSABLE_ENTITY,
            "{path} {body}"
        );
        let error: Value = res.json().await.expect("json");
        assert_eq!(error["error"]["field"], field, "{path}: {error}");
    }
    let (status, _, _) = app.get_json(&user, "/tasks?q=a%00b").await;
    assert_eq!(status, StatusCode::UNPROCESSABLE_ENTITY);

    let mut ws = app.ws(&user).await;
    ws.send_json(&json!({"type": "chat", "message": nul})).await;
    let frame = ws.next_json(Duration::from_secs(5)).await.expect("frame");
    assert_eq!(frame["type"], "error");
    assert_eq!(frame["code"], "message_invalid");
    // The socket still works.
    let frames = ws.ask("add a task to buy milk", None).await;
    assert_eq!(final_frame(&frames)["type"], "done");
    app.shutdown().await;
}

#[tokio::test]
async fn metrics_live_off_the_public_port_and_labels_stay_a_closed_set() {
    let app = TestApp::spawn_with(TestOptions {
        workers: 0,
        ..TestOptions::default()
    })
    .await;
    let res = app.http.get(app.url("/metrics")).send().await.expect("get");
    assert_eq!(
        res.status(),
        StatusCode::NOT_FOUND,
        "not on the public port"
    );

    for i in 0..5 {
        let method = Method::from_bytes(format!("FROB{i}").as_bytes()).expect("method");
        let _ = app
            .http
            .request(method, app.url(&format!("/made/up/{i}")))
            .send()
            .await
            .expect("request");
    }
    let text = app.metrics().await;
    assert!(
        !text.contains("FROB"),
        "made-up methods are not label values"
    );
    assert!(!text.contains("/made/up"), "raw paths are not label values");
    assert!(todo_tests::metric(&text, "todo_http_requests_total", &[("method", "other")]) >= 5.0);

    let res = app.login("nobody@example.com", "long enough").await;
    assert_eq!(res.headers()["x-content-type-options"], "nosniff");
    assert_eq!(res.headers()["cache-control"], "no-store");
    app.shutdown().await;
}

#[tokio::test]
async fn tasks_per_user_are_limited_with_a_clear_error() {
    let app = TestApp::spawn_with(TestOptions {
        limits: LimitsConfig {
            max_tasks_per_user: Some(2),
            ..limits()
        },
        ..TestOptions::default()
    })
    .await;
    let user = app.user().await;
    app.create_task(&user, "One").await;
    app.create_task(&user, "Two").await;
    let res = app
        .authed(&user, Method::POST, &format!("/api/{}/tasks", user.id))
        .json(&json!({"title": "Three"}))
        .send()
        .await
        .expect("create");
    assert_eq!(res.status(), StatusCode::CONFLICT);
    let body: Value = res.json().await.expect("json");
    assert_eq!(body["error"]["code"], "task_limit_reached");

    let (status, body) = app.chat(&user, "add a task to buy milk", None).await;
    assert_eq!(status, StatusCode::OK);
    assert_eq!(
        body["tool_calls"][0]["result"]["error"]["code"],
        "TASK_LIMIT_REACHED"
    );
    assert!(body["response"].as_str().expect("text").contains("2 tasks"));
    assert_eq!(app.list_tasks(&user, "all").await.len(), 2);
    app.shutdown().await;
}

#[tokio::test]
async fn a_producer_cannot_make_a_worker_reply_outside_the_events_prefix() {
    let app = TestApp::spawn().await;
    let user = app.user().await;
    let request_id = Uuid::new_v4();
    let mut elsewhere = app.nats.subscribe("elsewhere.>").await.expect("sub");
    let mut events = app
        .nats
        .subscribe(app.config.nats.default_event_subject(request_id))
        .await
        .expect("sub");
    app.publish_request(&json!({
        "v": 1, "request_id": request_id, "user_id": user.id,
        "message": "add a task to buy milk", "reply_to": "elsewhere.inbox"
    }))
    .await;
    let event = tokio::time::timeout(
        Duration::from_secs(10),
        futures::StreamExt::next(&mut events),
    )
    .await
    .expect("an event on the default subject")
    .expect("message");
    let event: Value = serde_json::from_slice(&event.payload).expect("json");
    assert_eq!(event["type"], "error");
    assert_eq!(event["code"], "invalid_request");
    let stray = tokio::time::timeout(
        Duration::from_millis(300),
        futures::StreamExt::next(&mut elsewhere),
    )
    .await;
    assert!(
        stray.is_err(),
        "nothing was published outside the events prefix"
    );
    assert!(app.list_tasks(&user, "all").await.is_empty());
    app.shutdown().await;
}
