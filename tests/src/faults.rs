//! `loadgen faults`: the fault-injection suite. For each fault, a fresh system (private Postgres
//! and NATS, two `api` and two `worker` processes, the fake LLM) carries a steady WebSocket load;
//! the fault is injected, ends, and the load goes on. Then every request is accounted for:
//! answered exactly once, answered more than once, or lost; and every effect in Postgres is
//! counted (a task per request, never two).
//!
//! The clients behave like real ones: each request has a `client_msg_id` (its idempotency key);
//! a request refused before it was accepted (`overloaded`, a dropped socket) is sent again with
//! the same key; after a dropped socket an accepted request is followed with `resume` on any api
//! instance.

use std::collections::HashMap;
use std::path::PathBuf;
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, Ordering};
use std::time::Duration;

use anyhow::{Context, bail};
use futures::{SinkExt, StreamExt};
use serde::Serialize;
use serde_json::{Value, json};
use sqlx::{Connection, Executor, PgConnection};
use todo_common::protocol::{ClientFrame, ServerFrame};
use tokio::sync::Mutex;
use tokio::time::Instant;
use tokio_tungstenite::tungstenite::Message;

use crate::services::{PrivateNats, PrivatePostgres, Service, free_port, wait_for_port};
use todo_loadgen::fake_openai::{FakeOpenAi, Profile};

/// The faults, in the order they run.
pub const FAULTS: &[&str] = &[
    "worker-kill",
    "nats-restart",
    "nats-node-kill",
    "nats-data-loss",
    "postgres-restart",
    "api-kill",
    "llm-hang",
];

#[derive(Debug, Clone, clap::Args)]
pub struct FaultArgs {
    /// Directory with the `api` and `worker` binaries.
    #[arg(long, default_value = "target/debug")]
    pub bin_dir: PathBuf,
    /// Faults to inject (default: all): worker-kill, nats-restart, nats-node-kill (a three-node
    /// cluster loses one node), nats-data-loss, postgres-restart, api-kill, llm-hang.
    #[arg(long, value_delimiter = ',')]
    pub faults: Vec<String>,
    /// Simulated users, each on its own WebSocket, each sending one message after another.
    #[arg(long, default_value_t = 12)]
    pub clients: usize,
    /// Pause between a reply and a user's next message.
    #[arg(long, default_value_t = 100)]
    pub think_ms: u64,
    /// Seconds of load before the fault.
    #[arg(long, default_value_t = 5)]
    pub before_s: u64,
    /// Seconds the fault lasts (a process or server stays down, the model hangs).
    #[arg(long, default_value_t = 3)]
    pub down_s: u64,
    /// Seconds of load after the fault ended.
    #[arg(long, default_value_t = 10)]
    pub after_s: u64,
    /// Print the results as JSON lines instead of a table.
    #[arg(long)]
    pub json: bool,
    /// Keep the servers' data and the processes' logs even when a fault run passed.
    #[arg(long)]
    pub keep: bool,
}

/// What happened to the requests of one fault run.
#[derive(Debug, Clone, Serialize)]
pub struct FaultReport {
    pub fault: String,
    /// Requests the clients sent (distinct idempotency keys).
    pub sent: usize,
    /// Requests the api accepted (stored in Postgres, `accepted` received).
    pub accepted: usize,
    /// Requests sent before the fault began and not yet answered when it did.
    pub in_flight_at_fault: usize,
    /// Requests answered by exactly one `done` or `error`.
    pub answered_once: usize,
    /// Of those, answered with an `error` (the user was told; nothing lost).
    pub errors: usize,
    /// Requests answered more than once.
    pub duplicated_answers: usize,
    /// Requests whose effect (one task named after the message) exists more than once.
    pub duplicated_effects: usize,
    /// Requests answered `done` whose effect is missing, or never answered.
    pub lost: usize,
    /// Times a client was refused (`overloaded`, dropped socket) and sent again.
    pub retries: usize,
    /// Times a client followed an accepted request with `resume` after its socket dropped.
    pub resumes: usize,
    /// Turns that ran more than once in a worker (redelivered or published again) and still had
    /// their effect once.
    pub rerun_turns: i64,
    /// The longest any request waited for its answer.
    pub max_wait_s: f64,
    /// From the fault ending until every request sent before then was answered.
    pub recovery_s: f64,
}

