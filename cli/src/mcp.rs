//! `todo mcp`: an MCP server on stdio for assistants that start local tool servers. It forwards
//! every tool listing and call to the api's `/mcp` (streamable HTTP) with the stored token, so the
//! tools, their schemas and their per-user rules are the api's own.

use rmcp::model::{
    CallToolRequestParams, CallToolResponse, Implementation, ListToolsResult,
    PaginatedRequestParams, ServerCapabilities, ServerConfig,
};
use rmcp::service::{Peer, RequestContext};
use rmcp::transport::StreamableHttpClientTransport;
use rmcp::transport::streamable_http_client::StreamableHttpClientTransportConfig;
use rmcp::{ErrorData, RoleClient, RoleServer, ServerHandler, ServiceExt};
use tokio::io::{AsyncRead, AsyncWrite};

use crate::CliError;
use crate::session::Session;

/// Forwards to the api's MCP endpoint.
#[derive(Clone)]
pub struct Bridge {
    upstream: Peer<RoleClient>,
}

fn upstream_error(e: rmcp::service::ServiceError) -> ErrorData {
    ErrorData::internal_error(format!("todo-chat api: {e}"), None)
}

impl ServerHandler for Bridge {
    fn get_info(&self) -> ServerConfig {
        ServerConfig::new(ServerCapabilities::builder().enable_tools().build())
            .with_server_info(Implementation::new("todo-chat", env!("CARGO_PKG_VERSION")))
            .with_instructions(
                "Manage the user's todo list: add, list, complete, update and delete tasks.",
            )
    }

    async fn list_tools(
        &self,
        request: Option<PaginatedRequestParams>,
        _context: RequestContext<RoleServer>,
    ) -> Result<ListToolsResult, ErrorData> {
        self.upstream
            .list_tools(request)
            .await
            .map_err(upstream_error)
    }

    async fn call_tool(
        &self,
        request: CallToolRequestParams,
        _context: RequestContext<RoleServer>,
    ) -> Result<CallToolResponse, ErrorData> {
        self.upstream
            .call_tool(request)
            .await
            .map(Into::into)
            .map_err(upstream_error)
    }
}

/// Connects to the api's `/mcp` as the session's user.
pub async fn connect(
    api: &str,
    session: &Session,
) -> Result<rmcp::service::RunningService<RoleClient, ()>, CliError> {
    let url = format!("{}/mcp", api.trim_end_matches('/'));
    let config = StreamableHttpClientTransportConfig::with_uri(url.clone())
        .auth_header(session.token.clone());
    ().serve(StreamableHttpClientTransport::from_config(config))
        .await
        .map_err(|e| CliError::Network {
            url,
            cause: e.to_string(),
        })
}

/// Serves the bridge on a pair of streams until the client goes away.
pub async fn serve<R, W>(api: &str, session: &Session, read: R, write: W) -> Result<(), CliError>
where
    R: AsyncRead + Send + Unpin + 'static,
    W: AsyncWrite + Send + Unpin + 'static,
{
    let upstream = connect(api, session).await?;
    let bridge = Bridge {
        upstream: upstream.peer().clone(),
    };
    let server = bridge
        .serve((read, write))
        .await
        .map_err(|e| CliError::Usage(format!("MCP client did not initialize: {e}")))?;
    let _ = server.waiting().await;
    let _ = upstream.cancel().await;
    Ok(())
}

/// `todo mcp`: serves on stdin / stdout.
pub async fn serve_stdio(api: &str, session: &Session) -> Result<(), CliError> {
    let (stdin, stdout) = rmcp::transport::stdio();
    serve(api, session, stdin, stdout).await
}
