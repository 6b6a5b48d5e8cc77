use std::time::Duration;

use serde_json::{Value, json};
use todo_tests::fake_openai::{FakeOpenAi, Reply};
use todo_tests::ws::final_frame;
use todo_tests::{TestApp, TestOptions};

async fn app_with_fake() -> (TestApp, FakeOpenAi) {
    let (fake, url) = FakeOpenAi::start().await;
    (TestApp::spawn_with(TestOptions::openai(&url)).await, fake)
}

#[tokio::test]
async fn the_model_adds_a_task_through_a_streamed_tool_call() {
    let (app, fake) = app_with_fake().await;
    let user = app.user().await;
    fake.push([
        Reply::tool("add_task", &json!({"title": "Buy milk"})),
        Reply::text("I added Buy milk to your list."),
    ]);

    let mut ws = app.ws(&user).await;
    let frames = ws.ask("add a task to buy milk", None).await;
    let done = final_frame(&frames);
    assert_eq!(done["type"], "done", "{frames:?}");
    assert_eq!(done["response"], "I added Buy milk to your list.");
    assert_eq!(done["tool_calls"][0]["tool"], "add_task");
    assert_eq!(done["tool_calls"][0]["result"]["task_id"], 1);
    let deltas: String = frames
        .iter()
        .filter(|f| f["type"] == "delta")
        .map(|f| f["text"].as_str().unwrap_or(""))
        .collect();
    assert_eq!(deltas, "I added Buy milk to your list.");
    assert!(frames.iter().any(|f| f["type"] == "tool"));
    assert_eq!(app.list_tasks(&user, "all").await[0]["title"], "Buy milk");

    let requests = fake.requests();
    assert_eq!(requests.len(), 2);
    let tools: Vec<&str> = requests[0]["tools"]
        .as_array()
        .expect("tools")
        .iter()
        .filter_map(|t| t["function"]["name"].as_str())
        .collect();
    assert_eq!(tools, todo_common::tools::TOOL_NAMES);
    assert_eq!(requests[0]["stream"], true);
    let tool_message = requests[1]["messages"]
        .as_array()
        .expect("messages")
        .last()
        .expect("last")
        .clone();
    assert_eq!(tool_message["role"], "tool");
    assert!(
        tool_message["content"]
            .as_str()
            .expect("content")
            .contains("task_id")
    );
    app.shutdown().await;
}

#[tokio::test]
async fn several_tool_rounds_and_user_ids_from_the_model_are_ignored() {
    let (app, fake) = app_with_fake().await;
    let user = app.user().await;
    let victim = app.user().await;
    app.create_task(&victim, "Victim task").await;
    app.create_task(&user, "Call mom").await;
    fake.push([
        Reply::tool("list_tasks", &json!({"status": "pending"})),
        Reply::tool(
            "complete_task",
            &json!({"task_id": 1, "user_id": victim.id}),
        ),
        Reply::text("Done: Call mom is complete."),
    ]);
    let (status, body) = app.chat(&user, "I called mom", None).await;
    assert_eq!(status, reqwest::StatusCode::OK, "{body}");
    let tools: Vec<&str> = body["tool_calls"]
        .as_array()
        .expect("calls")
        .iter()
        .map(|c| c["tool"].as_str().unwrap_or(""))
        .collect();
    assert_eq!(tools, ["list_tasks", "complete_task"]);
    assert_eq!(app.list_tasks(&user, "completed").await.len(), 1);
    assert_eq!(
        app.list_tasks(&victim, "completed").await.len(),
        0,
        "the model cannot pick the user"
    );
    app.shutdown().await;
}

#[tokio::test]
async fn rate_limits_are_retried_then_succeed() {
    let (app, fake) = app_with_fake().await;
    let user = app.user().await;
    fake.push([
        Reply::Status(429),
        Reply::Status(503),
        Reply::text("Hello again!"),
    ]);
    let (status, body) = app.chat(&user, "hello", None).await;
    assert_eq!(status, reqwest::StatusCode::OK, "{body}");
    assert_eq!(body["response"], "Hello again!");
    assert_eq!(fake.requests().len(), 3);
    app.shutdown().await;
}