impl FaultReport {
    pub fn ok(&self) -> bool {
        self.lost == 0 && self.duplicated_answers == 0 && self.duplicated_effects == 0
    }
}

#[derive(Debug, Clone, Default)]
struct Request {
    message: String,
    sent_at: Option<Instant>,
    request_id: Option<uuid::Uuid>,
    accepted: bool,
    finals: usize,
    error: Option<String>,
    answered_at: Option<Instant>,
    retries: usize,
    resumes: usize,
}

struct Load {
    apis: Vec<String>,
    think: Duration,
    sending: AtomicBool,
}

/// Runs the chosen faults one after another; returns whether all kept every request.
pub async fn run(args: FaultArgs) -> anyhow::Result<bool> {
    let faults: Vec<String> = if args.faults.is_empty() {
        FAULTS.iter().map(|f| (*f).to_owned()).collect()
    } else {
        args.faults.clone()
    };
    for f in &faults {
        if !FAULTS.contains(&f.as_str()) {
            bail!("unknown fault `{f}`; expected one of {FAULTS:?}");
        }
    }
    let root = std::env::temp_dir().join(format!("todo-chat-faults-{}", std::process::id()));
    std::fs::create_dir_all(&root)?;
    eprintln!("[faults] private servers and logs in {}", root.display());
    let mut reports = Vec::new();
    for fault in &faults {
        eprintln!("[faults] {fault}: starting a fresh system");
        let dir = root.join(fault);
        let report = run_one(&args, fault, &dir)
            .await
            .with_context(|| format!("fault {fault} (logs in {})", dir.display()))?;
        if report.ok() && !args.keep {
            let _ = std::fs::remove_dir_all(&dir);
        } else {
            eprintln!(
                "[faults] {fault} lost or duplicated requests: logs kept in {}",
                dir.display()
            );
        }
        if args.json {
            println!("{}", serde_json::to_string(&report)?);
        }
        reports.push(report);
    }
    if !args.json {
        print_table(&reports);
    }
    let _ = std::fs::remove_dir(&root); // only if empty: failed runs keep their logs
    Ok(reports.iter().all(FaultReport::ok))
}

fn print_table(reports: &[FaultReport]) {
    println!(
        "| fault | sent | accepted | in flight at the fault | answered once | of which errors | duplicated answers | duplicated effects | lost | client retries | resumes | turns rerun | longest wait | recovery |"
    );
    println!("|---|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|");
    for r in reports {
        println!(
            "| {} | {} | {} | {} | {} | {} | {} | {} | {} | {} | {} | {} | {:.1} s | {:.1} s |",
            r.fault,
            r.sent,
            r.accepted,
            r.in_flight_at_fault,
            r.answered_once,
            r.errors,
            r.duplicated_answers,
            r.duplicated_effects,
            r.lost,
            r.retries,
            r.resumes,
            r.rerun_turns,
            r.max_wait_s,
            r.recovery_s
        );
    }
}

