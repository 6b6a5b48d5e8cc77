//! The task tools every agent front end calls: one args type per tool (its JSON schema derived
//! with `schemars`, which is what a model is shown), one function per tool (in [`run`]), and typed
//! results ([`ToolOutput`]) serialized for clients and models alike.
//!
//! Tools act only for the caller's user: the user id comes from the [`ToolContext`], never from
//! arguments (extra arguments a model invents, such as a `user_id`, are ignored). Another user's
//! task and a missing task give the same `TASK_NOT_FOUND` error.
//!
//! A change to more than one task (bulk complete, delete or update) is not made at once: the tool
//! stores it as the conversation's pending action and answers `confirmation_required`; only the
//! conversation's next turn can carry it out, with `confirm_action`.

pub mod run;

use std::borrow::Cow;

use chrono::{DateTime, Utc};
use schemars::{JsonSchema, Schema, SchemaGenerator, json_schema};
use serde::{Deserialize, Deserializer, Serialize};
use serde_json::{Value, json};
use uuid::Uuid;

use crate::tasks::{DueFilter, Priority, Sort, StatusFilter, Task};
use crate::when::{self, Clock};

pub use run::{add_tasks, run};

/// A task number as the user sees it; a model may send it as a number or a string ("3", "#3").
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize)]
#[serde(transparent)]
pub struct TaskId(pub i32);

impl<'de> Deserialize<'de> for TaskId {
    fn deserialize<D: Deserializer<'de>>(de: D) -> Result<Self, D::Error> {
        let v = Value::deserialize(de)?;
        let n = match &v {
            Value::Number(n) => n.as_i64(),
            Value::String(s) => s.trim().trim_start_matches('#').parse::<i64>().ok(),
            _ => None,
        };
        n.and_then(|n| i32::try_from(n).ok())
            .filter(|n| *n > 0)
            .map(TaskId)
            .ok_or_else(|| serde::de::Error::custom("a task id is a positive integer"))
    }
}

impl JsonSchema for TaskId {
    fn schema_name() -> Cow<'static, str> {
        "TaskId".into()
    }

    fn inline_schema() -> bool {
        true
    }

    fn json_schema(_: &mut SchemaGenerator) -> Schema {
        json_schema!({
            "type": "integer",
            "minimum": 1,
            "description": "The task's number as shown to the user (1, 2, 3 ...)"
        })
    }
}

/// Distinguishes an absent field (`None`) from an explicit `null` (`Some(None)`: clear it). Used
/// with `#[serde(default, deserialize_with = "double_option")]` by the tools and the REST bodies.
pub fn double_option<'de, D, T>(de: D) -> Result<Option<Option<T>>, D::Error>
where
    D: Deserializer<'de>,
    T: Deserialize<'de>,
{
    Option::<T>::deserialize(de).map(Some)
}

#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize, JsonSchema)]
pub struct AddTaskArgs {
    /// Short title, 1-200 characters, without the date, priority or tags.
    pub title: String,
    /// Optional details, at most 1000 characters.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub description: Option<String>,
    /// When it is due: an ISO date (2026-12-05, all-day), an ISO date and time (2026-12-05T17:00,
    /// in the user's timezone), or a phrase such as "tomorrow", "next friday 5pm", "in 3 days".
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub due: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub priority: Option<Priority>,
    /// Tags without '#': lower-case letters, digits, '-' and '_', at most 10.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub tags: Option<Vec<String>>,
    /// How it repeats: RRULE text (FREQ=WEEKLY;BYDAY=MO, FREQ=MONTHLY;BYDAY=-1FR) or a phrase
    /// ("every monday", "every 2 weeks", "every month on the 1st", "every weekday at 9am", "the
    /// last friday of every month").
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub repeat: Option<String>,
}

