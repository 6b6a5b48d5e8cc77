//! The task tools over the Model Context Protocol (official `rmcp` SDK), so desktop assistants and
//! agent frameworks can manage a user's tasks: streamable HTTP at `/mcp`, authenticated with the
//! same bearer tokens as the REST API (`todo mcp` offers the same over stdio).
//!
//! One implementation of the tools: the typed tool layer the chat agents call
//! ([`todo_common::tools`]), with its schemas and its read-only / destructive / idempotent hints
//! as MCP annotations. Each call acts for the token's user only, records `mcp` as the source in
//! the task's history, and announces the change to the user's open sockets.

use std::sync::Arc;

use axum::extract::{Request, State};
use axum::middleware::Next;
use axum::response::{IntoResponse, Response};
use rmcp::model::{
    CallToolRequestParams, CallToolResponse, CallToolResult, Implementation, ListToolsResult,
    PaginatedRequestParams, ServerCapabilities, ServerConfig, Tool, ToolAnnotations,
};
use rmcp::service::RequestContext;
use rmcp::transport::streamable_http_server::session::never::NeverSessionManager;
use rmcp::transport::streamable_http_server::{StreamableHttpServerConfig, StreamableHttpService};
use rmcp::{ErrorData, RoleServer, ServerHandler};
use todo_common::protocol::TasksChangedNotice;
use todo_common::tasks::store;
use todo_common::tools::{self, ToolContext};
use uuid::Uuid;

use crate::auth::{AuthUser, bearer_token};
use crate::error::ApiError;
use crate::state::AppState;

/// The tools MCP clients see: the five task tools (undo and confirm_action belong to a chat
/// conversation; an MCP host asks its user before destructive calls itself).
pub const MCP_TOOLS: [&str; 5] = [
    "add_task",
    "list_tasks",
    "complete_task",
    "update_task",
    "delete_task",
];

/// The user an MCP request acts for, put in the request by [`authenticate`].
#[derive(Debug, Clone, Copy)]
struct McpUser(Uuid);

#[derive(Clone)]
pub struct TodoMcp {
    state: AppState,
    tools: Arc<Vec<Tool>>,
}

impl TodoMcp {
    fn new(state: AppState) -> Self {
        let tools = tools::definitions()
            .into_iter()
            .filter(|d| MCP_TOOLS.contains(&d.name))
            .map(|d| {
                let schema = match d.parameters {
                    serde_json::Value::Object(map) => map,
                    _ => serde_json::Map::new(),
                };
                Tool::new(d.name, d.description, schema).with_annotations(
                    ToolAnnotations::new()
                        .read_only(d.read_only)
                        .destructive(d.destructive)
                        .idempotent(d.idempotent)
                        .open_world(false),
                )
            })
            .collect();
        Self {
            state,
            tools: Arc::new(tools),
        }
    }

    async fn run(
        &self,
        user_id: Uuid,
        name: &str,
        arguments: serde_json::Value,
    ) -> Result<CallToolResult, ErrorData> {
        let internal = |e: sqlx::Error| {
            tracing::error!(error = %e, "MCP tool call failed");
            ErrorData::internal_error("the task store is unavailable, try again", None)
        };
        let tool = match tools::Tool::from_call(name, &arguments) {
            Ok(tool) => tool,
            Err(e) => {
                let output = tools::ToolOutput::from(e);
                return Ok(CallToolResult::structured_error(output.to_value()));
            }
        };
        let mut tx = self.state.db.begin().await.map_err(internal)?;
        let clock = store::user_clock(&mut tx, user_id)
            .await
            .map_err(internal)?
            .ok_or_else(|| ErrorData::invalid_request("the user no longer exists", None))?;
        let ctx = ToolContext {
            user_id,
            clock,
            source: store::Source::Mcp,
            turn: None,
            max_tasks: self.state.config.limits.max_tasks_per_user,
        };
        let output = tools::run(&mut tx, &ctx, &tool).await.map_err(internal)?;
        tx.commit().await.map_err(internal)?;
        let mut notice = TasksChangedNotice::new(user_id);
        notice.add_tool_result(&output);
        self.state.tasks_feed.announce(&notice).await;
        metrics::counter!("todo_mcp_tool_calls_total", "tool" => tool.name(), "outcome" => if output.is_error() { "refused" } else { "ok" }).increment(1);
        let value = output.to_value();
        Ok(if output.is_error() {
            CallToolResult::structured_error(value)
        } else {
            CallToolResult::structured(value)
        })
    }
}

