//! Writing the reply: what the tools did, in sentences; lists grouped overdue / today / upcoming /
//! no date, with due dates, priorities, tags and repeats, in the user's timezone.

use todo_common::tasks::{Priority, Sort, StatusFilter};
use todo_common::tools::{BulkAction, TaskOutcome, ToolError, ToolOutput, ToolTask};
use todo_common::when::Clock;
use todo_common::when::format::format_due;

use chrono::NaiveDate;

use super::parse::{Days, Intent, Query};

pub const HELP_TEXT: &str = "I can manage your tasks. Try: \"add a task to pay rent on Friday #home\", \
\"remind me to call mom tomorrow at 5pm\", \"what's pending?\", \"what's overdue?\", \"what's due this week?\", \
\"mark task 3 as done\", \"move the dentist to next Monday\", \"make task 2 high priority\", \
\"water the plants every Monday\", \"delete task 2\" or \"undo\".";

pub fn quote(title: &str) -> String {
    format!("\u{201c}{title}\u{201d}")
}

fn priority_word(p: Priority) -> Option<&'static str> {
    match p {
        Priority::High => Some("high priority"),
        Priority::Medium => Some("medium priority"),
        Priority::Low => Some("low priority"),
        Priority::None => None,
    }
}

/// "due Fri 5 Dec, 17:00 · high priority · #work · every Monday"
fn details(task: &ToolTask) -> Vec<String> {
    let mut parts = Vec::new();
    if let Some(due) = &task.due_text {
        parts.push(if task.overdue {
            format!("overdue since {due}")
        } else {
            format!("due {due}")
        });
    }
    if let Some(p) = priority_word(task.priority) {
        parts.push(p.to_owned());
    }
    if !task.tags.is_empty() {
        parts.push(
            task.tags
                .iter()
                .map(|t| format!("#{t}"))
                .collect::<Vec<_>>()
                .join(" "),
        );
    }
    if let Some(r) = &task.repeat_text {
        parts.push(format!("repeats {r}"));
    }
    parts
}

fn line(task: &ToolTask) -> String {
    let mut out = format!("\n• #{} {}", task.task_id, task.title);
    let parts = details(task);
    if !parts.is_empty() {
        out.push_str(&format!(" — {}", parts.join(" · ")));
    }
    if task.completed {
        out.push_str(" (done)");
    }
    out
}

/// One task in full: "#3 Dentist appointment (pending)", then a line for each thing it has.
pub fn task_card(task: &ToolTask) -> String {
    let mut out = format!(
        "#{} {} ({})",
        task.task_id,
        task.title,
        if task.completed { "done" } else { "pending" }
    );
    if let Some(due) = &task.due_text {
        out.push_str(&format!(
            "\nDue: {due}{}",
            if task.overdue { " (overdue)" } else { "" }
        ));
    }
    if let Some(p) = priority_word(task.priority) {
        out.push_str(&format!("\nPriority: {}", p.trim_end_matches(" priority")));
    }
    if !task.tags.is_empty() {
        let tags: Vec<String> = task.tags.iter().map(|t| format!("#{t}")).collect();
        out.push_str(&format!("\nTags: {}", tags.join(" ")));
    }
    if let Some(r) = &task.repeat_text {
        out.push_str(&format!("\nRepeats: {r}"));
    }
    if let Some(d) = &task.description {
        out.push_str(&format!("\nNotes: {d}"));
    }
    out
}

pub fn format_list(tasks: &[ToolTask]) -> String {
    tasks.iter().map(line).collect()
}

/// A listing grouped overdue / today / upcoming / no date / completed (headings only when there
/// is more than one group).
pub fn grouped(tasks: &[ToolTask], clock: &Clock) -> String {
    let groups = groups(tasks, clock);
    match groups.as_slice() {
        [] => format_list(tasks),
        // One group needs no heading, but keeps its order (soonest first for dated tasks).
        [(_, only)] => format_list(only),
        _ => groups
            .iter()
            .map(|(name, list)| format!("\n{name}:{}", format_list(list)))
            .collect(),
    }
}

/// The task ids in the order [`grouped`] shows them.
pub fn shown_order(tasks: &[ToolTask], clock: &Clock) -> Vec<i32> {
    groups(tasks, clock)
        .iter()
        .flat_map(|(_, list)| list.iter().map(|t| t.task_id))
        .collect()
}

