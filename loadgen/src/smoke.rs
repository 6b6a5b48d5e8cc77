//! `loadgen smoke --base-url URL`: checks a deployed todo-chat the way its users use it, after a
//! deploy or a rollback. Health and readiness; a throw-away account; the five user stories by
//! chat (add, list, complete, update, delete), each checked through REST; a multi-turn
//! conversation; resuming a reply on a new socket; and the checklist's latency bound (p95 of the
//! turns under `--p95-ms`, 3 s by default). Prints one line per check and exits non-zero when one
//! fails. The phrasings are plain ones that the built-in agent and a model both understand.

use std::time::{Duration, Instant};

use anyhow::{Context, bail};
use serde_json::{Value, json};
use todo_common::protocol::{ClientFrame, ServerFrame};
use uuid::Uuid;

use crate::ws::WsClient;

#[derive(Debug, clap::Args, Clone)]
pub struct SmokeArgs {
    /// The deployment to check.
    #[arg(long, default_value = "http://127.0.0.1:8000")]
    pub base_url: String,
    /// The slowest a turn's 95th percentile may be.
    #[arg(long, default_value_t = 3000)]
    pub p95_ms: u64,
    /// Give up on one reply after this many seconds.
    #[arg(long, default_value_t = 30)]
    pub timeout_s: u64,
}

/// What the checks found.
#[derive(Debug, Default)]
pub struct Report {
    pub checks: Vec<(String, Result<String, String>)>,
    pub turn_ms: Vec<u128>,
}

impl Report {
    pub fn passed(&self) -> bool {
        !self.checks.is_empty() && self.checks.iter().all(|(_, r)| r.is_ok())
    }

    pub fn print(&self) {
        for (name, outcome) in &self.checks {
            match outcome {
                Ok(detail) => println!("ok    {name}: {detail}"),
                Err(why) => println!("FAIL  {name}: {why}"),
            }
        }
        let verdict = if self.passed() { "passed" } else { "FAILED" };
        println!("smoke {verdict}: {} checks", self.checks.len());
    }
}

struct Smoke {
    base: String,
    http: reqwest::Client,
    user_id: Uuid,
    token: String,
    timeout: Duration,
    turn_ms: Vec<u128>,
}

/// Runs every check; stops early only when an earlier check leaves nothing to test.
pub async fn run(args: &SmokeArgs) -> Report {
    let mut report = Report::default();
    let base = args.base_url.trim_end_matches('/').to_owned();
    let http = reqwest::Client::builder()
        .timeout(Duration::from_secs(args.timeout_s))
        .build()
        .unwrap_or_default();
    for path in ["/health/ready", "/health"] {
        let outcome = match http.get(format!("{base}{path}")).send().await {
            Ok(r) if r.status().is_success() => Ok(format!("{}", r.status())),
            Ok(r) => Err(format!("answered {}", r.status())),
            Err(e) => Err(e.without_url().to_string()),
        };
        report.checks.push((format!("GET {path}"), outcome));
    }
    let mut smoke = match Smoke::sign_up(base, http, Duration::from_secs(args.timeout_s)).await {
        Ok(s) => {
            report.checks.push((
                "sign up a throw-away user".into(),
                Ok(s.user_id.to_string()),
            ));
            s
        }
        Err(e) => {
            report
                .checks
                .push(("sign up a throw-away user".into(), Err(format!("{e:#}"))));
            return report;
        }
    };
    let stories = smoke.stories().await;
    report.checks.extend(stories);
    let multi = smoke.multi_turn().await.map_err(|e| format!("{e:#}"));
    report
        .checks
        .push(("multi-turn conversation".into(), multi));
    let resume = smoke.resume().await.map_err(|e| format!("{e:#}"));
    report
        .checks
        .push(("resume a reply on a new socket".into(), resume));
    report.turn_ms = smoke.turn_ms.clone();
    let p95 = percentile(&smoke.turn_ms, 95.0);
    let latency = match p95 {
        Some(p) if p <= u128::from(args.p95_ms) => {
            Ok(format!("p95 {p} ms over {} turns", smoke.turn_ms.len()))
        }
        Some(p) => Err(format!("p95 {p} ms is over {} ms", args.p95_ms)),
        None => Err("no turn completed".into()),
    };
    report.checks.push(("turn latency".into(), latency));
    smoke.log_out().await;
    report
}

