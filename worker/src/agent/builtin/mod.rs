//! The built-in offline agent: understands plain-English todo requests without any network.
//!
//! - [`parse`]: a message → an [`Intent`] (dates, repeats, priorities, tags read out).
//! - [`resolve`]: which tasks a reference names; a change never runs on a guess.
//! - [`reply`]: the sentences that answer.
//! - [`plan`] (here): intent + conversation state (+ the user's tasks when a reference needs them)
//!   → the typed tool calls to make, or a reply / question. Pure, so the phrasing table in
//!   `worker/tests/phrasings.txt` checks it without a database.
//!
//! What the agent asked ("which one?") and the order of the list it showed ("the second one") are
//! remembered as data with its reply ([`AgentState`], stored on the assistant message); a bulk
//! change waiting for yes / no is the conversation's pending action, stored by the tool. A message
//! of several requests ("complete task 1 and delete task 2") is one [`Intent::Several`]: its parts'
//! calls in order, a paragraph of reply each.

pub mod parse;
pub mod reply;
pub mod resolve;

use serde::{Deserialize, Serialize};
use serde_json::Value;
use todo_common::chat::Message;
use todo_common::schema::EventBody;
use todo_common::tasks::{Priority, StatusFilter};
use todo_common::tools::{
    AddTaskArgs, CompleteTaskArgs, ConfirmActionArgs, DeleteTaskArgs, ListTasksArgs, PendingAction,
    TaskId, Tool, ToolOutput, ToolTask, UndoArgs, UpdateTaskArgs,
};
use todo_common::when::Clock;

use self::parse::{Edit, Intent, Position, Query, Target};
use self::resolve::{Found, Prefer};
use super::{AgentReply, TurnInput};
use crate::error::AgentError;
use crate::events::EventSink;
use crate::tools::{ReplyFn, ToolExecutor};

/// What the agent remembers from one reply for the next turn.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct AgentState {
    /// The tasks the reply was about: what "it" and "that one" mean next.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub tasks: Vec<i32>,
    /// A question the reply asked ("which one?", "did you mean …?").
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub question: Option<Question>,
    /// The tasks a listing of several showed, in the order shown: what "the second one" means.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub listed: Vec<i32>,
    /// The reply reported a change it made: what "cancel that" takes back.
    #[serde(default, skip_serializing_if = "std::ops::Not::not")]
    pub changed: bool,
    /// The change was adding tasks: "and eggs" next adds one more.
    #[serde(default, skip_serializing_if = "std::ops::Not::not")]
    pub added: bool,
    /// The change completed, re-opened or deleted one task: "no, I meant task 5" does the same
    /// to that one.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub redo: Option<Redo>,
}

/// What a change to one task did, to be done to another ([`Intent::Meant`]).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum Redo {
    Complete,
    Reopen,
    Delete,
}

/// A question about which task an action is for; the answer fills in the task.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Question {
    /// The call to make once the task is known (its task id left empty).
    pub tool: Tool,
    /// The tasks offered.
    pub candidates: Vec<i32>,
}

impl AgentState {
    /// The state the last assistant message left.
    pub fn from_history(history: &[Message]) -> Self {
        history
            .iter()
            .rev()
            .find(|m| m.role == "assistant")
            .and_then(|m| m.agent_state.as_ref())
            .and_then(|s| serde_json::from_value(s.0.clone()).ok())
            .unwrap_or_default()
    }
}

/// What the planner knows of the conversation.
#[derive(Debug, Clone)]
pub struct Context<'a> {
    pub clock: Clock,
    pub state: AgentState,
    /// A bulk change this conversation's previous turn asked to confirm.
    pub pending: Option<&'a PendingAction>,
}

/// What to do about a message.
#[derive(Debug, Clone, PartialEq)]
pub enum Plan {
    /// A reference needs the user's tasks: list them and plan again.
    NeedTasks,
    /// Make these calls, then reply about their results.
    Calls(Vec<Tool>),
    /// Answer without touching any task.
    Reply(String, Box<AgentState>),
}

/// The action an intent asks for on resolved tasks.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Action<'a> {
    Complete,
    Reopen,
    Delete,
    Update(&'a Edit),
}

impl Action<'_> {
    fn verb(self) -> &'static str {
        match self {
            Self::Complete => "mark as done",
            Self::Reopen => "re-open",
            Self::Delete => "delete",
            Self::Update(_) => "change",
        }
    }

    fn prefer(self) -> Prefer {
        match self {
            Self::Complete => Prefer::Pending,
            Self::Reopen => Prefer::Completed,
            Self::Delete | Self::Update(_) => Prefer::Any,
        }
    }
}

fn task_ids(ids: &[i32]) -> (Option<TaskId>, Option<Vec<TaskId>>) {
    match ids {
        [] => (None, None),
        [one] => (Some(TaskId(*one)), None),
        many => (None, Some(many.iter().map(|i| TaskId(*i)).collect())),
    }
}

/// `q` with its kind of task ("my work tasks") as a tag when some task has that tag, else as
/// text to find; `None` while the tasks are not known yet.
fn of_a_kind(q: &Query, tasks: Option<&[ToolTask]>) -> Option<Query> {
    let Some(kind) = &q.about else {
        return Some(q.clone());
    };
    let tagged = tasks?.iter().any(|t| t.tags.contains(kind));
    Some(Query {
        tag: tagged.then(|| kind.clone()),
        text: (!tagged).then(|| kind.clone()),
        ..q.clone()
    })
}

fn list_args(q: &Query) -> ListTasksArgs {
    ListTasksArgs {
        status: Some(q.status).filter(|s| *s != StatusFilter::All),
        due: q.due,
        due_from: q.days.and_then(|d| d.from).map(|d| d.to_string()),
        due_to: q.days.and_then(|d| d.to).map(|d| d.to_string()),
        completed_from: q.done_days.and_then(|d| d.from).map(|d| d.to_string()),
        completed_to: q.done_days.and_then(|d| d.to).map(|d| d.to_string()),
        // "high priority tasks" are those of at least high; "low priority tasks" only the low ones
        priority: q
            .priority
            .filter(|p| *p == Priority::High)
            .or(q.min_priority),
        priority_is: q.priority.filter(|p| *p != Priority::High),
        priority_at_most: q.max_priority,
        tag: q.tag.clone(),
        any_tags: (!q.any_tags.is_empty()).then(|| q.any_tags.clone()),
        not_tags: (!q.not_tags.is_empty()).then(|| q.not_tags.clone()),
        repeating: q.repeating,
        tagged: q.tagged,
        query: q.text.clone(),
        sort: q.sort,
        limit: if q.top { Some(1) } else { q.newest.or(q.count) },
    }
}

