//! Live task sync: every change to a user's tasks reaches every open socket of that user, on every
//! api instance, as a `tasks_changed` frame.
//!
//! Whoever commits a change (REST and MCP here, chat tools in a worker) publishes a
//! [`TasksChangedNotice`] on `<prefix>.changes.<user_id>`. Each instance holds one subscription
//! to `<prefix>.changes.*` and, for a user with sockets open here, loads the changed tasks in that
//! user's clock once and hands the frame to each of the user's sockets. Notices that arrive while
//! a load is running are loaded together, in one statement, and their frames sent in order.

use std::collections::HashMap;
use std::sync::{Arc, Mutex, Weak};

use futures::{FutureExt, StreamExt};
use sqlx::PgPool;
use todo_common::protocol::{ServerFrame, TasksChangedNotice};
use todo_common::tasks::{TaskView, store};
use tokio::sync::broadcast;
use uuid::Uuid;

/// Frames a socket may fall behind by before it misses some (it then reloads on the next one).
const PER_USER_BUFFER: usize = 64;

/// Most notices loaded by one statement (as many as a group-commit batch).
const MAX_BATCH: usize = 64;

pub struct TaskFeed {
    nats: async_nats::Client,
    prefix: String,
    users: Mutex<HashMap<Uuid, broadcast::Sender<Arc<str>>>>,
}

/// One socket's view of its user's changes; leaves the feed when dropped.
pub struct Subscription {
    feed: Arc<TaskFeed>,
    user_id: Uuid,
    pub frames: broadcast::Receiver<Arc<str>>,
}

impl Drop for Subscription {
    fn drop(&mut self) {
        let mut users = self.feed.lock();
        // This receiver still counts until it is dropped (after this function): 1 means last.
        if users
            .get(&self.user_id)
            .is_some_and(|tx| tx.receiver_count() <= 1)
        {
            users.remove(&self.user_id);
        }
    }
}

impl TaskFeed {
    /// Subscribes to every user's change notices and fans them out to this instance's sockets.
    pub fn start(nats: async_nats::Client, db: PgPool, prefix: &str) -> Arc<Self> {
        let feed = Arc::new(Self {
            nats: nats.clone(),
            prefix: prefix.to_owned(),
            users: Mutex::default(),
        });
        tokio::spawn(listen(Arc::downgrade(&feed), nats, db, prefix.to_owned()));
        feed
    }

    fn lock(&self) -> std::sync::MutexGuard<'_, HashMap<Uuid, broadcast::Sender<Arc<str>>>> {
        self.users
            .lock()
            .unwrap_or_else(std::sync::PoisonError::into_inner)
    }

    /// The change frames of one user's tasks, for one socket.
    pub fn subscribe(self: &Arc<Self>, user_id: Uuid) -> Subscription {
        let frames = self
            .lock()
            .entry(user_id)
            .or_insert_with(|| broadcast::channel(PER_USER_BUFFER).0)
            .subscribe();
        Subscription {
            feed: self.clone(),
            user_id,
            frames,
        }
    }

    /// Announces a committed change to every instance (best effort: a lost notice leaves a pane
    /// stale until the next change or reload; no data depends on it).
    pub async fn announce(&self, notice: &TasksChangedNotice) {
        notice.publish(&self.nats, &self.prefix).await;
    }

    fn sender(&self, user_id: Uuid) -> Option<broadcast::Sender<Arc<str>>> {
        self.lock().get(&user_id).cloned()
    }
}

async fn listen(feed: Weak<TaskFeed>, nats: async_nats::Client, db: PgPool, prefix: String) {
    let subject = format!("{prefix}.changes.*");
    let mut retry = 0;
    loop {
        match nats.subscribe(subject.clone()).await {
            Ok(mut notices) => {
                retry = 0;
                while let Some(message) = notices.next().await {
                    // This notice and those already waiting behind it (none wait when idle).
                    let mut batch = vec![message];
                    while batch.len() < MAX_BATCH {
                        match notices.next().now_or_never() {
                            Some(Some(message)) => batch.push(message),
                            _ => break,
                        }
                    }
                    #[allow(clippy::cast_precision_loss)] // at most MAX_BATCH
                    metrics::histogram!("todo_batch_size", "step" => "feed")
                        .record(batch.len() as f64);
                    let Some(feed) = feed.upgrade() else { return };
                    // The notices of users with a socket here.
                    let wanted: Vec<(TasksChangedNotice, broadcast::Sender<Arc<str>>)> = batch
                        .iter()
                        .filter_map(|m| {
                            serde_json::from_slice::<TasksChangedNotice>(&m.payload).ok()
                        })
                        .filter_map(|notice| feed.sender(notice.user_id).map(|tx| (notice, tx)))
                        .collect();
                    if wanted.is_empty() {
                        continue;
                    }
                    match frames(&db, wanted.iter().map(|(notice, _)| notice)).await {
                        Ok(frames) => {
                            for ((_, sender), frame) in wanted.iter().zip(frames) {
                                if let Some(frame) = frame {
                                    let _ = sender.send(frame);
                                }
                            }
                        }
                        Err(e) => tracing::warn!(error = %e, "could not load changed tasks"),
                    }
                }
            }
            Err(e) => tracing::warn!(error = %e, "cannot subscribe to task changes yet; retrying"),
        }
        if feed.strong_count() == 0 {
            return;
        }
        retry += 1;
        tokio::time::sleep(todo_common::retry::BROKER.delay(retry)).await;
    }
}

/// The `tasks_changed` frame of each notice, in order: the changed tasks as they are now, in the
/// user's clock (a task deleted meanwhile is reported deleted); `None` for a notice that leaves
/// nothing to say. One statement for all of them.
async fn frames<'a>(
    db: &PgPool,
    notices: impl Iterator<Item = &'a TasksChangedNotice> + Clone,
) -> sqlx::Result<Vec<Option<Arc<str>>>> {
    let mut wanted: Vec<(Uuid, i32)> = notices
        .clone()
        .flat_map(|n| n.changed.iter().map(|id| (n.user_id, *id)))
        .collect();
    wanted.sort_unstable();
    wanted.dedup();
    let mut found: HashMap<(Uuid, i32), TaskView> = HashMap::with_capacity(wanted.len());
    if !wanted.is_empty() {
        let mut conn = db.acquire().await?;
        for (task, clock) in store::get_many_with_clock(&mut conn, &wanted).await? {
            found.insert((task.user_id, task.id), TaskView::new(task, &clock));
        }
    }
    Ok(notices.map(|notice| frame(notice, &found)).collect())
}

fn frame(notice: &TasksChangedNotice, found: &HashMap<(Uuid, i32), TaskView>) -> Option<Arc<str>> {
    let mut changed = notice.changed.clone();
    changed.sort_unstable();
    changed.dedup();
    let mut tasks = Vec::with_capacity(changed.len());
    let mut deleted = notice.deleted.clone();
    for id in changed {
        match found.get(&(notice.user_id, id)) {
            Some(task) => tasks.push(task.clone()),
            None => deleted.push(id),
        }
    }
    deleted.sort_unstable();
    deleted.dedup();
    if tasks.is_empty() && deleted.is_empty() {
        return None;
    }
    Some(
        ServerFrame::TasksChanged { tasks, deleted }
            .to_json()
            .into(),
    )
}
