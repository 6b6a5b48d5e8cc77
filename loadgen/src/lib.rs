//! `loadgen`: load generator, benchmark driver and smoke check for todo-chat, for operators and
//! load scripts. It talks to a running system over HTTP, WebSocket and NATS only (it links
//! neither the api nor the worker). Modules: this file (the subcommands and their runs),
//! [`summary`] (latency histograms, the exactly-once checks), [`floor`], [`limits`], [`model`],
//! [`smoke`], [`fake_openai`] (an OpenAI-compatible streaming server, also used by the tests) and
//! [`ws`] (a typed WebSocket chat client, also used by the tests).
//!
//! Subcommands: `ws` and `http` (simulated users chatting through the api), `queue` (requests
//! published straight to JetStream with the documented schema), `idle` (idle WebSockets and the
//! api's memory per connection), `floor` (the unavoidable work of a turn alone), `limits`
//! (Postgres' commit rate and JetStream's publish-pull-ack rate alone), `model` (a model's time
//! to first token alone, in waves), `smoke` (a deployment checked as its users use it),
//! `drop-stream`, `fake-llm` (an OpenAI-compatible streaming server with a latency profile).
//! Every load run ends with a [`Summary`] (table, or one JSON object with `--json`) and exits
//! non-zero when a request was lost or an effect duplicated.

pub mod fake_openai;
pub mod floor;
pub mod limits;
pub mod model;
pub mod smoke;
pub mod summary;
pub mod ws;

use std::collections::HashMap;
use std::sync::Arc;
use std::time::{Duration, Instant};

use anyhow::{Context, bail};
use clap::{Parser, Subcommand};
use futures::StreamExt;
use indicatif::{ProgressBar, ProgressStyle};
use serde_json::{Value, json};
use tokio::sync::{Mutex, Semaphore};
use uuid::Uuid;

use crate::fake_openai::{FakeOpenAi, Profile};
use crate::ws::WsClient;
use summary::{Recorder, Summary, reconcile, record};
use todo_common::protocol::ServerFrame;
use todo_common::schema::{ChatEvent, ChatRequest, EventBody, SCHEMA_VERSION};

#[derive(Debug, Parser)]
#[command(
    name = "loadgen",
    version,
    about = "Load generator and benchmark driver for todo-chat"
)]
pub struct Cli {
    #[command(subcommand)]
    pub command: Command,
}

#[derive(Debug, clap::Args, Clone)]
pub struct Common {
    /// Print one JSON object instead of a table.
    #[arg(long)]
    pub json: bool,
    /// Give up waiting for replies after this many seconds.
    #[arg(long, default_value_t = 120)]
    pub timeout_s: u64,
    /// Prefix of the simulated users' emails (users are signed up, or reused when they exist).
    #[arg(long, default_value = "loadgen")]
    pub user_prefix: String,
    /// Check that every answered message created exactly one task (true for the built-in agent,
    /// which adds a task per loadgen message; false for a model that does not call tools).
    #[arg(long, default_value_t = true, action = clap::ArgAction::Set)]
    pub check_tasks: bool,
}

/// Flags of the `ws` and `http` runs.
#[derive(Debug, clap::Args, Clone)]
pub struct ChatArgs {
    #[arg(long, default_value = "http://127.0.0.1:8000")]
    pub api: String,
    #[arg(long, default_value_t = 10)]
    pub users: usize,
    #[arg(long, default_value_t = 10)]
    pub messages: usize,
    /// Pause between a reply and the user's next message.
    #[arg(long, default_value_t = 0)]
    pub think_ms: u64,
    /// Spread the users' first messages evenly over this many milliseconds (user k of N starts
    /// k/N of the way through), so that conversations run side by side instead of arriving as
    /// one wave. 0: everyone starts at once.
    #[arg(long, default_value_t = 0)]
    pub ramp_ms: u64,
    #[command(flatten)]
    pub common: Common,
}

impl ChatArgs {
    /// When the simulated users send.
    pub fn pace(&self) -> Pace {
        Pace {
            think: Duration::from_millis(self.think_ms),
            ramp: Duration::from_millis(self.ramp_ms),
        }
    }
}

/// When simulated users send their messages.
#[derive(Debug, Clone, Copy, Default)]
pub struct Pace {
    /// Pause between a reply and the user's next message.
    pub think: Duration,
    /// The users' first messages are spread evenly over this span.
    pub ramp: Duration,
}

impl Pace {
    /// How long user `user` of `users` waits before its first message.
    fn start_delay(&self, user: usize, users: usize) -> Duration {
        let users = u32::try_from(users.max(1)).unwrap_or(u32::MAX);
        let user = u32::try_from(user).unwrap_or(u32::MAX).min(users);
        self.ramp * user / users
    }
}

