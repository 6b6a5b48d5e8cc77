//! What a worker remembers of the conversations it answered, so that the next turn's model call
//! can start before the turn has read its conversation from Postgres.
//!
//! Under load, reading the conversation (the `begin` batch) is a good part of a model turn's time
//! to first token. A worker that answered turn *n* of a conversation knows what turn *n + 1* will
//! read: the messages before, the user's message and the reply, and the user's clock. When the
//! request of turn *n + 1* arrives (its `turn` hint says which turn it is), the worker opens the
//! model call from what it remembers while the turn starts as usual; once the turn has read the
//! stored conversation, the early call is kept only if its request is exactly the request the
//! stored conversation builds, and dropped (its connection closed) otherwise. What the model sees
//! is therefore always what Postgres holds; a wrong guess costs one discarded call, never a wrong
//! answer.
//!
//! The first turn of a conversation starts from nothing but the user's clock, which is
//! remembered per user. Nothing is remembered after a turn that asked the user to confirm a
//! change (the next turn's prompt carries the question), and entries are bounded in number and
//! size: a worker keeps at most `OPENAI_EARLY_START_CONVERSATIONS` conversations, least recently
//! answered first out.

use std::sync::Mutex;

use chrono::{DateTime, Timelike, Utc};
use chrono_tz::Tz;
use hashlink::LruCache;
use todo_common::chat::{ChatRequestRecord, HISTORY_LIMIT, Message};
use todo_common::schema::{ChatRequest, ToolCall};
use todo_common::when::{Clock, DateOrder};
use uuid::Uuid;

/// Conversations whose remembered messages hold more text than this are not remembered.
const MAX_REMEMBERED_BYTES: usize = 16 * 1024;

/// A message as the model is shown it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Said {
    pub role: String,
    pub content: String,
}

/// What the next turn of a conversation will read when it starts, as this worker left it.
#[derive(Debug, Clone)]
struct Remembered {
    user_id: Uuid,
    /// The turn this worker answered last.
    turn: i64,
    /// The conversation's last messages after that turn, oldest first (at most
    /// [`HISTORY_LIMIT`], as a starting turn reads them).
    history: Vec<Said>,
}

/// What a turn is expected to start from.
#[derive(Debug, Clone)]
pub struct Guess {
    pub history: Vec<Said>,
    pub clock: Clock,
}

/// The conversations (and users' clocks) a worker remembers; see the module note.
pub struct Memory {
    conversations: Mutex<LruCache<i64, Remembered>>,
    clocks: Mutex<LruCache<Uuid, (Tz, DateOrder)>>,
}

impl Memory {
    /// Remembers up to `conversations` conversations (and as many users' clocks); `None` for 0,
    /// which turns early model calls off.
    pub fn new(conversations: usize) -> Option<Self> {
        (conversations > 0).then(|| Self {
            conversations: Mutex::new(LruCache::new(conversations)),
            clocks: Mutex::new(LruCache::new(conversations)),
        })
    }

    /// What `request` is expected to start from, if this worker answered the turn before it (or
    /// it is a conversation's first turn and the user's clock is known). Takes the conversation's
    /// entry: a turn is guessed once, and what it leaves is remembered again when it ends.
    pub fn guess(&self, request: &ChatRequest) -> Option<Guess> {
        self.guess_at(request, Utc::now())
    }

    fn guess_at(&self, request: &ChatRequest, now: DateTime<Utc>) -> Option<Guess> {
        let turn = request.turn?;
        let conversation = request.conversation_id?;
        // The prompt gives the time to the minute: in a minute's last second the turn may well
        // read the next one.
        if now.second() == 59 {
            return None;
        }
        let clock = {
            let mut clocks = self.clocks.lock().ok()?;
            let (tz, date_order) = *clocks.get(&request.user_id)?;
            Clock::new(now, tz, date_order)
        };
        if turn == 1 {
            return Some(Guess {
                history: Vec::new(),
                clock,
            });
        }
        let remembered = self.conversations.lock().ok()?.remove(&conversation)?;
        (remembered.user_id == request.user_id && remembered.turn + 1 == turn).then_some(Guess {
            history: remembered.history,
            clock,
        })
    }

