//! Operations: metrics move, limits answer 429, a full or unreachable queue answers 503 at once,
//! resumable replies, the reconciler, dead letters and the worker's drain.

use std::time::{Duration, Instant};

use reqwest::{Method, StatusCode};
use serde_json::{Value, json};
use sqlx::Connection;
use todo_common::chat;
use todo_common::config::{AgentConfig, LimitsConfig};
use todo_tests::fake_openai::{FakeOpenAi, Reply};
use todo_tests::ws::final_frame;
use todo_tests::{TestApp, TestOptions, eventually, has_metric, metric};
use uuid::Uuid;

fn limits() -> LimitsConfig {
    TestOptions::default().limits
}

async fn get_text(app: &TestApp, url: &str) -> (StatusCode, String) {
    let res = app.http.get(url).send().await.expect("get");
    (res.status(), res.text().await.expect("text"))
}

#[tokio::test]
async fn metrics_count_http_chat_tools_and_auth_failures() {
    // Arrange
    let app = TestApp::spawn().await;
    let user = app.user().await;
    let before = app.metrics().await;

    // Act: a failed login, an HTTP chat turn and a WebSocket turn.
    let res = app.login(&user.email, "wrong password!").await;
    assert_eq!(res.status(), StatusCode::UNAUTHORIZED);
    let (status, _) = app
        .chat(&user, "add a task to water the plants", None)
        .await;
    assert_eq!(status, StatusCode::OK);
    let mut ws = app.ws(&user).await;
    let frames = ws.ask("add a task to buy stamps", None).await;
    assert_eq!(final_frame(&frames)["type"], "done");
    let during = app.metrics().await;
    ws.close().await;

    // Assert (other tests share the process-wide registry, so counters are compared by growth)
    let grew = |name: &str, labels: &[(&str, &str)], by: f64| {
        let (b, a) = (metric(&before, name, labels), metric(&during, name, labels));
        assert!(
            a - b >= by,
            "{name}{labels:?} grew from {b} to {a}, expected +{by}"
        );
    };
    grew(
        "todo_http_requests_total",
        &[("route", "/api/auth/login"), ("status", "401")],
        1.0,
    );
    grew(
        "todo_http_request_duration_seconds_count",
        &[("route", "/api/{user_id}/chat"), ("status", "200")],
        1.0,
    );
    grew(
        "todo_auth_failures_total",
        &[("code", "invalid_credentials")],
        1.0,
    );
    grew("todo_chat_requests_total", &[("outcome", "accepted")], 2.0);
    grew("todo_chat_turns_completed_total", &[], 2.0);
    grew("todo_chat_turn_duration_seconds_count", &[], 2.0);
    grew("todo_chat_time_to_first_token_seconds_count", &[], 2.0);
    grew(
        "todo_tool_calls_total",
        &[("tool", "add_task"), ("outcome", "ok")],
        2.0,
    );
    grew("todo_worker_messages_total", &[("outcome", "ack")], 2.0);
    // The two turns came one after the other: each was accepted and begun by a batch of its own.
    for step in ["accept", "begin"] {
        grew("todo_batch_duration_seconds_count", &[("step", step)], 2.0);
    }
    assert!(metric(&during, "todo_ws_connections", &[]) >= 1.0);
    assert!(
        !during.contains(&user.id.to_string()),
        "raw paths (user ids) never become labels"
    );
    for name in [
        "todo_db_pool_connections",
        "todo_db_pool_max_connections",
        "todo_worker_in_flight",
    ] {
        assert!(has_metric(&during, name), "{name} is exported");
    }

    // The worker serves its own /health and /metrics; queue gauges appear for our stream.
    let worker = &app.worker_bases[0];
    let (status, health) = get_text(&app, &format!("{worker}/health")).await;
    assert_eq!(status, StatusCode::OK, "{health}");
    let health: Value = serde_json::from_str(&health).expect("health json");
    assert_eq!(health["database"]["status"], "up");
    assert_eq!(health["nats"]["status"], "up");
    let stream = app.config.nats.stream.clone();
    let sampled = eventually(Duration::from_secs(15), || async {
        let (_, text) = get_text(&app, &format!("{worker}/metrics")).await;
        text.contains(&format!(
            "todo_queue_pending_messages{{stream=\"{stream}\"}}"
        ))
        .then_some(text)
    })
    .await
    .expect("queue gauges are sampled");
    assert!(has_metric(&sampled, "todo_queue_ack_pending_messages"));
    assert!(has_metric(&sampled, "todo_queue_stream_messages"));

    // Every metric the alert rules use is one we export.
    let rules = std::fs::read_to_string(concat!(
        env!("CARGO_MANIFEST_DIR"),
        "/../deploy/prometheus/alerts.yml"
    ))
    .expect("alert rules");
    let used: std::collections::BTreeSet<&str> = rules
        .split(|c: char| !(c.is_ascii_lowercase() || c == '_'))
        .filter(|t| t.starts_with("todo_") && t.len() > 5)
        .map(|t| t.trim_end_matches("_bucket"))
        .collect();
    assert!(used.len() >= 10, "{used:?}");
    for name in used {
        assert!(
            has_metric(&sampled, name) || has_metric(&sampled, &format!("{name}_bucket")),
            "alerts.yml uses {name}, which /metrics does not export"
        );
    }
    app.shutdown().await;
}