#[tokio::test]
async fn a_provider_that_keeps_failing_gives_a_friendly_error_and_keeps_the_message() {
    let (app, fake) = app_with_fake().await;
    let user = app.user().await;
    fake.push([
        Reply::Status(500),
        Reply::Status(500),
        Reply::Status(500),
        Reply::Status(500),
    ]);
    let mut ws = app.ws(&user).await;
    let frames = ws.ask("add a task to something", None).await;
    let last = final_frame(&frames);
    assert_eq!(last["type"], "error", "{frames:?}");
    assert_eq!(last["code"], "agent_unavailable");
    let message = last["message"].as_str().expect("message");
    assert!(
        !message.contains("500") && !message.to_lowercase().contains("http"),
        "no raw error: {message}"
    );
    // One retry budget (OPENAI_MAX_RETRIES = 2 in tests): three HTTP attempts in all, not
    // retries stacked on retries.
    assert_eq!(fake.requests().len(), 3);
    assert_eq!(
        app.count(
            "select count(*) from messages where user_id = $1 and role = 'user'",
            &user
        )
        .await,
        1
    );
    assert_eq!(fake.requests().len(), 3, "one call and two retries");
    app.shutdown().await;
}

#[tokio::test]
async fn a_hanging_provider_times_out_into_an_error() {
    let (app, fake) = app_with_fake().await;
    let user = app.user().await;
    fake.push([Reply::Hang, Reply::Hang, Reply::Hang]);
    let mut ws = app.ws(&user).await;
    ws.chat("hello?", None, None).await;
    let frames = ws.until_final(Duration::from_secs(30)).await;
    assert_eq!(
        final_frame(&frames)["code"],
        "agent_unavailable",
        "{frames:?}"
    );
    app.shutdown().await;
}

#[tokio::test]
async fn malformed_tool_arguments_are_a_recoverable_tool_error() {
    let (app, fake) = app_with_fake().await;
    let user = app.user().await;
    fake.push([
        Reply::ToolCalls(vec![(
            "add_task".into(),
            vec!["{\"title\": ".into(), "oops".into()],
        )]),
        Reply::tool("add_task", &json!({"title": ""})),
        Reply::text("Sorry, what should the task be called?"),
    ]);
    let (status, body) = app.chat(&user, "add something", None).await;
    assert_eq!(status, reqwest::StatusCode::OK, "{body}");
    // Both calls are reported, each with the error the model was shown.
    assert_eq!(
        body["tool_calls"][0]["result"]["error"]["code"],
        "INVALID_ARGUMENTS"
    );
    assert_eq!(
        body["tool_calls"][1]["result"]["error"]["code"],
        "VALIDATION_ERROR"
    );
    let second: Value = fake.requests()[1].clone();
    let tool_msg = second["messages"]
        .as_array()
        .expect("messages")
        .last()
        .expect("last")
        .clone();
    assert!(
        tool_msg["content"]
            .as_str()
            .expect("content")
            .contains("INVALID_ARGUMENTS")
    );
    assert!(app.list_tasks(&user, "all").await.is_empty());
    app.shutdown().await;
}

#[tokio::test]
async fn a_worker_killed_after_a_tool_ran_does_not_repeat_the_effect() {
    let (fake, url) = FakeOpenAi::start().await;
    let mut app = TestApp::spawn_with(TestOptions {
        ack_wait: Duration::from_secs(2),
        ..TestOptions::openai(&url)
    })
    .await;
    let user = app.user().await;
    // First attempt: the tool runs, then the model hangs and the worker dies.
    fake.push([
        Reply::tool("add_task", &json!({"title": "Only once"})),
        Reply::Hang,
    ]);
    let mut ws = app.ws(&user).await;
    ws.chat("add a task: only once", None, None).await;

    let started = todo_tests::eventually(Duration::from_secs(10), || async {
        (app.count("select count(*) from tasks where user_id = $1", &user)
            .await
            == 1)
            .then_some(())
    })
    .await;
    assert!(started.is_some(), "the tool ran");
    tokio::time::sleep(Duration::from_millis(300)).await;
    app.kill_worker(0);

    // Second attempt on a new worker: it continues from its journal, so the model is only
    // asked for what comes after the recorded call.
    fake.push([Reply::text("Added it.")]);
    app.start_worker().await;
    let frames = ws.until_final(Duration::from_secs(30)).await;
    let types: Vec<&str> = frames
        .iter()
        .map(|f| f["type"].as_str().unwrap_or(""))
        .collect();
    assert_eq!(frames.last().expect("final")["type"], "done", "{types:?}");
    assert!(
        types.contains(&"reset"),
        "the client is told to discard the first attempt: {types:?}"
    );
    assert_eq!(types.iter().filter(|t| **t == "done").count(), 1);
    assert_eq!(
        app.count("select count(*) from tasks where user_id = $1", &user)
            .await,
        1,
        "no duplicate task"
    );
    assert_eq!(
        app.count("select count(*) from messages where user_id = $1", &user)
            .await,
        2,
        "turn stored once"
    );
    app.shutdown().await;
}

