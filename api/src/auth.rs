//! Authentication: bcrypt password hashing (off the async runtime), HS256 access tokens, the
//! [`AuthUser`] extractor, and the `/api/auth/*` routes.
//!
//! Authorization rule for `/api/{user_id}/…`: the path's user id must be the token's `sub`; any
//! mismatch answers 404 exactly like a missing resource ([`AuthUser::owner`]).

use std::net::SocketAddr;
use std::sync::Arc;
use std::time::{Duration, SystemTime, UNIX_EPOCH};

use axum::extract::{ConnectInfo, FromRef, FromRequestParts, State};
use axum::http::StatusCode;
use axum::http::request::Parts;
use chrono::{DateTime, Utc};
use jsonwebtoken::{Algorithm, DecodingKey, EncodingKey, Header, Validation};
use secrecy::ExposeSecret;
use serde::{Deserialize, Serialize};
use sha2::{Digest, Sha256};
use todo_common::config::AuthConfig;
use utoipa::ToSchema;
use utoipa_axum::{router::OpenApiRouter, routes};
use uuid::Uuid;

use crate::error::{ApiError, ApiJson, ErrorBody, Result};
use crate::state::AppState;

pub const PASSWORD_MIN_CHARS: usize = 8;
pub const PASSWORD_MAX_CHARS: usize = 128;
/// bcrypt only reads the first 72 bytes of its input.
const BCRYPT_MAX_BYTES: usize = 72;

/// Access-token claims.
#[derive(Debug, Serialize, Deserialize)]
pub struct Claims {
    pub sub: Uuid,
    pub exp: u64,
    pub iat: u64,
    pub iss: String,
}

/// Issues and checks tokens and passwords.
pub struct Auth {
    encoding: EncodingKey,
    decoding: DecodingKey,
    validation: Validation,
    issuer: String,
    ttl: Duration,
    cost: u32,
    /// A hash verified when the email is unknown, so both failures take the same time.
    dummy_hash: String,
}

impl std::fmt::Debug for Auth {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Auth")
            .field("issuer", &self.issuer)
            .finish_non_exhaustive()
    }
}

impl Auth {
    pub async fn new(config: &AuthConfig) -> anyhow::Result<Self> {
        let secret = config.jwt_secret.expose_secret().as_bytes();
        let mut validation = Validation::new(Algorithm::HS256);
        validation.set_issuer(&[config.jwt_issuer.as_str()]);
        validation.set_required_spec_claims(&["exp", "iat", "iss", "sub"]);
        validation.leeway = 5;
        let cost = config.bcrypt_cost;
        let dummy_hash =
            tokio::task::spawn_blocking(move || bcrypt::hash(b"dummy password for timing", cost))
                .await??;
        Ok(Self {
            encoding: EncodingKey::from_secret(secret),
            decoding: DecodingKey::from_secret(secret),
            validation,
            issuer: config.jwt_issuer.clone(),
            ttl: config.token_ttl,
            cost,
            dummy_hash,
        })
    }

    pub fn token_ttl(&self) -> Duration {
        self.ttl
    }

    pub fn issue(&self, user_id: Uuid) -> anyhow::Result<String> {
        let now = SystemTime::now().duration_since(UNIX_EPOCH)?.as_secs();
        let claims = Claims {
            sub: user_id,
            iat: now,
            exp: now + self.ttl.as_secs(),
            iss: self.issuer.clone(),
        };
        Ok(jsonwebtoken::encode(
            &Header::new(Algorithm::HS256),
            &claims,
            &self.encoding,
        )?)
    }

    /// The user id of a valid token; any defect (expired, tampered, other algorithm, wrong issuer or key) is `None`.
    pub fn verify(&self, token: &str) -> Option<Uuid> {
        jsonwebtoken::decode::<Claims>(token, &self.decoding, &self.validation)
            .ok()
            .map(|data| data.claims.sub)
    }

    pub async fn hash_password(&self, password: &str) -> anyhow::Result<String> {
        let input = bcrypt_input(password);
        let cost = self.cost;
        Ok(tokio::task::spawn_blocking(move || bcrypt::hash(input, cost)).await??)
    }

    /// Verifies a password against a stored hash, or against a dummy hash when there is none.
    pub async fn verify_password(&self, password: &str, hash: Option<String>) -> bool {
        let input = bcrypt_input(password);
        let known = hash.is_some();
        let hash = hash.unwrap_or_else(|| self.dummy_hash.clone());
        let ok = tokio::task::spawn_blocking(move || bcrypt::verify(input, &hash).unwrap_or(false))
            .await
            .unwrap_or(false);
        known && ok
    }
}

