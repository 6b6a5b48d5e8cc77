//! Authentication: bcrypt password hashing (off the async runtime, bounded by a semaphore sized
//! to the cores so logins and signups cannot starve it), HS256 access tokens that can be revoked,
//! the [`AuthUser`] extractor, and the `/api/auth/*` routes.
//!
//! Authorization rule for `/api/{user_id}/…`: the path's user id must be the token's `sub`; any
//! mismatch answers 404 exactly like a missing resource ([`AuthUser::owner`]).
//!
//! Sessions: a token carries an id (`jti`) and the user's token version (`ver`). Logging out records
//! the id in `revoked_tokens`; changing the password bumps `users.token_version`, which ends every
//! older token. Both live in Postgres, so revocation holds on every api instance; each
//! authenticated request checks them (one indexed lookup).

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
use sqlx::PgPool;
use todo_common::config::AuthConfig;
use tokio::sync::Semaphore;
use utoipa::ToSchema;
use utoipa_axum::{router::OpenApiRouter, routes};
use uuid::Uuid;

use crate::error::{ApiError, ApiJson, ErrorBody, Result};
use crate::state::AppState;

pub const PASSWORD_MIN_CHARS: usize = 8;
/// bcrypt only reads the first 72 bytes of its input: longer passwords are refused rather than
/// silently truncated or pre-hashed.
pub const PASSWORD_MAX_BYTES: usize = 72;

/// Access-token claims.
#[derive(Debug, Serialize, Deserialize)]
pub struct Claims {
    pub sub: Uuid,
    pub exp: u64,
    pub iat: u64,
    pub iss: String,
    /// Token id: what logging out revokes.
    pub jti: Uuid,
    /// The user's token version when it was issued: a password change ends older tokens.
    pub ver: i32,
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
    /// bcrypt runs at most this many at once (the cores), whatever the number of requests.
    bcrypt_slots: Semaphore,
    db: PgPool,
}

impl std::fmt::Debug for Auth {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Auth")
            .field("issuer", &self.issuer)
            .finish_non_exhaustive()
    }
}

/// A verified token: who, and which session.
#[derive(Debug, Clone, Copy)]
pub struct Session {
    pub user_id: Uuid,
    pub jti: Uuid,
    pub version: i32,
    /// When the token expires.
    pub expires_at: u64,
}

impl Auth {
    pub async fn new(config: &AuthConfig, db: PgPool) -> anyhow::Result<Self> {
        let secret = config.jwt_secret.expose_secret().as_bytes();
        let mut validation = Validation::new(Algorithm::HS256);
        validation.set_issuer(&[config.jwt_issuer.as_str()]);
        validation.set_required_spec_claims(&["exp", "iat", "iss", "sub"]);
        validation.leeway = 5;
        let cost = config.bcrypt_cost;
        let dummy_hash =
            tokio::task::spawn_blocking(move || bcrypt::hash(b"dummy password for timing", cost))
                .await??;
        let cores = std::thread::available_parallelism().map_or(2, std::num::NonZeroUsize::get);
        Ok(Self {
            encoding: EncodingKey::from_secret(secret),
            decoding: DecodingKey::from_secret(secret),
            validation,
            issuer: config.jwt_issuer.clone(),
            ttl: config.token_ttl,
            cost,
            dummy_hash,
            bcrypt_slots: Semaphore::new(cores),
            db,
        })
    }

    pub fn token_ttl(&self) -> Duration {
        self.ttl
    }

    /// A new token for the user at their current token version.
    pub fn issue(&self, user_id: Uuid, version: i32) -> anyhow::Result<String> {
        let now = SystemTime::now().duration_since(UNIX_EPOCH)?.as_secs();
        let claims = Claims {
            sub: user_id,
            iat: now,
            exp: now + self.ttl.as_secs(),
            iss: self.issuer.clone(),
            jti: Uuid::new_v4(),
            ver: version,
        };
        Ok(jsonwebtoken::encode(
            &Header::new(Algorithm::HS256),
            &claims,
            &self.encoding,
        )?)
    }

    /// The session of a well-formed token; any defect (expired, tampered, other algorithm, wrong
    /// issuer or key) is `None`. Revocation is checked by [`Auth::is_live`].
    pub fn verify(&self, token: &str) -> Option<Session> {
        jsonwebtoken::decode::<Claims>(token, &self.decoding, &self.validation)
            .ok()
            .map(|data| Session {
                user_id: data.claims.sub,
                jti: data.claims.jti,
                version: data.claims.ver,
                expires_at: data.claims.exp,
            })
    }

