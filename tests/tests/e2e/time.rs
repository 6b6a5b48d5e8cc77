//! Tasks that know time: due dates, priorities, tags and repeats over REST and through chat, in the
//! user's timezone; history, undo and confirmed bulk changes.

use chrono::{DateTime, Datelike, Duration, NaiveDate, TimeZone, Utc, Weekday};
use chrono_tz::Tz;
use reqwest::{Method, StatusCode};
use serde_json::{Value, json};
use todo_tests::fake_openai::{FakeOpenAi, Reply};
use todo_tests::ws::final_frame;
use todo_tests::{TestApp, TestOptions, TestUser};

const BERLIN: Tz = chrono_tz::Europe::Berlin;

fn today_in(tz: Tz) -> NaiveDate {
    Utc::now().with_timezone(&tz).date_naive()
}

/// The instant a local date and time in `tz` is.
fn local(tz: Tz, date: NaiveDate, h: u32, m: u32) -> DateTime<Utc> {
    tz.from_local_datetime(&date.and_hms_opt(h, m, 0).expect("time"))
        .earliest()
        .expect("local time")
        .with_timezone(&Utc)
}

fn due_of(task: &Value) -> DateTime<Utc> {
    task["due_at"]
        .as_str()
        .and_then(|s| DateTime::parse_from_rfc3339(s).ok())
        .map(|d| d.with_timezone(&Utc))
        .unwrap_or_else(|| panic!("task has a due date: {task}"))
}

fn titles(tasks: &Value) -> Vec<&str> {
    tasks
        .as_array()
        .expect("array")
        .iter()
        .map(|t| t["title"].as_str().unwrap_or("?"))
        .collect()
}

async fn titles_for(app: &TestApp, user: &TestUser, query: &str) -> Vec<String> {
    let (status, _, body) = app.get_json(user, &format!("/tasks?{query}")).await;
    assert_eq!(status, StatusCode::OK, "{query}: {body}");
    titles(&body).into_iter().map(str::to_owned).collect()
}

/// An api with no worker (REST only) and one user whose timezone is Europe/Berlin.
async fn rest_user_in_berlin() -> (TestApp, TestUser) {
    let app = TestApp::spawn_with(TestOptions {
        workers: 0,
        ..Default::default()
    })
    .await;
    let user = app.user().await;
    app.set_timezone(&user, "Europe/Berlin").await;
    (app, user)
}

/// Every page of a listing, following its `Link` headers: the titles, and how many pages.
async fn follow_pages(app: &TestApp, user: &TestUser, query: &str) -> (Vec<String>, usize) {
    let mut seen = Vec::new();
    let mut next = Some(format!("/api/{}/tasks?{query}", user.id));
    let mut pages = 0;
    while let Some(path) = next.take() {
        let res = app
            .authed(user, Method::GET, &path)
            .send()
            .await
            .expect("page");
        assert_eq!(res.status(), StatusCode::OK);
        next = res
            .headers()
            .get("link")
            .and_then(|l| l.to_str().ok())
            .map(|l| {
                assert!(l.ends_with("rel=\"next\""), "{l}");
                l.trim_start_matches('<')
                    .split('>')
                    .next()
                    .unwrap_or_default()
                    .to_owned()
            });
        let body: Value = res.json().await.expect("json");
        seen.extend(titles(&body).into_iter().map(str::to_owned));
        pages += 1;
    }
    (seen, pages)
}

async fn error_field(app: &TestApp, user: &TestUser, query: &str) -> (StatusCode, Value) {
    let (status, _, body) = app.get_json(user, &format!("/tasks?{query}")).await;
    (status, body["error"].clone())
}

#[tokio::test]
async fn the_user_sets_a_timezone_and_an_unknown_one_is_refused() {
    let app = TestApp::spawn_with(TestOptions {
        workers: 0,
        ..Default::default()
    })
    .await;
    let user = app.user().await;

    let me: Value = app
        .authed(&user, Method::GET, "/api/auth/me")
        .send()
        .await
        .expect("me")
        .json()
        .await
        .expect("json");
    assert_eq!(me["timezone"], "UTC");

    let res = app
        .authed(&user, Method::PATCH, "/api/auth/me")
        .json(&json!({"timezone": "Europe/Berlin", "name": "Ada", "date_order": "mdy"}))
        .send()
        .await
        .expect("patch");
    assert_eq!(res.status(), StatusCode::OK);
    let me: Value = res.json().await.expect("json");
    assert_eq!(me["timezone"], "Europe/Berlin");
    assert_eq!(me["name"], "Ada");
    assert_eq!(me["date_order"], "mdy");

    for (body, field) in [
        (json!({"timezone": "Mars/Olympus_Mons"}), "timezone"),
        (json!({"date_order": "ymd"}), "date_order"),
        (json!({"name": "x".repeat(101)}), "name"),
    ] {
        let res = app
            .authed(&user, Method::PATCH, "/api/auth/me")
            .json(&body)
            .send()
            .await
            .expect("patch");
        assert_eq!(res.status(), StatusCode::UNPROCESSABLE_ENTITY, "{body}");
        let error: Value = res.json().await.expect("json");
        assert_eq!(error["error"]["field"], field);
    }
    app.shutdown().await;
}