#[tokio::test]
async fn model_calls_are_measured_with_latency_and_tokens() {
    // Arrange
    let (fake, fake_url) = FakeOpenAi::start().await;
    fake.push([Reply::Status(503), Reply::text("Hello there.")]);
    let app = TestApp::spawn_with(TestOptions::openai(&fake_url)).await;
    let user = app.user().await;
    let before = app.metrics().await;

    // Act
    let (status, body) = app.chat(&user, "hi", None).await;

    // Assert
    assert_eq!(status, StatusCode::OK, "{body}");
    let after = app.metrics().await;
    let grew = |name: &str, labels: &[(&str, &str)]| {
        metric(&after, name, labels) > metric(&before, name, labels)
    };
    assert!(grew("todo_llm_http_requests_total", &[("status", "503")]));
    assert!(grew("todo_llm_http_requests_total", &[("status", "200")]));
    assert!(grew("todo_llm_request_duration_seconds_count", &[]));
    assert!(grew("todo_llm_tokens_total", &[("kind", "prompt")]));
    assert!(grew("todo_llm_tokens_total", &[("kind", "completion")]));
    app.shutdown().await;
}

#[tokio::test]
async fn login_attempts_are_limited_per_email_and_per_address() {
    // Arrange: 3 attempts per email and 5 per address per minute.
    let app = TestApp::spawn_with(TestOptions {
        limits: LimitsConfig {
            login_per_minute_per_email: 3.try_into().ok(),
            login_per_minute_per_ip: 5.try_into().ok(),
            ..limits()
        },
        ..TestOptions::default()
    })
    .await;
    let user = app.user().await; // one successful login

    // Act + Assert: per email (case-insensitive), the 4th attempt in a minute is refused.
    for _ in 0..2 {
        let res = app
            .login(&user.email.to_uppercase(), "wrong password!")
            .await;
        assert_eq!(res.status(), StatusCode::UNAUTHORIZED);
    }
    let res = app.login(&user.email, &user.password).await;
    assert_eq!(res.status(), StatusCode::TOO_MANY_REQUESTS);
    let retry_after: u64 = res.headers()["retry-after"]
        .to_str()
        .expect("ascii")
        .parse()
        .expect("seconds");
    assert!((1..=60).contains(&retry_after));
    let body: Value = res.json().await.expect("json");
    assert_eq!(body["error"]["code"], "rate_limited");
    assert!(
        body["error"]["message"]
            .as_str()
            .expect("message")
            .contains("account")
    );

    // Per address: the 6th attempt from this address is refused whatever the email.
    let res = app
        .login("someone-else@example.com", "whatever-password")
        .await;
    assert_eq!(res.status(), StatusCode::UNAUTHORIZED);
    let res = app.login("third@example.com", "whatever-password").await;
    assert_eq!(res.status(), StatusCode::TOO_MANY_REQUESTS);
    let body: Value = res.json().await.expect("json");
    assert_eq!(body["error"]["code"], "rate_limited");
    assert!(
        body["error"]["message"]
            .as_str()
            .expect("message")
            .contains("address")
    );
    app.shutdown().await;
}

