//! The built-in offline agent: understands plain-English todo requests without any network.
//!
//! [`parse`] turns a message (and the conversation so far) into an [`Intent`]; [`BuiltinAgent::run`]
//! carries it out through the same tools a model would call, resolving tasks referred to by number,
//! by (fuzzy) title or as "it", asking a short question when a reference is ambiguous, and
//! answering in a sentence that confirms what was done.

use std::sync::LazyLock;

use regex::Regex;
use serde_json::{Value, json};
use todo_common::chat::Message;
use todo_common::tasks::StatusFilter;

use crate::error::AgentError;
use crate::events::EventSink;
use crate::tools::{ADD_TASK, COMPLETE_TASK, DELETE_TASK, LIST_TASKS, ToolExecutor, UPDATE_TASK};

use super::AgentReply;

/// How a message refers to a task.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum TaskRef {
    Id(i32),
    Title(String),
    /// "it", "that one": the task the conversation was just about.
    Previous,
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Intent {
    Add {
        title: String,
        description: Option<String>,
    },
    List(StatusFilter),
    Count(StatusFilter),
    Complete(TaskRef),
    Update {
        target: TaskRef,
        title: Option<String>,
        description: Option<String>,
    },
    Delete(TaskRef),
    /// An add request whose title is missing ("add a task").
    AddWithoutTitle,
    /// "mark task 3 as not done": no tool reopens a task.
    Reopen,
    Greeting,
    Help,
    Thanks,
    Unknown,
}

macro_rules! re {
    ($name:ident, $pat:expr) => {
        static $name: LazyLock<Regex> = LazyLock::new(|| Regex::new($pat).expect("valid regex"));
    };
}