    /// Remembers what the turn after `record`'s will start from: the `history` it started from,
    /// its message and its `reply`. A turn that `asked` the user to confirm a change
    /// ([`asks_to_confirm`]) leaves the conversation unremembered.
    pub fn remember(
        &self,
        record: &ChatRequestRecord,
        history: &[Message],
        clock: Clock,
        asked: bool,
        reply: &str,
    ) {
        if let Ok(mut clocks) = self.clocks.lock() {
            clocks.insert(record.user_id, (clock.tz, clock.date_order));
        }
        let next = next_history(history, &record.message, reply);
        let bytes: usize = next.iter().map(|m| m.content.len()).sum();
        let Ok(mut conversations) = self.conversations.lock() else {
            return;
        };
        if asked || bytes > MAX_REMEMBERED_BYTES {
            conversations.remove(&record.conversation_id);
            return;
        }
        conversations.insert(
            record.conversation_id,
            Remembered {
                user_id: record.user_id,
                turn: record.turn,
                history: next,
            },
        );
    }
}

/// Whether one of a turn's tool `calls` asked the user to confirm a change (the next turn's prompt
/// then carries the question).
pub fn asks_to_confirm(calls: &[ToolCall]) -> bool {
    calls
        .iter()
        .any(|c| c.result["status"] == "confirmation_required")
}

/// The last [`HISTORY_LIMIT`] messages once `message` and its `reply` follow `history`.
fn next_history(history: &[Message], message: &str, reply: &str) -> Vec<Said> {
    let limit = usize::try_from(HISTORY_LIMIT).unwrap_or(usize::MAX);
    let all: Vec<Said> = history
        .iter()
        .map(|m| Said {
            role: m.role.clone(),
            content: m.content.clone(),
        })
        .chain([
            Said {
                role: "user".into(),
                content: message.to_owned(),
            },
            Said {
                role: "assistant".into(),
                content: reply.to_owned(),
            },
        ])
        .collect();
    let skip = all.len().saturating_sub(limit);
    all.into_iter().skip(skip).collect()
}

#[cfg(test)]
mod tests {
    use super::*;
    use chrono::TimeZone;
    use serde_json::json;
    use todo_common::chat::TurnStatus;

    const CONVERSATION: i64 = 7;

    fn record(user_id: Uuid, turn: i64, message: &str) -> ChatRequestRecord {
        ChatRequestRecord {
            request_id: Uuid::new_v4(),
            user_id,
            conversation_id: CONVERSATION,
            turn,
            message: message.into(),
            status: TurnStatus::Done,
            attempts: 1,
            result: None,
            reply_to: None,
            cancel_requested: false,
        }
    }

    fn request(user_id: Uuid, turn: Option<i64>) -> ChatRequest {
        ChatRequest {
            v: 1,
            request_id: Uuid::new_v4(),
            user_id,
            conversation_id: Some(CONVERSATION),
            message: "next".into(),
            reply_to: None,
            turn,
        }
    }

    fn message(role: &str, content: &str) -> Message {
        Message {
            id: 1,
            conversation_id: CONVERSATION,
            role: role.into(),
            content: content.into(),
            tool_calls: sqlx::types::Json(json!([])),
            request_id: Uuid::new_v4(),
            created_at: DateTime::default(),
            stopped: false,
            agent_state: None,
        }
    }

    fn clock() -> Clock {
        Clock::new(Utc::now(), chrono_tz::Europe::Berlin, DateOrder::Dmy)
    }

    fn said(role: &str, content: &str) -> Said {
        Said {
            role: role.into(),
            content: content.into(),
        }
    }

    /// Guesses at 10:30:00.
    fn guess(memory: &Memory, request: &ChatRequest) -> Option<Guess> {
        memory.guess_at(request, at(0))
    }

    fn at(second: u32) -> DateTime<Utc> {
        Utc.with_ymd_and_hms(2026, 11, 26, 9, 30, second)
            .single()
            .expect("a time")
    }

