use std::time::Duration;

use reqwest::{Method, StatusCode};
use serde_json::{Value, json};
use todo_tests::ws::final_frame;
use todo_tests::{TestApp, WsClient};

fn types(frames: &[Value]) -> Vec<&str> {
    frames
        .iter()
        .map(|f| f["type"].as_str().unwrap_or("?"))
        .collect()
}

fn streamed_text(frames: &[Value]) -> String {
    frames
        .iter()
        .filter(|f| f["type"] == "delta")
        .map(|f| f["text"].as_str().unwrap_or(""))
        .collect()
}

#[tokio::test]
async fn websocket_user_stories_with_the_builtin_agent() {
    let app = TestApp::spawn().await;
    let user = app.user().await;
    let mut ws = app.ws(&user).await;

    // Story 1: add a task. Frames: accepted, deltas, tool, done, all with the request id.
    let frames = ws.ask("add a task to buy milk", None).await;
    let t = types(&frames);
    assert_eq!(t[0], "accepted");
    assert_eq!(*t.last().expect("final"), "done");
    assert!(t.contains(&"delta") && t.contains(&"tool"), "{t:?}");
    let request_id = frames[0]["request_id"].clone();
    assert!(frames.iter().all(|f| f["request_id"] == request_id));
    let done = final_frame(&frames);
    let conversation = done["conversation_id"].as_i64().expect("conversation id");
    assert_eq!(frames[0]["conversation_id"], conversation);
    assert_eq!(
        streamed_text(&frames),
        done["response"].as_str().expect("response"),
        "deltas add up to the reply"
    );
    assert_eq!(done["tool_calls"][0]["tool"], "add_task");
    assert_eq!(done["tool_calls"][0]["result"]["task_id"], 1);
    assert!(
        done["response"]
            .as_str()
            .expect("text")
            .contains("Buy milk")
    );

    // Story 2: list (the date is read out of the title)
    ws.ask("remind me to call mom tomorrow", Some(conversation))
        .await;
    let done = final_frame(&ws.ask("what's pending?", Some(conversation)).await).clone();
    let reply = done["response"].as_str().expect("text");
    assert!(
        reply.contains("Buy milk") && reply.contains("Call mom — due"),
        "{reply}"
    );

    // Story 3: complete by number, then by fuzzy title
    let done = final_frame(&ws.ask("mark task 1 as done", Some(conversation)).await).clone();
    assert_eq!(done["tool_calls"][0]["tool"], "complete_task");
    let done = final_frame(&ws.ask("I finished calling mom", Some(conversation)).await).clone();
    assert!(
        done["tool_calls"]
            .as_array()
            .expect("calls")
            .iter()
            .any(|c| c["tool"] == "complete_task" && c["result"]["task_id"] == 2)
    );
    assert_eq!(app.list_tasks(&user, "completed").await.len(), 2);

    // Story 4: update
    let done = final_frame(
        &ws.ask("change task 1 to 'Buy oat milk'", Some(conversation))
            .await,
    )
    .clone();
    assert_eq!(done["tool_calls"][0]["tool"], "update_task");
    let tasks = app.list_tasks(&user, "all").await;
    assert!(
        tasks
            .iter()
            .any(|t| t["id"] == 1 && t["title"] == "Buy oat milk")
    );

    // Story 5: delete by title
    let done = final_frame(&ws.ask("delete the oat milk task", Some(conversation)).await).clone();
    assert!(
        done["tool_calls"]
            .as_array()
            .expect("calls")
            .iter()
            .any(|c| c["tool"] == "delete_task")
    );
    let tasks = app.list_tasks(&user, "all").await;
    assert_eq!(tasks.len(), 1);
    assert_eq!(tasks[0]["id"], 2);

    // counting
    let done = final_frame(
        &ws.ask("how many tasks do I have?", Some(conversation))
            .await,
    )
    .clone();
    assert!(
        done["response"].as_str().expect("text").contains("1 task"),
        "{}",
        done["response"]
    );

    // The conversation can be read back in order.
    let res = app
        .authed(
            &user,
            Method::GET,
            &format!("/api/{}/conversations/{conversation}/messages", user.id),
        )
        .send()
        .await
        .expect("messages");
    let messages: Vec<Value> = res.json().await.expect("json");
    assert_eq!(messages.len(), 16);
    assert_eq!(messages[0]["role"], "user");
    assert_eq!(messages[0]["content"], "add a task to buy milk");
    assert_eq!(messages[1]["role"], "assistant");
    let conversations: Vec<Value> = app
        .authed(
            &user,
            Method::GET,
            &format!("/api/{}/conversations", user.id),
        )
        .send()
        .await
        .expect("conversations")
        .json()
        .await
        .expect("json");
    assert_eq!(conversations.len(), 1);
    ws.close().await;
    app.shutdown().await;
}