    /// Whether a session is still live: its user exists, it was not logged out, and the password
    /// was not changed since it was issued.
    pub async fn is_live(&self, session: &Session) -> Result<bool> {
        let live: Option<bool> = sqlx::query_scalar(
            "select u.token_version = $2
                    and not exists (select 1 from revoked_tokens r where r.jti = $3)
             from users u where u.id = $1",
        )
        .bind(session.user_id)
        .bind(session.version)
        .bind(session.jti)
        .fetch_optional(&self.db)
        .await?;
        Ok(live.unwrap_or(false))
    }

    /// Ends one session (logout) until its token would have expired anyway.
    pub async fn revoke(&self, session: &Session) -> Result<()> {
        let expires_at = DateTime::<Utc>::from_timestamp(
            i64::try_from(session.expires_at).unwrap_or(i64::MAX / 2),
            0,
        )
        .unwrap_or_else(Utc::now);
        sqlx::query(
            "with cleanup as (delete from revoked_tokens where expires_at < now())
             insert into revoked_tokens (jti, user_id, expires_at) values ($1, $2, $3)
             on conflict (jti) do nothing",
        )
        .bind(session.jti)
        .bind(session.user_id)
        .bind(expires_at)
        .execute(&self.db)
        .await?;
        Ok(())
    }

    async fn bcrypt<T: Send + 'static>(
        &self,
        work: impl FnOnce() -> T + Send + 'static,
    ) -> anyhow::Result<T> {
        let _slot = self.bcrypt_slots.acquire().await?;
        Ok(tokio::task::spawn_blocking(work).await?)
    }

    pub async fn hash_password(&self, password: &str) -> anyhow::Result<String> {
        let input = password.as_bytes().to_vec();
        let cost = self.cost;
        Ok(self.bcrypt(move || bcrypt::hash(input, cost)).await??)
    }

    /// Verifies a password against a stored hash, or against a dummy hash when there is none
    /// (so an unknown email takes as long as a wrong password).
    pub async fn verify_password(&self, password: &str, hash: Option<String>) -> bool {
        let acceptable = password.len() <= PASSWORD_MAX_BYTES && !password.contains('\0');
        let input = password.as_bytes().to_vec();
        let known = hash.is_some();
        let hash = hash.unwrap_or_else(|| self.dummy_hash.clone());
        let ok = self
            .bcrypt(move || bcrypt::verify(input, &hash).unwrap_or(false))
            .await
            .unwrap_or(false);
        known && ok && acceptable
    }
}

/// The authenticated caller, from `Authorization: Bearer <jwt>`.
#[derive(Debug, Clone, Copy)]
pub struct AuthUser {
    pub user_id: Uuid,
    pub session: Session,
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

    /// Verifies a token and that its session is still live.
    pub async fn from_token(auth: &Auth, token: &str) -> Result<Self> {
        let invalid = || {
            tracing::warn!(target: "security", event = "invalid_token", "rejected an invalid, expired or revoked access token");
            ApiError::Unauthorized
        };
        let session = auth.verify(token).ok_or_else(invalid)?;
        if !auth.is_live(&session).await? {
            return Err(invalid());
        }
        tracing::Span::current().record("user_id", tracing::field::display(session.user_id));
        Ok(Self {
            user_id: session.user_id,
            session,
        })
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
        Self::from_token(&auth, token).await
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
    token_version: i32,
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
    #[serde(default, deserialize_with = "todo_common::tools::double_option")]
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
        .routes(routes!(logout))
        .routes(routes!(change_password))
}

#[derive(Deserialize, ToSchema)]
pub struct ChangePassword {
    pub current_password: String,
    /// 8 characters to 72 bytes.
    pub new_password: String,
}

/// End this session: the token stops working on every api instance at once.
#[utoipa::path(post, path = "/api/auth/logout", tag = "auth", security(("bearer" = [])),
    responses(
        (status = 204, description = "Logged out"),
        (status = 401, description = "Missing, invalid or already revoked token", body = ErrorBody),
    ))]
async fn logout(State(state): State<AppState>, auth: AuthUser) -> Result<StatusCode> {
    state.auth.revoke(&auth.session).await?;
    state
        .sessions
        .revoked(auth.user_id, Some(auth.session.jti))
        .await;
    tracing::info!(target: "security", event = "logout", user_id = %auth.user_id, "session ended");
    Ok(StatusCode::NO_CONTENT)
}

/// Change the password: every token issued before ends (on every instance, sockets included);
/// the answer carries a fresh token for this client.
#[utoipa::path(post, path = "/api/auth/password", tag = "auth", security(("bearer" = [])),
    request_body = ChangePassword,
    responses(
        (status = 200, description = "Password changed; a new token", body = LoginResponse),
        (status = 400, description = "Malformed JSON", body = ErrorBody),
        (status = 401, description = "Missing or invalid token, or wrong current password", body = ErrorBody),
        (status = 422, description = "Invalid new password", body = ErrorBody),
    ))]
