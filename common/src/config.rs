//! Typed configuration shared by the `api` and `worker` binaries.
//!
//! Every setting comes from a command-line flag or its environment variable (a `.env` file is read
//! first when present). [`ConfigArgs`] is what clap parses; [`ConfigArgs::validate`] turns it into a
//! [`Config`] or a [`ConfigError`] that names the variable and says what is expected.

use std::net::SocketAddr;
use std::num::NonZeroU32;
use std::str::FromStr;
use std::time::Duration;

use secrecy::SecretString;
use sqlx::postgres::PgConnectOptions;

/// Lowest bcrypt cost accepted at all; anything below 12 logs a warning.
pub const MIN_BCRYPT_COST: u32 = 4;
/// bcrypt cost recommended for production.
pub const DEFAULT_BCRYPT_COST: u32 = 12;
/// Minimum length of the JWT signing secret.
pub const MIN_JWT_SECRET_LEN: usize = 32;

/// A configuration value that is missing or malformed. Displayed as one line naming the variable.
#[derive(Debug, thiserror::Error)]
#[error("invalid configuration: {var}: {expected}")]
pub struct ConfigError {
    pub var: &'static str,
    pub expected: String,
}

impl ConfigError {
    fn new(var: &'static str, expected: impl Into<String>) -> Self {
        Self {
            var,
            expected: expected.into(),
        }
    }
}

/// Log output format.
#[derive(Debug, Clone, Copy, PartialEq, Eq, clap::ValueEnum)]
pub enum LogFormat {
    Json,
    Pretty,
}

/// Which agent the worker runs.
#[derive(Debug, Clone, Copy, PartialEq, Eq, clap::ValueEnum)]
pub enum AgentProvider {
    /// `openai` when `OPENAI_API_KEY` is set, `builtin` otherwise.
    Auto,
    /// The offline rule-based agent: no network, no key.
    Builtin,
    /// Any OpenAI-compatible chat-completions server (`OPENAI_BASE_URL`).
    Openai,
}

/// Which binary loads the configuration: each reads, requires and lists (`--help`) only the
/// settings it uses.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Role {
    Api,
    Worker,
    /// Both (tests that run an api and workers from one configuration).
    All,
}

/// Settings only the api uses.
const API_ONLY: &[&str] = &[
    "JWT_SECRET",
    "ALLOW_WEAK_SECRETS",
    "JWT_EXPIRES_IN_SECS",
    "JWT_ISSUER",
    "API_ADDR",
    "METRICS_ADDR",
    "BCRYPT_COST",
    "CORS_ORIGINS",
    "REQUEST_TIMEOUT_SECS",
    "CHAT_TIMEOUT_SECS",
    "SHUTDOWN_DELAY_SECS",
    "CHAT_RATE_PER_MINUTE",
    "CHAT_MAX_IN_FLIGHT",
    "LOGIN_RATE_PER_MINUTE_PER_EMAIL",
    "LOGIN_RATE_PER_MINUTE_PER_IP",
    "SIGNUP_RATE_PER_HOUR_PER_IP",
    "SIGNUP_RATE_PER_MINUTE",
    "WS_MAX_PER_USER",
    "WS_MAX_PER_IP",
    "WS_FRAMES_PER_SECOND",
    "RECONCILE_AFTER_SECS",
];

/// Settings only the worker uses.
const WORKER_ONLY: &[&str] = &[
    "WORKER_HTTP_ADDR",
    "WORKER_DRAIN_TIMEOUT_SECS",
    "WORKER_CONCURRENCY",
    "AGENT_PROVIDER",
    "OPENAI_API_KEY",
    "OPENAI_BASE_URL",
    "OPENAI_AGENT_MODEL",
    "OPENAI_TIMEOUT_SECS",
    "OPENAI_MAX_RETRIES",
    "OPENAI_EARLY_START_CONVERSATIONS",
    "AGENT_MAX_TOOL_ROUNDS",
    "AGENT_MAX_TOOL_CALLS",
];

impl Role {
    /// Whether this binary uses the setting read from `var` (everything else is shared:
    /// database, NATS, logging, the task limit).
    pub fn uses(self, var: &str) -> bool {
        match self {
            Self::All => true,
            Self::Api => !WORKER_ONLY.contains(&var),
            Self::Worker => !API_ONLY.contains(&var),
        }
    }
}

