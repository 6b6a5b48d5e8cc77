//! Stopping turns: the api publishes `<prefix>.cancel.<request_id>` when a user stops a reply, and
//! every worker listens (one subscription per process). The worker running that turn trips its
//! token; the agent then stops reading the model and calls no further tool. A turn not running
//! anywhere is stopped through its Postgres mark instead (checked when a turn starts).

use std::collections::HashMap;
use std::sync::{Arc, Mutex};

use futures::StreamExt;
use tokio_util::sync::CancellationToken;
use uuid::Uuid;

/// The cancellation tokens of the turns this worker runs, by request id.
#[derive(Clone, Default)]
pub struct Cancels {
    running: Arc<Mutex<HashMap<Uuid, (CancellationToken, usize)>>>,
}

/// A registered turn's token; unregisters when dropped.
pub struct Registration {
    cancels: Cancels,
    request_id: Uuid,
    token: CancellationToken,
}

impl Registration {
    pub fn token(&self) -> CancellationToken {
        self.token.clone()
    }
}

impl Drop for Registration {
    fn drop(&mut self) {
        let mut running = self
            .cancels
            .running
            .lock()
            .unwrap_or_else(std::sync::PoisonError::into_inner);
        if let Some((_, count)) = running.get_mut(&self.request_id) {
            *count -= 1;
            if *count == 0 {
                running.remove(&self.request_id);
            }
        }
    }
}

impl Cancels {
    /// Registers a turn before it starts (so a stop published from then on reaches it; one
    /// published earlier is found as the Postgres mark when it starts).
    pub fn register(&self, request_id: Uuid) -> Registration {
        let mut running = self
            .running
            .lock()
            .unwrap_or_else(std::sync::PoisonError::into_inner);
        let entry = running
            .entry(request_id)
            .or_insert_with(|| (CancellationToken::new(), 0));
        entry.1 += 1;
        Registration {
            cancels: self.clone(),
            request_id,
            token: entry.0.clone(),
        }
    }

    /// Trips the token of a turn this worker runs (nothing if it runs elsewhere).
    pub fn cancel(&self, request_id: Uuid) -> bool {
        let running = self
            .running
            .lock()
            .unwrap_or_else(std::sync::PoisonError::into_inner);
        running.get(&request_id).is_some_and(|(token, _)| {
            token.cancel();
            true
        })
    }

    /// Listens for stop requests until the subscription ends.
    pub async fn listen(self, mut stops: async_nats::Subscriber) {
        while let Some(message) = stops.next().await {
            let Some(request_id) = message
                .subject
                .rsplit('.')
                .next()
                .and_then(|s| Uuid::parse_str(s).ok())
            else {
                continue;
            };
            if self.cancel(request_id) {
                tracing::info!(%request_id, "stop requested: stopping the turn");
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_stop_reaches_every_registration_of_the_request_and_only_while_registered() {
        let cancels = Cancels::default();
        let id = Uuid::new_v4();
        let first = cancels.register(id);
        let second = cancels.register(id);
        assert!(cancels.cancel(id));
        assert!(first.token().is_cancelled() && second.token().is_cancelled());
        drop(first);
        drop(second);
        assert!(!cancels.cancel(id), "unregistered once both are dropped");
        let other = cancels.register(Uuid::new_v4());
        assert!(!other.token().is_cancelled());
    }
}
