//! `loadgen floor`: what one chat turn costs without the system around it.
//!
//! Each turn performs the same broker and database operations as a real turn, through the same
//! shared functions (`todo_common::chat`, `todo_common::tasks`), but with no HTTP, WebSocket, agent
//! or worker framework: store the request, publish it to JetStream and wait for the ack, pull it
//! from a durable consumer and ack it, run the worker's statements (begin the turn, store the user
//! message and read history in one; one tool effect with its record, the reply and `done` in one
//! transaction) and publish the reply events.
//! Turns are spread over `users` users, as the WebSocket benchmark's are.

use std::collections::HashMap;
use std::sync::Arc;
use std::time::{Duration, Instant};

use anyhow::Context;
use async_nats::jetstream::{self, consumer, stream};
use futures::StreamExt;
use serde_json::json;
use sqlx::postgres::PgPoolOptions;
use todo_common::chat::{self, Accepted};
use todo_common::tasks;
use tokio::sync::Mutex;
use uuid::Uuid;

use super::summary::{Recorder, Summary, record};

pub struct FloorOptions {
    pub turns: usize,
    pub concurrency: usize,
    pub events: usize,
    pub users: usize,
}

pub async fn run(database_url: &str, nats_url: &str, o: &FloorOptions) -> anyhow::Result<Summary> {
    let pool = PgPoolOptions::new()
        .max_connections(u32::try_from(o.concurrency.clamp(1, 60)).unwrap_or(60))
        .connect_with(todo_common::db::connect_options(database_url)?)
        .await
        .context("connecting to Postgres")?;
    let nats = async_nats::connect(nats_url)
        .await
        .context("connecting to NATS")?;
    let js = jetstream::new(nats.clone());
    let tag = Uuid::new_v4().simple().to_string();
    let subject = format!("floor_{tag}.requests");
    let stream = js
        .create_stream(stream::Config {
            name: format!("FLOOR_{tag}"),
            subjects: vec![subject.clone()],
            retention: stream::RetentionPolicy::WorkQueue,
            storage: stream::StorageType::File,
            duplicate_window: Duration::from_secs(120),
            ..Default::default()
        })
        .await?;
    let consumer = stream
        .create_consumer(consumer::pull::Config {
            durable_name: Some("floor".into()),
            ack_policy: consumer::AckPolicy::Explicit,
            ..Default::default()
        })
        .await?;
    let mut users = Vec::with_capacity(o.users.max(1));
    for i in 0..o.users.max(1) {
        let id: Uuid = sqlx::query_scalar(
            "insert into users (email, password_hash) values ($1, 'x') returning id",
        )
        .bind(format!("floor-{tag}-{i}@loadgen.example.com"))
        .fetch_one(&pool)
        .await?;
        users.push(id);
    }

    let rec = Arc::new(Mutex::new(Recorder::default()));
    let sent_at: Arc<Mutex<HashMap<Uuid, Instant>>> = Arc::default();
    let started = Instant::now();
    // Consumer side: pull, run the worker's statements, publish events, ack.
    let worker = {
        let (pool, nats, rec, sent_at) = (pool.clone(), nats.clone(), rec.clone(), sent_at.clone());
        let (turns, concurrency, events) = (o.turns, o.concurrency, o.events);
        let mut messages = consumer
            .stream()
            .max_messages_per_batch(concurrency)
            .messages()
            .await?;
        tokio::spawn(async move {
            let mut inflight = futures::stream::FuturesUnordered::new();
            let mut done = 0;
            while done < turns {
                tokio::select! {
                    Some(msg) = messages.next(), if inflight.len() < concurrency => {
                        let Ok(msg) = msg else { continue };
                        let (pool, nats) = (pool.clone(), nats.clone());
                        inflight.push(async move {
                            let body: serde_json::Value = serde_json::from_slice(&msg.payload)?;
                            let request_id: Uuid = body["request_id"].as_str().context("id")?.parse()?;
                            let user: Uuid = body["user_id"].as_str().context("user")?.parse()?;
                            worker_statements(&pool, &nats, request_id, user, events).await?;
                            msg.double_ack().await.map_err(|e| anyhow::anyhow!("{e}"))?;
                            anyhow::Ok(request_id)
                        });
                    }
                    Some(result) = inflight.next(), if !inflight.is_empty() => {
                        done += 1;
                        match result {
                            Ok(id) => {
                                let t0 = sent_at.lock().await.remove(&id);
                                let mut r = rec.lock().await;
                                r.completed += 1;
                                if let Some(t0) = t0 {
                                    record(&mut r.latency, t0.elapsed());
                                }
                            }
                            Err(_) => rec.lock().await.errors += 1,
                        }
                    }
                }
            }
        })
    };
    // Producer side: store + publish with ack, `concurrency` at a time.
    let producer = futures::stream::iter(0..o.turns)
        .map(|i| {
            let (pool, js, subject, rec, sent_at) = (pool.clone(), js.clone(), subject.clone(), rec.clone(), sent_at.clone());
            let user = users[i % users.len()];
            async move {
                let t0 = Instant::now();
                let id = Uuid::new_v4();
                sent_at.lock().await.insert(id, t0);
                let accepted = chat::accept(&pool, id, user, None, &format!("add a task to floor {i}"), None, None).await?;
                let Accepted::New(stored) = accepted else { anyhow::bail!("not new") };
                let mut headers = async_nats::HeaderMap::new();
                headers.insert("Nats-Msg-Id", id.to_string().as_str());
                let body = json!({"v": 1, "request_id": id, "user_id": user, "conversation_id": stored.conversation_id, "message": stored.message});
                js.publish_with_headers(subject, headers, body.to_string().into()).await?.await?;
                record(&mut rec.lock().await.accepted, t0.elapsed());
                anyhow::Ok(())
            }
        })
        .buffer_unordered(o.concurrency)
        .collect::<Vec<_>>()
        .await;
    let producer_errors = producer.iter().filter(|p| p.is_err()).count();
    if producer_errors == 0 {
        worker.await?;
    } else {
        worker.abort();
    }
    let elapsed = started.elapsed();
    let mut r = rec.lock().await;
    r.sent = o.turns as u64;
    r.errors += producer_errors as u64;
    let created: i64 = sqlx::query_scalar("select count(*) from tasks where user_id = any($1)")
        .bind(&users)
        .fetch_one(&pool)
        .await?;
    let (lost, duplicated) = super::summary::reconcile(
        r.sent,
        r.completed + r.errors,
        0,
        r.completed,
        u64::try_from(created).unwrap_or(0),
    );
    let summary = r.summary("floor", elapsed, lost, duplicated);
    drop(r);
    sqlx::query("delete from users where id = any($1)")
        .bind(&users)
        .execute(&pool)
        .await?;
    let _ = js.delete_stream(format!("FLOOR_{tag}")).await;
    Ok(summary)
}

