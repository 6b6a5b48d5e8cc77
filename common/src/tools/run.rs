//! One function per tool. Each runs on a connection the caller holds in a transaction (the chat
//! executor records the result in the same transaction, for exactly-once effects).

use chrono::{NaiveDate, TimeDelta};
use sqlx::PgConnection;
use sqlx::types::Json;

use super::{
    AddTaskArgs, BulkAction, CompleteTaskArgs, ConfirmActionArgs, DeleteTaskArgs, ListTasksArgs,
    PendingAction, TaskId, TaskOutcome, Tool, ToolContext, ToolError, ToolOutput, ToolTask,
    UndoneChange, UpdateTaskArgs,
};
use crate::tasks::{
    self, LIST_LIMIT_MAX, ListFilter, NewTask, Priority, StatusFilter, TaskChanges, store,
    validate_description, validate_tags, validate_title,
};
use crate::when::{Due, LocalDue};

type Outcome = Result<ToolOutput, ToolError>;

/// Runs one tool call. Refusals come back as [`ToolOutput::Error`]; a database error is returned
/// as such (the turn is then retried).
pub async fn run(
    conn: &mut PgConnection,
    ctx: &ToolContext,
    tool: &Tool,
) -> sqlx::Result<ToolOutput> {
    let outcome = match tool {
        Tool::AddTask(args) => add_task(conn, ctx, args).await?,
        Tool::ListTasks(args) => list_tasks(conn, ctx, args).await?,
        Tool::CompleteTask(args) => complete_task(conn, ctx, args, tool).await?,
        Tool::UpdateTask(args) => update_task(conn, ctx, args, tool).await?,
        Tool::DeleteTask(args) => delete_task(conn, ctx, args, tool).await?,
        Tool::Undo(_) => undo(conn, ctx).await?,
        Tool::ConfirmAction(args) => confirm_action(conn, ctx, args).await?,
    };
    Ok(outcome.unwrap_or_else(ToolOutput::from))
}

fn outcome(task: &tasks::Task, ctx: &ToolContext) -> TaskOutcome {
    TaskOutcome {
        task: ToolTask::new(task, &ctx.clock),
        already_completed: false,
        repeated: false,
    }
}

fn parse_due(raw: &str, ctx: &ToolContext) -> Result<Due, ToolError> {
    tasks::validate_due(raw, &ctx.clock, "due").map_err(ToolError::from)
}

async fn add_task(
    conn: &mut PgConnection,
    ctx: &ToolContext,
    args: &AddTaskArgs,
) -> sqlx::Result<Outcome> {
    let new = match new_task(args, ctx) {
        Ok(new) => new,
        Err(e) => return Ok(Err(e)),
    };
    let created = store::create(conn, ctx.user_id, &new, &ctx.actor(), ctx.max_tasks).await?;
    Ok(created_outcome(created, ctx))
}

fn created_outcome(created: tasks::Created, ctx: &ToolContext) -> Outcome {
    match created {
        tasks::Created::Task(task) => Ok(ToolOutput::Created(outcome(&task, ctx))),
        tasks::Created::LimitReached(max) => Err(ToolError::new(
            "TASK_LIMIT_REACHED",
            format!("the user already has {max} tasks, the most allowed: delete some first"),
        )),
        tasks::Created::UserMissing => Err(ToolError::new(
            "USER_NOT_FOUND",
            "the user no longer exists",
        )),
    }
}

/// Runs several `add_task` calls, of any users, with one statement ([`store::create_many`]): the
/// same outputs as [`run`] gives each in turn, in order. A lone call takes [`run`]'s statement.
pub async fn add_tasks(
    conn: &mut PgConnection,
    calls: &[(&ToolContext, &AddTaskArgs)],
) -> sqlx::Result<Vec<ToolOutput>> {
    if let [(ctx, args)] = calls {
        let outcome = add_task(conn, ctx, args).await?;
        return Ok(vec![outcome.unwrap_or_else(ToolOutput::from)]);
    }
    let checked: Vec<Result<NewTask, ToolError>> = calls
        .iter()
        .map(|(ctx, args)| new_task(args, ctx))
        .collect();
    let actors: Vec<tasks::Actor> = calls.iter().map(|(ctx, _)| ctx.actor()).collect();
    let items: Vec<store::NewTaskFor<'_>> = calls
        .iter()
        .zip(&checked)
        .zip(&actors)
        .filter_map(|(((ctx, _), new), actor)| {
            new.as_ref().ok().map(|new| store::NewTaskFor {
                user_id: ctx.user_id,
                new,
                actor,
                max_tasks: ctx.max_tasks,
            })
        })
        .collect();
    let mut created = store::create_many(conn, &items).await?.into_iter();
    Ok(calls
        .iter()
        .zip(checked)
        .map(|((ctx, _), new)| {
            // `create_many` gives one result per task it was given.
            let outcome = new.and_then(|_| {
                created_outcome(created.next().unwrap_or(tasks::Created::UserMissing), ctx)
            });
            outcome.unwrap_or_else(ToolOutput::from)
        })
        .collect())
}

