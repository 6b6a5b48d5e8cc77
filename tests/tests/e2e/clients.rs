//! What chat clients rely on beyond a single reply: stopping a reply (on whichever worker runs it,
//! or before any does), task changes pushed live to every socket of the user on every api
//! instance, and managing conversations.

use std::time::Duration;

use futures::future::join_all;

use reqwest::{Method, StatusCode};
use serde_json::{Value, json};
use todo_common::protocol::ServerFrame;
use todo_tests::fake_openai::{FakeOpenAi, Reply};
use todo_tests::ws::WsClient;
use todo_tests::{TestApp, TestOptions, TestUser, eventually};
use uuid::Uuid;

const T: Duration = Duration::from_secs(10);

/// A reply of 60 words, one every 100 ms: six seconds to stream.
fn long_reply() -> String {
    (1..=60).map(|i| format!("word{i} ")).collect()
}

async fn slow_app(workers: usize) -> (TestApp, FakeOpenAi) {
    let (fake, url) = FakeOpenAi::start().await;
    let mut options = TestOptions::openai(&url);
    options.workers = workers;
    (TestApp::spawn_with(options).await, fake)
}

/// Sends a chat message and returns its request id once `accepted`.
async fn send(ws: &mut WsClient, message: &str) -> (Uuid, i64) {
    ws.chat(message, None, None).await;
    match ws.next_frame(T).await {
        Some(ServerFrame::Accepted {
            request_id,
            conversation_id,
            ..
        }) => (request_id, conversation_id),
        other => panic!("expected accepted, got {other:?}"),
    }
}

/// Reads frames until `n` deltas of the request have arrived.
async fn wait_for_deltas(ws: &mut WsClient, n: usize) -> String {
    let mut text = String::new();
    let mut seen = 0;
    while seen < n {
        match ws.next_frame(T).await {
            Some(ServerFrame::Delta { text: t, .. }) => {
                text.push_str(&t);
                seen += 1;
            }
            Some(ServerFrame::Tool { .. }) => {}
            other => panic!("expected deltas, got {other:?}"),
        }
    }
    text
}

/// Frames until the request's terminal frame, which is returned.
async fn terminal(ws: &mut WsClient) -> ServerFrame {
    loop {
        let frame = ws.next_frame(T).await.expect("a frame before the timeout");
        if frame.is_terminal() {
            return frame;
        }
    }
}

async fn cancel_over_rest(app: &TestApp, user: &TestUser, request_id: Uuid) -> (StatusCode, Value) {
    let res = app
        .authed(
            user,
            Method::POST,
            &format!("/api/{}/chat/{request_id}/cancel", user.id),
        )
        .send()
        .await
        .expect("cancel request");
    let status = res.status();
    (status, res.json().await.unwrap_or(Value::Null))
}

