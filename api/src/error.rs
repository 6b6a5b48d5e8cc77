//! The api's one error type. Every handler returns [`Result`]; every failure reaches the client as
//! `{"error": {"code": "...", "message": "..."}}` with a stable `code`. Database and unexpected
//! errors become an opaque 500 that is logged with its cause and never shown to the client.
//! [`ApiJson`] wraps axum's JSON extractor so malformed bodies use the same shape.

use axum::extract::rejection::JsonRejection;
use axum::extract::{FromRequest, Request};
use axum::http::{HeaderValue, StatusCode, header};
use axum::response::{IntoResponse, Response};
use serde::Serialize;
use todo_common::tasks::ValidationError;

pub type Result<T, E = ApiError> = std::result::Result<T, E>;

#[derive(Debug, thiserror::Error)]
pub enum ApiError {
    #[error("{message}")]
    BadRequest { code: &'static str, message: String },
    #[error("authentication required: missing, malformed, expired or invalid access token")]
    Unauthorized,
    #[error("invalid email or password")]
    InvalidCredentials,
    #[error("not found")]
    NotFound,
    #[error("method not allowed")]
    MethodNotAllowed,
    #[error("{message}")]
    Conflict { code: &'static str, message: String },
    #[error("request body is too large")]
    PayloadTooLarge,
    #[error("expected a JSON body with content-type: application/json")]
    UnsupportedMediaType,
    #[error(transparent)]
    Validation(#[from] ValidationError),
    /// A JSON body of the wrong shape; `field` names the offending member when known.
    #[error("{message}")]
    InvalidBody {
        field: Option<String>,
        message: String,
    },
    #[error("{message}")]
    TooManyRequests {
        /// `rate_limited` (too many per minute) or `too_many_in_flight` (too many unanswered).
        code: &'static str,
        message: String,
        retry_after_secs: u64,
    },
    #[error("the request took too long")]
    RequestTimeout,
    #[error("{message}")]
    Overloaded {
        message: String,
        retry_after_secs: u64,
    },
    #[error(
        "the assistant did not answer in time; the request may still complete, see the conversation"
    )]
    GatewayTimeout,
    /// The turn ended with an error (`agent_unavailable`, `turn_limit_exceeded`, …): 502 with
    /// the turn's own code and message.
    #[error("{message}")]
    Agent { code: String, message: String },
    #[error("internal error")]
    Internal(#[source] anyhow::Error),
}

impl From<sqlx::Error> for ApiError {
    fn from(e: sqlx::Error) -> Self {
        match e {
            sqlx::Error::PoolTimedOut | sqlx::Error::PoolClosed | sqlx::Error::Io(_) => {
                todo_common::metrics::record_db_error("api", &e);
                tracing::warn!(error = %e, cause = ?std::error::Error::source(&e), "database unavailable; answering 503");
                Self::Overloaded {
                    message: "the database is busy or unavailable, try again shortly".into(),
                    retry_after_secs: 1,
                }
            }
            e => Self::Internal(e.into()),
        }
    }
}

impl From<anyhow::Error> for ApiError {
    fn from(e: anyhow::Error) -> Self {
        Self::Internal(e)
    }
}

#[derive(Serialize, utoipa::ToSchema)]
pub struct ErrorBody {
    pub error: ErrorDetail,
}

#[derive(Serialize, utoipa::ToSchema)]
pub struct ErrorDetail {
    /// Stable machine-readable code, e.g. `not_found`, `title_too_long`, `malformed_json`.
    pub code: String,
    /// Human-readable explanation.
    pub message: String,
    /// The offending field, for validation errors.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub field: Option<String>,
}

impl ApiError {
    pub fn status(&self) -> StatusCode {
        match self {
            Self::BadRequest { .. } => StatusCode::BAD_REQUEST,
            Self::Unauthorized | Self::InvalidCredentials => StatusCode::UNAUTHORIZED,
            Self::NotFound => StatusCode::NOT_FOUND,
            Self::MethodNotAllowed => StatusCode::METHOD_NOT_ALLOWED,
            Self::Conflict { .. } => StatusCode::CONFLICT,
            Self::PayloadTooLarge => StatusCode::PAYLOAD_TOO_LARGE,
            Self::UnsupportedMediaType => StatusCode::UNSUPPORTED_MEDIA_TYPE,
            Self::Validation(_) | Self::InvalidBody { .. } => StatusCode::UNPROCESSABLE_ENTITY,
            Self::TooManyRequests { .. } => StatusCode::TOO_MANY_REQUESTS,
            Self::RequestTimeout => StatusCode::REQUEST_TIMEOUT,
            Self::Overloaded { .. } => StatusCode::SERVICE_UNAVAILABLE,
            Self::GatewayTimeout => StatusCode::GATEWAY_TIMEOUT,
            Self::Agent { .. } => StatusCode::BAD_GATEWAY,
            Self::Internal(_) => StatusCode::INTERNAL_SERVER_ERROR,
        }
    }

    pub fn code(&self) -> &str {
        match self {
            Self::Agent { code, .. } => code,
            Self::BadRequest { code, .. }
            | Self::Conflict { code, .. }
            | Self::TooManyRequests { code, .. } => code,
            Self::Unauthorized => "unauthorized",
            Self::InvalidCredentials => "invalid_credentials",
            Self::NotFound => "not_found",
            Self::MethodNotAllowed => "method_not_allowed",
            Self::PayloadTooLarge => "payload_too_large",
            Self::UnsupportedMediaType => "unsupported_media_type",
            Self::Validation(v) => v.code,
            Self::InvalidBody { .. } => "invalid_body",
            Self::RequestTimeout => "request_timeout",
            Self::Overloaded { .. } => "overloaded",
            Self::GatewayTimeout => "timeout",
            Self::Internal(_) => "internal_error",
        }
    }

    pub fn validation(code: &'static str, field: &'static str, message: impl Into<String>) -> Self {
        Self::Validation(ValidationError::new(code, field, message))
    }

    pub fn body(&self) -> ErrorBody {
        ErrorBody {
            error: ErrorDetail {
                code: self.code().to_owned(),
                message: self.to_string(),
                field: match self {
                    Self::Validation(v) => Some(v.field.to_owned()),
                    Self::InvalidBody { field, .. } => field.clone(),
                    _ => None,
                },
            },
        }
    }
}

impl IntoResponse for ApiError {
    fn into_response(self) -> Response {
        if let Self::Internal(e) = &self {
            tracing::error!(error = ?e, "internal error");
        }
        if matches!(self, Self::TooManyRequests { .. }) {
            metrics::counter!("todo_rate_limited_total", "code" => self.code().to_owned())
                .increment(1);
        }
        let retry_after = match &self {
            Self::TooManyRequests {
                retry_after_secs, ..
            }
            | Self::Overloaded {
                retry_after_secs, ..
            } => Some(*retry_after_secs),
            _ => None,
        };
        let mut response = (self.status(), axum::Json(self.body())).into_response();
        if let Some(secs) = retry_after {
            response
                .headers_mut()
                .insert(header::RETRY_AFTER, HeaderValue::from(secs.max(1)));
        }
        if matches!(self, Self::Unauthorized | Self::InvalidCredentials) {
            metrics::counter!("todo_auth_failures_total", "code" => self.code().to_owned())
                .increment(1);
            response
                .headers_mut()
                .insert(header::WWW_AUTHENTICATE, HeaderValue::from_static("Bearer"));
        }
        response
    }
}

impl From<JsonRejection> for ApiError {
    fn from(rejection: JsonRejection) -> Self {
        match rejection {
            JsonRejection::JsonDataError(e) => {
                let detail = e.body_text();
                let detail = detail
                    .split_once("target type: ")
                    .map_or(detail.as_str(), |(_, d)| d)
                    .to_owned();
                Self::InvalidBody {
                    field: Some(body_field(&detail).unwrap_or_else(|| "body".to_owned())),
                    message: format!("request body does not match the expected shape: {detail}"),
                }
            }
            JsonRejection::JsonSyntaxError(_) => Self::BadRequest {
                code: "malformed_json",
                message: "request body is not valid JSON".into(),
            },
            JsonRejection::MissingJsonContentType(_) => Self::UnsupportedMediaType,
            JsonRejection::BytesRejection(e) if e.status() == StatusCode::PAYLOAD_TOO_LARGE => {
                Self::PayloadTooLarge
            }
            other => Self::BadRequest {
                code: "bad_request",
                message: other.body_text(),
            },
        }
    }
}

/// The member a deserialization error is about: `priority: unknown variant …`,
/// ``missing field `title` `` or ``unknown field `due` ``.
fn body_field(detail: &str) -> Option<String> {
    for marker in ["missing field `", "unknown field `"] {
        if let Some(rest) = detail.split_once(marker).map(|(_, r)| r) {
            return rest.split_once('`').map(|(f, _)| f.to_owned());
        }
    }
    let (path, _) = detail.split_once(": ")?;
    let field = path.split('.').next()?.split('[').next()?;
    (!field.is_empty() && field.chars().all(|c| c.is_alphanumeric() || c == '_'))
        .then(|| field.to_owned())
}

/// `Json<T>` whose rejections are [`ApiError`]s.
#[derive(Debug, Clone, Copy, Default)]
pub struct ApiJson<T>(pub T);

impl<S, T> FromRequest<S> for ApiJson<T>
where
    axum::Json<T>: FromRequest<S, Rejection = JsonRejection>,
    S: Send + Sync,
{
    type Rejection = ApiError;

    async fn from_request(req: Request, state: &S) -> Result<Self, Self::Rejection> {
        let axum::Json(value) = axum::Json::<T>::from_request(req, state).await?;
        Ok(Self(value))
    }
}

impl<T: Serialize> IntoResponse for ApiJson<T> {
    fn into_response(self) -> Response {
        axum::Json(self.0).into_response()
    }
}