#[derive(Debug, Subcommand)]
pub enum Command {
    /// N users, each on its own WebSocket, send M chat messages one after another.
    Ws(ChatArgs),
    /// The same through `POST /api/{user_id}/chat`.
    Http(ChatArgs),
    /// Publish requests straight to JetStream (docs/QUEUE.md) and measure the workers.
    Queue {
        #[arg(long, default_value = "nats://127.0.0.1:4222")]
        nats: String,
        /// Api used to create the user the requests act for (and to count its tasks).
        #[arg(long, default_value = "http://127.0.0.1:8000")]
        api: String,
        #[arg(long, default_value_t = 1000)]
        requests: usize,
        /// Open-loop rate in requests per second; without it, closed loop with --concurrency.
        #[arg(long)]
        rate: Option<f64>,
        /// Requests in flight at once in closed loop.
        #[arg(long, default_value_t = 256)]
        concurrency: usize,
        /// Users the requests are spread over (each request starts a new conversation).
        #[arg(long, default_value_t = 64)]
        users: usize,
        #[arg(long, default_value = "todo_chat")]
        subject_prefix: String,
        #[command(flatten)]
        common: Common,
    },
    /// Open C idle authenticated WebSockets, hold them, and report the api's memory per connection.
    Idle {
        #[arg(long, default_value = "http://127.0.0.1:8000")]
        api: String,
        #[arg(long, default_value_t = 1000)]
        connections: usize,
        #[arg(long, default_value_t = 10)]
        hold_s: u64,
        /// Process id of the api (default: the process listening on the api's port).
        #[arg(long)]
        api_pid: Option<u32>,
        #[arg(long)]
        json: bool,
    },
    /// The machine's limits with nothing around them: Postgres single-row commits per second
    /// (group commit) and JetStream publish → pull → ack messages per second.
    Limits {
        /// Postgres database to create a scratch table in (dropped afterwards).
        #[arg(long, default_value = "postgres://postgres@127.0.0.1:5432/todo_chat")]
        database_url: String,
        #[arg(long, default_value = "nats://127.0.0.1:4222")]
        nats: String,
        /// Seconds each of the two measurements runs.
        #[arg(long, default_value_t = 10)]
        seconds: u64,
        /// Concurrent Postgres connections committing.
        #[arg(long, default_value_t = 32)]
        clients: usize,
        /// JetStream messages between their publish and their ack.
        #[arg(long, default_value_t = 32)]
        in_flight: usize,
        #[arg(long)]
        json: bool,
    },
    /// Streaming requests straight to an OpenAI-compatible model (e.g. `loadgen fake-llm`) in
    /// waves of `concurrency` at once: the time to first token the model alone gives such a wave,
    /// the yardstick for the system's (benchmark 3).
    Model {
        /// The model's base URL, as `OPENAI_BASE_URL` gives it to the worker.
        #[arg(long, default_value = "http://127.0.0.1:8089/v1")]
        base_url: String,
        /// Requests sent at the same instant in each wave.
        #[arg(long, default_value_t = 200)]
        concurrency: usize,
        /// Waves, each sent when every reply of the one before has ended.
        #[arg(long, default_value_t = 3)]
        waves: usize,
        #[arg(long)]
        json: bool,
    },
    /// The floor: the unavoidable operations of a turn (JetStream publish + pull + ack, the SQL a
    /// turn runs, the reply publishes) in a tight loop with no api, worker or agent around them.
    Floor {
        /// Postgres database with the schema applied (e.g. the api's).
        #[arg(long, default_value = "postgres://postgres@127.0.0.1:5432/todo_chat")]
        database_url: String,
        #[arg(long, default_value = "nats://127.0.0.1:4222")]
        nats: String,
        #[arg(long, default_value_t = 5000)]
        turns: usize,
        #[arg(long, default_value_t = 64)]
        concurrency: usize,
        /// Reply events published per turn (deltas + tool + done).
        #[arg(long, default_value_t = 4)]
        events: usize,
        /// Users the turns are spread over.
        #[arg(long, default_value_t = 200)]
        users: usize,
        #[arg(long)]
        json: bool,
    },
    /// Check a deployment as its users use it (after a deploy or a rollback): health, the five
    /// user stories by chat checked through REST, multi-turn, resume, p95 latency.
    Smoke(smoke::SmokeArgs),
    /// Delete a JetStream stream (and its consumers): what a benchmark run created for itself.
    /// A stream that is already gone is not an error.
    DropStream {
        #[arg(long, default_value = "nats://127.0.0.1:4222")]
        nats: String,
        /// The stream's name.
        stream: String,
    },
    /// Serve an OpenAI-compatible streaming endpoint with a latency profile.
    FakeLlm {
        #[arg(long, default_value = "127.0.0.1:8089")]
        addr: String,
        #[arg(long, default_value_t = 300)]
        ttft_ms: u64,
        #[arg(long, default_value_t = 40)]
        tokens: usize,
        #[arg(long, default_value_t = 15)]
        token_ms: u64,
        /// Answer each new question with an `add_task` tool call before the text.
        #[arg(long)]
        tool_call: bool,
    },
}