/// Raw settings as parsed by clap from flags and environment variables.
#[derive(Debug, Clone, clap::Args)]
pub struct ConfigArgs {
    /// Postgres connection URL.
    #[arg(
        long,
        env = "DATABASE_URL",
        default_value = "postgres://postgres@127.0.0.1:5432/todo_chat",
        hide_env_values = true
    )]
    pub database_url: String,
    /// NATS server URL (JetStream must be enabled).
    #[arg(long, env = "NATS_URL", default_value = "nats://127.0.0.1:4222")]
    pub nats_url: String,
    /// NATS user of this process's role (`api` or `worker` in deploy/nats/nats.conf); empty:
    /// connect without credentials.
    #[arg(long, env = "NATS_USER", default_value = "")]
    pub nats_user: String,
    /// Password of NATS_USER. Environment only.
    #[arg(long, env = "NATS_PASSWORD", hide_env_values = true)]
    pub nats_password: Option<String>,
    /// HS256 signing secret for access tokens: at least 32 random characters (alias:
    /// BETTER_AUTH_SECRET). Environment only: a secret on the command line shows in `ps`.
    #[arg(long, env = "JWT_SECRET", hide_env_values = true)]
    pub jwt_secret: Option<String>,
    /// Accept a known or low-entropy JWT_SECRET (tests and local experiments only; logs a warning).
    #[arg(long, env = "ALLOW_WEAK_SECRETS", default_value_t = false, action = clap::ArgAction::Set)]
    pub allow_weak_secrets: bool,
    /// Lifetime of an access token, in seconds.
    #[arg(long, env = "JWT_EXPIRES_IN_SECS", default_value_t = 86_400)]
    pub jwt_expires_in_secs: u64,
    /// `iss` claim written into and required from access tokens.
    #[arg(long, env = "JWT_ISSUER", default_value = "todo-chat")]
    pub jwt_issuer: String,
    /// Address the api listens on (`host:port`; port 0 picks a free port).
    #[arg(long, env = "API_ADDR", default_value = "127.0.0.1:8000")]
    pub api_addr: String,
    /// Address of the api's Prometheus `/metrics` listener, kept off the public port (loopback by
    /// default; port 0 picks a free port). The worker serves its metrics on WORKER_HTTP_ADDR.
    #[arg(long, env = "METRICS_ADDR", default_value = "127.0.0.1:9464")]
    pub metrics_addr: String,
    /// Connections the database pool keeps open (pool minimum).
    #[arg(long, env = "DB_POOL_SIZE", default_value_t = 10)]
    pub db_pool_size: u32,
    /// Extra connections the pool may open under load (maximum = size + overflow).
    #[arg(long, env = "DB_MAX_OVERFLOW", default_value_t = 20)]
    pub db_max_overflow: u32,
    /// Seconds to wait for a free database connection before failing a request.
    #[arg(long, env = "DB_ACQUIRE_TIMEOUT_SECS", default_value_t = 5)]
    pub db_acquire_timeout_secs: u64,
    /// bcrypt cost factor (4..=31); below 12 only for tests and development.
    #[arg(long, env = "BCRYPT_COST", default_value_t = DEFAULT_BCRYPT_COST)]
    pub bcrypt_cost: u32,
    /// Comma-separated list of origins allowed by CORS (empty: no cross-origin access; `*`: any).
    #[arg(long, env = "CORS_ORIGINS", default_value = "")]
    pub cors_origins: String,
    /// Log format.
    #[arg(long, env = "LOG_FORMAT", value_enum, default_value = "json")]
    pub log_format: LogFormat,
    /// Apply pending database migrations at start-up.
    #[arg(long, env = "RUN_MIGRATIONS", default_value_t = true, action = clap::ArgAction::Set)]
    pub run_migrations: bool,
    /// Seconds an HTTP request may take before it is answered 408.
    #[arg(long, env = "REQUEST_TIMEOUT_SECS", default_value_t = 30)]
    pub request_timeout_secs: u64,
    /// Seconds `POST /api/{user_id}/chat` waits for the agent's reply before answering 504.
    #[arg(long, env = "CHAT_TIMEOUT_SECS", default_value_t = 120)]
    pub chat_timeout_secs: u64,
    /// Seconds between SIGTERM and the start of the drain, while `/health/ready` answers 503 and
    /// requests are still served (time for a load balancer to stop sending new ones).
    #[arg(long, env = "SHUTDOWN_DELAY_SECS", default_value_t = 0)]
    pub shutdown_delay_secs: u64,

    /// JetStream stream that holds chat requests.
    #[arg(long, env = "NATS_STREAM", default_value = "TODO_CHAT_REQUESTS")]
    pub nats_stream: String,
    /// Durable pull consumer shared by all workers.
    #[arg(long, env = "NATS_CONSUMER", default_value = "todo-chat-workers")]
    pub nats_consumer: String,
    /// Subject prefix: requests go to `<prefix>.requests`, reply events to `<prefix>.events.…`.
    #[arg(long, env = "NATS_SUBJECT_PREFIX", default_value = "todo_chat")]
    pub nats_subject_prefix: String,
    /// Seconds a worker may hold a request without a heartbeat before JetStream redelivers it.
    #[arg(long, env = "NATS_ACK_WAIT_SECS", default_value_t = 10)]
    pub nats_ack_wait_secs: u64,
    /// Deliveries of one request before it is given up as failed.
    #[arg(long, env = "NATS_MAX_DELIVER", default_value_t = 8)]
    pub nats_max_deliver: i64,
    /// Largest number of requests the stream holds; publishes beyond it are refused (overload).
    #[arg(long, env = "NATS_STREAM_MAX_MSGS", default_value_t = 1_000_000)]
    pub nats_stream_max_msgs: i64,
    /// Copies of the request stream in a NATS cluster (1 for one server, 3 in production).
    #[arg(long, env = "NATS_STREAM_REPLICAS", default_value_t = 1)]
    pub nats_stream_replicas: usize,

    /// Chat requests one user may send per minute (per api instance); 0 turns the limit off.
    #[arg(long, env = "CHAT_RATE_PER_MINUTE", default_value_t = 60)]
    pub chat_rate_per_minute: u32,
    /// Chat requests one user may have unanswered at once (across all api instances); 0 turns the limit off.
    #[arg(long, env = "CHAT_MAX_IN_FLIGHT", default_value_t = 10)]
    pub chat_max_in_flight: u32,
    /// Login attempts per minute for one email address (per api instance); 0 turns the limit off.
    #[arg(long, env = "LOGIN_RATE_PER_MINUTE_PER_EMAIL", default_value_t = 10)]
    pub login_rate_per_minute_per_email: u32,
    /// Login attempts per minute from one client IP address (per api instance); 0 turns the limit off.
    #[arg(long, env = "LOGIN_RATE_PER_MINUTE_PER_IP", default_value_t = 60)]
    pub login_rate_per_minute_per_ip: u32,
    /// Accounts one client IP address may create per hour (per api instance); 0 turns the limit off.
    #[arg(long, env = "SIGNUP_RATE_PER_HOUR_PER_IP", default_value_t = 20)]
    pub signup_rate_per_hour_per_ip: u32,
    /// Accounts that may be created per minute in all (per api instance); 0 turns the limit off.
    #[arg(long, env = "SIGNUP_RATE_PER_MINUTE", default_value_t = 60)]
    pub signup_rate_per_minute: u32,
    /// WebSockets one user may have open at once (per api instance); 0 turns the limit off.
    #[arg(long, env = "WS_MAX_PER_USER", default_value_t = 10)]
    pub ws_max_per_user: u32,
    /// WebSockets one client IP address may have open at once (per api instance); 0 turns the limit off.
    #[arg(long, env = "WS_MAX_PER_IP", default_value_t = 100)]
    pub ws_max_per_ip: u32,
    /// Frames of any type one socket may send per second (bursts of twice that); 0 turns the limit off.
    #[arg(long, env = "WS_FRAMES_PER_SECOND", default_value_t = 10)]
    pub ws_frames_per_second: u32,
    /// Tasks one user may have; 0 turns the limit off.
    #[arg(long, env = "MAX_TASKS_PER_USER", default_value_t = 5_000)]
    pub max_tasks_per_user: u32,

    /// Address of the worker's own HTTP server (`/health`, `/metrics`); port 0 picks a free port.
    #[arg(long, env = "WORKER_HTTP_ADDR", default_value = "127.0.0.1:8001")]
    pub worker_http_addr: String,
    /// Seconds a stopping worker lets in-flight turns finish before handing them back to the queue.
    #[arg(long, env = "WORKER_DRAIN_TIMEOUT_SECS", default_value_t = 30)]
    pub worker_drain_timeout_secs: u64,
    /// Seconds after which an unfinished chat request nothing has touched is published again
    /// (must exceed NATS_ACK_WAIT_SECS).
    #[arg(long, env = "RECONCILE_AFTER_SECS", default_value_t = 30)]
    pub reconcile_after_secs: u64,
    /// Requests one worker processes at once.
    #[arg(long, env = "WORKER_CONCURRENCY", default_value_t = 64)]
    pub worker_concurrency: usize,
    /// Agent implementation.
    #[arg(long, env = "AGENT_PROVIDER", value_enum, default_value = "auto")]
    pub agent_provider: AgentProvider,
    /// API key of the OpenAI-compatible server.
    #[arg(long, env = "OPENAI_API_KEY", hide_env_values = true)]
    pub openai_api_key: Option<String>,
    /// Base URL of the OpenAI-compatible API (up to and including `/v1`).
    #[arg(
        long,
        env = "OPENAI_BASE_URL",
        default_value = "https://api.openai.com/v1"
    )]
    pub openai_base_url: String,
    /// Chat model used by the agent.
    #[arg(long, env = "OPENAI_AGENT_MODEL", default_value = "gpt-4o-mini")]
    pub openai_agent_model: String,
    /// Seconds one model call may take (and may stay silent while streaming).
    #[arg(long, env = "OPENAI_TIMEOUT_SECS", default_value_t = 60)]
    pub openai_timeout_secs: u64,
    /// Retries of a model call that failed with 429, 5xx or a timeout.
    #[arg(long, env = "OPENAI_MAX_RETRIES", default_value_t = 3)]
    pub openai_max_retries: u32,
    /// Conversations a worker remembers to open their next turn's model call while the turn
    /// reads its conversation (kept only if it is exactly the call the stored conversation asks
    /// for); 0 turns early calls off.
    #[arg(
        long,
        env = "OPENAI_EARLY_START_CONVERSATIONS",
        default_value_t = 10_000
    )]
    pub openai_early_start_conversations: usize,
    /// Model steps (model ↔ tool rounds) allowed in one turn.
    #[arg(long, env = "AGENT_MAX_TOOL_ROUNDS", default_value_t = 8)]
    pub agent_max_tool_rounds: u32,
    /// Tool calls allowed in one turn (all steps together).
    #[arg(long, env = "AGENT_MAX_TOOL_CALLS", default_value_t = 24)]
    pub agent_max_tool_calls: u32,
}