#[tokio::test]
async fn stopping_a_streaming_reply_ends_it_within_a_second_and_keeps_the_partial_reply() {
    // Arrange: two workers, a model that streams slowly.
    let (app, fake) = slow_app(2).await;
    let user = app.user().await;
    fake.push([Reply::slow_text(&long_reply(), Duration::from_millis(100))]);
    let mut ws = app.ws(&user).await;
    let (request_id, conversation_id) = send(&mut ws, "tell me a long story").await;
    let shown = wait_for_deltas(&mut ws, 3).await;

    // Act: stop it.
    let asked = tokio::time::Instant::now();
    ws.cancel(request_id).await;

    // Assert: acknowledged, then the terminal `cancelled` event within a second.
    let mut acknowledged = false;
    let cancelled = loop {
        match ws.next_frame(T).await.expect("frame") {
            ServerFrame::CancelRequested { request_id: id, .. } => {
                assert_eq!(id, request_id);
                acknowledged = true;
            }
            ServerFrame::Delta { .. } => {}
            frame if frame.is_terminal() => break frame,
            other => panic!("unexpected {other:?}"),
        }
    };
    let took = asked.elapsed();
    assert!(
        acknowledged,
        "ended without an acknowledgement: {cancelled:?}"
    );
    assert!(took < Duration::from_millis(1500), "stopped after {took:?}");
    let ServerFrame::Cancelled {
        request_id: id,
        conversation_id: conv,
        response,
        tool_calls,
    } = cancelled
    else {
        panic!("expected cancelled, got {cancelled:?}");
    };
    assert_eq!((id, conv), (request_id, conversation_id));
    assert!(tool_calls.is_empty());
    assert!(response.starts_with(&shown), "{response:?} vs {shown:?}");
    assert!(
        response.len() < long_reply().len(),
        "the reply was cut short"
    );
    // The worker stopped reading the model: it closed the stream before its end.
    assert!(
        eventually(Duration::from_secs(2), || async {
            (fake.abandoned_streams() == 1).then_some(())
        })
        .await
        .is_some(),
        "the model stream was not abandoned"
    );

    // The conversation keeps the message and the partial reply, marked stopped.
    let (_, _, messages) = app
        .get_json(&user, &format!("/conversations/{conversation_id}/messages"))
        .await;
    let messages = messages.as_array().expect("messages");
    assert_eq!(messages.len(), 2);
    assert_eq!(messages[0]["content"], "tell me a long story");
    assert_eq!(messages[0]["stopped"], false);
    assert_eq!(messages[1]["content"], json!(response));
    assert_eq!(messages[1]["stopped"], true);

    // Resuming it replays the stored `cancelled`; stopping it again is a clear error.
    ws.send(&todo_common::protocol::ClientFrame::Resume {
        request_id,
        client_msg_id: None,
    })
    .await;
    assert!(matches!(
        ws.next_frame(T).await,
        Some(ServerFrame::Resumed {
            status: todo_common::chat::TurnStatus::Cancelled,
            ..
        })
    ));
    assert!(matches!(
        terminal(&mut ws).await,
        ServerFrame::Cancelled { .. }
    ));
    ws.cancel(request_id).await;
    match ws.next_frame(T).await {
        Some(ServerFrame::Error { code, .. }) => assert_eq!(code, "request_finished"),
        other => panic!("expected an error, got {other:?}"),
    }
    let (status, body) = cancel_over_rest(&app, &user, request_id).await;
    assert_eq!(status, StatusCode::CONFLICT);
    assert_eq!(body["error"]["code"], "request_finished");
    app.shutdown().await;
}

#[tokio::test]
async fn a_stop_from_another_tab_keeps_the_tools_already_applied_and_lists_them() {
    let (app, fake) = slow_app(2).await;
    let user = app.user().await;
    fake.push([
        Reply::tool("add_task", &json!({"title": "Buy milk"})),
        Reply::slow_text(&long_reply(), Duration::from_millis(100)),
    ]);
    let mut tab1 = app.ws(&user).await;
    let mut tab2 = app.ws(&user).await;
    let (request_id, _) = send(&mut tab1, "add buy milk and tell me a story").await;
    wait_for_deltas(&mut tab1, 2).await;

    // Act: the other tab stops it over REST.
    let (status, body) = cancel_over_rest(&app, &user, request_id).await;

    assert_eq!(status, StatusCode::ACCEPTED, "{body}");
    assert_eq!(body["status"], "cancelling");
    let ServerFrame::Cancelled { tool_calls, .. } = terminal(&mut tab1).await else {
        panic!("expected cancelled");
    };
    assert_eq!(tool_calls.len(), 1);
    assert_eq!(tool_calls[0].tool, "add_task");
    let tasks = app.list_tasks(&user, "all").await;
    assert_eq!(tasks.len(), 1, "the applied tool stays applied");
    assert_eq!(tasks[0]["title"], "Buy milk");
    // The model was not asked again after the stop.
    assert_eq!(fake.requests().len(), 2);
    // ...and the other tab saw the task arrive.
    let Some(ServerFrame::TasksChanged { tasks, .. }) = tab2.next_tasks_changed(T).await else {
        panic!("tab 2 saw no change");
    };
    assert_eq!(tasks[0].title, "Buy milk");
    app.shutdown().await;
}

