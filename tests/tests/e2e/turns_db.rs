//! The hardest SQL of a chat turn, checked on a real database under concurrency: storing a request
//! (`accept`), starting an attempt (`begin_turn`, leases) and the reconciler's claim.

use std::collections::HashSet;
use std::time::Duration;

use futures::future::join_all;
use todo_common::chat::{self, Accepted, Begin, Lease, TurnStatus};
use todo_tests::{TestApp, TestOptions};
use uuid::Uuid;

async fn database_only() -> TestApp {
    TestApp::spawn_with(TestOptions {
        workers: 0,
        ..TestOptions::default()
    })
    .await
}

async fn accept(app: &TestApp, user: Uuid, conversation: Option<i64>) -> (Uuid, Accepted) {
    let id = Uuid::new_v4();
    let accepted = chat::accept(&app.db, id, user, conversation, "add a task", None, None)
        .await
        .expect("accept");
    (id, accepted)
}

async fn begin(app: &TestApp, id: Uuid, user: Uuid, lease: Duration) -> Begin {
    let mut conn = app.db.acquire().await.expect("connection");
    chat::begin_turn(&mut conn, id, user, lease)
        .await
        .expect("begin")
}

#[tokio::test]
async fn concurrent_duplicates_of_a_request_are_stored_once() {
    let app = database_only().await;
    let user = app.user().await;
    let id = Uuid::new_v4();
    let outcomes = join_all((0..16).map(|_| {
        chat::accept(
            &app.db,
            id,
            user.id,
            None,
            "add a task to buy milk",
            None,
            None,
        )
    }))
    .await;
    let new = outcomes
        .iter()
        .filter(|o| matches!(o, Ok(Accepted::New(_))))
        .count();
    let existing = outcomes
        .iter()
        .filter(|o| matches!(o, Ok(Accepted::Existing(_))))
        .count();
    assert_eq!((new, existing), (1, 15), "{outcomes:?}");
    assert_eq!(
        app.count(
            "select count(*) from chat_requests where user_id = $1",
            &user
        )
        .await,
        1
    );
    assert_eq!(
        app.count(
            "select count(*) from conversations where user_id = $1",
            &user
        )
        .await,
        1,
        "one conversation, not one per duplicate"
    );
    app.shutdown().await;
}

#[tokio::test]
async fn concurrent_turns_of_a_conversation_are_numbered_without_gaps() {
    let app = database_only().await;
    let user = app.user().await;
    let (_, first) = accept(&app, user.id, None).await;
    let Accepted::New(first) = first else {
        panic!("stored")
    };
    let conversation = first.conversation_id;
    let outcomes = join_all((0..20).map(|_| accept(&app, user.id, Some(conversation)))).await;
    let mut turns: Vec<i64> = outcomes
        .into_iter()
        .map(|(_, a)| match a {
            Accepted::New(r) => r.turn,
            other => panic!("expected a new turn, got {other:?}"),
        })
        .collect();
    turns.sort_unstable();
    assert_eq!(turns, (2..=21).collect::<Vec<i64>>());
    app.shutdown().await;
}