fn new_task(args: &AddTaskArgs, ctx: &ToolContext) -> Result<NewTask, ToolError> {
    let title = validate_title(&args.title)?;
    let description = validate_description(args.description.as_deref())?;
    let tags = validate_tags(args.tags.as_deref().unwrap_or_default())?;
    let repeat = args
        .repeat
        .as_deref()
        .filter(|r| !r.trim().is_empty())
        .map(tasks::validate_repeat)
        .transpose()?;
    let mut due = args
        .due
        .as_deref()
        .filter(|d| !d.trim().is_empty())
        .map(|d| parse_due(d, ctx))
        .transpose()?;
    if let Some(r) = &repeat {
        due = match due {
            Some(d) => Some(tasks::due_with_repeat_time(d, r, &ctx.clock)),
            None => tasks::first_due(r, &ctx.clock),
        };
    }
    Ok(NewTask {
        title,
        description,
        due,
        priority: args.priority.unwrap_or_default(),
        tags,
        repeat: repeat.map(|r| r.repeat),
    })
}

async fn list_tasks(
    conn: &mut PgConnection,
    ctx: &ToolContext,
    args: &ListTasksArgs,
) -> sqlx::Result<Outcome> {
    let tag = match args.tag.as_deref().map(tasks::normalize_tag).transpose() {
        Ok(tag) => tag,
        Err(e) => return Ok(Err(e.into())),
    };
    let tag_list = |tags: Option<&[String]>| -> Result<Vec<String>, ToolError> {
        let tags = tags.unwrap_or_default();
        if tags.len() > tasks::TAGS_MAX {
            return Err(ToolError::new(
                "INVALID_ARGUMENTS",
                format!("at most {} tags at once", tasks::TAGS_MAX),
            ));
        }
        tags.iter()
            .map(|t| tasks::normalize_tag(t).map_err(ToolError::from))
            .collect()
    };
    let (any_tags, not_tags) = match (
        tag_list(args.any_tags.as_deref()),
        tag_list(args.not_tags.as_deref()),
    ) {
        (Ok(any), Ok(not)) => (any, not),
        (Err(e), _) | (_, Err(e)) => return Ok(Err(e)),
    };
    let day = |field: &str, text: Option<&str>| -> Result<Option<NaiveDate>, ToolError> {
        text.map(|t| {
            crate::when::parse_due(t, &ctx.clock)
                .map(|due| due.local_date(ctx.clock.tz))
                .map_err(|e| ToolError::new("INVALID_ARGUMENTS", format!("{field}: {e}")))
        })
        .transpose()
    };
    // Whole days, as the store's exclusive bounds (instants are microseconds): after the instant
    // before the first day starts, before the day after the last one starts.
    let span = |from_field: &str, from, to_field: &str, to| match (
        day(from_field, from),
        day(to_field, to),
    ) {
        (Ok(Some(from)), Ok(Some(to))) if from > to => Err(ToolError::new(
            "INVALID_ARGUMENTS",
            format!("{from_field} ({from}) is after {to_field} ({to})"),
        )),
        (Ok(from), Ok(to)) => Ok((
            from.map(|d: NaiveDate| ctx.clock.start_of(d) - TimeDelta::microseconds(1)),
            to.and_then(|d: NaiveDate| d.succ_opt())
                .map(|d| ctx.clock.start_of(d)),
        )),
        (Err(e), _) | (_, Err(e)) => Err(e),
    };
    let bounds = span(
        "due_from",
        args.due_from.as_deref(),
        "due_to",
        args.due_to.as_deref(),
    )
    .and_then(|due| {
        let completed = span(
            "completed_from",
            args.completed_from.as_deref(),
            "completed_to",
            args.completed_to.as_deref(),
        )?;
        Ok((due, completed))
    });
    let ((due_after, due_before), (completed_after, completed_before)) = match bounds {
        Ok(bounds) => bounds,
        Err(e) => return Ok(Err(e)),
    };
    let limit = args.limit.unwrap_or(tasks::LIST_LIMIT_DEFAULT);
    if !(1..=LIST_LIMIT_MAX).contains(&limit) {
        return Ok(Err(ToolError::new(
            "INVALID_ARGUMENTS",
            format!("limit must be from 1 to {LIST_LIMIT_MAX}"),
        )));
    }
    let filter = ListFilter {
        status: args.status.unwrap_or(StatusFilter::All),
        due: args.due,
        // "at least" and "exactly" together: the higher floor, and the exact one as the ceiling
        min_priority: args
            .priority
            .max(args.priority_is)
            .filter(|p| *p > Priority::None),
        // "exactly" and "at most" together: the lower ceiling
        max_priority: match (args.priority_is, args.priority_at_most) {
            (Some(a), Some(b)) => Some(a.min(b)),
            (a, b) => a.or(b),
        },
        tags: tag.into_iter().collect(),
        any_tags,
        not_tags,
        text: args
            .query
            .as_deref()
            .map(str::trim)
            .filter(|q| !q.is_empty())
            .map(|q| q.chars().take(200).collect()),
        repeating: args.repeating,
        tagged: args.tagged,
        sort: args.sort.unwrap_or_default(),
        limit: Some(limit),
        due_after,
        due_before,
        completed_after,
        completed_before,
        ..ListFilter::default()
    };
    let page = store::list(conn, ctx.user_id, &filter, &ctx.clock).await?;
    let tasks: Vec<ToolTask> = page
        .tasks
        .iter()
        .map(|t| ToolTask::new(t, &ctx.clock))
        .collect();
    Ok(Ok(ToolOutput::Listed {
        count: tasks.len(),
        tasks,
        has_more: page.next.is_some(),
    }))
}