/// The statements a worker runs for a one-tool turn, and its reply publishes.
async fn worker_statements(
    pool: &sqlx::PgPool,
    nats: &async_nats::Client,
    request_id: Uuid,
    user: Uuid,
    events: usize,
) -> anyhow::Result<()> {
    let mut conn = pool.acquire().await?;
    let chat::Begin::Started { record, .. } = chat::begin_turn(
        &mut conn,
        request_id,
        user,
        Duration::from_secs(30),
        chat::HistoryNeed::LastReply,
    )
    .await?
    else {
        anyhow::bail!("turn did not start");
    };
    drop(conn);
    let mut tx = pool.begin().await?;
    let args = json!({"title": "Floor task"});
    let new = tasks::NewTask {
        title: "Floor task".into(),
        ..tasks::NewTask::default()
    };
    let actor = tasks::Actor::chat(request_id, record.conversation_id);
    let tasks::Created::Task(task) =
        tasks::store::create(&mut tx, record.user_id, &new, &actor, None).await?
    else {
        anyhow::bail!("the floor user has no task slot");
    };
    let result = json!({"task_id": task.id});
    let effect = chat::NewEffect {
        request_id,
        call_index: 0,
        tool: "add_task",
        arguments: &args,
        result: &result,
    };
    chat::record_effects(&mut tx, &[effect]).await?;
    let finished = chat::FinishedTurn {
        request_id,
        user_id: record.user_id,
        conversation_id: record.conversation_id,
        response: "Floor task added.".into(),
        tool_calls: json!([]),
        final_event: json!({"type": "done"}),
        agent_state: None,
    };
    chat::finish_many(&mut *tx, &[finished]).await?;
    tx.commit().await?;
    let subject = format!("floor.events.{request_id}");
    for _ in 0..events {
        nats.publish(
            subject.clone(),
            r#"{"v":1,"type":"delta","text":"x"}"#.into(),
        )
        .await?;
    }
    Ok(())
}