/// Deletes the JetStream stream `name`; one that does not exist counts as deleted.
async fn drop_stream(nats_url: &str, name: &str) -> anyhow::Result<()> {
    use async_nats::jetstream::{ErrorCode, context::DeleteStreamErrorKind};
    let nats = async_nats::connect(nats_url)
        .await
        .with_context(|| format!("connecting to NATS at {nats_url}"))?;
    match async_nats::jetstream::new(nats).delete_stream(name).await {
        Ok(_) => Ok(()),
        Err(e)
            if matches!(e.kind(), DeleteStreamErrorKind::JetStream(ref js)
                if js.error_code() == ErrorCode::STREAM_NOT_FOUND) =>
        {
            Ok(())
        }
        Err(e) => Err(e).with_context(|| format!("deleting the stream {name}")),
    }
}

/// Runs a command; returns whether the run was correct (nothing lost or duplicated).
pub async fn run(cli: Cli) -> anyhow::Result<bool> {
    match cli.command {
        Command::Ws(args) => chat_command(Mode::Ws, args).await,
        Command::Http(args) => chat_command(Mode::Http, args).await,
        Command::Smoke(args) => {
            let report = smoke::run(&args).await;
            report.print();
            Ok(report.passed())
        }
        Command::Queue {
            nats,
            api,
            requests,
            rate,
            concurrency,
            users,
            subject_prefix,
            common,
        } => {
            let s = queue_run(
                &nats,
                &api,
                requests,
                rate,
                concurrency,
                users,
                &subject_prefix,
                &common,
            )
            .await?;
            s.print(common.json);
            Ok(s.is_correct())
        }
        Command::Idle {
            api,
            connections,
            hold_s,
            api_pid,
            json,
        } => {
            idle_run(&api, connections, hold_s, api_pid, json).await?;
            Ok(true)
        }
        Command::DropStream { nats, stream } => {
            drop_stream(&nats, &stream).await?;
            Ok(true)
        }
        Command::Floor {
            database_url,
            nats,
            turns,
            concurrency,
            events,
            users,
            json,
        } => {
            let options = floor::FloorOptions {
                turns,
                concurrency,
                events,
                users,
            };
            let s = floor::run(&database_url, &nats, &options).await?;
            s.print(json);
            Ok(s.is_correct())
        }
        Command::Limits {
            database_url,
            nats,
            seconds,
            clients,
            in_flight,
            json,
        } => {
            let options = limits::LimitsOptions {
                seconds,
                clients,
                in_flight,
            };
            limits::run(&database_url, &nats, &options)
                .await?
                .print(json);
            Ok(true)
        }
        Command::Model {
            base_url,
            concurrency,
            waves,
            json,
        } => {
            let options = model::ModelOptions {
                base_url,
                concurrency,
                waves,
            };
            let summary = model::run(&options).await?;
            summary.print(json);
            Ok(summary.is_correct())
        }
        Command::FakeLlm {
            addr,
            ttft_ms,
            tokens,
            token_ms,
            tool_call,
        } => {
            let profile = Profile {
                ttft: Duration::from_millis(ttft_ms),
                tokens,
                token_delay: Duration::from_millis(token_ms),
                tool_call,
                vary_arguments: false,
            };
            let listener = tokio::net::TcpListener::bind(&addr)
                .await
                .with_context(|| format!("binding {addr}"))?;
            eprintln!(
                "fake LLM on http://{}/v1 ({profile:?})",
                listener.local_addr()?
            );
            // Nagle off, as a real model API's servers run: token chunks go out when written.
            let listener = axum::serve::ListenerExt::tap_io(listener, |tcp| {
                let _ = tcp.set_nodelay(true);
            });
            axum::serve(listener, FakeOpenAi::with_profile(profile).router())
                .with_graceful_shutdown(async {
                    let _ = tokio::signal::ctrl_c().await;
                })
                .await?;
            Ok(true)
        }
    }
}

async fn chat_command(mode: Mode, a: ChatArgs) -> anyhow::Result<bool> {
    let s = chat_run(mode, &a.api, a.users, a.messages, a.pace(), &a.common).await?;
    s.print(a.common.json);
    Ok(s.is_correct())
}