/// The ids a call names (task_id and/or task_ids), without duplicates.
fn ids(task_id: Option<TaskId>, task_ids: Option<&[TaskId]>) -> Result<Vec<i32>, ToolError> {
    let mut out: Vec<i32> = Vec::new();
    for id in task_id.iter().chain(task_ids.unwrap_or_default()) {
        if !out.contains(&id.0) {
            out.push(id.0);
        }
    }
    if out.is_empty() {
        return Err(ToolError::new(
            "INVALID_ARGUMENTS",
            "give task_id (one task) or task_ids (several)",
        ));
    }
    if out.len() > 200 {
        return Err(ToolError::new(
            "INVALID_ARGUMENTS",
            "at most 200 tasks at once",
        ));
    }
    Ok(out)
}

/// The user's existing tasks among `ids`, and the ids that name none.
async fn existing(
    conn: &mut PgConnection,
    ctx: &ToolContext,
    ids: &[i32],
) -> sqlx::Result<(Vec<tasks::Task>, Vec<i32>)> {
    let mut found = Vec::new();
    let mut missing = Vec::new();
    for id in ids {
        match store::get(conn, ctx.user_id, *id).await? {
            Some(t) => found.push(t),
            None => missing.push(*id),
        }
    }
    Ok((found, missing))
}

/// More than one task: store the change as the conversation's pending action and ask.
async fn ask_first(
    conn: &mut PgConnection,
    ctx: &ToolContext,
    action: BulkAction,
    ids: &[i32],
    tool: &Tool,
) -> sqlx::Result<Option<Outcome>> {
    let (found, missing) = existing(conn, ctx, ids).await?;
    if found.len() <= 1 {
        return Ok(None);
    }
    // An MCP host asks its user before a destructive call itself (the tools carry the hints).
    if ctx.source == crate::tasks::Source::Mcp {
        return Ok(None);
    }
    let Some(turn) = ctx.turn else {
        return Ok(Some(Err(ToolError::new(
            "NOT_AVAILABLE",
            "changes to several tasks need a conversation to confirm them in",
        ))));
    };
    let pending = PendingAction {
        turn: turn.turn,
        request_id: turn.request_id,
        action,
        task_ids: found.iter().map(|t| t.id).collect(),
        tool: tool.clone(),
    };
    sqlx::query("update conversations set pending_action = $3 where id = $1 and user_id = $2")
        .bind(turn.conversation_id)
        .bind(ctx.user_id)
        .bind(Json(&pending))
        .execute(&mut *conn)
        .await?;
    let message = format!(
        "This would {} {} tasks. Ask the user to confirm; call confirm_action in the next turn with their answer.",
        action.verb(),
        found.len()
    );
    Ok(Some(Ok(ToolOutput::ConfirmationRequired {
        action,
        tasks: found.iter().map(|t| ToolTask::new(t, &ctx.clock)).collect(),
        not_found: missing,
        message,
    })))
}