/// The call that carries out `action` on `ids` (`tasks`, when known, give update_task the
/// current tags to add to).
fn call_for(action: Action<'_>, ids: &[i32], tasks: Option<&[ToolTask]>, clock: &Clock) -> Tool {
    let (task_id, task_ids) = task_ids(ids);
    match action {
        Action::Complete | Action::Reopen => Tool::CompleteTask(CompleteTaskArgs {
            task_id,
            task_ids,
            undo: (action == Action::Reopen).then_some(true),
        }),
        Action::Delete => Tool::DeleteTask(DeleteTaskArgs { task_id, task_ids }),
        Action::Update(edit) => {
            let tags = if edit.clear_tags {
                Some(Vec::new())
            } else {
                (!edit.add_tags.is_empty() || !edit.remove_tags.is_empty()).then(|| {
                    let mut tags: Vec<String> = ids
                        .first()
                        .and_then(|id| tasks?.iter().find(|t| t.task_id == *id))
                        .map(|t| t.tags.clone())
                        .unwrap_or_default();
                    for tag in &edit.add_tags {
                        if !tags.contains(tag) {
                            tags.push(tag.clone());
                        }
                    }
                    tags.retain(|t| !edit.remove_tags.contains(t));
                    tags
                })
            };
            let current = ids
                .first()
                .and_then(|id| tasks?.iter().find(|t| t.task_id == *id));
            // "postpone it by a week": from its own due date (keeping its time), or from now.
            let shifted = edit.shift.map(|shift| {
                let (from, has_time) = current
                    .and_then(|t| Some((t.due_at?, t.due_has_time)))
                    .unwrap_or((clock.now, false));
                let moved = |from: chrono::NaiveDateTime| {
                    let local = from
                        + chrono::Duration::days(shift.days)
                        + chrono::Duration::minutes(shift.minutes);
                    local
                        .checked_add_months(chrono::Months::new(shift.months))
                        .unwrap_or(local)
                };
                let from = from.with_timezone(&clock.tz).naive_local();
                let mut local = moved(from);
                // "snooze the rent" a week after it was due: from today (at its time), not from
                // the day it was missed, which would leave it overdue
                let today = clock.today();
                if local.date() < today && (shift.days > 0 || shift.months > 0 || shift.minutes > 0)
                {
                    local = moved(today.and_time(from.time()));
                }
                let due = todo_common::when::LocalDue {
                    date: local.date(),
                    time: (has_time || shift.minutes != 0).then(|| local.time()),
                }
                .resolve(clock.tz);
                parse::due_argument(due, clock)
            });
            // "change call mom to 6" for a task at 17:00 is a time, not a title of "6" (a task
            // with no time of day takes the title).
            let title_as_time = edit
                .title
                .as_deref()
                .filter(|title| {
                    ids.len() == 1
                        && current.is_some_and(|t| t.due_has_time)
                        && edit.at_time.is_none()
                        && edit.due.is_none()
                        && edit.shift.is_none()
                        && parse::is_clock_time(title)
                })
                .and_then(|title| {
                    let time = todo_common::when::phrase::time_only(&format!("at {title}"))?;
                    Some((time, parse::hour_only(title)))
                });
            let hour_only = title_as_time.map_or(edit.hour_only, |(_, hour_only)| hour_only);
            let title_as_time = title_as_time.map(|(time, _)| time);
            // "move it to 4pm": that time on its own day.
            let timed = edit
                .at_time
                .or(title_as_time)
                .filter(|_| ids.len() == 1)
                .and_then(|time| {
                    let local = current?.due_at?.with_timezone(&clock.tz);
                    let day = local.date_naive();
                    // "it's actually at 9" for a party at 20:00: 21:00, the nearer of 9 and 21
                    let time = if hour_only && current?.due_has_time {
                        nearer_half_day(time, local.time())
                    } else {
                        time
                    };
                    let due = todo_common::when::LocalDue {
                        date: day,
                        time: Some(time),
                    }
                    .resolve(clock.tz);
                    Some(parse::due_argument(due, clock))
                });
            Tool::UpdateTask(UpdateTaskArgs {
                task_id,
                task_ids,
                title: edit.title.clone().filter(|_| title_as_time.is_none()),
                description: edit.description.clone(),
                due: shifted
                    .or(timed)
                    .map(Some)
                    .or_else(|| edit.due.map(|d| d.map(|d| parse::due_argument(d, clock)))),
                priority: edit.priority.or_else(|| {
                    (edit.priority_step != 0).then(|| {
                        step_priority(
                            current.map(|t| t.priority).unwrap_or_default(),
                            edit.priority_step,
                        )
                    })
                }),
                tags,
                repeat: edit
                    .repeat
                    .as_ref()
                    .map(|r| r.as_ref().map(|r| r.repeat.to_rrule())),
            })
        }
    }
}

/// Fills the task into a question's call once the user picked one.
fn with_task(tool: &Tool, id: i32) -> Tool {
    with_tasks(tool, &[id])
}

/// `tool` for `ids`: one task as `task_id`, several at once ("both") as `task_ids`.
fn with_tasks(tool: &Tool, ids: &[i32]) -> Tool {
    let (one, several) = task_ids(ids);
    let mut tool = tool.clone();
    match &mut tool {
        Tool::CompleteTask(a) => (a.task_id, a.task_ids) = (one, several),
        Tool::DeleteTask(a) => (a.task_id, a.task_ids) = (one, several),
        Tool::UpdateTask(a) => (a.task_id, a.task_ids) = (one, several),
        _ => {}
    }
    tool
}

/// Of `time` and the same time twelve hours away, the one nearer `old` (round the clock).
fn nearer_half_day(time: chrono::NaiveTime, old: chrono::NaiveTime) -> chrono::NaiveTime {
    use chrono::Timelike;
    let minutes = |t: chrono::NaiveTime| i64::from(t.hour() * 60 + t.minute());
    let other = time.overflowing_add_signed(chrono::TimeDelta::hours(12)).0;
    let apart = |t: chrono::NaiveTime| {
        let d = (minutes(t) - minutes(old)).rem_euclid(24 * 60);
        d.min(24 * 60 - d)
    };
    if apart(other) < apart(time) {
        other
    } else {
        time
    }
}