#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize, JsonSchema)]
pub struct ListTasksArgs {
    /// Which tasks (default all).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub status: Option<StatusFilter>,
    /// By due date: overdue, today, tomorrow, week (today to Sunday) or none (no due date).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub due: Option<DueFilter>,
    /// Only tasks due on or after this day (YYYY-MM-DD, or a phrase like "next monday"), in the
    /// user's timezone.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub due_from: Option<String>,
    /// Only tasks due on or before this day (YYYY-MM-DD, or a phrase like "friday"), in the user's
    /// timezone. With due_from the same day: the tasks due that day.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub due_to: Option<String>,
    /// Only tasks completed on or after this day (YYYY-MM-DD, or "today", "yesterday"), in the
    /// user's timezone: "what did I finish this week?".
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub completed_from: Option<String>,
    /// Only tasks completed on or before this day (YYYY-MM-DD, or "today", "yesterday"), in the
    /// user's timezone. With completed_from the same day: the tasks completed that day.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub completed_to: Option<String>,
    /// Only tasks of at least this priority.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub priority: Option<Priority>,
    /// Only tasks of exactly this priority (none, low, medium or high): "my low priority tasks".
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub priority_is: Option<Priority>,
    /// Only tasks of at most this priority: "what's not urgent?" is at most medium.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub priority_at_most: Option<Priority>,
    /// Only tasks with this tag.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub tag: Option<String>,
    /// Only tasks with at least one of these tags: "tasks tagged home or work".
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub any_tags: Option<Vec<String>>,
    /// Leave out tasks with any of these tags: "everything except work tasks".
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub not_tags: Option<Vec<String>>,
    /// true: only repeating tasks ("what's recurring?"); false: only one-off tasks.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub repeating: Option<bool>,
    /// true: only tasks with at least one tag; false: only tasks with no tag ("untagged tasks").
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub tagged: Option<bool>,
    /// Text to find in titles and descriptions (case-insensitive).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub query: Option<String>,
    /// created (newest first, the default), oldest (oldest first), due (soonest first) or
    /// priority (highest first).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub sort: Option<Sort>,
    /// At most this many tasks (1-200, default 100).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub limit: Option<u32>,
}

#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize, JsonSchema)]
pub struct CompleteTaskArgs {
    /// The task to complete.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub task_id: Option<TaskId>,
    /// Several tasks at once (the user is asked to confirm first).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub task_ids: Option<Vec<TaskId>>,
    /// true re-opens completed tasks instead.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub undo: Option<bool>,
}

#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize, JsonSchema)]
pub struct UpdateTaskArgs {
    /// The task to change.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub task_id: Option<TaskId>,
    /// Several tasks at once, e.g. to reschedule them (the user is asked to confirm first).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub task_ids: Option<Vec<TaskId>>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub title: Option<String>,
    /// New description; null clears it.
    #[serde(
        default,
        deserialize_with = "double_option",
        skip_serializing_if = "Option::is_none"
    )]
    pub description: Option<Option<String>>,
    /// New due date (as for add_task); null clears it. A date without a time keeps the task's
    /// time of day.
    #[serde(
        default,
        deserialize_with = "double_option",
        skip_serializing_if = "Option::is_none"
    )]
    pub due: Option<Option<String>>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub priority: Option<Priority>,
    /// Replaces the task's tags.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub tags: Option<Vec<String>>,
    /// New repeat (as for add_task); null stops it repeating.
    #[serde(
        default,
        deserialize_with = "double_option",
        skip_serializing_if = "Option::is_none"
    )]
    pub repeat: Option<Option<String>>,
}

#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize, JsonSchema)]
pub struct DeleteTaskArgs {
    /// The task to delete.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub task_id: Option<TaskId>,
    /// Several tasks at once (the user is asked to confirm first).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub task_ids: Option<Vec<TaskId>>,
}

#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize, JsonSchema)]
pub struct UndoArgs {}

#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize, JsonSchema)]
pub struct ConfirmActionArgs {
    /// true when the user said yes to the pending change, false when they said no.
    pub approve: bool,
}

/// One tool call, typed.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(tag = "tool", content = "arguments", rename_all = "snake_case")]
pub enum Tool {
    AddTask(AddTaskArgs),
    ListTasks(ListTasksArgs),
    CompleteTask(CompleteTaskArgs),
    UpdateTask(UpdateTaskArgs),
    DeleteTask(DeleteTaskArgs),
    Undo(UndoArgs),
    ConfirmAction(ConfirmActionArgs),
}

/// Every tool's name, for closed-set metric labels and definitions.
pub const TOOL_NAMES: [&str; 7] = [
    "add_task",
    "list_tasks",
    "complete_task",
    "update_task",
    "delete_task",
    "undo",
    "confirm_action",
];

