//! Group commit of turns in the worker ([`todo_common::batch`]): starting a turn
//! ([`chat::begin_many`]; a turn the batch did not start takes the one-by-one path, which tells
//! why) and finishing one ([`chat::finish_many`]; a failed batch is retried turn by turn, so each
//! turn gets its own outcome).

use std::time::Duration;

use sqlx::PgPool;
use todo_common::batch::Batcher;
use todo_common::chat::{self, ChatRequestRecord, FinishedTurn};
use uuid::Uuid;

/// Starts turns in batches: `Some(record)` when the batch started the turn, `None` when it did
/// not (the caller's one-by-one path finds out why: finished, blocked, missing).
pub type Starter = Batcher<(Uuid, Uuid), Option<ChatRequestRecord>>;

/// Stores finished turns in batches.
pub type Finisher = Batcher<FinishedTurn, ()>;

pub fn starter(pool: PgPool, lease: Duration) -> Starter {
    Batcher::start("begin", move |turns: Vec<(Uuid, Uuid)>| {
        let pool = pool.clone();
        async move {
            match chat::begin_many(&pool, &turns, lease).await {
                Ok(started) => turns
                    .iter()
                    .map(|(request_id, _)| {
                        Ok(started
                            .iter()
                            .find(|r| r.request_id == *request_id)
                            .cloned())
                    })
                    .collect(),
                Err(e) if turns.len() == 1 => vec![Err(e)],
                // each turn finds its own outcome one by one
                Err(_) => turns.iter().map(|_| Ok(None)).collect(),
            }
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
