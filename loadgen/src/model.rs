//! `loadgen model`: streaming chat completions sent straight to an OpenAI-compatible endpoint
//! (usually `loadgen fake-llm`), with no api, queue or worker in between. Requests go in waves:
//! `concurrency` at the same instant, the next wave when every reply of the last has ended, as
//! benchmark 3's users do over WebSocket. The time to the first text token is what the model
//! alone gives a wave of that size on this machine, the yardstick benchmark 3's overhead is read
//! against (docs/BENCHMARKS.md).
//!
//! Each request is shaped as the worker's: a system prompt, the user's message, the five task
//! tools' definitions, `stream: true` with usage; so the model parses as much as it does in the
//! full system.

use std::time::{Duration, Instant};

use anyhow::Context;
use serde::Serialize;
use serde_json::{Value, json};

use crate::summary::{self, Percentiles};

pub struct ModelOptions {
    pub base_url: String,
    pub concurrency: usize,
    pub waves: usize,
}

#[derive(Debug, Serialize)]
pub struct ModelSummary {
    pub benchmark: &'static str,
    pub concurrency: usize,
    pub waves: usize,
    pub completed: u64,
    pub errors: u64,
    /// From sending the request to the first non-empty text delta.
    pub ttft_ms: Percentiles,
    /// From sending the request to the end of the stream.
    pub latency_ms: Percentiles,
}

impl ModelSummary {
    pub fn print(&self, json: bool) {
        if json {
            println!("{}", serde_json::to_string(self).unwrap_or_default());
        } else {
            println!(
                "model alone, {} waves of {}: {} replies, {} errors\n  ttft ms    p50 {:.1}  p95 {:.1}  p99 {:.1}  max {:.1}\n  latency ms p50 {:.1}  p95 {:.1}  p99 {:.1}  max {:.1}",
                self.waves,
                self.concurrency,
                self.completed,
                self.errors,
                self.ttft_ms.p50,
                self.ttft_ms.p95,
                self.ttft_ms.p99,
                self.ttft_ms.max,
                self.latency_ms.p50,
                self.latency_ms.p95,
                self.latency_ms.p99,
                self.latency_ms.max,
            );
        }
    }

    /// Every request got a whole reply.
    pub fn is_correct(&self) -> bool {
        self.errors == 0
    }
}

/// What one request measured: time to first text and to the end of the stream.
struct Timing {
    ttft: Duration,
    total: Duration,
}

pub async fn run(options: &ModelOptions) -> anyhow::Result<ModelSummary> {
    let url = format!(
        "{}/chat/completions",
        options.base_url.trim_end_matches('/')
    );
    let client = reqwest::Client::builder()
        .pool_max_idle_per_host(options.concurrency)
        .timeout(Duration::from_secs(60))
        .build()
        .context("building the HTTP client")?;
    let tools = todo_common::tools::openai_tools();
    let mut ttft = summary::histogram();
    let mut latency = summary::histogram();
    let (mut completed, mut errors) = (0, 0);
    for wave in 0..options.waves {
        let requests: Vec<_> = (0..options.concurrency)
            .map(|i| {
                let body = json!({
                    "model": "fake-model",
                    "stream": true,
                    "stream_options": {"include_usage": true},
                    "messages": [
                        {"role": "system", "content": "You manage the user's todo list with the tools given. Today is Monday 7 December 2026, 10:30 (Europe/Berlin)."},
                        {"role": "user", "content": format!("wave {wave} request {i}: add a task to buy milk")},
                    ],
                    "tools": tools,
                });
                let (client, url) = (client.clone(), url.clone());
                tokio::spawn(async move { one(&client, &url, &body).await })
            })
            .collect();
        for request in requests {
            match request.await {
                Ok(Ok(t)) => {
                    completed += 1;
                    summary::record(&mut ttft, t.ttft);
                    summary::record(&mut latency, t.total);
                }
                Ok(Err(e)) => {
                    errors += 1;
                    eprintln!("model request failed: {e:#}");
                }
                Err(e) => {
                    errors += 1;
                    eprintln!("model request task failed: {e}");
                }
            }
        }
    }
    Ok(ModelSummary {
        benchmark: "model",
        concurrency: options.concurrency,
        waves: options.waves,
        completed,
        errors,
        ttft_ms: Percentiles::of(&ttft),
        latency_ms: Percentiles::of(&latency),
    })
}

async fn one(client: &reqwest::Client, url: &str, body: &Value) -> anyhow::Result<Timing> {
    let sent = Instant::now();
    let mut response = client
        .post(url)
        .bearer_auth("fake")
        .json(body)
        .send()
        .await?
        .error_for_status()?;
    let mut buffer = String::new();
    let mut first = None;
    let mut done = false;
    while let Some(bytes) = response.chunk().await? {
        buffer.push_str(&String::from_utf8_lossy(&bytes));
        while let Some(end) = buffer.find("\n\n") {
            let event: String = buffer.drain(..end + 2).collect();
            let Some(data) = event.trim().strip_prefix("data:").map(str::trim) else {
                continue;
            };
            if data == "[DONE]" {
                done = true;
                continue;
            }
            if first.is_none() && has_text(data) {
                first = Some(sent.elapsed());
            }
        }
    }
    anyhow::ensure!(done, "the stream ended without [DONE]");
    let ttft = first.context("the reply had no text")?;
    Ok(Timing {
        ttft,
        total: sent.elapsed(),
    })
}

/// Whether a streamed chunk carries reply text.
fn has_text(data: &str) -> bool {
    serde_json::from_str::<Value>(data).is_ok_and(|chunk| {
        chunk["choices"][0]["delta"]["content"]
            .as_str()
            .is_some_and(|s| !s.is_empty())
    })
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::fake_openai::{FakeOpenAi, Profile};

    #[test]
    fn a_chunk_has_text_only_when_its_delta_carries_some() {
        assert!(has_text(r#"{"choices":[{"delta":{"content":"tok0 "}}]}"#));
        assert!(!has_text(
            r#"{"choices":[{"delta":{"role":"assistant","content":""}}]}"#
        ));
        assert!(!has_text(r#"{"choices":[],"usage":{"total_tokens":3}}"#));
    }

    #[tokio::test]
    async fn waves_of_requests_to_a_fake_model_measure_its_time_to_first_token() {
        // Arrange: a fake model answering after 50 ms, then 3 tokens 5 ms apart.
        let fake = FakeOpenAi::with_profile(Profile {
            ttft: Duration::from_millis(50),
            tokens: 3,
            token_delay: Duration::from_millis(5),
            tool_call: false,
            vary_arguments: false,
        });
        let listener = tokio::net::TcpListener::bind("127.0.0.1:0")
            .await
            .expect("bind");
        let addr = listener.local_addr().expect("addr");
        tokio::spawn(async move { axum::serve(listener, fake.router()).await });

        // Act: two waves of four.
        let summary = run(&ModelOptions {
            base_url: format!("http://{addr}/v1"),
            concurrency: 4,
            waves: 2,
        })
        .await
        .expect("the model run");

        // Assert: every reply whole, the first token no sooner than the model's delay.
        assert_eq!((summary.completed, summary.errors), (8, 0));
        assert!(summary.ttft_ms.p50 >= 50.0, "{:?}", summary.ttft_ms);
        assert!(summary.latency_ms.p50 >= 60.0, "{:?}", summary.latency_ms);
    }
}