re!(
    GREETING,
    r"(?i)^(hi|hello|hey|hiya|howdy|yo|good (morning|afternoon|evening)|greetings)( there)?[\s!.,]*(\w+)?[\s!.]*$"
);
re!(
    HELP,
    r"(?i)^(help|\?|what can you do|what do you do|how does (this|it) work|how do i use (this|you)|commands|usage)\b"
);
re!(
    THANKS,
    r"(?i)^(thanks|thank you|thx|ty|cheers|great|perfect|awesome|ok|okay|cool|nice|got it)\b[\s\w!.]{0,20}$"
);
re!(
    HOW_MANY,
    r"(?i)\bhow many\b|\bcount (my|the)?\s*(tasks|todos)\b|\bnumber of (tasks|todos)\b"
);
re!(
    DELETE,
    r"(?i)^(?:please\s+)?(?:can you\s+|could you\s+)?(?:delete|remove|erase|cancel|drop|trash|scratch|get rid of|clear)\s+(.+)$"
);
re!(
    MARK_DONE,
    r"(?i)^(?:please\s+)?(?:can you\s+|could you\s+)?(?:mark|set|flag)\s+(.+?)\s+(?:as\s+)?(?:done|complete|completed|finished)\b.*$"
);
re!(
    COMPLETE_VERB,
    r"(?i)^(?:please\s+)?(?:can you\s+|could you\s+)?(?:complete|finish|check off|tick off|close)\s+(.+)$"
);
re!(
    I_DID,
    r"(?i)^(?:i\s+|i've\s+|ive\s+|i have\s+|we\s+)?(?:just\s+|already\s+|finally\s+)?(?:finished|completed|done with|did|done|got done|wrapped up)\s+(.+)$"
);
re!(
    I_AM_DONE,
    r"(?i)^(?:i'm|im|i am)\s+(?:done|finished)\s+(?:with\s+)?(.+)$"
);
re!(
    IS_DONE,
    r"(?i)^(.+?)\s+is\s+(?:now\s+)?(?:done|complete|completed|finished)\b.*$"
);
re!(
    UPDATE_DESC,
    r"(?i)^(?:please\s+)?(?:change|update|edit|modify|set)\s+(?:the\s+)?(?:description|details|notes?)\s+(?:of|for|on)\s+(.+?)\s+(?:to|as)\s+(.+)$"
);
re!(
    UPDATE_DESC2,
    r"(?i)^(?:please\s+)?(?:change|update|edit|modify|set)\s+(.+?)(?:'s)?\s+(?:description|details|notes?)\s+(?:to|as)\s+(.+)$"
);
re!(
    UPDATE_TITLE,
    r"(?i)^(?:please\s+)?(?:can you\s+|could you\s+)?(?:change|rename|update|edit|modify|retitle|set)\s+(?:the\s+)?(?:title\s+of\s+|name\s+of\s+)?(.+?)(?:'s)?(?:\s+(?:title|name))?\s+(?:to|into|as)\s+(.+)$"
);
re!(
    ADD,
    r"(?i)^(?:please\s+)?(?:can you\s+|could you\s+|would you\s+)?(?:add|create|make|put|insert|new|save|log|schedule|jot down|write down)\b\s*(.*)$"
);
re!(
    REMIND,
    r"(?i)^(?:please\s+)?(?:remind me(?:\s+to)?|i need to|i have to|i must|i should|i gotta|i've got to|don't forget to|dont forget to|do not forget to|remember to|note to self:?|todo:|to-do:|task:)\s+(.+)$"
);
re!(
    ADD_PREFIX,
    r"(?i)^(?:(?:a|an|the|another|one more|one)\s+)?(?:new\s+)?(?:task|todo|to-do|to do|item|reminder|entry|note)?s?\s*(?:to\s+|called\s+|named\s+|titled\s+|saying\s+|that says\s+|for\s+|about\s+|:\s*|-\s*)?(.*)$"
);
re!(
    ADD_SUFFIX,
    r"(?i)\s+(?:to|on|in|onto|into)\s+(?:my|the)\s+(?:[\w-]+\s+)?(?:todo\s+|to-do\s+|to do\s+|task\s+|tasks\s+)?(?:list|tasks|todos|to-dos)$"
);
re!(
    REOPEN,
    r"(?i)\b(not done|not complete|not completed|not finished|undo|uncomplete|un-complete|reopen|re-open|unmark)\b|\bmark .+ as (?:pending|open|incomplete|todo)\b"
);
re!(
    DESCRIPTION,
    r"(?i)^(.+?)\s*(?:,\s*|\s+)(?:with\s+(?:the\s+)?(?:description|details|notes?)|description:|details:|notes?:|desc:)\s*[:\-]?\s*(.+)$"
);
re!(
    LIST_VERB,
    r"(?i)\b(show|list|display|view|see|get|what|what's|whats|which|give me|tell me|read|check|remaining|outstanding|any)\b"
);
re!(
    LIST_NOUN,
    r"(?i)\b(tasks?|todos?|to-dos?|to do|list|pending|completed|complete|done|finished|left|remaining|open|outstanding|unfinished|incomplete|plate|agenda)\b"
);
re!(
    BARE_LIST,
    r"(?i)^(?:my\s+)?(?:tasks|todos|to-dos|list|todo list|pending|completed|done|everything|all)\s*[?!.]*$"
);
re!(
    PENDING_WORDS,
    r"(?i)\b(pending|left|remaining|open|outstanding|unfinished|incomplete|not done|to do|todo|still|need to do|plate|active|due)\b"
);
re!(
    COMPLETED_WORDS,
    r"(?i)\b(completed|complete|done|finished|accomplished|checked off|did i)\b"
);
re!(
    TASK_NUMBER,
    r"(?i)^(?:the\s+)?(?:task|todo|to-do|item|number|no\.?|#)?\s*(?:number\s+|no\.?\s*|#)?\s*#?(\d{1,9})(?:\s*(?:task|todo|item))?$"
);
re!(
    PREVIOUS,
    r"(?i)^(?:it|that|this|that one|this one|that task|this task|the last one|the one you just added)$"
);
re!(
    NUMBER_REPLY,
    r"(?i)^(?:the\s+)?(?:task\s+|number\s+|#\s*)?#?(\d{1,9})(?:\s+please)?[.!]?$"
);

