//! The WebSocket chat protocol (docs/PROTOCOL.md) as types: what a client sends ([`ClientFrame`])
//! and what the server sends ([`ServerFrame`]). The api's socket handler, `loadgen`, the terminal
//! client and the tests all speak it through these types; a test parses every JSON example of
//! docs/PROTOCOL.md with them.
//!
//! Also here: the NATS notice of a change to a user's tasks ([`TasksChangedNotice`]), which every
//! api instance turns into `tasks_changed` frames for that user's sockets.

use serde::{Deserialize, Serialize};
use uuid::Uuid;

use crate::chat::TurnStatus;
use crate::schema::{ChatEvent, EventBody, ToolCall};
use crate::tasks::TaskView;

/// A frame a client sends.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(tag = "type", rename_all = "snake_case")]
pub enum ClientFrame {
    /// Say something to the assistant.
    Chat {
        message: String,
        /// Continue this conversation; absent or `null` starts a new one.
        #[serde(default, skip_serializing_if = "Option::is_none")]
        conversation_id: Option<i64>,
        /// The client's id for the message: echoed, and it makes a resend idempotent.
        #[serde(default, skip_serializing_if = "Option::is_none")]
        client_msg_id: Option<String>,
    },
    /// Follow a request sent earlier (after a reconnect).
    Resume {
        request_id: Uuid,
        #[serde(default, skip_serializing_if = "Option::is_none")]
        client_msg_id: Option<String>,
    },
    /// Stop a reply that is queued or running (on whichever worker).
    Cancel {
        request_id: Uuid,
        #[serde(default, skip_serializing_if = "Option::is_none")]
        client_msg_id: Option<String>,
    },
    Ping,
}

/// A frame the server sends.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(tag = "type", rename_all = "snake_case")]
pub enum ServerFrame {
    /// The chat message is stored and queued.
    Accepted {
        request_id: Uuid,
        conversation_id: i64,
        #[serde(default, skip_serializing_if = "Option::is_none")]
        client_msg_id: Option<String>,
    },
    /// Following a request again; its remaining events follow.
    Resumed {
        request_id: Uuid,
        conversation_id: i64,
        status: TurnStatus,
        #[serde(default, skip_serializing_if = "Option::is_none")]
        client_msg_id: Option<String>,
    },
    /// The stop was recorded; the request ends with a `cancelled` event.
    CancelRequested {
        request_id: Uuid,
        #[serde(default, skip_serializing_if = "Option::is_none")]
        client_msg_id: Option<String>,
    },
    Delta {
        request_id: Uuid,
        text: String,
    },
    Tool {
        request_id: Uuid,
        tool: String,
        arguments: serde_json::Value,
        result: serde_json::Value,
    },
    /// Discard what was shown for the request so far: it runs again.
    Reset {
        request_id: Uuid,
        reason: String,
    },
    Done {
        request_id: Uuid,
        conversation_id: i64,
        response: String,
        tool_calls: Vec<ToolCall>,
    },
    /// The request was stopped; `response` is the partial reply, `tool_calls` what was applied.
    Cancelled {
        request_id: Uuid,
        conversation_id: i64,
        response: String,
        tool_calls: Vec<ToolCall>,
    },
    Error {
        #[serde(default)]
        request_id: Option<Uuid>,
        code: String,
        message: String,
        #[serde(default, skip_serializing_if = "Option::is_none")]
        client_msg_id: Option<String>,
    },
    /// Some of the user's tasks changed (on any device, through any front end).
    TasksChanged {
        tasks: Vec<TaskView>,
        deleted: Vec<i32>,
    },
    Pong,
}

impl ServerFrame {
    /// An `error` frame.
    pub fn error(
        request_id: Option<Uuid>,
        client_msg_id: Option<&str>,
        code: &str,
        message: impl Into<String>,
    ) -> Self {
        Self::Error {
            request_id,
            code: code.to_owned(),
            message: message.into(),
            client_msg_id: client_msg_id.map(str::to_owned),
        }
    }