/// Validated configuration.
#[derive(Debug, Clone)]
pub struct Config {
    pub database: DatabaseConfig,
    pub nats: NatsConfig,
    pub auth: AuthConfig,
    pub api_addr: SocketAddr,
    pub metrics_addr: SocketAddr,
    pub cors_origins: Vec<String>,
    pub log_format: LogFormat,
    pub request_timeout: Duration,
    pub chat_timeout: Duration,
    /// Between SIGTERM (readiness turns 503) and the drain.
    pub shutdown_delay: Duration,
    pub limits: LimitsConfig,
    pub worker: WorkerConfig,
}

/// Per-user and per-client limits; `None` means off.
#[derive(Debug, Clone)]
pub struct LimitsConfig {
    pub chat_per_minute: Option<NonZeroU32>,
    pub chat_max_in_flight: Option<u32>,
    pub login_per_minute_per_email: Option<NonZeroU32>,
    pub login_per_minute_per_ip: Option<NonZeroU32>,
    pub signup_per_hour_per_ip: Option<NonZeroU32>,
    pub signup_per_minute: Option<NonZeroU32>,
    pub ws_max_per_user: Option<u32>,
    pub ws_max_per_ip: Option<u32>,
    pub ws_frames_per_second: Option<NonZeroU32>,
    pub max_tasks_per_user: Option<u32>,
}

impl LimitsConfig {
    /// Every limit off (tests turn on the ones they check).
    pub fn off() -> Self {
        Self {
            chat_per_minute: None,
            chat_max_in_flight: None,
            login_per_minute_per_email: None,
            login_per_minute_per_ip: None,
            signup_per_hour_per_ip: None,
            signup_per_minute: None,
            ws_max_per_user: None,
            ws_max_per_ip: None,
            ws_frames_per_second: None,
            max_tasks_per_user: None,
        }
    }
}

