//! The worker's error type. Every failure of a turn says what JetStream should do with the message:
//! retry later (`nak` with a delay) or give up (`term`, after telling the user).

use std::time::Duration;

#[derive(Debug, thiserror::Error)]
pub enum TurnError {
    /// A transient failure (database or broker unavailable): run the turn again later.
    #[error("retryable: {0:#}")]
    Retryable(anyhow::Error),
    /// The request can never succeed (malformed, unknown user or conversation, or out of
    /// deliveries): drop it and keep a dead-letter record. `reason` is the record's stable code.
    #[error("fatal ({reason}): {error:#}")]
    Fatal {
        reason: &'static str,
        error: anyhow::Error,
    },
}

impl TurnError {
    pub fn fatal(reason: &'static str, msg: impl Into<String>) -> Self {
        Self::Fatal {
            reason,
            error: anyhow::anyhow!(msg.into()),
        }
    }

    pub fn is_retryable(&self) -> bool {
        matches!(self, Self::Retryable(_))
    }
}

impl From<sqlx::Error> for TurnError {
    fn from(e: sqlx::Error) -> Self {
        todo_common::metrics::record_db_error("worker", &e);
        Self::Retryable(e.into())
    }
}

impl From<crate::events::EventError> for TurnError {
    fn from(e: crate::events::EventError) -> Self {
        Self::Retryable(e.into())
    }
}

/// Delay before redelivering a request that failed for the `delivered`-th time
/// ([`todo_common::retry::REDELIVERY`]: 0.5 s, 1 s, 2 s … ≤ 30 s).
pub fn retry_delay(delivered: i64) -> Duration {
    todo_common::retry::REDELIVERY.delay(u32::try_from(delivered.max(1)).unwrap_or(u32::MAX))
}

/// Failure of the model provider after its own retries.
#[derive(Debug, thiserror::Error)]
pub enum AgentError {
    /// The model provider failed (after retries) or timed out.
    #[error("model provider failed: {0}")]
    Provider(String),
    /// The agent hit the model-step limit (`AGENT_MAX_TOOL_ROUNDS`).
    #[error("the agent used more than {0} model steps")]
    TooManyRounds(u32),
    /// The agent hit the tool-call limit (`AGENT_MAX_TOOL_CALLS`).
    #[error("the agent asked for more than {0} tool calls")]
    TooManyToolCalls(u32),
    /// A tool could not run because the database failed: retry the turn.
    #[error(transparent)]
    Database(#[from] sqlx::Error),
    /// Publishing an event failed: retry the turn.
    #[error(transparent)]
    Publish(crate::events::EventError),
    /// The user stopped the turn.
    #[error("the user stopped the turn")]
    Cancelled,
}

impl From<crate::events::EventError> for AgentError {
    fn from(e: crate::events::EventError) -> Self {
        match e {
            crate::events::EventError::Cancelled => Self::Cancelled,
            other => Self::Publish(other),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_pool_timeout_is_retryable_and_counted() {
        todo_common::metrics::install();
        let err = TurnError::from(sqlx::Error::PoolTimedOut);
        assert!(err.is_retryable());
        let text = todo_common::metrics::render();
        assert!(
            text.lines()
                .any(|l| l == "todo_db_pool_acquire_timeouts_total{pool=\"worker\"} 1"),
            "{text}"
        );
    }

    #[test]
    fn retry_delay_grows_and_is_capped() {
        assert_eq!(retry_delay(1), Duration::from_millis(500));
        assert_eq!(retry_delay(2), Duration::from_secs(1));
        assert!(retry_delay(100) <= Duration::from_secs(30));
    }
}