#[tokio::test]
async fn rest_filters_sort_and_page_tasks_in_the_users_timezone() {
    let (app, user) = rest_user_in_berlin().await;
    let today = today_in(BERLIN);
    let day = |n: i64| (today + Duration::days(n)).to_string();

    // Arrange
    let overdue = app
        .create_task_with(
            &user,
            &json!({"title": "Overdue bill", "due_at": day(-1), "priority": "high", "tags": ["Home", "#bills"]}),
        )
        .await;
    app.create_task_with(
        &user,
        &json!({"title": "Today call", "due_at": day(0), "priority": "medium", "tags": ["work"]}),
    )
    .await;
    let tomorrow = app
        .create_task_with(
            &user,
            &json!({"title": "Tomorrow thing", "due_at": format!("{}T09:00", day(1)), "tags": ["work"]}),
        )
        .await;
    app.create_task_with(
        &user,
        &json!({"title": "No date", "priority": "low", "description": "50% off_sale"}),
    )
    .await;
    app.create_task_with(&user, &json!({"title": "Far", "due_at": day(30)}))
        .await;

    // The task as clients see it
    assert_eq!(overdue["overdue"], true);
    assert_eq!(overdue["due_has_time"], false);
    assert_eq!(overdue["due_date"], day(-1));
    assert_eq!(overdue["tags"], json!(["home", "bills"]));
    assert!(
        overdue["due_text"]
            .as_str()
            .is_some_and(|t| !t.contains(':'))
    );
    assert_eq!(
        due_of(&tomorrow),
        local(BERLIN, today + Duration::days(1), 9, 0),
        "a local time is read in the user's timezone"
    );
    assert!(
        tomorrow["due_text"]
            .as_str()
            .expect("text")
            .ends_with("09:00")
    );

    // Filters
    assert_eq!(
        titles_for(&app, &user, "due=overdue").await,
        ["Overdue bill"]
    );
    assert_eq!(titles_for(&app, &user, "due=today").await, ["Today call"]);
    assert_eq!(
        titles_for(&app, &user, "due=tomorrow").await,
        ["Tomorrow thing"]
    );
    assert_eq!(titles_for(&app, &user, "due=none").await, ["No date"]);
    assert_eq!(
        titles_for(&app, &user, "priority=medium&sort=priority").await,
        ["Overdue bill", "Today call"]
    );
    assert_eq!(
        titles_for(&app, &user, "priority_is=medium").await,
        ["Today call"]
    );
    assert_eq!(
        titles_for(&app, &user, "priority_is=none&sort=due").await,
        ["Tomorrow thing", "Far"]
    );
    assert_eq!(
        titles_for(&app, &user, "priority_at_most=medium&sort=due").await,
        ["Today call", "Tomorrow thing", "Far", "No date"]
    );
    assert_eq!(
        titles_for(&app, &user, "tag=work&sort=due").await,
        ["Today call", "Tomorrow thing"]
    );
    assert_eq!(
        titles_for(&app, &user, "tag=home&tag=bills").await,
        ["Overdue bill"]
    );
    assert!(
        titles_for(&app, &user, "tag=home&tag=work")
            .await
            .is_empty()
    );
    assert_eq!(titles_for(&app, &user, "q=50%25").await, ["No date"]);
    assert_eq!(titles_for(&app, &user, "q=F_S").await, ["No date"]);
    assert!(
        titles_for(&app, &user, "q=o%25f").await.is_empty(),
        "% is literal"
    );
    assert!(
        titles_for(&app, &user, "q=_a_").await.is_empty(),
        "_ is literal"
    );
    let tomorrow_start = local(BERLIN, today + Duration::days(1), 0, 0).to_rfc3339();
    assert_eq!(
        titles_for(
            &app,
            &user,
            &format!("sort=due&due_before={}", urlencode(&tomorrow_start))
        )
        .await,
        ["Overdue bill", "Today call"]
    );

    // Orders
    assert_eq!(
        titles_for(&app, &user, "sort=due").await,
        [
            "Overdue bill",
            "Today call",
            "Tomorrow thing",
            "Far",
            "No date"
        ]
    );
    assert_eq!(
        titles_for(&app, &user, "sort=priority").await,
        [
            "Overdue bill",
            "Today call",
            "No date",
            "Tomorrow thing",
            "Far"
        ]
    );

    // Pages follow the Link header
    let (seen, pages) = follow_pages(&app, &user, "sort=due&limit=2").await;
    assert_eq!(pages, 3);
    assert_eq!(
        seen,
        [
            "Overdue bill",
            "Today call",
            "Tomorrow thing",
            "Far",
            "No date"
        ]
    );

    // Bad values name the parameter
    for (query, field) in [
        ("due=someday", "due"),
        ("priority=urgent", "priority"),
        ("priority_is=urgent", "priority_is"),
        ("priority_at_most=top", "priority_at_most"),
        ("limit=0", "limit"),
        ("limit=500", "limit"),
        ("sort=alphabetical", "sort"),
        ("due_after=yesterday", "due_after"),
        ("cursor=not-a-cursor", "cursor"),
        ("status=maybe", "status"),
    ] {
        let (status, error) = error_field(&app, &user, query).await;
        assert_eq!(status, StatusCode::UNPROCESSABLE_ENTITY, "{query}");
        assert_eq!(error["field"], field, "{query}: {error}");
    }

    // Bad task fields are refused with the field named
    for (body, field) in [
        (json!({"title": "x", "due_at": "next tuesday"}), "due_at"),
        (json!({"title": "x", "priority": "urgent"}), "priority"),
        (json!({"title": "x", "tags": ["two words"]}), "tags"),
        (json!({"title": "x", "repeat": "FREQ=HOURLY"}), "repeat"),
    ] {
        let res = app
            .authed(&user, Method::POST, &format!("/api/{}/tasks", user.id))
            .json(&body)
            .send()
            .await
            .expect("post");
        assert_eq!(res.status(), StatusCode::UNPROCESSABLE_ENTITY, "{body}");
        let error: Value = res.json().await.expect("json");
        assert_eq!(error["error"]["field"], field, "{body}: {error}");
    }

    // null clears
    let res = app
        .authed(&user, Method::PUT, &format!("/api/{}/tasks/1", user.id))
        .json(&json!({"due_at": null, "tags": []}))
        .send()
        .await
        .expect("put");
    let cleared: Value = res.json().await.expect("json");
    assert_eq!(cleared["due_at"], Value::Null);
    assert_eq!(cleared["overdue"], false);
    assert_eq!(cleared["tags"], json!([]));
    app.shutdown().await;
}