#[derive(Debug, Clone)]
pub struct DatabaseConfig {
    pub connect_options: PgConnectOptions,
    pub min_connections: u32,
    pub max_connections: u32,
    pub acquire_timeout: Duration,
    pub run_migrations: bool,
}

#[derive(Debug, Clone)]
pub struct NatsConfig {
    pub url: String,
    /// User and password of this process's NATS role, when the server requires them.
    pub credentials: Option<(String, SecretString)>,
    pub stream: String,
    pub consumer: String,
    pub subject_prefix: String,
    pub ack_wait: Duration,
    pub max_deliver: i64,
    pub stream_max_msgs: i64,
    /// Copies of the request stream kept by a NATS cluster.
    pub stream_replicas: usize,
}

impl NatsConfig {
    /// Subject chat requests are published to.
    pub fn request_subject(&self) -> String {
        format!("{}.requests", self.subject_prefix)
    }

    /// Default subject of the reply events of one request (when the request names no `reply_to`).
    pub fn default_event_subject(&self, request_id: uuid::Uuid) -> String {
        format!("{}.events.{request_id}", self.subject_prefix)
    }
}

#[derive(Debug, Clone)]
pub struct AuthConfig {
    pub jwt_secret: SecretString,
    pub jwt_issuer: String,
    pub token_ttl: Duration,
    pub bcrypt_cost: u32,
}

#[derive(Debug, Clone)]
pub struct WorkerConfig {
    pub concurrency: usize,
    pub http_addr: SocketAddr,
    pub drain_timeout: Duration,
    pub reconcile_after: Duration,
    pub agent: AgentConfig,
}

#[derive(Debug, Clone)]
pub enum AgentConfig {
    Builtin,
    OpenAi(OpenAiConfig),
}

#[derive(Debug, Clone)]
pub struct OpenAiConfig {
    pub api_key: SecretString,
    pub base_url: String,
    pub model: String,
    pub timeout: Duration,
    pub max_retries: u32,
    /// Conversations remembered for early model calls (0: none).
    pub early_start_conversations: usize,
    pub max_tool_rounds: u32,
    pub max_tool_calls: u32,
}

impl ConfigArgs {
    /// Validates the raw settings. `better_auth_secret` is the value of the `BETTER_AUTH_SECRET`
    /// alias, used when `JWT_SECRET` is not set.
    pub fn validate(self, better_auth_secret: Option<String>) -> Result<Config, ConfigError> {
        self.validate_for(Role::All, better_auth_secret)
    }