/// Lower-cased words that carry no meaning when matching a title.
const STOPWORDS: &[&str] = &[
    "the", "a", "an", "my", "to", "task", "tasks", "todo", "item", "for", "of", "on", "with",
    "and", "please", "that", "this", "one", "about", "i", "me", "it", "is", "as", "at", "in",
];

fn strip_punctuation(s: &str) -> &str {
    s.trim().trim_end_matches(['.', '!', '?', ',', ';']).trim()
}

fn unquote(s: &str) -> &str {
    let s = s.trim();
    for (open, close) in [('"', '"'), ('\'', '\''), ('“', '”'), ('‘', '’'), ('`', '`')] {
        if let Some(inner) = s.strip_prefix(open).and_then(|r| r.strip_suffix(close)) {
            return inner.trim();
        }
    }
    s
}

/// Capitalizes the first letter of a title.
fn capitalize(s: &str) -> String {
    let mut chars = s.chars();
    match chars.next() {
        Some(first) => first.to_uppercase().chain(chars).collect(),
        None => String::new(),
    }
}

fn clean_title(raw: &str) -> String {
    let s = strip_punctuation(raw);
    let s = ADD_SUFFIX.replace(s, "");
    let s = unquote(strip_punctuation(&s));
    capitalize(s)
}

/// Parses what a task reference names.
pub fn parse_ref(raw: &str) -> TaskRef {
    let s = unquote(strip_punctuation(raw));
    if let Some(c) = TASK_NUMBER.captures(s)
        && let Ok(n) = c[1].parse::<i32>()
    {
        return TaskRef::Id(n);
    }
    if PREVIOUS.is_match(s) {
        return TaskRef::Previous;
    }
    let mut t = s.to_owned();
    for prefix in ["the ", "my ", "a ", "that ", "this "] {
        if t.to_lowercase().starts_with(prefix) {
            t = t[prefix.len()..].to_owned();
        }
    }
    for suffix in [" task", " todo", " item", " one", " reminder"] {
        if t.to_lowercase().ends_with(suffix) && t.len() > suffix.len() {
            t.truncate(t.len() - suffix.len());
        }
    }
    let t = unquote(&t);
    // "task 'buy milk'" / "task called buy milk"
    let t = t
        .strip_prefix("task ")
        .or_else(|| t.strip_prefix("Task "))
        .map_or(t, |r| {
            r.trim_start_matches("called ").trim_start_matches("named ")
        });
    TaskRef::Title(unquote(t).to_owned())
}

fn status_from_words(text: &str) -> StatusFilter {
    let completed = COMPLETED_WORDS.is_match(text);
    let pending = PENDING_WORDS.is_match(text)
        || text.to_lowercase().contains("have to do")
        || text.to_lowercase().contains("need to do");
    match (pending, completed) {
        (true, false) => StatusFilter::Pending,
        (false, true) => StatusFilter::Completed,
        _ => StatusFilter::All,
    }
}