fn urlencode(s: &str) -> String {
    url::form_urlencoded::byte_serialize(s.as_bytes()).collect()
}

#[tokio::test]
async fn a_repeating_task_completed_three_times_moves_to_each_next_occurrence() {
    let (app, user) = rest_user_in_berlin().await;

    let task = app
        .create_task_with(
            &user,
            &json!({"title": "Water the plants", "repeat": "FREQ=WEEKLY;BYDAY=MO"}),
        )
        .await;
    assert_eq!(task["repeat_text"], "every Monday");
    let first = due_of(&task);
    let first_local = first.with_timezone(&BERLIN);
    assert_eq!(
        first_local.weekday(),
        Weekday::Mon,
        "due on its first Monday"
    );
    assert!(first_local.date_naive() >= today_in(BERLIN));
    assert_eq!(task["due_has_time"], false);

    let id = task["id"].as_i64().expect("id");
    let mut due = first_local.date_naive();
    for _ in 0..3 {
        let done = app.patch_task(&user, id, "complete").await;
        due += Duration::days(7);
        assert_eq!(done["completed"], false, "a repeating task stays pending");
        assert_eq!(
            due_of(&done).with_timezone(&BERLIN).date_naive(),
            due,
            "moved to the next Monday"
        );
    }

    let (status, _, history) = app.get_json(&user, &format!("/tasks/{id}/history")).await;
    assert_eq!(status, StatusCode::OK);
    let actions: Vec<&str> = history
        .as_array()
        .expect("history")
        .iter()
        .map(|h| h["action"].as_str().unwrap_or("?"))
        .collect();
    assert_eq!(actions, ["created", "completed", "completed", "completed"]);
    assert!(
        history
            .as_array()
            .expect("history")
            .iter()
            .all(|h| h["source"] == "rest")
    );
    assert_eq!(history[1]["before"]["completed"], false);
    assert_ne!(
        history[1]["before"]["due_at"],
        history[1]["after"]["due_at"]
    );

    // A one-off task completes and re-opens.
    let once = app.create_task(&user, "Once").await;
    let id = once["id"].as_i64().expect("id");
    let done = app.patch_task(&user, id, "complete").await;
    assert_eq!(done["completed"], true);
    assert!(done["completed_at"].is_string());
    let reopened = app.patch_task(&user, id, "uncomplete").await;
    assert_eq!(reopened["completed"], false);
    assert_eq!(reopened["completed_at"], Value::Null);

    // History of a task the user never had: 404; of another user's: 404.
    let (status, _, _) = app.get_json(&user, "/tasks/999/history").await;
    assert_eq!(status, StatusCode::NOT_FOUND);
    let other = app.user().await;
    let res = app
        .authed(
            &other,
            Method::GET,
            &format!("/api/{}/tasks/{id}/history", user.id),
        )
        .send()
        .await
        .expect("history");
    assert_eq!(res.status(), StatusCode::NOT_FOUND);
    app.shutdown().await;
}

#[tokio::test]
async fn repeating_tasks_are_listed_apart_over_rest_and_in_the_chat() {
    // Arrange
    let app = TestApp::spawn().await;
    let user = app.user().await;
    app.create_task_with(
        &user,
        &json!({"title": "Water the plants", "repeat": "every monday"}),
    )
    .await;
    app.create_task_with(&user, &json!({"title": "Buy milk"}))
        .await;

    // Act + Assert: REST
    assert_eq!(
        titles_for(&app, &user, "repeating=true").await,
        ["Water the plants"]
    );
    assert_eq!(
        titles_for(&app, &user, "repeating=false").await,
        ["Buy milk"]
    );
    let (status, error) = error_field(&app, &user, "repeating=yes").await;
    assert_eq!(status, StatusCode::UNPROCESSABLE_ENTITY);
    assert_eq!(error["field"], "repeating");

    // Act + Assert: the built-in agent's list_tasks call
    let mut ws = app.ws(&user).await;
    let done = say(&mut ws, "what's recurring?", None).await;
    assert_eq!(done["tool_calls"][0]["arguments"]["repeating"], true);
    let text = done["response"].as_str().expect("text");
    assert!(
        text.contains("Water the plants") && !text.contains("Buy milk"),
        "{text}"
    );
    app.shutdown().await;
}