#[tokio::test]
async fn chat_requests_are_limited_per_minute_for_each_user() {
    // Arrange: 2 chat requests per user per minute.
    let app = TestApp::spawn_with(TestOptions {
        limits: LimitsConfig {
            chat_per_minute: 2.try_into().ok(),
            ..limits()
        },
        ..TestOptions::default()
    })
    .await;
    let (alice, bob) = (app.user().await, app.user().await);

    // Act
    let (first, _) = app.chat(&alice, "add a task to buy milk", None).await;
    let mut ws = app.ws(&alice).await;
    let second = ws.ask("list my tasks", None).await;
    ws.chat("add a task to buy bread", None, Some("third"))
        .await;
    let third = ws.next_json(Duration::from_secs(10)).await.expect("frame");
    let (fourth, body) = app.chat(&alice, "add a task to buy eggs", None).await;
    let (bobs, _) = app.chat(&bob, "add a task to buy milk", None).await;

    // Assert
    assert_eq!(first, StatusCode::OK);
    assert_eq!(final_frame(&second)["type"], "done");
    assert_eq!(third["type"], "error");
    assert_eq!(third["code"], "rate_limited");
    assert_eq!(third["client_msg_id"], "third");
    assert_eq!(fourth, StatusCode::TOO_MANY_REQUESTS);
    assert_eq!(body["error"]["code"], "rate_limited");
    assert_eq!(bobs, StatusCode::OK, "limits are per user");
    assert_eq!(
        app.count("select count(*) from tasks where user_id = $1", &alice)
            .await,
        1,
        "refused requests did nothing"
    );
    app.shutdown().await;
}

#[tokio::test]
async fn unanswered_chat_requests_are_limited_per_user() {
    // Arrange: at most 2 unanswered requests; no worker yet, so nothing gets answered.
    let mut app = TestApp::spawn_with(TestOptions {
        workers: 0,
        limits: LimitsConfig {
            chat_max_in_flight: Some(2),
            ..limits()
        },
        ..TestOptions::default()
    })
    .await;
    let user = app.user().await;
    let mut ws = app.ws(&user).await;

    // Act
    for (i, title) in ["one", "two", "three"].iter().enumerate() {
        ws.chat(
            &format!("add a task to do {title}"),
            None,
            Some(&i.to_string()),
        )
        .await;
    }
    let mut frames = Vec::new();
    for _ in 0..3 {
        frames.push(ws.next_json(Duration::from_secs(10)).await.expect("frame"));
    }
    let (http_status, body) = app.chat(&user, "add a task to do four", None).await;

    // Assert
    assert_eq!(frames[0]["type"], "accepted");
    assert_eq!(frames[1]["type"], "accepted");
    assert_eq!(frames[2]["type"], "error");
    assert_eq!(frames[2]["code"], "too_many_in_flight");
    assert_eq!(http_status, StatusCode::TOO_MANY_REQUESTS);
    assert_eq!(body["error"]["code"], "too_many_in_flight");

    // Once answered, the user may send again.
    app.start_worker().await;
    let finals: Vec<Value> = vec![
        final_frame(&ws.until_final(Duration::from_secs(20)).await).clone(),
        final_frame(&ws.until_final(Duration::from_secs(20)).await).clone(),
    ];
    assert!(finals.iter().all(|f| f["type"] == "done"), "{finals:?}");
    let frames = ws.ask("add a task to do five", None).await;
    assert_eq!(final_frame(&frames)["type"], "done");
    assert_eq!(
        app.count("select count(*) from tasks where user_id = $1", &user)
            .await,
        3
    );
    app.shutdown().await;
}

#[tokio::test]
async fn a_full_queue_is_refused_at_once_with_503() {
    // Arrange: the stream holds 2 requests and no worker drains it.
    let app = TestApp::spawn_with(TestOptions {
        workers: 0,
        stream_max_msgs: 2,
        ..TestOptions::default()
    })
    .await;
    let user = app.user().await;
    let mut ws = app.ws(&user).await;
    for i in 0..2 {
        ws.chat(&format!("add a task to fill {i}"), None, None)
            .await;
        let frame = ws.next_json(Duration::from_secs(10)).await.expect("frame");
        assert_eq!(frame["type"], "accepted", "{frame}");
    }

    // Act
    let started = Instant::now();
    ws.chat("add a task that does not fit", None, Some("overflow"))
        .await;
    let refused = ws.next_json(Duration::from_secs(10)).await.expect("frame");
    let res = app
        .authed(&user, Method::POST, &format!("/api/{}/chat", user.id))
        .json(&json!({"message": "add a task that does not fit either"}))
        .send()
        .await
        .expect("chat");

    // Assert
    assert_eq!(refused["type"], "error");
    assert_eq!(refused["code"], "overloaded");
    assert_eq!(res.status(), StatusCode::SERVICE_UNAVAILABLE);
    assert!(res.headers().contains_key("retry-after"));
    let body: Value = res.json().await.expect("json");
    assert_eq!(body["error"]["code"], "overloaded");
    assert!(
        started.elapsed() < Duration::from_secs(3),
        "answered at once"
    );
    app.shutdown().await;
}