impl Tool {
    pub fn name(&self) -> &'static str {
        match self {
            Self::AddTask(_) => "add_task",
            Self::ListTasks(_) => "list_tasks",
            Self::CompleteTask(_) => "complete_task",
            Self::UpdateTask(_) => "update_task",
            Self::DeleteTask(_) => "delete_task",
            Self::Undo(_) => "undo",
            Self::ConfirmAction(_) => "confirm_action",
        }
    }

    /// The arguments as JSON (absent fields omitted).
    pub fn arguments(&self) -> Value {
        serde_json::to_value(self)
            .ok()
            .and_then(|mut v| v.get_mut("arguments").map(Value::take))
            .unwrap_or_else(|| json!({}))
    }

    /// A call as a model (or any client) names it.
    pub fn from_call(name: &str, arguments: &Value) -> Result<Self, ToolError> {
        if !TOOL_NAMES.contains(&name) {
            return Err(ToolError::new(
                "UNKNOWN_TOOL",
                format!("there is no tool named `{name}`"),
            ));
        }
        let arguments = if arguments.is_null() {
            json!({})
        } else {
            arguments.clone()
        };
        serde_json::from_value(json!({"tool": name, "arguments": arguments}))
            .map_err(|e| ToolError::new("INVALID_ARGUMENTS", format!("invalid arguments: {e}")))
    }

    /// Whether the tool only reads.
    pub fn is_read_only(name: &str) -> bool {
        name == "list_tasks"
    }
}

/// A tool as a model or an MCP client is shown it.
#[derive(Debug, Clone, Serialize)]
pub struct ToolDefinition {
    pub name: &'static str,
    pub description: &'static str,
    /// JSON schema of the arguments (an object).
    pub parameters: Value,
    pub read_only: bool,
    pub destructive: bool,
    pub idempotent: bool,
}

fn schema_of<T: JsonSchema>() -> Value {
    let mut settings = schemars::generate::SchemaSettings::draft07();
    settings.inline_subschemas = true;
    let schema = settings.into_generator().into_root_schema_for::<T>();
    let mut value = serde_json::to_value(schema).unwrap_or_else(|_| json!({"type": "object"}));
    if let Some(object) = value.as_object_mut() {
        object.remove("$schema");
        object.remove("title");
        object.entry("properties").or_insert_with(|| json!({}));
    }
    value
}

/// Every tool with its description and argument schema (derived from the args types).
pub fn definitions() -> Vec<ToolDefinition> {
    vec![
        ToolDefinition {
            name: "add_task",
            description: "Create a task for the user, with an optional due date, priority, tags and repeat.",
            parameters: schema_of::<AddTaskArgs>(),
            read_only: false,
            destructive: false,
            idempotent: false,
        },
        ToolDefinition {
            name: "list_tasks",
            description: "List or search the user's tasks, with filters (status, due, priority, tag, text) and an order.",
            parameters: schema_of::<ListTasksArgs>(),
            read_only: true,
            destructive: false,
            idempotent: true,
        },
        ToolDefinition {
            name: "complete_task",
            description: "Mark tasks as done (a repeating task moves to its next date), or re-open them with undo=true. More than one task asks the user to confirm first.",
            parameters: schema_of::<CompleteTaskArgs>(),
            read_only: false,
            destructive: false,
            idempotent: true,
        },
        ToolDefinition {
            name: "update_task",
            description: "Change a task's title, description, due date (reschedule), priority, tags or repeat. More than one task asks the user to confirm first.",
            parameters: schema_of::<UpdateTaskArgs>(),
            read_only: false,
            destructive: false,
            idempotent: true,
        },
        ToolDefinition {
            name: "delete_task",
            description: "Delete tasks. More than one task asks the user to confirm first.",
            parameters: schema_of::<DeleteTaskArgs>(),
            read_only: false,
            destructive: true,
            idempotent: true,
        },
        ToolDefinition {
            name: "undo",
            description: "Revert the task changes made by this conversation's last turn that changed tasks.",
            parameters: schema_of::<UndoArgs>(),
            read_only: false,
            destructive: true,
            idempotent: false,
        },
        ToolDefinition {
            name: "confirm_action",
            description: "Carry out (approve=true) or drop (approve=false) the change to several tasks that the previous turn asked the user to confirm. Call it only after the user answered.",
            parameters: schema_of::<ConfirmActionArgs>(),
            read_only: false,
            destructive: true,
            idempotent: false,
        },
    ]
}

/// The definitions in OpenAI's `tools` format.
pub fn openai_tools() -> Value {
    Value::Array(
        definitions()
            .into_iter()
            .map(|d| {
                json!({"type": "function", "function": {
                    "name": d.name,
                    "description": d.description,
                    "parameters": d.parameters,
                }})
            })
            .collect(),
    )
}