#[tokio::test]
async fn set_the_x_for_a_time_moves_a_task_with_that_title_and_adds_one_otherwise() {
    // Arrange
    let app = TestApp::spawn().await;
    let user = app.user().await;
    let meeting = app
        .create_task_with(&user, &json!({"title": "Team meeting"}))
        .await;
    let mut ws = app.ws(&user).await;

    // Act: a task has that title
    let done = say(&mut ws, "set the meeting for 3:30", None).await;

    // Assert: it moved, nothing was added
    assert_eq!(calls(&done), ["list_tasks", "update_task"], "{done}");
    assert_eq!(
        done["tool_calls"][1]["result"]["task_id"], meeting["id"],
        "{done}"
    );
    assert_eq!(done["tool_calls"][1]["result"]["due_has_time"], true);

    // Act: no task has that title
    let done = say(&mut ws, "make the bed tomorrow", None).await;

    // Assert: a new task
    assert_eq!(calls(&done), ["list_tasks", "add_task"], "{done}");
    assert_eq!(done["tool_calls"][1]["result"]["title"], "Make the bed");
    let (_, _, all) = app.get_json(&user, "/tasks").await;
    assert_eq!(titles(&all).len(), 2);
    app.shutdown().await;
}

#[tokio::test]
async fn untagged_and_not_urgent_tasks_are_listed_apart_over_rest_and_in_the_chat() {
    // Arrange
    let app = TestApp::spawn().await;
    let user = app.user().await;
    app.create_task_with(
        &user,
        &json!({"title": "Pay rent", "tags": ["home"], "priority": "high"}),
    )
    .await;
    app.create_task_with(&user, &json!({"title": "Buy milk", "priority": "low"}))
        .await;

    // Act + Assert: REST
    assert_eq!(titles_for(&app, &user, "tagged=false").await, ["Buy milk"]);
    assert_eq!(titles_for(&app, &user, "tagged=true").await, ["Pay rent"]);
    let (status, error) = error_field(&app, &user, "tagged=maybe").await;
    assert_eq!(status, StatusCode::UNPROCESSABLE_ENTITY);
    assert_eq!(error["field"], "tagged");

    // Act + Assert: the built-in agent's list_tasks calls
    let mut ws = app.ws(&user).await;
    let done = say(&mut ws, "which tasks have no tags?", None).await;
    assert_eq!(done["tool_calls"][0]["arguments"]["tagged"], false);
    assert_eq!(done["tool_calls"][0]["result"]["count"], 1, "{done}");
    let done = say(&mut ws, "what's not urgent?", None).await;
    assert_eq!(
        done["tool_calls"][0]["arguments"]["priority_at_most"],
        "medium"
    );
    let text = done["response"].as_str().expect("text");
    assert!(
        text.contains("Buy milk") && !text.contains("Pay rent"),
        "{text}"
    );
    app.shutdown().await;
}

#[tokio::test]
async fn tasks_are_listed_oldest_first_by_either_tag_or_leaving_one_out() {
    // Arrange: added in this order
    let app = TestApp::spawn().await;
    let user = app.user().await;
    for task in [
        json!({"title": "Pay rent", "tags": ["home"]}),
        json!({"title": "Fix the bug", "tags": ["work"]}),
        json!({"title": "Buy milk"}),
        json!({"title": "Call the landlord", "tags": ["home", "calls"]}),
    ] {
        app.create_task_with(&user, &task).await;
    }

    // Act + Assert: REST
    let (oldest_first, pages) = follow_pages(&app, &user, "sort=oldest&limit=3").await;
    assert_eq!(
        oldest_first,
        ["Pay rent", "Fix the bug", "Buy milk", "Call the landlord"]
    );
    assert_eq!(pages, 2);
    assert_eq!(
        titles_for(&app, &user, "any_tag=home&any_tag=work&sort=oldest").await,
        ["Pay rent", "Fix the bug", "Call the landlord"]
    );
    assert_eq!(
        titles_for(&app, &user, "not_tag=home&sort=oldest").await,
        ["Fix the bug", "Buy milk"]
    );
    for (query, field) in [
        ("sort=newest", "sort"),
        ("any_tag=%20", "any_tag"),
        ("not_tag=a%20b", "not_tag"),
    ] {
        let (status, error) = error_field(&app, &user, query).await;
        assert_eq!(status, StatusCode::UNPROCESSABLE_ENTITY, "{query}");
        assert_eq!(error["field"], field, "{query}");
    }

    // Act + Assert: the built-in agent's list_tasks calls
    let mut ws = app.ws(&user).await;
    let done = say(&mut ws, "what's my oldest task?", None).await;
    let args = &done["tool_calls"][0]["arguments"];
    assert_eq!(
        (&args["sort"], &args["limit"]),
        (&json!("oldest"), &json!(1))
    );
    assert!(
        done["response"]
            .as_str()
            .expect("text")
            .contains("Pay rent"),
        "{done}"
    );
    let done = say(&mut ws, "show tasks tagged home or work", None).await;
    assert_eq!(
        done["tool_calls"][0]["arguments"]["any_tags"],
        json!(["home", "work"])
    );
    assert_eq!(done["tool_calls"][0]["result"]["count"], 3, "{done}");
    let done = say(&mut ws, "show everything except the home tasks", None).await;
    assert_eq!(
        done["tool_calls"][0]["arguments"]["not_tags"],
        json!(["home"])
    );
    let text = done["response"].as_str().expect("text");
    assert!(
        text.contains("Buy milk") && text.contains("Fix the bug") && !text.contains("Pay rent"),
        "{text}"
    );
    app.shutdown().await;
}