async fn change_password(
    State(state): State<AppState>,
    auth: AuthUser,
    ApiJson(req): ApiJson<ChangePassword>,
) -> Result<ApiJson<LoginResponse>> {
    validate_password(&req.new_password, "new_password")?;
    let hash: Option<String> = sqlx::query_scalar("select password_hash from users where id = $1")
        .bind(auth.user_id)
        .fetch_optional(&state.db)
        .await?;
    if !state
        .auth
        .verify_password(&req.current_password, hash)
        .await
    {
        tracing::warn!(target: "security", event = "password_change_failed", user_id = %auth.user_id, "wrong current password");
        return Err(ApiError::InvalidCredentials);
    }
    let new_hash = state.auth.hash_password(&req.new_password).await?;
    let row: Option<UserWithHash> = sqlx::query_as(concat!(
        "update users set password_hash = $2, token_version = token_version + 1 where id = $1
         returning ",
        user_columns!(),
        ", password_hash, token_version"
    ))
    .bind(auth.user_id)
    .bind(&new_hash)
    .fetch_optional(&state.db)
    .await?;
    let row = row.ok_or(ApiError::Unauthorized)?;
    state.sessions.revoked(auth.user_id, None).await;
    tracing::info!(target: "security", event = "password_changed", user_id = %auth.user_id, "password changed; older sessions ended");
    Ok(ApiJson(LoginResponse {
        access_token: state.auth.issue(row.user.id, row.token_version)?,
        token_type: "bearer",
        expires_in: state.auth.token_ttl().as_secs(),
        user: row.user,
    }))
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

fn validate_password(password: &str, field: &'static str) -> Result<()> {
    if password.chars().count() < PASSWORD_MIN_CHARS {
        return Err(ApiError::validation(
            "password_too_short",
            field,
            format!("password must be at least {PASSWORD_MIN_CHARS} characters"),
        ));
    }
    if password.len() > PASSWORD_MAX_BYTES {
        return Err(ApiError::validation(
            "password_too_long",
            field,
            format!(
                "password must be at most {PASSWORD_MAX_BYTES} bytes (bcrypt reads no more; \
                 that is 72 ASCII characters, fewer with accents or emoji)"
            ),
        ));
    }
    if password.contains('\0') {
        return Err(ApiError::validation(
            "password_invalid",
            field,
            "password must not contain NUL characters",
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
        (status = 422, description = "Invalid email, password (8 characters to 72 bytes) or name", body = ErrorBody),
        (status = 429, description = "Too many signups from this address or in all (`rate_limited`)", body = ErrorBody),
    ))]
async fn signup(
    State(state): State<AppState>,
    ConnectInfo(peer): ConnectInfo<SocketAddr>,
    ApiJson(req): ApiJson<SignupRequest>,
) -> Result<(StatusCode, ApiJson<User>)> {
    let email = validate_email(&req.email)?;
    validate_password(&req.password, "password")?;
    if let Err(e) = state.limits.check_signup(peer.ip()) {
        tracing::warn!(target: "security", event = "signup_rate_limited", ip = %peer.ip(), "signups rate-limited");
        return Err(e);
    }
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
    if email.chars().any(char::is_control) || req.password.contains('\0') {
        return Err(ApiError::validation(
            "invalid_credentials_format",
            if req.password.contains('\0') {
                "password"
            } else {
                "email"
            },
            "email and password must not contain control characters",
        ));
    }
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
            ", password_hash, token_version from users where lower(email) = lower($1)"
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
    let Some(UserWithHash {
        user,
        token_version,
        ..
    }) = row.filter(|_| password_ok)
    else {
        tracing::warn!(target: "security", event = "login_failed", email = %email.to_lowercase(), "failed login");
        return Err(ApiError::InvalidCredentials);
    };
    tracing::Span::current().record("user_id", tracing::field::display(user.id));
    let access_token = state.auth.issue(user.id, token_version)?;
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
    fn passwords_are_bounded_by_what_bcrypt_reads() {
        assert!(validate_password("correct horse", "password").is_ok());
        assert!(validate_password(&"a".repeat(72), "password").is_ok());
        let long = validate_password(&"a".repeat(73), "password");
        assert!(matches!(long, Err(ApiError::Validation(v)) if v.code == "password_too_long"));
        // 36 two-byte characters are 72 bytes; one more is too many.
        assert!(validate_password(&"é".repeat(36), "password").is_ok());
        assert!(validate_password(&"é".repeat(37), "password").is_err());
        assert!(validate_password("short", "password").is_err());
        assert!(validate_password("nul\0in the middle", "password").is_err());
    }

    #[test]
    fn email_validation() {
        assert!(validate_email(" ada@example.com ").is_ok());
        assert!(validate_email("nope").is_err());
        assert!(validate_email("a@b").is_err());
        assert!(validate_email("a b@example.com").is_err());
        assert!(validate_email("a\0b@example.com").is_err());
    }
}