/// Understands one message.
pub fn parse(message: &str) -> Intent {
    let text = message.trim();
    let lower = text.to_lowercase();
    let bare = strip_punctuation(text);

    if GREETING.is_match(bare) {
        return Intent::Greeting;
    }
    if HELP.is_match(bare) {
        return Intent::Help;
    }
    if THANKS.is_match(bare) && bare.split_whitespace().count() <= 4 {
        return Intent::Thanks;
    }
    if HOW_MANY.is_match(&lower) {
        return Intent::Count(status_from_words(&lower));
    }
    if REOPEN.is_match(bare) {
        return Intent::Reopen;
    }
    if let Some(c) = UPDATE_DESC
        .captures(bare)
        .or_else(|| UPDATE_DESC2.captures(bare))
    {
        return Intent::Update {
            target: parse_ref(&c[1]),
            title: None,
            description: Some(unquote(&c[2]).to_owned()),
        };
    }
    if let Some(c) = DELETE.captures(bare) {
        let target = &c[1];
        if !target.trim().is_empty() {
            return Intent::Delete(parse_ref(target));
        }
    }
    if let Some(c) = MARK_DONE
        .captures(bare)
        .or_else(|| COMPLETE_VERB.captures(bare))
        .or_else(|| I_AM_DONE.captures(bare))
        .or_else(|| I_DID.captures(bare))
    {
        return Intent::Complete(parse_ref(&c[1]));
    }
    if let Some(c) = UPDATE_TITLE.captures(bare) {
        let target = parse_ref(&c[1]);
        let new_title = clean_title(&c[2]);
        if !new_title.is_empty() {
            return Intent::Update {
                target,
                title: Some(new_title),
                description: None,
            };
        }
    }
    if let Some(c) = IS_DONE.captures(bare)
        && !LIST_VERB.is_match(&c[1])
    {
        return Intent::Complete(parse_ref(&c[1]));
    }
    let add_body = ADD
        .captures(bare)
        .map(|c| {
            let rest = c[1].to_owned();
            ADD_PREFIX
                .captures(&rest)
                .map_or(rest.clone(), |p| p[1].to_owned())
        })
        .or_else(|| REMIND.captures(bare).map(|c| c[1].to_owned()));
    if let Some(body) = add_body {
        let (title, description) = match DESCRIPTION.captures(&body) {
            Some(d) => (
                clean_title(&d[1]),
                Some(unquote(strip_punctuation(&d[2])).to_owned()),
            ),
            None => (clean_title(&body), None),
        };
        return if title.is_empty() {
            Intent::AddWithoutTitle
        } else {
            Intent::Add {
                title,
                description: description.filter(|d| !d.is_empty()),
            }
        };
    }
    if BARE_LIST.is_match(bare) || (LIST_VERB.is_match(&lower) && LIST_NOUN.is_match(&lower)) {
        return Intent::List(status_from_words(&lower));
    }
    Intent::Unknown
}

/// Words of a title or reference, lower-cased, stop words dropped, crudely stemmed.
fn keywords(s: &str) -> Vec<String> {
    s.to_lowercase()
        .split(|c: char| !c.is_alphanumeric())
        .filter(|w| !w.is_empty() && !STOPWORDS.contains(w))
        .map(stem)
        .collect()
}

fn stem(word: &str) -> String {
    for suffix in ["ing", "ed", "es", "s"] {
        if word.len() > suffix.len() + 2
            && let Some(base) = word.strip_suffix(suffix)
        {
            return base.to_owned();
        }
    }
    word.to_owned()
}

/// How well `title` matches `query`, 0.0–1.0.
pub fn match_score(title: &str, query: &str) -> f64 {
    let q = keywords(query);
    if q.is_empty() {
        return 0.0;
    }
    let t = keywords(title);
    let matched = q
        .iter()
        .filter(|qw| {
            t.iter().any(|tw| {
                tw == *qw
                    || (qw.len() >= 3 && tw.starts_with(qw.as_str()))
                    || (tw.len() >= 3 && qw.starts_with(tw.as_str()))
                    || strsim::jaro_winkler(tw, qw) >= 0.9
            })
        })
        .count();
    let mut score = matched as f64 / q.len() as f64;
    if title.to_lowercase().contains(&query.to_lowercase()) {
        score = score.max(1.0);
    }
    score
}

#[derive(Debug, Clone)]
struct Listed {
    id: i32,
    title: String,
    completed: bool,
}

fn listed(result: &Value) -> Vec<Listed> {
    result["tasks"]
        .as_array()
        .map(|tasks| {
            tasks
                .iter()
                .filter_map(|t| {
                    Some(Listed {
                        id: i32::try_from(t["task_id"].as_i64()?).ok()?,
                        title: t["title"].as_str()?.to_owned(),
                        completed: t["completed"].as_bool().unwrap_or(false),
                    })
                })
                .collect()
        })
        .unwrap_or_default()
}

/// The action a clarifying question was about, remembered from the assistant's last message.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Pending {
    Complete,
    Delete,
}

const ASK_COMPLETE: &str = "Which one should I mark as done?";
const ASK_DELETE: &str = "Which one should I delete?";

fn pending_question(history: &[Message]) -> Option<Pending> {
    let last = history.iter().rev().find(|m| m.role == "assistant")?;
    if last.content.contains(ASK_COMPLETE) {
        Some(Pending::Complete)
    } else if last.content.contains(ASK_DELETE) {
        Some(Pending::Delete)
    } else {
        None
    }
}

