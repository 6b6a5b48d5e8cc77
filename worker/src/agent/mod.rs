//! Agents: the built-in offline one and any OpenAI-compatible model. Both call the same typed
//! tools through a [`ToolExecutor`] and stream their reply through an [`EventSink`].

pub mod builtin;
pub mod early;
pub mod openai;

use serde_json::Value;
use todo_common::chat::{HistoryNeed, Message};
use todo_common::config::AgentConfig;
use todo_common::schema::ChatEvent;
use todo_common::tools::PendingAction;
use todo_common::when::Clock;

use crate::error::AgentError;
use crate::events::EventSink;
use crate::tools::ToolExecutor;

/// What an agent answered (the tool calls it made are kept by the executor).
#[derive(Debug, Clone)]
pub enum AgentReply {
    /// The reply, for the turn to store and finish with, and what the agent wants to remember
    /// with it (stored on the assistant message).
    Answer {
        response: String,
        state: Option<Value>,
    },
    /// The reply was stored with the turn's last tool call (the built-in agent): the turn is
    /// already done in Postgres, and this stored `done` event is left to publish.
    Stored(ChatEvent),
}

/// What a turn gives its agent.
#[derive(Debug, Clone, Copy)]
pub struct TurnInput<'a> {
    pub message: &'a str,
    /// Earlier messages of the conversation, oldest first.
    pub history: &'a [Message],
    /// Now, in the user's timezone and date order.
    pub clock: Clock,
    /// A change to several tasks that the previous turn asked the user to confirm.
    pub pending: Option<&'a PendingAction>,
}

pub enum Agent {
    Builtin(builtin::BuiltinAgent),
    OpenAi(Box<openai::OpenAiAgent>),
}

impl Agent {
    pub fn from_config(config: &AgentConfig) -> Self {
        match config {
            AgentConfig::Builtin => Self::Builtin(builtin::BuiltinAgent),
            AgentConfig::OpenAi(c) => Self::OpenAi(Box::new(openai::OpenAiAgent::new(c.clone()))),
        }
    }

    pub fn name(&self) -> &'static str {
        match self {
            Self::Builtin(_) => "builtin",
            Self::OpenAi(_) => "openai",
        }
    }

    /// What a turn reads of its conversation when it starts: the model sees the recent
    /// conversation; the built-in agent reads only the state its last reply left
    /// ([`builtin::AgentState::from_history`]).
    pub fn history_need(&self) -> HistoryNeed {
        match self {
            Self::Builtin(_) => HistoryNeed::LastReply,
            Self::OpenAi(_) => HistoryNeed::Recent,
        }
    }

    /// Opens the model call of a turn expected to start from `guess` before the turn has read
    /// its conversation ([`early`]); `None` for the built-in agent, which calls no model.
    pub fn start_early(&self, guess: &early::Guess, message: &str) -> Option<openai::EarlyCall> {
        match self {
            Self::Builtin(_) => None,
            Self::OpenAi(a) => a.start_early(guess, message),
        }
    }

    /// Runs a turn; `early` is its model call opened by [`Agent::start_early`], if any.
    pub async fn run(
        &self,
        input: &TurnInput<'_>,
        tools: &mut ToolExecutor,
        events: &EventSink,
        early: Option<openai::EarlyCall>,
    ) -> Result<AgentReply, AgentError> {
        match self {
            Self::Builtin(a) => a.run(input, tools, events).await,
            Self::OpenAi(a) => a.run(input, tools, events, early).await,
        }
    }
}