async fn run_one(
    args: &FaultArgs,
    fault: &str,
    dir: &std::path::Path,
) -> anyhow::Result<FaultReport> {
    std::fs::create_dir_all(dir)?;
    let pg = PrivatePostgres::start(dir).await?;
    // One server, or (nats-node-kill) a three-node cluster keeping three copies of the stream.
    let mut cluster = if fault == "nats-node-kill" {
        PrivateNats::start_cluster(dir).await?
    } else {
        vec![PrivateNats::start(dir).await?]
    };
    let nats_url = cluster
        .iter()
        .map(PrivateNats::url)
        .collect::<Vec<_>>()
        .join(",");
    let replicas = cluster.len().to_string();
    // About 300 ms per turn: every moment, most users have a turn in flight for the fault to hit.
    let fake = FakeOpenAi::with_profile(Profile {
        ttft: Duration::from_millis(150),
        tokens: 10,
        token_delay: Duration::from_millis(15),
        tool_call: true,
        // A model that words its call differently on every attempt: a retried turn that asked it
        // again would add a second, differently named task.
        vary_arguments: true,
    });
    let fake_listener = tokio::net::TcpListener::bind("127.0.0.1:0").await?;
    let fake_url = format!("http://{}/v1", fake_listener.local_addr()?);
    let router = fake.router();
    let fake_server = tokio::spawn(async move {
        let _ = axum::serve(fake_listener, router).await;
    });

    let database = "todo_chat_faults";
    let mut admin = PgConnection::connect(&pg.url("postgres")).await?;
    admin
        .execute(sqlx::AssertSqlSafe(format!("create database {database}")))
        .await?;
    drop(admin);

    let secret = format!("faults-secret-{}", uuid::Uuid::new_v4().simple());
    let base_env = |extra: &[(&str, String)]| -> Vec<(String, String)> {
        let mut env: Vec<(String, String)> = [
            ("DATABASE_URL", pg.url(database)),
            ("NATS_URL", nats_url.clone()),
            ("NATS_STREAM_REPLICAS", replicas.clone()),
            ("JWT_SECRET", secret.clone()),
            ("METRICS_ADDR", "127.0.0.1:0".into()),
            ("BCRYPT_COST", "4".into()),
            ("LOG_FORMAT", "json".into()),
            ("RUST_LOG", "warn".into()),
            ("AGENT_PROVIDER", "openai".into()),
            ("OPENAI_API_KEY", "sk-fake".into()),
            ("OPENAI_BASE_URL", fake_url.clone()),
            ("OPENAI_TIMEOUT_SECS", "2".into()),
            ("NATS_ACK_WAIT_SECS", "2".into()),
            ("RECONCILE_AFTER_SECS", "5".into()),
            ("WORKER_DRAIN_TIMEOUT_SECS", "5".into()),
            ("DB_ACQUIRE_TIMEOUT_SECS", "2".into()),
            ("DB_POOL_SIZE", "2".into()),
            ("DB_MAX_OVERFLOW", "14".into()),
            ("CHAT_RATE_PER_MINUTE", "0".into()),
            ("CHAT_MAX_IN_FLIGHT", "0".into()),
            ("LOGIN_RATE_PER_MINUTE_PER_IP", "0".into()),
            ("WORKER_HTTP_ADDR", "127.0.0.1:0".into()),
        ]
        .into_iter()
        .map(|(k, v)| (k.to_owned(), v))
        .collect();
        env.extend(extra.iter().map(|(k, v)| ((*k).to_owned(), v.clone())));
        env
    };
    let api_ports = [free_port()?, free_port()?];
    let mut apis: Vec<Service> = api_ports
        .iter()
        .enumerate()
        .map(|(i, port)| {
            Service::new(
                &format!("api-{i}"),
                args.bin_dir.join("api"),
                base_env(&[("API_ADDR", format!("127.0.0.1:{port}"))]),
                dir.join(format!("api-{i}.log")),
            )
        })
        .collect();
    let mut workers: Vec<Service> = (0..2)
        .map(|i| {
            Service::new(
                &format!("worker-{i}"),
                args.bin_dir.join("worker"),
                base_env(&[]),
                dir.join(format!("worker-{i}.log")),
            )
        })
        .collect();
    apis[0].start()?;
    wait_for_port(api_ports[0], Duration::from_secs(60)).await?; // applies the migrations
    apis[1].start()?;
    wait_for_port(api_ports[1], Duration::from_secs(60)).await?;
    for w in &mut workers {
        w.start()?;
    }
    let bases: Vec<String> = api_ports.iter().map(|p| format!("127.0.0.1:{p}")).collect();
    wait_healthy(&bases).await?;

    // Users, then the steady load.
    let load = Arc::new(Load {
        apis: bases.clone(),
        think: Duration::from_millis(args.think_ms),
        sending: AtomicBool::new(true),
    });
    let http = reqwest::Client::new();
    let mut clients = Vec::new();
    for i in 0..args.clients {
        let (user_id, token) = signup(&http, &bases[i % bases.len()], fault, i).await?;
        let load = load.clone();
        let fault = fault.to_owned();
        clients.push(tokio::spawn(async move {
            client(load, i, user_id, token, fault).await
        }));
    }
    tokio::time::sleep(Duration::from_secs(args.before_s)).await;

    let down = Duration::from_secs(args.down_s);
    eprintln!("[faults] {fault}: injecting");
    let fault_started = Instant::now();
    match fault {
        "worker-kill" => {
            workers[0].kill9()?;
            tokio::time::sleep(down).await;
            workers[0].start()?;
        }
        "nats-restart" => cluster[0].restart_after(down, false).await?,
        // One node of three dies (-9) under load and comes back with its store.
        "nats-node-kill" => cluster[0].restart_after(down, false).await?,
        "nats-data-loss" => {
            // With no worker pulling for a second, accepted requests pile up in the stream; then
            // the broker loses its storage with them (and with the turns the killed workers held):
            // only Postgres still knows those requests.
            for w in &mut workers {
                w.kill9()?;
            }
            tokio::time::sleep(Duration::from_secs(1)).await;
            cluster[0].restart_after(down, true).await?;
            for w in &mut workers {
                w.start()?;
            }
        }
        "postgres-restart" => pg.restart_after(down).await?,
        "api-kill" => {
            apis[0].kill9()?;
            tokio::time::sleep(down).await;
            apis[0].start()?;
            wait_for_port(api_ports[0], Duration::from_secs(30)).await?;
        }
        "llm-hang" => {
            fake.set_hanging(true);
            tokio::time::sleep(down).await;
            fake.set_hanging(false);
        }
        _ => unreachable!("checked above"),
    }
    let fault_ended = Instant::now();
    eprintln!("[faults] {fault}: fault over; load continues");
    tokio::time::sleep(Duration::from_secs(args.after_s)).await;
    load.sending.store(false, Ordering::SeqCst);

    let mut requests: Vec<Request> = Vec::new();
    for c in clients {
        requests.extend(c.await.context("client task")?);
    }
    let report = account(
        fault,
        &requests,
        &pg.url(database),
        fault_started,
        fault_ended,
    )
    .await?;

    for s in apis.iter_mut().chain(workers.iter_mut()) {
        if !s.terminate(Duration::from_secs(15)).await {
            eprintln!("[faults] {} did not exit cleanly on SIGTERM", s.name);
        }
    }
    fake_server.abort();
    Ok(report)
}

