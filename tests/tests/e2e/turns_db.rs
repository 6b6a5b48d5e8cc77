//! The hardest SQL of a chat turn, checked on a real database under concurrency: storing a request
//! (`accept`), starting an attempt (`begin_turn`, leases) and the reconciler's claim.

use std::collections::HashSet;
use std::time::Duration;

use futures::future::join_all;
use todo_common::chat::{self, Accepted, Begin, HistoryNeed, Lease, TurnStatus};
use todo_common::schema::EventBody;
use todo_common::tasks::Source;
use todo_common::tools::{Tool, ToolContext, ToolOutput, TurnRef};
use todo_common::when::Clock;
use todo_tests::TestApp;
use todo_worker::tools::{Ran, ReplyFn, ToolExecutor, ToolJob, batcher, run_batch};
use uuid::Uuid;

async fn accept(app: &TestApp, user: Uuid, conversation: Option<i64>) -> (Uuid, Accepted) {
    let id = Uuid::new_v4();
    let accepted = chat::accept(&app.db, id, user, conversation, "add a task", None, None)
        .await
        .expect("accept");
    (id, accepted)
}

async fn begin(app: &TestApp, id: Uuid, user: Uuid, lease: Duration) -> Begin {
    let mut conn = app.db.acquire().await.expect("connection");
    chat::begin_turn(&mut conn, id, user, lease, HistoryNeed::Recent)
        .await
        .expect("begin")
}