fn ask(text: String, tool: Tool, candidates: Vec<i32>) -> Plan {
    Plan::Reply(
        text,
        Box::new(AgentState {
            question: Some(Question { tool, candidates }),
            ..AgentState::default()
        }),
    )
}

fn say(text: impl Into<String>) -> Plan {
    Plan::Reply(text.into(), Box::default())
}

/// `priority` a `step` up (1) or down (-1): none and low go up to medium, nothing goes below low
/// or above high.
fn step_priority(priority: Priority, step: i8) -> Priority {
    match (priority, step.signum()) {
        (Priority::None | Priority::Low, 1) => Priority::Medium,
        (Priority::Medium | Priority::High, 1) => Priority::High,
        (Priority::High, -1) => Priority::Medium,
        (Priority::Medium | Priority::Low | Priority::None, -1) => Priority::Low,
        (p, _) => p,
    }
}

/// A reply about task `id` that changes nothing: "it" means that task next turn.
fn about(text: impl Into<String>, id: i32) -> Plan {
    Plan::Reply(
        text.into(),
        Box::new(AgentState {
            tasks: vec![id],
            ..AgentState::default()
        }),
    )
}

/// A reply about nothing in particular: what "it" and "the second one" meant before still mean it
/// next turn.
fn chat(text: impl Into<String>, ctx: &Context<'_>) -> Plan {
    Plan::Reply(
        text.into(),
        Box::new(AgentState {
            tasks: ctx.state.tasks.clone(),
            question: None,
            listed: ctx.state.listed.clone(),
            changed: ctx.state.changed,
            added: ctx.state.added,
            redo: ctx.state.redo,
        }),
    )
}

/// The tasks the user was last shown, in order: the question's candidates when the last reply
/// asked "which one?", else the last listing.
fn shown<'a>(ctx: &'a Context<'_>) -> &'a [i32] {
    match &ctx.state.question {
        Some(q) => &q.candidates,
        None => &ctx.state.listed,
    }
}

/// The task at `position` in the list the user was last shown: the question's candidates when the
/// last reply asked "which one?", else the last listing. Otherwise a question back, which keeps
/// the list for the next message.
fn pick(position: Position, ctx: &Context<'_>) -> Result<i32, Plan> {
    let shown = shown(ctx);
    if shown.is_empty() {
        // "the last one" with no list shown: the task the conversation was last about
        if position == Position::FromEnd(0)
            && let Some(last) = ctx.state.tasks.last()
        {
            return Ok(*last);
        }
        return Err(say(
            "Which task do you mean? Tell me its number or part of its title (\"show my tasks\" lists them).",
        ));
    }
    position.of(shown).ok_or_else(|| {
        let text = format!(
            "I only showed {} tasks. Which one do you mean? Tell me its number.",
            shown.len()
        );
        match &ctx.state.question {
            Some(q) => ask(text, q.tool.clone(), q.candidates.clone()),
            None => chat(text, ctx),
        }
    })
}

/// Whether `target` is "the last one" said with no list shown and no task talked about, which
/// [`pick`] cannot place: the task added last is meant.
fn means_newest(target: &Target, ctx: &Context<'_>) -> bool {
    matches!(target, Target::Listed(places) if places.as_slice() == [Position::FromEnd(0)])
        && shown(ctx).is_empty()
        && ctx.state.tasks.is_empty()
}