/// The non-empty groups of a listing, in the order shown, dated groups soonest first.
fn groups(tasks: &[ToolTask], clock: &Clock) -> Vec<(&'static str, Vec<ToolTask>)> {
    let tomorrow = clock.day_bounds(1);
    let mut groups: [(&str, Vec<ToolTask>); 5] = [
        ("Overdue", Vec::new()),
        ("Today", Vec::new()),
        ("Upcoming", Vec::new()),
        ("No date", Vec::new()),
        ("Completed", Vec::new()),
    ];
    for t in tasks {
        let group = match (t.completed, t.overdue, t.due_at) {
            (true, _, _) => 4,
            (false, true, _) => 0,
            (false, false, Some(at)) if at < tomorrow => 1,
            (false, false, Some(_)) => 2,
            (false, false, None) => 3,
        };
        groups[group].1.push(t.clone());
    }
    for (name, list) in &mut groups {
        if *name == "Upcoming" || *name == "Today" || *name == "Overdue" {
            list.sort_by_key(|t| (t.due_at, t.task_id));
        }
    }
    groups.into_iter().filter(|(_, l)| !l.is_empty()).collect()
}

fn error_sentence(e: &ToolError, what: &str) -> String {
    match e.code.as_str() {
        "TASK_NOT_FOUND" => format!(
            "I couldn't find that task ({}). Say \"show my tasks\" to see your tasks and their numbers.",
            e.message
        ),
        "NO_PENDING_ACTION" => {
            "There's nothing waiting for your answer any more. Tell me again what you'd like to do."
                .to_owned()
        }
        _ => format!("I couldn't {what}: {}.", e.message),
    }
}

fn sentence_list(items: &[String]) -> String {
    match items {
        [] => String::new(),
        [one] => one.clone(),
        [rest @ .., last] => format!("{} and {last}", rest.join(", ")),
    }
}

/// "what tags do I have?": each tag in use and how many tasks carry it, the most used first.
pub fn tags(tasks: &[ToolTask]) -> String {
    let mut counts: std::collections::BTreeMap<&str, usize> = std::collections::BTreeMap::new();
    for tag in tasks.iter().flat_map(|t| &t.tags) {
        *counts.entry(tag.as_str()).or_default() += 1;
    }
    if counts.is_empty() {
        return "None of your tasks has a tag yet. Add one with \"tag task 1 with home\", or put #home in a new task.".to_owned();
    }
    let mut counts: Vec<(&str, usize)> = counts.into_iter().collect();
    counts.sort_by(|a, b| b.1.cmp(&a.1).then(a.0.cmp(b.0)));
    let items: Vec<String> = counts
        .iter()
        .map(|(tag, n)| format!("#{tag} ({n} {})", if *n == 1 { "task" } else { "tasks" }))
        .collect();
    match items.len() {
        1 => format!("You use one tag: {}.", items[0]),
        n => format!("You use {n} tags: {}.", sentence_list(&items)),
    }
}

pub fn named(task: &ToolTask) -> String {
    format!("#{} {}", task.task_id, quote(&task.title))
}

fn created(tasks: &[&TaskOutcome]) -> String {
    match tasks {
        [one] => {
            let mut out = format!(
                "Done! I added {} to your list as task #{}.",
                quote(&one.task.title),
                one.task.task_id
            );
            let parts = details(&one.task);
            if !parts.is_empty() {
                out.push_str(&format!(" ({})", parts.join(", ")));
            }
            if one.task.description.is_some() {
                out.push_str(" I saved its description too.");
            }
            out
        }
        many => {
            let details: Vec<Vec<String>> = many.iter().map(|o| details(&o.task)).collect();
            let shared = details.windows(2).all(|w| w[0] == w[1]);
            let names: Vec<String> = many
                .iter()
                .zip(&details)
                .map(|(o, parts)| {
                    if shared || parts.is_empty() {
                        named(&o.task)
                    } else {
                        format!("{} ({})", named(&o.task), parts.join(", "))
                    }
                })
                .collect();
            let mut out = format!(
                "Done! I added {} tasks: {}.",
                many.len(),
                sentence_list(&names)
            );
            if shared && let Some(parts) = details.first().filter(|p| !p.is_empty()) {
                out.push_str(&format!(" Each one: {}.", parts.join(", ")));
            }
            out
        }
    }
}

/// Whether a listing is shown in the order asked for ("by priority", "oldest first") rather than
/// grouped overdue / today / upcoming.
pub fn keeps_order(query: &Query) -> bool {
    matches!(query.sort, Some(Sort::Priority | Sort::Oldest))
}