/// A simulated user.
#[derive(Debug, Clone)]
pub struct Credentials {
    pub id: Uuid,
    pub token: String,
}

/// Signs a user up (or reuses it) and logs in.
pub async fn user(http: &reqwest::Client, api: &str, email: &str) -> anyhow::Result<Credentials> {
    let password = "loadgen-password";
    let res = http
        .post(format!("{api}/api/auth/signup"))
        .json(&json!({"email": email, "password": password}))
        .send()
        .await?;
    if !(res.status().is_success() || res.status() == reqwest::StatusCode::CONFLICT) {
        bail!("signup of {email} failed: {}", res.status());
    }
    let res = http
        .post(format!("{api}/api/auth/login"))
        .json(&json!({"email": email, "password": password}))
        .send()
        .await?;
    if !res.status().is_success() {
        bail!("login of {email} failed: {}", res.status());
    }
    let body: Value = res.json().await?;
    Ok(Credentials {
        id: body["user"]["id"].as_str().context("user id")?.parse()?,
        token: body["access_token"].as_str().context("token")?.to_owned(),
    })
}

pub async fn users(
    http: &reqwest::Client,
    api: &str,
    prefix: &str,
    n: usize,
) -> anyhow::Result<Vec<Credentials>> {
    let bar = progress(n as u64, "users");
    let results = futures::stream::iter(0..n)
        .map(|i| {
            let bar = bar.clone();
            async move {
                let u = user(http, api, &format!("{prefix}-{i}@loadgen.example.com")).await;
                bar.inc(1);
                u
            }
        })
        .buffered(16)
        .collect::<Vec<_>>()
        .await;
    bar.finish_and_clear();
    results.into_iter().collect()
}

pub async fn task_count(
    http: &reqwest::Client,
    api: &str,
    user: &Credentials,
) -> anyhow::Result<u64> {
    let tasks: Vec<Value> = http
        .get(format!("{api}/api/{}/tasks", user.id))
        .bearer_auth(&user.token)
        .send()
        .await?
        .error_for_status()?
        .json()
        .await?;
    Ok(tasks.len() as u64)
}

async fn total_tasks(
    http: &reqwest::Client,
    api: &str,
    users: &[Credentials],
) -> anyhow::Result<u64> {
    let counts = futures::stream::iter(users)
        .map(|u| task_count(http, api, u))
        .buffer_unordered(16)
        .collect::<Vec<_>>()
        .await;
    counts.into_iter().sum()
}

