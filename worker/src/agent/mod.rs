//! Agents: the built-in offline one and any OpenAI-compatible model. Both call the same tools
//! through a [`ToolExecutor`] and stream their reply through an [`EventSink`].

pub mod builtin;
pub mod openai;

use todo_common::chat::Message;
use todo_common::config::AgentConfig;

use crate::error::AgentError;
use crate::events::EventSink;
use crate::tools::ToolExecutor;

/// What an agent answered (the tool calls it made are kept by the executor).
#[derive(Debug, Clone)]
pub struct AgentReply {
    pub response: String,
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

    pub async fn run(
        &self,
        message: &str,
        history: &[Message],
        tools: &mut ToolExecutor,
        events: &EventSink,
    ) -> Result<AgentReply, AgentError> {
        match self {
            Self::Builtin(a) => a.run(message, history, tools, events).await,
            Self::OpenAi(a) => a.run(message, history, tools, events).await,
        }
    }
}
