//! The REST calls the client makes, and its one error type.

use serde_json::{Value, json};

use crate::TasksArgs;
use crate::session::Session;

#[derive(Debug, thiserror::Error)]
pub enum CliError {
    #[error("not logged in: run `todo login`")]
    NotLoggedIn,
    /// The api refused (its stable code and message).
    #[error("{message}")]
    Api {
        status: u16,
        code: String,
        message: String,
    },
    #[error("cannot reach {url}: {cause}")]
    Network { url: String, cause: String },
    /// The reply ended with an error event.
    #[error("{message}")]
    Turn { code: String, message: String },
    #[error("{0}")]
    Usage(String),
    #[error(transparent)]
    Io(#[from] std::io::Error),
}

impl CliError {
    /// A stable code for `--json` output.
    pub fn code(&self) -> &str {
        match self {
            Self::NotLoggedIn => "not_logged_in",
            Self::Api { code, .. } | Self::Turn { code, .. } => code,
            Self::Network { .. } => "network",
            Self::Usage(_) => "usage",
            Self::Io(_) => "io",
        }
    }

    pub fn exit_code(&self) -> u8 {
        match self {
            Self::NotLoggedIn => crate::exit::NOT_LOGGED_IN,
            Self::Api { status: 401, .. } => crate::exit::NOT_LOGGED_IN,
            Self::Usage(_) => 2,
            _ => crate::exit::FAILED,
        }
    }
}

pub struct Client {
    base: String,
    http: reqwest::Client,
    session: Option<Session>,
}

impl Client {
    pub fn new(base: &str, session: Option<Session>) -> Result<Self, CliError> {
        let base = base.trim_end_matches('/').to_owned();
        url::Url::parse(&base)
            .map_err(|e| CliError::Usage(format!("--api {base} is not a URL: {e}")))?;
        let http = reqwest::Client::builder()
            .timeout(std::time::Duration::from_secs(30))
            .build()
            .map_err(|e| CliError::Usage(e.to_string()))?;
        Ok(Self {
            base,
            http,
            session,
        })
    }

    async fn send(&self, request: reqwest::RequestBuilder) -> Result<Option<Value>, CliError> {
        let request = match &self.session {
            Some(s) => request.bearer_auth(&s.token),
            None => request,
        };
        let response = request.send().await.map_err(|e| CliError::Network {
            url: self.base.clone(),
            cause: e.without_url().to_string(),
        })?;
        let status = response.status();
        if status == reqwest::StatusCode::NO_CONTENT {
            return Ok(None);
        }
        let body: Value = response.json().await.unwrap_or(Value::Null);
        if !status.is_success() {
            let error = &body["error"];
            let message = match status.as_u16() {
                401 if self.session.is_some() => "your session has ended: run `todo login`".into(),
                _ => error["message"]
                    .as_str()
                    .map_or_else(|| format!("the api answered {status}"), str::to_owned),
            };
            return Err(CliError::Api {
                status: status.as_u16(),
                code: error["code"].as_str().unwrap_or("http_error").to_owned(),
                message,
            });
        }
        Ok(Some(body))
    }

    fn user_path(&self, path: &str) -> Result<String, CliError> {
        let session = self.session.as_ref().ok_or(CliError::NotLoggedIn)?;
        Ok(format!("{}/api/{}{path}", self.base, session.user_id))
    }

    pub async fn signup(&self, email: &str, password: &str) -> Result<(), CliError> {
        self.send(
            self.http
                .post(format!("{}/api/auth/signup", self.base))
                .json(&json!({"email": email, "password": password})),
        )
        .await?;
        Ok(())
    }

    pub async fn login(&self, email: &str, password: &str) -> Result<Session, CliError> {
        let body = self
            .send(
                self.http
                    .post(format!("{}/api/auth/login", self.base))
                    .json(&json!({"email": email, "password": password})),
            )
            .await?
            .unwrap_or_default();
        let now = std::time::SystemTime::now()
            .duration_since(std::time::UNIX_EPOCH)
            .map_or(0, |d| d.as_secs());
        let parsed = (|| {
            Some(Session {
                api: self.base.clone(),
                user_id: body["user"]["id"].as_str()?.parse().ok()?,
                email: body["user"]["email"].as_str()?.to_owned(),
                token: body["access_token"].as_str()?.to_owned(),
                expires_at: now + body["expires_in"].as_u64()?,
            })
        })();
        parsed.ok_or_else(|| CliError::Usage("unexpected login answer from the api".into()))
    }

    pub async fn logout(&self) -> Result<(), CliError> {
        self.send(self.http.post(format!("{}/api/auth/logout", self.base)))
            .await
            .map(|_| ())
    }

    pub async fn tasks(&self, args: &TasksArgs) -> Result<Vec<Value>, CliError> {
        let status = match args.status.as_str() {
            "done" => "completed",
            other => other,
        };
        let mut query: Vec<(&str, String)> = vec![
            ("status", status.to_owned()),
            ("limit", args.limit.to_string()),
        ];
        if let Some(due) = &args.due {
            query.push(("due", due.clone()));
        }
        for tag in &args.tag {
            query.push(("tag", tag.clone()));
        }
        if let Some(q) = &args.query {
            query.push(("q", q.clone()));
        }
        let mut url = url::Url::parse(&self.user_path("/tasks")?)
            .map_err(|e| CliError::Usage(e.to_string()))?;
        url.query_pairs_mut().extend_pairs(&query);
        let body = self.send(self.http.get(url)).await?.unwrap_or_default();
        Ok(body.as_array().cloned().unwrap_or_default())
    }

    pub async fn cancel(&self, request_id: uuid::Uuid) -> Result<(), CliError> {
        self.send(
            self.http
                .post(self.user_path(&format!("/chat/{request_id}/cancel"))?),
        )
        .await
        .map(|_| ())
    }
}
