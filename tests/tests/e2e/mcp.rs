//! The task tools over MCP, through rmcp's own client: at `/mcp` on the api (streamable HTTP,
//! bearer tokens) and through the `todo mcp` stdio bridge.

use std::time::Duration;

use rmcp::model::{CallToolRequestParams, CallToolResult};
use rmcp::{RoleClient, ServiceExt};
use serde_json::{Value, json};
use todo_cli::session::Session;
use todo_common::protocol::ServerFrame;
use todo_tests::{TestApp, TestUser};

fn session(app: &TestApp, user: &TestUser) -> Session {
    Session {
        api: app.base.clone(),
        user_id: user.id,
        email: user.email.clone(),
        token: user.token.clone(),
        expires_at: u64::MAX,
    }
}

/// The titles of a `list_tasks` result, sorted.
fn sorted_titles(listed: &Value) -> Vec<String> {
    let mut titles: Vec<String> = listed["tasks"]
        .as_array()
        .expect("tasks")
        .iter()
        .map(|t| t["title"].as_str().expect("title").to_owned())
        .collect();
    titles.sort();
    titles
}

async fn call(
    client: &rmcp::service::Peer<RoleClient>,
    tool: &'static str,
    arguments: Value,
) -> (bool, Value) {
    let Value::Object(arguments) = arguments else {
        panic!("arguments are an object")
    };
    let result: CallToolResult = client
        .call_tool(CallToolRequestParams::new(tool).with_arguments(arguments))
        .await
        .expect("the call is answered");
    let value = result
        .structured_content
        .clone()
        .expect("structured result");
    (result.is_error == Some(true), value)
}

#[tokio::test]
async fn an_mcp_client_lists_the_task_tools_with_their_hints_and_manages_tasks() {
    let app = TestApp::spawn().await;
    let user = app.user().await;
    let mut ws = app.ws(&user).await;
    let client = todo_cli::mcp::connect(&app.base, &session(&app, &user))
        .await
        .expect("MCP session");

    let tools = client.peer().list_all_tools().await.expect("tools");
    let names: Vec<&str> = tools.iter().map(|t| t.name.as_ref()).collect();
    assert_eq!(
        names,
        [
            "add_task",
            "list_tasks",
            "complete_task",
            "update_task",
            "delete_task"
        ]
    );
    let hints = |name: &str| {
        let tool = tools.iter().find(|t| t.name == name).expect("tool");
        let a = tool.annotations.clone().expect("annotations");
        (a.read_only_hint, a.destructive_hint, a.idempotent_hint)
    };
    assert_eq!(hints("list_tasks"), (Some(true), Some(false), Some(true)));
    assert_eq!(hints("delete_task"), (Some(false), Some(true), Some(true)));
    assert_eq!(hints("add_task"), (Some(false), Some(false), Some(false)));
    let add = tools
        .iter()
        .find(|t| t.name == "add_task")
        .expect("add_task");
    assert!(
        add.input_schema["properties"]["title"].is_object(),
        "schema from the args type"
    );

    // Act: add, complete, list, delete through MCP.
    let (failed, created) = call(
        client.peer(),
        "add_task",
        json!({"title": "Water the plants", "due": "tomorrow 9am", "tags": ["home"]}),
    )
    .await;
    assert!(!failed, "{created}");
    assert_eq!(created["status"], "created");
    let id = created["task_id"].as_i64().expect("id");
    let Some(ServerFrame::TasksChanged { tasks, .. }) =
        ws.next_tasks_changed(Duration::from_secs(5)).await
    else {
        panic!("the user's socket heard of the MCP change");
    };
    assert_eq!(tasks[0].title, "Water the plants");
    let (_, done) = call(client.peer(), "complete_task", json!({"task_id": id})).await;
    assert_eq!(done["status"], "completed");
    let (_, listed) = call(client.peer(), "list_tasks", json!({"status": "completed"})).await;
    assert_eq!(listed["count"], 1);

    // The change is the user's, recorded as made through MCP.
    let (_, _, history) = app.get_json(&user, &format!("/tasks/{id}/history")).await;
    assert!(
        history
            .as_array()
            .expect("history")
            .iter()
            .all(|h| h["source"] == "mcp"),
        "{history}"
    );
    // Bad arguments are a tool error the client can read, not a crash.
    let (failed, refused) = call(client.peer(), "add_task", json!({"title": ""})).await;
    assert!(failed);
    assert_eq!(refused["status"], "error");
    let _ = client.cancel().await;
    app.shutdown().await;
}