pub fn listing(query: &Query, tasks: &[ToolTask], has_more: bool, clock: &Clock) -> String {
    let what = describe_query(query, clock);
    let shown = |tasks: &[ToolTask]| {
        if keeps_order(query) {
            format_list(tasks)
        } else {
            grouped(tasks, clock)
        }
    };
    if tasks.is_empty() {
        if query.days.is_some()
            || query.done_days.is_some()
            || query.about.is_some()
            || query.repeating.is_some()
            || query.tagged.is_some()
            || query.max_priority.is_some()
        {
            return format!("You have no {what}.");
        }
        return match (query.status, query.due, &query.tag, &query.text) {
            (_, _, _, Some(text)) => format!("I found no task matching {}.", quote(text)),
            (StatusFilter::Pending, None, None, None) if query.priority.is_none() => {
                "You have no pending tasks. All caught up!".to_owned()
            }
            (StatusFilter::Completed, None, None, None) if query.priority.is_none() => {
                "You haven't completed any tasks yet.".to_owned()
            }
            (StatusFilter::All, None, None, None) if query.priority.is_none() => {
                "You have no tasks yet. Say \"add a task to …\" to create one.".to_owned()
            }
            _ => format!("You have no {what}."),
        };
    }
    // "what did I add last?": the newest alone
    let newest = query.newest == Some(1) && !query.top;
    if (query.top || newest)
        && let Some(first) = tasks.first()
    {
        let parts = details(first);
        let which = match query.sort {
            _ if newest => "newest",
            Some(Sort::Due) => "next",
            Some(Sort::Oldest) => "oldest",
            _ => "most important",
        };
        return format!(
            "Your {which} task is {}{}.",
            named(first),
            if parts.is_empty() {
                String::new()
            } else {
                format!(" ({})", parts.join(", "))
            }
        );
    }
    let more = if has_more && query.newest.is_none() && query.count.is_none() {
        "\n…and more: ask for a narrower list."
    } else {
        ""
    };
    if tasks.len() == 1 {
        format!(
            "You have one {}:{}{more}",
            what.replacen("tasks", "task", 1),
            shown(tasks)
        )
    } else {
        format!(
            "Here are your {} {what}:{}{more}",
            tasks.len(),
            shown(tasks)
        )
    }
}

/// The reply to requests in a row: a paragraph for each, from its own calls' outputs (an add
/// makes a call per task, every other request one).
fn several(parts: &[Intent], outputs: &[ToolOutput], clock: &Clock) -> String {
    let counts: Vec<usize> = parts
        .iter()
        .map(|p| match p {
            Intent::Add(items) => items.len(),
            _ => 1,
        })
        .collect();
    if counts.iter().sum::<usize>() != outputs.len() {
        return write(&Intent::Unknown, outputs, clock);
    }
    let mut rest = outputs;
    parts
        .iter()
        .zip(counts)
        .map(|(part, n)| {
            let (mine, more) = rest.split_at(n);
            rest = more;
            write(part, mine, clock)
        })
        .collect::<Vec<_>>()
        .join("\n")
}