    /// Validates the settings `role` uses; the others keep harmless values the role never reads
    /// (the worker signs no token, the api runs no agent).
    pub fn validate_for(
        mut self,
        role: Role,
        better_auth_secret: Option<String>,
    ) -> Result<Config, ConfigError> {
        let mut better_auth_secret = better_auth_secret;
        if role == Role::Worker {
            // Never used by a worker: no token is signed or checked there.
            self.jwt_secret = Some(String::new());
            self.allow_weak_secrets = true;
            better_auth_secret = None;
        }
        if role == Role::Api {
            self.agent_provider = AgentProvider::Builtin;
        }
        let skip_secret = role == Role::Worker;
        let connect_options = crate::db::connect_options(&self.database_url).map_err(|_| {
            ConfigError::new(
                "DATABASE_URL",
                "expected a postgres URL such as postgres://user@host:5432/dbname",
            )
        })?;
        if !(self.database_url.starts_with("postgres://")
            || self.database_url.starts_with("postgresql://"))
        {
            return Err(ConfigError::new(
                "DATABASE_URL",
                "expected a URL starting with postgres:// or postgresql://",
            ));
        }
        // One server, or several (a cluster) separated by commas.
        if self.nats_url.split(',').any(|url| {
            let url = url.trim();
            !(url.starts_with("nats://") || url.starts_with("tls://"))
                || url.len() <= "nats://".len()
        }) {
            return Err(ConfigError::new(
                "NATS_URL",
                "expected a URL such as nats://127.0.0.1:4222 (or several, comma-separated)",
            ));
        }
        if !(1..=5).contains(&self.nats_stream_replicas) {
            return Err(ConfigError::new(
                "NATS_STREAM_REPLICAS",
                "must be between 1 and 5 (3 for a three-node cluster)",
            ));
        }
        let (secret_var, secret) = match (self.jwt_secret, better_auth_secret) {
            (Some(s), _) => ("JWT_SECRET", s),
            (None, Some(s)) => ("BETTER_AUTH_SECRET", s),
            (None, None) => {
                return Err(ConfigError::new(
                    "JWT_SECRET",
                    format!(
                        "required: a random secret of at least {MIN_JWT_SECRET_LEN} characters (or set BETTER_AUTH_SECRET)"
                    ),
                ));
            }
        };
        if !skip_secret && secret.chars().count() < MIN_JWT_SECRET_LEN {
            return Err(ConfigError::new(
                secret_var,
                format!("must be at least {MIN_JWT_SECRET_LEN} characters long"),
            ));
        }
        if !skip_secret && let Err(why) = check_secret_strength(&secret) {
            if !self.allow_weak_secrets {
                return Err(ConfigError::new(
                    secret_var,
                    format!(
                        "{why}; generate one with `openssl rand -hex 32` (ALLOW_WEAK_SECRETS=true accepts it for tests only)"
                    ),
                ));
            }
            tracing::warn!(
                var = secret_var,
                "accepting a weak secret because ALLOW_WEAK_SECRETS=true: {why}"
            );
        }
        let nats_credentials = match (self.nats_user.trim(), self.nats_password) {
            ("", None) => None,
            ("", Some(_)) => {
                return Err(ConfigError::new(
                    "NATS_USER",
                    "required when NATS_PASSWORD is set",
                ));
            }
            (_, None) => {
                return Err(ConfigError::new(
                    "NATS_PASSWORD",
                    "required when NATS_USER is set",
                ));
            }
            (user, Some(password)) => Some((user.to_owned(), SecretString::from(password))),
        };
        if self.jwt_expires_in_secs == 0 {
            return Err(ConfigError::new(
                "JWT_EXPIRES_IN_SECS",
                "must be greater than 0",
            ));
        }
        if self.jwt_issuer.trim().is_empty() {
            return Err(ConfigError::new("JWT_ISSUER", "must not be empty"));
        }
        let api_addr = SocketAddr::from_str(&self.api_addr).map_err(|_| {
            ConfigError::new("API_ADDR", "expected host:port such as 127.0.0.1:8000")
        })?;
        let metrics_addr = SocketAddr::from_str(&self.metrics_addr).map_err(|_| {
            ConfigError::new("METRICS_ADDR", "expected host:port such as 127.0.0.1:9464")
        })?;
        if self.db_pool_size == 0 {
            return Err(ConfigError::new("DB_POOL_SIZE", "must be at least 1"));
        }
        let max_connections = self
            .db_pool_size
            .checked_add(self.db_max_overflow)
            .filter(|m| *m <= 10_000)
            .ok_or_else(|| {
                ConfigError::new(
                    "DB_MAX_OVERFLOW",
                    "DB_POOL_SIZE + DB_MAX_OVERFLOW must be at most 10000",
                )
            })?;
        if !(MIN_BCRYPT_COST..=31).contains(&self.bcrypt_cost) {
            return Err(ConfigError::new(
                "BCRYPT_COST",
                format!(
                    "must be between {MIN_BCRYPT_COST} and 31 (recommended {DEFAULT_BCRYPT_COST})"
                ),
            ));
        }
        let cors_origins = self
            .cors_origins
            .split(',')
            .map(str::trim)
            .filter(|o| !o.is_empty())
            .map(str::to_owned)
            .collect::<Vec<_>>();
        for origin in &cors_origins {
            if origin != "*" && !(origin.starts_with("http://") || origin.starts_with("https://")) {
                return Err(ConfigError::new(
                    "CORS_ORIGINS",
                    "expected a comma-separated list of origins such as http://localhost:3000, or *",
                ));
            }
        }
        if self.request_timeout_secs == 0 {
            return Err(ConfigError::new(
                "REQUEST_TIMEOUT_SECS",
                "must be greater than 0",
            ));
        }
        if self.chat_timeout_secs == 0 {
            return Err(ConfigError::new(
                "CHAT_TIMEOUT_SECS",
                "must be greater than 0",
            ));
        }
        for (var, name) in [
            ("NATS_STREAM", &self.nats_stream),
            ("NATS_CONSUMER", &self.nats_consumer),
        ] {
            if name.is_empty()
                || !name
                    .chars()
                    .all(|c| c.is_ascii_alphanumeric() || c == '_' || c == '-')
            {
                return Err(ConfigError::new(
                    var,
                    "expected letters, digits, '-' or '_' only",
                ));
            }
        }
        if self.nats_subject_prefix.is_empty()
            || self.nats_subject_prefix.split('.').any(|t| {
                t.is_empty()
                    || !t
                        .chars()
                        .all(|c| c.is_ascii_alphanumeric() || c == '_' || c == '-')
            })
        {
            return Err(ConfigError::new(
                "NATS_SUBJECT_PREFIX",
                "expected dot-separated tokens of letters, digits, '-' or '_' (no wildcards)",
            ));
        }
        if self.nats_ack_wait_secs == 0 {
            return Err(ConfigError::new(
                "NATS_ACK_WAIT_SECS",
                "must be greater than 0",
            ));
        }
        if self.nats_max_deliver < 1 {
            return Err(ConfigError::new("NATS_MAX_DELIVER", "must be at least 1"));
        }
        if self.nats_stream_max_msgs < 1 {
            return Err(ConfigError::new(
                "NATS_STREAM_MAX_MSGS",
                "must be at least 1",
            ));
        }
        if self.worker_concurrency == 0 || self.worker_concurrency > 10_000 {
            return Err(ConfigError::new(
                "WORKER_CONCURRENCY",
                "must be between 1 and 10000",
            ));
        }
        let worker_http_addr = SocketAddr::from_str(&self.worker_http_addr).map_err(|_| {
            ConfigError::new(
                "WORKER_HTTP_ADDR",
                "expected host:port such as 127.0.0.1:8001",
            )
        })?;
        if self.reconcile_after_secs <= self.nats_ack_wait_secs {
            return Err(ConfigError::new(
                "RECONCILE_AFTER_SECS",
                format!(
                    "must be greater than NATS_ACK_WAIT_SECS ({}): a running turn proves it is alive that often",
                    self.nats_ack_wait_secs
                ),
            ));
        }
        let api_key = self.openai_api_key.filter(|k| !k.trim().is_empty());
        let agent = match (self.agent_provider, api_key) {
            (AgentProvider::Builtin, _) | (AgentProvider::Auto, None) => AgentConfig::Builtin,
            (AgentProvider::Openai, None) => {
                return Err(ConfigError::new(
                    "OPENAI_API_KEY",
                    "required when AGENT_PROVIDER=openai",
                ));
            }
            (AgentProvider::Openai | AgentProvider::Auto, Some(key)) => {
                if !(self.openai_base_url.starts_with("http://")
                    || self.openai_base_url.starts_with("https://"))
                {
                    return Err(ConfigError::new(
                        "OPENAI_BASE_URL",
                        "expected an http(s) URL such as https://api.openai.com/v1",
                    ));
                }
                if self.openai_agent_model.trim().is_empty() {
                    return Err(ConfigError::new("OPENAI_AGENT_MODEL", "must not be empty"));
                }
                if self.openai_timeout_secs == 0 {
                    return Err(ConfigError::new(
                        "OPENAI_TIMEOUT_SECS",
                        "must be greater than 0",
                    ));
                }
                if self.agent_max_tool_calls == 0 {
                    return Err(ConfigError::new(
                        "AGENT_MAX_TOOL_CALLS",
                        "must be at least 1",
                    ));
                }
                if self.agent_max_tool_rounds == 0 {
                    return Err(ConfigError::new(
                        "AGENT_MAX_TOOL_ROUNDS",
                        "must be at least 1",
                    ));
                }
                AgentConfig::OpenAi(OpenAiConfig {
                    api_key: SecretString::from(key),
                    base_url: self.openai_base_url.trim_end_matches('/').to_owned(),
                    model: self.openai_agent_model,
                    timeout: Duration::from_secs(self.openai_timeout_secs),
                    max_retries: self.openai_max_retries,
                    early_start_conversations: self.openai_early_start_conversations,
                    max_tool_rounds: self.agent_max_tool_rounds,
                    max_tool_calls: self.agent_max_tool_calls,
                })
            }
        };

        Ok(Config {
            database: DatabaseConfig {
                connect_options,
                min_connections: self.db_pool_size.min(max_connections),
                max_connections,
                acquire_timeout: Duration::from_secs(self.db_acquire_timeout_secs.max(1)),
                run_migrations: self.run_migrations,
            },
            nats: NatsConfig {
                url: self.nats_url,
                credentials: nats_credentials,
                stream: self.nats_stream,
                consumer: self.nats_consumer,
                subject_prefix: self.nats_subject_prefix,
                ack_wait: Duration::from_secs(self.nats_ack_wait_secs),
                max_deliver: self.nats_max_deliver,
                stream_max_msgs: self.nats_stream_max_msgs,
                stream_replicas: self.nats_stream_replicas,
            },
            auth: AuthConfig {
                jwt_secret: SecretString::from(secret),
                jwt_issuer: self.jwt_issuer,
                token_ttl: Duration::from_secs(self.jwt_expires_in_secs),
                bcrypt_cost: self.bcrypt_cost,
            },
            api_addr,
            metrics_addr,
            cors_origins,
            log_format: self.log_format,
            request_timeout: Duration::from_secs(self.request_timeout_secs),
            chat_timeout: Duration::from_secs(self.chat_timeout_secs),
            shutdown_delay: Duration::from_secs(self.shutdown_delay_secs),
            limits: LimitsConfig {
                chat_per_minute: NonZeroU32::new(self.chat_rate_per_minute),
                chat_max_in_flight: Some(self.chat_max_in_flight).filter(|n| *n > 0),
                login_per_minute_per_email: NonZeroU32::new(self.login_rate_per_minute_per_email),
                login_per_minute_per_ip: NonZeroU32::new(self.login_rate_per_minute_per_ip),
                signup_per_hour_per_ip: NonZeroU32::new(self.signup_rate_per_hour_per_ip),
                signup_per_minute: NonZeroU32::new(self.signup_rate_per_minute),
                ws_max_per_user: Some(self.ws_max_per_user).filter(|n| *n > 0),
                ws_max_per_ip: Some(self.ws_max_per_ip).filter(|n| *n > 0),
                ws_frames_per_second: NonZeroU32::new(self.ws_frames_per_second),
                max_tasks_per_user: Some(self.max_tasks_per_user).filter(|n| *n > 0),
            },
            worker: WorkerConfig {
                concurrency: self.worker_concurrency,
                http_addr: worker_http_addr,
                drain_timeout: Duration::from_secs(self.worker_drain_timeout_secs),
                reconcile_after: Duration::from_secs(self.reconcile_after_secs),
                agent,
            },
        })
    }
}