/// bcrypt ignores bytes past 72; longer passwords are pre-hashed so every character counts.
fn bcrypt_input(password: &str) -> Vec<u8> {
    if password.len() <= BCRYPT_MAX_BYTES {
        password.as_bytes().to_vec()
    } else {
        let digest = Sha256::digest(password.as_bytes());
        digest
            .iter()
            .map(|b| format!("{b:02x}"))
            .collect::<String>()
            .into_bytes()
    }
}

/// The authenticated caller, from `Authorization: Bearer <jwt>`.
#[derive(Debug, Clone, Copy)]
pub struct AuthUser {
    pub user_id: Uuid,
}

impl AuthUser {
    /// Checks a `{user_id}` path segment against the token. A mismatch (or a malformed id) is
    /// logged as a security event and answered 404 like a missing resource.
    pub fn owner(&self, path_user_id: &str) -> Result<Uuid> {
        match Uuid::parse_str(path_user_id) {
            Ok(id) if id == self.user_id => Ok(id),
            _ => {
                tracing::warn!(
                    target: "security",
                    event = "authorization_denied",
                    user_id = %self.user_id,
                    "token subject does not own the requested user path"
                );
                Err(ApiError::NotFound)
            }
        }
    }

    pub fn from_token(auth: &Auth, token: &str) -> Result<Self> {
        let user_id = auth.verify(token).ok_or_else(|| {
            tracing::warn!(target: "security", event = "invalid_token", "rejected an invalid or expired access token");
            ApiError::Unauthorized
        })?;
        tracing::Span::current().record("user_id", tracing::field::display(user_id));
        Ok(Self { user_id })
    }
}

pub fn bearer_token(parts: &Parts) -> Option<&str> {
    let value = parts
        .headers
        .get(axum::http::header::AUTHORIZATION)?
        .to_str()
        .ok()?;
    let (scheme, token) = value.split_once(' ')?;
    scheme
        .eq_ignore_ascii_case("bearer")
        .then(|| token.trim())
        .filter(|t| !t.is_empty())
}

impl<S> FromRequestParts<S> for AuthUser
where
    Arc<Auth>: FromRef<S>,
    S: Send + Sync,
{
    type Rejection = ApiError;

    async fn from_request_parts(parts: &mut Parts, state: &S) -> Result<Self, Self::Rejection> {
        let auth = Arc::<Auth>::from_ref(state);
        let token = bearer_token(parts).ok_or(ApiError::Unauthorized)?;
        Self::from_token(&auth, token)
    }
}

#[derive(Debug, Serialize, ToSchema, sqlx::FromRow)]
pub struct User {
    pub id: Uuid,
    pub email: String,
    pub name: Option<String>,
    /// IANA timezone (`Europe/Berlin`): dates are read and shown in it. Default `UTC`.
    pub timezone: String,
    /// How a numeric date such as 3/4 is read: `dmy` (3 April, the default) or `mdy` (March 4).
    pub date_order: String,
    pub created_at: DateTime<Utc>,
}

macro_rules! user_columns {
    () => {
        "id, email, name, timezone, date_order, created_at"
    };
}

#[derive(sqlx::FromRow)]
struct UserWithHash {
    #[sqlx(flatten)]
    user: User,
    password_hash: String,
}

#[derive(Deserialize, ToSchema)]
pub struct SignupRequest {
    /// Unique (case-insensitive) email address.
    pub email: String,
    /// 8–128 characters.
    pub password: String,
    /// Display name (optional, at most 100 characters).
    pub name: Option<String>,
    /// IANA timezone such as `Europe/Berlin` (optional, default `UTC`).
    pub timezone: Option<String>,
}

/// Changes to the account; absent fields stay as they are.
#[derive(Deserialize, ToSchema)]
pub struct UpdateMe {
    /// Display name (at most 100 characters); `null` or `""` clears it.
    #[serde(default, deserialize_with = "crate::tasks::double_option")]
    #[schema(value_type = Option<String>)]
    pub name: Option<Option<String>>,
    /// IANA timezone such as `Europe/Berlin`.
    pub timezone: Option<String>,
    /// `dmy` or `mdy`.
    pub date_order: Option<String>,
}

#[derive(Deserialize, ToSchema)]
pub struct LoginRequest {
    pub email: String,
    pub password: String,
}

#[derive(Serialize, ToSchema)]
pub struct LoginResponse {
    pub access_token: String,
    /// Always `bearer`.
    pub token_type: &'static str,
    /// Seconds until the token expires.
    pub expires_in: u64,
    pub user: User,
}