async fn complete_task(
    conn: &mut PgConnection,
    ctx: &ToolContext,
    args: &CompleteTaskArgs,
    tool: &Tool,
) -> sqlx::Result<Outcome> {
    let ids = match ids(args.task_id, args.task_ids.as_deref()) {
        Ok(ids) => ids,
        Err(e) => return Ok(Err(e)),
    };
    let action = if args.undo == Some(true) {
        BulkAction::Reopen
    } else {
        BulkAction::Complete
    };
    if ids.len() > 1
        && let Some(asked) = ask_first(conn, ctx, action, &ids, tool).await?
    {
        return Ok(asked);
    }
    apply(conn, ctx, action, &ids, tool).await
}

async fn update_task(
    conn: &mut PgConnection,
    ctx: &ToolContext,
    args: &UpdateTaskArgs,
    tool: &Tool,
) -> sqlx::Result<Outcome> {
    let ids = match ids(args.task_id, args.task_ids.as_deref()) {
        Ok(ids) => ids,
        Err(e) => return Ok(Err(e)),
    };
    // Validate before asking, so a confirmation is never asked for a change that cannot be made.
    if let Err(e) = changes_for(args, None, ctx) {
        return Ok(Err(e));
    }
    if ids.len() > 1
        && let Some(asked) = ask_first(conn, ctx, BulkAction::Update, &ids, tool).await?
    {
        return Ok(asked);
    }
    apply(conn, ctx, BulkAction::Update, &ids, tool).await
}

async fn delete_task(
    conn: &mut PgConnection,
    ctx: &ToolContext,
    args: &DeleteTaskArgs,
    tool: &Tool,
) -> sqlx::Result<Outcome> {
    let ids = match ids(args.task_id, args.task_ids.as_deref()) {
        Ok(ids) => ids,
        Err(e) => return Ok(Err(e)),
    };
    if ids.len() > 1
        && let Some(asked) = ask_first(conn, ctx, BulkAction::Delete, &ids, tool).await?
    {
        return Ok(asked);
    }
    apply(conn, ctx, BulkAction::Delete, &ids, tool).await
}

/// The changes an update_task call makes to `current` (`None`: only validate).
fn changes_for(
    args: &UpdateTaskArgs,
    current: Option<&tasks::Task>,
    ctx: &ToolContext,
) -> Result<TaskChanges, ToolError> {
    let repeat = match &args.repeat {
        None => None,
        Some(None) => Some(None),
        Some(Some(r)) if r.trim().is_empty() => Some(None),
        Some(Some(r)) => Some(Some(tasks::validate_repeat(r)?)),
    };
    let due = match &args.due {
        None => None,
        Some(None) => Some(None),
        Some(Some(d)) if d.trim().is_empty() => Some(None),
        Some(Some(d)) => {
            let mut due = parse_due(d, ctx)?;
            // Rescheduling to a day keeps the task's time of day.
            if let Some(old) = current.and_then(tasks::Task::due).filter(|o| o.has_time)
                && !due.has_time
            {
                let time = old.at.with_timezone(&ctx.clock.tz).time();
                due = LocalDue::at(due.local_date(ctx.clock.tz), time).resolve(ctx.clock.tz);
            }
            Some(Some(due))
        }
    };
    let changes = TaskChanges {
        title: args.title.as_deref().map(validate_title).transpose()?,
        description: match &args.description {
            None => None,
            Some(d) => Some(validate_description(d.as_deref())?),
        },
        due,
        priority: args.priority,
        tags: args.tags.as_deref().map(validate_tags).transpose()?,
        repeat: repeat.map(|r| r.map(|r| r.repeat)),
        completed: None,
    };
    if changes.is_empty() {
        return Err(ToolError::new(
            "INVALID_ARGUMENTS",
            "give at least one field to change: title, description, due, priority, tags or repeat",
        ));
    }
    Ok(changes)
}

