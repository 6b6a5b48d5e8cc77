//! Test support for todo-chat's end-to-end tests.
//!
//! - [`TestApp`]: the real api (port 0) and real workers in-process, against a fresh Postgres
//!   database and JetStream stream / consumer / subject names of their own, with typed helpers.
//! - [`fake_openai`]: an OpenAI-compatible streaming server scripted per test (the only fake:
//!   the real provider is an external paid API), and [`ws`], the typed WebSocket chat client:
//!   both from the `loadgen` crate, re-exported.
//! - [`nats_server`]: a nats-server started with deploy/nats/nats.conf (least-privilege roles).
//! - [`terminal`]: the terminal client `todo` run with scripted input.
//! - [`faults`] and [`services`]: the fault-injection suite (`faults` binary, docs/RELIABILITY.md)
//!   and the private Postgres / NATS / processes it breaks.

pub mod faults;
pub mod nats_server;
pub mod services;
pub mod terminal;

pub use todo_loadgen as loadgen;
pub use todo_loadgen::{fake_openai, ws};

use std::time::Duration;

use reqwest::StatusCode;
use serde_json::{Value, json};
use sqlx::{Connection, Executor, PgConnection, PgPool};
use todo_common::config::{AgentConfig, Cli, Config, LimitsConfig, OpenAiConfig};
use tokio::task::JoinHandle;
use tokio_util::sync::CancellationToken;
use uuid::Uuid;

pub use ws::WsClient;

/// Admin connection used to create and drop test databases.
pub fn admin_database_url() -> String {
    std::env::var("TEST_DATABASE_URL")
        .unwrap_or_else(|_| "postgres://postgres@127.0.0.1:5432/postgres".into())
}

pub fn nats_url() -> String {
    std::env::var("NATS_URL").unwrap_or_else(|_| "nats://127.0.0.1:4222".into())
}

pub const TEST_SECRET: &str = "test-secret-that-is-long-enough-0123456789";

/// How a [`TestApp`] is started.
#[derive(Clone)]
pub struct TestOptions {
    pub workers: usize,
    pub agent: AgentConfig,
    /// Overrides the database URL (e.g. a dead port); no database is created then.
    pub database_url: Option<String>,
    pub nats_url: Option<String>,
    pub ack_wait: Duration,
    pub max_deliver: i64,
    pub worker_concurrency: usize,
    /// Rate and in-flight limits (all off by default; the limit tests turn them on).
    pub limits: LimitsConfig,
    pub reconcile_after: Duration,
    pub drain_timeout: Duration,
    pub stream_max_msgs: i64,
    /// Names the stream (`TEST_<tag>`), consumer and subject prefix; random when `None`.
    pub tag: Option<String>,
    /// NATS (user, password) of the api and of the workers, for a server that requires them.
    pub nats_api: Option<(String, String)>,
    pub nats_worker: Option<(String, String)>,
    /// `REQUEST_TIMEOUT_SECS` of the api.
    pub request_timeout: Duration,
}

impl Default for TestOptions {
    fn default() -> Self {
        Self {
            workers: 1,
            agent: AgentConfig::Builtin,
            database_url: None,
            nats_url: None,
            ack_wait: Duration::from_secs(3),
            max_deliver: 5,
            worker_concurrency: 16,
            limits: LimitsConfig::off(),
            reconcile_after: Duration::from_secs(30),
            drain_timeout: Duration::from_secs(10),
            stream_max_msgs: 1_000_000,
            tag: None,
            nats_api: None,
            nats_worker: None,
            request_timeout: Duration::from_secs(30),
        }
    }
}

impl TestOptions {
    pub fn openai(base_url: &str) -> Self {
        Self {
            agent: AgentConfig::OpenAi(OpenAiConfig {
                api_key: "sk-test".to_owned().into(),
                base_url: base_url.to_owned(),
                model: "fake-model".into(),
                timeout: Duration::from_secs(2),
                max_retries: 2,
                early_start_conversations: 1_000,
                max_tool_rounds: 5,
                max_tool_calls: 12,
            }),
            ..Self::default()
        }
    }
}

