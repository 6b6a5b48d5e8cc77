//! The task SQL on a real database: a change writes its history row in the same statement, with a
//! snapshot Postgres builds (`task_snapshot`), and that snapshot is exactly the task as the
//! application encodes it, whatever the instants; where Postgres cannot encode it, the row is still
//! written.

use chrono::{DateTime, TimeZone, Utc};
use serde_json::Value;
use todo_common::tasks::Source;
use todo_common::tasks::store::{self, Actor, Created, NewTask, TaskChanges};
use todo_common::tasks::{Priority, Task};
use todo_common::when::{Clock, Due, Repeat};
use todo_tests::TestApp;
use uuid::Uuid;

/// A clock in Paris whose `now` is `now` (the database session stays in its own time zone).
fn clock_at(now: DateTime<Utc>) -> Clock {
    let mut clock = Clock::of_user("Europe/Paris", "dmy");
    clock.now = now;
    clock
}

fn instant(y: i32, mo: u32, d: u32, h: u32, mi: u32, s: u32, micros: u32) -> DateTime<Utc> {
    Utc.with_ymd_and_hms(y, mo, d, h, mi, s)
        .single()
        .expect("valid instant")
        + chrono::Duration::microseconds(i64::from(micros))
}

/// Creates a task in a session whose time zone is not UTC (the snapshot must not depend on it).
async fn create(app: &TestApp, user: Uuid, new: &NewTask) -> Task {
    let mut tx = app.db.begin().await.expect("transaction");
    sqlx::query("set local time zone 'Asia/Kolkata'")
        .execute(&mut *tx)
        .await
        .expect("set the session's time zone");
    let created = store::create(&mut tx, user, new, &Actor::rest(), None)
        .await
        .expect("create");
    tx.commit().await.expect("commit");
    match created {
        Created::Task(task) => task,
        other => panic!("a created task, got {other:?}"),
    }
}

async fn update(app: &TestApp, user: Uuid, id: i32, changes: &TaskChanges, clock: &Clock) -> Task {
    let mut tx = app.db.begin().await.expect("transaction");
    let task = store::update(&mut tx, user, id, changes, &Actor::rest(), clock)
        .await
        .expect("update")
        .expect("the task exists");
    tx.commit().await.expect("commit");
    task
}

async fn delete(app: &TestApp, user: Uuid, id: i32) -> Task {
    let mut tx = app.db.begin().await.expect("transaction");
    let task = store::delete(&mut tx, user, id, &Actor::rest())
        .await
        .expect("delete")
        .expect("the task exists");
    tx.commit().await.expect("commit");
    task
}

/// The task's history as (action, before, after).
async fn history(
    app: &TestApp,
    user: Uuid,
    id: i32,
) -> Vec<(String, Option<Value>, Option<Value>)> {
    let mut conn = app.db.acquire().await.expect("connection");
    store::history(&mut conn, user, id)
        .await
        .expect("history")
        .into_iter()
        .map(|e| (e.action, e.before.map(|j| j.0), e.after.map(|j| j.0)))
        .collect()
}

fn encoded(task: &Task) -> Option<Value> {
    Some(serde_json::to_value(task).expect("a task encodes"))
}

#[tokio::test]
async fn each_change_stores_the_task_as_the_application_encodes_it() {
    // Arrange: a task with every field set, due on a whole second
    let app = TestApp::spawn_without_workers().await;
    let user = app.user().await;
    let new = NewTask {
        title: "Buy \"oat\" milk – 2 L ✓ \\ {x}".into(),
        description: Some("from the shop on the corner\nnot the big one".into()),
        due: Some(Due {
            at: instant(2026, 12, 5, 16, 0, 0, 0),
            has_time: true,
        }),
        priority: Priority::High,
        tags: vec!["home".into(), "errands".into()],
        repeat: Some(Repeat::parse_rrule("FREQ=WEEKLY;BYDAY=MO").expect("rule")),
    };

    // Act: create it; move it to an instant with milliseconds and clear its description; complete
    // it at an instant with microseconds (a repeating task moves on: stop the repeat first); delete
    let created = create(&app, user.id, &new).await;
    let id = created.id;
    let moved = update(
        &app,
        user.id,
        id,
        &TaskChanges {
            description: Some(None),
            due: Some(Some(Due {
                at: instant(2027, 1, 2, 3, 4, 5, 250_000),
                has_time: true,
            })),
            priority: Some(Priority::Low),
            tags: Some(Vec::new()),
            repeat: Some(None),
            ..TaskChanges::default()
        },
        &clock_at(Utc::now()),
    )
    .await;
    let completed = {
        let mut tx = app.db.begin().await.expect("transaction");
        let clock = clock_at(instant(2026, 11, 28, 9, 30, 15, 123_457));
        let done = store::complete(&mut tx, user.id, id, &Actor::rest(), &clock)
            .await
            .expect("complete")
            .expect("the task exists");
        tx.commit().await.expect("commit");
        done.task
    };
    let deleted = delete(&app, user.id, id).await;

    // Assert: one row per change, each snapshot equal to serde's encoding of the task it names
    assert_eq!(
        completed.completed_at,
        Some(instant(2026, 11, 28, 9, 30, 15, 123_457))
    );
    let rows = history(&app, user.id, id).await;
    let actions: Vec<&str> = rows.iter().map(|(a, _, _)| a.as_str()).collect();
    assert_eq!(actions, ["created", "updated", "completed", "deleted"]);
    assert_eq!(rows[0].1, None);
    assert_eq!(rows[0].2, encoded(&created));
    assert_eq!(rows[1].1, encoded(&created));
    assert_eq!(rows[1].2, encoded(&moved));
    assert_eq!(rows[2].1, encoded(&moved));
    assert_eq!(rows[2].2, encoded(&completed));
    assert_eq!(rows[3].1, encoded(&deleted));
    assert_eq!(rows[3].2, None);
    // the three ways chrono writes a fraction of a second, as stored
    assert_eq!(
        rows[0].2.as_ref().expect("a snapshot")["due_at"],
        "2026-12-05T16:00:00Z"
    );
    assert_eq!(
        rows[1].2.as_ref().expect("a snapshot")["due_at"],
        "2027-01-02T03:04:05.250Z"
    );
    assert_eq!(
        rows[2].2.as_ref().expect("a snapshot")["completed_at"],
        "2026-11-28T09:30:15.123457Z"
    );
    app.shutdown().await;
}