/// Decides what to do about `intent`. `tasks` is `None` until the plan asked for them.
pub fn plan(intent: &Intent, ctx: &Context<'_>, tasks: Option<&[ToolTask]>) -> Plan {
    let question = ctx.state.question.as_ref();
    match intent {
        Intent::Greeting => chat(format!("Hi! {}", reply::HELP_TEXT), ctx),
        Intent::Help => chat(reply::HELP_TEXT, ctx),
        Intent::Now => chat(
            format!(
                "It's {} where you are ({}).",
                ctx.clock
                    .now
                    .with_timezone(&ctx.clock.tz)
                    .format("%A %-d %B %Y, %H:%M"),
                ctx.clock.tz
            ),
            ctx,
        ),
        Intent::Thanks => chat("You're welcome! Anything else on your list?", ctx),
        Intent::Ack => chat("😊 Anything else on your list?", ctx),
        Intent::Settings(true) => chat(
            format!(
                "Your timezone is {}, and dates and times here are read in it (the web app sets it \
                 from your browser when you sign up). The chat can only change your tasks; \
                 PATCH /api/auth/me with {{\"timezone\": \"Europe/London\"}} changes the timezone.",
                ctx.clock.tz
            ),
            ctx,
        ),
        Intent::Settings(false) => chat(
            "I can only change your tasks here, not your account. Anything on your list I can help with?",
            ctx,
        ),
        Intent::Bye => chat("Bye! Your tasks are saved; come back any time.", ctx),
        // "which ones?", "keep the plants" while a change waits for a yes or no: asked again, so
        // that the next message can still answer it
        Intent::Unknown if let Some(p) = ctx.pending => Plan::Calls(vec![p.tool.clone()]),
        Intent::Unknown => chat(
            format!(
                "Sorry, I didn't catch that, so I changed nothing. {}",
                reply::HELP_TEXT
            ),
            ctx,
        ),
        // "milk" alone: the tasks it names, or how to add it
        Intent::Mention(_) if ctx.pending.is_some() => plan(&Intent::Unknown, ctx, tasks),
        Intent::Mention(words) => {
            let Some(tasks) = tasks else {
                return Plan::NeedTasks;
            };
            match resolve::find_by_title(tasks, words, Prefer::Any) {
                Found::One(_) | Found::Several(_) => {
                    show(&Target::Title(words.clone()), ctx, Some(tasks))
                }
                Found::Maybe(_) | Found::Nothing => chat(
                    format!(
                        "I have no task about {}, and I'm not sure what you'd like to do. To add it, say \"add {words}\"; \"show my tasks\" lists them all.",
                        reply::quote(words)
                    ),
                    ctx,
                ),
            }
        }
        // "and eggs" right after an add
        Intent::AlsoAdd(add) if ctx.state.added => plan(add, ctx, tasks),
        Intent::AlsoAdd(add) => match add.as_ref() {
            Intent::Add(items) if !items.is_empty() => chat(
                format!(
                    "Sorry, I didn't catch that, so I changed nothing. To add it, say \"add {}\".",
                    items[0].title.to_lowercase()
                ),
                ctx,
            ),
            _ => plan(&Intent::Unknown, ctx, tasks),
        },
        // "it" still means the task it asks about
        Intent::Unclear(question) => chat(*question, ctx),
        // read() settles this before planning; a caller that planned parse()'s intent gets the
        // same rule
        Intent::OnItOrList(..) => plan(&on_it_or_list(intent.clone(), &ctx.state), ctx, tasks),
        // "set the meeting for 3:30": a change when a task has that title, else an add
        Intent::ChangeOrAdd(change, add) => {
            let Intent::Update(Target::Title(title), _) = change.as_ref() else {
                return plan(change, ctx, tasks);
            };
            let Some(tasks) = tasks else {
                return Plan::NeedTasks;
            };
            match resolve::find_by_title(tasks, title, Prefer::Any) {
                Found::One(_) | Found::Several(_) => plan(change, ctx, Some(tasks)),
                Found::Maybe(_) | Found::Nothing => plan(add, ctx, Some(tasks)),
            }
        }
        // "rename task 1": the task named is "it" for the answer
        Intent::AskAbout(target, question) => match target {
            Target::Title(title) => {
                let Some(tasks) = tasks else {
                    return Plan::NeedTasks;
                };
                match resolve::find_by_title(tasks, title, Prefer::Any) {
                    Found::One(task) => about(*question, task.task_id),
                    _ => chat(*question, ctx),
                }
            }
            _ => match referenced(target, ctx).as_deref() {
                Ok([id]) => about(*question, *id),
                _ => chat(*question, ctx),
            },
        },
        Intent::AddWithoutTitle => {
            say("Sure, what should the task say? For example: \"add a task to buy milk tomorrow\".")
        }
        Intent::Yes => match (ctx.pending, question) {
            (Some(_), _) => Plan::Calls(vec![Tool::ConfirmAction(ConfirmActionArgs {
                approve: true,
            })]),
            (None, Some(q)) if q.candidates.len() == 1 => {
                Plan::Calls(vec![with_task(&q.tool, q.candidates[0])])
            }
            (None, Some(_)) => say("Which one? Reply with the task number."),
            (None, None) => say("OK! Anything else on your list?"),
        },
        Intent::No => match (ctx.pending, question) {
            (Some(_), _) => Plan::Calls(vec![Tool::ConfirmAction(ConfirmActionArgs {
                approve: false,
            })]),
            (None, Some(_)) => say("OK, I won't change anything."),
            (None, None) => say("OK."),
        },
        Intent::CancelIt => match (ctx.pending, question) {
            (None, None) if ctx.state.changed => Plan::Calls(vec![Tool::Undo(UndoArgs {})]),
            // "cancel it" about a task just shown: the task is off
            (None, None) if !ctx.state.tasks.is_empty() => {
                plan(&Intent::Delete(Target::Previous), ctx, tasks)
            }
            _ => plan(&Intent::No, ctx, tasks),
        },
        Intent::Mistake => match (ctx.pending, question) {
            (None, None) if ctx.state.changed => Plan::Calls(vec![Tool::Undo(UndoArgs {})]),
            (None, None) => chat(
                "Sorry about that. What should I change? For example \"move it to friday\" or \"call it …\".",
                ctx,
            ),
            _ => plan(&Intent::No, ctx, tasks),
        },
        // "no, I meant task 5": the change undone, and made to that task
        Intent::Meant(target) => match (ctx.pending, question, ctx.state.redo) {
            (None, None, Some(redo)) if ctx.state.changed => {
                let again = match redo {
                    Redo::Complete => Intent::Complete(target.clone()),
                    Redo::Reopen => Intent::Reopen(target.clone()),
                    Redo::Delete => Intent::Delete(target.clone()),
                };
                match plan(&again, ctx, tasks) {
                    Plan::Calls(calls) => Plan::Calls(
                        std::iter::once(Tool::Undo(UndoArgs {}))
                            .chain(calls)
                            .collect(),
                    ),
                    other => other,
                }
            }
            (None, None, _) => plan(
                &Intent::AskAbout(
                    target.clone(),
                    "What should I do with it? For example: \"mark it as done\", \"move it to friday\" or \"delete it\" (\"undo\" takes back the last change).",
                ),
                ctx,
                tasks,
            ),
            _ => plan(&Intent::No, ctx, tasks),
        },
        Intent::YesTo(request) => match (ctx.pending, question) {
            (None, None) => plan(request, ctx, tasks),
            _ => plan(&Intent::Yes, ctx, tasks),
        },
        Intent::AnswerByTitle(words, otherwise) => {
            let Some(q) = question else {
                return plan(otherwise, ctx, tasks);
            };
            // "both": every task the question offered
            if parse::means_all_offered(words) {
                return Plan::Calls(vec![with_tasks(&q.tool, &q.candidates)]);
            }
            let Some(tasks) = tasks else {
                return Plan::NeedTasks;
            };
            let offered: Vec<ToolTask> = tasks
                .iter()
                .filter(|t| q.candidates.contains(&t.task_id))
                .cloned()
                .collect();
            // "not the oat one" between two: the other
            if let Some(not) = words
                .strip_prefix("not ")
                .map(|w| w.trim_start_matches("the "))
                && q.candidates.len() == 2
                && let Found::One(task) = resolve::find_by_title(&offered, not, Prefer::Any)
                && let Some(other) = q.candidates.iter().find(|id| **id != task.task_id)
            {
                return Plan::Calls(vec![with_task(&q.tool, *other)]);
            }
            match resolve::find_by_title(&offered, words, Prefer::Any) {
                Found::One(task) => Plan::Calls(vec![with_task(&q.tool, task.task_id)]),
                _ if matches!(**otherwise, Intent::Unknown | Intent::Mention(_)) => ask(
                    "Which one? Reply with the task number, or more of its title.".to_owned(),
                    q.tool.clone(),
                    q.candidates.clone(),
                ),
                _ => plan(otherwise, ctx, Some(tasks)),
            }
        }
        Intent::Pick(position) => match pick(*position, ctx) {
            Ok(id) => plan(&Intent::Number(id), ctx, tasks),
            Err(reply) => reply,
        },
        Intent::Number(n) => match question {
            Some(q) => Plan::Calls(vec![with_task(&q.tool, *n)]),
            None => say(format!(
                "What should I do with task #{n}? For example: \"mark task {n} as done\" or \"delete task {n}\"."
            )),
        },
        Intent::Undo => Plan::Calls(vec![Tool::Undo(UndoArgs {})]),
        Intent::Add(items) => Plan::Calls(
            items
                .iter()
                .map(|t| {
                    let due = t.due.or_else(|| {
                        t.repeat
                            .as_ref()
                            .filter(|r| r.time.is_some())
                            .and_then(|r| todo_common::tasks::first_due(r, &ctx.clock))
                    });
                    Tool::AddTask(AddTaskArgs {
                        title: t.title.clone(),
                        description: t.description.clone(),
                        due: due.map(|d| parse::due_argument(d, &ctx.clock)),
                        priority: t.priority.filter(|p| *p != Priority::None),
                        tags: (!t.tags.is_empty()).then(|| t.tags.clone()),
                        repeat: t.repeat.as_ref().map(|r| r.repeat.to_rrule()),
                    })
                })
                .collect(),
        ),
        // "what's not overdue?": no listing filter says it, so the tasks are selected here
        Intent::List(q) | Intent::Count(q) if q.not_due.is_some() => {
            let (Some(q), Some(tasks)) = (of_a_kind(q, tasks), tasks) else {
                return Plan::NeedTasks;
            };
            let selected = resolve::select(tasks, &q, &ctx.clock);
            let has_more = u32::try_from(tasks.len()).unwrap_or(u32::MAX)
                >= todo_common::tasks::LIST_LIMIT_MAX;
            if matches!(intent, Intent::Count(_)) {
                return chat(reply::counting(&q, &selected, has_more, &ctx.clock), ctx);
            }
            Plan::Reply(
                reply::listing(&q, &selected, has_more, &ctx.clock),
                Box::new(AgentState {
                    listed: reply::shown_order(&selected, &ctx.clock),
                    ..AgentState::default()
                }),
            )
        }
        Intent::List(q) => match of_a_kind(q, tasks) {
            Some(q) => Plan::Calls(vec![Tool::ListTasks(list_args(&q))]),
            None => Plan::NeedTasks,
        },
        Intent::Count(q) => match of_a_kind(q, tasks) {
            Some(q) => Plan::Calls(vec![Tool::ListTasks(ListTasksArgs {
                status: None,
                limit: Some(200),
                ..list_args(&q)
            })]),
            None => Plan::NeedTasks,
        },
        Intent::Complete(t) => act(Action::Complete, t, ctx, tasks),
        Intent::Reopen(t) => act(Action::Reopen, t, ctx, tasks),
        Intent::Delete(t) => act(Action::Delete, t, ctx, tasks),
        Intent::Update(t, edit) => act(Action::Update(edit), t, ctx, tasks),
        Intent::Show(t) => show(t, ctx, tasks),
        Intent::Copy(t) => copy(t, ctx, tasks),
        Intent::Tags => match tasks {
            Some(tasks) => chat(reply::tags(tasks), ctx),
            None => Plan::NeedTasks,
        },
        Intent::Several(parts) => {
            let mut calls = Vec::new();
            for part in parts {
                match plan(part, ctx, tasks) {
                    Plan::Calls(more) => calls.extend(more),
                    Plan::NeedTasks => return Plan::NeedTasks,
                    // A part that needs an answer first: nothing is done, the question is asked.
                    Plan::Reply(text, state) => {
                        return Plan::Reply(
                            format!("I haven't changed anything yet. {text}"),
                            state,
                        );
                    }
                }
            }
            Plan::Calls(calls)
        }
    }
}

