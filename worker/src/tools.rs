//! The agent's tools and their exactly-once executor.
//!
//! Tools act only for the turn's user: the user id comes from the request, never from tool
//! arguments (extra arguments such as a `user_id` a model invents are ignored). A missing task and
//! another user's task give the same `TASK_NOT_FOUND` result. Bad arguments give an
//! `INVALID_ARGUMENTS` result the agent can recover from.
//!
//! Every call is recorded in `tool_effects` under (request id, call index) in the same transaction
//! as its effect; when a redelivered turn makes the same call again, the recorded result is
//! replayed instead of running the effect twice.

use serde::Deserialize;
use serde_json::{Value, json};
use sqlx::{PgConnection, PgPool};
use todo_common::chat::{self, RecordedEffect};
use todo_common::schema::ToolCall;
use todo_common::tasks::{
    self, StatusFilter, Task, TaskChanges, validate_description, validate_title,
};
use uuid::Uuid;

pub const ADD_TASK: &str = "add_task";
pub const LIST_TASKS: &str = "list_tasks";
pub const COMPLETE_TASK: &str = "complete_task";
pub const UPDATE_TASK: &str = "update_task";
pub const DELETE_TASK: &str = "delete_task";

/// JSON-schema definitions of the tools, in OpenAI's `tools` format.
pub fn definitions() -> Value {
    let task_id = json!({"type": "integer", "minimum": 1, "description": "The task's number as shown to the user (1, 2, 3 ...)"});
    json!([
        {"type": "function", "function": {
            "name": ADD_TASK,
            "description": "Create a new task for the user.",
            "parameters": {"type": "object", "properties": {
                "title": {"type": "string", "description": "Short title, 1-200 characters"},
                "description": {"type": "string", "description": "Optional details, at most 1000 characters"}
            }, "required": ["title"], "additionalProperties": false}
        }},
        {"type": "function", "function": {
            "name": LIST_TASKS,
            "description": "List the user's tasks, newest first.",
            "parameters": {"type": "object", "properties": {
                "status": {"type": "string", "enum": ["all", "pending", "completed"], "description": "Which tasks (default all)"}
            }, "additionalProperties": false}
        }},
        {"type": "function", "function": {
            "name": COMPLETE_TASK,
            "description": "Mark one of the user's tasks as completed.",
            "parameters": {"type": "object", "properties": {"task_id": task_id}, "required": ["task_id"], "additionalProperties": false}
        }},
        {"type": "function", "function": {
            "name": UPDATE_TASK,
            "description": "Change the title and/or description of one of the user's tasks.",
            "parameters": {"type": "object", "properties": {
                "task_id": task_id,
                "title": {"type": "string", "description": "New title"},
                "description": {"type": "string", "description": "New description"}
            }, "required": ["task_id"], "additionalProperties": false}
        }},
        {"type": "function", "function": {
            "name": DELETE_TASK,
            "description": "Delete one of the user's tasks.",
            "parameters": {"type": "object", "properties": {"task_id": task_id}, "required": ["task_id"], "additionalProperties": false}
        }}
    ])
}

fn tool_error(code: &str, message: impl Into<String>) -> Value {
    json!({"error": {"code": code, "message": message.into()}})
}

fn not_found(id: i32) -> Value {
    tool_error("TASK_NOT_FOUND", format!("task {id} was not found"))
}

fn task_json(task: &Task) -> Value {
    json!({"task_id": task.id, "title": task.title, "description": task.description, "completed": task.completed})
}

/// A task id given as a number or a numeric string.
#[derive(Debug, Clone, Copy)]
struct TaskId(i32);

