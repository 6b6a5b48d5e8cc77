//! Runs the built-in agent's phrasing table (`phrasings.txt`): each message, with a fixed clock,
//! a fixed task list and the row's conversation context, must plan exactly the listed tool calls
//! (or none, with a question or a reply).

use chrono::{DateTime, TimeZone, Utc};
use serde_json::{Value, json};
use todo_common::tasks::Priority;
use todo_common::tools::{BulkAction, PendingAction, Tool, ToolTask};
use todo_common::when::{Clock, DateOrder};
use todo_worker::agent::builtin::parse::parse;
use todo_worker::agent::builtin::{AgentState, Context, Plan, Question, plan, read};
use uuid::Uuid;

/// Thursday 26 November 2026, 10:30 in Berlin.
fn clock() -> Clock {
    let now = DateTime::parse_from_rfc3339("2026-11-26T10:30:00+01:00")
        .expect("rfc3339")
        .with_timezone(&Utc);
    Clock::new(now, chrono_tz::Europe::Berlin, DateOrder::Dmy)
}

fn berlin(y: i32, m: u32, d: u32, h: u32, min: u32) -> DateTime<Utc> {
    chrono_tz::Europe::Berlin
        .with_ymd_and_hms(y, m, d, h, min, 0)
        .single()
        .expect("local time")
        .with_timezone(&Utc)
}

fn task(id: i32, title: &str) -> ToolTask {
    ToolTask {
        task_id: id,
        title: title.into(),
        description: None,
        completed: false,
        due_at: None,
        due_text: None,
        due_has_time: false,
        priority: Priority::None,
        tags: Vec::new(),
        repeat: None,
        repeat_text: None,
        overdue: false,
    }
}

fn fixture() -> Vec<ToolTask> {
    let mut tasks = vec![
        task(1, "Buy milk"),
        task(2, "Call mom"),
        task(3, "Dentist appointment"),
        task(4, "Pay rent"),
        task(5, "Buy oat milk"),
        task(6, "Write report"),
        task(7, "Water the plants"),
        task(8, "Team meeting"),
    ];
    tasks[1].due_at = Some(berlin(2026, 11, 26, 17, 0));
    tasks[1].due_has_time = true;
    tasks[2].due_at = Some(berlin(2026, 11, 30, 10, 0));
    tasks[2].due_has_time = true;
    tasks[2].priority = Priority::High;
    tasks[2].tags = vec!["health".into()];
    tasks[3].due_at = Some(berlin(2026, 11, 25, 0, 0));
    tasks[3].overdue = true;
    tasks[3].tags = vec!["home".into()];
    tasks[5].completed = true;
    tasks[5].tags = vec!["work".into()];
    tasks[6].due_at = Some(berlin(2026, 11, 30, 0, 0));
    tasks[6].repeat = Some("FREQ=WEEKLY;BYDAY=MO".into());
    tasks[6].tags = vec!["home".into()];
    tasks[7].due_at = Some(berlin(2026, 11, 26, 15, 0));
    tasks[7].due_has_time = true;
    tasks[7].priority = Priority::Medium;
    tasks[7].tags = vec!["work".into()];
    tasks
}

fn pending_action() -> PendingAction {
    PendingAction {
        turn: 1,
        request_id: Uuid::nil(),
        action: BulkAction::Delete,
        task_ids: vec![4, 7],
        tool: Tool::from_call("delete_task", &json!({"task_ids": [4, 7]})).expect("tool"),
    }
}

/// Splits `[context] message => expectation`.
fn row(line: &str) -> (Option<&str>, &str, &str) {
    let (left, expected) = line.split_once(" => ").expect("row has ' => '");
    let left = left.trim();
    match left.strip_prefix('[').and_then(|r| r.split_once(']')) {
        Some((context, message)) => (Some(context), message.trim(), expected.trim()),
        None => (None, left, expected.trim()),
    }
}

