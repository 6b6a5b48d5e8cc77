use reqwest::{Method, StatusCode};
use serde_json::{Value, json};
use todo_tests::{TestApp, TestOptions};

async fn no_worker_app() -> TestApp {
    TestApp::spawn_with(TestOptions {
        workers: 0,
        ..Default::default()
    })
    .await
}

async fn error_code(res: reqwest::Response) -> String {
    let body: Value = res.json().await.expect("error json");
    body["error"]["code"]
        .as_str()
        .expect("error.code")
        .to_owned()
}

#[tokio::test]
async fn task_lifecycle_through_every_route() {
    let app = no_worker_app().await;
    let user = app.user().await;
    let base = format!("/api/{}/tasks", user.id);

    // Arrange: two tasks
    let first = app.create_task(&user, "  Buy milk  ").await;
    let second = app.create_task(&user, "Call mom").await;
    assert_eq!(first["id"], 1);
    assert_eq!(first["title"], "Buy milk", "title is trimmed");
    assert_eq!(first["completed"], false);
    assert_eq!(second["id"], 2);

    // list: newest first
    let all = app.list_tasks(&user, "all").await;
    assert_eq!(
        all.iter().map(|t| t["id"].as_i64()).collect::<Vec<_>>(),
        vec![Some(2), Some(1)]
    );

    // get
    let res = app
        .authed(&user, Method::GET, &format!("{base}/1"))
        .send()
        .await
        .expect("get");
    assert_eq!(res.status(), StatusCode::OK);

    // put
    let res = app
        .authed(&user, Method::PUT, &format!("{base}/1"))
        .json(&json!({"title": "Buy oat milk", "description": "2 litres"}))
        .send()
        .await
        .expect("put");
    assert_eq!(res.status(), StatusCode::OK);
    let updated: Value = res.json().await.expect("json");
    assert_eq!(updated["title"], "Buy oat milk");
    assert_eq!(updated["description"], "2 litres");

    // complete (idempotent)
    for _ in 0..2 {
        let res = app
            .authed(&user, Method::PATCH, &format!("{base}/1/complete"))
            .send()
            .await
            .expect("complete");
        assert_eq!(res.status(), StatusCode::OK);
        let t: Value = res.json().await.expect("json");
        assert_eq!(t["completed"], true);
    }
    assert_eq!(app.list_tasks(&user, "completed").await.len(), 1);
    assert_eq!(app.list_tasks(&user, "pending").await[0]["id"], 2);

    // delete
    let res = app
        .authed(&user, Method::DELETE, &format!("{base}/2"))
        .send()
        .await
        .expect("delete");
    assert_eq!(res.status(), StatusCode::NO_CONTENT);
    let res = app
        .authed(&user, Method::GET, &format!("{base}/2"))
        .send()
        .await
        .expect("get");
    assert_eq!(res.status(), StatusCode::NOT_FOUND);
    assert_eq!(error_code(res).await, "not_found");
    // numbers are never reused
    assert_eq!(app.create_task(&user, "Third").await["id"], 3);
    app.shutdown().await;
}

#[tokio::test]
async fn task_numbers_are_per_user() {
    let app = no_worker_app().await;
    let alice = app.user().await;
    let bob = app.user().await;
    app.create_task(&alice, "Alice one").await;
    app.create_task(&alice, "Alice two").await;
    assert_eq!(app.create_task(&bob, "Bob one").await["id"], 1);
    app.shutdown().await;
}

#[tokio::test]
async fn a_task_is_changed_with_patch_as_with_put() {
    // Arrange: the web app renames a task with PATCH
    let app = no_worker_app().await;
    let user = app.user().await;
    let task = app.create_task(&user, "Pay rent").await;
    let path = format!("/api/{}/tasks/{}", user.id, task["id"]);

    // Act
    let patched = app
        .authed(&user, Method::PATCH, &path)
        .json(&json!({"title": "Pay the rent"}))
        .send()
        .await
        .expect("patch");
    let put = app
        .authed(&user, Method::PUT, &path)
        .json(&json!({"priority": "high"}))
        .send()
        .await
        .expect("put");

    // Assert: both change only what they name
    assert_eq!(patched.status(), StatusCode::OK);
    assert_eq!(put.status(), StatusCode::OK);
    let tasks = app.list_tasks(&user, "all").await;
    assert_eq!(tasks[0]["title"], "Pay the rent");
    assert_eq!(tasks[0]["priority"], "high");
    app.shutdown().await;
}