#[tokio::test]
async fn several_tasks_are_tagged_and_moved_at_once_and_undone_together() {
    // Arrange
    let app = TestApp::spawn().await;
    let user = app.user().await;
    app.create_task_with(&user, &json!({"title": "Buy milk", "tags": ["home"]}))
        .await;
    app.create_task_with(&user, &json!({"title": "Buy oat milk"}))
        .await;
    let mut ws = app.ws(&user).await;

    // Act
    let done = say(&mut ws, "tag all milk tasks as groceries", None).await;
    let conversation = done["conversation_id"].as_i64();

    // Assert: each keeps its own tags and gains the new one
    assert_eq!(
        calls(&done),
        ["list_tasks", "update_task", "update_task"],
        "{done}"
    );
    let (_, _, listed) = app.get_json(&user, "/tasks?sort=oldest").await;
    assert_eq!(listed[0]["tags"], json!(["home", "groceries"]), "{listed}");
    assert_eq!(listed[1]["tags"], json!(["groceries"]), "{listed}");
    let text = done["response"].as_str().expect("text");
    assert!(
        text.contains("Buy milk") && text.contains("Buy oat milk"),
        "{text}"
    );

    // Act + Assert: one undo reverts both
    let undone = say(&mut ws, "undo", conversation).await;
    assert_eq!(calls(&undone), ["undo"], "{undone}");
    let (_, _, listed) = app.get_json(&user, "/tasks?sort=oldest").await;
    assert_eq!(listed[0]["tags"], json!(["home"]), "{listed}");
    assert_eq!(listed[1]["tags"], json!([]), "{listed}");
    app.shutdown().await;
}

#[tokio::test]
async fn cancel_that_takes_back_the_change_just_made_and_cancel_it_drops_a_task_just_shown() {
    // Arrange
    let app = TestApp::spawn().await;
    let user = app.user().await;
    let kept = app
        .create_task_with(&user, &json!({"title": "Dentist appointment"}))
        .await;
    let mut ws = app.ws(&user).await;
    let added = say(&mut ws, "add buy stamps tomorrow", None).await;
    let conversation = added["conversation_id"].as_i64();
    assert_eq!(calls(&added), ["add_task"], "{added}");

    // Act: right after the add
    let cancelled = say(&mut ws, "cancel that", conversation).await;

    // Assert: the add is undone, the other task stays
    assert_eq!(calls(&cancelled), ["undo"], "{cancelled}");
    let (_, _, listed) = app.get_json(&user, "/tasks").await;
    assert_eq!(listed.as_array().map(Vec::len), Some(1), "{listed}");
    assert_eq!(listed[0]["id"], kept["id"], "{listed}");

    // Act: a task shown, then "cancel it"
    let shown = say(&mut ws, "tell me about the dentist", conversation).await;
    assert!(calls(&shown).iter().all(|c| *c == "list_tasks"), "{shown}");
    let dropped = say(&mut ws, "cancel it", conversation).await;

    // Assert: that task is deleted
    assert_eq!(calls(&dropped), ["delete_task"], "{dropped}");
    let (_, _, listed) = app.get_json(&user, "/tasks").await;
    assert_eq!(listed, json!([]), "{listed}");
    app.shutdown().await;
}

#[tokio::test]
async fn one_more_item_after_an_add_and_a_listing_of_what_is_not_overdue() {
    // Arrange
    let app = TestApp::spawn().await;
    let user = app.user().await;
    app.set_timezone(&user, "Europe/Berlin").await;
    let yesterday = (today_in(BERLIN) - Duration::days(1)).to_string();
    app.create_task_with(&user, &json!({"title": "Pay rent", "due_at": yesterday}))
        .await;
    let mut ws = app.ws(&user).await;
    let added = say(&mut ws, "add buy stamps", None).await;
    let conversation = added["conversation_id"].as_i64();
    assert_eq!(calls(&added), ["add_task"], "{added}");

    // Act: one more item, said as if the add went on
    let more = say(&mut ws, "and eggs", conversation).await;

    // Assert: it is a task of its own
    assert_eq!(calls(&more), ["add_task"], "{more}");
    assert_eq!(more["tool_calls"][0]["result"]["title"], "Eggs", "{more}");

    // Act: what is not overdue
    let listed = say(&mut ws, "what's not overdue?", conversation).await;

    // Assert: the two new tasks, not the overdue rent
    let text = listed["response"].as_str().expect("text");
    assert!(
        text.contains("Buy stamps") && text.contains("Eggs"),
        "{text}"
    );
    assert!(!text.contains("Pay rent"), "{text}");
    app.shutdown().await;
}