fn expected_calls(text: &str) -> Vec<Tool> {
    text.split("; ")
        .map(|call| {
            let (name, args) = call.split_once(' ').expect("tool {args}");
            let args: Value = serde_json::from_str(args).expect("arguments are JSON");
            Tool::from_call(name, &args).expect("the expected call is a valid tool call")
        })
        .collect()
}

#[test]
fn phrasing_table() {
    let table = include_str!("phrasings.txt");
    let tasks = fixture();
    let pending = pending_action();
    let mut rows = 0;
    let mut failures = Vec::new();
    for line in table.lines().map(str::trim) {
        if line.is_empty() || line.starts_with('#') {
            continue;
        }
        rows += 1;
        let (context, message, expected) = row(line);
        let mut state = AgentState::default();
        let mut with_pending = None;
        match context {
            None => {}
            Some("pending") => with_pending = Some(&pending),
            Some(c) if c.starts_with("it=") => {
                state.tasks = vec![c[3..].parse().expect("task id")];
            }
            Some(c) if c.starts_with("changed=") => {
                state.tasks = vec![c[8..].parse().expect("task id")];
                state.changed = true;
            }
            Some(c) if c.starts_with("added=") => {
                state.tasks = vec![c[6..].parse().expect("task id")];
                state.changed = true;
                state.added = true;
            }
            Some(c) if c.starts_with("completed=") => {
                state.tasks = vec![c[10..].parse().expect("task id")];
                state.changed = true;
                state.redo = Some(todo_worker::agent::builtin::Redo::Complete);
            }
            Some(c) if c.starts_with("listed=") => {
                state.listed = c[7..].split(',').map(|i| i.parse().expect("id")).collect();
            }
            Some(c) if c.starts_with("asked=") => {
                let (tool, ids) = c[6..].split_once(':').expect("asked=TOOL:IDS");
                state.question = Some(Question {
                    tool: Tool::from_call(tool, &json!({})).expect("tool"),
                    candidates: ids.split(',').map(|i| i.parse().expect("id")).collect(),
                });
            }
            Some(other) => panic!("unknown context {other}"),
        }
        let ctx = Context {
            clock: clock(),
            state,
            pending: with_pending,
        };
        let intent = read(message, &ctx.clock, &ctx.state);
        let mut planned = plan(&intent, &ctx, None);
        if planned == Plan::NeedTasks {
            planned = plan(&intent, &ctx, Some(&tasks));
        }
        let ok = match (expected, &planned) {
            ("ask", Plan::Reply(text, _)) => text.contains('?'),
            ("reply", Plan::Reply(..)) => true,
            // an answer: a reply that neither found nothing nor understood nothing
            ("answer", Plan::Reply(text, _)) => {
                !text.starts_with("I couldn't find") && !text.starts_with("Sorry, I didn't catch")
            }
            ("ask" | "reply" | "answer", _) => false,
            (calls, Plan::Calls(made)) => *made == expected_calls(calls),
            _ => false,
        };
        if !ok {
            failures.push(format!(
                "{line}\n    parsed: {intent:?}\n    planned: {planned:?}"
            ));
        }
    }
    assert!(rows >= 150, "the table has {rows} rows");
    assert!(
        failures.is_empty(),
        "{} of {rows} rows failed:\n{}",
        failures.len(),
        failures.join("\n")
    );
}

#[test]
fn deleting_completed_tasks_when_there_are_none_changes_nothing() {
    let ctx = Context {
        clock: clock(),
        state: AgentState::default(),
        pending: None,
    };
    let pending_only: Vec<ToolTask> = fixture().into_iter().filter(|t| !t.completed).collect();
    let intent = parse("delete all completed tasks", &ctx.clock);
    match plan(&intent, &ctx, Some(&pending_only)) {
        Plan::Reply(text, _) => assert!(text.contains("no completed tasks"), "{text}"),
        other => panic!("expected a reply, got {other:?}"),
    }
}