/// Waits out the end of a minute: a worker opens no early model call in a minute's last second
/// (the prompt's time may turn before the turn starts).
async fn away_from_a_minutes_end() {
    use chrono::Timelike;
    let second = chrono::Utc::now().second();
    if second >= 58 {
        tokio::time::sleep(Duration::from_millis(u64::from(61 - second) * 1000)).await;
    }
}

/// The `content` of each message of a model request, as `role: content` lines.
fn transcript(request: &Value) -> Vec<String> {
    request["messages"]
        .as_array()
        .expect("messages")
        .iter()
        .filter(|m| m["role"] != "system")
        .map(|m| {
            format!(
                "{}: {}",
                m["role"].as_str().unwrap_or(""),
                m["content"].as_str().unwrap_or("")
            )
        })
        .collect()
}

#[tokio::test]
async fn the_next_turns_model_call_opens_before_the_turn_has_read_its_conversation() {
    // Arrange: a first turn, answered by this worker.
    let (app, fake) = app_with_fake().await;
    let user = app.user().await;
    fake.push([Reply::text("Hi there."), Reply::text("Your list is empty.")]);
    let (status, first) = app.chat(&user, "hello", None).await;
    assert_eq!(status, reqwest::StatusCode::OK, "{first}");
    let conversation = first["conversation_id"].as_i64();

    // Act: the next turn, while nothing can store a message (the turn cannot start).
    away_from_a_minutes_end().await;
    let mut tx = app.db.begin().await.expect("begin");
    sqlx::query("lock table messages in exclusive mode")
        .execute(&mut *tx)
        .await
        .expect("lock");
    let opened_early = async {
        let early = todo_tests::eventually(Duration::from_secs(10), || async {
            (fake.requests().len() == 2).then_some(())
        })
        .await
        .is_some();
        tx.rollback().await.expect("unlock");
        early
    };
    let ((status, second), opened_early) = tokio::join!(
        app.chat(&user, "what is on my list?", conversation),
        opened_early
    );

    // Assert: the model was asked once for the turn, before the turn started, with the whole
    // conversation; the reply is that call's.
    assert!(
        opened_early,
        "the model call opened while the turn waited to start"
    );
    assert_eq!(status, reqwest::StatusCode::OK, "{second}");
    assert_eq!(second["response"], "Your list is empty.");
    let requests = fake.requests();
    assert_eq!(requests.len(), 2, "one model call per turn");
    assert_eq!(
        transcript(&requests[1]),
        [
            "user: hello",
            "assistant: Hi there.",
            "user: what is on my list?"
        ]
    );
    app.shutdown().await;
}

#[tokio::test]
async fn an_early_model_call_that_differs_from_the_stored_conversation_is_dropped() {
    // Arrange: a first turn, then its reply changed behind the worker's back.
    let (app, fake) = app_with_fake().await;
    let user = app.user().await;
    fake.push([Reply::text("Hi there.")]);
    let (_, first) = app.chat(&user, "hello", None).await;
    let conversation = first["conversation_id"].as_i64().expect("conversation");
    sqlx::query("update messages set content = 'Edited elsewhere.' where conversation_id = $1 and role = 'assistant'")
        .bind(conversation)
        .execute(&app.db)
        .await
        .expect("edit");
    fake.respond_with(|request| {
        let said = transcript(request)
            .into_iter()
            .rfind(|line| line.starts_with("assistant: "))
            .unwrap_or_default();
        Reply::text(&format!("Before, {said}"))
    });

    // Act
    away_from_a_minutes_end().await;
    let (status, second) = app.chat(&user, "and now?", Some(conversation)).await;

    // Assert: the turn answered from what Postgres holds; the early call made from what the
    // worker remembered was made and dropped.
    assert_eq!(status, reqwest::StatusCode::OK, "{second}");
    assert_eq!(second["response"], "Before, assistant: Edited elsewhere.");
    let mut seconds: Vec<Vec<String>> = fake.requests()[1..].iter().map(transcript).collect();
    seconds.sort();
    assert_eq!(
        seconds,
        [
            [
                "user: hello",
                "assistant: Edited elsewhere.",
                "user: and now?"
            ],
            ["user: hello", "assistant: Hi there.", "user: and now?"]
        ]
    );
    app.shutdown().await;
}
