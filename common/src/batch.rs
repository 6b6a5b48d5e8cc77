//! Group commit across requests: items that reach the same step while an earlier batch of it is
//! being stored are stored together by the next batch, in one statement and one commit. Nothing
//! waits to fill a batch: an item that arrives alone goes at once, so batches only form under
//! load, where they save a round trip and a commit per item. Used by the api (accepting turns)
//! and the worker (starting and finishing them).

use std::future::Future;
use std::sync::Arc;

use tokio::sync::{Mutex, mpsc, oneshot};

/// Most items in one statement.
const MAX_BATCH: usize = 64;
/// Batches of one step being stored at once.
const LANES: usize = 2;

type Job<I, O> = (I, oneshot::Sender<sqlx::Result<O>>);

/// Runs `run` over batches of the items handed to [`Batcher::submit`]; `run` returns one result
/// per item, in order.
pub struct Batcher<I, O> {
    jobs: mpsc::Sender<Job<I, O>>,
}

impl<I, O> Clone for Batcher<I, O> {
    fn clone(&self) -> Self {
        Self {
            jobs: self.jobs.clone(),
        }
    }
}

impl<I: Send + 'static, O: Send + 'static> Batcher<I, O> {
    pub fn start<F, Fut>(step: &'static str, run: F) -> Self
    where
        F: Fn(Vec<I>) -> Fut + Send + Sync + 'static,
        Fut: Future<Output = Vec<sqlx::Result<O>>> + Send + 'static,
    {
        let (jobs, queue) = mpsc::channel::<Job<I, O>>(MAX_BATCH * LANES * 4);
        let queue = Arc::new(Mutex::new(queue));
        let run = Arc::new(run);
        for _ in 0..LANES {
            tokio::spawn(lane(step, queue.clone(), run.clone()));
        }
        Self { jobs }
    }

    /// Runs `item` in the next batch and returns its result.
    pub async fn submit(&self, item: I) -> sqlx::Result<O> {
        let (done, outcome) = oneshot::channel();
        self.jobs
            .send((item, done))
            .await
            .map_err(|_| sqlx::Error::PoolClosed)?;
        outcome.await.map_err(|_| sqlx::Error::PoolClosed)?
    }
}

async fn lane<I, O, F, Fut>(
    step: &'static str,
    queue: Arc<Mutex<mpsc::Receiver<Job<I, O>>>>,
    run: Arc<F>,
) where
    F: Fn(Vec<I>) -> Fut,
    Fut: Future<Output = Vec<sqlx::Result<O>>>,
{
    loop {
        let mut items = Vec::with_capacity(MAX_BATCH);
        let mut waiting = Vec::with_capacity(MAX_BATCH);
        {
            let mut queue = queue.lock().await;
            let Some((item, done)) = queue.recv().await else {
                return;
            };
            items.push(item);
            waiting.push(done);
            while items.len() < MAX_BATCH {
                let Ok((item, done)) = queue.try_recv() else {
                    break;
                };
                items.push(item);
                waiting.push(done);
            }
        }
        #[allow(clippy::cast_precision_loss)] // at most MAX_BATCH
        metrics::histogram!("todo_batch_size", "step" => step).record(items.len() as f64);
        let started = std::time::Instant::now();
        let results = run(items).await;
        metrics::histogram!("todo_batch_duration_seconds", "step" => step)
            .record(started.elapsed().as_secs_f64());
        for (done, result) in waiting.into_iter().zip(results) {
            let _ = done.send(result);
        }
    }
}