async fn wait_healthy(bases: &[String]) -> anyhow::Result<()> {
    let http = reqwest::Client::new();
    for base in bases {
        let deadline = Instant::now() + Duration::from_secs(60);
        loop {
            let ok = http
                .get(format!("http://{base}/health"))
                .send()
                .await
                .is_ok_and(|r| r.status().is_success());
            if ok {
                break;
            }
            if Instant::now() > deadline {
                bail!("api {base} not healthy");
            }
            tokio::time::sleep(Duration::from_millis(100)).await;
        }
    }
    Ok(())
}

async fn signup(
    http: &reqwest::Client,
    base: &str,
    fault: &str,
    i: usize,
) -> anyhow::Result<(String, String)> {
    let email = format!(
        "faults-{fault}-{i}-{}@example.com",
        uuid::Uuid::new_v4().simple()
    );
    let password = "fault injection password";
    let res = http
        .post(format!("http://{base}/api/auth/signup"))
        .json(&json!({"email": email, "password": password, "name": "Fault"}))
        .send()
        .await?;
    if !res.status().is_success() {
        bail!("signup: {}", res.status());
    }
    let body: Value = http
        .post(format!("http://{base}/api/auth/login"))
        .json(&json!({"email": email, "password": password}))
        .send()
        .await?
        .json()
        .await?;
    Ok((
        body["user"]["id"].as_str().context("user id")?.to_owned(),
        body["access_token"].as_str().context("token")?.to_owned(),
    ))
}

type Socket =
    tokio_tungstenite::WebSocketStream<tokio_tungstenite::MaybeTlsStream<tokio::net::TcpStream>>;

