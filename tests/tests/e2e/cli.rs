//! The terminal client `todo` against the real api and worker: sign up and log in (session kept
//! with mode 0600), one-shot and interactive chat, task listing with filters and `--json`,
//! Ctrl-C stopping a reply, log out.

use std::os::unix::fs::PermissionsExt;
use std::time::Duration;

use serde_json::Value;
use todo_tests::fake_openai::{FakeOpenAi, Reply};
use todo_tests::terminal::{Todo, config_dir, todo};
use todo_tests::{TestApp, TestOptions, eventually};

#[tokio::test]
async fn a_new_user_signs_up_chats_lists_tasks_and_logs_out_from_the_terminal() {
    let app = TestApp::spawn().await;
    let dir = config_dir();
    let email = format!("cli-{}@example.com", uuid::Uuid::new_v4().simple());
    let api = app.base.as_str();

    // Sign up (password on stdin, as a script would).
    let (status, out, err) = todo(
        &dir,
        &[
            "--api",
            api,
            "signup",
            "--email",
            &email,
            "--password-stdin",
        ],
        "correct horse battery\n",
    )
    .await;
    assert_eq!(status, 0, "{out}{err}");
    assert!(out.contains("Logged in as"), "{out}");
    let mode = std::fs::metadata(dir.join("session.json"))
        .expect("session stored")
        .permissions()
        .mode();
    assert_eq!(mode & 0o777, 0o600, "only the user may read the token");

    // One-shot chat: the reply streams to stdout; the tool call shows on its own line.
    let (status, out, err) = todo(&dir, &["chat", "add buy milk tomorrow"], "").await;
    assert_eq!(status, 0, "{out}{err}");
    assert!(out.contains("[add_task] added #1 Buy milk (due"), "{out}");

    let (status, out, _) = todo(&dir, &["tasks"], "").await;
    assert_eq!(status, 0);
    assert!(
        out.contains("#1") && out.contains("Buy milk") && out.contains("due"),
        "{out}"
    );
    let (_, out, _) = todo(&dir, &["tasks", "--status", "done"], "").await;
    assert_eq!(out.trim(), "No tasks.");

    // Interactive: several messages in one conversation, Ctrl-D (end of input) quits.
    let (status, out, err) = todo(
        &dir,
        &["chat"],
        "add call mom on friday\nmark task 1 as done\n",
    )
    .await;
    assert_eq!(status, 0, "{out}{err}");
    assert!(out.contains("[add_task] added #2 Call mom"), "{out}");
    assert!(
        out.contains("[complete_task] completed #1 Buy milk"),
        "{out}"
    );
    let (_, _, conversations) = app.get_json(&user_of(&dir), "/conversations").await;
    assert_eq!(
        conversations.as_array().map(Vec::len),
        Some(2),
        "one per chat command"
    );

    // Scripts get JSON.
    let (status, out, _) = todo(&dir, &["--json", "tasks", "--status", "all"], "").await;
    assert_eq!(status, 0);
    let tasks: Value = serde_json::from_str(&out).expect("JSON output");
    assert_eq!(tasks.as_array().map(Vec::len), Some(2));
    let (status, out, _) = todo(&dir, &["--json", "chat", "what is pending?"], "").await;
    assert_eq!(status, 0);
    let done: Value = serde_json::from_str(out.trim()).expect("the final frame as JSON");
    assert_eq!(done["type"], "done");
    assert!(
        done["response"]
            .as_str()
            .is_some_and(|r| r.contains("Call mom")),
        "{done}"
    );

    // A bad filter is the api's clear error, with a non-zero status.
    let (status, _, err) = todo(&dir, &["tasks", "--due", "someday"], "").await;
    assert_eq!(status, 1);
    assert!(err.contains("due"), "{err}");

    // Log out: the token is revoked and forgotten.
    let token = user_of(&dir).token;
    let (status, _, _) = todo(&dir, &["logout"], "").await;
    assert_eq!(status, 0);
    assert!(!dir.join("session.json").exists());
    let res = app
        .http
        .get(app.url("/api/auth/me"))
        .bearer_auth(&token)
        .send()
        .await
        .expect("me");
    assert_eq!(res.status(), 401, "the token was revoked");
    let (status, _, err) = todo(&dir, &["tasks"], "").await;
    assert_eq!(status, 3);
    assert!(err.contains("not logged in"), "{err}");
    app.shutdown().await;
}

#[tokio::test]
async fn wrong_credentials_and_an_unreachable_api_fail_clearly() {
    let app = TestApp::spawn().await;
    let user = app.user().await;
    let dir = config_dir();
    let (status, _, err) = login(&dir, &app.base, &user.email, "not the password").await;
    assert_eq!(status, 3);
    assert!(err.contains("invalid email or password"), "{err}");
    assert!(!dir.join("session.json").exists());

    let (status, _, err) = login(&dir, "http://127.0.0.1:9", &user.email, "x").await;
    assert_eq!(status, 1);
    assert!(err.contains("cannot reach http://127.0.0.1:9"), "{err}");
    app.shutdown().await;
}

#[tokio::test]
async fn ctrl_c_stops_the_running_reply() {
    let (fake, url) = FakeOpenAi::start().await;
    let story: String = (1..=60).map(|i| format!("word{i} ")).collect();
    fake.push([Reply::slow_text(&story, Duration::from_millis(100))]);
    let app = TestApp::spawn_with(TestOptions::openai(&url)).await;
    let user = app.user().await;
    let dir = config_dir();
    let (status, _, _) = login(&dir, &app.base, &user.email, &user.password).await;
    assert_eq!(status, 0);

    let run = Todo::start(&dir, &["chat", "tell me a story"], "");
    let out = run.out.clone();
    eventually(Duration::from_secs(10), || async {
        out.text().contains("word3").then_some(())
    })
    .await
    .expect("the reply streams");
    run.interrupt();
    let status = tokio::time::timeout(Duration::from_secs(3), run.status())
        .await
        .expect("stopped promptly");

    assert_eq!(status, 130);
    let text = out.text();
    assert!(text.contains("[stopped]"), "{text}");
    assert!(!text.contains("word60"), "{text}");
    app.shutdown().await;
}

/// `todo --api <api> login --email <email> --password-stdin` with `password` on stdin.
async fn login(
    dir: &std::path::Path,
    api: &str,
    email: &str,
    password: &str,
) -> (u8, String, String) {
    let args = ["--api", api, "login", "--email", email, "--password-stdin"];
    todo(dir, &args, &format!("{password}\n")).await
}

/// The user whose session `dir` holds.
fn user_of(dir: &std::path::Path) -> todo_tests::TestUser {
    let session: Value =
        serde_json::from_str(&std::fs::read_to_string(dir.join("session.json")).expect("session"))
            .expect("json");
    todo_tests::TestUser {
        id: session["user_id"]
            .as_str()
            .and_then(|s| s.parse().ok())
            .expect("id"),
        email: session["email"].as_str().unwrap_or_default().to_owned(),
        password: String::new(),
        token: session["token"].as_str().unwrap_or_default().to_owned(),
    }
}
