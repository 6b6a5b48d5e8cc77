//! A short `loadgen` run against the real system: checks correctness (every request answered
//! once, every task created once), not speed.

use std::time::Duration;

use todo_tests::loadgen::{Common, Mode, Pace, chat_run, queue_run};
use todo_tests::{TestApp, TestOptions};

fn common(prefix: &str) -> Common {
    Common {
        json: true,
        timeout_s: 60,
        user_prefix: format!("{prefix}-{}", uuid::Uuid::new_v4().simple()),
        check_tasks: true,
    }
}

#[tokio::test]
async fn loadgen_ws_smoke_run_answers_every_turn_exactly_once() {
    let app = TestApp::spawn_with(TestOptions {
        workers: 2,
        ..Default::default()
    })
    .await;
    let summary = chat_run(Mode::Ws, &app.base, 20, 10, Pace::default(), &common("ws"))
        .await
        .expect("run");
    assert_eq!(summary.sent, 200);
    assert_eq!(summary.completed, 200, "{summary:?}");
    assert_eq!(summary.errors, 0);
    assert_eq!((summary.lost, summary.duplicated), (0, 0), "{summary:?}");
    assert!(summary.latency_ms.p50 > 0.0 && summary.ttft_ms.p50 > 0.0);
    app.shutdown().await;
}

#[tokio::test]
async fn loadgen_http_smoke_run_answers_every_turn_exactly_once() {
    let app = TestApp::spawn().await;
    // Users starting one after another over 200 ms, with a pause between messages.
    let pace = Pace {
        think: Duration::from_millis(5),
        ramp: Duration::from_millis(200),
    };
    let summary = chat_run(Mode::Http, &app.base, 5, 10, pace, &common("http"))
        .await
        .expect("run");
    assert_eq!(summary.completed, 50, "{summary:?}");
    assert_eq!((summary.lost, summary.duplicated), (0, 0));
    app.shutdown().await;
}

#[tokio::test]
async fn loadgen_queue_smoke_run_serves_every_published_request_once() {
    let app = TestApp::spawn_with(TestOptions {
        workers: 2,
        ..Default::default()
    })
    .await;
    let nats = todo_tests::nats_url();
    let summary = queue_run(
        &nats,
        &app.base,
        300,
        None,
        64,
        8,
        &app.config.nats.subject_prefix,
        &common("queue"),
    )
    .await
    .expect("run");
    assert_eq!(summary.sent, 300);
    assert_eq!(summary.completed, 300, "{summary:?}");
    assert_eq!((summary.lost, summary.duplicated), (0, 0), "{summary:?}");
    app.shutdown().await;
}
