//! Group commit of turns in the worker ([`todo_common::batch`]): starting a turn and reading what
//! its agent starts from, in one statement ([`chat::begin_and_start_many`]; a turn the batch did
//! not start takes the one-by-one path, [`chat::begin_turn`], which tells why), and finishing one
//! ([`chat::finish_many`]; a failed batch is retried turn by turn, so each turn gets its own
//! outcome).

use std::time::Duration;

use sqlx::PgPool;
use todo_common::batch::Batcher;
use todo_common::chat::{self, ChatRequestRecord, FinishedTurn, HistoryNeed, TurnStart};
use uuid::Uuid;

/// A started turn, with what its agent starts from.
pub struct Started {
    pub record: ChatRequestRecord,
    pub start: TurnStart,
}

/// Starts turns in batches (`(request_id, user_id)`): `Some` when the batch started the turn,
/// `None` when it did not (the caller's one-by-one path finds out why: finished, blocked,
/// missing).
pub type Starter = Batcher<(Uuid, Uuid), Option<Started>>;

/// Stores finished turns in batches.
pub type Finisher = Batcher<FinishedTurn, ()>;

/// Starts turns whose agent reads `history` of its conversation.
pub fn starter(pool: PgPool, lease: Duration, history: HistoryNeed) -> Starter {
    Batcher::start("begin", move |turns: Vec<(Uuid, Uuid)>| {
        let pool = pool.clone();
        async move {
            let mut started: Vec<Started> =
                match chat::begin_and_start_many(&pool, &turns, lease, history).await {
                    Ok(started) => started
                        .into_iter()
                        .map(|(record, start)| Started { record, start })
                        .collect(),
                    Err(e) if turns.len() == 1 => return vec![Err(e)],
                    // each turn finds its own outcome one by one
                    Err(_) => return turns.iter().map(|_| Ok(None)).collect(),
                };
            turns
                .iter()
                .map(|(request_id, _)| {
                    Ok(started
                        .iter()
                        .position(|s| s.record.request_id == *request_id)
                        .map(|i| started.swap_remove(i)))
                })
                .collect()
        }
    })
}

pub fn finisher(pool: PgPool) -> Finisher {
    Batcher::start("finish", move |turns: Vec<FinishedTurn>| {
        let pool = pool.clone();
        async move {
            match chat::finish_many(&pool, &turns).await {
                Ok(()) => turns.iter().map(|_| Ok(())).collect(),
                Err(e) if turns.len() == 1 => vec![Err(e)],
                Err(e) => {
                    tracing::warn!(error = %e, turns = turns.len(), "storing a batch of finished turns failed; storing them one by one");
                    let mut results = Vec::with_capacity(turns.len());
                    for turn in &turns {
                        results.push(chat::finish_many(&pool, std::slice::from_ref(turn)).await);
                    }
                    results
                }
            }
        }
    })
}