#[tokio::test]
async fn i_meant_another_task_moves_the_change_just_made_to_it() {
    // Arrange
    let app = TestApp::spawn().await;
    let user = app.user().await;
    let milk = app
        .create_task_with(&user, &json!({"title": "Buy milk"}))
        .await;
    let oat = app
        .create_task_with(&user, &json!({"title": "Buy oat milk"}))
        .await;
    let mut ws = app.ws(&user).await;
    let done = say(&mut ws, "mark buy milk as done", None).await;
    let conversation = done["conversation_id"].as_i64();
    let changes = |done: &Value| -> Vec<String> {
        // a title is looked up in the task list first
        calls(done)
            .into_iter()
            .filter(|c| *c != "list_tasks")
            .map(str::to_owned)
            .collect()
    };
    assert_eq!(changes(&done), ["complete_task"], "{done}");

    // Act
    let meant = say(&mut ws, "no, I meant the oat milk", conversation).await;

    // Assert: the first completion is taken back, the oat milk is done instead
    assert_eq!(changes(&meant), ["undo", "complete_task"], "{meant}");
    let (_, _, first) = app.get_json(&user, &format!("/tasks/{}", milk["id"])).await;
    let (_, _, second) = app.get_json(&user, &format!("/tasks/{}", oat["id"])).await;
    assert_eq!(first["completed"], false, "{first}");
    assert_eq!(second["completed"], true, "{second}");
    app.shutdown().await;
}

#[tokio::test]
async fn a_copied_task_has_the_originals_date_priority_tags_and_repeat() {
    // Arrange
    let app = TestApp::spawn().await;
    let user = app.user().await;
    app.set_timezone(&user, "Europe/Berlin").await;
    let original = app
        .create_task_with(
            &user,
            &json!({
                "title": "Water the plants",
                "description": "the balcony ones",
                "due_at": "2026-12-07T09:00:00+01:00",
                "priority": "high",
                "tags": ["home"],
                "repeat": "FREQ=WEEKLY;BYDAY=MO"
            }),
        )
        .await;
    let id = original["id"].as_i64().expect("id");
    let mut ws = app.ws(&user).await;

    // Act
    let done = say(&mut ws, &format!("duplicate task {id}"), None).await;

    // Assert: a second task, the same in every field but its id
    assert_eq!(calls(&done), ["list_tasks", "add_task"], "{done}");
    let (_, _, listed) = app.get_json(&user, "/tasks?sort=oldest").await;
    let listed = listed.as_array().expect("array");
    assert_eq!(listed.len(), 2, "{listed:?}");
    for field in [
        "title",
        "description",
        "due_at",
        "priority",
        "tags",
        "repeat",
    ] {
        assert_eq!(listed[1][field], listed[0][field], "{field}: {listed:?}");
    }
    assert_ne!(listed[1]["id"], listed[0]["id"]);
    app.shutdown().await;
}

#[tokio::test]
async fn two_changes_in_one_clause_make_one_update() {
    // Arrange
    let app = TestApp::spawn().await;
    let user = app.user().await;
    let task = app
        .create_task_with(&user, &json!({"title": "Buy milk"}))
        .await;
    let id = task["id"].as_i64().expect("id");
    let mut ws = app.ws(&user).await;

    // Act
    let done = say(
        &mut ws,
        &format!("mark task {id} as high priority and due tomorrow"),
        None,
    )
    .await;

    // Assert: one call changed both
    assert_eq!(calls(&done), ["update_task"], "{done}");
    let (_, _, listed) = app.get_json(&user, "/tasks").await;
    let stored = &listed[0];
    assert_eq!(stored["priority"], "high", "{listed}");
    assert!(stored["due_at"].is_string(), "{listed}");
    app.shutdown().await;
}

#[tokio::test]
async fn daily_repeats_keep_their_local_time_across_a_dst_change() {
    let (app, user) = rest_user_in_berlin().await;
    // Berlin moves its clocks forward on Sunday 28 March 2027.
    let task = app
        .create_task_with(
            &user,
            &json!({"title": "Stretch", "due_at": "2027-03-27T09:00", "repeat": "every day"}),
        )
        .await;
    assert_eq!(task["due_at"], "2027-03-27T08:00:00Z");
    let id = task["id"].as_i64().expect("id");
    let second = app.patch_task(&user, id, "complete").await;
    assert_eq!(second["due_at"], "2027-03-28T07:00:00Z", "09:00 CEST");
    let third = app.patch_task(&user, id, "complete").await;
    assert_eq!(third["due_at"], "2027-03-29T07:00:00Z");
    assert_eq!(third["due_text"], "Mon 29 Mar 2027, 09:00");
    app.shutdown().await;
}

#[tokio::test]
async fn a_task_on_the_last_friday_of_the_month_moves_to_the_next_months() {
    // Arrange: due on the last Friday of January 2027, the 29th
    let (app, user) = rest_user_in_berlin().await;
    let task = app
        .create_task_with(
            &user,
            &json!({"title": "Pay the rent", "due_at": "2027-01-29T10:00", "repeat": "the last friday of each month"}),
        )
        .await;
    assert_eq!(task["repeat"], "FREQ=MONTHLY;BYDAY=-1FR", "{task}");
    assert_eq!(
        task["repeat_text"], "every month on the last Friday",
        "{task}"
    );
    let id = task["id"].as_i64().expect("id");

    // Act
    let february = app.patch_task(&user, id, "complete").await;
    let march = app.patch_task(&user, id, "complete").await;

    // Assert: 26 February and 26 March 2027 are the months' last Fridays, at 10:00 local
    assert_eq!(february["due_at"], "2027-02-26T09:00:00Z", "{february}");
    assert_eq!(march["due_at"], "2027-03-26T09:00:00Z", "{march}");
    // a place in the month goes with monthly rules only
    let res = app
        .authed(&user, Method::POST, &format!("/api/{}/tasks", user.id))
        .json(&json!({"title": "Gym", "repeat": "FREQ=WEEKLY;BYDAY=1MO"}))
        .send()
        .await
        .expect("post");
    assert_eq!(res.status(), StatusCode::UNPROCESSABLE_ENTITY);
    app.shutdown().await;
}