fn act(action: Action<'_>, target: &Target, ctx: &Context<'_>, tasks: Option<&[ToolTask]>) -> Plan {
    // Adding a tag or moving a date by an amount starts from the task as it is.
    let needs_tags = matches!(action, Action::Update(e) if !e.add_tags.is_empty() || !e.remove_tags.is_empty() || e.shift.is_some() || e.priority_step != 0);
    let ids: Vec<i32> = match target {
        Target::Missing => {
            return say(format!(
                "Which task should I {}? Tell me its number or part of its title.",
                action.verb()
            ));
        }
        // "delete the last task" with no list shown and no task talked about: the newest one
        _ if means_newest(target, ctx) => {
            let Some(tasks) = tasks else {
                return Plan::NeedTasks;
            };
            let newest = tasks
                .iter()
                .filter(|t| match action {
                    Action::Complete => !t.completed,
                    Action::Reopen => t.completed,
                    _ => true,
                })
                .max_by_key(|t| t.task_id);
            let Some(task) = newest else {
                return say("You have no tasks that match, so I changed nothing.");
            };
            // a guess: asked first
            return ask(
                format!(
                    "Do you mean task #{} {}, the one added last? Answer yes or no.",
                    task.task_id,
                    reply::quote(&task.title)
                ),
                call_for(action, &[], Some(tasks), &ctx.clock),
                vec![task.task_id],
            );
        }
        Target::Ids(_) | Target::Previous | Target::Listed(_) => match referenced(target, ctx) {
            Ok(ids) => ids,
            Err(reply) => return reply,
        },
        Target::Title(query) => {
            let Some(tasks) = tasks else {
                return Plan::NeedTasks;
            };
            if tasks.is_empty() {
                return say("You don't have any tasks yet.");
            }
            let pending_call = call_for(action, &[], Some(tasks), &ctx.clock);
            let found = resolve::find_by_title(tasks, query, action.prefer());
            match found {
                // "bread and butter" is one task's title
                Found::One(task) if task.title.to_lowercase().contains(" and ") => {
                    vec![task.task_id]
                }
                // "complete the dentist and the rent", "delete the milk and the oat milk": titles
                // of one task each (the whole, read as one title, may match one of them)
                _ if let Some(ids) = one_task_each(tasks, query, action.prefer()) => ids,
                Found::One(task) => vec![task.task_id],
                Found::Several(found) => {
                    return ask(
                        format!(
                            "I found {} tasks matching {}:{}\nWhich one should I {}? Reply with the task number.",
                            found.len(),
                            reply::quote(query),
                            reply::format_list(&found),
                            action.verb()
                        ),
                        pending_call,
                        found.iter().map(|t| t.task_id).collect(),
                    );
                }
                Found::Maybe(found) => {
                    let text = match found.as_slice() {
                        [one] => format!(
                            "I'm not sure which task you mean by {}. Did you mean task #{} {}? Answer yes or no.",
                            reply::quote(query),
                            one.task_id,
                            reply::quote(&one.title)
                        ),
                        many => format!(
                            "I'm not sure which task you mean by {}. Did you mean one of these?{}\nReply with the task number.",
                            reply::quote(query),
                            reply::format_list(many)
                        ),
                    };
                    return ask(
                        text,
                        pending_call,
                        found.iter().map(|t| t.task_id).collect(),
                    );
                }
                Found::Nothing => {
                    return say(format!(
                        "I couldn't find a task matching {}, so I changed nothing. Say \"show my tasks\" to see them.",
                        reply::quote(query)
                    ));
                }
            }
        }
        // "mark all as done" right after a listing: what it showed
        Target::All(query) if query.shown_first && !ctx.state.listed.is_empty() => {
            match referenced(&Target::Listed(Vec::new()), ctx) {
                Ok(ids) => ids,
                Err(reply) => return reply,
            }
        }
        Target::All(query) => {
            let Some(tasks) = tasks else {
                return Plan::NeedTasks;
            };
            let mut query = query.clone();
            if query.status == StatusFilter::All {
                query.status = match action {
                    Action::Complete => StatusFilter::Pending,
                    Action::Reopen => StatusFilter::Completed,
                    _ => StatusFilter::All,
                };
            }
            // "everything except the dentist" when no task is the dentist: a typo, not everything
            if let Some(except) = &query.except
                && !tasks.iter().any(|t| resolve::excepted(t, except))
            {
                return say(format!(
                    "I found no task matching {} to leave out, so I changed nothing.",
                    reply::quote(except)
                ));
            }
            let selected = resolve::select(tasks, &query, &ctx.clock);
            if selected.is_empty() {
                let what = match query.status {
                    StatusFilter::Completed => "completed tasks",
                    StatusFilter::Pending => "pending tasks",
                    StatusFilter::All => "tasks",
                };
                return say(format!(
                    "You have no {what} that match, so I changed nothing."
                ));
            }
            selected.iter().map(|t| t.task_id).collect()
        }
    };
    let needs_day = matches!(action, Action::Update(e) if e.at_time.is_some());
    if (needs_tags || needs_day) && tasks.is_none() {
        return Plan::NeedTasks;
    }
    // "move it up a day" needs a date to move from ("postpone" counts from now)
    if let (Action::Update(edit), Some(tasks), [id]) = (action, tasks, ids.as_slice())
        && edit.shift.is_some_and(|s| s.days < 0 || s.minutes < 0)
        && tasks.iter().any(|t| t.task_id == *id && t.due_at.is_none())
    {
        return about(
            format!(
                "Task #{id} has no due date to move earlier. Tell me when it is due instead, e.g. \"move task {id} to friday\"."
            ),
            *id,
        );
    }
    // "move it by half an hour" needs a time to move from: a date-only task has none
    if let (Action::Update(edit), Some(tasks), [id]) = (action, tasks, ids.as_slice())
        && edit.shift.is_some_and(|s| s.minutes != 0)
        && tasks
            .iter()
            .any(|t| t.task_id == *id && t.due_at.is_some() && !t.due_has_time)
    {
        return about(
            format!(
                "Task #{id} is due on a day with no time set, so I can't move it by minutes or hours. Give it a time instead, e.g. \"move task {id} to 5pm\"."
            ),
            *id,
        );
    }
    // "tag tasks 1 and 5 as groceries", "push today's tasks back an hour": a call for each task,
    // from where it stands (one turn, so one undo reverts them all)
    if needs_tags && ids.len() > 1 {
        let Some(tasks) = tasks else {
            return Plan::NeedTasks;
        };
        let movable = |id: &i32| {
            let Action::Update(edit) = action else {
                return true;
            };
            let task = tasks.iter().find(|t| t.task_id == *id);
            match edit.shift {
                Some(s) if s.minutes != 0 => task.is_some_and(|t| t.due_has_time),
                Some(s) if s.days < 0 => task.is_some_and(|t| t.due_at.is_some()),
                _ => true,
            }
        };
        let ids: Vec<i32> = ids.into_iter().filter(movable).collect();
        if ids.is_empty() {
            return say(
                "None of those tasks has a due date or time to move from, so I changed nothing. Give them a date or time instead.",
            );
        }
        return Plan::Calls(
            ids.iter()
                .map(|id| call_for(action, &[*id], Some(tasks), &ctx.clock))
                .collect(),
        );
    }
    Plan::Calls(vec![call_for(action, &ids, tasks, &ctx.clock)])
}