pub fn router() -> OpenApiRouter<AppState> {
    OpenApiRouter::new()
        .routes(routes!(signup))
        .routes(routes!(login))
        .routes(routes!(me, update_me))
}

fn validate_name(raw: Option<&str>) -> Result<Option<String>> {
    match raw.map(str::trim) {
        None | Some("") => Ok(None),
        Some(n) if n.chars().count() > 100 => Err(ApiError::validation(
            "name_too_long",
            "name",
            "name must be at most 100 characters",
        )),
        Some(n) if n.chars().any(char::is_control) => Err(ApiError::validation(
            "name_invalid",
            "name",
            "name must not contain control characters",
        )),
        Some(n) => Ok(Some(n.to_owned())),
    }
}

fn validate_timezone(raw: &str) -> Result<String> {
    todo_common::when::parse_timezone(raw)
        .map(|tz| tz.name().to_owned())
        .ok_or_else(|| {
            ApiError::validation(
                "invalid_timezone",
                "timezone",
                "timezone must be an IANA name such as Europe/Berlin or America/New_York",
            )
        })
}

fn validate_email(raw: &str) -> Result<String> {
    let email = raw.trim();
    let invalid = || {
        ApiError::validation(
            "invalid_email",
            "email",
            "email must be a valid address such as ada@example.com",
        )
    };
    if email.len() > 254 || email.chars().any(|c| c.is_whitespace() || c.is_control()) {
        return Err(invalid());
    }
    let (local, domain) = email.rsplit_once('@').ok_or_else(invalid)?;
    if local.is_empty()
        || local.len() > 64
        || domain.len() < 3
        || !domain.contains('.')
        || domain.starts_with('.')
        || domain.ends_with('.')
        || domain.contains('@')
    {
        return Err(invalid());
    }
    Ok(email.to_owned())
}

fn validate_password(password: &str) -> Result<()> {
    let n = password.chars().count();
    if n < PASSWORD_MIN_CHARS {
        return Err(ApiError::validation(
            "password_too_short",
            "password",
            format!("password must be at least {PASSWORD_MIN_CHARS} characters"),
        ));
    }
    if n > PASSWORD_MAX_CHARS {
        return Err(ApiError::validation(
            "password_too_long",
            "password",
            format!("password must be at most {PASSWORD_MAX_CHARS} characters"),
        ));
    }
    Ok(())
}

/// Create an account.
#[utoipa::path(post, path = "/api/auth/signup", tag = "auth", request_body = SignupRequest,
    responses(
        (status = 201, description = "Account created", body = User),
        (status = 400, description = "Malformed JSON", body = ErrorBody),
        (status = 409, description = "Email already registered (`email_taken`)", body = ErrorBody),
        (status = 413, description = "Body too large", body = ErrorBody),
        (status = 422, description = "Invalid email, password or name", body = ErrorBody),
    ))]
async fn signup(
    State(state): State<AppState>,
    ApiJson(req): ApiJson<SignupRequest>,
) -> Result<(StatusCode, ApiJson<User>)> {
    let email = validate_email(&req.email)?;
    validate_password(&req.password)?;
    let name = validate_name(req.name.as_deref())?;
    let timezone = req
        .timezone
        .as_deref()
        .map(validate_timezone)
        .transpose()?
        .unwrap_or_else(|| "UTC".to_owned());
    let hash = state.auth.hash_password(&req.password).await?;
    let user = sqlx::query_as::<_, User>(concat!(
        "insert into users (email, name, password_hash, timezone) values ($1, $2, $3, $4)
         on conflict (lower(email)) do nothing
         returning ",
        user_columns!(),
        ""
    ))
    .bind(&email)
    .bind(&name)
    .bind(&hash)
    .bind(&timezone)
    .fetch_optional(&state.db)
    .await?
    .ok_or_else(|| ApiError::Conflict {
        code: "email_taken",
        message: "an account with this email already exists".into(),
    })?;
    tracing::info!(user_id = %user.id, "user signed up");
    Ok((StatusCode::CREATED, ApiJson(user)))
}

/// Exchange email and password for an access token.
#[utoipa::path(post, path = "/api/auth/login", tag = "auth", request_body = LoginRequest,
    responses(
        (status = 200, description = "Logged in", body = LoginResponse),
        (status = 400, description = "Malformed JSON", body = ErrorBody),
        (status = 401, description = "Wrong email or password (`invalid_credentials`)", body = ErrorBody),
        (status = 429, description = "Too many attempts for this email or from this address (`rate_limited`)", body = ErrorBody),
    ))]