/// "pending tasks due today tagged #work"
fn describe_query(q: &Query, clock: &Clock) -> String {
    let mut words = Vec::new();
    match q.status {
        StatusFilter::Pending if q.due != Some(todo_common::tasks::DueFilter::Overdue) => {
            words.push("pending")
        }
        StatusFilter::Completed if q.done_days.is_none() => words.push("completed"),
        _ => {}
    }
    if let Some(p) = q.priority.and_then(priority_word) {
        words.push(p);
    }
    if q.max_priority.is_some() {
        words.push("non-urgent");
    }
    if q.min_priority.is_some() {
        words.push("high and medium priority");
    }
    match q.repeating {
        Some(true) => words.push("repeating"),
        Some(false) => words.push("one-off"),
        None => {}
    }
    if let Some(kind) = &q.about {
        words.push(kind);
    }
    let mut out = words.join(" ");
    if !out.is_empty() {
        out.push(' ');
    }
    out.push_str(match q.due {
        Some(todo_common::tasks::DueFilter::Overdue) => "overdue tasks",
        _ => "tasks",
    });
    match q.due {
        Some(todo_common::tasks::DueFilter::Today) => out.push_str(" due today"),
        Some(todo_common::tasks::DueFilter::Tomorrow) => out.push_str(" due tomorrow"),
        Some(todo_common::tasks::DueFilter::Week) => out.push_str(" due this week"),
        Some(todo_common::tasks::DueFilter::None) => out.push_str(" without a due date"),
        _ => {}
    }
    if let Some(days) = q.days {
        let day = |d| format_due(clock.start_of(d), false, clock);
        out.push_str(&match (days.from, days.to) {
            (Some(from), Some(to)) if from == to => format!(" due on {}", day(from)),
            (Some(from), Some(to)) => format!(" due {} to {}", day(from), day(to)),
            (None, Some(to)) => format!(" due by {}", day(to)),
            (Some(from), None) => format!(" due from {} on", day(from)),
            (None, None) => String::new(),
        });
    }
    if let Some(days) = q.done_days {
        out.push_str(" completed ");
        out.push_str(&done_when(days, clock));
    }
    if let Some(tag) = &q.tag {
        out.push_str(&format!(" tagged #{tag}"));
    }
    if !q.any_tags.is_empty() {
        let tags: Vec<String> = q.any_tags.iter().map(|t| format!("#{t}")).collect();
        out.push_str(&format!(" tagged {}", tags.join(" or ")));
    }
    if !q.not_tags.is_empty() {
        let tags: Vec<String> = q.not_tags.iter().map(|t| format!("#{t}")).collect();
        out.push_str(&format!(" not tagged {}", tags.join(" or ")));
    }
    match q.tagged {
        Some(false) => out.push_str(" without tags"),
        Some(true) => out.push_str(" with tags"),
        None => {}
    }
    if q.priority == Some(Priority::None) {
        out.push_str(" without a priority");
    }
    match q.not_due {
        Some(todo_common::tasks::DueFilter::Overdue) => out.push_str(" that are not overdue"),
        Some(todo_common::tasks::DueFilter::Today) => out.push_str(" not due today"),
        Some(todo_common::tasks::DueFilter::Tomorrow) => out.push_str(" not due tomorrow"),
        Some(todo_common::tasks::DueFilter::Week) => out.push_str(" not due this week"),
        Some(todo_common::tasks::DueFilter::None) => out.push_str(" with a due date"),
        None => {}
    }
    if let Some(text) = &q.text {
        out.push_str(&format!(" matching {}", quote(text)));
    }
    out
}

/// When tasks were completed, as a reply says it: "today", "on Mon 23 Nov", "since Mon 23 Nov".
fn done_when(days: Days, clock: &Clock) -> String {
    let today = clock.today();
    let day = |d: NaiveDate| match today.signed_duration_since(d).num_days() {
        0 => "today".to_owned(),
        1 => "yesterday".to_owned(),
        _ => format!("on {}", format_due(clock.start_of(d), false, clock)),
    };
    let date = |d: NaiveDate| format_due(clock.start_of(d), false, clock);
    match (days.from, days.to) {
        (Some(from), Some(to)) if from == to => day(from),
        (Some(from), Some(to)) if to == today => format!("since {}", date(from)),
        (Some(from), Some(to)) => format!("from {} to {}", date(from), date(to)),
        (Some(from), None) => format!("since {}", date(from)),
        (None, Some(to)) => format!("by {}", date(to)),
        (None, None) => String::new(),
    }
}

pub fn counting(query: &Query, tasks: &[ToolTask], has_more: bool, clock: &Clock) -> String {
    let done = tasks.iter().filter(|t| t.completed).count();
    let pending = tasks.len() - done;
    let kind = query
        .about
        .as_deref()
        .map_or(String::new(), |k| format!("{k} "));
    let plural = |n: usize| {
        let noun = if n == 1 { "task" } else { "tasks" };
        format!("{kind}{noun}")
    };
    let at_least = if has_more { "at least " } else { "" };
    let scope = describe_query(
        &Query {
            status: StatusFilter::All,
            done_days: None,
            about: None,
            ..query.clone()
        },
        clock,
    );
    let scope = scope.trim_start_matches("tasks").trim();
    let scope = if scope.is_empty() {
        String::new()
    } else {
        format!(" {scope}")
    };
    match query.status {
        StatusFilter::All => format!(
            "You have {at_least}{} {}{scope}: {pending} pending and {done} completed.",
            tasks.len(),
            plural(tasks.len())
        ),
        StatusFilter::Pending => format!(
            "You have {at_least}{pending} pending {}{scope}.",
            plural(pending)
        ),
        StatusFilter::Completed => match query.done_days {
            Some(days) => format!(
                "You completed {at_least}{done} {}{scope} {}.",
                plural(done),
                done_when(days, clock)
            ),
            None => format!(
                "You have completed {at_least}{done} {}{scope}.",
                plural(done)
            ),
        },
    }
}