fn percentile(samples: &[u128], p: f64) -> Option<u128> {
    if samples.is_empty() {
        return None;
    }
    let mut sorted = samples.to_vec();
    sorted.sort_unstable();
    let rank = ((p / 100.0) * sorted.len() as f64).ceil() as usize;
    sorted
        .get(rank.saturating_sub(1).min(sorted.len() - 1))
        .copied()
}

impl Smoke {
    async fn sign_up(
        base: String,
        http: reqwest::Client,
        timeout: Duration,
    ) -> anyhow::Result<Self> {
        let email = format!("smoke-{}@example.com", Uuid::new_v4().simple());
        let password = format!("smoke-{}", Uuid::new_v4().simple());
        let res = http
            .post(format!("{base}/api/auth/signup"))
            .json(&json!({"email": email, "password": password, "name": "Smoke test"}))
            .send()
            .await
            .context("signup")?;
        if !res.status().is_success() {
            bail!("signup answered {}", res.status());
        }
        let res = http
            .post(format!("{base}/api/auth/login"))
            .json(&json!({"email": email, "password": password}))
            .send()
            .await
            .context("login")?;
        if !res.status().is_success() {
            bail!("login answered {}", res.status());
        }
        let body: Value = res.json().await.context("login body")?;
        Ok(Self {
            user_id: body["user"]["id"]
                .as_str()
                .and_then(|s| s.parse().ok())
                .context("login returned no user id")?,
            token: body["access_token"]
                .as_str()
                .context("login returned no token")?
                .to_owned(),
            base,
            http,
            timeout,
            turn_ms: Vec::new(),
        })
    }

    async fn socket(&self) -> anyhow::Result<WsClient> {
        let url = format!(
            "{}/api/{}/ws",
            self.base.replacen("http", "ws", 1),
            self.user_id
        );
        WsClient::connect(&url, Some(&self.token))
            .await
            .context("opening the chat socket")
    }

    /// Sends a message and waits for its final frame; records the turn's time.
    async fn say(
        &mut self,
        message: &str,
        conversation_id: Option<i64>,
    ) -> anyhow::Result<(i64, String)> {
        let mut ws = self.socket().await?;
        let started = Instant::now();
        ws.chat(message, conversation_id, None).await;
        loop {
            let frame = ws
                .next_frame(self.timeout)
                .await
                .with_context(|| format!("no answer to {message:?} in {:?}", self.timeout))?;
            match frame {
                ServerFrame::Done {
                    conversation_id,
                    response,
                    ..
                } => {
                    self.turn_ms.push(started.elapsed().as_millis());
                    ws.close().await;
                    return Ok((conversation_id, response));
                }
                ServerFrame::Error { code, message, .. } => bail!("{code}: {message}"),
                ServerFrame::Cancelled { .. } => bail!("the reply was cancelled"),
                _ => {}
            }
        }
    }

    async fn tasks(&self) -> anyhow::Result<Vec<Value>> {
        let res = self
            .http
            .get(format!(
                "{}/api/{}/tasks?status=all&limit=100",
                self.base, self.user_id
            ))
            .bearer_auth(&self.token)
            .send()
            .await?;
        if !res.status().is_success() {
            bail!("listing tasks answered {}", res.status());
        }
        Ok(res
            .json::<Value>()
            .await?
            .as_array()
            .cloned()
            .unwrap_or_default())
    }

    async fn task_titled(&self, needle: &str) -> anyhow::Result<Option<Value>> {
        let needle = needle.to_lowercase();
        Ok(self.tasks().await?.into_iter().find(|t| {
            t["title"]
                .as_str()
                .is_some_and(|title| title.to_lowercase().contains(&needle))
        }))
    }