    #[test]
    fn the_next_turn_starts_from_the_history_its_predecessor_left() {
        let memory = Memory::new(10).expect("on");
        let user = Uuid::new_v4();
        let history = [message("user", "hi"), message("assistant", "Hello!")];
        memory.remember(
            &record(user, 2, "add milk"),
            &history,
            clock(),
            false,
            "Added.",
        );

        let guessed = guess(&memory, &request(user, Some(3))).expect("a guess for turn 3");
        assert_eq!(
            guessed.history,
            [
                said("user", "hi"),
                said("assistant", "Hello!"),
                said("user", "add milk"),
                said("assistant", "Added.")
            ]
        );
        assert_eq!(guessed.clock.tz, chrono_tz::Europe::Berlin);
        assert!(
            guess(&memory, &request(user, Some(3))).is_none(),
            "a turn is guessed once"
        );
    }

    #[test]
    fn a_turn_that_is_not_the_next_one_or_not_the_users_gets_no_guess() {
        let memory = Memory::new(10).expect("on");
        let user = Uuid::new_v4();
        for asked in [
            request(user, Some(4)),
            request(user, None),
            request(Uuid::new_v4(), Some(3)),
        ] {
            memory.remember(&record(user, 2, "add milk"), &[], clock(), false, "Added.");
            assert!(guess(&memory, &asked).is_none(), "{asked:?}");
        }
    }

    #[test]
    fn a_first_turn_starts_from_nothing_once_the_users_clock_is_known() {
        let memory = Memory::new(10).expect("on");
        let user = Uuid::new_v4();
        assert!(
            memory.guess(&request(user, Some(1))).is_none(),
            "clock unknown"
        );
        memory.remember(&record(user, 1, "hi"), &[], clock(), false, "Hello!");
        let guessed = guess(&memory, &request(user, Some(1))).expect("a guess");
        assert!(guessed.history.is_empty());
    }

    #[test]
    fn nothing_is_remembered_after_asking_to_confirm_or_past_the_size_limit() {
        let memory = Memory::new(10).expect("on");
        let user = Uuid::new_v4();
        let asked = ToolCall {
            tool: "delete_task".into(),
            arguments: json!({"task_ids": [1, 2]}),
            result: json!({"status": "confirmation_required"}),
        };
        let created = ToolCall {
            tool: "add_task".into(),
            arguments: json!({"title": "milk"}),
            result: json!({"status": "created"}),
        };
        assert!(!asks_to_confirm(std::slice::from_ref(&created)));
        assert!(asks_to_confirm(&[created, asked]));
        memory.remember(&record(user, 1, "hi"), &[], clock(), true, "Sure?");
        assert!(guess(&memory, &request(user, Some(2))).is_none());

        let long = "x".repeat(MAX_REMEMBERED_BYTES);
        memory.remember(&record(user, 1, "hi"), &[], clock(), false, &long);
        assert!(guess(&memory, &request(user, Some(2))).is_none());
    }

    #[test]
    fn the_history_keeps_the_last_messages_a_turn_reads() {
        let limit = usize::try_from(HISTORY_LIMIT).expect("limit");
        let history: Vec<Message> = (0..limit)
            .map(|i| message("user", &format!("m{i}")))
            .collect();
        let next = next_history(&history, "new", "reply");
        assert_eq!(next.len(), limit);
        assert_eq!(next[0], said("user", "m2"));
        assert_eq!(next[limit - 1], said("assistant", "reply"));
    }

    #[test]
    fn no_guess_in_a_minutes_last_second_when_the_prompts_time_may_turn() {
        let memory = Memory::new(10).expect("on");
        let user = Uuid::new_v4();
        memory.remember(&record(user, 1, "hi"), &[], clock(), false, "Hello!");
        assert!(memory.guess_at(&request(user, Some(2)), at(59)).is_none());
        memory.remember(&record(user, 1, "hi"), &[], clock(), false, "Hello!");
        assert!(memory.guess_at(&request(user, Some(2)), at(58)).is_some());
    }

    #[test]
    fn zero_conversations_turns_it_off() {
        assert!(Memory::new(0).is_none());
    }
}