#[tokio::test]
async fn an_unreachable_broker_is_refused_at_once_with_503() {
    // Arrange: NATS on a port where nothing listens.
    let app = TestApp::spawn_with(TestOptions {
        workers: 0,
        nats_url: Some("nats://127.0.0.1:1".into()),
        ..TestOptions::default()
    })
    .await;
    let user = app.user().await;

    // Act
    let started = Instant::now();
    let res = app
        .authed(&user, Method::POST, &format!("/api/{}/chat", user.id))
        .json(&json!({"message": "add a task to buy milk"}))
        .send()
        .await
        .expect("chat");

    // Assert
    assert_eq!(res.status(), StatusCode::SERVICE_UNAVAILABLE);
    assert!(res.headers().contains_key("retry-after"));
    let body: Value = res.json().await.expect("json");
    assert_eq!(body["error"]["code"], "overloaded");
    assert!(
        started.elapsed() < Duration::from_secs(1),
        "no waiting on a dead broker"
    );
    assert_eq!(
        app.count(
            "select count(*) from chat_requests where user_id = $1",
            &user
        )
        .await,
        0,
        "nothing was stored for a request the client was told failed"
    );
    app.shutdown().await;
}

#[tokio::test]
async fn a_client_resumes_a_reply_it_missed_on_a_new_socket() {
    // Arrange: the request is accepted while no worker runs, then the socket drops.
    let mut app = TestApp::spawn_with(TestOptions {
        workers: 0,
        ..TestOptions::default()
    })
    .await;
    let (user, other) = (app.user().await, app.user().await);
    let mut ws = app.ws(&user).await;
    ws.chat("add a task to renew the passport", None, None)
        .await;
    let accepted = ws
        .next_json(Duration::from_secs(10))
        .await
        .expect("accepted");
    let request_id = accepted["request_id"].as_str().expect("id").to_owned();
    ws.close().await;

    // Act 1: resume while the request waits, then a worker answers it.
    let mut ws = app.ws(&user).await;
    ws.send_json(&json!({"type": "resume", "request_id": request_id}))
        .await;
    let resumed = ws
        .next_json(Duration::from_secs(10))
        .await
        .expect("resumed");
    app.start_worker().await;
    let live = ws.until_final(Duration::from_secs(20)).await;

    // Act 2: resume again after it finished, on yet another socket.
    let mut late = app.ws(&user).await;
    late.send_json(&json!({"type": "resume", "request_id": request_id}))
        .await;
    let replay = late.until_final(Duration::from_secs(10)).await;

    // Assert
    assert_eq!(resumed["type"], "resumed");
    assert_eq!(resumed["status"], "queued");
    assert_eq!(resumed["conversation_id"], accepted["conversation_id"]);
    let done = final_frame(&live);
    assert_eq!(done["type"], "done");
    assert_eq!(done["request_id"], request_id.as_str());
    assert_eq!(replay[0]["type"], "resumed");
    assert_eq!(replay[0]["status"], "done");
    assert_eq!(
        final_frame(&replay),
        done,
        "the stored final event is replayed"
    );
    assert_eq!(replay.len(), 2, "exactly one final event");

    // Someone else's request, an unknown one and a malformed id are refused.
    let mut intruder = app.ws(&other).await;
    intruder
        .send_json(&json!({"type": "resume", "request_id": request_id}))
        .await;
    let refused = intruder
        .next_json(Duration::from_secs(5))
        .await
        .expect("frame");
    assert_eq!(refused["code"], "not_found");
    intruder
        .send_json(&json!({"type": "resume", "request_id": Uuid::new_v4()}))
        .await;
    let unknown = intruder
        .next_json(Duration::from_secs(5))
        .await
        .expect("frame");
    assert_eq!(unknown["code"], "not_found");
    intruder
        .send_json(&json!({"type": "resume", "request_id": "nope"}))
        .await;
    let malformed = intruder
        .next_json(Duration::from_secs(5))
        .await
        .expect("frame");
    assert_eq!(malformed["code"], "invalid_frame");
    app.shutdown().await;
}