/// A refusal the agent can recover from (bad arguments, unknown task …).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, thiserror::Error)]
#[error("{code}: {message}")]
pub struct ToolError {
    /// `INVALID_ARGUMENTS`, `VALIDATION_ERROR`, `TASK_NOT_FOUND`, `UNKNOWN_TOOL`,
    /// `NO_PENDING_ACTION`, `NOT_AVAILABLE`, `USER_NOT_FOUND`.
    pub code: String,
    pub message: String,
}

impl ToolError {
    pub fn new(code: &str, message: impl Into<String>) -> Self {
        Self {
            code: code.to_owned(),
            message: message.into(),
        }
    }

    pub fn not_found(id: i32) -> Self {
        Self::new("TASK_NOT_FOUND", format!("task {id} was not found"))
    }
}

impl From<crate::tasks::ValidationError> for ToolError {
    fn from(e: crate::tasks::ValidationError) -> Self {
        Self::new("VALIDATION_ERROR", format!("{}: {}", e.field, e.message))
    }
}

/// A task in a tool result: what a model or a chat client needs, in the user's timezone.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct ToolTask {
    pub task_id: i32,
    pub title: String,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub description: Option<String>,
    pub completed: bool,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub due_at: Option<DateTime<Utc>>,
    /// "Fri 5 Dec, 17:00" in the user's timezone.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub due_text: Option<String>,
    #[serde(default)]
    pub due_has_time: bool,
    #[serde(default)]
    pub priority: Priority,
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub tags: Vec<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub repeat: Option<String>,
    /// "every Monday".
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub repeat_text: Option<String>,
    #[serde(default)]
    pub overdue: bool,
}

impl ToolTask {
    pub fn new(task: &Task, clock: &Clock) -> Self {
        Self {
            task_id: task.id,
            title: task.title.clone(),
            description: task.description.clone(),
            completed: task.completed,
            due_at: task.due_at,
            due_text: task
                .due_at
                .map(|at| when::format_due(at, task.due_has_time, clock)),
            due_has_time: task.due_has_time,
            priority: task.priority,
            tags: task.tags.clone(),
            repeat: task.repeat.clone(),
            repeat_text: task.repeat_rule().map(|r| r.describe()),
            overdue: task.is_overdue(clock),
        }
    }
}

fn is_false(b: &bool) -> bool {
    !b
}

/// One task a tool acted on.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct TaskOutcome {
    #[serde(flatten)]
    pub task: ToolTask,
    /// complete_task: it was already completed.
    #[serde(default, skip_serializing_if = "is_false")]
    pub already_completed: bool,
    /// complete_task: a repeating task moved to its next date and stays pending.
    #[serde(default, skip_serializing_if = "is_false")]
    pub repeated: bool,
}

/// A change to several tasks (carried out, or waiting for confirmation).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum BulkAction {
    Complete,
    Reopen,
    Update,
    Delete,
}

impl BulkAction {
    pub fn verb(self) -> &'static str {
        match self {
            Self::Complete => "complete",
            Self::Reopen => "re-open",
            Self::Update => "change",
            Self::Delete => "delete",
        }
    }
}

/// What a tool call produced, tagged by `status`.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(tag = "status", rename_all = "snake_case")]
pub enum ToolOutput {
    Created(TaskOutcome),
    Updated(TaskOutcome),
    Completed(TaskOutcome),
    Reopened(TaskOutcome),
    Deleted(TaskOutcome),
    Listed {
        count: usize,
        tasks: Vec<ToolTask>,
        /// More tasks match than were returned.
        has_more: bool,
    },
    /// A change to several tasks was carried out.
    Bulk {
        action: BulkAction,
        tasks: Vec<ToolTask>,
        /// Ids that did not name a task of the user.
        #[serde(default, skip_serializing_if = "Vec::is_empty")]
        not_found: Vec<i32>,
    },
    /// A change to several tasks waits for the user's yes / no (stored with the conversation).
    ConfirmationRequired {
        action: BulkAction,
        tasks: Vec<ToolTask>,
        #[serde(default, skip_serializing_if = "Vec::is_empty")]
        not_found: Vec<i32>,
        message: String,
    },
    /// The user said no to the pending change: nothing was done.
    Declined {
        action: BulkAction,
    },
    Undone {
        reverted: Vec<UndoneChange>,
    },
    NothingToUndo {},
    Error {
        error: ToolError,
    },
}

impl ToolOutput {
    pub fn is_error(&self) -> bool {
        matches!(self, Self::Error { .. })
    }

    pub fn to_value(&self) -> Value {
        serde_json::to_value(self).unwrap_or_else(
            |e| json!({"status": "error", "error": {"code": "INTERNAL", "message": e.to_string()}}),
        )
    }