impl<'de> Deserialize<'de> for TaskId {
    fn deserialize<D: serde::Deserializer<'de>>(de: D) -> Result<Self, D::Error> {
        let v = Value::deserialize(de)?;
        let n = match &v {
            Value::Number(n) => n.as_i64(),
            Value::String(s) => s.trim().trim_start_matches('#').parse::<i64>().ok(),
            _ => None,
        };
        n.and_then(|n| i32::try_from(n).ok())
            .filter(|n| *n > 0)
            .map(TaskId)
            .ok_or_else(|| serde::de::Error::custom("task_id must be a positive integer"))
    }
}

#[derive(Deserialize)]
struct AddArgs {
    title: String,
    description: Option<String>,
}

#[derive(Deserialize)]
struct ListArgs {
    status: Option<String>,
}

#[derive(Deserialize)]
struct IdArgs {
    task_id: TaskId,
}

#[derive(Deserialize)]
struct UpdateArgs {
    task_id: TaskId,
    title: Option<String>,
    description: Option<String>,
}

fn parse<T: serde::de::DeserializeOwned>(arguments: &Value) -> Result<T, Value> {
    let arguments = if arguments.is_null() {
        json!({})
    } else {
        arguments.clone()
    };
    serde_json::from_value(arguments)
        .map_err(|e| tool_error("INVALID_ARGUMENTS", format!("invalid arguments: {e}")))
}

/// Runs one tool call against the user's tasks. Returns the result value (an `{"error": …}` object
/// for refusals) or a database error (the turn is then retried).
pub async fn execute(
    conn: &mut PgConnection,
    user_id: Uuid,
    tool: &str,
    arguments: &Value,
) -> sqlx::Result<Value> {
    let outcome = match tool {
        ADD_TASK => match parse::<AddArgs>(arguments) {
            Err(e) => e,
            Ok(args) => match (
                validate_title(&args.title),
                validate_description(args.description.as_deref()),
            ) {
                (Err(e), _) | (_, Err(e)) => tool_error("VALIDATION_ERROR", e.message),
                (Ok(title), Ok(description)) => {
                    match tasks::create(conn, user_id, &title, description.as_deref()).await? {
                        Some(task) => {
                            let mut v = task_json(&task);
                            v["status"] = json!("created");
                            v
                        }
                        None => tool_error("USER_NOT_FOUND", "the user no longer exists"),
                    }
                }
            },
        },
        LIST_TASKS => match parse::<ListArgs>(arguments) {
            Err(e) => e,
            Ok(args) => match args
                .status
                .as_deref()
                .map_or(Some(StatusFilter::All), StatusFilter::parse)
            {
                None => tool_error(
                    "INVALID_ARGUMENTS",
                    "status must be one of all, pending, completed",
                ),
                Some(filter) => {
                    let list = tasks::list(conn, user_id, filter).await?;
                    json!({
                        "status": filter,
                        "count": list.len(),
                        "tasks": list.iter().map(task_json).collect::<Vec<_>>(),
                    })
                }
            },
        },
        COMPLETE_TASK => match parse::<IdArgs>(arguments) {
            Err(e) => e,
            Ok(IdArgs {
                task_id: TaskId(id),
            }) => {
                let before = tasks::get(conn, user_id, id).await?;
                match before {
                    None => not_found(id),
                    Some(before) => {
                        let changes = TaskChanges {
                            completed: Some(true),
                            ..TaskChanges::default()
                        };
                        match tasks::update(conn, user_id, id, &changes).await? {
                            None => not_found(id),
                            Some(task) => {
                                let mut v = task_json(&task);
                                v["status"] = json!("completed");
                                v["already_completed"] = json!(before.completed);
                                v
                            }
                        }
                    }
                }
            }
        },
        UPDATE_TASK => match parse::<UpdateArgs>(arguments) {
            Err(e) => e,
            Ok(args) => {
                let title = args.title.as_deref().map(validate_title).transpose();
                let description = args
                    .description
                    .as_deref()
                    .map(|d| validate_description(Some(d)))
                    .transpose();
                match (title, description) {
                    (Err(e), _) | (_, Err(e)) => tool_error("VALIDATION_ERROR", e.message),
                    (Ok(None), Ok(None)) => {
                        tool_error("INVALID_ARGUMENTS", "give a new title and/or description")
                    }
                    (Ok(title), Ok(description)) => {
                        let changes = TaskChanges {
                            title,
                            description,
                            completed: None,
                        };
                        match tasks::update(conn, user_id, args.task_id.0, &changes).await? {
                            None => not_found(args.task_id.0),
                            Some(task) => {
                                let mut v = task_json(&task);
                                v["status"] = json!("updated");
                                v
                            }
                        }
                    }
                }
            }
        },
        DELETE_TASK => match parse::<IdArgs>(arguments) {
            Err(e) => e,
            Ok(IdArgs {
                task_id: TaskId(id),
            }) => match tasks::delete(conn, user_id, id).await? {
                None => not_found(id),
                Some(task) => {
                    let mut v = task_json(&task);
                    v["status"] = json!("deleted");
                    v
                }
            },
        },
        other => tool_error("UNKNOWN_TOOL", format!("there is no tool named `{other}`")),
    };
    Ok(outcome)
}