/// Sends a message and returns the final frame.
async fn say(ws: &mut todo_tests::WsClient, message: &str, conversation: Option<i64>) -> Value {
    let frames = ws.ask(message, conversation).await;
    let done = final_frame(&frames).clone();
    assert_eq!(done["type"], "done", "{message}: {frames:?}");
    done
}

fn calls(done: &Value) -> Vec<&str> {
    done["tool_calls"]
        .as_array()
        .expect("calls")
        .iter()
        .map(|c| c["tool"].as_str().unwrap_or("?"))
        .collect()
}

#[tokio::test]
async fn the_builtin_agent_schedules_queries_reschedules_and_undoes_in_the_users_timezone() {
    let app = TestApp::spawn().await;
    let user = app.user().await;
    let ny: Tz = chrono_tz::America::New_York;
    app.set_timezone(&user, "America/New_York").await;
    let mut ws = app.ws(&user).await;
    let today = today_in(ny);

    // A date, a priority and a tag read out of the message
    let done = say(&mut ws, "add pay rent on friday #home !high", None).await;
    let conversation = done["conversation_id"].as_i64();
    let rent = &done["tool_calls"][0]["result"];
    assert_eq!(rent["title"], "Pay rent");
    assert_eq!(rent["priority"], "high");
    assert_eq!(rent["tags"], json!(["home"]));
    assert_eq!(rent["due_has_time"], false);
    let friday = due_of(rent).with_timezone(&ny);
    assert_eq!(friday.weekday(), Weekday::Fri);
    assert!(done["response"].as_str().expect("text").contains("due Fri"));

    let done = say(
        &mut ws,
        "remind me to call mom tomorrow at 5pm",
        conversation,
    )
    .await;
    assert_eq!(
        due_of(&done["tool_calls"][0]["result"]),
        local(ny, today + Duration::days(1), 17, 0),
        "5pm in New York"
    );

    // Queries
    let done = say(&mut ws, "what's overdue?", conversation).await;
    assert_eq!(done["response"], "You have no overdue tasks.");
    app.create_task_with(
        &user,
        &json!({"title": "Renew passport", "due_at": (today - Duration::days(2)).to_string()}),
    )
    .await;
    let done = say(&mut ws, "anything overdue?", conversation).await;
    let text = done["response"].as_str().expect("text");
    assert!(
        text.contains("Renew passport") && !text.contains("Pay rent"),
        "{text}"
    );
    let done = say(&mut ws, "what's my most important task?", conversation).await;
    assert!(
        done["response"]
            .as_str()
            .expect("text")
            .contains("Pay rent")
    );

    // Reschedule, then undo it
    let done = say(&mut ws, "move the rent to next monday", conversation).await;
    assert_eq!(calls(&done), ["list_tasks", "update_task"]);
    let moved = due_of(&done["tool_calls"][1]["result"]).with_timezone(&ny);
    assert_eq!(moved.weekday(), Weekday::Mon);
    let done = say(&mut ws, "undo", conversation).await;
    assert_eq!(calls(&done), ["undo"]);
    let (_, _, rent_now) = app.get_json(&user, "/tasks/1").await;
    assert_eq!(
        due_of(&rent_now).with_timezone(&ny),
        friday,
        "the old date is back"
    );

    // A bulk delete asks first; yes in the next turn carries it out; undo brings both back
    app.create_task_with(&user, &json!({"title": "Fix the sink", "tags": ["home"]}))
        .await;
    let done = say(&mut ws, "delete all tasks tagged home", conversation).await;
    assert_eq!(
        done["tool_calls"][1]["result"]["status"],
        "confirmation_required"
    );
    assert!(
        done["response"]
            .as_str()
            .expect("text")
            .contains("yes or no")
    );
    assert_eq!(
        app.list_tasks(&user, "all").await.len(),
        4,
        "nothing deleted yet"
    );
    // a message that is neither yes nor no asks again, and the yes after it still counts
    let asked = say(&mut ws, "hmm which ones exactly", conversation).await;
    let text = asked["response"].as_str().expect("text");
    assert!(
        text.starts_with("I still need a yes or no") && text.contains("Fix the sink"),
        "{text}"
    );
    assert_eq!(app.list_tasks(&user, "all").await.len(), 4);
    let done = say(&mut ws, "yes", conversation).await;
    assert_eq!(calls(&done), ["confirm_action"]);
    assert_eq!(done["tool_calls"][0]["result"]["status"], "bulk");
    let left = app.list_tasks(&user, "all").await;
    assert_eq!(left.len(), 2, "{left:?}");
    let done = say(&mut ws, "undo that", conversation).await;
    assert_eq!(
        done["tool_calls"][0]["result"]["reverted"]
            .as_array()
            .map(Vec::len),
        Some(2)
    );
    assert_eq!(app.list_tasks(&user, "all").await.len(), 4);

    // A confirmation is only valid in the very next turn
    let done = say(&mut ws, "complete everything", conversation).await;
    assert_eq!(
        done["tool_calls"][1]["result"]["status"],
        "confirmation_required"
    );
    say(&mut ws, "show my tasks", conversation).await;
    let done = say(&mut ws, "yes", conversation).await;
    assert!(calls(&done).is_empty(), "{done}");
    assert!(app.list_tasks(&user, "completed").await.is_empty());

    // History knows the chat turn that changed a task
    let (_, _, history) = app.get_json(&user, "/tasks/1/history").await;
    let sources: Vec<&str> = history
        .as_array()
        .expect("history")
        .iter()
        .map(|h| h["source"].as_str().unwrap_or("?"))
        .collect();
    assert_eq!(sources, ["chat", "chat", "undo", "chat", "undo"]);
    assert!(history[0]["request_id"].is_string());
    ws.close().await;
    app.shutdown().await;
}

