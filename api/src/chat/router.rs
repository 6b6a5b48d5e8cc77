//! One NATS subscription for the reply events of every turn this api instance accepts.
//!
//! A turn accepted here asks for its events on `<prefix>.events.<instance>.<request_id>` (the
//! request's `reply_to`), and the instance holds one subscription to `<prefix>.events.<instance>.>`
//! for all of them, routing each message in process by the request id at the end of its subject.
//! Compared with a subscription per turn this saves the SUB/UNSUB pair (and the server's interest
//! bookkeeping) on every turn. A request followed from another instance (a resume after a
//! reconnect elsewhere) still subscribes to its own `reply_to` there.

use std::collections::HashMap;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, Mutex, Weak};

use futures::StreamExt;
use tokio::sync::mpsc;
use uuid::Uuid;

/// Routes this instance's reply events to the followers of each request.
pub struct EventRouter {
    /// `<prefix>.events.<instance>`
    subject: String,
    routes: Mutex<HashMap<Uuid, Vec<RouteEntry>>>,
    next_id: AtomicU64,
}

/// One follower's events of one request; leaves the router when dropped.
pub struct Route {
    router: Arc<EventRouter>,
    request_id: Uuid,
    id: u64,
    pub events: mpsc::UnboundedReceiver<async_nats::Message>,
}

impl Drop for Route {
    fn drop(&mut self) {
        let mut routes = self.router.lock();
        if let Some(followers) = routes.get_mut(&self.request_id) {
            followers.retain(|(id, _)| *id != self.id);
            if followers.is_empty() {
                routes.remove(&self.request_id);
            }
        }
    }
}

impl EventRouter {
    /// Subscribes to this instance's event subjects (a fresh instance id per process) and routes
    /// what arrives. The subscription is in place when this returns.
    pub async fn start(
        nats: &async_nats::Client,
        subject_prefix: &str,
    ) -> Result<Arc<Self>, async_nats::SubscribeError> {
        let instance = Uuid::new_v4().simple();
        let router = Arc::new(Self {
            subject: format!("{subject_prefix}.events.{instance}"),
            routes: Mutex::default(),
            next_id: AtomicU64::new(0),
        });
        let subscriber = nats.subscribe(format!("{}.>", router.subject)).await?;
        tokio::spawn(dispatch(Arc::downgrade(&router), subscriber));
        Ok(router)
    }

    fn lock(&self) -> std::sync::MutexGuard<'_, HashMap<Uuid, Vec<RouteEntry>>> {
        self.routes
            .lock()
            .unwrap_or_else(std::sync::PoisonError::into_inner)
    }

    /// The `reply_to` of a request accepted here.
    pub fn reply_subject(&self, request_id: Uuid) -> String {
        format!("{}.{request_id}", self.subject)
    }

    /// Follows `request_id`'s events if they are published on `subject` and that is one of this
    /// instance's subjects; `None` otherwise (the caller subscribes to `subject` itself).
    pub fn follow(self: &Arc<Self>, subject: &str, request_id: Uuid) -> Option<Route> {
        if subject != self.reply_subject(request_id) {
            return None;
        }
        let (tx, events) = mpsc::unbounded_channel();
        let id = self.next_id.fetch_add(1, Ordering::Relaxed);
        self.lock().entry(request_id).or_default().push((id, tx));
        Some(Route {
            router: self.clone(),
            request_id,
            id,
            events,
        })
    }

    fn deliver(&self, message: async_nats::Message) {
        let Some(request_id) = message
            .subject
            .as_str()
            .strip_prefix(self.subject.as_str())
            .and_then(|rest| rest.strip_prefix('.'))
            .and_then(|id| Uuid::parse_str(id).ok())
        else {
            return;
        };
        let routes = self.lock();
        let Some(followers) = routes.get(&request_id) else {
            return; // nobody follows it here any more
        };
        if let [(_, only)] = followers.as_slice() {
            let _ = only.send(message);
        } else {
            for (_, tx) in followers {
                let _ = tx.send(message.clone());
            }
        }
    }
}

type RouteEntry = (u64, mpsc::UnboundedSender<async_nats::Message>);

async fn dispatch(router: Weak<EventRouter>, mut subscriber: async_nats::Subscriber) {
    while let Some(message) = subscriber.next().await {
        let Some(router) = router.upgrade() else {
            return;
        };
        router.deliver(message);
    }
    // Only when the NATS client itself is gone: followers fall back to their Postgres check.
    tracing::warn!("the reply event subscription ended");
}