/// The tasks "the dentist and the rent" names when each part of it names exactly one task (two
/// parts or more, each a different task); `None` otherwise.
fn one_task_each(tasks: &[ToolTask], query: &str, prefer: Prefer) -> Option<Vec<i32>> {
    let parts: Vec<&str> = parse::list_items(query)
        .map(|p| p.trim_start_matches("the ").trim())
        .filter(|p| !p.is_empty())
        .collect();
    if parts.len() < 2 {
        return None;
    }
    let found: Vec<Found> = parts
        .iter()
        .map(|part| resolve::find_by_title(tasks, part, prefer))
        .collect();
    let sure: Vec<i32> = found
        .iter()
        .filter_map(|f| match f {
            Found::One(task) => Some(task.task_id),
            _ => None,
        })
        .collect();
    let mut ids = Vec::with_capacity(parts.len());
    for f in found {
        let id = match f {
            Found::One(task) => task.task_id,
            // "the milk" beside "the oat milk": the milk task the other part does not name
            Found::Several(several) => match several
                .iter()
                .filter(|t| !sure.contains(&t.task_id))
                .collect::<Vec<_>>()
                .as_slice()
            {
                [one] => one.task_id,
                _ => return None,
            },
            _ => return None,
        };
        if ids.contains(&id) {
            return None;
        }
        ids.push(id);
    }
    Some(ids)
}

const WHICH_TASK: &str = "Which task do you mean? Tell me its number or part of its title.";

/// The tasks a reference names without the task list: by number, "it", or a place in the list
/// last shown. A question back when the conversation has no such task; `Ok(vec![])` for a
/// reference that needs the task list (a title, a selector) or names nothing.
fn referenced(target: &Target, ctx: &Context<'_>) -> Result<Vec<i32>, Plan> {
    match target {
        Target::Ids(ids) => Ok(ids.clone()),
        Target::Previous if ctx.state.tasks.is_empty() => Err(say(WHICH_TASK)),
        Target::Previous => Ok(ctx.state.tasks.clone()),
        // "them": the tasks just shown, else the ones just talked about
        Target::Listed(positions) if positions.is_empty() => {
            let shown = match (&ctx.state.question, shown(ctx)) {
                (None, []) => &ctx.state.tasks[..],
                (_, shown) => shown,
            };
            if shown.is_empty() {
                Err(say(WHICH_TASK))
            } else {
                Ok(shown.to_vec())
            }
        }
        Target::Listed(positions) => positions.iter().map(|p| pick(*p, ctx)).collect(),
        Target::Title(_) | Target::All(_) | Target::Missing => Ok(Vec::new()),
    }
}