    /// The request a frame belongs to, if any.
    pub fn request_id(&self) -> Option<Uuid> {
        match self {
            Self::Accepted { request_id, .. }
            | Self::Resumed { request_id, .. }
            | Self::CancelRequested { request_id, .. }
            | Self::Delta { request_id, .. }
            | Self::Tool { request_id, .. }
            | Self::Reset { request_id, .. }
            | Self::Done { request_id, .. }
            | Self::Cancelled { request_id, .. } => Some(*request_id),
            Self::Error { request_id, .. } => *request_id,
            Self::TasksChanged { .. } | Self::Pong => None,
        }
    }

    /// `done`, `cancelled` and request errors end a request.
    pub fn is_terminal(&self) -> bool {
        matches!(
            self,
            Self::Done { .. } | Self::Cancelled { .. } | Self::Error { .. }
        )
    }

    /// The frame of a reply event (the api relays events as they are; this is their typed form).
    pub fn from_event(event: ChatEvent) -> Self {
        let request_id = event.request_id;
        match event.body {
            EventBody::Delta { text } => Self::Delta { request_id, text },
            EventBody::Tool {
                tool,
                arguments,
                result,
            } => Self::Tool {
                request_id,
                tool,
                arguments,
                result,
            },
            EventBody::Reset { reason } => Self::Reset { request_id, reason },
            EventBody::Done {
                conversation_id,
                response,
                tool_calls,
            } => Self::Done {
                request_id,
                conversation_id,
                response,
                tool_calls,
            },
            EventBody::Cancelled {
                conversation_id,
                response,
                tool_calls,
            } => Self::Cancelled {
                request_id,
                conversation_id,
                response,
                tool_calls,
            },
            EventBody::Error { code, message } => Self::Error {
                request_id: Some(request_id),
                code,
                message,
                client_msg_id: None,
            },
        }
    }

    /// The frame as JSON text.
    pub fn to_json(&self) -> String {
        serde_json::to_string(self).unwrap_or_else(|_| {
            r#"{"type":"error","request_id":null,"code":"internal_error","message":"a frame could not be encoded"}"#.to_owned()
        })
    }
}

/// Published on `<prefix>.changes.<user_id>` (core NATS) after a change to a user's tasks commits,
/// by whichever process made it (REST and MCP in the api, chat tools in a worker).
#[derive(Debug, Clone, PartialEq, Eq, Default, Serialize, Deserialize)]
pub struct TasksChangedNotice {
    pub v: u32,
    pub user_id: Uuid,
    /// Tasks created or changed (each api instance loads them in the user's clock).
    pub changed: Vec<i32>,
    pub deleted: Vec<i32>,
}

impl TasksChangedNotice {
    pub fn new(user_id: Uuid) -> Self {
        Self {
            v: crate::schema::SCHEMA_VERSION,
            user_id,
            ..Self::default()
        }
    }

    pub fn is_empty(&self) -> bool {
        self.changed.is_empty() && self.deleted.is_empty()
    }

    /// Adds what one tool result changed.
    pub fn add_tool_result(&mut self, result: &crate::tools::ToolOutput) {
        use crate::tools::{BulkAction, ToolOutput};
        match result {
            ToolOutput::Created(o)
            | ToolOutput::Updated(o)
            | ToolOutput::Completed(o)
            | ToolOutput::Reopened(o) => self.changed.push(o.task.task_id),
            ToolOutput::Deleted(o) => self.deleted.push(o.task.task_id),
            ToolOutput::Bulk { action, tasks, .. } => {
                let ids = tasks.iter().map(|t| t.task_id);
                if *action == BulkAction::Delete {
                    self.deleted.extend(ids);
                } else {
                    self.changed.extend(ids);
                }
            }
            ToolOutput::Undone { reverted } => {
                for change in reverted {
                    if change.task.is_some() {
                        self.changed.push(change.task_id);
                    } else {
                        self.deleted.push(change.task_id);
                    }
                }
            }
            ToolOutput::Listed { .. }
            | ToolOutput::ConfirmationRequired { .. }
            | ToolOutput::Declined { .. }
            | ToolOutput::NothingToUndo {}
            | ToolOutput::Error { .. } => {}
        }
    }