#[tokio::test]
async fn a_task_postgres_cannot_encode_still_gets_its_history() {
    // Arrange: a task due in 1 BC (year 0), which Postgres and chrono write differently
    let app = TestApp::spawn_without_workers().await;
    let user = app.user().await;
    let new = NewTask {
        title: "Read the old calendar".into(),
        due: Some(Due {
            at: instant(0, 6, 1, 0, 0, 0, 0),
            has_time: false,
        }),
        ..NewTask::default()
    };

    // Act: create it, move it past the year 9999, delete it
    let created = create(&app, user.id, &new).await;
    let moved = update(
        &app,
        user.id,
        created.id,
        &TaskChanges {
            due: Some(Some(Due {
                at: instant(10_000, 1, 1, 0, 0, 0, 0),
                has_time: false,
            })),
            ..TaskChanges::default()
        },
        &clock_at(Utc::now()),
    )
    .await;
    delete(&app, user.id, created.id).await;

    // Assert: every change has its row, in the application's encoding
    let rows = history(&app, user.id, created.id).await;
    let actions: Vec<&str> = rows.iter().map(|(a, _, _)| a.as_str()).collect();
    assert_eq!(actions, ["created", "updated", "deleted"]);
    assert_eq!(rows[0].2, encoded(&created));
    assert_eq!(rows[1].1, encoded(&created));
    assert_eq!(rows[1].2, encoded(&moved));
    assert_eq!(rows[2].1, encoded(&moved));
    assert_eq!(
        rows[0].2.as_ref().expect("a snapshot")["due_at"],
        "0000-06-01T00:00:00Z"
    );
    app.shutdown().await;
}