#[tokio::test]
async fn a_turn_stopped_while_queued_never_runs() {
    // Arrange: no worker yet, so the turn waits in the queue.
    let options = TestOptions {
        workers: 0,
        ..TestOptions::default()
    };
    let mut app = TestApp::spawn_with(options).await;
    let user = app.user().await;
    let mut ws = app.ws(&user).await;
    let (request_id, conversation_id) = send(&mut ws, "add a task to water the plants").await;

    // Act
    let (status, body) = cancel_over_rest(&app, &user, request_id).await;

    // Assert: ended at once, and a worker that starts later does not run it.
    assert_eq!(status, StatusCode::ACCEPTED, "{body}");
    assert_eq!(body["status"], "cancelled");
    let ServerFrame::Cancelled {
        response,
        tool_calls,
        ..
    } = terminal(&mut ws).await
    else {
        panic!("expected cancelled");
    };
    assert!(response.is_empty() && tool_calls.is_empty());
    app.start_worker().await;
    ws.chat("what's pending?", Some(conversation_id), None)
        .await;
    let frames = ws.until_final(T).await;
    assert_eq!(frames.last().expect("frames")["type"], "done", "{frames:?}");
    assert!(
        app.list_tasks(&user, "all").await.is_empty(),
        "the stopped turn ran"
    );
    let stored: String =
        sqlx::query_scalar("select status from chat_requests where request_id = $1")
            .bind(request_id)
            .fetch_one(&app.db)
            .await
            .expect("status");
    assert_eq!(stored, "cancelled");
    app.shutdown().await;
}

#[tokio::test]
async fn nobody_can_stop_somebody_elses_reply_or_an_unknown_one() {
    let (app, fake) = slow_app(1).await;
    let owner = app.user().await;
    let intruder = app.user().await;
    fake.push([Reply::slow_text(&long_reply(), Duration::from_millis(50))]);
    let mut ws = app.ws(&owner).await;
    let (request_id, _) = send(&mut ws, "tell me a story").await;

    let (status, body) = cancel_over_rest(&app, &intruder, request_id).await;
    assert_eq!(status, StatusCode::NOT_FOUND, "{body}");
    let (status, _) = cancel_over_rest(&app, &owner, Uuid::new_v4()).await;
    assert_eq!(status, StatusCode::NOT_FOUND);
    let res = app
        .authed(
            &owner,
            Method::POST,
            &format!("/api/{}/chat/not-a-uuid/cancel", owner.id),
        )
        .send()
        .await
        .expect("request");
    assert_eq!(res.status(), StatusCode::NOT_FOUND);
    let mut intruder_ws = app.ws(&intruder).await;
    intruder_ws.cancel(request_id).await;
    match intruder_ws.next_frame(T).await {
        Some(ServerFrame::Error { code, .. }) => assert_eq!(code, "not_found"),
        other => panic!("expected an error, got {other:?}"),
    }

    // The owner's reply was not stopped by any of that.
    assert!(matches!(terminal(&mut ws).await, ServerFrame::Done { .. }));
    app.shutdown().await;
}

#[tokio::test]
async fn a_dropped_socket_does_not_stop_its_reply() {
    let (app, fake) = slow_app(1).await;
    let user = app.user().await;
    fake.push([Reply::slow_text(
        "one two three four five six",
        Duration::from_millis(100),
    )]);
    let mut ws = app.ws(&user).await;
    let (request_id, _) = send(&mut ws, "count to six").await;
    wait_for_deltas(&mut ws, 1).await;
    ws.close().await;

    let mut again = app.ws(&user).await;
    again
        .send(&todo_common::protocol::ClientFrame::Resume {
            request_id,
            client_msg_id: None,
        })
        .await;
    let ServerFrame::Done { response, .. } = terminal(&mut again).await else {
        panic!("expected done");
    };
    assert_eq!(response, "one two three four five six");
    app.shutdown().await;
}