fn bulk_done(action: BulkAction, tasks: &[ToolTask], not_found: &[i32]) -> String {
    let names: Vec<String> = tasks.iter().map(named).collect();
    let verb = match action {
        BulkAction::Complete => "completed",
        BulkAction::Reopen => "re-opened",
        BulkAction::Update => "updated",
        BulkAction::Delete => "deleted",
    };
    let mut out = format!(
        "Done: I {verb} {} {}: {}.",
        tasks.len(),
        if tasks.len() == 1 { "task" } else { "tasks" },
        sentence_list(&names)
    );
    if !not_found.is_empty() {
        let ids: Vec<String> = not_found.iter().map(|i| format!("#{i}")).collect();
        out.push_str(&format!(" I couldn't find {}.", sentence_list(&ids)));
    }
    out
}

fn updated(o: &TaskOutcome, intent: &Intent) -> String {
    let parts = details(&o.task);
    let mut out = format!("Updated task {}", named(&o.task));
    if parts.is_empty() {
        out.push('.');
    } else {
        out.push_str(&format!(": {}.", parts.join(", ")));
    }
    // The list of details leaves notes out; say what became of them when they were the change.
    if let Intent::Update(_, edit) = intent {
        match (&edit.description, &o.task.description) {
            (Some(Some(_)), Some(note)) => out.push_str(&format!(" Notes: {}.", quote(note))),
            (Some(None), _) => out.push_str(" Its notes are removed."),
            _ => {}
        }
    }
    out
}

/// The reply to the tools' outputs, for the intent that made the calls.
pub fn write(intent: &Intent, outputs: &[ToolOutput], clock: &Clock) -> String {
    if let Intent::Several(parts) = intent {
        return several(parts, outputs, clock);
    }
    let what = match intent {
        Intent::Add(_) => "add that task",
        Intent::Complete(_) => "complete that task",
        Intent::Reopen(_) => "re-open that task",
        Intent::Delete(_) => "delete that task",
        Intent::Update(..) => "update that task",
        Intent::Undo => "undo that",
        _ => "do that",
    };
    let created_tasks: Vec<&TaskOutcome> = outputs
        .iter()
        .filter_map(|o| match o {
            ToolOutput::Created(t) => Some(t),
            _ => None,
        })
        .collect();
    if !created_tasks.is_empty() {
        let mut out = created(&created_tasks);
        for o in outputs {
            if let ToolOutput::Error { error } = o {
                out.push_str(&format!(" One task was not added: {}.", error.message));
            }
        }
        return out;
    }
    let mut sentences = Vec::new();
    for output in outputs {
        sentences.push(match output {
            ToolOutput::Created(_) => continue,
            ToolOutput::Listed {
                tasks, has_more, ..
            } => match intent {
                Intent::Count(q) => counting(q, tasks, *has_more, clock),
                Intent::List(q) => listing(q, tasks, *has_more, clock),
                _ => continue,
            },
            ToolOutput::Completed(o) if o.already_completed => {
                format!("Task {} was already marked as done.", named(&o.task))
            }
            ToolOutput::Completed(o) if o.repeated => format!(
                "Nice work! {} repeats {}, so it's now due {}.",
                quote(&o.task.title),
                o.task.repeat_text.as_deref().unwrap_or("regularly"),
                o.task.due_text.as_deref().unwrap_or("again")
            ),
            ToolOutput::Completed(o) => {
                format!("Nice work! I marked task {} as done.", named(&o.task))
            }
            ToolOutput::Reopened(o) => {
                format!("I re-opened task {}: it's pending again.", named(&o.task))
            }
            ToolOutput::Updated(o) => updated(o, intent),
            ToolOutput::Deleted(o) => format!("Deleted task {}.", named(&o.task)),
            ToolOutput::Bulk {
                action,
                tasks,
                not_found,
            } => bulk_done(*action, tasks, not_found),
            ToolOutput::ConfirmationRequired {
                action,
                tasks,
                not_found,
                ..
            } => {
                // asked again after a message that answered neither yes nor no
                let again = if matches!(intent, Intent::Unknown) {
                    "I still need a yes or no (to change only some of them, say no, then name \
                     those). "
                } else {
                    ""
                };
                let mut out = format!(
                    "{again}This will {} these {} tasks:{}",
                    action.verb(),
                    tasks.len(),
                    format_list(tasks)
                );
                if !not_found.is_empty() {
                    let ids: Vec<String> = not_found.iter().map(|i| format!("#{i}")).collect();
                    out.push_str(&format!("\n(I couldn't find {}.)", sentence_list(&ids)));
                }
                out.push_str("\nShall I go ahead? Answer yes or no.");
                out
            }
            ToolOutput::Declined { .. } => "OK, I left your tasks as they were.".to_owned(),
            ToolOutput::Undone { reverted } => {
                let parts: Vec<String> = reverted
                    .iter()
                    .map(|r| match r.undid.as_str() {
                        "created" => format!("removed #{} {} again", r.task_id, quote(&r.title)),
                        "deleted" => format!("put back #{} {}", r.task_id, quote(&r.title)),
                        "completed" => {
                            format!("marked #{} {} as not done", r.task_id, quote(&r.title))
                        }
                        "reopened" => {
                            format!("marked #{} {} as done again", r.task_id, quote(&r.title))
                        }
                        _ => format!("restored #{} {} as it was", r.task_id, quote(&r.title)),
                    })
                    .collect();
                format!("Undone: I {}.", sentence_list(&parts))
            }
            ToolOutput::NothingToUndo {} => {
                "There's nothing to undo in this conversation.".to_owned()
            }
            ToolOutput::Error { error } => error_sentence(error, what),
        });
    }
    if sentences.is_empty() {
        "Done.".to_owned()
    } else {
        sentences.join("\n")
    }
}

