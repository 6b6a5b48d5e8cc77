//! Router assembly: route groups, OpenAPI document, middleware.

use std::time::Duration;

use axum::Router;
use axum::extract::{DefaultBodyLimit, MatchedPath, Request};
use axum::http::{HeaderName, HeaderValue, Method, header};
use axum::middleware::Next;
use axum::response::Response;
use tower_http::cors::{AllowOrigin, Any, CorsLayer};
use tower_http::request_id::{MakeRequestUuid, PropagateRequestIdLayer, SetRequestIdLayer};
use tower_http::set_header::SetResponseHeaderLayer;
use tower_http::trace::TraceLayer;
use tracing::{Span, field};
use utoipa::openapi::security::{HttpAuthScheme, HttpBuilder, SecurityScheme};
use utoipa::{Modify, OpenApi};
use utoipa_axum::router::OpenApiRouter;
use utoipa_swagger_ui::SwaggerUi;

use crate::error::ApiError;
use crate::state::AppState;

/// Largest request body accepted (larger gets 413 `payload_too_large`).
pub const MAX_BODY_BYTES: usize = 64 * 1024;
static REQUEST_ID: HeaderName = HeaderName::from_static("x-request-id");

#[derive(OpenApi)]
#[openapi(
    info(
        title = "todo-chat API",
        description = "Manage tasks by REST or by chatting with an agent. Errors are always \
                       `{\"error\": {\"code\": \"...\", \"message\": \"...\"}}`.",
    ),
    modifiers(&BearerAuth),
    tags(
        (name = "auth", description = "Accounts and access tokens"),
        (name = "tasks", description = "The user's tasks (ids are per-user numbers 1, 2, 3 ...)"),
        (name = "chat", description = "Chat with the todo agent"),
        (name = "health", description = "Service health"),
    )
)]
struct ApiDoc;

struct BearerAuth;

impl Modify for BearerAuth {
    fn modify(&self, openapi: &mut utoipa::openapi::OpenApi) {
        let components = openapi.components.get_or_insert_with(Default::default);
        components.add_security_scheme(
            "bearer",
            SecurityScheme::Http(
                HttpBuilder::new()
                    .scheme(HttpAuthScheme::Bearer)
                    .bearer_format("JWT")
                    .build(),
            ),
        );
    }
}

/// A time budget for a route group: past it the request is answered 408 `request_timeout`.
pub fn timeout_layer<S>(
    budget: Duration,
) -> impl tower::Layer<
    S,
    Service = impl tower::Service<
        Request,
        Response = Response,
        Error = std::convert::Infallible,
        Future = impl Send,
    > + Clone
              + Send
              + Sync
              + 'static,
> + Clone
where
    S: tower::Service<Request, Response = Response, Error = std::convert::Infallible>
        + Clone
        + Send
        + Sync
        + 'static,
    S::Future: Send + 'static,
{
    tower::ServiceBuilder::new()
        .layer(axum::error_handling::HandleErrorLayer::new(
            |_: tower::BoxError| async { ApiError::RequestTimeout },
        ))
        .layer(tower::timeout::TimeoutLayer::new(budget))
}

/// The routes and their OpenAPI document, before middleware. Each route group has its time budget:
/// chat waits for the agent (`CHAT_TIMEOUT_SECS` + 5 s), everything else `REQUEST_TIMEOUT_SECS`;
/// the WebSocket upgrade answers at once and then lives on its own.
pub fn routes(
    timeout: Duration,
    chat_timeout: Duration,
) -> (Router<AppState>, utoipa::openapi::OpenApi) {
    OpenApiRouter::with_openapi(ApiDoc::openapi())
        .merge(crate::health::router().layer(timeout_layer(timeout)))
        .merge(crate::auth::router().layer(timeout_layer(timeout)))
        .merge(crate::tasks::router().layer(timeout_layer(timeout)))
        .merge(crate::chat::router(chat_timeout, timeout))
        .merge(crate::ws::router())
        .split_for_parts()
}