/// "duplicate task 3": a new task with that one's title, notes, date, priority, tags and repeat
/// (left to do, whatever the original's state).
fn copy(target: &Target, ctx: &Context<'_>, tasks: Option<&[ToolTask]>) -> Plan {
    let Some(tasks) = tasks else {
        return Plan::NeedTasks;
    };
    let id = match target {
        _ if means_newest(target, ctx) => tasks.iter().map(|t| t.task_id).max(),
        Target::Ids(_) | Target::Previous | Target::Listed(_) => match referenced(target, ctx) {
            Ok(ids) if ids.len() == 1 => ids.first().copied(),
            Ok(_) => return say("Which one should I copy? Tell me one task's number."),
            Err(reply) => return reply,
        },
        Target::Title(query) => match resolve::find_by_title(tasks, query, Prefer::Any) {
            Found::One(task) => Some(task.task_id),
            Found::Several(found) | Found::Maybe(found) => {
                let names: Vec<String> = found.iter().map(reply::named).collect();
                return chat(
                    format!(
                        "Which one should I copy: {}? Say \"copy task N\".",
                        names.join(" or ")
                    ),
                    ctx,
                );
            }
            Found::Nothing => {
                return no_title_match(query);
            }
        },
        Target::All(_) | Target::Missing => return say(WHICH_TASK),
    };
    let Some(task) = id.and_then(|id| tasks.iter().find(|t| t.task_id == id)) else {
        return no_task_number(id.unwrap_or_default());
    };
    Plan::Calls(vec![Tool::AddTask(AddTaskArgs {
        title: task.title.clone(),
        description: task.description.clone(),
        due: task.due_at.map(|at| {
            parse::due_argument(
                todo_common::when::Due {
                    at,
                    has_time: task.due_has_time,
                },
                &ctx.clock,
            )
        }),
        priority: Some(task.priority).filter(|p| *p != Priority::None),
        tags: (!task.tags.is_empty()).then(|| task.tags.clone()),
        repeat: task.repeat.clone(),
    })])
}

/// The reply when no task's title matches `query` (a question, so nothing was changed).
fn no_title_match(query: &str) -> Plan {
    say(format!(
        "I couldn't find a task matching {}. Say \"show my tasks\" to see them.",
        reply::quote(query)
    ))
}

/// The reply when the user has no task `#id`.
fn no_task_number(id: i32) -> Plan {
    say(format!(
        "I couldn't find task #{id}. Say \"show my tasks\" to see your tasks and their numbers."
    ))
}

/// One task in full ("show task 3"), from the task list; several when a title matches several.
fn show(target: &Target, ctx: &Context<'_>, tasks: Option<&[ToolTask]>) -> Plan {
    let Some(tasks) = tasks else {
        return Plan::NeedTasks;
    };
    let ids: Vec<i32> = match target {
        // "show the last task" with no list shown and no task talked about: the newest one
        _ if means_newest(target, ctx) => {
            tasks.iter().map(|t| t.task_id).max().into_iter().collect()
        }
        Target::Ids(_) | Target::Previous | Target::Listed(_) => match referenced(target, ctx) {
            Ok(ids) => ids,
            Err(reply) => return reply,
        },
        Target::Title(query) => match resolve::find_by_title(tasks, query, Prefer::Any) {
            Found::One(task) => vec![task.task_id],
            Found::Several(found) | Found::Maybe(found) => {
                found.iter().map(|t| t.task_id).collect()
            }
            Found::Nothing => {
                return no_title_match(query);
            }
        },
        Target::All(_) | Target::Missing => return say(WHICH_TASK),
    };
    let found: Vec<&ToolTask> = ids
        .iter()
        .filter_map(|id| tasks.iter().find(|t| t.task_id == *id))
        .collect();
    if found.is_empty() {
        return no_task_number(ids.first().copied().unwrap_or_default());
    }
    Plan::Reply(
        found
            .iter()
            .map(|t| reply::task_card(t))
            .collect::<Vec<_>>()
            .join("\n\n"),
        Box::new(AgentState {
            tasks: found.iter().map(|t| t.task_id).collect(),
            ..AgentState::default()
        }),
    )
}

/// The tasks the reply is about, for "it" next turn.
fn mentioned(outputs: &[ToolOutput]) -> Vec<i32> {
    let mut ids = Vec::new();
    for o in outputs {
        match o {
            ToolOutput::Created(t)
            | ToolOutput::Updated(t)
            | ToolOutput::Completed(t)
            | ToolOutput::Reopened(t) => ids.push(t.task.task_id),
            ToolOutput::Listed { tasks, .. } if tasks.len() == 1 => ids.push(tasks[0].task_id),
            ToolOutput::Bulk { tasks, .. } => ids.extend(tasks.iter().map(|t| t.task_id)),
            _ => {}
        }
    }
    ids
}

pub struct BuiltinAgent;

/// A turn the built-in agent answers in one step, decided from what the turn's start read alone
/// (no task list, at most one call): it can run and finish in the transaction that starts it
/// (`crate::batch`).
pub enum OneStep {
    /// Answer without touching a task: the reply and the state it leaves.
    Reply { text: String, state: Option<Value> },
    /// Make this call; `reply` writes the answer from its output.
    Call { tool: Tool, reply: ReplyFn },
}

impl BuiltinAgent {
    /// Reads `input`'s message and plans it; `None` when the plan needs the user's tasks or more
    /// than one call (the turn then runs step by step, [`BuiltinAgent::run`]). CPU work: call it
    /// off the async workers.
    pub fn one_step(input: &TurnInput<'_>) -> Option<OneStep> {
        let (intent, step) = first_plan(
            input.message,
            input.clock,
            AgentState::from_history(input.history),
            input.pending,
        );
        match step {
            Plan::Reply(text, state) => Some(OneStep::Reply {
                text,
                state: state_value(&state),
            }),
            Plan::Calls(mut calls) if calls.len() == 1 => {
                let tool = calls.remove(0);
                Some(OneStep::Call {
                    tool,
                    reply: reply_fn(intent, Vec::new(), input.clock),
                })
            }
            Plan::Calls(_) | Plan::NeedTasks => None,
        }
    }