/// A signed-up, logged-in user.
#[derive(Debug, Clone)]
pub struct TestUser {
    pub id: Uuid,
    pub email: String,
    pub password: String,
    pub token: String,
}

pub struct TestApp {
    pub base: String,
    /// `http://addr` of the api's metrics listener.
    pub metrics_base: String,
    pub http: reqwest::Client,
    pub db: PgPool,
    pub config: Config,
    pub nats: async_nats::Client,
    db_name: Option<String>,
    api_stop: CancellationToken,
    api_task: Option<JoinHandle<anyhow::Result<()>>>,
    workers: Vec<(CancellationToken, JoinHandle<anyhow::Result<()>>)>,
    /// `http://addr` of each worker's `/health` and `/metrics` server.
    pub worker_bases: Vec<String>,
    /// The workers' NATS credentials, when they differ from the api's.
    worker_credentials: Option<(String, secrecy::SecretString)>,
}

/// A configuration for tests: validated through the same path as the binaries.
pub fn test_config(database_url: &str, nats_url: &str, tag: &str, options: &TestOptions) -> Config {
    use clap::Parser;
    let ack_wait = options.ack_wait.as_secs().max(1).to_string();
    let max_deliver = options.max_deliver.to_string();
    let concurrency = options.worker_concurrency.to_string();
    let stream_max_msgs = options.stream_max_msgs.to_string();
    let reconcile_after = options.reconcile_after.as_secs().max(1).to_string();
    let cli = Cli::try_parse_from([
        "test",
        "--database-url",
        database_url,
        "--nats-url",
        nats_url,
        "--jwt-secret",
        TEST_SECRET,
        "--api-addr",
        "127.0.0.1:0",
        "--metrics-addr",
        "127.0.0.1:0",
        "--bcrypt-cost",
        "4",
        "--db-pool-size",
        "2",
        "--db-max-overflow",
        "8",
        "--log-format",
        "pretty",
        "--chat-timeout-secs",
        "20",
        "--nats-stream",
        &format!("TEST_{tag}"),
        "--nats-consumer",
        &format!("workers_{tag}"),
        "--nats-subject-prefix",
        &format!("test_{tag}"),
        "--nats-ack-wait-secs",
        &ack_wait,
        "--nats-max-deliver",
        &max_deliver,
        "--worker-concurrency",
        &concurrency,
        "--worker-http-addr",
        "127.0.0.1:0",
        "--nats-stream-max-msgs",
        &stream_max_msgs,
        "--reconcile-after-secs",
        &reconcile_after,
    ])
    .expect("test flags parse");
    let mut config = cli.config.validate(None).expect("test config is valid");
    config.request_timeout = options.request_timeout;
    config.worker.agent = options.agent.clone();
    config.limits = options.limits.clone();
    config.worker.drain_timeout = options.drain_timeout;
    config
}

impl TestApp {
    /// Api + one worker with the built-in agent.
    pub async fn spawn() -> Self {
        Self::spawn_with(TestOptions::default()).await
    }

    /// Api and database, no worker: for tests that call the SQL directly.
    pub async fn spawn_without_workers() -> Self {
        Self::spawn_with(TestOptions {
            workers: 0,
            ..TestOptions::default()
        })
        .await
    }