#[tokio::test]
async fn ambiguous_references_get_a_clarifying_question_that_a_number_answers() {
    let app = TestApp::spawn().await;
    let user = app.user().await;
    app.create_task(&user, "Call mom").await;
    app.create_task(&user, "Call dad").await;
    let mut ws = app.ws(&user).await;

    let frames = ws.ask("mark the call task as done", None).await;
    let done = final_frame(&frames);
    let conversation = done["conversation_id"].as_i64();
    let question = done["response"].as_str().expect("text");
    assert!(
        question.contains("Call mom") && question.contains("Call dad") && question.contains('?'),
        "{question}"
    );
    assert_eq!(
        app.list_tasks(&user, "completed").await.len(),
        0,
        "nothing done while ambiguous"
    );

    let done = final_frame(&ws.ask("2", conversation).await).clone();
    assert_eq!(
        done["tool_calls"]
            .as_array()
            .expect("calls")
            .last()
            .expect("call")["tool"],
        "complete_task"
    );
    let completed = app.list_tasks(&user, "completed").await;
    assert_eq!(completed.len(), 1);
    assert_eq!(completed[0]["title"], "Call dad");
    app.shutdown().await;
}

#[tokio::test]
async fn the_second_one_means_the_task_shown_second_in_the_last_listing() {
    // Arrange: three tasks, listed in a conversation
    let app = TestApp::spawn().await;
    let user = app.user().await;
    let titles = ["Water the plants", "Pay rent", "Book flights"];
    for title in titles {
        app.create_task(&user, title).await;
    }
    let mut ws = app.ws(&user).await;
    let listing = final_frame(&ws.ask("what's pending?", None).await).clone();
    let conversation = listing["conversation_id"].as_i64();
    let text = listing["response"].as_str().expect("text");
    let mut shown: Vec<(usize, &str)> = titles
        .iter()
        .map(|t| (text.find(t).expect("every task is listed"), *t))
        .collect();
    shown.sort();

    // Act: a place the listing does not have gets a question and changes nothing
    let reply = final_frame(&ws.ask("delete the fifth one", conversation).await).clone();
    assert!(
        reply["response"].as_str().expect("text").contains('?'),
        "{reply}"
    );
    assert_eq!(app.list_tasks(&user, "all").await.len(), 3);
    let done = final_frame(&ws.ask("delete the second one", conversation).await).clone();

    // Assert: the task shown second is gone, the others stay
    assert_eq!(
        done["tool_calls"].as_array().expect("calls")[0]["tool"],
        "delete_task",
        "{done}"
    );
    let left: Vec<String> = app
        .list_tasks(&user, "all")
        .await
        .iter()
        .map(|t| t["title"].as_str().expect("title").to_owned())
        .collect();
    assert_eq!(left.len(), 2, "{left:?}");
    assert!(!left.iter().any(|t| t == shown[1].1), "{left:?}");
    app.shutdown().await;
}

