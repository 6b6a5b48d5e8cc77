//! Durable agent turns: a retried turn continues from its journaled steps and never re-decides
//! them, with a model that answers differently on every call.

use std::sync::Arc;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::time::Duration;

use serde_json::{Value, json};
use sqlx::Connection;
use todo_tests::fake_openai::{FakeOpenAi, Reply};
use todo_tests::{TestApp, TestOptions, TestUser, WsClient, eventually};

async fn app_with(fake_url: &str) -> TestApp {
    TestApp::spawn_with(TestOptions {
        ack_wait: Duration::from_secs(2),
        ..TestOptions::openai(fake_url)
    })
    .await
}

fn has_tool_result(request: &Value) -> bool {
    request["messages"]
        .as_array()
        .is_some_and(|m| m.iter().any(|m| m["role"] == "tool"))
}

/// A fresh word on every call: what a sampling model does to its arguments.
fn nonce() -> String {
    uuid::Uuid::new_v4().simple().to_string()[..6].to_owned()
}

async fn tasks_of(app: &TestApp, user: &TestUser) -> Vec<String> {
    app.list_tasks(user, "all")
        .await
        .iter()
        .map(|t| t["title"].as_str().unwrap_or_default().to_owned())
        .collect()
}

fn types(frames: &[Value]) -> Vec<&str> {
    frames
        .iter()
        .map(|f| f["type"].as_str().unwrap_or(""))
        .collect()
}

async fn finish(app: &mut TestApp, ws: &mut WsClient) -> Vec<Value> {
    app.kill_worker(0);
    app.start_worker().await;
    ws.until_final(Duration::from_secs(30)).await
}

#[tokio::test]
async fn a_retried_turn_continues_from_its_journal_and_never_re_decides_a_step() {
    // Arrange: a model that names the task differently on every call, and hangs the first time
    // it is asked to go on after the tool ran.
    let (fake, url) = FakeOpenAi::start().await;
    let continued = Arc::new(AtomicUsize::new(0));
    let seen = continued.clone();
    fake.respond_with(move |request| {
        if has_tool_result(request) {
            if seen.fetch_add(1, Ordering::SeqCst) == 0 {
                Reply::Hang
            } else {
                Reply::text("Added it.")
            }
        } else {
            Reply::tool(
                "add_task",
                &json!({"title": format!("Buy milk {}", nonce())}),
            )
        }
    });
    let mut app = app_with(&url).await;
    let user = app.user().await;
    let mut ws = app.ws(&user).await;

    // Act: the tool runs, the worker dies before the ack, another worker takes the turn.
    ws.chat("add buy milk", None, None).await;
    let first = eventually(Duration::from_secs(10), || async {
        let titles = tasks_of(&app, &user).await;
        (titles.len() == 1).then(|| titles[0].clone())
    })
    .await
    .expect("the tool ran");
    let frames = finish(&mut app, &mut ws).await;

    // Assert: one effect, named as the first attempt named it; the retry showed the model the
    // recorded step and its result; the reply is whole and lists the call once.
    assert_eq!(tasks_of(&app, &user).await, std::slice::from_ref(&first));
    let t = types(&frames);
    assert!(t.contains(&"reset"), "{t:?}");
    let done = frames.last().expect("final");
    assert_eq!(done["type"], "done", "{t:?}");
    assert_eq!(done["response"], "Added it.");
    assert_eq!(done["tool_calls"].as_array().map(Vec::len), Some(1));
    assert_eq!(done["tool_calls"][0]["result"]["title"], first.as_str());
    let retry = fake.requests().last().cloned().expect("a retry request");
    let messages = retry["messages"].as_array().expect("messages");
    let step = messages
        .iter()
        .find(|m| m["role"] == "assistant" && m["tool_calls"].is_array())
        .expect("the recorded step is in the retry's request");
    let args = step["tool_calls"][0]["function"]["arguments"]
        .as_str()
        .expect("arguments");
    assert!(
        args.contains(first.trim_start_matches("Buy milk ")),
        "{args}"
    );
    assert!(messages.iter().any(|m| m["role"] == "tool"));
    let asked_from_scratch = fake
        .requests()
        .iter()
        .filter(|r| !has_tool_result(r))
        .count();
    assert_eq!(asked_from_scratch, 1, "the first step was decided once");
    ws.close().await;
    app.shutdown().await;
}