#[tokio::test]
async fn mcp_acts_only_for_the_tokens_user() {
    let app = TestApp::spawn().await;
    let alice = app.user().await;
    let bob = app.user().await;
    app.create_task(&alice, "Alice's secret").await;
    let bob_client = todo_cli::mcp::connect(&app.base, &session(&app, &bob))
        .await
        .expect("MCP session");

    let (_, listed) = call(bob_client.peer(), "list_tasks", json!({})).await;
    assert_eq!(listed["count"], 0, "{listed}");
    let (failed, refused) = call(bob_client.peer(), "delete_task", json!({"task_id": 1})).await;
    assert!(failed);
    assert_eq!(refused["error"]["code"], "TASK_NOT_FOUND");
    assert_eq!(
        app.list_tasks(&alice, "all").await.len(),
        1,
        "Alice's task is intact"
    );

    // Without a token, or with a bad one, nothing is served.
    for auth in [None, Some("Bearer not-a-token")] {
        let mut request = app
            .http
            .post(app.url("/mcp"))
            .header("accept", "application/json, text/event-stream")
            .json(&json!({"jsonrpc": "2.0", "id": 1, "method": "tools/list"}));
        if let Some(value) = auth {
            request = request.header("authorization", value);
        }
        let res = request.send().await.expect("post");
        assert_eq!(res.status(), 401);
        let body: Value = res.json().await.expect("json");
        assert_eq!(body["error"]["code"], "unauthorized");
    }
    let _ = bob_client.cancel().await;
    app.shutdown().await;
}

#[tokio::test]
async fn the_stdio_bridge_serves_the_same_tools_with_the_stored_login() {
    let app = TestApp::spawn().await;
    let user = app.user().await;
    let (client_io, server_io) = tokio::io::duplex(64 * 1024);
    let (server_read, server_write) = tokio::io::split(server_io);
    let api = app.base.clone();
    let stored = session(&app, &user);
    let bridge = tokio::spawn(async move {
        todo_cli::mcp::serve(&api, &stored, server_read, server_write).await
    });

    let (client_read, client_write) = tokio::io::split(client_io);
    let client = ().serve((client_read, client_write)).await.expect("initialized");
    let tools = client.peer().list_all_tools().await.expect("tools");
    assert_eq!(tools.len(), 5);
    let (failed, created) = call(client.peer(), "add_task", json!({"title": "Via stdio"})).await;
    assert!(!failed, "{created}");
    assert_eq!(app.list_tasks(&user, "all").await[0]["title"], "Via stdio");

    let _ = client.cancel().await;
    let _ = tokio::time::timeout(Duration::from_secs(5), bridge).await;
    app.shutdown().await;
}

#[tokio::test]
async fn list_tasks_picks_a_priority_exactly_or_at_least() {
    // Arrange: one task of each priority
    let app = TestApp::spawn().await;
    let user = app.user().await;
    for (title, priority) in [
        ("No priority", "none"),
        ("Low", "low"),
        ("Medium", "medium"),
        ("High", "high"),
    ] {
        app.create_task_with(&user, &json!({"title": title, "priority": priority}))
            .await;
    }
    let client = todo_cli::mcp::connect(&app.base, &session(&app, &user))
        .await
        .expect("MCP session");

    // Act
    let (failed, exactly_low) =
        call(client.peer(), "list_tasks", json!({"priority_is": "low"})).await;
    let (_, at_least_low) = call(client.peer(), "list_tasks", json!({"priority": "low"})).await;
    let (_, exactly_none) = call(client.peer(), "list_tasks", json!({"priority_is": "none"})).await;
    let (_, both) = call(
        client.peer(),
        "list_tasks",
        json!({"priority": "medium", "priority_is": "medium"}),
    )
    .await;

    // Assert
    assert!(!failed, "{exactly_low}");
    assert_eq!(sorted_titles(&exactly_low), ["Low"]);
    assert_eq!(sorted_titles(&at_least_low), ["High", "Low", "Medium"]);
    assert_eq!(sorted_titles(&exactly_none), ["No priority"]);
    assert_eq!(sorted_titles(&both), ["Medium"]);
    let _ = client.cancel().await;
    app.shutdown().await;
}