/// Runs a turn's tool calls exactly once across redeliveries.
pub struct ToolExecutor {
    db: PgPool,
    user_id: Uuid,
    request_id: Uuid,
    /// Effects recorded by earlier attempts of this turn, in call order.
    recorded: Vec<RecordedEffect>,
    cursor: usize,
    next_index: i32,
    calls: Vec<ToolCall>,
}

impl ToolExecutor {
    /// Loads what earlier attempts recorded; a first attempt (`attempt == 1`) has nothing to load.
    pub async fn load(
        db: PgPool,
        user_id: Uuid,
        request_id: Uuid,
        attempt: i32,
    ) -> sqlx::Result<Self> {
        let recorded = if attempt <= 1 {
            Vec::new()
        } else {
            chat::recorded_effects(&db, request_id).await?
        };
        let next_index = recorded.last().map_or(0, |r| r.call_index + 1);
        Ok(Self {
            db,
            user_id,
            request_id,
            recorded,
            cursor: 0,
            next_index,
            calls: Vec::new(),
        })
    }

    /// Calls a tool, or replays its result when an earlier attempt of this turn already made the same call.
    pub async fn call(&mut self, tool: &str, arguments: Value) -> sqlx::Result<ToolCall> {
        if let Some(previous) = self.recorded.get(self.cursor)
            && previous.tool == tool
            && previous.arguments.0 == arguments
        {
            self.cursor += 1;
            let call = ToolCall {
                tool: tool.to_owned(),
                arguments,
                result: previous.result.0.clone(),
            };
            tracing::info!(tool, "replayed recorded tool effect");
            metrics::counter!("todo_tool_calls_total", "tool" => tool.to_owned(), "outcome" => "replayed")
                .increment(1);
            self.calls.push(call.clone());
            return Ok(call);
        }
        // The agent diverged from the recorded attempt: new calls get fresh indices.
        self.cursor = self.recorded.len();
        let mut tx = self.db.begin().await?;
        let result = execute(&mut tx, self.user_id, tool, &arguments).await?;
        chat::record_effect(
            &mut tx,
            self.request_id,
            self.next_index,
            tool,
            &arguments,
            &result,
        )
        .await?;
        tx.commit().await?;
        self.next_index += 1;
        let outcome = if result.get("error").is_some() {
            "error"
        } else {
            "ok"
        };
        tracing::info!(tool, outcome, "tool call");
        metrics::counter!("todo_tool_calls_total", "tool" => tool.to_owned(), "outcome" => outcome)
            .increment(1);
        let call = ToolCall {
            tool: tool.to_owned(),
            arguments,
            result,
        };
        self.calls.push(call.clone());
        Ok(call)
    }

    pub fn into_calls(self) -> Vec<ToolCall> {
        self.calls
    }
}
