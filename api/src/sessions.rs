//! Revoked sessions reach every open WebSocket on every api instance at once: a logout or a
//! password change is published on `<prefix>.revocations` (core NATS) and each instance fans it
//! out to its sockets, which close with code 4001. Postgres stays the source of truth (every
//! request checks it); a socket also re-checks its session every [`RECHECK_EVERY`], so a lost
//! broadcast delays the close but does not prevent it.

use std::sync::Arc;
use std::time::Duration;

use futures::StreamExt;
use serde::{Deserialize, Serialize};
use tokio::sync::broadcast;
use uuid::Uuid;

/// How often an open socket re-checks its session in Postgres.
pub const RECHECK_EVERY: Duration = Duration::from_secs(60);

/// Sessions that ended: one (`jti`) or all of a user's (`jti: None`).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
pub struct Revocation {
    pub user_id: Uuid,
    pub jti: Option<Uuid>,
}

impl Revocation {
    /// Whether this revocation ends the given session.
    pub fn ends(&self, user_id: Uuid, jti: Uuid) -> bool {
        self.user_id == user_id && self.jti.is_none_or(|j| j == jti)
    }
}

pub struct Sessions {
    nats: async_nats::Client,
    subject: String,
    local: broadcast::Sender<Revocation>,
}

impl Sessions {
    /// Subscribes to the instance-wide revocation subject and fans it out locally.
    pub fn start(nats: async_nats::Client, subject_prefix: &str) -> Arc<Self> {
        let (local, _) = broadcast::channel(256);
        let sessions = Arc::new(Self {
            nats: nats.clone(),
            subject: format!("{subject_prefix}.revocations"),
            local,
        });
        let weak = Arc::downgrade(&sessions);
        let subject = sessions.subject.clone();
        tokio::spawn(async move {
            let mut retry = 0;
            loop {
                match nats.subscribe(subject.clone()).await {
                    Ok(mut sub) => {
                        retry = 0;
                        while let Some(msg) = sub.next().await {
                            let Some(sessions) = weak.upgrade() else {
                                return;
                            };
                            if let Ok(r) = serde_json::from_slice::<Revocation>(&msg.payload) {
                                let _ = sessions.local.send(r);
                            }
                        }
                    }
                    Err(e) => {
                        tracing::warn!(error = %e, "cannot subscribe to revocations yet; retrying")
                    }
                }
                if weak.strong_count() == 0 {
                    return;
                }
                retry += 1;
                tokio::time::sleep(todo_common::retry::BROKER.delay(retry)).await;
            }
        });
        sessions
    }

    /// Announces ended sessions to every instance (best effort: sockets re-check anyway).
    pub async fn revoked(&self, user_id: Uuid, jti: Option<Uuid>) {
        let revocation = Revocation { user_id, jti };
        let _ = self.local.send(revocation);
        let payload = serde_json::to_vec(&revocation).unwrap_or_default();
        if let Err(e) = self
            .nats
            .publish(self.subject.clone(), payload.into())
            .await
        {
            tracing::warn!(error = %e, "could not broadcast a revocation; sockets will notice at their next check");
        }
    }

    pub fn subscribe(&self) -> broadcast::Receiver<Revocation> {
        self.local.subscribe()
    }
}