async fn connect(base: &str, user_id: &str, token: &str) -> Option<Socket> {
    let url = format!("ws://{base}/api/{user_id}/ws?token={token}");
    tokio::time::timeout(
        Duration::from_secs(2),
        tokio_tungstenite::connect_async(url),
    )
    .await
    .ok()?
    .ok()
    .map(|(s, _)| s)
}

/// How long a client waits for one request's answer before counting it lost.
const ANSWER_DEADLINE: Duration = Duration::from_secs(90);
/// Codes that mean "not accepted, send it again".
const REFUSALS: &[&str] = &[
    "overloaded",
    "internal_error",
    "rate_limited",
    "too_many_in_flight",
];

/// One simulated user: sends a message, waits for its answer (retrying, reconnecting and
/// resuming as needed), thinks, sends the next one; keeps listening briefly at the end to catch
/// duplicate answers.
async fn client(
    load: Arc<Load>,
    index: usize,
    user_id: String,
    token: String,
    fault: String,
) -> Vec<Request> {
    let requests: Arc<Mutex<Vec<Request>>> = Arc::default();
    let mut by_id: HashMap<uuid::Uuid, usize> = HashMap::new();
    let mut api = index % load.apis.len();
    let mut socket: Option<Socket> = None;
    let mut seq = 0;
    while load.sending.load(Ordering::SeqCst) {
        seq += 1;
        let cmid = format!("c{index}-{seq}");
        let current = {
            let mut all = requests.lock().await;
            all.push(Request {
                message: format!("add a task to check {fault} client {index} number {seq}"),
                sent_at: Some(Instant::now()),
                ..Request::default()
            });
            all.len() - 1
        };
        let deadline = Instant::now() + ANSWER_DEADLINE;
        let mut need_send = true;
        while Instant::now() < deadline {
            let Some(ws) = socket.as_mut() else {
                match connect(&load.apis[api], &user_id, &token).await {
                    Some(s) => socket = Some(s),
                    None => {
                        api = (api + 1) % load.apis.len();
                        tokio::time::sleep(Duration::from_millis(200)).await;
                    }
                }
                need_send = true;
                continue;
            };
            if need_send {
                let frame = {
                    let mut all = requests.lock().await;
                    let r = &mut all[current];
                    match (&r.request_id, r.accepted) {
                        (Some(id), true) => {
                            r.resumes += 1;
                            ClientFrame::Resume {
                                request_id: *id,
                                client_msg_id: None,
                            }
                        }
                        _ => ClientFrame::Chat {
                            message: r.message.clone(),
                            conversation_id: None,
                            client_msg_id: Some(cmid.clone()),
                        },
                    }
                };
                if ws
                    .send(Message::Text(
                        serde_json::to_string(&frame).unwrap_or_default().into(),
                    ))
                    .await
                    .is_err()
                {
                    socket = None;
                    requests.lock().await[current].retries += 1;
                    continue;
                }
                need_send = false;
            }
            let frame = match tokio::time::timeout(Duration::from_secs(1), ws.next()).await {
                Err(_) => continue,
                Ok(Some(Ok(Message::Text(t)))) => {
                    match serde_json::from_str::<ServerFrame>(t.as_str()) {
                        Ok(v) => v,
                        Err(_) => continue,
                    }
                }
                Ok(Some(Ok(_))) => continue,
                Ok(None | Some(Err(_))) => {
                    socket = None;
                    api = (api + 1) % load.apis.len();
                    requests.lock().await[current].retries += 1;
                    continue;
                }
            };
            let request_id = frame.request_id();
            let frame_cmid = match &frame {
                ServerFrame::Accepted { client_msg_id, .. }
                | ServerFrame::Error { client_msg_id, .. } => client_msg_id.as_deref(),
                _ => None,
            };
            let mut all = requests.lock().await;
            // Which request is this frame about?
            let target = match (&request_id, frame_cmid) {
                (_, Some(id)) if id == cmid => Some(current),
                (Some(rid), _) => by_id.get(rid).copied(),
                _ => None,
            };
            let Some(target) = target else { continue };
            match frame {
                ServerFrame::Accepted {
                    request_id: rid, ..
                } => {
                    by_id.insert(rid, target);
                    all[target].request_id = Some(rid);
                    all[target].accepted = true;
                }
                ServerFrame::Done { .. } | ServerFrame::Cancelled { .. } => {
                    all[target].finals += 1;
                    all[target].answered_at.get_or_insert_with(Instant::now);
                    if target == current {
                        break;
                    }
                }
                ServerFrame::Error { code, .. } => {
                    if target == current
                        && !all[target].accepted
                        && REFUSALS.contains(&code.as_str())
                    {
                        all[target].retries += 1;
                        drop(all);
                        tokio::time::sleep(Duration::from_millis(500)).await;
                        need_send = true;
                        continue;
                    }
                    all[target].finals += 1;
                    all[target].error = Some(code);
                    all[target].answered_at.get_or_insert_with(Instant::now);
                    if target == current {
                        break;
                    }
                }
                _ => {}
            }
        }
        tokio::time::sleep(load.think).await;
    }
    // Listen a little longer: a duplicate answer would arrive now.
    if let Some(ws) = socket.as_mut() {
        let until = Instant::now() + Duration::from_secs(2);
        while let Ok(Some(Ok(msg))) = tokio::time::timeout_at(until, ws.next()).await {
            if let Message::Text(t) = msg
                && let Ok(frame) = serde_json::from_str::<ServerFrame>(t.as_str())
                && frame.is_terminal()
                && let Some(&i) = frame.request_id().and_then(|id| by_id.get(&id))
            {
                requests.lock().await[i].finals += 1;
            }
        }
        let _ = ws.close(None).await;
    }
    requests.lock().await.clone()
}