/// Creates `items` with one `create_many` statement, in a session whose time zone is not UTC.
async fn create_many(app: &TestApp, items: &[store::NewTaskFor<'_>]) -> Vec<Created> {
    let mut tx = app.db.begin().await.expect("transaction");
    sqlx::query("set local time zone 'Asia/Kolkata'")
        .execute(&mut *tx)
        .await
        .expect("set the session's time zone");
    let created = store::create_many(&mut tx, items)
        .await
        .expect("create_many");
    tx.commit().await.expect("commit");
    created
}

fn titled(title: &str) -> NewTask {
    NewTask {
        title: title.into(),
        ..NewTask::default()
    }
}

#[tokio::test]
async fn tasks_created_together_are_numbered_per_user_in_order_up_to_the_limit() {
    // Arrange: a user with one task and room for two more, a user without a limit, a user that
    // does not exist; the new tasks by two front ends in turn
    let app = TestApp::spawn_without_workers().await;
    let limited = app.user().await;
    let free = app.user().await;
    let ghost = Uuid::new_v4();
    create(&app, limited.id, &titled("already there")).await;
    let tagged = NewTask {
        title: "Tagged and due".into(),
        description: Some("with everything set".into()),
        due: Some(Due {
            at: instant(2026, 12, 3, 17, 30, 0, 0),
            has_time: true,
        }),
        priority: Priority::High,
        tags: vec!["home".into(), "errands".into()],
        repeat: None,
    };
    let news = [
        (limited.id, titled("limited one"), Some(3)),
        (free.id, tagged.clone(), None),
        (ghost, titled("nobody's"), None),
        (limited.id, titled("limited two"), Some(3)),
        (free.id, titled("free two"), None),
        (limited.id, titled("limited three"), Some(3)),
    ];
    let actors: Vec<Actor> = news
        .iter()
        .enumerate()
        .map(|(i, _)| Actor {
            source: if i % 2 == 0 {
                Source::Rest
            } else {
                Source::Mcp
            },
            ..Actor::rest()
        })
        .collect();
    let items: Vec<store::NewTaskFor<'_>> = news
        .iter()
        .zip(&actors)
        .map(|((user_id, new, max_tasks), actor)| store::NewTaskFor {
            user_id: *user_id,
            new,
            actor,
            max_tasks: *max_tasks,
        })
        .collect();

    // Act
    let created = create_many(&app, &items).await;

    // Assert: each user's tasks numbered in input order; the third over the limit is refused
    let ids: Vec<Option<(Uuid, i32)>> = created
        .iter()
        .map(|c| match c {
            Created::Task(task) => Some((task.user_id, task.id)),
            _ => None,
        })
        .collect();
    assert_eq!(
        ids,
        [
            Some((limited.id, 2)),
            Some((free.id, 1)),
            None,
            Some((limited.id, 3)),
            Some((free.id, 2)),
            None,
        ]
    );
    assert!(matches!(created[2], Created::UserMissing), "{created:?}");
    assert!(
        matches!(created[5], Created::LimitReached(3)),
        "{created:?}"
    );
    let Created::Task(stored) = &created[1] else {
        panic!("created: {created:?}")
    };
    assert_eq!(
        (
            stored.title.as_str(),
            stored.description.as_deref(),
            stored.due_at,
            stored.due_has_time,
            stored.priority,
            stored.tags.clone(),
        ),
        (
            "Tagged and due",
            Some("with everything set"),
            tagged.due.map(|d| d.at),
            true,
            Priority::High,
            vec!["home".to_owned(), "errands".to_owned()],
        )
    );
    // The next task of each user follows the numbers handed out.
    let next = create(&app, limited.id, &titled("after the batch")).await;
    assert_eq!(next.id, 4);
    // Each created task has its history row, as the application encodes it, by its own turn.
    for (i, created) in created.iter().enumerate() {
        let Created::Task(task) = created else {
            continue;
        };
        let rows: Vec<(String, String, Option<Value>)> = sqlx::query_as(
            "select action, source, after from task_history where user_id = $1 and task_id = $2",
        )
        .bind(task.user_id)
        .bind(task.id)
        .fetch_all(&app.db)
        .await
        .expect("history");
        assert_eq!(
            rows,
            [(
                "created".to_owned(),
                if i % 2 == 0 { "rest" } else { "mcp" }.to_owned(),
                encoded(task)
            )],
            "task {i}"
        );
    }
    app.shutdown().await;
}

#[tokio::test]
async fn tasks_created_together_that_postgres_cannot_encode_still_get_their_history() {
    // Arrange: two tasks of one user, one due in 1 BC (year 0)
    let app = TestApp::spawn_without_workers().await;
    let user = app.user().await;
    let ancient = NewTask {
        due: Some(Due {
            at: instant(0, 6, 1, 0, 0, 0, 0),
            has_time: false,
        }),
        ..titled("Read the old calendar")
    };
    let plain = titled("Read a new one");
    let actor = Actor::rest();
    let items = [&ancient, &plain].map(|new| store::NewTaskFor {
        user_id: user.id,
        new,
        actor: &actor,
        max_tasks: None,
    });

    // Act
    let created = create_many(&app, &items).await;

    // Assert: both created, each with one history row in the application's encoding
    for created in &created {
        let Created::Task(task) = created else {
            panic!("created: {created:?}")
        };
        let rows = history(&app, user.id, task.id).await;
        assert_eq!(rows, [("created".to_owned(), None, encoded(task))]);
    }
    let Created::Task(first) = &created[0] else {
        panic!("created")
    };
    assert_eq!(
        encoded(first).expect("a snapshot")["due_at"],
        "0000-06-01T00:00:00Z"
    );
    app.shutdown().await;
}

#[tokio::test]
async fn tasks_being_created_do_not_hold_up_new_rows_that_refer_to_their_user() {
    // Arrange: a transaction that has created two tasks of a user and not yet committed, as a
    // worker's tool batch holds it while the rest of the batch runs
    let app = TestApp::spawn_without_workers().await;
    let user = app.user().await;
    let (first, second) = (titled("Water the plants"), titled("Feed the cat"));
    let actor = Actor::rest();
    let items = [&first, &second].map(|new| store::NewTaskFor {
        user_id: user.id,
        new,
        actor: &actor,
        max_tasks: None,
    });
    let mut batch = app.db.begin().await.expect("transaction");
    store::create_many(&mut batch, &items)
        .await
        .expect("create_many");

    // Act: meanwhile the api stores a new conversation of the same user (its foreign key check
    // takes a key-share lock on the user's row)
    let mut api = app.db.begin().await.expect("transaction");
    sqlx::query("set local lock_timeout = '2s'")
        .execute(&mut *api)
        .await
        .expect("set a lock timeout");
    let stored = sqlx::query("insert into conversations (user_id, title) values ($1, 'Plans')")
        .bind(user.id)
        .execute(&mut *api)
        .await;

    // Assert: it did not wait for the batch (a wait there closes a deadlock when the batch then
    // updates a conversation the api has locked)
    assert!(
        stored.is_ok(),
        "the insert waited for the tasks: {stored:?}"
    );
    api.rollback().await.expect("rollback");
    batch.rollback().await.expect("rollback");
    app.shutdown().await;
}