/// The task the conversation was last about (from the latest tool result that names one).
fn previous_task(history: &[Message]) -> Option<i32> {
    history
        .iter()
        .rev()
        .filter(|m| m.role == "assistant")
        .find_map(|m| {
            m.tool_calls.0.as_array()?.iter().rev().find_map(|call| {
                let tool = call["tool"].as_str()?;
                if tool == LIST_TASKS {
                    return None;
                }
                i32::try_from(call["result"]["task_id"].as_i64()?).ok()
            })
        })
}

const HELP_TEXT: &str = "I can manage your tasks. Try: \"add a task to buy milk\", \"show my tasks\", \
\"what's pending?\", \"mark task 3 as done\", \"change task 1 to 'Call mom tonight'\", \"delete task 2\" \
or \"how many tasks do I have?\"";

fn quote(title: &str) -> String {
    format!("\u{201c}{title}\u{201d}")
}

fn format_list(tasks: &[Listed]) -> String {
    tasks
        .iter()
        .map(|t| {
            format!(
                "\n• #{} {}{}",
                t.id,
                t.title,
                if t.completed { " (done)" } else { "" }
            )
        })
        .collect()
}

pub struct BuiltinAgent;

enum Resolved {
    Task(Listed),
    Reply(String),
}

impl BuiltinAgent {
    pub async fn run(
        &self,
        message: &str,
        history: &[Message],
        tools: &mut ToolExecutor,
        events: &EventSink,
    ) -> Result<AgentReply, AgentError> {
        let mut intent = parse(message);
        // A short answer to our own clarifying question continues that action.
        if let Some(pending) = pending_question(history)
            && matches!(
                intent,
                Intent::Unknown | Intent::List(_) | Intent::Complete(_) | Intent::Delete(_)
            )
        {
            let bare = strip_punctuation(message);
            let target = NUMBER_REPLY
                .captures(bare)
                .and_then(|c| c[1].parse().ok())
                .map(TaskRef::Id)
                .or_else(|| matches!(intent, Intent::Unknown).then(|| parse_ref(bare)));
            if let Some(target) = target {
                intent = match pending {
                    Pending::Complete => Intent::Complete(target),
                    Pending::Delete => Intent::Delete(target),
                };
            }
        }
        let reply = self.act(intent, history, tools, events).await?;
        events.stream_text(&reply).await?;
        Ok(AgentReply { response: reply })
    }

    async fn call(
        &self,
        tools: &mut ToolExecutor,
        events: &EventSink,
        tool: &str,
        args: Value,
    ) -> Result<Value, AgentError> {
        let call = tools.call(tool, args).await?;
        events.tool(&call).await?;
        Ok(call.result)
    }