#[tokio::test]
async fn a_step_journaled_before_its_tool_ran_runs_the_tool_once_on_retry() {
    // Arrange: the user's row is locked, so the tool blocks right after its step was journaled.
    let (fake, url) = FakeOpenAi::start().await;
    fake.respond_with(|request| {
        if has_tool_result(request) {
            Reply::text("Added it.")
        } else {
            Reply::tool(
                "add_task",
                &json!({"title": format!("Call mom {}", nonce())}),
            )
        }
    });
    let mut app = app_with(&url).await;
    let user = app.user().await;
    let mut lock = sqlx::PgConnection::connect_with(&app.config.database.connect_options)
        .await
        .expect("connect");
    sqlx::query("begin")
        .execute(&mut lock)
        .await
        .expect("begin");
    // (no key update: foreign-key checks of new rows still pass; the task counter's update waits)
    sqlx::query("select 1 from users where id = $1 for no key update")
        .bind(user.id)
        .execute(&mut lock)
        .await
        .expect("lock the user");
    let mut ws = app.ws(&user).await;

    // Act
    ws.chat("call mom", None, None).await;
    let journaled = eventually(Duration::from_secs(10), || async {
        let steps: i64 = sqlx::query_scalar("select count(*) from turn_steps")
            .fetch_one(&app.db)
            .await
            .ok()?;
        (steps == 1).then_some(())
    })
    .await;
    assert!(journaled.is_some(), "the step was journaled");
    app.kill_worker(0);
    sqlx::query("rollback")
        .execute(&mut lock)
        .await
        .expect("unlock");
    app.start_worker().await;
    let frames = ws.until_final(Duration::from_secs(30)).await;

    // Assert
    assert_eq!(
        frames.last().expect("final")["type"],
        "done",
        "{:?}",
        types(&frames)
    );
    let titles = tasks_of(&app, &user).await;
    assert_eq!(titles.len(), 1, "{titles:?}");
    assert_eq!(
        fake.requests()
            .iter()
            .filter(|r| !has_tool_result(r))
            .count(),
        1,
        "the model was asked for the step once"
    );
    assert_eq!(
        app.count(
            "select count(*) from tool_effects e join chat_requests r using (request_id) where r.user_id = $1",
            &user
        )
        .await,
        1
    );
    ws.close().await;
    app.shutdown().await;
}

#[tokio::test]
async fn a_turn_killed_during_its_final_text_runs_no_tool_again_and_stores_the_reply_once() {
    let (fake, url) = FakeOpenAi::start().await;
    let finals = Arc::new(AtomicUsize::new(0));
    let seen = finals.clone();
    fake.respond_with(move |request| {
        if !has_tool_result(request) {
            Reply::tool(
                "add_task",
                &json!({"title": format!("Pay rent {}", nonce())}),
            )
        } else if seen.fetch_add(1, Ordering::SeqCst) == 0 {
            Reply::TextThenHang(vec!["I added ".into(), "the ".into()])
        } else {
            Reply::text("I added the rent task.")
        }
    });
    let mut app = app_with(&url).await;
    let user = app.user().await;
    let mut ws = app.ws(&user).await;
    ws.chat("pay rent", None, None).await;
    let mut text = String::new();
    while let Some(frame) = ws.next_json(Duration::from_secs(10)).await {
        if frame["type"] == "delta" {
            text.push_str(frame["text"].as_str().unwrap_or_default());
        }
        if text.contains("the ") {
            break;
        }
    }
    assert!(
        text.contains("I added"),
        "the final text was streaming: {text:?}"
    );

    let frames = finish(&mut app, &mut ws).await;
    let done = frames.last().expect("final");
    assert_eq!(done["type"], "done", "{:?}", types(&frames));
    assert_eq!(done["response"], "I added the rent task.");
    assert_eq!(tasks_of(&app, &user).await.len(), 1);
    assert_eq!(
        app.count(
            "select count(*) from tool_effects e join chat_requests r using (request_id) where r.user_id = $1",
            &user
        )
        .await,
        1,
        "no tool ran again"
    );
    assert_eq!(
        app.count(
            "select count(*) from messages where user_id = $1 and role = 'assistant'",
            &user
        )
        .await,
        1,
        "the reply was stored once"
    );
    assert_eq!(
        app.count(
            "select count(*) from turn_steps s join chat_requests r using (request_id) where r.user_id = $1",
            &user
        )
        .await,
        0,
        "the journal is cleaned up with the finished turn"
    );
    ws.close().await;
    app.shutdown().await;
}

#[tokio::test]
async fn a_turn_that_asks_for_too_many_tool_calls_ends_with_a_clear_error() {
    let (fake, url) = FakeOpenAi::start().await;
    // Every answer asks for another task: the turn hits the per-turn tool-call limit (12 in tests).
    fake.respond_with(|_| Reply::tool("add_task", &json!({"title": format!("Again {}", nonce())})));
    let app = TestApp::spawn_with(TestOptions {
        agent: match TestOptions::openai(&url).agent {
            todo_common::config::AgentConfig::OpenAi(mut c) => {
                c.max_tool_rounds = 50;
                c.max_tool_calls = 3;
                todo_common::config::AgentConfig::OpenAi(c)
            }
            other => other,
        },
        ..TestOptions::openai(&url)
    })
    .await;
    let user = app.user().await;
    let mut ws = app.ws(&user).await;
    let frames = ws.ask("keep adding", None).await;
    let last = frames.last().expect("final");
    assert_eq!(last["type"], "error", "{:?}", types(&frames));
    assert_eq!(last["code"], "turn_limit_exceeded");
    assert!(last["message"].as_str().expect("message").contains("3"));
    assert_eq!(tasks_of(&app, &user).await.len(), 3);
    ws.close().await;
    app.shutdown().await;
}