impl Config {
    /// Logs the settings an operator wants to see at start-up (never secrets) and warns about weak ones.
    pub fn log_summary(&self, service: &str) {
        let db = &self.database.connect_options;
        tracing::info!(
            service,
            database_host = db.get_host(),
            database_port = db.get_port(),
            database_name = db.get_database().unwrap_or(""),
            database_tls = ?db.get_ssl_mode(),
            nats_url = %self.nats.url,
            nats_stream = %self.nats.stream,
            api_addr = %self.api_addr,
            pool_min = self.database.min_connections,
            pool_max = self.database.max_connections,
            agent = match &self.worker.agent { AgentConfig::Builtin => "builtin", AgentConfig::OpenAi(_) => "openai" },
            "configuration loaded"
        );
        if self.auth.bcrypt_cost < DEFAULT_BCRYPT_COST {
            tracing::warn!(
                bcrypt_cost = self.auth.bcrypt_cost,
                "BCRYPT_COST is below the recommended {DEFAULT_BCRYPT_COST}: use this only for tests and development"
            );
        }
    }
}

/// Secrets that were published and must never sign tokens: the `.env.example` placeholder and the
/// benchmark script's old default.
const KNOWN_SECRETS: &[&str] = &[
    "change-me-to-a-long-random-secret-of-32-chars-or-more",
    "benchmark-secret-0123456789abcdefghijklmnop",
];

/// Refuses known secrets and ones too regular to be random: fewer than 12 different characters,
/// or under 128 bits by a character-class estimate.
pub fn check_secret_strength(secret: &str) -> Result<(), String> {
    if KNOWN_SECRETS.contains(&secret) {
        return Err("is a published example value, not a secret".into());
    }
    let distinct: std::collections::BTreeSet<char> = secret.chars().collect();
    let mut pool = 0u32;
    if secret.chars().any(|c| c.is_ascii_lowercase()) {
        pool += 26;
    }
    if secret.chars().any(|c| c.is_ascii_uppercase()) {
        pool += 26;
    }
    if secret.chars().any(|c| c.is_ascii_digit()) {
        pool += 10;
    }
    if secret.chars().any(|c| !c.is_ascii_alphanumeric()) {
        pool += 33;
    }
    let bits = f64::from(pool.max(1)).log2() * secret.chars().count() as f64;
    if distinct.len() < 12 || bits < 128.0 {
        return Err("looks too regular to be random (too few different characters)".into());
    }
    Ok(())
}

