use std::collections::HashMap;
use std::time::Duration;

use futures::StreamExt;
use serde_json::{Value, json};
use todo_tests::{TestApp, TestOptions};
use uuid::Uuid;

/// Collects the events of one request until its `done` / `error`, then waits a little for extras.
async fn events_until_final(sub: &mut async_nats::Subscriber) -> Vec<Value> {
    let mut events = Vec::new();
    let mut finals = 0;
    let deadline = tokio::time::Instant::now() + Duration::from_secs(20);
    while let Ok(Some(msg)) = tokio::time::timeout_at(
        if finals > 0 {
            tokio::time::Instant::now() + Duration::from_millis(500)
        } else {
            deadline
        },
        sub.next(),
    )
    .await
    {
        let e: Value = serde_json::from_slice(&msg.payload).expect("event json");
        if matches!(e["type"].as_str(), Some("done" | "error")) {
            finals += 1;
        }
        events.push(e);
    }
    events
}

#[tokio::test]
async fn a_request_published_straight_to_the_queue_is_served() {
    let app = TestApp::spawn().await;
    let user = app.user().await;
    let request_id = Uuid::new_v4();
    let mut sub = app
        .nats
        .subscribe(app.config.nats.default_event_subject(request_id))
        .await
        .expect("subscribe");

    // exactly the documented shape (docs/QUEUE.md)
    app.publish_request(&json!({
        "v": 1,
        "request_id": request_id,
        "user_id": user.id,
        "conversation_id": null,
        "message": "add a task to buy milk"
    }))
    .await;

    let events = events_until_final(&mut sub).await;
    let done = events.last().expect("events");
    assert_eq!(done["type"], "done", "{events:?}");
    assert_eq!(done["v"], 1);
    assert_eq!(done["request_id"], request_id.to_string());
    assert!(done["conversation_id"].as_i64().is_some());
    assert_eq!(app.list_tasks(&user, "all").await[0]["title"], "Buy milk");
    // Once stored, it started in the start batch and, being one step, was answered there: the
    // start, the task, its effect record and the reply share one transaction.
    assert_eq!(app.transactions_of_turn(request_id).await, 1);
    app.shutdown().await;
}

#[tokio::test]
async fn a_duplicate_publish_of_the_same_request_id_is_served_once() {
    let app = TestApp::spawn().await;
    let user = app.user().await;
    let request_id = Uuid::new_v4();
    let mut sub = app
        .nats
        .subscribe(app.config.nats.default_event_subject(request_id))
        .await
        .expect("subscribe");
    let request = json!({"v": 1, "request_id": request_id, "user_id": user.id, "message": "add a task to pay rent"});
    app.publish_request(&request).await;
    app.publish_request(&request).await;
    let events = events_until_final(&mut sub).await;
    assert_eq!(events.iter().filter(|e| e["type"] == "done").count(), 1);
    assert_eq!(
        app.count("select count(*) from tasks where user_id = $1", &user)
            .await,
        1
    );
    assert_eq!(
        app.count("select count(*) from messages where user_id = $1", &user)
            .await,
        2
    );
    app.shutdown().await;
}

#[tokio::test]
async fn invalid_queue_messages_get_an_error_event_and_do_not_block_the_queue() {
    let app = TestApp::spawn().await;
    let user = app.user().await;
    let bad_id = Uuid::new_v4();
    let mut sub = app
        .nats
        .subscribe(app.config.nats.default_event_subject(bad_id))
        .await
        .expect("subscribe");
    app.publish_request(
        &json!({"v": 1, "request_id": bad_id, "user_id": Uuid::new_v4(), "message": "hi"}),
    )
    .await;
    let events = events_until_final(&mut sub).await;
    assert_eq!(events.last().expect("event")["type"], "error");
    assert_eq!(events.last().expect("event")["code"], "not_found");

    let js = async_nats::jetstream::new(app.nats.clone());
    js.publish(app.config.nats.request_subject(), "garbage".into())
        .await
        .expect("publish")
        .await
        .expect("ack");

    let (status, _) = app.chat(&user, "add a task to keep going", None).await;
    assert_eq!(status, reqwest::StatusCode::OK);
    app.shutdown().await;
}

#[tokio::test]
async fn two_workers_share_a_burst_and_turns_of_a_conversation_stay_in_order() {
    let app = TestApp::spawn_with(TestOptions {
        workers: 2,
        worker_concurrency: 8,
        ..Default::default()
    })
    .await;
    let users = futures::future::join_all((0..4).map(|_| app.user())).await;

    // Each user sends 6 messages into one conversation over one socket without waiting.
    let runs = users.iter().map(|user| {
        let app = &app;
        async move {
            let mut ws = app.ws(user).await;
            let first = ws.ask("add a task to step 0", None).await;
            let conversation = first.last().expect("done")["conversation_id"].as_i64();
            for i in 1..6 {
                ws.chat(
                    &format!("add a task to step {i}"),
                    conversation,
                    Some(&format!("s{i}")),
                )
                .await;
            }
            let mut dones: HashMap<String, usize> = HashMap::new();
            while dones.values().sum::<usize>() < 5 {
                let f = ws.next_json(Duration::from_secs(30)).await.expect("frame");
                if f["type"] == "done" {
                    *dones
                        .entry(f["request_id"].as_str().expect("id").to_owned())
                        .or_default() += 1;
                }
                assert_ne!(f["type"], "error", "{f}");
            }
            assert!(dones.values().all(|n| *n == 1));
            conversation.expect("conversation")
        }
    });
    let conversations = futures::future::join_all(runs).await;

    for (user, conversation) in users.iter().zip(conversations) {
        // A task's number is taken as its turn runs, so number order is the order the turns ran
        // in (created_at is its transaction's start, which a group-commit batch may have opened
        // a moment before the previous turn's own transaction).
        let mut tasks = app.list_tasks(user, "all").await;
        tasks.sort_by_key(|t| t["id"].as_i64());
        let titles: Vec<&str> = tasks
            .iter()
            .map(|t| t["title"].as_str().expect("title"))
            .collect();
        assert_eq!(
            titles,
            (0..6).map(|i| format!("Step {i}")).collect::<Vec<_>>(),
            "turns ran in order"
        );
        let messages: Vec<Value> = app
            .authed(
                user,
                reqwest::Method::GET,
                &format!("/api/{}/conversations/{conversation}/messages", user.id),
            )
            .send()
            .await
            .expect("messages")
            .json()
            .await
            .expect("json");
        let roles: Vec<&str> = messages
            .iter()
            .map(|m| m["role"].as_str().expect("role"))
            .collect();
        assert_eq!(
            roles,
            ["user", "assistant"].repeat(6),
            "user/assistant alternate"
        );
    }
    let by_worker: i64 =
        sqlx::query_scalar("select count(*) from chat_requests where status = 'done'")
            .fetch_one(&app.db)
            .await
            .expect("count");
    assert_eq!(by_worker, 24);
    app.shutdown().await;
}