async fn account(
    fault: &str,
    requests: &[Request],
    database_url: &str,
    fault_started: Instant,
    fault_ended: Instant,
) -> anyhow::Result<FaultReport> {
    let mut conn = PgConnection::connect(database_url).await?;
    let counts: Vec<(String, i64)> =
        // Titles carry the model's per-call suffix (` #<nonce>`): effects count per message.
        sqlx::query_as(
            "select regexp_replace(title, ' #[0-9a-f]{8}$', '') as message, count(*) from tasks group by 1",
        )
            .fetch_all(&mut conn)
            .await?;
    let effects: HashMap<String, i64> = counts
        .into_iter()
        .map(|(title, n)| (title.to_lowercase(), n))
        .collect();
    let rerun_turns: i64 =
        sqlx::query_scalar("select count(*) from chat_requests where attempts > 1")
            .fetch_one(&mut conn)
            .await?;
    let effect_of = |r: &Request| effects.get(&r.message.to_lowercase()).copied().unwrap_or(0);
    let mut report = FaultReport {
        fault: fault.to_owned(),
        sent: requests.len(),
        accepted: requests.iter().filter(|r| r.accepted).count(),
        in_flight_at_fault: requests
            .iter()
            .filter(|r| {
                r.sent_at.is_some_and(|s| s < fault_started)
                    && r.answered_at.is_none_or(|a| a > fault_started)
            })
            .count(),
        answered_once: 0,
        errors: 0,
        duplicated_answers: 0,
        duplicated_effects: 0,
        lost: 0,
        retries: requests.iter().map(|r| r.retries).sum(),
        resumes: requests.iter().map(|r| r.resumes).sum(),
        rerun_turns,
        max_wait_s: requests
            .iter()
            .filter_map(|r| Some(r.answered_at?.saturating_duration_since(r.sent_at?)))
            .max()
            .unwrap_or_default()
            .as_secs_f64(),
        recovery_s: 0.0,
    };
    for r in requests {
        match r.finals {
            0 => report.lost += 1,
            1 => {
                report.answered_once += 1;
                if r.error.is_some() {
                    report.errors += 1;
                } else if effect_of(r) == 0 {
                    report.lost += 1;
                }
            }
            _ => report.duplicated_answers += 1,
        }
        if effect_of(r) > 1 {
            report.duplicated_effects += 1;
        }
        if r.sent_at.is_some_and(|s| s < fault_ended)
            && let Some(answered) = r.answered_at
        {
            let after = answered
                .saturating_duration_since(fault_ended)
                .as_secs_f64();
            report.recovery_s = report.recovery_s.max(after);
        }
    }
    Ok(report)
}