/// Variables that hold secrets: refused on the command line, where `ps` and shell history show them.
const SECRET_ARGS: &[(&str, &str)] = &[
    ("jwt_secret", "JWT_SECRET"),
    ("nats_password", "NATS_PASSWORD"),
    ("openai_api_key", "OPENAI_API_KEY"),
];

/// Parser for a binary's command line: the shared settings plus `--help` / `--version`.
#[derive(Debug, clap::Parser)]
#[command(version, about, long_about = None)]
pub struct Cli {
    #[command(flatten)]
    pub config: ConfigArgs,
}

/// Loads `.env` (if present), parses flags and environment, and validates them.
///
/// `--help` and `--version` print and exit 0; any configuration error prints one line naming the
/// variable and exits 2.
pub fn load_or_exit(role: Role, about: &'static str) -> Config {
    use clap::{CommandFactory, FromArgMatches};

    let _ = dotenvy::dotenv();
    let mut command = Cli::command().about(about);
    // `--help` lists only what this binary uses; the others are still parsed (one shared .env)
    // but never required or checked.
    let unused: Vec<clap::Id> = command
        .get_arguments()
        .filter(|a| {
            a.get_env()
                .and_then(|v| v.to_str())
                .is_some_and(|var| !role.uses(var))
        })
        .map(|a| a.get_id().clone())
        .collect();
    for id in unused {
        command = command.mut_arg(id, |a| a.hide(true));
    }
    let matches = match command.try_get_matches() {
        Ok(m) => m,
        Err(e) => exit_on_clap_error(e),
    };
    let cli = match Cli::from_arg_matches(&matches) {
        Ok(c) => c,
        Err(e) => exit_on_clap_error(e),
    };
    for (id, var) in SECRET_ARGS {
        if matches.value_source(id) == Some(clap::parser::ValueSource::CommandLine) {
            eprintln!(
                "error: invalid configuration: {var}: set it in the environment or .env, not on the command line (ps shows command lines)"
            );
            std::process::exit(2);
        }
    }
    if matches.value_source("database_url") == Some(clap::parser::ValueSource::CommandLine)
        && url_has_password(&cli.config.database_url)
    {
        eprintln!(
            "error: invalid configuration: DATABASE_URL: a URL with a password belongs in the environment or .env, not on the command line"
        );
        std::process::exit(2);
    }
    let alias = std::env::var("BETTER_AUTH_SECRET")
        .ok()
        .filter(|s| !s.is_empty());
    match cli.config.validate_for(role, alias) {
        Ok(config) => config,
        Err(e) => {
            eprintln!("error: {e}");
            std::process::exit(2);
        }
    }
}

/// Whether a URL carries a password (`scheme://user:password@host`).
fn url_has_password(url: &str) -> bool {
    url.split_once("://")
        .and_then(|(_, rest)| rest.split_once('@'))
        .is_some_and(|(userinfo, _)| userinfo.contains(':'))
}