#[tokio::test]
async fn racing_deliveries_start_one_attempt_and_an_expired_lease_is_taken_over() {
    let app = database_only().await;
    let user = app.user().await;
    let (id, _) = accept(&app, user.id, None).await;
    let lease = Duration::from_millis(800);

    // Eight deliveries race: one attempt starts, the others see it running.
    let outcomes = join_all((0..8).map(|_| begin(&app, id, user.id, lease))).await;
    let started: Vec<_> = outcomes
        .iter()
        .filter_map(|b| match b {
            Begin::Started(r) => Some(r.clone()),
            _ => None,
        })
        .collect();
    assert_eq!(started.len(), 1, "{outcomes:?}");
    assert!(
        outcomes
            .iter()
            .all(|b| matches!(b, Begin::Started(_) | Begin::Blocked(_)))
    );
    let first = Lease::of(app.db.clone(), &started[0], lease);
    assert!(
        first.renew().await.expect("renew"),
        "the holder renews its lease"
    );

    // Not renewed: another delivery takes the turn over, and the old attempt can neither renew
    // nor release it any more.
    tokio::time::sleep(lease + Duration::from_millis(300)).await;
    let Begin::Started(second) = begin(&app, id, user.id, lease).await else {
        panic!("an expired lease is taken over");
    };
    assert_eq!(second.attempts, 2);
    assert!(!first.renew().await.expect("renew"));
    first.release().await.expect("release");
    let status: TurnStatus =
        sqlx::query_scalar("select status from chat_requests where request_id = $1")
            .bind(id)
            .fetch_one(&app.db)
            .await
            .expect("status");
    assert_eq!(
        status,
        TurnStatus::Running,
        "the new attempt keeps the turn"
    );

    // Released by its holder, the turn starts again at once.
    Lease::of(app.db.clone(), &second, lease)
        .release()
        .await
        .expect("release");
    assert!(matches!(begin(&app, id, user.id, lease).await, Begin::Started(r) if r.attempts == 3));
    app.shutdown().await;
}

#[tokio::test]
async fn a_turn_waits_for_the_earlier_turns_of_its_conversation() {
    let app = database_only().await;
    let user = app.user().await;
    let (first, accepted) = accept(&app, user.id, None).await;
    let Accepted::New(record) = accepted else {
        panic!("stored")
    };
    let (second, _) = accept(&app, user.id, Some(record.conversation_id)).await;
    let lease = Duration::from_secs(30);
    assert!(matches!(
        begin(&app, second, user.id, lease).await,
        Begin::Blocked(_)
    ));
    let Begin::Started(running) = begin(&app, first, user.id, lease).await else {
        panic!("the first turn starts");
    };
    assert!(matches!(
        begin(&app, second, user.id, lease).await,
        Begin::Blocked(_)
    ));
    chat::finish(
        &app.db,
        &running,
        "ok",
        &serde_json::json!([]),
        &serde_json::json!({}),
        None,
    )
    .await
    .expect("finish");
    assert!(matches!(
        begin(&app, second, user.id, lease).await,
        Begin::Started(_)
    ));
    assert!(matches!(
        begin(&app, first, user.id, lease).await,
        Begin::Finished(_)
    ));
    app.shutdown().await;
}

#[tokio::test]
async fn concurrent_reconcilers_claim_disjoint_stale_requests() {
    let app = database_only().await;
    let user = app.user().await;
    let mut ids = HashSet::new();
    let (_, first) = accept(&app, user.id, None).await;
    let Accepted::New(first) = first else {
        panic!("stored")
    };
    ids.insert(first.request_id);
    for _ in 0..49 {
        let (id, _) = accept(&app, user.id, Some(first.conversation_id)).await;
        ids.insert(id);
    }
    // Age them (the updated_at trigger is off for this one transaction).
    let mut tx = app.db.begin().await.expect("begin");
    sqlx::query("set local session_replication_role = replica")
        .execute(&mut *tx)
        .await
        .expect("triggers off");
    sqlx::query(
        "update chat_requests set updated_at = now() - interval '1 hour' where user_id = $1",
    )
    .bind(user.id)
    .execute(&mut *tx)
    .await
    .expect("age them");
    tx.commit().await.expect("commit");

    let claims =
        join_all((0..4).map(|_| chat::claim_stale(&app.db, Duration::from_secs(60), 20))).await;
    let mut claimed = HashSet::new();
    let mut total = 0;
    for claim in claims {
        for record in claim.expect("claim") {
            total += 1;
            claimed.insert(record.request_id);
        }
    }
    assert_eq!(total, claimed.len(), "no request claimed twice");
    assert_eq!(claimed, ids, "every stale request claimed");
    assert!(
        chat::claim_stale(&app.db, Duration::from_secs(60), 20)
            .await
            .expect("claim")
            .is_empty(),
        "claimed requests are fresh again"
    );
    app.shutdown().await;
}