#[tokio::test]
async fn unknown_members_of_a_task_body_are_refused_not_ignored() {
    // Arrange
    let app = no_worker_app().await;
    let user = app.user().await;
    let base = format!("/api/{}/tasks", user.id);
    let task = app.create_task(&user, "Pay rent").await;
    let id = task["id"].as_i64().expect("id");

    // Act: a misspelt due date on create, a misspelt completion on update
    let created = app
        .authed(&user, Method::POST, &base)
        .json(&json!({"title": "Call mom", "due": "tomorrow"}))
        .send()
        .await
        .expect("post");
    let updated = app
        .authed(&user, Method::PATCH, &format!("{base}/{id}"))
        .json(&json!({"complete": true}))
        .send()
        .await
        .expect("patch");

    // Assert: 422 naming the member, and nothing changed
    for (res, member) in [(created, "due"), (updated, "complete")] {
        assert_eq!(res.status(), StatusCode::UNPROCESSABLE_ENTITY, "{member}");
        let body: Value = res.json().await.expect("error json");
        assert_eq!(body["error"]["code"], "invalid_body", "{body}");
        assert_eq!(body["error"]["field"], member, "{body}");
        assert!(
            body["error"]["message"]
                .as_str()
                .expect("message")
                .contains(member),
            "{body}"
        );
    }
    let tasks = app.list_tasks(&user, "all").await;
    assert_eq!(tasks.len(), 1, "no task created");
    assert_eq!(tasks[0]["completed"], false, "not completed");
    app.shutdown().await;
}

#[tokio::test]
async fn validation_errors_have_codes_and_statuses() {
    let app = no_worker_app().await;
    let user = app.user().await;
    let base = format!("/api/{}/tasks", user.id);
    let post = |body: String| {
        app.authed(&user, Method::POST, &base)
            .header("content-type", "application/json")
            .body(body)
            .send()
    };

    for (body, status, code) in [
        (json!({"title": ""}).to_string(), 422, "title_required"),
        (
            json!({"title": "   \n "}).to_string(),
            422,
            "title_required",
        ),
        (
            json!({"title": "x".repeat(201)}).to_string(),
            422,
            "title_too_long",
        ),
        (
            json!({"title": "x".repeat(10_001)}).to_string(),
            422,
            "title_too_long",
        ),
        (
            json!({"title": "ok", "description": "d".repeat(1001)}).to_string(),
            422,
            "description_too_long",
        ),
        (
            json!({"title": "x".repeat(70_000)}).to_string(),
            413,
            "payload_too_large",
        ),
        ("{\"title\": ".to_owned(), 400, "malformed_json"),
        (json!({"title": 42}).to_string(), 422, "invalid_body"),
        (
            json!({"description": "no title"}).to_string(),
            422,
            "invalid_body",
        ),
    ] {
        let res = post(body).await.expect("post");
        assert_eq!(res.status().as_u16(), status, "{code}");
        assert_eq!(error_code(res).await, code);
    }
    let ok = post(json!({"title": "é".repeat(200), "description": "d".repeat(1000)}).to_string())
        .await
        .expect("post");
    assert_eq!(
        ok.status(),
        StatusCode::CREATED,
        "200 characters and 1000-character description are accepted"
    );

    let no_type = app
        .authed(&user, Method::POST, &base)
        .body(json!({"title": "x"}).to_string())
        .send()
        .await
        .expect("post");
    assert_eq!(no_type.status(), StatusCode::UNSUPPORTED_MEDIA_TYPE);

    let bad_filter = app
        .authed(&user, Method::GET, &format!("{base}?status=bogus"))
        .send()
        .await
        .expect("get");
    assert_eq!(bad_filter.status(), StatusCode::UNPROCESSABLE_ENTITY);
    assert_eq!(error_code(bad_filter).await, "invalid_status");

    let put = app
        .authed(&user, Method::PUT, &format!("{base}/1"))
        .json(&json!({"title": " "}))
        .send()
        .await
        .expect("put");
    assert_eq!(put.status(), StatusCode::UNPROCESSABLE_ENTITY);

    for path in [
        format!("{base}/abc"),
        format!("{base}/0"),
        format!("{base}/99999999999"),
    ] {
        let res = app
            .authed(&user, Method::GET, &path)
            .send()
            .await
            .expect("get");
        assert_eq!(res.status(), StatusCode::NOT_FOUND, "{path}");
    }
    app.shutdown().await;
}