fn progress(len: u64, what: &str) -> ProgressBar {
    let bar = ProgressBar::new(len);
    bar.set_style(
        ProgressStyle::with_template(&format!(
            "{{elapsed_precise}} {what} [{{bar:40}}] {{pos}}/{{len}} ({{per_sec}})"
        ))
        .unwrap_or_else(|_| ProgressStyle::default_bar()),
    );
    bar
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Mode {
    Ws,
    Http,
}

/// Each message adds one task, so the expected effect of a run is one task per message.
fn message_text(run: &str, user: usize, n: usize) -> String {
    format!("add a task to check loadgen item {run} {user} {n}")
}

/// Simulated users chatting over WebSocket or HTTP; see [`Command::Ws`].
pub async fn chat_run(
    mode: Mode,
    api: &str,
    n_users: usize,
    messages: usize,
    pace: Pace,
    common: &Common,
) -> anyhow::Result<Summary> {
    let api = api.trim_end_matches('/').to_owned();
    let http = reqwest::Client::builder()
        .pool_max_idle_per_host(n_users.max(1))
        .build()?;
    let creds = users(&http, &api, &common.user_prefix, n_users).await?;
    let before = total_tasks(&http, &api, &creds).await?;
    let run = Uuid::new_v4().simple().to_string()[..8].to_owned();
    let bar = progress((n_users * messages) as u64, "turns");
    let timeout = Duration::from_secs(common.timeout_s);
    let extra_finals = Arc::new(std::sync::atomic::AtomicU64::new(0));
    let finals = Arc::new(std::sync::atomic::AtomicU64::new(0));
    let started = Instant::now();
    let tasks = creds.iter().cloned().enumerate().map(|(u, cred)| {
        let (api, http, bar, run) = (api.clone(), http.clone(), bar.clone(), run.clone());
        let (extra_finals, finals) = (extra_finals.clone(), finals.clone());
        tokio::spawn(async move {
            let mut rec = Recorder::default();
            match mode {
                Mode::Ws => {
                    let url = format!("{}/api/{}/ws", api.replacen("http", "ws", 1), cred.id);
                    let Ok(mut ws) = WsClient::connect(&url, Some(&cred.token)).await else {
                        rec.sent += messages as u64;
                        rec.errors += messages as u64;
                        return rec;
                    };
                    tokio::time::sleep(pace.start_delay(u, n_users)).await;
                    let mut conversation: Option<i64> = None;
                    for m in 0..messages {
                        let t0 = Instant::now();
                        ws.chat(&message_text(&run, u, m), conversation, Some(&format!("{run}-{u}-{m}"))).await;
                        rec.sent += 1;
                        let mut seen_delta = false;
                        let mut done = 0;
                        let deadline = Instant::now() + timeout;
                        while let Some(f) = ws.next_frame(deadline.saturating_duration_since(Instant::now())).await {
                            match f {
                                ServerFrame::Accepted { conversation_id, .. } => {
                                    record(&mut rec.accepted, t0.elapsed());
                                    conversation = Some(conversation_id);
                                }
                                ServerFrame::Delta { .. } if !seen_delta => {
                                    seen_delta = true;
                                    record(&mut rec.ttft, t0.elapsed());
                                }
                                ServerFrame::Done { .. } => {
                                    record(&mut rec.latency, t0.elapsed());
                                    rec.completed += 1;
                                    done += 1;
                                    break;
                                }
                                ServerFrame::Error { .. } | ServerFrame::Cancelled { .. } => {
                                    rec.errors += 1;
                                    done += 1;
                                    break;
                                }
                                _ => {}
                            }
                        }
                        if done > 0 {
                            finals.fetch_add(1, std::sync::atomic::Ordering::Relaxed);
                        }
                        bar.inc(1);
                        if !pace.think.is_zero() {
                            tokio::time::sleep(pace.think).await;
                        }
                    }
                    // Anything still arriving now is a duplicate final.
                    while let Some(f) = ws.next_frame(Duration::from_millis(200)).await {
                        if f.is_terminal() {
                            extra_finals.fetch_add(1, std::sync::atomic::Ordering::Relaxed);
                        }
                    }
                    ws.close().await;
                }
                Mode::Http => {
                    tokio::time::sleep(pace.start_delay(u, n_users)).await;
                    let mut conversation: Option<i64> = None;
                    for m in 0..messages {
                        let t0 = Instant::now();
                        rec.sent += 1;
                        let res = http
                            .post(format!("{api}/api/{}/chat", cred.id))
                            .bearer_auth(&cred.token)
                            .header("idempotency-key", format!("{run}-{u}-{m}"))
                            .timeout(timeout)
                            .json(&json!({"message": message_text(&run, u, m), "conversation_id": conversation}))
                            .send()
                            .await;
                        match res {
                            Ok(r) if r.status().is_success() => {
                                record(&mut rec.ttft, t0.elapsed());
                                if let Ok(body) = r.json::<Value>().await {
                                    conversation = body["conversation_id"].as_i64();
                                    record(&mut rec.latency, t0.elapsed());
                                    rec.completed += 1;
                                    finals.fetch_add(1, std::sync::atomic::Ordering::Relaxed);
                                } else {
                                    rec.errors += 1;
                                }
                            }
                            Ok(_) => {
                                rec.errors += 1;
                                finals.fetch_add(1, std::sync::atomic::Ordering::Relaxed);
                            }
                            Err(_) => rec.errors += 1,
                        }
                        bar.inc(1);
                        if !pace.think.is_zero() {
                            tokio::time::sleep(pace.think).await;
                        }
                    }
                }
            }
            rec
        })
    });
    let mut total = Recorder::default();
    for r in futures::future::join_all(tasks).await {
        total.merge(&r?);
    }
    let elapsed = started.elapsed();
    bar.finish_and_clear();
    let after = total_tasks(&http, &api, &creds).await?;
    let observed = after.saturating_sub(before);
    let (lost, duplicated) = reconcile(
        total.sent,
        finals.load(std::sync::atomic::Ordering::Relaxed),
        extra_finals.load(std::sync::atomic::Ordering::Relaxed),
        if common.check_tasks {
            total.completed
        } else {
            observed
        },
        observed,
    );
    Ok(total.summary(
        if mode == Mode::Ws { "ws" } else { "http" },
        elapsed,
        lost,
        duplicated,
    ))
}

/// The request `loadgen queue` publishes for message `i`: the documented schema (`docs/QUEUE.md`).
pub fn queue_request(request_id: Uuid, user_id: Uuid, i: usize) -> ChatRequest {
    ChatRequest {
        v: SCHEMA_VERSION,
        request_id,
        user_id,
        conversation_id: None,
        message: format!("add a task to queue item {i}"),
        reply_to: None,
        turn: None,
    }
}

#[derive(Default)]
struct Pending {
    sent_at: Option<Instant>,
    first_delta: bool,
    finals: u64,
}

/// Requests published straight to JetStream; see [`Command::Queue`].
#[allow(clippy::too_many_arguments)]
pub async fn queue_run(
    nats_url: &str,
    api: &str,
    requests: usize,
    rate: Option<f64>,
    concurrency: usize,
    n_users: usize,
    prefix: &str,
    common: &Common,
) -> anyhow::Result<Summary> {
    let api = api.trim_end_matches('/').to_owned();
    let http = reqwest::Client::new();
    let creds = users(
        &http,
        &api,
        &format!("{}-queue", common.user_prefix),
        n_users.max(1),
    )
    .await?;
    let before = total_tasks(&http, &api, &creds).await?;
    let nats = async_nats::connect(nats_url)
        .await
        .with_context(|| format!("connecting to {nats_url}"))?;
    let js = async_nats::jetstream::new(nats.clone());
    let mut events = nats.subscribe(format!("{prefix}.events.>")).await?;
    let state: Arc<Mutex<HashMap<Uuid, Pending>>> = Arc::default();
    let rec = Arc::new(Mutex::new(Recorder::default()));
    let slots = Arc::new(Semaphore::new(if rate.is_some() {
        usize::MAX >> 4
    } else {
        concurrency.max(1)
    }));
    let bar = progress(requests as u64, "turns");
    let done_count = Arc::new(std::sync::atomic::AtomicU64::new(0));
    let all_done = Arc::new(tokio::sync::Notify::new());

    // Event reader.
    let reader = {
        let (state, rec, slots, bar, done_count, all_done) = (
            state.clone(),
            rec.clone(),
            slots.clone(),
            bar.clone(),
            done_count.clone(),
            all_done.clone(),
        );
        tokio::spawn(async move {
            while let Some(msg) = events.next().await {
                // The documented event schema, parsed with the project's own types.
                let Ok(event) = serde_json::from_slice::<ChatEvent>(&msg.payload) else {
                    continue;
                };
                let id = event.request_id;
                let mut map = state.lock().await;
                let Some(p) = map.get_mut(&id) else { continue };
                let Some(t0) = p.sent_at else { continue };
                match &event.body {
                    EventBody::Delta { .. } if !p.first_delta => {
                        p.first_delta = true;
                        record(&mut rec.lock().await.ttft, t0.elapsed());
                    }
                    body @ (EventBody::Done { .. } | EventBody::Error { .. }) => {
                        p.finals += 1;
                        if p.finals == 1 {
                            let mut r = rec.lock().await;
                            if matches!(body, EventBody::Done { .. }) {
                                record(&mut r.latency, t0.elapsed());
                                r.completed += 1;
                            } else {
                                r.errors += 1;
                            }
                            drop(r);
                            slots.add_permits(1);
                            bar.inc(1);
                            if done_count.fetch_add(1, std::sync::atomic::Ordering::Relaxed) + 1
                                == requests as u64
                            {
                                all_done.notify_one();
                            }
                        }
                    }
                    _ => {}
                }
            }
        })
    };

    let subject = format!("{prefix}.requests");
    let started = Instant::now();
    let interval = rate.map(|r| Duration::from_secs_f64(1.0 / r.max(0.001)));
    let mut publishes = Vec::with_capacity(requests);
    for i in 0..requests {
        if let Some(every) = interval {
            let due = started + every.mul_f64(i as f64);
            tokio::time::sleep_until(due.into()).await;
        } else {
            slots.acquire().await?.forget();
        }
        let id = Uuid::new_v4();
        let user = &creds[i % creds.len()];
        let body = serde_json::to_string(&queue_request(id, user.id, i))?;
        state.lock().await.insert(
            id,
            Pending {
                sent_at: Some(Instant::now()),
                ..Default::default()
            },
        );
        let mut headers = async_nats::HeaderMap::new();
        headers.insert("Nats-Msg-Id", id.to_string().as_str());
        let ack = js
            .publish_with_headers(subject.clone(), headers, body.into())
            .await?;
        let (rec, state) = (rec.clone(), state.clone());
        publishes.push(tokio::spawn(async move {
            let ok = ack.await.is_ok();
            if let Some(t0) = state.lock().await.get(&id).and_then(|p| p.sent_at) {
                record(&mut rec.lock().await.accepted, t0.elapsed());
            }
            ok
        }));
    }
    let mut publish_errors = 0;
    for p in publishes {
        if !p.await.unwrap_or(false) {
            publish_errors += 1;
        }
    }
    let _ = tokio::time::timeout(Duration::from_secs(common.timeout_s), all_done.notified()).await;
    let elapsed = started.elapsed();
    tokio::time::sleep(Duration::from_millis(300)).await; // late duplicates
    reader.abort();
    bar.finish_and_clear();
    let after = total_tasks(&http, &api, &creds).await?;
    let map = state.lock().await;
    let finals = map.values().filter(|p| p.finals > 0).count() as u64;
    let extra: u64 = map.values().map(|p| p.finals.saturating_sub(1)).sum();
    let mut r = rec.lock().await;
    r.sent = requests as u64;
    r.errors += publish_errors;
    let observed = after.saturating_sub(before);
    let expected = if common.check_tasks {
        r.completed
    } else {
        observed
    };
    let (lost, duplicated) = reconcile(r.sent, finals, extra, expected, observed);
    Ok(r.summary("queue", elapsed, lost, duplicated))
}

fn rss_kib(pid: u32) -> Option<u64> {
    let status = std::fs::read_to_string(format!("/proc/{pid}/status")).ok()?;
    status
        .lines()
        .find(|l| l.starts_with("VmRSS:"))?
        .split_whitespace()
        .nth(1)?
        .parse()
        .ok()
}

/// The pid of the process listening on `port` (from /proc/net/tcp and the processes' fds).
fn pid_listening_on(port: u16) -> Option<u32> {
    let mut inodes = Vec::new();
    for table in ["/proc/net/tcp", "/proc/net/tcp6"] {
        let Ok(text) = std::fs::read_to_string(table) else {
            continue;
        };
        for line in text.lines().skip(1) {
            let cols: Vec<&str> = line.split_whitespace().collect();
            let Some(local) = cols.get(1) else { continue };
            let listening = cols.get(3) == Some(&"0A");
            let p = local
                .rsplit(':')
                .next()
                .and_then(|h| u16::from_str_radix(h, 16).ok());
            if listening && p == Some(port) {
                inodes.push(format!("socket:[{}]", cols.get(9)?));
            }
        }
    }
    for entry in std::fs::read_dir("/proc").ok()?.flatten() {
        let Ok(pid) = entry.file_name().to_string_lossy().parse::<u32>() else {
            continue;
        };
        let Ok(fds) = std::fs::read_dir(entry.path().join("fd")) else {
            continue;
        };
        for fd in fds.flatten() {
            if let Ok(target) = std::fs::read_link(fd.path())
                && inodes.iter().any(|i| target.to_string_lossy() == *i)
            {
                return Some(pid);
            }
        }
    }
    None
}

async fn idle_run(
    api: &str,
    connections: usize,
    hold_s: u64,
    api_pid: Option<u32>,
    json_out: bool,
) -> anyhow::Result<()> {
    let api = api.trim_end_matches('/').to_owned();
    let http = reqwest::Client::new();
    let cred = user(&http, &api, "loadgen-idle@loadgen.example.com").await?;
    let port = url::Url::parse(&api)?
        .port_or_known_default()
        .context("api port")?;
    let pid = api_pid
        .or_else(|| pid_listening_on(port))
        .context("cannot find the api's pid: pass --api-pid")?;
    let rss_before = rss_kib(pid).context("reading the api's RSS")?;
    let url = format!("{}/api/{}/ws", api.replacen("http", "ws", 1), cred.id);
    let bar = progress(connections as u64, "sockets");
    let started = Instant::now();
    let results = futures::stream::iter(0..connections)
        .map(|_| {
            let (url, token, bar) = (url.clone(), cred.token.clone(), bar.clone());
            async move {
                let r = WsClient::connect(&url, Some(&token)).await;
                bar.inc(1);
                r
            }
        })
        .buffer_unordered(128)
        .collect::<Vec<_>>()
        .await;
    bar.finish_and_clear();
    let open_s = started.elapsed().as_secs_f64();
    let failed = results.iter().filter(|r| r.is_err()).count();
    let sockets: Vec<WsClient> = results.into_iter().filter_map(Result::ok).collect();
    tokio::time::sleep(Duration::from_secs(1)).await;
    let mut health = summary::histogram();
    let hold_until = Instant::now() + Duration::from_secs(hold_s);
    let mut rss_held = rss_kib(pid).unwrap_or(rss_before);
    while Instant::now() < hold_until {
        let t0 = Instant::now();
        let ok = http
            .get(format!("{api}/health"))
            .send()
            .await
            .map(|r| r.status().is_success())
            .unwrap_or(false);
        if ok {
            record(&mut health, t0.elapsed());
        }
        rss_held = rss_held.max(rss_kib(pid).unwrap_or(0));
        tokio::time::sleep(Duration::from_millis(200)).await;
    }
    let opened = sockets.len();
    drop(sockets);
    let per_conn = if opened > 0 {
        (rss_held.saturating_sub(rss_before)) as f64 / opened as f64
    } else {
        0.0
    };
    let out = json!({
        "mode": "idle",
        "connections": connections,
        "opened": opened,
        "failed": failed,
        "open_duration_s": (open_s * 1000.0).round() / 1000.0,
        "api_pid": pid,
        "rss_before_kib": rss_before,
        "rss_held_kib": rss_held,
        "rss_per_connection_kib": (per_conn * 100.0).round() / 100.0,
        "health_ms": summary::Percentiles::of(&health),
    });
    if json_out {
        println!("{out}");
    } else {
        println!("{}", serde_json::to_string_pretty(&out)?);
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn published_requests_follow_the_documented_schema() {
        let (id, user) = (Uuid::new_v4(), Uuid::new_v4());
        let wire = serde_json::to_value(queue_request(id, user, 7)).expect("serializes");
        // exactly the fields docs/QUEUE.md shows
        assert_eq!(wire["v"], 1);
        assert_eq!(wire["request_id"], id.to_string());
        assert_eq!(wire["user_id"], user.to_string());
        assert!(wire["conversation_id"].is_null());
        assert!(wire.get("reply_to").is_none());
        let back: ChatRequest = serde_json::from_value(wire).expect("round trip");
        assert!(back.validate().is_ok());
        assert_eq!(back.request_id, id);
    }

    #[tokio::test]
    async fn drop_stream_deletes_the_stream_and_accepts_one_already_gone() {
        // Arrange: a stream of its own on the machine's JetStream
        let url = std::env::var("NATS_URL").unwrap_or_else(|_| "nats://127.0.0.1:4222".into());
        let js = async_nats::jetstream::new(async_nats::connect(&url).await.expect("NATS"));
        let name = format!("LOADGEN_DROP_{}", Uuid::new_v4().simple());
        js.create_stream(async_nats::jetstream::stream::Config {
            name: name.clone(),
            subjects: vec![format!("{name}.>")],
            ..Default::default()
        })
        .await
        .expect("create stream");

        // Act
        let first = drop_stream(&url, &name).await;
        let gone = js.get_stream(&name).await.is_err();
        let again = drop_stream(&url, &name).await;
        // nothing left behind on the shared server, whatever the outcome
        let _ = js.delete_stream(&name).await;

        // Assert
        assert!(first.is_ok(), "deleting: {first:?}");
        assert!(gone, "the stream is gone");
        assert!(
            again.is_ok(),
            "a stream already gone is not an error: {again:?}"
        );
    }

    #[test]
    fn a_ramp_spreads_the_first_messages_evenly_and_none_waits_without_one() {
        let pace = Pace {
            ramp: Duration::from_millis(1000),
            ..Pace::default()
        };
        let delays: Vec<u128> = (0..4).map(|u| pace.start_delay(u, 4).as_millis()).collect();
        assert_eq!(delays, [0, 250, 500, 750]);
        assert_eq!(Pace::default().start_delay(3, 4), Duration::ZERO);
        // Nothing past the ramp, whatever is asked.
        assert_eq!(pace.start_delay(10, 4), Duration::from_millis(1000));
        assert_eq!(pace.start_delay(0, 0), Duration::ZERO);
    }

    #[test]
    fn cli_parses_the_documented_flags() {
        let cli = Cli::try_parse_from([
            "loadgen",
            "ws",
            "--api",
            "http://x:1",
            "--users",
            "3",
            "--messages",
            "4",
            "--think-ms",
            "5",
            "--ramp-ms",
            "900",
            "--json",
        ])
        .expect("ws flags");
        assert!(matches!(
            cli.command,
            Command::Ws(ChatArgs {
                users: 3,
                messages: 4,
                think_ms: 5,
                ramp_ms: 900,
                ..
            })
        ));
        for args in [
            vec![
                "loadgen",
                "http",
                "--api",
                "http://x:1",
                "--users",
                "1",
                "--messages",
                "1",
                "--json",
            ],
            vec![
                "loadgen",
                "queue",
                "--nats",
                "nats://x:4222",
                "--requests",
                "10",
                "--rate",
                "5.5",
                "--json",
            ],
            vec![
                "loadgen",
                "idle",
                "--api",
                "http://x:1",
                "--connections",
                "10",
                "--hold-s",
                "1",
            ],
            vec![
                "loadgen",
                "fake-llm",
                "--addr",
                "127.0.0.1:0",
                "--ttft-ms",
                "1",
                "--tokens",
                "2",
                "--token-ms",
                "3",
                "--tool-call",
            ],
            vec![
                "loadgen",
                "drop-stream",
                "--nats",
                "nats://x:4222",
                "BENCH_1",
            ],
        ] {
            assert!(Cli::try_parse_from(&args).is_ok(), "{args:?}");
        }
    }
}