    /// Reads a recorded result back (a replayed call).
    pub fn from_value(value: &Value) -> Option<Self> {
        serde_json::from_value(value.clone()).ok()
    }
}

impl From<ToolError> for ToolOutput {
    fn from(error: ToolError) -> Self {
        Self::Error { error }
    }
}

/// One change an undo reverted.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct UndoneChange {
    pub task_id: i32,
    pub title: String,
    /// What was undone: created, updated, completed, reopened or deleted.
    pub undid: String,
    /// The task now (absent when undoing its creation deleted it).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub task: Option<ToolTask>,
}

/// A change to several tasks waiting for the user's yes / no, stored with the conversation.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct PendingAction {
    /// The turn that asked: only the next turn of the conversation can confirm it.
    pub turn: i64,
    pub request_id: Uuid,
    pub action: BulkAction,
    pub task_ids: Vec<i32>,
    /// The call to carry out (update_task's changes).
    pub tool: Tool,
}

/// Who calls a tool, for what, and when.
#[derive(Debug, Clone, Copy)]
pub struct ToolContext {
    pub user_id: Uuid,
    pub clock: Clock,
    pub source: crate::tasks::Source,
    /// The chat turn calling it (undo and confirmations need a conversation).
    pub turn: Option<TurnRef>,
    /// Tasks a user may have (`MAX_TASKS_PER_USER`).
    pub max_tasks: Option<u32>,
}

/// The chat turn a tool runs in.
#[derive(Debug, Clone, Copy)]
pub struct TurnRef {
    pub request_id: Uuid,
    pub conversation_id: i64,
    pub turn: i64,
}

impl ToolContext {
    pub fn actor(&self) -> crate::tasks::Actor {
        crate::tasks::Actor {
            source: self.source,
            request_id: self.turn.map(|t| t.request_id),
            conversation_id: self.turn.map(|t| t.conversation_id),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn calls_parse_by_name_and_ignore_extra_arguments() {
        let tool = Tool::from_call("complete_task", &json!({"task_id": "#3", "user_id": "x"}))
            .expect("valid");
        assert_eq!(
            tool,
            Tool::CompleteTask(CompleteTaskArgs {
                task_id: Some(TaskId(3)),
                ..CompleteTaskArgs::default()
            })
        );
        assert_eq!(tool.arguments(), json!({"task_id": 3}));
        assert_eq!(
            Tool::from_call("drop_tables", &json!({})).map_err(|e| e.code),
            Err("UNKNOWN_TOOL".to_owned())
        );
        assert_eq!(
            Tool::from_call("complete_task", &json!({"task_id": -1})).map_err(|e| e.code),
            Err("INVALID_ARGUMENTS".to_owned())
        );
        assert_eq!(
            Tool::from_call("add_task", &json!({"title": "x", "priority": "urgent"}))
                .map_err(|e| e.code),
            Err("INVALID_ARGUMENTS".to_owned())
        );
    }

    #[test]
    fn null_clears_and_absent_keeps() {
        let Ok(Tool::UpdateTask(args)) =
            Tool::from_call("update_task", &json!({"task_id": 1, "due": null}))
        else {
            panic!("update_task parses");
        };
        assert_eq!(args.due, Some(None));
        assert_eq!(args.description, None);
    }

    #[test]
    fn schemas_come_from_the_types() {
        let defs = definitions();
        assert_eq!(defs.len(), TOOL_NAMES.len());
        for (def, name) in defs.iter().zip(TOOL_NAMES) {
            assert_eq!(def.name, name);
            assert_eq!(def.parameters["type"], "object", "{name}");
            assert!(def.parameters.get("$schema").is_none());
        }
        let add = &defs[0].parameters;
        assert_eq!(add["required"], json!(["title"]));
        assert!(add["properties"]["due"].is_object());
        let priority = add["properties"]["priority"].to_string();
        assert!(priority.contains("high"), "{priority}");
        let complete = &defs[2].parameters;
        let task_id = complete["properties"]["task_id"]["type"].to_string();
        assert!(task_id.contains("integer"), "{task_id}");
    }

    #[test]
    fn outputs_round_trip_through_json() {
        let out = ToolOutput::Error {
            error: ToolError::not_found(9),
        };
        let v = out.to_value();
        assert_eq!(v["error"]["code"], "TASK_NOT_FOUND");
        assert_eq!(ToolOutput::from_value(&v), Some(out));
    }
}