#[tokio::test]
async fn task_changes_reach_every_socket_of_the_user_on_every_api_instance() {
    // Arrange: the user has a socket on each of two api instances; another user has one too.
    let app = TestApp::spawn().await;
    let user = app.user().await;
    let other = app.user().await;
    let (second_base, stop_second) = app.second_api().await;
    let mut laptop = app.ws(&user).await;
    let url = format!(
        "{}/api/{}/ws",
        second_base.replace("http://", "ws://"),
        user.id
    );
    let mut phone = WsClient::connect(&url, Some(&user.token))
        .await
        .expect("socket on the second instance");
    let mut stranger = app.ws(&other).await;

    // Act 1: a REST change.
    let created = app.create_task(&user, "Pay rent").await;

    // Assert: both sockets see the task as REST shows it.
    for socket in [&mut laptop, &mut phone] {
        let Some(ServerFrame::TasksChanged { tasks, deleted }) = socket.next_tasks_changed(T).await
        else {
            panic!("no tasks_changed");
        };
        assert_eq!(tasks.len(), 1);
        assert_eq!(serde_json::to_value(&tasks[0]).expect("json"), created);
        assert!(deleted.is_empty());
    }

    // Act 2: a chat tool on the laptop changes a task; the phone sees it.
    let frames = laptop.ask("mark task 1 as done", None).await;
    assert_eq!(frames.last().expect("frames")["type"], "done", "{frames:?}");
    let Some(ServerFrame::TasksChanged { tasks, .. }) = phone.next_tasks_changed(T).await else {
        panic!("no tasks_changed for the chat change");
    };
    assert!(tasks[0].completed);

    // Act 3: a REST delete.
    let res = app
        .authed(&user, Method::DELETE, &format!("/api/{}/tasks/1", user.id))
        .send()
        .await
        .expect("delete");
    assert_eq!(res.status(), StatusCode::NO_CONTENT);
    loop {
        match phone.next_tasks_changed(T).await {
            Some(ServerFrame::TasksChanged { deleted, .. }) if deleted == vec![1] => break,
            Some(_) => {} // the earlier chat change, also sent to this socket
            None => panic!("no deletion seen"),
        }
    }

    // Nobody else heard of any of it.
    assert!(
        stranger
            .next_tasks_changed(Duration::from_millis(500))
            .await
            .is_none()
    );
    stop_second.cancel();
    app.shutdown().await;
}

#[tokio::test]
async fn a_burst_of_changes_by_many_users_reaches_each_users_sockets_only() {
    // Arrange: eight users, each with a socket.
    let app = TestApp::spawn().await;
    let mut users = Vec::new();
    let mut sockets = Vec::new();
    for _ in 0..8 {
        let user = app.user().await;
        sockets.push(app.ws(&user).await);
        users.push(user);
    }

    // Act: every user creates five tasks, all at once (their notices arrive together, and the
    // api loads the tasks of notices that wait together in one statement).
    join_all(users.iter().enumerate().flat_map(|(i, user)| {
        let app = &app;
        (1..=5)
            .map(move |k| async move { app.create_task(user, &format!("user {i} task {k}")).await })
    }))
    .await;

    // Assert: each socket hears of its own user's five tasks, one frame per change, and of
    // nothing else.
    for (i, (socket, user)) in sockets.iter_mut().zip(&users).enumerate() {
        let mut seen = std::collections::BTreeSet::new();
        while seen.len() < 5 {
            let Some(ServerFrame::TasksChanged { tasks, deleted }) =
                socket.next_tasks_changed(T).await
            else {
                panic!("user {i} heard of {seen:?} only");
            };
            assert!(deleted.is_empty(), "{deleted:?}");
            assert_eq!(tasks.len(), 1, "{tasks:?}");
            assert_eq!(tasks[0].user_id, user.id);
            assert!(
                tasks[0].title.starts_with(&format!("user {i} task ")),
                "user {i} was sent {:?}",
                tasks[0].title
            );
            assert!(seen.insert(tasks[0].id), "task {} twice", tasks[0].id);
        }
        assert!(
            socket
                .next_tasks_changed(Duration::from_millis(300))
                .await
                .is_none(),
            "user {i} was sent more frames than changes"
        );
    }
    app.shutdown().await;
}