#[tokio::test]
async fn list_tasks_picks_completed_tasks_by_the_day_they_were_completed() {
    // Arrange: one task completed now, one three days ago, one still to do
    let app = TestApp::spawn().await;
    let user = app.user().await;
    app.set_timezone(&user, "Europe/Berlin").await;
    for title in ["Done now", "Done earlier", "Not done"] {
        app.create_task_with(&user, &json!({"title": title})).await;
    }
    sqlx::query(
        "update tasks set completed = true,
                completed_at = now() - case title when 'Done earlier' then interval '3 days'
                                              else interval '0 days' end
         where user_id = $1 and title <> 'Not done'",
    )
    .bind(user.id)
    .execute(&app.db)
    .await
    .expect("complete the tasks");
    let client = todo_cli::mcp::connect(&app.base, &session(&app, &user))
        .await
        .expect("MCP session");

    // Act / Assert: today, and up to yesterday
    let (failed, today) = call(
        client.peer(),
        "list_tasks",
        json!({"completed_from": "today", "completed_to": "today"}),
    )
    .await;
    assert!(!failed, "{today}");
    assert_eq!(sorted_titles(&today), ["Done now"]);
    let (_, before) = call(
        client.peer(),
        "list_tasks",
        json!({"completed_to": "yesterday"}),
    )
    .await;
    assert_eq!(sorted_titles(&before), ["Done earlier"]);

    // Days the wrong way round are a tool error that names the argument
    let (failed, backwards) = call(
        client.peer(),
        "list_tasks",
        json!({"completed_from": "today", "completed_to": "yesterday"}),
    )
    .await;
    assert!(failed);
    assert!(
        backwards.to_string().contains("completed_from"),
        "{backwards}"
    );
    let _ = client.cancel().await;
    app.shutdown().await;
}

#[tokio::test]
async fn list_tasks_picks_whole_days_by_due_date() {
    // Arrange: tasks due on three days (one with a time late on the middle day) and one undated
    let app = TestApp::spawn().await;
    let user = app.user().await;
    app.set_timezone(&user, "Europe/Berlin").await;
    for (title, due) in [
        ("Thursday", json!("2030-01-03")),
        ("Friday", json!("2030-01-04")),
        ("Friday night", json!("2030-01-04T23:30")),
        ("Saturday", json!("2030-01-05")),
        ("Someday", Value::Null),
    ] {
        app.create_task_with(&user, &json!({"title": title, "due_at": due}))
            .await;
    }
    let client = todo_cli::mcp::connect(&app.base, &session(&app, &user))
        .await
        .expect("MCP session");

    // Act / Assert: one day, in the user's timezone
    let (failed, friday) = call(
        client.peer(),
        "list_tasks",
        json!({"due_from": "2030-01-04", "due_to": "2030-01-04"}),
    )
    .await;
    assert!(!failed, "{friday}");
    assert_eq!(sorted_titles(&friday), ["Friday", "Friday night"]);

    // Open at one end
    let (_, until) = call(client.peer(), "list_tasks", json!({"due_to": "2030-01-03"})).await;
    assert_eq!(sorted_titles(&until), ["Thursday"]);
    let (_, from) = call(
        client.peer(),
        "list_tasks",
        json!({"due_from": "2030-01-04"}),
    )
    .await;
    assert_eq!(sorted_titles(&from), ["Friday", "Friday night", "Saturday"]);

    // Bad days are a tool error that names the argument
    let (failed, backwards) = call(
        client.peer(),
        "list_tasks",
        json!({"due_from": "2030-01-05", "due_to": "2030-01-04"}),
    )
    .await;
    assert!(failed);
    assert!(backwards.to_string().contains("due_from"), "{backwards}");
    let (failed, nonsense) = call(client.peer(), "list_tasks", json!({"due_to": "zzz"})).await;
    assert!(failed);
    assert!(nonsense.to_string().contains("due_to"), "{nonsense}");
    let _ = client.cancel().await;
    app.shutdown().await;
}