    async fn act(
        &self,
        intent: Intent,
        history: &[Message],
        tools: &mut ToolExecutor,
        events: &EventSink,
    ) -> Result<String, AgentError> {
        Ok(match intent {
            Intent::Greeting => format!("Hi! {HELP_TEXT}"),
            Intent::Help => HELP_TEXT.to_owned(),
            Intent::Thanks => "You're welcome! Anything else on your list?".to_owned(),
            Intent::Unknown => format!("Sorry, I didn't catch that. {HELP_TEXT}"),
            Intent::Reopen => {
                "I can't reopen a completed task from the chat yet. You can do it in the app \
(set `completed` to false), or add it again as a new task."
                    .to_owned()
            }
            Intent::AddWithoutTitle => {
                "Sure, what should the task say? For example: \"add a task to buy milk\"."
                    .to_owned()
            }
            Intent::Add { title, description } => {
                let mut args = json!({"title": title});
                if let Some(d) = &description {
                    args["description"] = json!(d);
                }
                let result = self.call(tools, events, ADD_TASK, args).await?;
                match result.get("error") {
                    Some(e) => format!(
                        "I couldn't add that task: {}.",
                        e["message"].as_str().unwrap_or("invalid input")
                    ),
                    None => {
                        let id = result["task_id"].as_i64().unwrap_or_default();
                        let title = result["title"].as_str().unwrap_or(&title);
                        match description {
                            Some(_) => format!(
                                "Done! I added {} (task #{id}) with its description to your list.",
                                quote(title)
                            ),
                            None => format!(
                                "Done! I added {} to your list as task #{id}.",
                                quote(title)
                            ),
                        }
                    }
                }
            }
            Intent::List(filter) => {
                let result = self
                    .call(tools, events, LIST_TASKS, json!({"status": filter}))
                    .await?;
                let tasks = listed(&result);
                let (adjective, none) = match filter {
                    StatusFilter::All => (
                        "",
                        "You have no tasks yet. Say \"add a task to …\" to create one.",
                    ),
                    StatusFilter::Pending => {
                        ("pending ", "You have no pending tasks. All caught up!")
                    }
                    StatusFilter::Completed => {
                        ("completed ", "You haven't completed any tasks yet.")
                    }
                };
                if tasks.is_empty() {
                    none.to_owned()
                } else {
                    if tasks.len() == 1 {
                        format!("You have one {adjective}task:{}", format_list(&tasks))
                    } else {
                        format!(
                            "Here are your {} {adjective}tasks:{}",
                            tasks.len(),
                            format_list(&tasks)
                        )
                    }
                }
            }
            Intent::Count(filter) => {
                let result = self
                    .call(tools, events, LIST_TASKS, json!({"status": "all"}))
                    .await?;
                let tasks = listed(&result);
                let done = tasks.iter().filter(|t| t.completed).count();
                let pending = tasks.len() - done;
                let plural = |n: usize| if n == 1 { "task" } else { "tasks" };
                match filter {
                    StatusFilter::All => format!(
                        "You have {} {}: {pending} pending and {done} completed.",
                        tasks.len(),
                        plural(tasks.len())
                    ),
                    StatusFilter::Pending => {
                        format!("You have {pending} pending {}.", plural(pending))
                    }
                    StatusFilter::Completed => {
                        format!("You have completed {done} {}.", plural(done))
                    }
                }
            }
            Intent::Complete(target) => match self
                .resolve(&target, history, tools, events, Pending::Complete)
                .await?
            {
                Resolved::Reply(r) => r,
                Resolved::Task(task) => {
                    let result = self
                        .call(tools, events, COMPLETE_TASK, json!({"task_id": task.id}))
                        .await?;
                    if let Some(e) = result.get("error") {
                        not_found_reply(task.id, e)
                    } else if result["already_completed"].as_bool() == Some(true) {
                        format!(
                            "Task #{} {} was already marked as done.",
                            task.id,
                            quote(result["title"].as_str().unwrap_or(&task.title))
                        )
                    } else {
                        format!(
                            "Nice work! I marked task #{} {} as done.",
                            task.id,
                            quote(result["title"].as_str().unwrap_or(&task.title))
                        )
                    }
                }
            },
            Intent::Delete(target) => match self
                .resolve(&target, history, tools, events, Pending::Delete)
                .await?
            {
                Resolved::Reply(r) => r,
                Resolved::Task(task) => {
                    let result = self
                        .call(tools, events, DELETE_TASK, json!({"task_id": task.id}))
                        .await?;
                    match result.get("error") {
                        Some(e) => not_found_reply(task.id, e),
                        None => format!(
                            "Deleted task #{} {}.",
                            task.id,
                            quote(result["title"].as_str().unwrap_or(&task.title))
                        ),
                    }
                }
            },
            Intent::Update {
                target,
                title,
                description,
            } => {
                match self.resolve(&target, history, tools, events, Pending::Complete).await? {
                    Resolved::Reply(r) if r.contains(ASK_COMPLETE) => {
                        r.replace(ASK_COMPLETE, "Which one do you mean? Please say it again with the task number, e.g. \"change task 2 to …\".")
                    }
                    Resolved::Reply(r) => r,
                    Resolved::Task(task) => {
                        let mut args = json!({"task_id": task.id});
                        if let Some(t) = &title {
                            args["title"] = json!(t);
                        }
                        if let Some(d) = &description {
                            args["description"] = json!(d);
                        }
                        let result = self.call(tools, events, UPDATE_TASK, args).await?;
                        match (result.get("error"), &title) {
                            (Some(e), _) if e["code"] == "TASK_NOT_FOUND" => not_found_reply(task.id, e),
                            (Some(e), _) => format!("I couldn't update that task: {}.", e["message"].as_str().unwrap_or("invalid input")),
                            (None, Some(t)) => format!("Updated task #{}: it's now called {}.", task.id, quote(t)),
                            (None, None) => format!("Updated the description of task #{} {}.", task.id, quote(result["title"].as_str().unwrap_or(&task.title))),
                        }
                    }
                }
            }
        })
    }