    /// The five user stories, each checked through REST.
    async fn stories(&mut self) -> Vec<(String, Result<String, String>)> {
        let mut out = Vec::new();
        let add = async {
            self.say("add a task to buy milk tomorrow", None).await?;
            let task = self
                .task_titled("milk")
                .await?
                .context("no task about milk after asking to add it")?;
            anyhow::Ok(task)
        }
        .await;
        let task = match add {
            Ok(task) => {
                out.push((
                    "story: add a task".into(),
                    Ok(format!("task #{} {}", task["id"], task["title"])),
                ));
                task
            }
            Err(e) => {
                out.push(("story: add a task".into(), Err(format!("{e:#}"))));
                return out;
            }
        };
        let id = task["id"].as_i64().unwrap_or_default();
        let list = async {
            let (_, reply) = self.say("what's pending?", None).await?;
            if !reply.to_lowercase().contains("milk") {
                bail!("the list does not mention the task: {reply:?}");
            }
            anyhow::Ok("the reply lists it".to_owned())
        }
        .await;
        out.push((
            "story: list tasks".into(),
            list.map_err(|e| format!("{e:#}")),
        ));
        let update = async {
            self.say(&format!("change task {id} to 'Buy oat milk'"), None)
                .await?;
            let task = self
                .task_titled("oat milk")
                .await?
                .context("the title did not change")?;
            anyhow::Ok(format!("now {}", task["title"]))
        }
        .await;
        out.push((
            "story: update a task".into(),
            update.map_err(|e| format!("{e:#}")),
        ));
        let complete = async {
            self.say(&format!("mark task {id} as done"), None).await?;
            let task = self
                .task_titled("milk")
                .await?
                .context("the task is gone")?;
            if task["completed"] != true {
                bail!("task #{id} is not completed");
            }
            anyhow::Ok("completed".to_owned())
        }
        .await;
        out.push((
            "story: complete a task".into(),
            complete.map_err(|e| format!("{e:#}")),
        ));
        let delete = async {
            self.say(&format!("delete task {id}"), None).await?;
            if self.task_titled("milk").await?.is_some() {
                bail!("task #{id} still exists");
            }
            anyhow::Ok("deleted".to_owned())
        }
        .await;
        out.push((
            "story: delete a task".into(),
            delete.map_err(|e| format!("{e:#}")),
        ));
        out
    }

    async fn multi_turn(&mut self) -> anyhow::Result<String> {
        let (conversation, _) = self.say("add a task to call mom", None).await?;
        let (again, reply) = self.say("what's pending?", Some(conversation)).await?;
        if again != conversation {
            bail!("the follow-up went to conversation {again}, not {conversation}");
        }
        if !reply.to_lowercase().contains("mom") {
            bail!("the follow-up does not know the task: {reply:?}");
        }
        let res = self
            .http
            .get(format!(
                "{}/api/{}/conversations/{conversation}/messages",
                self.base, self.user_id
            ))
            .bearer_auth(&self.token)
            .send()
            .await?;
        let messages: Value = res.json().await?;
        let count = messages.as_array().map_or(0, Vec::len);
        if count < 4 {
            bail!("conversation {conversation} holds {count} messages, expected 4");
        }
        Ok(format!("conversation {conversation}, {count} messages"))
    }

    async fn resume(&mut self) -> anyhow::Result<String> {
        let mut ws = self.socket().await?;
        ws.chat("add a task to water the plants", None, None).await;
        let request_id = match ws.next_frame(self.timeout).await {
            Some(ServerFrame::Accepted { request_id, .. }) => request_id,
            other => bail!("expected accepted, got {other:?}"),
        };
        ws.close().await;
        let mut again = self.socket().await?;
        again
            .send(&ClientFrame::Resume {
                request_id,
                client_msg_id: None,
            })
            .await;
        loop {
            match again.next_frame(self.timeout).await {
                Some(ServerFrame::Done { .. }) => break,
                Some(ServerFrame::Error { code, message, .. }) => bail!("{code}: {message}"),
                Some(_) => {}
                None => bail!("no final frame after resume"),
            }
        }
        again.close().await;
        if self.task_titled("water the plants").await?.is_none() {
            bail!("the resumed turn's task is missing");
        }
        Ok("done after resume".into())
    }

    async fn log_out(&self) {
        let _ = self
            .http
            .post(format!("{}/api/auth/logout", self.base))
            .bearer_auth(&self.token)
            .send()
            .await;
    }
}

#[cfg(test)]
mod tests {
    use super::percentile;

    #[test]
    fn percentile_is_nearest_rank() {
        assert_eq!(percentile(&[], 95.0), None);
        assert_eq!(percentile(&[7], 95.0), Some(7));
        let samples: Vec<u128> = (1..=20).collect();
        assert_eq!(percentile(&samples, 95.0), Some(19));
        assert_eq!(percentile(&samples, 100.0), Some(20));
    }
}
