//! The web app in a real headless Chromium (Debian's `chromium`, driven by `playwright-core`
//! from npm): tests/browser/app.test.mjs runs against a real api and two workers started here.
//! The model is the fake OpenAI server, answering like a model would: "add …" becomes an
//! `add_task` call, a message about a story streams a slow reply (six seconds), so reloads and
//! Stop can happen mid-reply.

use std::path::Path;
use std::time::Duration;

use serde_json::{Value, json};
use todo_tests::fake_openai::{FakeOpenAi, Reply};
use todo_tests::{TestApp, TestOptions};

/// The fake model's answer to a request: what a tool-calling model would do with these phrasings.
fn answer(request: &Value) -> Reply {
    let messages = request["messages"].as_array().cloned().unwrap_or_default();
    let last = messages.last().cloned().unwrap_or(Value::Null);
    if last["role"] == "tool" {
        let result: Value =
            serde_json::from_str(last["content"].as_str().unwrap_or("{}")).unwrap_or_default();
        return Reply::text(&format!(
            "Done: I added “{}” to your list.",
            result["title"].as_str().unwrap_or("it")
        ));
    }
    let said = last["content"].as_str().unwrap_or("").to_lowercase();
    if said.contains("story") {
        let story: String = (1..=40).map(|i| format!("word{i} ")).collect();
        return Reply::slow_text(&format!("{story}the end"), Duration::from_millis(150));
    }
    if let Some(rest) = said.strip_prefix("add ") {
        let (title, due) = match rest.strip_suffix(" tomorrow") {
            Some(title) => (title, Some("tomorrow")),
            None => (rest, None),
        };
        let mut title = title.to_owned();
        if let Some(first) = title.get(..1) {
            title = first.to_uppercase() + &title[1..];
        }
        return Reply::tool("add_task", &json!({"title": title, "due": due}));
    }
    Reply::text("OK.")
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_web_app_works_in_a_real_browser() {
    let dir = Path::new(env!("CARGO_MANIFEST_DIR")).join("browser");
    assert!(
        dir.join("node_modules/playwright-core").exists(),
        "the browser tests need playwright-core: run `npm ci --prefix tests/browser` (./scripts/test.sh does)"
    );
    let chromium = std::env::var("CHROMIUM").unwrap_or_else(|_| "/usr/bin/chromium".into());
    assert!(
        Path::new(&chromium).exists(),
        "the browser tests need Chromium at {chromium}: `apt-get install chromium` (./scripts/test.sh does), or set CHROMIUM"
    );
    let (fake, url) = FakeOpenAi::start().await;
    fake.respond_with(answer);
    let mut options = TestOptions::openai(&url);
    options.workers = 2;
    let app = TestApp::spawn_with(options).await;

    let run = tokio::process::Command::new("node")
        .args(["--test", "--test-concurrency=1", "app.test.mjs"])
        .env("BASE_URL", &app.base)
        .env("CHROMIUM", &chromium)
        .current_dir(&dir)
        .kill_on_drop(true)
        .output();
    let output = tokio::time::timeout(Duration::from_secs(300), run)
        .await
        .expect("the browser tests finish within 5 minutes")
        .expect("node runs");
    app.shutdown().await;

    let report = String::from_utf8_lossy(&output.stdout);
    assert!(
        output.status.success(),
        "browser tests failed (screenshots in tests/browser/artifacts/):\n{report}\n{}",
        String::from_utf8_lossy(&output.stderr)
    );
    assert!(report.contains("# pass 6"), "{report}");
}