    pub async fn spawn_with(options: TestOptions) -> Self {
        todo_common::telemetry::init_for_tests();
        todo_common::telemetry::install_crypto_provider();
        let tag = options
            .tag
            .clone()
            .unwrap_or_else(|| Uuid::new_v4().simple().to_string());
        let (database_url, db_name) = match &options.database_url {
            Some(url) => (url.clone(), None),
            None => {
                let name = format!("todo_chat_test_{tag}");
                let mut admin = PgConnection::connect(&admin_database_url())
                    .await
                    .expect("connect to Postgres as admin");
                admin
                    .execute(sqlx::AssertSqlSafe(format!(r#"create database "{name}""#)))
                    .await
                    .expect("create test database");
                let mut url = url::Url::parse(&admin_database_url()).expect("admin url");
                url.set_path(&name);
                (url.to_string(), Some(name))
            }
        };
        let nats_url = options.nats_url.clone().unwrap_or_else(nats_url);
        let mut config = test_config(&database_url, &nats_url, &tag, &options);
        config.database.run_migrations = db_name.is_some();
        config.nats.credentials = options
            .nats_api
            .clone()
            .map(|(user, password)| (user, password.into()));
        let worker_credentials = options
            .nats_worker
            .clone()
            .map(|(user, password)| (user, password.into()));
        let app = todo_api::Application::build(config.clone())
            .await
            .expect("api builds");
        let base = format!("http://{}", app.local_addr());
        let metrics_base = format!("http://{}", app.metrics_addr());
        let db = app.state().db.clone();
        let nats = app.state().nats.clone();
        let api_stop = CancellationToken::new();
        let stop = api_stop.clone();
        let api_task = tokio::spawn(app.run_until_stopped(async move { stop.cancelled().await }));
        let mut test_app = Self {
            base,
            metrics_base,
            http: reqwest::Client::builder()
                .timeout(Duration::from_secs(30))
                .build()
                .expect("http client"),
            db,
            config,
            nats,
            db_name,
            api_stop,
            api_task: Some(api_task),
            workers: Vec::new(),
            worker_bases: Vec::new(),
            worker_credentials,
        };
        test_app.wait_for_stream().await;
        for _ in 0..options.workers {
            test_app.start_worker().await;
        }
        test_app
    }

    /// Waits (at most 10 s) until the api has created its request stream, as a client would wait
    /// for it to become ready. The api creates it in the background and retries when creating it
    /// fails: nats-server 2.9 sometimes refuses a stream created while another test deletes the
    /// last stream of the account ("could not create storage directory"). A test that starts
    /// without a reachable NATS does not wait.
    async fn wait_for_stream(&self) {
        if self.nats.connection_state() != async_nats::connection::State::Connected {
            return;
        }
        let js = async_nats::jetstream::new(self.nats.clone());
        let stream = &self.config.nats.stream;
        let created = async {
            while js.get_stream(stream).await.is_err() {
                tokio::time::sleep(Duration::from_millis(100)).await;
            }
        };
        let _ = tokio::time::timeout(Duration::from_secs(10), created).await;
    }

    /// Starts one more worker (same config, sharing the consumer).
    pub async fn start_worker(&mut self) -> usize {
        let mut config = self.config.clone();
        config.database.run_migrations = false;
        if self.worker_credentials.is_some() {
            config.nats.credentials.clone_from(&self.worker_credentials);
        }
        let worker = todo_worker::Worker::build(config)
            .await
            .expect("worker builds");
        self.worker_bases
            .push(format!("http://{}", worker.http_addr()));
        let stop = CancellationToken::new();
        let s = stop.clone();
        let handle = tokio::spawn(worker.run_until_stopped(async move { s.cancelled().await }));
        self.workers.push((stop, handle));
        self.workers.len() - 1
    }

    /// Asks a worker to stop, as SIGTERM does, and waits for it to exit.
    pub async fn stop_worker(&mut self, index: usize) -> anyhow::Result<()> {
        let (stop, handle) = &mut self.workers[index];
        stop.cancel();
        // Leave a finished handle behind: teardown awaits every worker's.
        let handle = std::mem::replace(handle, tokio::spawn(async { Ok(()) }));
        handle.await?
    }

    /// The api's `/metrics` text (from its own listener).
    pub async fn metrics(&self) -> String {
        self.http
            .get(format!("{}/metrics", self.metrics_base))
            .send()
            .await
            .expect("metrics request")
            .text()
            .await
            .expect("metrics text")
    }

    /// Kills a worker abruptly (its in-flight turns are abandoned mid-way, like `kill -9`).
    pub fn kill_worker(&mut self, index: usize) {
        self.workers[index].1.abort();
    }

    /// The URL of this app's database.
    pub fn database_url(&self) -> String {
        let name = self.db_name.clone().expect("a database of the test's own");
        let mut url = url::Url::parse(&admin_database_url()).expect("admin url");
        url.set_path(&name);
        url.to_string()
    }

    pub fn url(&self, path: &str) -> String {
        format!("{}{path}", self.base)
    }

    pub async fn signup(&self, email: &str, password: &str) -> reqwest::Response {
        self.http
            .post(self.url("/api/auth/signup"))
            .json(&json!({"email": email, "password": password, "name": "Test User"}))
            .send()
            .await
            .expect("signup request")
    }

    pub async fn login(&self, email: &str, password: &str) -> reqwest::Response {
        self.http
            .post(self.url("/api/auth/login"))
            .json(&json!({"email": email, "password": password}))
            .send()
            .await
            .expect("login request")
    }

    /// Signs up a fresh user and logs in.
    pub async fn user(&self) -> TestUser {
        let email = format!("user-{}@example.com", Uuid::new_v4().simple());
        let password = "correct horse battery".to_owned();
        let res = self.signup(&email, &password).await;
        assert_eq!(res.status(), StatusCode::CREATED, "signup");
        let res = self.login(&email, &password).await;
        assert_eq!(res.status(), StatusCode::OK, "login");
        let body: Value = res.json().await.expect("login json");
        TestUser {
            id: body["user"]["id"]
                .as_str()
                .and_then(|s| s.parse().ok())
                .expect("user id"),
            email,
            password,
            token: body["access_token"].as_str().expect("token").to_owned(),
        }
    }

    /// A request with the user's bearer token.
    pub fn authed(
        &self,
        user: &TestUser,
        method: reqwest::Method,
        path: &str,
    ) -> reqwest::RequestBuilder {
        self.http
            .request(method, self.url(path))
            .bearer_auth(&user.token)
    }

    pub async fn create_task(&self, user: &TestUser, title: &str) -> Value {
        let res = self
            .authed(
                user,
                reqwest::Method::POST,
                &format!("/api/{}/tasks", user.id),
            )
            .json(&json!({"title": title}))
            .send()
            .await
            .expect("create task");
        assert_eq!(res.status(), StatusCode::CREATED, "create task");
        res.json().await.expect("task json")
    }

    /// `POST /api/{user_id}/tasks` with any body; asserts 201 and returns the task.
    pub async fn create_task_with(&self, user: &TestUser, body: &Value) -> Value {
        let res = self
            .authed(
                user,
                reqwest::Method::POST,
                &format!("/api/{}/tasks", user.id),
            )
            .json(body)
            .send()
            .await
            .expect("create task");
        let status = res.status();
        let body: Value = res.json().await.expect("task json");
        assert_eq!(status, StatusCode::CREATED, "create task: {body}");
        body
    }

    /// `PATCH /api/auth/me`: sets the user's timezone; asserts 200.
    pub async fn set_timezone(&self, user: &TestUser, timezone: &str) {
        let res = self
            .authed(user, reqwest::Method::PATCH, "/api/auth/me")
            .json(&json!({"timezone": timezone}))
            .send()
            .await
            .expect("patch me");
        assert_eq!(res.status(), StatusCode::OK, "set timezone");
    }

    /// `GET` of a user path (relative to `/api/{user_id}`), returning status, headers and JSON.
    pub async fn get_json(
        &self,
        user: &TestUser,
        path: &str,
    ) -> (StatusCode, reqwest::header::HeaderMap, Value) {
        let res = self
            .authed(
                user,
                reqwest::Method::GET,
                &format!("/api/{}{path}", user.id),
            )
            .send()
            .await
            .expect("get");
        let status = res.status();
        let headers = res.headers().clone();
        (status, headers, res.json().await.unwrap_or(Value::Null))
    }

    /// `PATCH /api/{user_id}/tasks/{id}/{action}` (`complete`, `uncomplete`); asserts 200.
    pub async fn patch_task(&self, user: &TestUser, id: i64, action: &str) -> Value {
        let res = self
            .authed(
                user,
                reqwest::Method::PATCH,
                &format!("/api/{}/tasks/{id}/{action}", user.id),
            )
            .send()
            .await
            .expect("patch task");
        assert_eq!(res.status(), StatusCode::OK, "{action}");
        res.json().await.expect("task json")
    }

    pub async fn list_tasks(&self, user: &TestUser, status: &str) -> Vec<Value> {
        let res = self
            .authed(
                user,
                reqwest::Method::GET,
                &format!("/api/{}/tasks?status={status}", user.id),
            )
            .send()
            .await
            .expect("list tasks");
        assert_eq!(res.status(), StatusCode::OK, "list tasks");
        res.json().await.expect("tasks json")
    }

    /// `POST /api/{user_id}/chat`; returns status and JSON body.
    pub async fn chat(
        &self,
        user: &TestUser,
        message: &str,
        conversation_id: Option<i64>,
    ) -> (StatusCode, Value) {
        let res = self
            .authed(
                user,
                reqwest::Method::POST,
                &format!("/api/{}/chat", user.id),
            )
            .json(&json!({"message": message, "conversation_id": conversation_id}))
            .send()
            .await
            .expect("chat request");
        let status = res.status();
        (status, res.json().await.unwrap_or(Value::Null))
    }

    /// A second api instance on the same database and stream (port 0); stops with the returned token.
    pub async fn second_api(&self) -> (String, CancellationToken) {
        let mut config = self.config.clone();
        config.database.run_migrations = false;
        let app = todo_api::Application::build(config)
            .await
            .expect("second api builds");
        let base = format!("http://{}", app.local_addr());
        let stop = CancellationToken::new();
        let s = stop.clone();
        tokio::spawn(app.run_until_stopped(async move { s.cancelled().await }));
        (base, stop)
    }

    /// Opens a chat WebSocket for the user (token in the `Authorization` header).
    pub async fn ws(&self, user: &TestUser) -> WsClient {
        let url = format!(
            "{}/api/{}/ws",
            self.base.replace("http://", "ws://"),
            user.id
        );
        WsClient::connect(&url, Some(&user.token))
            .await
            .expect("websocket connects")
    }

    /// Publishes a request straight to the queue, as docs/QUEUE.md shows a load script doing.
    pub async fn publish_request(&self, request: &Value) {
        let js = async_nats::jetstream::new(self.nats.clone());
        let id = request["request_id"]
            .as_str()
            .expect("request_id")
            .to_owned();
        let mut headers = async_nats::HeaderMap::new();
        headers.insert("Nats-Msg-Id", id.as_str());
        js.publish_with_headers(
            self.config.nats.request_subject(),
            headers,
            request.to_string().into(),
        )
        .await
        .expect("publish")
        .await
        .expect("publish ack");
    }

    /// Counts rows of a query (for asserting effects in the database).
    pub async fn count(&self, sql: &'static str, user: &TestUser) -> i64 {
        sqlx::query_scalar(sql)
            .bind(user.id)
            .fetch_one(&self.db)
            .await
            .expect("count query")
    }

    /// How many transactions wrote a turn's rows: its request, its messages, its effect records
    /// and its user's tasks.
    pub async fn transactions_of_turn(&self, request_id: Uuid) -> i64 {
        sqlx::query_scalar(
            "select count(distinct x) from (
                 select xmin::text as x from chat_requests where request_id = $1
                 union all select xmin::text from messages where request_id = $1
                 union all select xmin::text from tool_effects where request_id = $1
                 union all select xmin::text from tasks
                     where user_id = (select user_id from chat_requests where request_id = $1)
             ) rows",
        )
        .bind(request_id)
        .fetch_one(&self.db)
        .await
        .expect("xmin")
    }

    /// Stops api and workers, deletes the stream and drops the database.
    pub async fn shutdown(mut self) {
        self.teardown().await;
    }

    async fn teardown(&mut self) {
        for (stop, handle) in self.workers.drain(..) {
            stop.cancel();
            let _ = tokio::time::timeout(Duration::from_secs(5), handle).await;
        }
        self.api_stop.cancel();
        if let Some(task) = self.api_task.take() {
            let _ = tokio::time::timeout(Duration::from_secs(5), task).await;
        }
        let js = async_nats::jetstream::new(self.nats.clone());
        let _ = tokio::time::timeout(
            Duration::from_secs(2),
            js.delete_stream(&self.config.nats.stream),
        )
        .await;
        if let Some(name) = self.db_name.take() {
            self.db.close().await;
            if let Ok(mut admin) = PgConnection::connect(&admin_database_url()).await {
                let _ = admin
                    .execute(sqlx::AssertSqlSafe(format!(
                        r#"drop database if exists "{name}" with (force)"#
                    )))
                    .await;
            }
        }
    }
}

impl Drop for TestApp {
    fn drop(&mut self) {
        // A test that panicked before `shutdown` still removes its database and its stream.
        self.api_stop.cancel();
        for (stop, handle) in &self.workers {
            stop.cancel();
            handle.abort();
        }
        if self.db_name.is_none() {
            return;
        }
        let stream = self.config.nats.stream.clone();
        let nats_url = self.config.nats.url.clone();
        let credentials = self.config.nats.credentials.is_some();
        if let Some(name) = self.db_name.take() {
            let _ = std::thread::spawn(move || {
                let Ok(rt) = tokio::runtime::Builder::new_current_thread()
                    .enable_all()
                    .build()
                else {
                    return;
                };
                rt.block_on(async {
                    // (servers with roles are the test's own, gone with it)
                    if !credentials
                        && let Ok(Ok(nats)) = tokio::time::timeout(
                            Duration::from_secs(2),
                            async_nats::connect(nats_url),
                        )
                        .await
                    {
                        let _ = tokio::time::timeout(
                            Duration::from_secs(2),
                            async_nats::jetstream::new(nats).delete_stream(&stream),
                        )
                        .await;
                    }
                    if let Ok(mut admin) = PgConnection::connect(&admin_database_url()).await {
                        let _ = admin
                            .execute(sqlx::AssertSqlSafe(format!(
                                r#"drop database if exists "{name}" with (force)"#
                            )))
                            .await;
                    }
                });
            })
            .join();
        }
    }
}

/// Sum of the samples of metric `name` (exact series name, e.g. `todo_http_requests_total` or
/// `todo_chat_turn_duration_seconds_count`) whose labels include every `labels` pair, in a
/// Prometheus text exposition.
pub fn metric(text: &str, name: &str, labels: &[(&str, &str)]) -> f64 {
    text.lines()
        .filter(|l| !l.starts_with('#'))
        .filter_map(|line| {
            let (series, value) = line.rsplit_once(' ')?;
            let (series_name, series_labels) = match series.split_once('{') {
                Some((n, rest)) => (n, rest.trim_end_matches('}')),
                None => (series, ""),
            };
            (series_name == name
                && labels
                    .iter()
                    .all(|(k, v)| series_labels.contains(&format!("{k}=\"{v}\""))))
            .then(|| value.parse::<f64>().ok())
            .flatten()
        })
        .sum()
}

/// Whether the exposition has any series of metric `name`.
pub fn has_metric(text: &str, name: &str) -> bool {
    text.lines().any(|l| {
        l.strip_prefix(name)
            .is_some_and(|rest| rest.starts_with('{') || rest.starts_with(' '))
    })
}

/// Polls `check` until it returns `Some` or `timeout` passes.
pub async fn eventually<T, F, Fut>(timeout: Duration, mut check: F) -> Option<T>
where
    F: FnMut() -> Fut,
    Fut: std::future::Future<Output = Option<T>>,
{
    let deadline = tokio::time::Instant::now() + timeout;
    loop {
        if let Some(v) = check().await {
            return Some(v);
        }
        if tokio::time::Instant::now() > deadline {
            return None;
        }
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
}
