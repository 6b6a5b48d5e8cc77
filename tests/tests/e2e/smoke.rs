//! `loadgen smoke` passes against a healthy system and fails against a broken one.

use todo_tests::loadgen::smoke::{SmokeArgs, run};
use todo_tests::{TestApp, TestOptions};

#[tokio::test]
async fn the_smoke_check_passes_against_a_working_system() {
    let app = TestApp::spawn().await;
    let report = run(&SmokeArgs {
        base_url: app.base.clone(),
        p95_ms: 3000,
        timeout_s: 20,
    })
    .await;
    assert!(report.passed(), "{:#?}", report.checks);
    assert!(report.checks.len() >= 11, "{:#?}", report.checks);
    assert_eq!(
        report.turn_ms.len(),
        7,
        "five stories and two multi-turn turns"
    );
    app.shutdown().await;
}

#[tokio::test]
async fn the_smoke_check_fails_when_no_worker_answers() {
    let app = TestApp::spawn_with(TestOptions {
        workers: 0,
        ..Default::default()
    })
    .await;
    let report = run(&SmokeArgs {
        base_url: app.base.clone(),
        p95_ms: 3000,
        timeout_s: 2,
    })
    .await;
    assert!(!report.passed());
    let failed: Vec<&str> = report
        .checks
        .iter()
        .filter(|(_, r)| r.is_err())
        .map(|(name, _)| name.as_str())
        .collect();
    assert!(failed.contains(&"story: add a task"), "{failed:?}");
    app.shutdown().await;
}