impl ServerHandler for TodoMcp {
    fn get_info(&self) -> ServerConfig {
        ServerConfig::new(ServerCapabilities::builder().enable_tools().build())
            .with_server_info(Implementation::new("todo-chat", env!("CARGO_PKG_VERSION")))
            .with_instructions(
                "Manage the user's todo list: add, list, complete, update and delete tasks. \
                 Task ids are the user's task numbers. Due dates may be ISO dates or phrases such \
                 as 'tomorrow 5pm' (read in the user's timezone).",
            )
    }

    async fn list_tools(
        &self,
        _request: Option<PaginatedRequestParams>,
        _context: RequestContext<RoleServer>,
    ) -> Result<ListToolsResult, ErrorData> {
        Ok(ListToolsResult::with_all_items(self.tools.to_vec()))
    }

    fn get_tool(&self, name: &str) -> Option<Tool> {
        self.tools.iter().find(|t| t.name == name).cloned()
    }

    async fn call_tool(
        &self,
        request: CallToolRequestParams,
        context: RequestContext<RoleServer>,
    ) -> Result<CallToolResponse, ErrorData> {
        let user = context
            .extensions
            .get::<axum::http::request::Parts>()
            .and_then(|parts| parts.extensions.get::<McpUser>())
            .copied()
            .ok_or_else(|| ErrorData::invalid_request("authentication required", None))?;
        if !MCP_TOOLS.contains(&request.name.as_ref()) {
            return Err(ErrorData::invalid_params(
                format!("unknown tool `{}`", request.name),
                None,
            ));
        }
        let arguments = serde_json::Value::Object(request.arguments.unwrap_or_default());
        Ok(self.run(user.0, &request.name, arguments).await?.into())
    }
}

/// `/mcp`: the streamable HTTP transport (stateless, JSON responses), behind bearer auth.
pub fn router<S: Clone + Send + Sync + 'static>(state: AppState) -> axum::Router<S> {
    let config = StreamableHttpServerConfig::default()
        .with_legacy_session_mode(false)
        .with_json_response(true)
        .with_cancellation_token(state.shutdown.child_token())
        // Every request carries a bearer token (never a cookie), so a rebinding page gains
        // nothing: any host name the api is reached by is fine.
        .disable_allowed_hosts();
    let server = TodoMcp::new(state.clone());
    let service: StreamableHttpService<TodoMcp, NeverSessionManager> =
        StreamableHttpService::new(move || Ok(server.clone()), Default::default(), config);
    axum::Router::new()
        .nest_service("/mcp", service)
        .layer(axum::middleware::from_fn_with_state(state, authenticate))
}

/// Lets through only requests with a live access token, marking them with their user.
async fn authenticate(State(state): State<AppState>, request: Request, next: Next) -> Response {
    let (mut parts, body) = request.into_parts();
    let user = match bearer_token(&parts) {
        Some(token) => AuthUser::from_token(&state.auth, token).await,
        None => Err(ApiError::Unauthorized),
    };
    match user {
        Ok(user) => {
            parts.extensions.insert(McpUser(user.user_id));
            next.run(Request::from_parts(parts, body)).await
        }
        Err(e) => {
            let mut response = e.into_response();
            response.headers_mut().insert(
                axum::http::header::WWW_AUTHENTICATE,
                axum::http::HeaderValue::from_static("Bearer"),
            );
            response
        }
    }
}