#[tokio::test]
async fn two_requests_in_one_message_are_both_carried_out_and_answered() {
    // Arrange
    let app = TestApp::spawn().await;
    let user = app.user().await;
    let first = app.create_task(&user, "Water the plants").await;
    let second = app.create_task(&user, "Pay rent").await;
    let mut ws = app.ws(&user).await;

    // Act
    let message = format!(
        "complete task {} and delete task {}",
        first["id"], second["id"]
    );
    let done = final_frame(&ws.ask(&message, None).await).clone();

    // Assert: both calls made, both effects stored, one reply about each
    let tools: Vec<&str> = done["tool_calls"]
        .as_array()
        .expect("calls")
        .iter()
        .map(|c| c["tool"].as_str().expect("tool"))
        .collect();
    assert_eq!(tools, ["complete_task", "delete_task"], "{done}");
    let left = app.list_tasks(&user, "all").await;
    assert_eq!(left.len(), 1, "{left:?}");
    assert_eq!(left[0]["title"], "Water the plants");
    assert_eq!(left[0]["completed"], true);
    let text = done["response"].as_str().expect("text");
    assert!(
        text.contains("Water the plants") && text.contains("Pay rent"),
        "{text}"
    );
    app.shutdown().await;
}

#[tokio::test]
async fn http_chat_uses_the_same_pipeline_and_shape() {
    let app = TestApp::spawn().await;
    let user = app.user().await;

    let (status, body) = app
        .chat(&user, "Add a task to water the plants", None)
        .await;
    assert_eq!(status, StatusCode::OK, "{body}");
    let conversation = body["conversation_id"].as_i64().expect("conversation");
    assert_eq!(body["tool_calls"][0]["tool"], "add_task");
    assert_eq!(body["tool_calls"][0]["result"]["task_id"], 1);
    assert_eq!(
        body["tool_calls"][0]["arguments"]["title"],
        "Water the plants"
    );

    let (status, body) = app.chat(&user, "show my tasks", Some(conversation)).await;
    assert_eq!(status, StatusCode::OK);
    assert_eq!(body["conversation_id"], conversation);
    assert!(
        body["response"]
            .as_str()
            .expect("text")
            .contains("Water the plants")
    );

    for (message, code) in [
        ("   ", "message_required"),
        (&*"x".repeat(10_001), "message_too_long"),
    ] {
        let (status, body) = app.chat(&user, message, None).await;
        assert_eq!(status, StatusCode::UNPROCESSABLE_ENTITY);
        assert_eq!(body["error"]["code"], code);
    }
    let (status, _) = app.chat(&user, &"y".repeat(10_000), None).await;
    assert_eq!(status, StatusCode::OK, "10 000 characters are allowed");

    let other = app.user().await;
    let (status, body) = app.chat(&other, "show my tasks", Some(conversation)).await;
    assert_eq!(status, StatusCode::NOT_FOUND, "someone else's conversation");
    assert_eq!(body["error"]["code"], "not_found");
    let (status, _) = app.chat(&user, "show my tasks", Some(987_654)).await;
    assert_eq!(status, StatusCode::NOT_FOUND, "unknown conversation");
    app.shutdown().await;
}

#[tokio::test]
async fn http_chat_with_an_idempotency_key_is_served_once() {
    let app = TestApp::spawn().await;
    let user = app.user().await;
    let send = || {
        app.authed(&user, Method::POST, &format!("/api/{}/chat", user.id))
            .header("idempotency-key", "retry-me-1")
            .json(&json!({"message": "add a task to renew passport"}))
            .send()
    };
    let first: Value = send().await.expect("first").json().await.expect("json");
    let second: Value = send().await.expect("second").json().await.expect("json");
    assert_eq!(first, second);
    assert_eq!(app.list_tasks(&user, "all").await.len(), 1);
    app.shutdown().await;
}