#[tokio::test]
async fn conversations_can_be_renamed_and_deleted() {
    let app = TestApp::spawn().await;
    let user = app.user().await;
    let other = app.user().await;
    let (status, reply) = app.chat(&user, "add a task to call mom", None).await;
    assert_eq!(status, StatusCode::OK, "{reply}");
    let id = reply["conversation_id"].as_i64().expect("conversation id");
    let path = format!("/api/{}/conversations/{id}", user.id);
    let (_, _, list) = app.get_json(&user, "/conversations").await;
    assert_eq!(
        list[0]["title"], "add a task to call mom",
        "titled by the first message"
    );

    let renamed: Value = app
        .authed(&user, Method::PATCH, &path)
        .json(&json!({"title": "  Family  "}))
        .send()
        .await
        .expect("rename")
        .json()
        .await
        .expect("json");
    assert_eq!(renamed["title"], "Family");
    for (body, code) in [
        (json!({"title": "  "}), "title_required"),
        (json!({"title": "x".repeat(201)}), "title_too_long"),
    ] {
        let res = app
            .authed(&user, Method::PATCH, &path)
            .json(&body)
            .send()
            .await
            .expect("rename");
        assert_eq!(res.status(), StatusCode::UNPROCESSABLE_ENTITY);
        let body: Value = res.json().await.expect("json");
        assert_eq!(body["error"]["code"], code);
    }
    let foreign = app
        .authed(
            &other,
            Method::DELETE,
            &format!("/api/{}/conversations/{id}", other.id),
        )
        .send()
        .await
        .expect("delete");
    assert_eq!(foreign.status(), StatusCode::NOT_FOUND);

    let deleted = app
        .authed(&user, Method::DELETE, &path)
        .send()
        .await
        .expect("delete");
    assert_eq!(deleted.status(), StatusCode::NO_CONTENT);
    let (_, _, list) = app.get_json(&user, "/conversations").await;
    assert_eq!(list, json!([]));
    assert_eq!(app.list_tasks(&user, "all").await.len(), 1, "tasks stay");
    app.shutdown().await;
}

#[tokio::test]
async fn a_message_resent_after_its_conversation_was_deleted_is_answered_again() {
    // Arrange: a message with an idempotency key, answered, then its conversation deleted.
    let app = TestApp::spawn().await;
    let user = app.user().await;
    let send = || {
        app.authed(&user, Method::POST, &format!("/api/{}/chat", user.id))
            .header("idempotency-key", "key-1")
            .json(&json!({"message": "add a task to pay rent"}))
            .send()
    };
    let first: Value = send().await.expect("chat").json().await.expect("json");
    let id = first["conversation_id"].as_i64().expect("conversation");
    let deleted = app
        .authed(
            &user,
            Method::DELETE,
            &format!("/api/{}/conversations/{id}", user.id),
        )
        .send()
        .await
        .expect("delete");
    assert_eq!(deleted.status(), StatusCode::NO_CONTENT);

    // Act: the same key again, well within JetStream's duplicate window.
    let again = tokio::time::timeout(Duration::from_secs(8), send())
        .await
        .expect("answered in time, not left for the reconciler")
        .expect("chat");

    // Assert: it is a new message in a new conversation, answered.
    assert_eq!(again.status(), StatusCode::OK);
    let body: Value = again.json().await.expect("json");
    assert_ne!(body["conversation_id"], json!(id));
    assert_eq!(app.list_tasks(&user, "all").await.len(), 2);
    app.shutdown().await;
}