/// The complete application router with middleware, docs and fallbacks.
pub fn router(state: AppState) -> Router {
    let timeout = state.config.request_timeout;
    let chat_timeout = state.config.chat_timeout + Duration::from_secs(5);
    let (api, openapi) = routes(timeout, chat_timeout);
    let cors = cors_layer(&state.config.cors_origins);
    api.merge(SwaggerUi::new("/docs").url("/openapi.json", openapi))
        .merge(crate::web::router())
        .merge(crate::mcp::router(state.clone()))
        .fallback(|| async { ApiError::NotFound })
        .method_not_allowed_fallback(|| async { ApiError::MethodNotAllowed })
        .layer(axum::middleware::from_fn(track_http))
        .layer(DefaultBodyLimit::max(MAX_BODY_BYTES))
        .layer(cors)
        .layer(PropagateRequestIdLayer::new(REQUEST_ID.clone()))
        .layer(
            TraceLayer::new_for_http()
                .make_span_with(|req: &Request| {
                    let route = req
                        .extensions()
                        .get::<MatchedPath>()
                        .map_or("unmatched", MatchedPath::as_str);
                    let http_request_id = req
                        .headers()
                        .get(&REQUEST_ID)
                        .and_then(|v| v.to_str().ok())
                        .unwrap_or("");
                    // `request_id`, `user_id` and `conversation_id` are the chat turn's, recorded
                    // by the chat handler: the worker's log lines of the turn carry the same ones.
                    tracing::info_span!(
                        "http",
                        http_request_id,
                        method = %req.method(),
                        route,
                        user_id = field::Empty,
                        request_id = field::Empty,
                        conversation_id = field::Empty,
                    )
                })
                .on_request(())
                .on_response(|res: &Response, latency: Duration, _span: &Span| {
                    let duration_ms = (latency.as_secs_f64() * 1000.0 * 100.0).round() / 100.0;
                    let status = res.status().as_u16();
                    if res.status().is_server_error() {
                        tracing::error!(status, duration_ms, "request finished");
                    } else {
                        tracing::info!(status, duration_ms, "request finished");
                    }
                })
                .on_failure(()),
        )
        .layer(SetRequestIdLayer::new(REQUEST_ID.clone(), MakeRequestUuid))
        // Responses are JSON for one user (tokens, tasks): never sniffed as another type, never
        // stored by a cache.
        .layer(SetResponseHeaderLayer::overriding(
            header::X_CONTENT_TYPE_OPTIONS,
            HeaderValue::from_static("nosniff"),
        ))
        .layer(SetResponseHeaderLayer::if_not_present(
            header::CACHE_CONTROL,
            HeaderValue::from_static("no-store"),
        ))
        .with_state(state)
}

/// The method as a metric label: the standard ones by name, anything else `other` (a client may
/// send any token as a method, and each distinct label value is a series kept forever).
fn method_label(method: &Method) -> &'static str {
    match *method {
        Method::GET => "GET",
        Method::POST => "POST",
        Method::PUT => "PUT",
        Method::PATCH => "PATCH",
        Method::DELETE => "DELETE",
        Method::HEAD => "HEAD",
        Method::OPTIONS => "OPTIONS",
        _ => "other",
    }
}

/// Records `todo_http_requests_total` and `todo_http_request_duration_seconds` by method (a closed
/// set), route template (never the raw path: a matched template or `unmatched`) and status.
async fn track_http(request: Request, next: Next) -> Response {
    let started = std::time::Instant::now();
    let method = method_label(request.method()).to_owned();
    let route = request
        .extensions()
        .get::<MatchedPath>()
        .map_or_else(|| "unmatched".to_owned(), |p| p.as_str().to_owned());
    let response = next.run(request).await;
    let status = response.status().as_u16().to_string();
    let labels = [("method", method), ("route", route), ("status", status)];
    metrics::counter!("todo_http_requests_total", &labels).increment(1);
    metrics::histogram!("todo_http_request_duration_seconds", &labels)
        .record(started.elapsed().as_secs_f64());
    response
}

fn cors_layer(origins: &[String]) -> CorsLayer {
    let base = CorsLayer::new()
        .allow_methods([
            Method::GET,
            Method::POST,
            Method::PUT,
            Method::PATCH,
            Method::DELETE,
        ])
        .allow_headers([
            header::AUTHORIZATION,
            header::CONTENT_TYPE,
            REQUEST_ID.clone(),
            HeaderName::from_static("idempotency-key"),
        ])
        .expose_headers([REQUEST_ID.clone()])
        .max_age(Duration::from_secs(600));
    if origins.iter().any(|o| o == "*") {
        base.allow_origin(Any)
    } else {
        let list: Vec<HeaderValue> = origins
            .iter()
            .filter_map(|o| HeaderValue::from_str(o).ok())
            .collect();
        base.allow_origin(AllowOrigin::list(list))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn unknown_methods_share_one_label() {
        assert_eq!(method_label(&Method::GET), "GET");
        let made_up = Method::from_bytes(b"FROBNICATE").expect("a valid token");
        assert_eq!(method_label(&made_up), "other");
    }
}