#[cfg(test)]
mod tests {
    use chrono::{DateTime, Utc};
    use todo_common::tasks::DueFilter;
    use todo_common::when::DateOrder;

    use super::*;

    fn clock() -> Clock {
        let now = DateTime::parse_from_rfc3339("2026-11-27T10:00:00Z")
            .expect("time")
            .with_timezone(&Utc);
        Clock::new(now, chrono_tz::Europe::Berlin, DateOrder::Dmy)
    }

    fn task(task_id: i32, title: &str, due_at: Option<&str>) -> ToolTask {
        ToolTask {
            task_id,
            title: title.into(),
            description: None,
            completed: false,
            due_at: due_at.map(|at| {
                DateTime::parse_from_rfc3339(at)
                    .expect("time")
                    .with_timezone(&Utc)
            }),
            due_text: None,
            due_has_time: false,
            priority: Priority::None,
            tags: Vec::new(),
            repeat: None,
            repeat_text: None,
            overdue: false,
        }
    }

    #[test]
    fn upcoming_tasks_alone_are_listed_soonest_first() {
        // Arrange: the list tool gives the newest task first
        let tasks = [
            task(2, "Call mom", Some("2026-12-04T16:00:00Z")),
            task(1, "Pick up the kids", Some("2026-11-30T14:45:00Z")),
        ];

        // Act
        let text = grouped(&tasks, &clock());

        // Assert: one group, no heading, by due date
        let kids = text.find("Pick up the kids").expect("listed");
        let mom = text.find("Call mom").expect("listed");
        assert!(kids < mom, "{text}");
        assert!(!text.contains("Upcoming:"), "{text}");
    }

    #[test]
    fn the_order_shown_is_overdue_today_upcoming_then_undated() {
        // Arrange: in the list tool's order, newest first
        let mut overdue = task(3, "Pay rent", Some("2026-11-25T09:00:00Z"));
        overdue.overdue = true;
        let tasks = [
            task(4, "Call mom", Some("2026-12-04T16:00:00Z")),
            overdue,
            task(2, "Buy milk", None),
            task(1, "Dentist", Some("2026-11-30T09:00:00Z")),
            task(5, "Stand-up", Some("2026-11-27T15:00:00Z")),
        ];

        // Act
        let order = shown_order(&tasks, &clock());
        let text = grouped(&tasks, &clock());

        // Assert: the ids in the order the text shows them
        assert_eq!(order, [3, 5, 1, 4, 2]);
        let positions: Vec<usize> = order
            .iter()
            .map(|id| text.find(&format!("#{id} ")).expect("shown"))
            .collect();
        assert!(positions.is_sorted(), "{text}");
    }

    #[test]
    fn a_listing_of_one_day_says_which_day() {
        use crate::agent::builtin::parse::Days;
        let day = chrono::NaiveDate::from_ymd_opt(2026, 12, 4).expect("date");
        let query = Query {
            status: StatusFilter::Pending,
            days: Some(Days {
                from: Some(day),
                to: Some(day),
            }),
            ..Query::default()
        };
        let text = listing(
            &query,
            &[task(2, "Call mom", Some("2026-12-04T16:00:00Z"))],
            false,
            &clock(),
        );
        assert!(
            text.starts_with("You have one pending task due on Fri 4 Dec:"),
            "{text}"
        );
        assert_eq!(
            listing(&query, &[], false, &clock()),
            "You have no pending tasks due on Fri 4 Dec."
        );
    }