    /// Finds the task a reference names, or the reply to give instead (not found / which one?).
    async fn resolve(
        &self,
        target: &TaskRef,
        history: &[Message],
        tools: &mut ToolExecutor,
        events: &EventSink,
        action: Pending,
    ) -> Result<Resolved, AgentError> {
        let query = match target {
            TaskRef::Id(id) => {
                return Ok(Resolved::Task(Listed {
                    id: *id,
                    title: String::new(),
                    completed: false,
                }));
            }
            TaskRef::Previous => {
                return Ok(match previous_task(history) {
                    Some(id) => Resolved::Task(Listed {
                        id,
                        title: String::new(),
                        completed: false,
                    }),
                    None => Resolved::Reply(
                        "Which task do you mean? Tell me its number or part of its title."
                            .to_owned(),
                    ),
                });
            }
            TaskRef::Title(q) => q,
        };
        let result = self
            .call(tools, events, LIST_TASKS, json!({"status": "all"}))
            .await?;
        let tasks = listed(&result);
        if tasks.is_empty() {
            return Ok(Resolved::Reply("You don't have any tasks yet.".to_owned()));
        }
        let mut scored: Vec<(f64, Listed)> = tasks
            .into_iter()
            .map(|t| (match_score(&t.title, query), t))
            .filter(|(s, _)| *s >= 0.5)
            .collect();
        if action == Pending::Complete && scored.iter().any(|(_, t)| !t.completed) {
            scored.retain(|(_, t)| !t.completed);
        }
        scored.sort_by(|a, b| b.0.total_cmp(&a.0).then(a.1.id.cmp(&b.1.id)));
        let Some(best) = scored.first().map(|(s, _)| *s) else {
            return Ok(Resolved::Reply(format!(
                "I couldn't find a task matching {}. Say \"show my tasks\" to see them.",
                quote(query)
            )));
        };
        let top: Vec<Listed> = scored
            .into_iter()
            .filter(|(s, _)| best - *s < 0.2)
            .map(|(_, t)| t)
            .collect();
        if let [only] = top.as_slice() {
            return Ok(Resolved::Task(only.clone()));
        }
        let question = match action {
            Pending::Complete => ASK_COMPLETE,
            Pending::Delete => ASK_DELETE,
        };
        Ok(Resolved::Reply(format!(
            "I found {} tasks matching {}:{}\n{question} Reply with the task number.",
            top.len(),
            quote(query),
            format_list(&top)
        )))
    }
}