    pub async fn run(
        &self,
        input: &TurnInput<'_>,
        tools: &mut ToolExecutor,
        events: &EventSink,
    ) -> Result<AgentReply, AgentError> {
        let clock = input.clock;
        let state = AgentState::from_history(input.history);
        let pending = input.pending.cloned();
        // Reading and matching are CPU work bounded by the message size (10 000 characters) and
        // the task list (200): done on the blocking pool, never on the async workers.
        let message = input.message.to_owned();
        let (intent, mut step) = {
            let state = state.clone();
            let pending = pending.clone();
            tokio::task::spawn_blocking(move || {
                first_plan(&message, clock, state, pending.as_ref())
            })
            .await
            .map_err(|e| AgentError::Provider(format!("the built-in agent failed: {e}")))?
        };
        if step == Plan::NeedTasks {
            let lookup = Tool::ListTasks(ListTasksArgs {
                limit: Some(todo_common::tasks::LIST_LIMIT_MAX),
                ..ListTasksArgs::default()
            });
            let (output, call) = tools.call(&lookup).await?;
            events.tool(&call, Some(&output)).await?;
            let tasks = match output {
                ToolOutput::Listed { tasks, .. } => tasks,
                _ => Vec::new(),
            };
            let intent = intent.clone();
            step = tokio::task::spawn_blocking(move || {
                let ctx = Context {
                    clock,
                    state,
                    pending: pending.as_ref(),
                };
                plan(&intent, &ctx, Some(&tasks))
            })
            .await
            .map_err(|e| AgentError::Provider(format!("the built-in agent failed: {e}")))?;
        }
        let (text, state) = match step {
            Plan::Reply(text, state) => (text, *state),
            Plan::NeedTasks => (
                "Sorry, I couldn't look up your tasks just now.".to_owned(),
                AgentState::default(),
            ),
            Plan::Calls(calls) => {
                let mut outputs = Vec::with_capacity(calls.len());
                for (i, tool) in calls.iter().enumerate() {
                    // No further tool call once the user stopped the turn.
                    if events.is_cancelled() {
                        return Err(AgentError::Cancelled);
                    }
                    if i + 1 < calls.len() {
                        let (output, call) = tools.call(tool).await?;
                        events.tool(&call, Some(&output)).await?;
                        outputs.push(output);
                        continue;
                    }
                    // The last call: the reply is written from its output in its transaction,
                    // and the turn is stored done with it.
                    let reply = reply_fn(intent.clone(), outputs.clone(), clock);
                    let (output, call, finished) = tools.call_and_finish(tool, reply).await?;
                    events.tool(&call, Some(&output)).await?;
                    if let Some(done) = finished {
                        if let EventBody::Done { response, .. } = &done.body {
                            events.delta(response).await?;
                        }
                        return Ok(AgentReply::Stored(done));
                    }
                    outputs.push(output);
                }
                (
                    reply::write(&intent, &outputs, &clock),
                    answer_state(&intent, &outputs, &clock),
                )
            }
        };
        // The whole reply is known at once: one delta (a model's tokens are coalesced instead).
        events.delta(&text).await?;
        Ok(AgentReply::Answer {
            response: text,
            state: state_value(&state),
        })
    }
}

/// What `message` asks, read in the light of the last reply: after a "which one?", a title
/// ("the oat one") or "both" may be the answer ([`Intent::AnswerByTitle`]).
pub fn read(message: &str, clock: &Clock, state: &AgentState) -> Intent {
    let intent = parse::parse(message, clock);
    if state.question.is_some() && parse::may_answer_by_title(message, &intent) {
        return Intent::AnswerByTitle(parse::answer_words(message), Box::new(intent));
    }
    on_it_or_list(intent, state)
}

/// [`Intent::OnItOrList`] settled by the last reply ("tomorrow" alone: that task's new date when
/// one task is in view, else what is due then); any other intent as it is.
fn on_it_or_list(intent: Intent, state: &AgentState) -> Intent {
    match intent {
        Intent::OnItOrList(on_it, _) if state.tasks.len() == 1 => *on_it,
        Intent::OnItOrList(_, query) => Intent::List(query),
        other => other,
    }
}

/// Reads `message` and plans it from the conversation alone (before any task list is read).
fn first_plan(
    message: &str,
    clock: Clock,
    state: AgentState,
    pending: Option<&PendingAction>,
) -> (Intent, Plan) {
    let intent = read(message, &clock, &state);
    let ctx = Context {
        clock,
        state,
        pending,
    };
    let step = plan(&intent, &ctx, None);
    (intent, step)
}

/// The state an answer about these call outputs leaves for the next turn.
fn answer_state(intent: &Intent, outputs: &[ToolOutput], clock: &Clock) -> AgentState {
    let listed = outputs
        .iter()
        .rev()
        .find_map(|o| match o {
            ToolOutput::Listed { tasks, .. } if tasks.len() > 1 => {
                Some(match intent {
                    // "the second one" of a listing by priority is the second shown
                    Intent::List(q) if reply::keeps_order(q) => {
                        tasks.iter().map(|t| t.task_id).collect()
                    }
                    _ => reply::shown_order(tasks, clock),
                })
            }
            _ => None,
        })
        .unwrap_or_default();
    let changed = outputs.iter().any(|o| {
        matches!(
            o,
            ToolOutput::Created(_)
                | ToolOutput::Updated(_)
                | ToolOutput::Completed(_)
                | ToolOutput::Reopened(_)
                | ToolOutput::Deleted(_)
                | ToolOutput::Bulk { .. }
        )
    });
    let added = outputs.iter().any(|o| matches!(o, ToolOutput::Created(_)));
    let redo = match outputs {
        [ToolOutput::Completed(o)] if !o.already_completed => Some(Redo::Complete),
        [ToolOutput::Reopened(_)] => Some(Redo::Reopen),
        [ToolOutput::Deleted(_)] => Some(Redo::Delete),
        _ => None,
    };
    AgentState {
        tasks: mentioned(outputs),
        question: None,
        listed,
        changed,
        added,
        redo,
    }
}

/// The state as stored on the assistant message (nothing when there is nothing to remember).
fn state_value(state: &AgentState) -> Option<Value> {
    serde_json::to_value(state)
        .ok()
        .filter(|v| v != &Value::Object(Default::default()))
}

/// Writes the reply once the last call's output is known, from the outputs of the calls before it.
fn reply_fn(intent: Intent, earlier: Vec<ToolOutput>, clock: Clock) -> ReplyFn {
    Box::new(move |last: &ToolOutput| {
        let mut outputs = earlier.clone();
        outputs.push(last.clone());
        let text = reply::write(&intent, &outputs, &clock);
        (text, state_value(&answer_state(&intent, &outputs, &clock)))
    })
}
