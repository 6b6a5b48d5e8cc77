//! Log correlation: every log line of a chat turn, on the api and on the worker, carries the
//! same `request_id`, `user_id` and `conversation_id` (in the production JSON format).
//! A test binary of its own, because it installs the process-wide log subscriber.

use std::time::Duration;

use serde_json::Value;
use todo_tests::TestApp;
use todo_tests::terminal::Captured;
use todo_tests::ws::final_frame;
use tracing_subscriber::layer::SubscriberExt;
use tracing_subscriber::util::SubscriberInitExt;

/// The JSON log lines written so far.
fn lines(captured: &Captured) -> Vec<Value> {
    captured
        .text()
        .lines()
        .filter_map(|l| serde_json::from_str(l).ok())
        .collect()
}

fn field(line: &Value, name: &str) -> String {
    match &line["span"][name] {
        Value::String(s) => s.clone(),
        Value::Null => String::new(),
        other => other.to_string(),
    }
}

#[tokio::test]
async fn every_log_line_of_a_turn_carries_its_request_user_and_conversation() {
    // Arrange: production JSON logs, captured.
    let captured = Captured::default();
    tracing_subscriber::registry()
        .with(tracing_subscriber::EnvFilter::new("info"))
        .with(todo_common::telemetry::json_layer(captured.clone()))
        .init();
    let app = TestApp::spawn().await;
    let user = app.user().await;

    // Act: one turn over the WebSocket, one over HTTP.
    let mut ws = app.ws(&user).await;
    let frames = ws.ask("add a task to buy milk", None).await;
    let (status, body) = app.chat(&user, "what's pending?", None).await;
    tokio::time::sleep(Duration::from_millis(200)).await; // let the last lines be written
    let lines = lines(&captured);

    // Assert
    assert_eq!(final_frame(&frames)["type"], "done");
    assert_eq!(status, 200, "{body}");
    let ws_request = frames[0]["request_id"].as_str().expect("request id");
    let ws_conversation = frames[0]["conversation_id"].to_string();
    let http_conversation = body["conversation_id"].to_string();
    let mut turns = 0;
    for (request, conversation) in [
        (ws_request.to_owned(), ws_conversation),
        (String::new(), http_conversation),
    ] {
        let of_turn: Vec<&Value> = lines
            .iter()
            .filter(|l| {
                let id = field(l, "request_id");
                !id.is_empty()
                    && (id == request
                        || (request.is_empty() && field(l, "conversation_id") == conversation))
            })
            .collect();
        let from = |prefix: &str| {
            of_turn
                .iter()
                .filter(|l| l["target"].as_str().is_some_and(|t| t.starts_with(prefix)))
                .count()
        };
        assert!(from("todo_api") >= 1, "api lines of the turn: {of_turn:#?}");
        assert!(
            from("todo_worker") >= 1,
            "worker lines of the turn: {of_turn:#?}"
        );
        let id = field(of_turn[0], "request_id");
        for line in &of_turn {
            assert_eq!(field(line, "request_id"), id, "{line}");
            assert_eq!(field(line, "user_id"), user.id.to_string(), "{line}");
            assert_eq!(field(line, "conversation_id"), conversation, "{line}");
        }
        turns += 1;
    }
    assert_eq!(turns, 2);
    // Nothing secret is logged.
    let all = serde_json::to_string(&lines).expect("json");
    assert!(!all.contains(&user.password) && !all.contains(&user.token));
    app.shutdown().await;
}