fn exit_on_clap_error(e: clap::Error) -> ! {
    use clap::error::ErrorKind;
    match e.kind() {
        ErrorKind::DisplayHelp
        | ErrorKind::DisplayVersion
        | ErrorKind::DisplayHelpOnMissingArgumentOrSubcommand => e.exit(),
        _ => {
            // clap names the flag and its variable (`--db-pool-size <DB_POOL_SIZE>`); keep its first line.
            let rendered = e.render().to_string();
            let line = rendered.lines().next().unwrap_or("invalid configuration");
            eprintln!("{}", line.trim());
            std::process::exit(2);
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use clap::Parser;
    use secrecy::ExposeSecret;

    fn parse(args: &[&str]) -> Result<Config, ConfigError> {
        let mut argv = vec!["test", "--jwt-secret", "0123456789abcdef0123456789abcdef"];
        argv.extend_from_slice(args);
        Cli::try_parse_from(argv)
            .expect("flags parse")
            .config
            .validate(None)
    }

    #[test]
    fn each_binary_requires_only_what_it_uses() {
        let bare = || Cli::try_parse_from(["test"]).expect("flags parse").config;
        // The worker signs no token: no JWT_SECRET needed.
        assert!(bare().validate_for(Role::Worker, None).is_ok());
        let api = bare()
            .validate_for(Role::Api, None)
            .expect_err("the api needs a secret");
        assert_eq!(api.var, "JWT_SECRET");
        // The api runs no agent: a model setting it never reads cannot stop it.
        let mut args = bare();
        args.jwt_secret = Some("0123456789abcdef0123456789abcdef".into());
        args.agent_provider = AgentProvider::Openai;
        assert!(args.clone().validate_for(Role::Api, None).is_ok());
        let worker = args
            .validate_for(Role::Worker, None)
            .expect_err("the worker runs it");
        assert_eq!(worker.var, "OPENAI_API_KEY");
    }

    #[test]
    fn the_role_lists_name_real_settings() {
        use clap::CommandFactory;
        let command = Cli::command();
        let vars: Vec<String> = command
            .get_arguments()
            .filter_map(|a| a.get_env().and_then(|v| v.to_str()).map(str::to_owned))
            .collect();
        for var in API_ONLY.iter().chain(WORKER_ONLY) {
            assert!(vars.iter().any(|v| v == var), "{var} is not a setting");
        }
        assert!(Role::Api.uses("DATABASE_URL") && Role::Worker.uses("DATABASE_URL"));
        assert!(!Role::Worker.uses("JWT_SECRET") && !Role::Api.uses("OPENAI_API_KEY"));
    }

    #[test]
    fn defaults_are_valid_and_map_pool_sizes() {
        let c = parse(&[]).expect("valid");
        assert_eq!(c.database.min_connections, 10);
        assert_eq!(c.database.max_connections, 30);
        assert_eq!(c.api_addr.port(), 8000);
        assert!(matches!(c.worker.agent, AgentConfig::Builtin));
        assert_eq!(c.limits.chat_max_in_flight, Some(10));
        let off =
            parse(&["--chat-rate-per-minute", "0", "--chat-max-in-flight", "0"]).expect("valid");
        assert!(off.limits.chat_per_minute.is_none() && off.limits.chat_max_in_flight.is_none());
    }

    #[test]
    fn the_database_url_is_read_through_the_tls_rule_for_local_servers() {
        use sqlx::postgres::PgSslMode;
        let mode = |url: &str| {
            parse(&["--database-url", url])
                .expect("valid")
                .database
                .connect_options
                .get_ssl_mode()
        };
        assert!(matches!(
            mode("postgres://postgres@127.0.0.1:5432/todo_chat"),
            PgSslMode::Disable
        ));
        assert!(matches!(
            mode("postgres://postgres@127.0.0.1:5432/todo_chat?sslmode=require"),
            PgSslMode::Require
        ));
    }

    #[test]
    fn short_secret_is_rejected_naming_the_variable() {
        let err = Cli::try_parse_from(["t", "--jwt-secret", "short"])
            .expect("parse")
            .config
            .validate(None)
            .expect_err("too short");
        assert_eq!(err.var, "JWT_SECRET");
        assert!(err.to_string().contains("JWT_SECRET"));
    }

    #[test]
    fn missing_secret_falls_back_to_better_auth_secret() {
        let args = Cli::try_parse_from(["t"]).expect("parse").config;
        assert_eq!(
            args.clone().validate(None).expect_err("missing").var,
            "JWT_SECRET"
        );
        let secret = "Kq3v9Zt1mWx7Lp2Rb8Nc4Hd6Fj0Gs5Ya";
        let c = args
            .validate(Some(secret.to_owned()))
            .expect("alias accepted");
        assert_eq!(c.auth.jwt_secret.expose_secret(), secret);
    }

    #[test]
    fn known_and_regular_secrets_are_refused_unless_explicitly_allowed() {
        for weak in [
            "change-me-to-a-long-random-secret-of-32-chars-or-more",
            "benchmark-secret-0123456789abcdefghijklmnop",
            &"a".repeat(64),
            &"abcabc".repeat(8),
        ] {
            let err = Cli::try_parse_from(["t", "--jwt-secret", weak])
                .expect("parse")
                .config
                .validate(None)
                .expect_err("weak");
            assert_eq!(err.var, "JWT_SECRET", "{weak}");
        }
        let allowed = Cli::try_parse_from([
            "t",
            "--jwt-secret",
            &"a".repeat(64),
            "--allow-weak-secrets",
            "true",
        ])
        .expect("parse")
        .config
        .validate(None);
        assert!(allowed.is_ok());
        assert!(check_secret_strength("4f9c1e7a0b3d5f8e2a6c9b1d7e0f3a5c").is_ok());
    }

    #[test]
    fn urls_with_passwords_are_recognised() {
        assert!(url_has_password("postgres://app:s3cret@db:5432/x"));
        assert!(!url_has_password("postgres://postgres@127.0.0.1:5432/x"));
        assert!(!url_has_password("nats://127.0.0.1:4222"));
    }

    #[test]
    fn malformed_urls_and_addresses_are_rejected() {
        assert_eq!(
            parse(&["--database-url", "not a url"])
                .expect_err("bad")
                .var,
            "DATABASE_URL"
        );
        assert_eq!(
            parse(&["--database-url", "mysql://x@y/z"])
                .expect_err("bad")
                .var,
            "DATABASE_URL"
        );
        assert_eq!(
            parse(&["--nats-url", "http://x"]).expect_err("bad").var,
            "NATS_URL"
        );
        assert_eq!(
            parse(&["--api-addr", "localhost"]).expect_err("bad").var,
            "API_ADDR"
        );
        assert_eq!(
            parse(&["--bcrypt-cost", "2"]).expect_err("bad").var,
            "BCRYPT_COST"
        );
        assert_eq!(
            parse(&["--cors-origins", "example.com"])
                .expect_err("bad")
                .var,
            "CORS_ORIGINS"
        );
        assert_eq!(
            parse(&["--worker-http-addr", "9000"]).expect_err("bad").var,
            "WORKER_HTTP_ADDR"
        );
        assert_eq!(
            parse(&["--reconcile-after-secs", "10"])
                .expect_err("not above the ack wait")
                .var,
            "RECONCILE_AFTER_SECS"
        );
        assert_eq!(
            parse(&["--nats-subject-prefix", "a.>"])
                .expect_err("bad")
                .var,
            "NATS_SUBJECT_PREFIX"
        );
    }

    #[test]
    fn openai_provider_requires_a_key() {
        assert_eq!(
            parse(&["--agent-provider", "openai"])
                .expect_err("no key")
                .var,
            "OPENAI_API_KEY"
        );
        let c = parse(&["--openai-api-key", "sk-test"]).expect("auto picks openai");
        assert!(matches!(c.worker.agent, AgentConfig::OpenAi(_)));
        let c = parse(&["--openai-api-key", "sk-test", "--agent-provider", "builtin"])
            .expect("forced builtin");
        assert!(matches!(c.worker.agent, AgentConfig::Builtin));
    }
}