#[tokio::test]
async fn other_users_data_is_indistinguishable_from_missing_on_every_route() {
    let app = no_worker_app().await;
    let alice = app.user().await;
    let mallory = app.user().await;
    app.create_task(&alice, "Alice's secret").await;
    let a = alice.id;
    let m = mallory.id;

    // Mallory's token against Alice's paths, and Mallory's own paths naming Alice's resources.
    let cases: Vec<(Method, String, Option<Value>)> = vec![
        (Method::GET, format!("/api/{a}/tasks"), None),
        (
            Method::POST,
            format!("/api/{a}/tasks"),
            Some(json!({"title": "injected"})),
        ),
        (Method::GET, format!("/api/{a}/tasks/1"), None),
        (
            Method::PUT,
            format!("/api/{a}/tasks/1"),
            Some(json!({"title": "pwned"})),
        ),
        (Method::DELETE, format!("/api/{a}/tasks/1"), None),
        (Method::PATCH, format!("/api/{a}/tasks/1/complete"), None),
        (
            Method::POST,
            format!("/api/{a}/chat"),
            Some(json!({"message": "show my tasks"})),
        ),
        (Method::GET, format!("/api/{a}/conversations"), None),
        (
            Method::GET,
            format!("/api/{a}/conversations/1/messages"),
            None,
        ),
        (Method::GET, format!("/api/{a}/ws"), None),
        (Method::GET, format!("/api/{m}/tasks/1"), None),
        (
            Method::PUT,
            format!("/api/{m}/tasks/1"),
            Some(json!({"title": "pwned"})),
        ),
        (Method::DELETE, format!("/api/{m}/tasks/1"), None),
        (Method::PATCH, format!("/api/{m}/tasks/1/complete"), None),
        (Method::GET, "/api/not-a-uuid/tasks".to_owned(), None),
    ];
    for (method, path, body) in cases {
        let mut req = app.authed(&mallory, method.clone(), &path);
        if let Some(b) = &body {
            req = req.json(b);
        }
        let res = req.send().await.expect("request");
        assert_eq!(res.status(), StatusCode::NOT_FOUND, "{method} {path}");
        assert_eq!(error_code(res).await, "not_found", "{method} {path}");
    }

    // Alice's task is untouched.
    let tasks = app.list_tasks(&alice, "all").await;
    assert_eq!(tasks.len(), 1);
    assert_eq!(tasks[0]["title"], "Alice's secret");
    assert_eq!(tasks[0]["completed"], false);
    assert!(app.list_tasks(&mallory, "all").await.is_empty());
    app.shutdown().await;
}

#[tokio::test]
async fn requests_without_a_token_get_401_and_unknown_routes_json_errors() {
    let app = no_worker_app().await;
    let user = app.user().await;
    let res = app
        .http
        .get(app.url(&format!("/api/{}/tasks", user.id)))
        .send()
        .await
        .expect("get");
    assert_eq!(res.status(), StatusCode::UNAUTHORIZED);
    assert_eq!(error_code(res).await, "unauthorized");

    let res = app.http.get(app.url("/nope")).send().await.expect("get");
    assert_eq!(res.status(), StatusCode::NOT_FOUND);
    assert_eq!(error_code(res).await, "not_found");

    let res = app
        .http
        .delete(app.url("/api/auth/login"))
        .send()
        .await
        .expect("delete");
    assert_eq!(res.status(), StatusCode::METHOD_NOT_ALLOWED);
    assert_eq!(error_code(res).await, "method_not_allowed");
    app.shutdown().await;
}

#[tokio::test]
async fn request_ids_are_generated_or_echoed() {
    let app = no_worker_app().await;
    let res = app
        .http
        .get(app.url("/health"))
        .header("x-request-id", "abc-123")
        .send()
        .await
        .expect("get");
    assert_eq!(res.headers()["x-request-id"], "abc-123");
    let res = app.http.get(app.url("/health")).send().await.expect("get");
    let generated = res.headers()["x-request-id"].to_str().expect("ascii");
    assert!(uuid::Uuid::parse_str(generated).is_ok());
    app.shutdown().await;
}