    #[test]
    fn tasks_added_together_share_their_details_only_when_they_are_the_same() {
        let outcome = |id, due: Option<&str>| TaskOutcome {
            task: ToolTask {
                due_text: due.map(str::to_owned),
                ..task(id, "Gym", None)
            },
            already_completed: false,
            repeated: false,
        };
        // Arrange: the same due date, then three different ones
        let same = [
            outcome(3, Some("Mon 30 Nov")),
            outcome(4, Some("Mon 30 Nov")),
        ];
        let different = [
            outcome(3, Some("Mon 30 Nov")),
            outcome(4, Some("Wed 2 Dec")),
            outcome(5, None),
        ];

        // Act
        let same = created(&same.iter().collect::<Vec<_>>());
        let different = created(&different.iter().collect::<Vec<_>>());

        // Assert
        assert!(
            same.ends_with("#3 “Gym” and #4 “Gym”. Each one: due Mon 30 Nov."),
            "{same}"
        );
        assert!(!different.contains("Each one"), "{different}");
        assert!(
            different.contains("#3 “Gym” (due Mon 30 Nov)"),
            "{different}"
        );
        assert!(
            different.contains("#4 “Gym” (due Wed 2 Dec)"),
            "{different}"
        );
        assert!(different.ends_with("and #5 “Gym”."), "{different}");
    }

    #[test]
    fn the_one_task_asked_for_is_the_next_or_the_most_important() {
        let tasks = [task(1, "Dentist", Some("2026-11-30T09:00:00Z"))];
        let next = Query {
            status: StatusFilter::Pending,
            sort: Some(Sort::Due),
            top: true,
            ..Query::default()
        };
        let first = Query {
            sort: Some(Sort::Priority),
            ..next.clone()
        };
        assert!(
            listing(&next, &tasks, false, &clock()).starts_with("Your next task is #1 “Dentist”"),
            "{}",
            listing(&next, &tasks, false, &clock())
        );
        assert!(
            listing(&first, &tasks, false, &clock())
                .starts_with("Your most important task is #1 “Dentist”")
        );
        let oldest = Query {
            sort: Some(Sort::Oldest),
            ..next.clone()
        };
        assert!(
            listing(&oldest, &tasks, false, &clock())
                .starts_with("Your oldest task is #1 “Dentist”")
        );
        let newest = Query {
            newest: Some(1),
            ..Query::default()
        };
        assert!(listing(&newest, &tasks, false, &clock()).starts_with("Your newest task is #1"));
    }

    #[test]
    fn a_listing_by_priority_or_age_keeps_its_order_and_a_count_is_not_cut_short() {
        // Arrange: as the store returns them, the undated one first
        let tasks = [
            task(2, "Taxes", None),
            task(1, "Dentist", Some("2026-11-30T09:00:00Z")),
        ];
        let by_priority = Query {
            sort: Some(Sort::Priority),
            count: Some(2),
            ..Query::default()
        };

        // Act
        let text = listing(&by_priority, &tasks, true, &clock());

        // Assert: no groups, the order kept, and no "…and more" for the two asked for
        let taxes = text.find("Taxes").expect("taxes");
        let dentist = text.find("Dentist").expect("dentist");
        assert!(taxes < dentist, "{text}");
        assert!(
            !text.contains("No date:") && !text.contains("and more"),
            "{text}"
        );
    }

    #[test]
    fn the_tags_in_use_are_counted_most_used_first() {
        let tagged = |id, tags: &[&str]| ToolTask {
            tags: tags.iter().map(|t| (*t).to_owned()).collect(),
            ..task(id, "Task", None)
        };
        let tasks = [
            tagged(1, &["work"]),
            tagged(2, &["home", "work"]),
            tagged(3, &[]),
            tagged(4, &["health"]),
        ];
        assert_eq!(
            tags(&tasks),
            "You use 3 tags: #work (2 tasks), #health (1 task) and #home (1 task)."
        );
        assert!(tags(&tasks[2..3]).starts_with("None of your tasks has a tag yet."));
    }

    #[test]
    fn no_urgent_tasks_is_not_no_pending_tasks() {
        let query = Query {
            status: StatusFilter::Pending,
            priority: Some(Priority::High),
            ..Query::default()
        };
        assert_eq!(
            listing(&query, &[], false, &clock()),
            "You have no pending high priority tasks."
        );
    }