#[tokio::test]
async fn the_reconciler_publishes_a_stored_request_whose_message_was_lost() {
    // Arrange: a request stored as the api stores it, but never published (the api died).
    let app = TestApp::spawn_with(TestOptions {
        reconcile_after: Duration::from_secs(4),
        ..TestOptions::default()
    })
    .await;
    let user = app.user().await;
    let request_id = Uuid::new_v4();
    let accepted = chat::accept(
        &app.db,
        request_id,
        user.id,
        None,
        "add a task to call the plumber",
        None,
        None,
    )
    .await
    .expect("stored");
    assert!(matches!(accepted, chat::Accepted::New(_)));
    let before = app.metrics().await;

    // Act: nothing but waiting.
    let status = eventually(Duration::from_secs(20), || async {
        let status: String =
            sqlx::query_scalar("select status from chat_requests where request_id = $1")
                .bind(request_id)
                .fetch_one(&app.db)
                .await
                .ok()?;
        (status == "done").then_some(status)
    })
    .await;

    // Assert
    assert_eq!(
        status.as_deref(),
        Some("done"),
        "the lost request was answered"
    );
    assert_eq!(
        app.count("select count(*) from tasks where user_id = $1", &user)
            .await,
        1
    );
    let after = app.metrics().await;
    assert!(
        metric(&after, "todo_reconciler_republished_total", &[])
            > metric(&before, "todo_reconciler_republished_total", &[])
    );
    app.shutdown().await;
}

#[tokio::test]
async fn messages_the_workers_give_up_on_leave_a_dead_letter() {
    // Arrange
    let app = TestApp::spawn().await;
    let user = app.user().await;
    let before = app.metrics().await;
    let unknown_user = Uuid::new_v4();

    // Act: a message that is not JSON, and a request of a user that does not exist.
    let js = async_nats::jetstream::new(app.nats.clone());
    js.publish(app.config.nats.request_subject(), "{not json".into())
        .await
        .expect("publish")
        .await
        .expect("ack");
    app.publish_request(&json!({
        "v": 1, "request_id": Uuid::new_v4(), "user_id": unknown_user, "message": "add a task to x"
    }))
    .await;

    // Assert
    let letters: Vec<(Option<Uuid>, String, String)> =
        eventually(Duration::from_secs(15), || async {
            let rows: Vec<(Option<Uuid>, String, String)> =
                sqlx::query_as("select user_id, reason, payload from dead_letters order by id")
                    .fetch_all(&app.db)
                    .await
                    .ok()?;
            (rows.len() == 2).then_some(rows)
        })
        .await
        .expect("two dead letters");
    assert_eq!(letters[0].1, "malformed");
    assert_eq!(letters[0].2, "{not json");
    assert_eq!(letters[1].0, Some(unknown_user));
    assert_eq!(letters[1].1, "not_found");
    let after = app.metrics().await;
    assert!(
        metric(
            &after,
            "todo_dead_letters_total",
            &[("reason", "malformed")]
        ) > metric(
            &before,
            "todo_dead_letters_total",
            &[("reason", "malformed")]
        )
    );
    // The queue keeps serving.
    let (status, _) = app.chat(&user, "add a task to buy milk", None).await;
    assert_eq!(status, StatusCode::OK);
    app.shutdown().await;
}

#[tokio::test]
async fn a_stopping_worker_hands_back_a_turn_it_cannot_finish_in_time() {
    // Arrange: the model hangs on the first call; the worker may drain for 1 s.
    let (fake, fake_url) = FakeOpenAi::start().await;
    fake.push([Reply::Hang, Reply::text("Done, after all.")]);
    let mut options = TestOptions {
        drain_timeout: Duration::from_secs(1),
        ack_wait: Duration::from_secs(30),
        reconcile_after: Duration::from_secs(60),
        ..TestOptions::openai(&fake_url)
    };
    if let AgentConfig::OpenAi(c) = &mut options.agent {
        c.timeout = Duration::from_secs(60); // only the drain may end the hanging call
    }
    let mut app = TestApp::spawn_with(options).await;
    let user = app.user().await;
    let mut ws = app.ws(&user).await;
    ws.chat("hello", None, None).await;
    let accepted = ws
        .next_json(Duration::from_secs(10))
        .await
        .expect("accepted");
    let request_id: Uuid = accepted["request_id"]
        .as_str()
        .expect("id")
        .parse()
        .expect("uuid");
    eventually(Duration::from_secs(10), || async {
        (fake.requests().len() == 1).then_some(())
    })
    .await
    .expect("the model was called");

    // Act: SIGTERM-like stop, then a fresh worker.
    let started = Instant::now();
    app.stop_worker(0).await.expect("worker exits cleanly");
    let stop_took = started.elapsed();
    let status: String =
        sqlx::query_scalar("select status from chat_requests where request_id = $1")
            .bind(request_id)
            .fetch_one(&app.db)
            .await
            .expect("status");
    app.start_worker().await;
    let frames = ws.until_final(Duration::from_secs(20)).await;

    // Assert: handed back at the deadline (not after the 30 s ack wait), then answered once.
    assert!(
        stop_took < Duration::from_secs(5),
        "stopped in {stop_took:?}"
    );
    assert_eq!(status, "queued", "the unfinished turn was handed back");
    let done = final_frame(&frames);
    assert_eq!(done["type"], "done", "{frames:?}");
    assert_eq!(done["response"], "Done, after all.");
    assert_eq!(frames.iter().filter(|f| f["type"] == "done").count(), 1);
    app.shutdown().await;
}

