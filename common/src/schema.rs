//! The queue contract (version 1): chat requests published to JetStream and the reply events
//! workers publish back. Documented for load-test scripts and other producers in `docs/QUEUE.md`.
//!
//! Compatibility rules: producers set `"v": 1`; consumers ignore unknown fields and unknown event
//! types; a new optional field or a new event type keeps the version, anything else bumps it.

use serde::{Deserialize, Serialize};
use serde_json::Value;
use uuid::Uuid;

/// Version of the request and event schema this build speaks.
pub const SCHEMA_VERSION: u32 = 1;
/// Largest chat message, in characters, after trimming.
pub const MESSAGE_MAX_CHARS: usize = 10_000;

/// A chat turn to run, published to `<prefix>.requests` with header `Nats-Msg-Id: <request_id>`.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct ChatRequest {
    /// Schema version: always 1 for this shape.
    pub v: u32,
    /// Unique id of the turn; the idempotency key (a request id is served once).
    pub request_id: Uuid,
    /// The user the turn acts for; tools never touch anybody else's tasks.
    pub user_id: Uuid,
    /// Conversation to continue; `null` starts a new one (the worker creates it).
    #[serde(default)]
    pub conversation_id: Option<i64>,
    /// What the user said (1–10 000 characters after trimming).
    pub message: String,
    /// Subject for the reply events; defaults to `<prefix>.events.<request_id>`.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub reply_to: Option<String>,
    /// The turn's number in its conversation (1 for the first), as stored when the request was
    /// accepted. A hint, never trusted: with it a worker that answered the turn before can start
    /// the model call while it reads the conversation, and keeps that call only if it is exactly
    /// the call the stored conversation asks for. Producers may leave it out.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub turn: Option<i64>,
}

impl ChatRequest {
    /// Checks the fields a producer outside the api may get wrong.
    pub fn validate(&self) -> Result<(), String> {
        if self.v != SCHEMA_VERSION {
            return Err(format!(
                "unsupported schema version {} (expected {SCHEMA_VERSION})",
                self.v
            ));
        }
        let len = self.message.trim().chars().count();
        if len == 0 {
            return Err("message must not be empty".into());
        }
        if len > MESSAGE_MAX_CHARS {
            return Err(format!(
                "message must be at most {MESSAGE_MAX_CHARS} characters"
            ));
        }
        if self.message.contains('\0') {
            return Err("message must not contain NUL characters".into());
        }
        if let Some(subject) = &self.reply_to
            && (subject.is_empty() || subject.contains(['*', '>', ' ']))
        {
            return Err("reply_to must be a plain subject without wildcards".into());
        }
        Ok(())
    }
}

/// One call of a tool during a turn, as reported to clients.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, utoipa::ToSchema)]
pub struct ToolCall {
    /// Tool name: `add_task`, `list_tasks`, `complete_task`, `update_task`, `delete_task`, `undo`
    /// or `confirm_action` (docs/QUEUE.md, "Tool results").
    pub tool: String,
    /// Arguments the agent passed.
    #[schema(value_type = Object)]
    pub arguments: Value,
    /// What the tool returned, tagged by `status` (`{"status": "error", "error": {...}}` when it refused).
    #[schema(value_type = Object)]
    pub result: Value,
}

/// A reply event published by a worker on the request's reply subject.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct ChatEvent {
    pub v: u32,
    pub request_id: Uuid,
    #[serde(flatten)]
    pub body: EventBody,
}

/// What happened. Per request, in order: zero or more `delta` / `tool` (possibly after a `reset`),
/// then exactly one `done`, `error` or `cancelled`.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(tag = "type", rename_all = "snake_case")]
pub enum EventBody {
    /// A piece of the reply text.
    Delta { text: String },
    /// A tool the agent ran, with its result.
    Tool {
        tool: String,
        arguments: Value,
        result: Value,
    },
    /// The turn is being run again (redelivery): discard the deltas and tools shown so far.
    Reset { reason: String },
    /// The turn finished; `response` is the whole reply and the truth.
    Done {
        conversation_id: i64,
        response: String,
        tool_calls: Vec<ToolCall>,
    },
    /// The turn failed; the user message is kept.
    Error { code: String, message: String },
    /// The user stopped the turn: `response` is the part of the reply produced before it stopped
    /// (kept in the conversation, marked stopped) and `tool_calls` the tools already applied,
    /// which stay applied.
    Cancelled {
        conversation_id: i64,
        response: String,
        tool_calls: Vec<ToolCall>,
    },
}

impl ChatEvent {
    pub fn new(request_id: Uuid, body: EventBody) -> Self {
        Self {
            v: SCHEMA_VERSION,
            request_id,
            body,
        }
    }

    /// `done`, `error` and `cancelled` end a request.
    pub fn is_terminal(&self) -> bool {
        matches!(
            self.body,
            EventBody::Done { .. } | EventBody::Error { .. } | EventBody::Cancelled { .. }
        )
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    #[test]
    fn request_round_trips_and_accepts_documented_example() {
        let example = json!({
            "v": 1,
            "request_id": "6f1c2a8e-1d2b-4c1e-9a57-0b8e4f3d2a10",
            "user_id": "0e7c8a53-5b0f-4f57-a0d4-3f0c3c8f8f11",
            "conversation_id": null,
            "message": "add a task to buy milk"
        });
        let req: ChatRequest = serde_json::from_value(example).expect("documented example parses");
        assert!(req.validate().is_ok());
        assert_eq!(req.reply_to, None);
        let back: ChatRequest =
            serde_json::from_str(&serde_json::to_string(&req).expect("ser")).expect("de");
        assert_eq!(back, req);
    }

    #[test]
    fn request_validation_rejects_bad_versions_and_messages() {
        let mut req = ChatRequest {
            v: 2,
            request_id: Uuid::new_v4(),
            user_id: Uuid::new_v4(),
            conversation_id: None,
            message: "hi".into(),
            reply_to: None,
            turn: None,
        };
        assert!(req.validate().is_err());
        req.v = 1;
        req.message = "   ".into();
        assert!(req.validate().is_err());
        req.message = "x".repeat(MESSAGE_MAX_CHARS + 1);
        assert!(req.validate().is_err());
        req.message = "ok".into();
        req.reply_to = Some("a.>".into());
        assert!(req.validate().is_err());
    }

    #[test]
    fn events_serialize_with_a_type_tag() {
        let id = Uuid::new_v4();
        let e = ChatEvent::new(id, EventBody::Delta { text: "Hi".into() });
        let v = serde_json::to_value(&e).expect("ser");
        assert_eq!(
            v,
            json!({"v": 1, "request_id": id, "type": "delta", "text": "Hi"})
        );
        let done: ChatEvent = serde_json::from_value(json!({
            "v": 1, "request_id": id, "type": "done", "conversation_id": 4,
            "response": "ok", "tool_calls": [], "future_field": true
        }))
        .expect("unknown fields are ignored");
        assert!(done.is_terminal());
    }
}