#[tokio::test]
async fn concurrent_duplicates_of_a_request_are_stored_once() {
    let app = TestApp::spawn_without_workers().await;
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
    let app = TestApp::spawn_without_workers().await;
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
    let app = TestApp::spawn_without_workers().await;
    let user = app.user().await;
    let (id, _) = accept(&app, user.id, None).await;
    let lease = Duration::from_millis(800);

    // Eight deliveries race: one attempt starts, the others see it running.
    let outcomes = join_all((0..8).map(|_| begin(&app, id, user.id, lease))).await;
    let started: Vec<_> = outcomes
        .iter()
        .filter_map(|b| match b {
            Begin::Started { record, .. } => Some(record.clone()),
            _ => None,
        })
        .collect();
    assert_eq!(started.len(), 1, "{outcomes:?}");
    assert!(
        outcomes
            .iter()
            .all(|b| matches!(b, Begin::Started { .. } | Begin::Blocked(_)))
    );
    let first = Lease::of(app.db.clone(), &started[0], lease);
    assert!(
        first.renew().await.expect("renew"),
        "the holder renews its lease"
    );

    // Not renewed: another delivery takes the turn over, and the old attempt can neither renew
    // nor release it any more.
    tokio::time::sleep(lease + Duration::from_millis(300)).await;
    let Begin::Started { record: second, .. } = begin(&app, id, user.id, lease).await else {
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
    assert!(
        matches!(begin(&app, id, user.id, lease).await, Begin::Started { record, .. } if record.attempts == 3)
    );
    app.shutdown().await;
}

#[tokio::test]
async fn a_turn_waits_for_the_earlier_turns_of_its_conversation() {
    let app = TestApp::spawn_without_workers().await;
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
    let Begin::Started {
        record: running, ..
    } = begin(&app, first, user.id, lease).await
    else {
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
    let Begin::Started { start, .. } = begin(&app, second, user.id, lease).await else {
        panic!("the second turn starts once the first finished");
    };
    let history: Vec<(&str, &str)> = start
        .history
        .iter()
        .map(|m| (m.role.as_str(), m.content.as_str()))
        .collect();
    assert_eq!(
        history,
        [("user", "add a task"), ("assistant", "ok")],
        "it starts from the first turn"
    );
    assert!(matches!(
        begin(&app, first, user.id, lease).await,
        Begin::Finished(_)
    ));
    app.shutdown().await;
}

#[tokio::test]
async fn concurrent_reconcilers_claim_disjoint_stale_requests() {
    let app = TestApp::spawn_without_workers().await;
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

fn new_request(user: Uuid, conversation: Option<i64>, message: &str) -> chat::NewRequest {
    chat::NewRequest {
        request_id: Uuid::new_v4(),
        user_id: user,
        conversation_id: conversation,
        message: format!("  {message} "),
        reply_to: Some(format!("todo_chat.events.test.{}", Uuid::new_v4())),
    }
}

#[tokio::test]
async fn a_batch_of_requests_is_stored_in_one_statement_and_refusals_are_left_to_accept() {
    // Arrange: three users; one continues a conversation, one starts one, one names somebody
    // else's conversation; a fourth request repeats an id already stored, and a fifth starts a
    // conversation for a user who does not exist
    let app = TestApp::spawn_without_workers().await;
    let (alice, bob, carol) = (app.user().await, app.user().await, app.user().await);
    let (_, first) = accept(&app, alice.id, None).await;
    let Accepted::New(first) = first else {
        panic!("stored")
    };
    let continuing = new_request(alice.id, Some(first.conversation_id), "and another");
    let starting = new_request(bob.id, None, "buy milk");
    let trespassing = new_request(carol.id, Some(first.conversation_id), "sneaky");
    let mut repeated = new_request(carol.id, None, "again");
    repeated.request_id = first.request_id;
    let ghost = new_request(Uuid::new_v4(), None, "boo");

    // Act
    let stored = chat::accept_many(
        &app.db,
        &[
            continuing.clone(),
            starting.clone(),
            trespassing.clone(),
            repeated,
            ghost,
        ],
        Some(10),
    )
    .await
    .expect("batch");

    // Assert: the two valid ones, numbered as `accept` numbers them, messages trimmed, reply
    // subjects kept; the others are not stored (and `accept` says why)
    let by_id = |id: Uuid| stored.iter().find(|r| r.request_id == id);
    assert_eq!(stored.len(), 2, "{stored:?}");
    let c = by_id(continuing.request_id).expect("continuing stored");
    assert_eq!((c.conversation_id, c.turn), (first.conversation_id, 2));
    assert_eq!(c.message, "and another");
    assert_eq!(c.reply_to, continuing.reply_to);
    assert_eq!(c.status, TurnStatus::Queued);
    let s = by_id(starting.request_id).expect("starting stored");
    assert_ne!(s.conversation_id, first.conversation_id);
    assert_eq!(s.turn, 1);
    let title: Option<String> = sqlx::query_scalar("select title from conversations where id = $1")
        .bind(s.conversation_id)
        .fetch_one(&app.db)
        .await
        .expect("conversation");
    assert_eq!(title.as_deref(), Some("buy milk"));
    let conversations: i64 = sqlx::query_scalar("select count(*) from conversations")
        .fetch_one(&app.db)
        .await
        .expect("count");
    assert_eq!(
        conversations, 2,
        "Alice's and Bob's: none for the repeated request or the unknown user"
    );
    assert!(matches!(
        chat::accept(
            &app.db,
            trespassing.request_id,
            carol.id,
            trespassing.conversation_id,
            "sneaky",
            None,
            Some(10)
        )
        .await,
        Ok(Accepted::ConversationNotFound)
    ));
    app.shutdown().await;
}

#[tokio::test]
async fn a_batch_respects_the_in_flight_limit() {
    // Arrange: a user with one unanswered request and a limit of one
    let app = TestApp::spawn_without_workers().await;
    let (dan, erin) = (app.user().await, app.user().await);
    accept(&app, dan.id, None).await;

    // Act
    let over = new_request(dan.id, None, "one more");
    let fine = new_request(erin.id, None, "first");
    let stored = chat::accept_many(&app.db, &[over.clone(), fine.clone()], Some(1))
        .await
        .expect("batch");

    // Assert
    assert_eq!(
        stored.iter().map(|r| r.request_id).collect::<Vec<_>>(),
        vec![fine.request_id]
    );
    app.shutdown().await;
}

#[tokio::test]
async fn a_batch_starts_the_turns_that_may_start_and_stores_their_messages() {
    // Arrange: two turns of one conversation and one of another user
    let app = TestApp::spawn_without_workers().await;
    let (frank, gina) = (app.user().await, app.user().await);
    let (first, a) = accept(&app, frank.id, None).await;
    let Accepted::New(a) = a else {
        panic!("stored")
    };
    let (second, _) = accept(&app, frank.id, Some(a.conversation_id)).await;
    let (other, _) = accept(&app, gina.id, None).await;
    let lease = Duration::from_secs(30);

    // Act: all three in one batch, and one with the wrong user
    let started = chat::begin_and_start_many(
        &app.db,
        &[
            (first, frank.id),
            (second, frank.id),
            (other, gina.id),
            (other, frank.id),
        ],
        lease,
        HistoryNeed::Recent,
    )
    .await
    .expect("batch");
    let started: Vec<_> = started.into_iter().map(|(record, _)| record).collect();

    // Assert: the later turn of the conversation waits for the earlier one; each started turn's
    // user message is stored once, and starting again stores no second copy
    let mut ids: Vec<Uuid> = started.iter().map(|r| r.request_id).collect();
    ids.sort();
    let mut expected = vec![first, other];
    expected.sort();
    assert_eq!(ids, expected);
    assert!(
        started
            .iter()
            .all(|r| r.attempts == 1 && r.status == TurnStatus::Running)
    );
    assert!(matches!(
        begin(&app, second, frank.id, lease).await,
        Begin::Blocked(_)
    ));
    let user_messages = |id: Uuid| {
        sqlx::query_scalar::<_, i64>(
            "select count(*) from messages where request_id = $1 and role = 'user'",
        )
        .bind(id)
        .fetch_one(&app.db)
    };
    assert_eq!(user_messages(first).await.expect("count"), 1);
    assert_eq!(user_messages(second).await.expect("count"), 0);
    let again = chat::begin_and_start_many(
        &app.db,
        &[(first, frank.id)],
        Duration::ZERO,
        HistoryNeed::Recent,
    )
    .await
    .expect("batch");
    assert!(again.is_empty(), "a live lease holds it");
    assert_eq!(user_messages(first).await.expect("count"), 1);
    app.shutdown().await;
}

#[tokio::test]
async fn a_batch_of_finished_turns_is_stored_together() {
    // Arrange: two started turns
    let app = TestApp::spawn_without_workers().await;
    let (hal, ida) = (app.user().await, app.user().await);
    let mut turns = Vec::new();
    for user in [hal.id, ida.id] {
        let (id, _) = accept(&app, user, None).await;
        let Begin::Started { record, .. } = begin(&app, id, user, Duration::from_secs(30)).await
        else {
            panic!("started")
        };
        turns.push(chat::FinishedTurn {
            request_id: record.request_id,
            user_id: user,
            conversation_id: record.conversation_id,
            response: format!("Done for {user}"),
            tool_calls: serde_json::json!([]),
            final_event: serde_json::json!({"type": "done", "request_id": record.request_id}),
            agent_state: None,
        });
    }

    // Act
    chat::finish_many(&app.db, &turns).await.expect("batch");

    // Assert: each is done with its own reply and final event
    for turn in &turns {
        let mut conn = app.db.acquire().await.expect("connection");
        let record = chat::find_request(&mut conn, turn.request_id)
            .await
            .expect("query")
            .expect("record");
        assert_eq!(record.status, TurnStatus::Done);
        assert_eq!(
            record.result.expect("final event").0["request_id"],
            serde_json::json!(turn.request_id)
        );
        let reply: String = sqlx::query_scalar(
            "select content from messages where request_id = $1 and role = 'assistant'",
        )
        .bind(turn.request_id)
        .fetch_one(&app.db)
        .await
        .expect("reply");
        assert_eq!(reply, turn.response);
    }
    app.shutdown().await;
}

#[tokio::test]
async fn starting_a_batch_returns_each_started_turn_with_its_history_in_one_statement() {
    // Arrange: Jo (Berlin) has a finished first turn, a second one and a third behind it; Kim
    // (UTC) has one turn. Jo's second message is long, and her history has two messages.
    let app = TestApp::spawn_without_workers().await;
    let (jo, kim) = (app.user().await, app.user().await);
    app.set_timezone(&jo, "Europe/Berlin").await;
    let lease = Duration::from_secs(30);
    let conversation = finished_first_turn(&app, jo.id).await;
    let long = format!("add{}", " a very long title".repeat(200));
    let second = Uuid::new_v4();
    chat::accept(
        &app.db,
        second,
        jo.id,
        Some(conversation),
        &long,
        None,
        None,
    )
    .await
    .expect("accept");
    let (third, _) = accept(&app, jo.id, Some(conversation)).await;
    let (other, _) = accept(&app, kim.id, None).await;

    // Act
    let started = chat::begin_and_start_many(
        &app.db,
        &[(third, jo.id), (other, kim.id), (second, jo.id)],
        lease,
        HistoryNeed::Recent,
    )
    .await
    .expect("begin and read");

    // Assert: Jo's second turn and Kim's started, ordered by request id (Jo's third waits for
    // her second); each record is whole, and each history is the turn's own, oldest first
    let mut expected = vec![second, other];
    expected.sort_unstable();
    let ids: Vec<Uuid> = started.iter().map(|(r, _)| r.request_id).collect();
    assert_eq!(ids, expected);
    let (jo_record, jo_start) = started
        .iter()
        .find(|(r, _)| r.request_id == second)
        .expect("Jo's second turn");
    assert_eq!(jo_record.message, long);
    assert_eq!(jo_record.user_id, jo.id);
    assert_eq!(jo_record.conversation_id, conversation);
    assert_eq!(jo_record.turn, 2);
    assert_eq!(jo_record.attempts, 1);
    assert_eq!(jo_record.status, TurnStatus::Running);
    let roles: Vec<(&str, &str)> = jo_start
        .history
        .iter()
        .map(|m| (m.role.as_str(), m.content.as_str()))
        .collect();
    assert_eq!(
        roles,
        vec![("user", "add a task"), ("assistant", "Added it.")]
    );
    assert_eq!(jo_start.clock.tz, chrono_tz::Europe::Berlin);
    let (kim_record, kim_start) = started
        .iter()
        .find(|(r, _)| r.request_id == other)
        .expect("Kim's turn");
    assert_eq!(kim_record.message, "add a task");
    assert!(kim_start.history.is_empty());
    assert_eq!(kim_start.clock.tz, chrono_tz::UTC);
    // and starting stored both user messages
    let stored: i64 = sqlx::query_scalar(
        "select count(*) from messages where role = 'user' and request_id = any($1)",
    )
    .bind(vec![second, other, third])
    .fetch_one(&app.db)
    .await
    .expect("count");
    assert_eq!(stored, 2);
    app.shutdown().await;
}

/// Stores and starts a turn of `user` saying `message`, in `conversation` or a new one.
async fn started_turn_in(
    app: &TestApp,
    user: Uuid,
    conversation: Option<i64>,
    message: &str,
) -> chat::ChatRequestRecord {
    let id = Uuid::new_v4();
    let accepted = chat::accept(&app.db, id, user, conversation, message, None, None)
        .await
        .expect("accept");
    assert!(matches!(accepted, Accepted::New(_)), "{accepted:?}");
    let Begin::Started { record, .. } = begin(app, id, user, Duration::from_secs(30)).await else {
        panic!("started")
    };
    record
}

#[tokio::test]
async fn a_turn_that_needs_only_the_last_reply_reads_that_message_alone() {
    // Arrange: a conversation whose second turn was answered with an agent state, and whose third
    // failed (its user message stored, no reply); then a fourth turn, and one in a new
    // conversation
    let app = TestApp::spawn_without_workers().await;
    let lee = app.user().await;
    let conversation = finished_first_turn(&app, lee.id).await;
    let second = started_turn_in(&app, lee.id, Some(conversation), "add a task to call Sam").await;
    let state = serde_json::json!({"tasks": [2]});
    chat::finish(
        &app.db,
        &second,
        "Added task 2.",
        &serde_json::json!([]),
        &serde_json::json!({"type": "done"}),
        Some(&state),
    )
    .await
    .expect("finish");
    let third = started_turn_in(&app, lee.id, Some(conversation), "and another").await;
    chat::fail(
        &app.db,
        third.request_id,
        lee.id,
        &serde_json::json!({"type": "error"}),
        "test",
    )
    .await
    .expect("fail");
    let (fourth, _) = accept(&app, lee.id, Some(conversation)).await;
    let (fresh, _) = accept(&app, lee.id, None).await;

    // Act
    let started = chat::begin_and_start_many(
        &app.db,
        &[(fourth, lee.id), (fresh, lee.id)],
        Duration::from_secs(30),
        HistoryNeed::LastReply,
    )
    .await
    .expect("begin and read");

    // Assert: the fourth turn read the second turn's reply and its state, nothing else; the new
    // conversation's turn read nothing
    assert_eq!(started.len(), 2);
    let (_, start) = started
        .iter()
        .find(|(r, _)| r.request_id == fourth)
        .expect("the fourth turn started");
    let read: Vec<(&str, &str, Option<&serde_json::Value>)> = start
        .history
        .iter()
        .map(|m| {
            (
                m.role.as_str(),
                m.content.as_str(),
                m.agent_state.as_ref().map(|s| &s.0),
            )
        })
        .collect();
    assert_eq!(read, vec![("assistant", "Added task 2.", Some(&state))]);
    let (fresh_record, fresh_start) = started
        .iter()
        .find(|(r, _)| r.request_id == fresh)
        .expect("the new conversation's turn started");
    assert_eq!(fresh_record.turn, 1);
    assert!(fresh_start.history.is_empty());
    app.shutdown().await;
}

#[tokio::test]
async fn every_turn_status_round_trips_through_postgres_and_an_unknown_one_is_an_error() {
    let app = TestApp::spawn_without_workers().await;
    for status in TurnStatus::ALL {
        let back: TurnStatus = sqlx::query_scalar("select $1::text")
            .bind(status)
            .fetch_one(&app.db)
            .await
            .expect("round trip");
        assert_eq!(back, status);
        let text: String = sqlx::query_scalar("select $1")
            .bind(status)
            .fetch_one(&app.db)
            .await
            .expect("as text");
        assert_eq!(text, status.as_str());
    }
    let unknown = sqlx::query_scalar::<_, TurnStatus>("select 'paused'::text")
        .fetch_one(&app.db)
        .await;
    assert!(
        matches!(unknown, Err(sqlx::Error::ColumnDecode { .. })),
        "{unknown:?}"
    );
    app.shutdown().await;
}

/// A conversation of `user` whose first turn ("add a task") was answered "Added it.".
async fn finished_first_turn(app: &TestApp, user: Uuid) -> i64 {
    let first = started_turn_in(app, user, None, "add a task").await;
    chat::finish(
        &app.db,
        &first,
        "Added it.",
        &serde_json::json!([]),
        &serde_json::json!({"type": "done"}),
        None,
    )
    .await
    .expect("finish");
    first.conversation_id
}

/// A turn stored for `user`, and the context its tool calls run in.
async fn turn_context(app: &TestApp, user: Uuid) -> ToolContext {
    let (id, accepted) = accept(app, user, None).await;
    let Accepted::New(record) = accepted else {
        panic!("a new request: {accepted:?}");
    };
    ToolContext {
        user_id: user,
        clock: Clock::of_user("UTC", "dmy"),
        source: Source::Chat,
        turn: Some(TurnRef {
            request_id: id,
            conversation_id: record.conversation_id,
            turn: record.turn,
        }),
        max_tasks: None,
    }
}

fn add_task(ctx: ToolContext, title: &str) -> ToolJob {
    ToolJob::new(ctx, 0, "add_task", serde_json::json!({ "title": title }))
}

#[tokio::test]
async fn a_batch_of_tool_calls_runs_each_call_once_with_its_effect_record() {
    // Arrange: one turn each for five users
    let app = TestApp::spawn_without_workers().await;
    let mut contexts = Vec::new();
    for _ in 0..5 {
        let user = app.user().await;
        contexts.push(turn_context(&app, user.id).await);
    }
    let jobs: Vec<ToolJob> = contexts
        .iter()
        .enumerate()
        .map(|(i, ctx)| add_task(*ctx, &format!("batched task {i}")))
        .collect();

    // Act
    let results = run_batch(&app.db, &jobs).await;

    // Assert: each call's own result, its task, and its record, once
    assert_eq!(results.len(), 5);
    for (i, (ctx, result)) in contexts.iter().zip(&results).enumerate() {
        let Ok(Ran {
            output: ToolOutput::Created(created),
            result: recorded_result,
            ..
        }) = result
        else {
            panic!("call {i} created its task: {result:?}");
        };
        assert_eq!(created.task.title, format!("batched task {i}"));
        let titles: Vec<String> = sqlx::query_scalar("select title from tasks where user_id = $1")
            .bind(ctx.user_id)
            .fetch_all(&app.db)
            .await
            .expect("tasks");
        assert_eq!(titles, [format!("batched task {i}")]);
        let request_id = ctx.turn.expect("a turn").request_id;
        let recorded = chat::recorded_effects(&app.db, request_id)
            .await
            .expect("effects");
        assert_eq!(recorded.len(), 1, "one effect record for call {i}");
        assert_eq!(&recorded[0].result.0, recorded_result);
        assert_eq!(
            recorded[0].result.0,
            ToolOutput::Created(created.clone()).to_value()
        );
    }
    app.shutdown().await;
}

#[tokio::test]
async fn a_call_that_fails_in_a_batch_does_not_take_the_others_with_it() {
    // Arrange: two good calls around one whose effect cannot be recorded (its turn is not stored)
    let app = TestApp::spawn_without_workers().await;
    let first = app.user().await;
    let doomed = app.user().await;
    let last = app.user().await;
    let first_ctx = turn_context(&app, first.id).await;
    let last_ctx = turn_context(&app, last.id).await;
    let mut doomed_ctx = turn_context(&app, doomed.id).await;
    doomed_ctx.turn = Some(TurnRef {
        request_id: Uuid::new_v4(),
        ..doomed_ctx.turn.expect("a turn")
    });
    let jobs = [
        add_task(first_ctx, "first"),
        add_task(doomed_ctx, "doomed"),
        add_task(last_ctx, "last"),
    ];

    // Act
    let results = run_batch(&app.db, &jobs).await;

    // Assert: the good calls took effect, the failed one left no effect without its record
    let created = |r: &sqlx::Result<Ran>| {
        matches!(
            r,
            Ok(Ran {
                output: ToolOutput::Created(_),
                ..
            })
        )
    };
    assert!(created(&results[0]), "{results:?}");
    assert!(results[1].is_err(), "{results:?}");
    assert!(created(&results[2]), "{results:?}");
    for (user, expected) in [(&first, 1), (&doomed, 0), (&last, 1)] {
        assert_eq!(
            app.count("select count(*) from tasks where user_id = $1", user)
                .await,
            expected
        );
    }
    app.shutdown().await;
}

#[tokio::test]
async fn a_batch_of_adds_and_other_calls_runs_in_each_users_order() {
    // Arrange: a user allowed three tasks who has one, and another user; the limited user's
    // calls add two, delete the first, then add two more
    let app = TestApp::spawn_without_workers().await;
    let limited = app.user().await;
    let other = app.user().await;
    let mut setup = turn_context(&app, limited.id).await;
    setup.max_tasks = Some(3);
    let first = run_batch(&app.db, &[add_task(setup, "already there")]).await;
    assert!(first[0].is_ok(), "{first:?}");
    let (mut contexts, mut jobs) = (Vec::new(), Vec::new());
    for (user, max, call) in [
        (
            limited.id,
            Some(3),
            ("add_task", serde_json::json!({ "title": "limited two" })),
        ),
        (
            other.id,
            None,
            ("add_task", serde_json::json!({ "title": "other one" })),
        ),
        (
            limited.id,
            Some(3),
            ("add_task", serde_json::json!({ "title": "limited three" })),
        ),
        (
            limited.id,
            Some(3),
            ("delete_task", serde_json::json!({ "task_id": 1 })),
        ),
        (
            other.id,
            None,
            ("add_task", serde_json::json!({ "title": "other two" })),
        ),
        (
            limited.id,
            Some(3),
            ("add_task", serde_json::json!({ "title": "limited four" })),
        ),
        (
            limited.id,
            Some(3),
            ("add_task", serde_json::json!({ "title": "limited five" })),
        ),
    ] {
        let mut ctx = turn_context(&app, user).await;
        ctx.max_tasks = max;
        contexts.push(ctx);
        jobs.push(ToolJob::new(ctx, 0, call.0, call.1));
    }

    // Act
    let results = run_batch(&app.db, &jobs).await;

    // Assert: the delete made room for exactly one more add; every call has its effect record
    let outcomes: Vec<String> = results
        .iter()
        .map(|r| match r {
            Ok(Ran {
                output: ToolOutput::Created(c),
                ..
            }) => format!("created {}", c.task.task_id),
            Ok(Ran {
                output: ToolOutput::Deleted(c),
                ..
            }) => format!("deleted {}", c.task.task_id),
            Ok(Ran {
                output: ToolOutput::Error { error },
                ..
            }) => error.code.clone(),
            other => format!("{other:?}"),
        })
        .collect();
    assert_eq!(
        outcomes,
        [
            "created 2",
            "created 1",
            "created 3",
            "deleted 1",
            "created 2",
            "created 4",
            "TASK_LIMIT_REACHED",
        ]
    );
    for (ctx, result) in contexts.iter().zip(&results) {
        let request_id = ctx.turn.expect("a turn").request_id;
        let recorded = chat::recorded_effects(&app.db, request_id)
            .await
            .expect("effects");
        assert_eq!(recorded.len(), 1);
        assert_eq!(&recorded[0].result.0, &result.as_ref().expect("ran").result);
    }
    let titles: Vec<String> =
        sqlx::query_scalar("select title from tasks where user_id = $1 order by id")
            .bind(limited.id)
            .fetch_all(&app.db)
            .await
            .expect("tasks");
    assert_eq!(titles, ["limited two", "limited three", "limited four"]);
    app.shutdown().await;
}

/// A started turn of `user` and its tool executor (attempt `attempt`).
async fn started_turn(app: &TestApp, user: Uuid, attempt: i32) -> (ToolContext, ToolExecutor) {
    let ctx = turn_context(app, user).await;
    let request_id = ctx.turn.expect("a turn").request_id;
    let Begin::Started { .. } = begin(app, request_id, user, Duration::from_secs(30)).await else {
        panic!("started")
    };
    let executor = ToolExecutor::load(app.db.clone(), batcher(app.db.clone()), ctx, attempt)
        .await
        .expect("executor");
    (ctx, executor)
}

fn add_milk() -> Tool {
    Tool::from_call("add_task", &serde_json::json!({ "title": "buy milk" })).expect("a tool")
}

/// A reply naming the task the call created.
fn added_reply() -> ReplyFn {
    Box::new(|output| match output {
        ToolOutput::Created(created) => (
            format!("Added \"{}\".", created.task.title),
            Some(serde_json::json!({ "tasks": [created.task.task_id] })),
        ),
        other => (format!("unexpected: {other:?}"), None),
    })
}

async fn turn_row(app: &TestApp, request_id: Uuid) -> (String, Option<serde_json::Value>) {
    sqlx::query_as("select status, result from chat_requests where request_id = $1")
        .bind(request_id)
        .fetch_one(&app.db)
        .await
        .expect("the turn")
}

#[tokio::test]
async fn a_turns_last_call_stores_the_reply_and_done_with_its_effect() {
    // Arrange
    let app = TestApp::spawn_without_workers().await;
    let user = app.user().await;
    let (ctx, mut executor) = started_turn(&app, user.id, 1).await;
    let turn = ctx.turn.expect("a turn");

    // Act
    let (output, call, finished) = executor
        .call_and_finish(&add_milk(), added_reply())
        .await
        .expect("the call");

    // Assert: the reply was made from the call's output, and the turn is done with it
    let ToolOutput::Created(created) = output else {
        panic!("created: {output:?}")
    };
    let done = finished.expect("the call finished the turn");
    let EventBody::Done {
        conversation_id,
        response,
        tool_calls,
    } = &done.body
    else {
        panic!("a done event: {done:?}")
    };
    assert_eq!(response, "Added \"buy milk\".");
    assert_eq!(*conversation_id, turn.conversation_id);
    assert_eq!(tool_calls, &[call]);
    let (status, result) = turn_row(&app, turn.request_id).await;
    assert_eq!(status, "done");
    assert_eq!(
        result,
        Some(serde_json::to_value(&done).expect("json")),
        "what a redelivery replays"
    );
    let (content, state): (String, Option<serde_json::Value>) = sqlx::query_as(
        "select content, agent_state from messages where request_id = $1 and role = 'assistant'",
    )
    .bind(turn.request_id)
    .fetch_one(&app.db)
    .await
    .expect("the reply");
    assert_eq!(&content, response);
    assert_eq!(
        state,
        Some(serde_json::json!({ "tasks": [created.task.task_id] }))
    );
    let recorded = chat::recorded_effects(&app.db, turn.request_id)
        .await
        .expect("effects");
    assert_eq!(recorded.len(), 1);
    app.shutdown().await;
}

#[tokio::test]
async fn a_last_call_whose_reply_cannot_be_stored_leaves_no_effect() {
    // Arrange: a reply Postgres refuses (text cannot hold a NUL character)
    let app = TestApp::spawn_without_workers().await;
    let user = app.user().await;
    let (ctx, mut executor) = started_turn(&app, user.id, 1).await;
    let request_id = ctx.turn.expect("a turn").request_id;
    let unstorable: ReplyFn = Box::new(|_| ("Added\0it.".to_owned(), None));

    // Act
    let outcome = executor.call_and_finish(&add_milk(), unstorable).await;

    // Assert: the call, its record and the reply were one transaction: none of them is there
    assert!(outcome.is_err(), "{outcome:?}");
    assert_eq!(
        app.count("select count(*) from tasks where user_id = $1", &user)
            .await,
        0
    );
    let recorded = chat::recorded_effects(&app.db, request_id)
        .await
        .expect("effects");
    assert!(recorded.is_empty(), "{recorded:?}");
    assert_eq!(turn_row(&app, request_id).await.0, "running");
    app.shutdown().await;
}

#[tokio::test]
async fn a_last_call_recorded_by_an_earlier_attempt_is_replayed_and_leaves_the_turn_open() {
    // Arrange: attempt 1 ran the call and recorded it, then stopped before finishing
    let app = TestApp::spawn_without_workers().await;
    let user = app.user().await;
    let (ctx, _) = started_turn(&app, user.id, 1).await;
    let first = run_batch(
        &app.db,
        &[ToolJob::new(ctx, 0, "add_task", add_milk().arguments())],
    )
    .await;
    assert!(first[0].is_ok(), "{first:?}");
    let executor = ToolExecutor::load(app.db.clone(), batcher(app.db.clone()), ctx, 2).await;
    let mut executor = executor.expect("attempt 2");

    // Act
    let (_, call, finished) = executor
        .call_and_finish(&add_milk(), added_reply())
        .await
        .expect("the call");

    // Assert: no second task; the turn is left for the caller to finish
    assert!(finished.is_none(), "{finished:?}");
    assert_eq!(call.result, first[0].as_ref().expect("ran").result);
    assert_eq!(
        app.count("select count(*) from tasks where user_id = $1", &user)
            .await,
        1
    );
    assert_eq!(
        turn_row(&app, ctx.turn.expect("a turn").request_id).await.0,
        "running"
    );
    app.shutdown().await;
}

/// Stores a new turn of `user` saying `message`, in a new conversation.
async fn accept_saying(app: &TestApp, user: Uuid, message: &str) -> Uuid {
    let id = Uuid::new_v4();
    let accepted = chat::accept(&app.db, id, user, None, message, None, None)
        .await
        .expect("accept");
    assert!(matches!(accepted, Accepted::New(_)), "stored");
    id
}

#[tokio::test]
async fn a_built_in_turn_of_one_step_starts_runs_and_finishes_in_one_transaction() {
    // Arrange: a turn that adds a task and one that changes nothing
    let app = TestApp::spawn_without_workers().await;
    let (hana, ivan) = (app.user().await, app.user().await);
    let adds = accept_saying(&app, hana.id, "add a task to buy stamps").await;
    let greets = accept_saying(&app, ivan.id, "hello").await;
    let starter =
        todo_worker::batch::builtin_starter(app.db.clone(), Duration::from_secs(30), None);

    // Act: both start together
    let (added, greeted) = futures::join!(
        starter.submit((adds, hana.id)),
        starter.submit((greets, ivan.id))
    );

    // Assert: each is answered; the task, its effect record, both messages and `done` were
    // written by the transaction that started the turn
    let Some(todo_worker::batch::Begun::Answered(added)) = added.expect("the batch") else {
        panic!("the add was answered in its start batch")
    };
    let (call, output) = added.call.expect("one call");
    assert_eq!(call.tool, "add_task");
    let ToolOutput::Created(created) = output else {
        panic!("created: {output:?}")
    };
    assert_eq!(created.task.title, "Buy stamps");
    let EventBody::Done {
        response,
        tool_calls,
        ..
    } = &added.done.body
    else {
        panic!("a done event: {:?}", added.done)
    };
    assert!(response.contains("Buy stamps"), "{response}");
    assert_eq!(tool_calls, &[call]);
    let (status, result) = turn_row(&app, adds).await;
    assert_eq!(status, "done");
    assert_eq!(
        result,
        Some(serde_json::to_value(&added.done).expect("json"))
    );
    assert_eq!(app.transactions_of_turn(adds).await, 1);

    let Some(todo_worker::batch::Begun::Answered(greeted)) = greeted.expect("the batch") else {
        panic!("the greeting was answered in its start batch")
    };
    assert!(greeted.call.is_none());
    assert!(matches!(
        &greeted.done.body,
        EventBody::Done { tool_calls, response, .. } if tool_calls.is_empty() && !response.is_empty()
    ));
    assert_eq!(turn_row(&app, greets).await.0, "done");
    assert_eq!(app.transactions_of_turn(greets).await, 1);

    // A redelivery starts nothing and finds the turn finished, with nothing applied twice
    let again = starter.submit((adds, hana.id)).await.expect("the batch");
    assert!(again.is_none(), "a finished turn is not started again");
    let Begin::Finished(record) = begin(&app, adds, hana.id, Duration::from_secs(30)).await else {
        panic!("finished")
    };
    assert_eq!(
        record.final_event().map(|e| e.body),
        Some(added.done.body.clone())
    );
    assert_eq!(
        app.count("select count(*) from tasks where user_id = $1", &hana)
            .await,
        1
    );
    app.shutdown().await;
}

#[tokio::test]
async fn built_in_turns_that_need_more_than_one_step_are_started_and_left_to_run() {
    // Arrange: a change that needs the task list, and a retry of an attempt whose lease ran out
    let app = TestApp::spawn_without_workers().await;
    let (jana, karl) = (app.user().await, app.user().await);
    let looks_up = accept_saying(&app, jana.id, "mark the stamps task as done").await;
    let retried = accept_saying(&app, karl.id, "add a task to buy stamps").await;
    let Begin::Started { .. } = begin(&app, retried, karl.id, Duration::ZERO).await else {
        panic!("the first attempt started")
    };
    let starter =
        todo_worker::batch::builtin_starter(app.db.clone(), Duration::from_secs(30), None);

    // Act
    let (looked_up, second) = futures::join!(
        starter.submit((looks_up, jana.id)),
        starter.submit((retried, karl.id))
    );

    // Assert: both are started for their agent to run step by step; nothing ran yet
    for (id, begun, attempt) in [(looks_up, looked_up, 1), (retried, second, 2)] {
        let Some(todo_worker::batch::Begun::Started(started)) = begun.expect("the batch") else {
            panic!("started")
        };
        assert_eq!(started.record.attempts, attempt);
        assert_eq!(turn_row(&app, id).await.0, "running");
        let effects = chat::recorded_effects(&app.db, id).await.expect("effects");
        assert!(effects.is_empty());
    }
    assert_eq!(
        app.count("select count(*) from tasks where user_id = $1", &karl)
            .await,
        0,
        "a retry replays what its first attempt recorded; it is not one step"
    );
    app.shutdown().await;
}