/// Carries out an action on each of `ids`. One task gives that task's outcome; several give `bulk`.
async fn apply(
    conn: &mut PgConnection,
    ctx: &ToolContext,
    action: BulkAction,
    ids: &[i32],
    tool: &Tool,
) -> sqlx::Result<Outcome> {
    let actor = ctx.actor();
    let mut done: Vec<TaskOutcome> = Vec::new();
    let mut missing = Vec::new();
    for id in ids {
        let result = match (action, tool) {
            (BulkAction::Complete, _) => {
                store::complete(conn, ctx.user_id, *id, &actor, &ctx.clock)
                    .await?
                    .map(|c| TaskOutcome {
                        already_completed: c.already_completed,
                        repeated: c.repeated,
                        ..outcome(&c.task, ctx)
                    })
            }
            (BulkAction::Reopen, _) => {
                let changes = TaskChanges {
                    completed: Some(false),
                    ..TaskChanges::default()
                };
                store::update(conn, ctx.user_id, *id, &changes, &actor, &ctx.clock)
                    .await?
                    .map(|t| outcome(&t, ctx))
            }
            (BulkAction::Update, Tool::UpdateTask(args)) => {
                let Some(current) = store::get(conn, ctx.user_id, *id).await? else {
                    missing.push(*id);
                    continue;
                };
                let changes = match changes_for(args, Some(&current), ctx) {
                    Ok(c) => c,
                    Err(e) => return Ok(Err(e)),
                };
                store::update(conn, ctx.user_id, *id, &changes, &actor, &ctx.clock)
                    .await?
                    .map(|t| outcome(&t, ctx))
            }
            (BulkAction::Update, _) => None,
            (BulkAction::Delete, _) => store::delete(conn, ctx.user_id, *id, &actor)
                .await?
                .map(|t| outcome(&t, ctx)),
        };
        match result {
            Some(o) => done.push(o),
            None => missing.push(*id),
        }
    }
    Ok(match (ids, done.pop()) {
        ([id], None) => Err(ToolError::not_found(*id)),
        ([_], Some(one)) => Ok(match action {
            BulkAction::Complete => ToolOutput::Completed(one),
            BulkAction::Reopen => ToolOutput::Reopened(one),
            BulkAction::Update => ToolOutput::Updated(one),
            BulkAction::Delete => ToolOutput::Deleted(one),
        }),
        (_, last) => {
            done.extend(last);
            Ok(ToolOutput::Bulk {
                action,
                tasks: done.into_iter().map(|o| o.task).collect(),
                not_found: missing,
            })
        }
    })
}

async fn undo(conn: &mut PgConnection, ctx: &ToolContext) -> sqlx::Result<Outcome> {
    let Some(turn) = ctx.turn else {
        return Ok(Err(ToolError::new(
            "NOT_AVAILABLE",
            "undo works inside a conversation",
        )));
    };
    let actor = tasks::Actor {
        source: tasks::Source::Undo,
        request_id: Some(turn.request_id),
        conversation_id: Some(turn.conversation_id),
    };
    let reverted = store::undo_last_turn(conn, ctx.user_id, turn.conversation_id, &actor).await?;
    if reverted.is_empty() {
        return Ok(Ok(ToolOutput::NothingToUndo {}));
    }
    Ok(Ok(ToolOutput::Undone {
        reverted: reverted
            .into_iter()
            .map(|r| UndoneChange {
                task_id: r.task_id,
                title: r.title,
                undid: r.undid,
                task: r.task.as_ref().map(|t| ToolTask::new(t, &ctx.clock)),
            })
            .collect(),
    }))
}

async fn confirm_action(
    conn: &mut PgConnection,
    ctx: &ToolContext,
    args: &ConfirmActionArgs,
) -> sqlx::Result<Outcome> {
    let Some(turn) = ctx.turn else {
        return Ok(Err(ToolError::new(
            "NOT_AVAILABLE",
            "confirmations work inside a conversation",
        )));
    };
    let pending: Option<Json<PendingAction>> = sqlx::query_scalar(
        "select pending_action from conversations where id = $1 and user_id = $2 for no key update",
    )
    .bind(turn.conversation_id)
    .bind(ctx.user_id)
    .fetch_optional(&mut *conn)
    .await?
    .flatten();
    let Some(Json(pending)) = pending.filter(|p| p.0.turn == turn.turn - 1) else {
        return Ok(Err(ToolError::new(
            "NO_PENDING_ACTION",
            "there is no change waiting for confirmation (a confirmation is only valid in the turn right after the question)",
        )));
    };
    sqlx::query("update conversations set pending_action = null where id = $1 and user_id = $2")
        .bind(turn.conversation_id)
        .bind(ctx.user_id)
        .execute(&mut *conn)
        .await?;
    if !args.approve {
        return Ok(Ok(ToolOutput::Declined {
            action: pending.action,
        }));
    }
    let outcome = apply(conn, ctx, pending.action, &pending.task_ids, &pending.tool).await?;
    // Confirmed changes always report as bulk, even if only one task was left.
    Ok(outcome.map(|out| match out {
        ToolOutput::Completed(o)
        | ToolOutput::Reopened(o)
        | ToolOutput::Updated(o)
        | ToolOutput::Deleted(o) => ToolOutput::Bulk {
            action: pending.action,
            tasks: vec![o.task],
            not_found: Vec::new(),
        },
        other => other,
    }))
}