async fn login(
    State(state): State<AppState>,
    ConnectInfo(peer): ConnectInfo<SocketAddr>,
    ApiJson(req): ApiJson<LoginRequest>,
) -> Result<ApiJson<LoginResponse>> {
    let email = req.email.trim();
    if let Err(e) = state
        .limits
        .check_login(peer.ip(), &email.chars().take(254).collect::<String>())
    {
        tracing::warn!(target: "security", event = "login_rate_limited", ip = %peer.ip(), "login attempts rate-limited");
        return Err(e);
    }
    let row: Option<UserWithHash> = if email.len() <= 254 {
        sqlx::query_as(concat!(
            "select ",
            user_columns!(),
            ", password_hash from users where lower(email) = lower($1)"
        ))
        .bind(email)
        .fetch_optional(&state.db)
        .await?
    } else {
        None
    };
    let password_ok = state
        .auth
        .verify_password(&req.password, row.as_ref().map(|r| r.password_hash.clone()))
        .await;
    let Some(UserWithHash { user, .. }) = row.filter(|_| password_ok) else {
        tracing::warn!(target: "security", event = "login_failed", email = %email.to_lowercase(), "failed login");
        return Err(ApiError::InvalidCredentials);
    };
    tracing::Span::current().record("user_id", tracing::field::display(user.id));
    let access_token = state.auth.issue(user.id)?;
    Ok(ApiJson(LoginResponse {
        access_token,
        token_type: "bearer",
        expires_in: state.auth.token_ttl().as_secs(),
        user,
    }))
}

/// The authenticated user.
#[utoipa::path(get, path = "/api/auth/me", tag = "auth", security(("bearer" = [])),
    responses(
        (status = 200, description = "Current user", body = User),
        (status = 401, description = "Missing or invalid token", body = ErrorBody),
    ))]
async fn me(State(state): State<AppState>, auth: AuthUser) -> Result<ApiJson<User>> {
    sqlx::query_as::<_, User>(concat!(
        "select ",
        user_columns!(),
        " from users where id = $1"
    ))
    .bind(auth.user_id)
    .fetch_optional(&state.db)
    .await?
    .map(ApiJson)
    .ok_or(ApiError::Unauthorized)
}

/// Change the display name, timezone or date order.
#[utoipa::path(patch, path = "/api/auth/me", tag = "auth", security(("bearer" = [])),
    request_body = UpdateMe,
    responses(
        (status = 200, description = "The updated user", body = User),
        (status = 400, description = "Malformed JSON", body = ErrorBody),
        (status = 401, description = "Missing or invalid token", body = ErrorBody),
        (status = 422, description = "Unknown timezone (`invalid_timezone`), bad date order or name", body = ErrorBody),
    ))]
async fn update_me(
    State(state): State<AppState>,
    auth: AuthUser,
    ApiJson(req): ApiJson<UpdateMe>,
) -> Result<ApiJson<User>> {
    let name = req.name.map(|n| validate_name(n.as_deref())).transpose()?;
    let timezone = req.timezone.as_deref().map(validate_timezone).transpose()?;
    let date_order = req
        .date_order
        .as_deref()
        .map(|d| {
            todo_common::when::DateOrder::parse(d).ok_or_else(|| {
                ApiError::validation(
                    "invalid_date_order",
                    "date_order",
                    "date_order must be dmy or mdy",
                )
            })
        })
        .transpose()?;
    sqlx::query_as::<_, User>(concat!(
        "update users set
             name = case when $2 then $3 else name end,
             timezone = coalesce($4, timezone),
             date_order = coalesce($5, date_order)
         where id = $1
         returning ",
        user_columns!(),
        ""
    ))
    .bind(auth.user_id)
    .bind(name.is_some())
    .bind(name.flatten())
    .bind(timezone)
    .bind(date_order.map(todo_common::when::DateOrder::as_str))
    .fetch_optional(&state.db)
    .await?
    .map(ApiJson)
    .ok_or(ApiError::Unauthorized)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn long_passwords_are_prehashed_so_every_character_counts() {
        let a = "a".repeat(100);
        let b = format!("{}b", "a".repeat(99));
        assert_ne!(bcrypt_input(&a), bcrypt_input(&b));
        assert!(bcrypt_input(&a).len() <= BCRYPT_MAX_BYTES);
        assert_eq!(bcrypt_input("short"), b"short".to_vec());
    }

    #[test]
    fn email_validation() {
        assert!(validate_email(" ada@example.com ").is_ok());
        assert!(validate_email("nope").is_err());
        assert!(validate_email("a@b").is_err());
        assert!(validate_email("a b@example.com").is_err());
    }
}