    #[test]
    fn requests_in_a_row_get_a_paragraph_each_from_their_own_outputs() {
        use crate::agent::builtin::parse::{NewTask, Target};
        // Arrange: two tasks added, then one deleted
        let outcome = |id, title| TaskOutcome {
            task: task(id, title, None),
            already_completed: false,
            repeated: false,
        };
        let parts = [
            Intent::Add(vec![
                NewTask {
                    title: "Milk".into(),
                    ..NewTask::default()
                },
                NewTask {
                    title: "Eggs".into(),
                    ..NewTask::default()
                },
            ]),
            Intent::Delete(Target::Ids(vec![2])),
        ];
        let outputs = [
            ToolOutput::Created(outcome(7, "Milk")),
            ToolOutput::Created(outcome(8, "Eggs")),
            ToolOutput::Deleted(outcome(2, "Call mom")),
        ];

        // Act
        let text = write(&Intent::Several(parts.to_vec()), &outputs, &clock());

        // Assert
        let paragraphs: Vec<&str> = text.lines().collect();
        assert_eq!(paragraphs.len(), 2, "{text}");
        assert!(
            paragraphs[0].contains("Milk") && paragraphs[0].contains("Eggs"),
            "{text}"
        );
        assert!(paragraphs[1].starts_with("Deleted task #2"), "{text}");
    }

    #[test]
    fn a_question_about_what_was_done_says_when_it_was_done() {
        // Arrange: Friday 27 November; one task completed today, asked about today and the week
        let date = |d| chrono::NaiveDate::from_ymd_opt(2026, 11, d).expect("date");
        let done = ToolTask {
            completed: true,
            ..task(6, "Write report", None)
        };
        let today = Query {
            status: StatusFilter::Completed,
            done_days: Some(Days {
                from: Some(date(27)),
                to: Some(date(27)),
            }),
            ..Query::default()
        };
        let week = Query {
            done_days: Some(Days {
                from: Some(date(23)),
                to: Some(date(27)),
            }),
            ..today.clone()
        };
        let wednesday = Query {
            done_days: Some(Days {
                from: Some(date(25)),
                to: Some(date(25)),
            }),
            ..today.clone()
        };

        // Act
        let listed = listing(&today, std::slice::from_ref(&done), false, &clock());
        let nothing = listing(&wednesday, &[], false, &clock());
        let counted = counting(&week, std::slice::from_ref(&done), false, &clock());

        // Assert
        assert!(
            listed.starts_with("You have one task completed today:"),
            "{listed}"
        );
        assert_eq!(nothing, "You have no tasks completed on Wed 25 Nov.");
        assert_eq!(counted, "You completed 1 task since Mon 23 Nov.");
    }

    #[test]
    fn a_kind_of_task_is_named_before_tasks() {
        // Arrange
        let query = Query {
            status: StatusFilter::Pending,
            about: Some("home".to_owned()),
            ..Query::default()
        };
        let tasks = [task(4, "Pay rent", None), task(7, "Water the plants", None)];

        // Act
        let listed = listing(&query, &tasks, false, &clock());
        let counted = counting(&query, &tasks, false, &clock());
        let none = listing(&query, &[], false, &clock());

        // Assert
        assert!(
            listed.starts_with("Here are your 2 pending home tasks:"),
            "{listed}"
        );
        assert_eq!(counted, "You have 2 pending home tasks.");
        assert_eq!(none, "You have no pending home tasks.");
    }

    #[test]
    fn a_change_of_notes_is_said() {
        // Arrange: task 2 with its new note, as update_task returns it
        use crate::agent::builtin::parse::{Edit, Target};
        let outcome = TaskOutcome {
            task: ToolTask {
                description: Some("bring the slides".to_owned()),
                ..task(2, "Meeting", None)
            },
            already_completed: false,
            repeated: false,
        };
        let noted = Intent::Update(
            Target::Ids(vec![2]),
            Box::new(Edit {
                description: Some(Some("bring the slides".to_owned())),
                ..Edit::default()
            }),
        );
        let cleared = Intent::Update(
            Target::Ids(vec![2]),
            Box::new(Edit {
                description: Some(None),
                ..Edit::default()
            }),
        );

        // Act
        let said = updated(&outcome, &noted);
        let removed = updated(
            &TaskOutcome {
                task: task(2, "Meeting", None),
                ..outcome.clone()
            },
            &cleared,
        );

        // Assert
        assert!(said.ends_with("Notes: “bring the slides”."), "{said}");
        assert!(removed.ends_with("Its notes are removed."), "{removed}");
    }

    #[test]
    fn one_task_is_one_task() {
        let clock = clock();
        let task = task(2, "Call mom", None);
        let query = Query {
            status: StatusFilter::Pending,
            due: Some(DueFilter::Week),
            ..Query::default()
        };
        let text = listing(&query, &[task], false, &clock);
        assert!(
            text.starts_with("You have one pending task due this week:"),
            "{text}"
        );
    }
}
