use std::collections::BTreeSet;

use reqwest::{Method, StatusCode};
use serde_json::Value;
use todo_tests::{TestApp, TestOptions};

/// Every route the router serves (method, path template). Keep in sync with the routers: the
/// test fails when a served route is missing from the document, or a documented one is not served.
const SERVED: &[(&str, &str)] = &[
    ("get", "/health"),
    ("get", "/health/live"),
    ("get", "/health/ready"),
    ("post", "/api/auth/signup"),
    ("post", "/api/auth/login"),
    ("get", "/api/auth/me"),
    ("patch", "/api/auth/me"),
    ("post", "/api/auth/logout"),
    ("post", "/api/auth/password"),
    ("get", "/api/{user_id}/tasks"),
    ("post", "/api/{user_id}/tasks"),
    ("get", "/api/{user_id}/tasks/{task_id}"),
    ("put", "/api/{user_id}/tasks/{task_id}"),
    ("patch", "/api/{user_id}/tasks/{task_id}"),
    ("delete", "/api/{user_id}/tasks/{task_id}"),
    ("patch", "/api/{user_id}/tasks/{task_id}/complete"),
    ("patch", "/api/{user_id}/tasks/{task_id}/uncomplete"),
    ("get", "/api/{user_id}/tasks/{task_id}/history"),
    ("post", "/api/{user_id}/chat"),
    ("get", "/api/{user_id}/conversations"),
    ("patch", "/api/{user_id}/conversations/{conversation_id}"),
    ("delete", "/api/{user_id}/conversations/{conversation_id}"),
    ("post", "/api/{user_id}/chat/{request_id}/cancel"),
    (
        "get",
        "/api/{user_id}/conversations/{conversation_id}/messages",
    ),
    ("get", "/api/{user_id}/ws"),
];

#[tokio::test]
async fn openapi_document_lists_every_served_route_and_only_those() {
    let app = TestApp::spawn_with(TestOptions {
        workers: 0,
        ..Default::default()
    })
    .await;
    let doc: Value = app
        .http
        .get(app.url("/openapi.json"))
        .send()
        .await
        .expect("doc")
        .json()
        .await
        .expect("json");
    assert!(doc["openapi"].as_str().expect("version").starts_with("3.1"));

    let documented: BTreeSet<(String, String)> = doc["paths"]
        .as_object()
        .expect("paths")
        .iter()
        .flat_map(|(path, item)| {
            item.as_object()
                .expect("path item")
                .keys()
                .filter(|k| ["get", "post", "put", "patch", "delete"].contains(&k.as_str()))
                .map(move |m| (m.clone(), path.clone()))
        })
        .collect();
    let served: BTreeSet<(String, String)> = SERVED
        .iter()
        .map(|(m, p)| ((*m).to_owned(), (*p).to_owned()))
        .collect();
    assert_eq!(documented, served);

    // Each documented route is really served: without credentials it answers anything but the
    // router's own 404 / 405.
    for (method, path) in &documented {
        let concrete = path
            .replace("{user_id}", &uuid::Uuid::new_v4().to_string())
            .replace("{task_id}", "1")
            .replace("{conversation_id}", "1");
        let method = Method::from_bytes(method.to_uppercase().as_bytes()).expect("method");
        let res = app
            .http
            .request(method.clone(), app.url(&concrete))
            .send()
            .await
            .expect("request");
        assert!(
            res.status() != StatusCode::NOT_FOUND && res.status() != StatusCode::METHOD_NOT_ALLOWED,
            "{method} {path} is documented but not served ({})",
            res.status()
        );
    }

    // Every error response documents the shared error shape.
    assert!(doc["components"]["schemas"]["ErrorBody"].is_object());
    assert!(doc["components"]["securitySchemes"]["bearer"].is_object());

    let ui = app.http.get(app.url("/docs/")).send().await.expect("docs");
    assert_eq!(ui.status(), StatusCode::OK);
    assert!(
        ui.text()
            .await
            .expect("html")
            .to_lowercase()
            .contains("swagger")
    );
    app.shutdown().await;
}
