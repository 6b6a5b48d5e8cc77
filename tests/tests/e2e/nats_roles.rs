//! NATS least privilege: the api and the workers run against a nats-server started with
//! deploy/nats/nats.conf, with their own credentials, and each role can do exactly its job.

use std::time::Duration;

use futures::StreamExt;
use serde_json::{Value, json};
use todo_tests::nats_server::RolesServer;
use todo_tests::ws::final_frame;
use todo_tests::{TestApp, TestOptions, eventually};
use uuid::Uuid;

async fn connect_as(server: &RolesServer, role: &str) -> async_nats::Client {
    let (user, password) = server.credentials(role);
    async_nats::ConnectOptions::new()
        .user_and_password(user.clone(), password)
        .custom_inbox_prefix(todo_common::queue::inbox_prefix(&user))
        .connect(&server.url)
        .await
        .expect("the role connects")
}

fn request(user_id: Uuid, message: &str) -> (Uuid, Value) {
    let id = Uuid::new_v4();
    (
        id,
        json!({"v": 1, "request_id": id, "user_id": user_id, "message": message}),
    )
}

async fn publish(client: &async_nats::Client, subject: String, request: &Value) -> bool {
    let js = async_nats::jetstream::new(client.clone());
    let mut headers = async_nats::HeaderMap::new();
    headers.insert(
        "Nats-Msg-Id",
        request["request_id"].as_str().unwrap_or_default(),
    );
    let sent = tokio::time::timeout(
        Duration::from_secs(3),
        js.publish_with_headers(subject, headers, request.to_string().into()),
    )
    .await;
    match sent {
        Ok(Ok(ack)) => matches!(
            tokio::time::timeout(Duration::from_secs(3), ack).await,
            Ok(Ok(_))
        ),
        _ => false,
    }
}

#[tokio::test]
async fn each_nats_role_can_do_exactly_its_job() {
    // Arrange: the shipped configuration, the api and a worker with their own credentials.
    let server = RolesServer::start();
    let app = TestApp::spawn_with(TestOptions {
        nats_url: Some(server.url.clone()),
        tag: Some(server.tag.clone()),
        nats_api: Some(server.credentials("api")),
        nats_worker: Some(server.credentials("worker")),
        ..TestOptions::default()
    })
    .await;
    let user = app.user().await;
    let subject = app.config.nats.request_subject();

    // An anonymous client is refused.
    let anonymous = async_nats::ConnectOptions::new()
        .connection_timeout(Duration::from_secs(2))
        .connect(&server.url)
        .await;
    assert!(anonymous.is_err(), "anonymous access is refused");
    let (_, wrong) = server.credentials("api");
    let guessed = async_nats::ConnectOptions::new()
        .user_and_password("api".into(), format!("{wrong}x"))
        .connect(&server.url)
        .await;
    assert!(guessed.is_err(), "a wrong password is refused");

    // The api and the worker do a whole chat turn with their own credentials.
    let mut ws = app.ws(&user).await;
    let frames = ws.ask("add a task to buy milk", None).await;
    assert_eq!(final_frame(&frames)["type"], "done", "{frames:?}");

    // A producer publishes requests, and a worker serves them...
    let producer = connect_as(&server, "producer").await;
    let (produced, body) = request(user.id, "add a task to call the bank");
    assert!(
        publish(&producer, subject.clone(), &body).await,
        "producers publish requests"
    );
    let served = eventually(Duration::from_secs(15), || async {
        let status: Option<String> =
            sqlx::query_scalar("select status from chat_requests where request_id = $1")
                .bind(produced)
                .fetch_optional(&app.db)
                .await
                .ok()
                .flatten();
        (status.as_deref() == Some("done")).then_some(())
    })
    .await;
    assert!(served.is_some(), "the produced request was served");

    // ...but a producer cannot read anybody's reply events.
    let mut snooping = producer
        .subscribe(format!("{}.events.>", app.config.nats.subject_prefix))
        .await
        .expect("subscribe call");
    let mut watching = app
        .nats
        .subscribe(format!("{}.events.>", app.config.nats.subject_prefix))
        .await
        .expect("the api reads events");
    let (second, body) = request(user.id, "add a task to water the plants");
    assert!(publish(&producer, subject.clone(), &body).await);
    let seen = tokio::time::timeout(Duration::from_secs(15), watching.next())
        .await
        .expect("events flow")
        .expect("event");
    assert!(String::from_utf8_lossy(&seen.payload).contains(&second.to_string()));
    let snooped = tokio::time::timeout(Duration::from_secs(1), snooping.next()).await;
    assert!(
        !matches!(snooped, Ok(Some(_))),
        "a producer receives no events"
    );

    // A worker cannot publish requests.
    let worker = connect_as(&server, "worker").await;
    let (forged, body) = request(user.id, "add a task forged by a worker");
    assert!(
        !publish(&worker, subject.clone(), &body).await,
        "workers cannot publish requests"
    );
    // ...nor read the api's inbox or the revocation broadcasts, nor publish revocations.
    let mut inbox = worker
        .subscribe("_INBOX_api.>")
        .await
        .expect("subscribe call");
    let _ = app.list_tasks(&user, "all").await;
    assert!(
        !matches!(
            tokio::time::timeout(Duration::from_millis(500), inbox.next()).await,
            Ok(Some(_))
        ),
        "a worker reads no other role's inbox"
    );

    // A producer cannot pull from the consumer (it would read every user's messages).
    let js = async_nats::jetstream::new(producer.clone());
    let stolen = tokio::time::timeout(Duration::from_secs(3), async {
        let stream = js.get_stream(&app.config.nats.stream).await.ok()?;
        let consumer: async_nats::jetstream::consumer::PullConsumer =
            stream.get_consumer(&app.config.nats.consumer).await.ok()?;
        consumer.fetch().max_messages(1).messages().await.ok()
    })
    .await;
    assert!(
        !matches!(stolen, Ok(Some(_))),
        "a producer cannot reach the stream's consumer"
    );

    tokio::time::sleep(Duration::from_millis(300)).await;
    let forged_rows: i64 =
        sqlx::query_scalar("select count(*) from chat_requests where request_id = $1")
            .bind(forged)
            .fetch_one(&app.db)
            .await
            .expect("count");
    assert_eq!(forged_rows, 0, "the forged request never reached a worker");
    ws.close().await;
    app.shutdown().await;
}