    /// Publishes the notice (nothing when empty). Best effort: a lost notice costs a stale pane
    /// until the next change or reload, never data.
    pub async fn publish(&self, nats: &async_nats::Client, prefix: &str) {
        if self.is_empty() {
            return;
        }
        let Ok(payload) = serde_json::to_vec(self) else {
            return;
        };
        let subject = changes_subject(prefix, self.user_id);
        if let Err(e) = nats.publish(subject, payload.into()).await {
            tracing::warn!(error = %e, "could not publish a task change notice");
        }
    }
}

/// Subject of one user's task change notices.
pub fn changes_subject(prefix: &str, user_id: Uuid) -> String {
    format!("{prefix}.changes.{user_id}")
}

/// Subject that tells the workers to stop one request.
pub fn cancel_subject(prefix: &str, request_id: Uuid) -> String {
    format!("{prefix}.cancel.{request_id}")
}

#[cfg(test)]
mod tests {
    use super::*;

    /// Every JSON example in docs/PROTOCOL.md parses as a client or a server frame.
    #[test]
    fn every_example_in_the_protocol_document_parses() {
        let doc = include_str!("../../docs/PROTOCOL.md");
        let mut blocks = 0;
        let mut frames = 0;
        let mut in_json = false;
        for line in doc.lines() {
            if line.trim_start().starts_with("```json") {
                in_json = true;
                blocks += 1;
                continue;
            }
            if line.trim_start().starts_with("```") {
                in_json = false;
                continue;
            }
            if !in_json || line.trim().is_empty() {
                continue;
            }
            let value: serde_json::Value = serde_json::from_str(line)
                .unwrap_or_else(|e| panic!("not JSON in PROTOCOL.md: {line}: {e}"));
            let client = serde_json::from_value::<ClientFrame>(value.clone());
            let server = serde_json::from_value::<ServerFrame>(value);
            assert!(
                client.is_ok() || server.is_ok(),
                "neither a client nor a server frame: {line}\n{client:?}\n{server:?}"
            );
            frames += 1;
        }
        assert!(
            blocks >= 5 && frames >= 12,
            "{blocks} blocks, {frames} frames"
        );
    }

    #[test]
    fn events_become_the_frames_clients_read() {
        let id = Uuid::new_v4();
        let event = ChatEvent::new(
            id,
            EventBody::Cancelled {
                conversation_id: 3,
                response: "Sure, I".into(),
                tool_calls: vec![],
            },
        );
        // The api relays the event's own JSON: it must read as the same frame.
        let relayed: ServerFrame =
            serde_json::from_str(&serde_json::to_string(&event).expect("ser")).expect("de");
        assert_eq!(relayed, ServerFrame::from_event(event));
        assert!(relayed.is_terminal());
        assert_eq!(relayed.request_id(), Some(id));
    }

    #[test]
    fn client_frames_are_tagged_by_type() {
        let frame: ClientFrame = serde_json::from_str(
            r#"{"type":"cancel","request_id":"6f1c2a8e-1d2b-4c1e-9a57-0b8e4f3d2a10"}"#,
        )
        .expect("cancel");
        assert!(matches!(frame, ClientFrame::Cancel { .. }));
        assert!(serde_json::from_str::<ClientFrame>(r#"{"type":"dance"}"#).is_err());
        let ping = serde_json::to_string(&ClientFrame::Ping).expect("ser");
        assert_eq!(ping, r#"{"type":"ping"}"#);
    }
}