#[tokio::test]
async fn the_model_sets_dates_priorities_and_repeats_and_undoes() {
    let (fake, url) = FakeOpenAi::start().await;
    let app = TestApp::spawn_with(TestOptions::openai(&url)).await;
    let user = app.user().await;
    app.set_timezone(&user, "Asia/Tokyo").await;
    let tokyo: Tz = chrono_tz::Asia::Tokyo;
    fake.push([
        Reply::tool(
            "add_task",
            &json!({"title": "Pay rent", "due": "2030-01-01", "priority": "high", "repeat": "FREQ=MONTHLY;BYMONTHDAY=1", "tags": ["home"]}),
        ),
        Reply::tool("add_task", &json!({"title": "Call mom", "due": "tomorrow 5pm"})),
        Reply::text("Both added."),
    ]);
    let mut ws = app.ws(&user).await;
    let done = say(
        &mut ws,
        "rent on the first of every month, and call mom tomorrow",
        None,
    )
    .await;
    let conversation = done["conversation_id"].as_i64();
    let rent = &done["tool_calls"][0]["result"];
    assert_eq!(rent["status"], "created");
    assert_eq!(rent["repeat_text"], "every month on the 1st");
    assert_eq!(rent["priority"], "high");
    assert_eq!(rent["due_text"], "Tue 1 Jan 2030");
    let call = &done["tool_calls"][1]["result"];
    assert_eq!(
        due_of(call),
        local(tokyo, today_in(tokyo) + Duration::days(1), 17, 0),
        "the phrase is resolved in the user's timezone"
    );

    // The model is told the user's local date, time and timezone.
    let system = fake.requests()[0]["messages"][0]["content"]
        .as_str()
        .expect("system prompt")
        .to_owned();
    assert!(system.contains("Asia/Tokyo"), "{system}");
    let local_date = Utc::now()
        .with_timezone(&tokyo)
        .format("%Y-%m-%d")
        .to_string();
    assert!(system.contains(&local_date), "{system}");

    fake.push([Reply::tool("undo", &json!({})), Reply::text("Undone.")]);
    let done = say(&mut ws, "undo that", conversation).await;
    assert_eq!(done["tool_calls"][0]["result"]["status"], "undone");
    assert!(
        app.list_tasks(&user, "all").await.is_empty(),
        "both adds undone"
    );
    app.shutdown().await;
}

#[tokio::test]
async fn an_undo_interrupted_after_it_ran_is_not_repeated_on_redelivery() {
    let (fake, url) = FakeOpenAi::start().await;
    let mut app = TestApp::spawn_with(TestOptions {
        ack_wait: std::time::Duration::from_secs(2),
        ..TestOptions::openai(&url)
    })
    .await;
    let user = app.user().await;
    let mut ws = app.ws(&user).await;
    fake.push([
        Reply::tool("add_task", &json!({"title": "First"})),
        Reply::text("ok"),
    ]);
    let done = say(&mut ws, "add first", None).await;
    let conversation = done["conversation_id"].as_i64();
    fake.push([
        Reply::tool("add_task", &json!({"title": "Second"})),
        Reply::text("ok"),
    ]);
    say(&mut ws, "add second", conversation).await;

    // The undo runs, then the model hangs and the worker dies before the turn is acked.
    fake.push([Reply::tool("undo", &json!({})), Reply::Hang]);
    ws.chat("undo", conversation, None).await;
    let undone = todo_tests::eventually(std::time::Duration::from_secs(10), || async {
        (app.count("select count(*) from tasks where user_id = $1", &user)
            .await
            == 1)
            .then_some(())
    })
    .await;
    assert!(undone.is_some(), "the undo ran");
    app.kill_worker(0);

    // The redelivered turn continues from its journal: the recorded undo is replayed (never run
    // again), and the model is only asked for its final words.
    fake.push([Reply::text("Undone.")]);
    app.start_worker().await;
    let frames = ws.until_final(std::time::Duration::from_secs(30)).await;
    assert_eq!(final_frame(&frames)["type"], "done", "{frames:?}");
    let left = app.list_tasks(&user, "all").await;
    assert_eq!(
        titles(&json!(left)),
        ["First"],
        "only the last turn was undone, once"
    );
    app.shutdown().await;
}