fn not_found_reply(id: i32, error: &Value) -> String {
    if error["code"] == "TASK_NOT_FOUND" {
        format!(
            "I couldn't find task #{id}. Say \"show my tasks\" to see your tasks and their numbers."
        )
    } else {
        format!(
            "That didn't work: {}.",
            error["message"].as_str().unwrap_or("unknown error")
        )
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn add(title: &str) -> Intent {
        Intent::Add {
            title: title.into(),
            description: None,
        }
    }

    #[test]
    fn understands_adding_in_many_phrasings() {
        assert_eq!(parse("add a task to buy milk"), add("Buy milk"));
        assert_eq!(parse("Add buy groceries to my list."), add("Buy groceries"));
        assert_eq!(
            parse("remind me to call mom tomorrow"),
            add("Call mom tomorrow")
        );
        assert_eq!(
            parse("please create a new task called 'Finish report'"),
            add("Finish report")
        );
        assert_eq!(parse("I need to pay the rent"), add("Pay the rent"));
        assert_eq!(parse("todo: water plants"), add("Water plants"));
        assert_eq!(parse("new task: book flights"), add("Book flights"));
        assert_eq!(
            parse("add task buy milk with description 2 liters, semi-skimmed"),
            Intent::Add {
                title: "Buy milk".into(),
                description: Some("2 liters, semi-skimmed".into())
            }
        );
        assert_eq!(parse("add a task"), Intent::AddWithoutTitle);
        assert_eq!(parse("add eggs to my shopping list"), add("Eggs"));
        assert_eq!(parse("Can you add 'call the bank'?"), add("Call the bank"));
    }

    #[test]
    fn understands_listing_and_counting() {
        assert_eq!(parse("show my tasks"), Intent::List(StatusFilter::All));
        assert_eq!(
            parse("what's pending?"),
            Intent::List(StatusFilter::Pending)
        );
        assert_eq!(
            parse("What have I completed?"),
            Intent::List(StatusFilter::Completed)
        );
        assert_eq!(
            parse("list everything I still have to do"),
            Intent::List(StatusFilter::Pending)
        );
        assert_eq!(parse("tasks"), Intent::List(StatusFilter::All));
        assert_eq!(
            parse("how many tasks do I have?"),
            Intent::Count(StatusFilter::All)
        );
        assert_eq!(
            parse("How many are pending"),
            Intent::Count(StatusFilter::Pending)
        );
    }

    #[test]
    fn understands_completing() {
        assert_eq!(
            parse("mark task 3 as done"),
            Intent::Complete(TaskRef::Id(3))
        );
        assert_eq!(parse("Mark #4 complete"), Intent::Complete(TaskRef::Id(4)));
        assert_eq!(parse("complete task 2"), Intent::Complete(TaskRef::Id(2)));
        assert_eq!(
            parse("I finished calling mom"),
            Intent::Complete(TaskRef::Title("calling mom".into()))
        );
        assert_eq!(
            parse("I'm done with the report"),
            Intent::Complete(TaskRef::Title("report".into()))
        );
        assert_eq!(parse("task 5 is done"), Intent::Complete(TaskRef::Id(5)));
        assert_eq!(
            parse("mark it as done"),
            Intent::Complete(TaskRef::Previous)
        );
    }

    #[test]
    fn understands_updating_and_deleting() {
        assert_eq!(
            parse("change task 1 to 'Call mom tonight'"),
            Intent::Update {
                target: TaskRef::Id(1),
                title: Some("Call mom tonight".into()),
                description: None
            }
        );
        assert_eq!(
            parse("rename the milk task to buy oat milk"),
            Intent::Update {
                target: TaskRef::Title("milk".into()),
                title: Some("Buy oat milk".into()),
                description: None
            }
        );
        assert_eq!(
            parse("update the description of task 2 to bring receipts"),
            Intent::Update {
                target: TaskRef::Id(2),
                title: None,
                description: Some("bring receipts".into())
            }
        );
        assert_eq!(parse("delete task 2"), Intent::Delete(TaskRef::Id(2)));
        assert_eq!(
            parse("delete the meeting task"),
            Intent::Delete(TaskRef::Title("meeting".into()))
        );
        assert_eq!(
            parse("please remove 'buy milk'"),
            Intent::Delete(TaskRef::Title("buy milk".into()))
        );
    }

    #[test]
    fn small_talk_and_unknown() {
        assert_eq!(parse("hello!"), Intent::Greeting);
        assert_eq!(parse("help"), Intent::Help);
        assert_eq!(parse("thanks!"), Intent::Thanks);
        assert_eq!(parse("what is the capital of France"), Intent::Unknown);
    }

    #[test]
    fn fuzzy_title_matching() {
        assert!(match_score("Call mom tomorrow", "calling mom") >= 1.0);
        assert!(match_score("Team meeting at 3pm", "meeting") >= 1.0);
        assert!(match_score("Buy milk", "by milk") >= 0.5);
        assert!(match_score("Buy milk", "meeting") < 0.5);
    }
}