#[test]
fn snoozing_a_long_overdue_task_counts_from_today() {
    // Arrange: the rent was due a week ago, at 09:00
    let ctx = Context {
        clock: clock(),
        state: AgentState::default(),
        pending: None,
    };
    let mut tasks = fixture();
    tasks[3].due_at = Some(berlin(2026, 11, 19, 9, 0));
    tasks[3].due_has_time = true;
    let due_after = |message: &str| {
        let intent = parse(message, &ctx.clock);
        match plan(&intent, &ctx, Some(&tasks)) {
            Plan::Calls(calls) => calls,
            other => panic!("{message}: expected a call, got {other:?}"),
        }
    };
    // Act / Assert: a day later is tomorrow at its time, not the day after it was missed
    assert_eq!(
        due_after("snooze the rent"),
        expected_calls(r#"update_task {"task_id":4,"due":"2026-11-27T09:00"}"#)
    );
    assert_eq!(
        due_after("postpone the rent by 3 days"),
        expected_calls(r#"update_task {"task_id":4,"due":"2026-11-29T09:00"}"#)
    );
    // a shift that lands after today still counts from the task's own date
    assert_eq!(
        due_after("postpone the rent by 2 weeks"),
        expected_calls(r#"update_task {"task_id":4,"due":"2026-12-03T09:00"}"#)
    );
}

#[test]
fn this_week_and_before_the_weekend_on_a_sunday_take_in_the_week_ahead() {
    // Arrange: Sunday 29 November 2026, 18:00 in Berlin
    let sunday = Clock::new(
        berlin(2026, 11, 29, 18, 0),
        chrono_tz::Europe::Berlin,
        DateOrder::Dmy,
    );
    let ctx = Context {
        clock: sunday,
        state: AgentState::default(),
        pending: None,
    };

    let planned = |message: &str| plan(&parse(message, &ctx.clock), &ctx, Some(&fixture()));

    // Act + Assert: today to next Sunday, not Sunday alone
    assert_eq!(
        planned("what's due this week?"),
        Plan::Calls(expected_calls(
            r#"list_tasks {"status":"pending","due_from":"2026-11-29","due_to":"2026-12-06"}"#
        ))
    );
    // "before the weekend" is before the coming one
    assert_eq!(
        planned("what's due before the weekend?"),
        Plan::Calls(expected_calls(
            r#"list_tasks {"status":"pending","due_to":"2026-12-04"}"#
        ))
    );
}

#[test]
fn the_start_up_warm_up_reads_one_message_of_each_kind() {
    use todo_worker::agent::builtin::parse::{Intent, WARM_UP};
    // Patterns compile when a message first needs them: the warm-up covers them only if its
    // messages go down every path (the first matches nothing, so every top-level pattern is tried).
    let kinds: Vec<&str> = WARM_UP
        .iter()
        .map(|message| match parse(message, &clock()) {
            Intent::Unknown => "unknown",
            Intent::Add(tasks) if tasks.iter().all(|t| t.due.is_some() && t.repeat.is_some()) => {
                "add with due and repeat"
            }
            Intent::List(_) => "list",
            Intent::Count(_) => "count",
            Intent::Complete(_) => "complete",
            Intent::Reopen(_) => "reopen",
            Intent::Delete(_) => "delete",
            Intent::Update(_, edit) if edit.shift.is_some() => "shift",
            Intent::Update(_, edit) if edit.title.is_some() => "rename",
            Intent::Update(_, edit) if edit.due.is_some() => "reschedule",
            other => panic!("{message:?} read as {other:?}"),
        })
        .collect();
    assert_eq!(
        kinds,
        [
            "unknown",
            "add with due and repeat",
            "list",
            "count",
            "complete",
            "reopen",
            "delete",
            "reschedule",
            "rename",
            "shift"
        ]
    );
}

#[test]
fn reactions_settings_and_questions_about_it_get_their_own_answers() {
    // Arrange: the last reply was about task 3 (the dentist, high priority)
    let ctx = Context {
        clock: clock(),
        state: AgentState {
            tasks: vec![3],
            ..AgentState::default()
        },
        pending: None,
    };
    let tasks = fixture();
    let answer = |message: &str| {
        let intent = read(message, &ctx.clock, &ctx.state);
        let planned = match plan(&intent, &ctx, None) {
            Plan::NeedTasks => plan(&intent, &ctx, Some(&tasks)),
            other => other,
        };
        match planned {
            Plan::Reply(text, _) => text,
            other => panic!("{message}: expected a reply, got {other:?}"),
        }
    };

    // Act + Assert: none of these is "didn't catch that"
    for reaction in ["lol", "haha nice", "you're great", "cool"] {
        assert_eq!(
            answer(reaction),
            "😊 Anything else on your list?",
            "{reaction}"
        );
    }
    assert!(answer("wow thanks").starts_with("You're welcome"));
    let timezone = answer("set my timezone to Europe/London");
    assert!(
        timezone.contains("Europe/Berlin") && timezone.contains("PATCH /api/auth/me"),
        "{timezone}"
    );
    assert!(answer("change my password").contains("not your account"));
    assert!(answer("what's my timezone?").contains("Europe/Berlin"));
    assert!(answer("does the dentist have a due date?").starts_with("#3 Dentist appointment"));
    let card = answer("is it important?");
    assert!(
        card.starts_with("#3 Dentist appointment") && card.contains("Priority: high"),
        "{card}"
    );
}

#[test]
fn a_reply_that_changes_nothing_keeps_what_it_means() {
    // Arrange: the last reply was about task 3
    let ctx = Context {
        clock: clock(),
        state: AgentState {
            tasks: vec![3],
            ..AgentState::default()
        },
        pending: None,
    };
    for message in [
        "what is the capital of France",
        "thanks!",
        "hello",
        "help",
        "make it recurring",
        "make it a bit later",
    ] {
        // Act
        let step = plan(&parse(message, &ctx.clock), &ctx, None);

        // Assert: "it" in the next message is still task 3
        match step {
            Plan::Reply(_, state) => assert_eq!(state.tasks, [3], "{message}"),
            other => panic!("{message}: a reply, got {other:?}"),
        }
    }
}

#[test]
fn a_reply_that_asks_about_one_task_makes_it_it() {
    // Arrange: task 7 is due on a day with no time, task 1 has no due date
    let tasks = fixture();
    for (message, id) in [
        ("move task 7 by half an hour", 7),
        ("move task 1 a day earlier", 1),
        ("rename task 1", 1),
        ("edit the meeting", 8),
    ] {
        let ctx = Context {
            clock: clock(),
            state: AgentState::default(),
            pending: None,
        };

        // Act
        let step = plan(&parse(message, &ctx.clock), &ctx, Some(&tasks));

        // Assert: nothing changes, and "it" is that task next ("then make it 5pm", "call it …")
        match step {
            Plan::Reply(_, state) => assert_eq!(state.tasks, [id], "{message}"),
            other => panic!("{message}: a reply, got {other:?}"),
        }
    }
}

#[test]
fn the_time_and_date_are_the_users_own() {
    // Arrange: Thursday 26 November 2026, 10:30 in Europe/Berlin
    let ctx = Context {
        clock: clock(),
        state: AgentState::default(),
        pending: None,
    };
    for message in [
        "what time is it?",
        "what's today's date?",
        "what day is it today",
    ] {
        // Act
        let step = plan(&read(message, &ctx.clock, &ctx.state), &ctx, None);

        // Assert
        let Plan::Reply(text, _) = step else {
            panic!("{message}: a reply, got {step:?}");
        };
        assert!(
            text.contains("Thursday 26 November 2026, 10:30") && text.contains("Europe/Berlin"),
            "{message}: {text}"
        );
    }
}

#[test]
fn lead_in_words_are_read_past_a_few_at_a_time() {
    use todo_worker::agent::builtin::parse::Intent;
    // A few lead-ins in a row are read past.
    assert_eq!(
        parse("oh ok so actually, add eggs", &clock()),
        parse("add eggs", &clock())
    );
    // A message of nothing but lead-ins (as long as a message may be) is not understood, after a
    // bounded number of readings rather than one per word.
    let lead_ins = "oh ".repeat(3_333);
    assert_eq!(parse(&lead_ins, &clock()), Intent::Unknown);
}

#[test]
fn showing_a_task_gives_all_it_has() {
    // Arrange
    let ctx = Context {
        clock: clock(),
        state: AgentState::default(),
        pending: None,
    };
    let mut tasks = fixture();
    tasks[2].due_text = Some("Mon 30 Nov, 10:00".into());
    tasks[2].description = Some("Bring the insurance card".into());

    for message in [
        "show task 3",
        "what is task 3 about?",
        "tell me about the dentist",
    ] {
        // Act
        let intent = parse(message, &ctx.clock);
        assert_eq!(plan(&intent, &ctx, None), Plan::NeedTasks, "{message}");
        let step = plan(&intent, &ctx, Some(&tasks));

        // Assert: a reply with every detail, and "it" is task 3 next
        let Plan::Reply(text, state) = step else {
            panic!("{message}: a reply, got {step:?}");
        };
        for part in [
            "#3 Dentist appointment (pending)",
            "Due: Mon 30 Nov, 10:00",
            "Priority: high",
            "Tags: #health",
            "Notes: Bring the insurance card",
        ] {
            assert!(text.contains(part), "{message}: {part} in {text}");
        }
        assert_eq!(state.tasks, [3], "{message}");
    }
}

#[test]
fn any_mix_of_the_words_it_knows_is_read_without_a_panic() {
    // Messages made of the parser's own words, separators and numbers in random order (a fixed
    // seed): every one is read and planned, with and without the task list, without a panic; with
    // the task list given, a plan never asks for it again.
    const WORDS: &[&str] = &[
        "add",
        "delete",
        "remove",
        "complete",
        "mark",
        "done",
        "move",
        "to",
        "the",
        "task",
        "it",
        "and",
        "then",
        "also",
        ".",
        ",",
        ";",
        "?",
        "!",
        "first",
        "second",
        "last",
        "one",
        "on",
        "friday",
        "next",
        "week",
        "weekend",
        "month",
        "before",
        "after",
        "by",
        "due",
        "today",
        "tomorrow",
        "at",
        "5pm",
        "3",
        "12",
        "0",
        "-1",
        "99999999999",
        "every",
        "other",
        "remind",
        "me",
        "in",
        "2",
        "hours",
        "priority",
        "high",
        "tag",
        "#home",
        "untag",
        "show",
        "what's",
        "when",
        "is",
        "did",
        "i",
        "finish",
        "forget",
        "about",
        "don't",
        "need",
        "anymore",
        "make",
        "sure",
        "go",
        "ahead",
        "please",
        "delte",
        "shwo",
        "milk",
        "dentist",
        "report",
        "list",
        "my",
        "tasks",
        "undo",
        "yes",
        "no",
        "end",
        "of",
        "day",
        "\u{1F600}",
        "ß",
        "'",
        "\"",
    ];
    let tasks = fixture();
    let mut seed: u64 = 0x2545_F491_4F6C_DD1D;
    let mut next = |n: usize| {
        seed ^= seed << 13;
        seed ^= seed >> 7;
        seed ^= seed << 17;
        usize::try_from(seed % n as u64).expect("fits")
    };
    for _ in 0..5_000 {
        let len = 1 + next(14);
        let message: Vec<&str> = (0..len).map(|_| WORDS[next(WORDS.len())]).collect();
        let message = message.join(" ");
        let ctx = Context {
            clock: clock(),
            state: AgentState {
                tasks: vec![3],
                listed: vec![4, 2, 8],
                ..AgentState::default()
            },
            pending: None,
        };
        let intent = parse(&message, &ctx.clock);
        let _ = plan(&intent, &ctx, None);
        assert_ne!(
            plan(&intent, &ctx, Some(&tasks)),
            Plan::NeedTasks,
            "{message:?} read as {intent:?}"
        );
    }
}