#[tokio::test]
async fn a_turn_that_fails_every_delivery_ends_in_an_error_and_a_dead_letter() {
    // Arrange: two deliveries, and a database that refuses every tool effect (its table is gone),
    // so each attempt fails with a retryable database error.
    let app = TestApp::spawn_with(TestOptions {
        max_deliver: 2,
        ..TestOptions::default()
    })
    .await;
    let user = app.user().await;
    sqlx::query("alter table tool_effects rename to tool_effects_unavailable")
        .execute(&app.db)
        .await
        .expect("rename");
    let mut ws = app.ws(&user).await;

    // Act
    let frames = ws.ask("add a task to buy milk", None).await;

    // Assert: the user hears an error (not silence), nothing was half-done, operators see why.
    let last = final_frame(&frames);
    assert_eq!(last["type"], "error", "{frames:?}");
    assert_eq!(last["code"], "internal_error");
    let request_id: Uuid = frames[0]["request_id"]
        .as_str()
        .expect("id")
        .parse()
        .expect("uuid");
    assert_eq!(
        app.count("select count(*) from tasks where user_id = $1", &user)
            .await,
        0,
        "the failed attempts left no task behind"
    );
    let (status, attempts): (String, i32) =
        sqlx::query_as("select status, attempts from chat_requests where request_id = $1")
            .bind(request_id)
            .fetch_one(&app.db)
            .await
            .expect("request row");
    assert_eq!((status.as_str(), attempts), ("failed", 2));
    let letter = eventually(Duration::from_secs(10), || async {
        sqlx::query_as::<_, (String, String, i64)>(
            "select reason, cause, deliveries from dead_letters where request_id = $1",
        )
        .bind(request_id)
        .fetch_optional(&app.db)
        .await
        .ok()
        .flatten()
    })
    .await
    .expect("a dead letter");
    assert_eq!(letter.0, "retries_exhausted");
    assert!(
        letter.1.contains("tool_effects"),
        "cause names the failure: {}",
        letter.1
    );
    assert_eq!(letter.2, 2);
    app.shutdown().await;
}

#[tokio::test]
async fn a_request_past_its_time_budget_is_answered_408_in_the_error_shape() {
    // Arrange: a 1 s budget, and the user's row locked so that an update of it waits.
    let app = TestApp::spawn_with(TestOptions {
        workers: 0,
        request_timeout: Duration::from_secs(1),
        ..TestOptions::default()
    })
    .await;
    let user = app.user().await;
    let mut lock = sqlx::PgConnection::connect_with(&app.config.database.connect_options)
        .await
        .expect("connect");
    sqlx::query("begin")
        .execute(&mut lock)
        .await
        .expect("begin");
    sqlx::query("select 1 from users where id = $1 for update")
        .bind(user.id)
        .execute(&mut lock)
        .await
        .expect("lock");

    // Act
    let started = std::time::Instant::now();
    let res = app
        .authed(&user, reqwest::Method::PATCH, "/api/auth/me")
        .json(&json!({"name": "Slow"}))
        .send()
        .await
        .expect("patch");

    // Assert
    assert_eq!(res.status(), StatusCode::REQUEST_TIMEOUT);
    assert!(started.elapsed() < Duration::from_secs(5));
    let body: Value = res.json().await.expect("json");
    assert_eq!(body["error"]["code"], "request_timeout");
    sqlx::query("rollback")
        .execute(&mut lock)
        .await
        .expect("unlock");
    app.shutdown().await;
}