#[tokio::test]
async fn websocket_bad_frames_get_error_frames_and_the_socket_stays_usable() {
    let app = TestApp::spawn().await;
    let user = app.user().await;
    let mut ws = app.ws(&user).await;
    let t = Duration::from_secs(5);

    ws.send_raw("{not json").await;
    assert_eq!(
        ws.next_json(t).await.expect("frame")["code"],
        "malformed_json"
    );
    ws.send_json(&json!({"type": "dance"})).await;
    assert_eq!(
        ws.next_json(t).await.expect("frame")["code"],
        "unknown_type"
    );
    ws.send_json(&json!({"type": "chat", "message": "   "}))
        .await;
    assert_eq!(
        ws.next_json(t).await.expect("frame")["code"],
        "message_required"
    );
    ws.send_json(&json!({"type": "chat", "message": "x".repeat(10_001), "client_msg_id": "big"}))
        .await;
    let f = ws.next_json(t).await.expect("frame");
    assert_eq!(f["code"], "message_too_long");
    assert_eq!(f["client_msg_id"], "big");
    ws.send_raw(&"z".repeat(100_000)).await;
    assert_eq!(
        ws.next_json(t).await.expect("frame")["code"],
        "frame_too_large"
    );
    ws.send_json(&json!({"type": "chat", "message": "hi", "conversation_id": 424_242}))
        .await;
    assert_eq!(ws.next_json(t).await.expect("frame")["code"], "not_found");

    // still works
    let frames = ws.ask("add a task to feed the cat", None).await;
    assert_eq!(final_frame(&frames)["type"], "done");
    app.shutdown().await;
}

#[tokio::test]
async fn several_requests_in_flight_on_one_socket_each_get_exactly_one_done() {
    let app = TestApp::spawn().await;
    let user = app.user().await;
    let mut ws = app.ws(&user).await;
    for i in 0..5 {
        ws.chat(
            &format!("add a task to read chapter {i}"),
            None,
            Some(&format!("m{i}")),
        )
        .await;
    }
    let mut dones = std::collections::HashMap::new();
    while dones.len() < 5 {
        let f = ws.next_json(Duration::from_secs(20)).await.expect("frame");
        if f["type"] == "done" {
            *dones
                .entry(f["request_id"].as_str().expect("id").to_owned())
                .or_insert(0) += 1;
        }
    }
    assert!(dones.values().all(|n| *n == 1));
    assert_eq!(app.list_tasks(&user, "all").await.len(), 5);
    app.shutdown().await;
}

#[tokio::test]
async fn websocket_accepts_a_query_token_and_refuses_missing_or_bad_ones() {
    let app = TestApp::spawn().await;
    let user = app.user().await;
    let base = format!(
        "{}/api/{}/ws",
        app.base.replace("http://", "ws://"),
        user.id
    );
    let mut ws = WsClient::connect(&format!("{base}?token={}", user.token), None)
        .await
        .expect("query token works");
    assert_eq!(final_frame(&ws.ask("hello", None).await)["type"], "done");
    assert!(WsClient::connect(&base, None).await.is_err(), "no token");
    assert!(
        WsClient::connect(&format!("{base}?token=bogus"), None)
            .await
            .is_err(),
        "bad token"
    );
    app.shutdown().await;
}

#[tokio::test]
async fn prompts_cannot_reach_another_users_tasks() {
    let app = TestApp::spawn().await;
    let alice = app.user().await;
    let mallory = app.user().await;
    app.create_task(&alice, "Alice private task").await;

    for prompt in [
        "delete task 1",
        "mark task 1 as done",
        format!("delete all tasks of user {}", alice.id).as_str(),
        "show me alice's tasks",
        "change task 1 to 'hacked'",
    ] {
        let (status, body) = app.chat(&mallory, prompt, None).await;
        assert_eq!(status, StatusCode::OK, "{prompt}");
        assert!(
            !body["response"]
                .as_str()
                .unwrap_or("")
                .contains("Alice private task"),
            "{prompt}: {body}"
        );
    }
    let tasks = app.list_tasks(&alice, "all").await;
    assert_eq!(tasks.len(), 1);
    assert_eq!(tasks[0]["title"], "Alice private task");
    assert_eq!(tasks[0]["completed"], false);
    app.shutdown().await;
}
