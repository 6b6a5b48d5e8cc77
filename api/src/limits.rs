//! Rate limits: chat requests per user per minute, login attempts per email and per client IP
//! (token buckets from `governor`, kept per api instance), each answered 429 with `Retry-After`.
//! The per-user in-flight limit is counted in Postgres instead (see `chat::accept`), so it holds
//! across api instances.

use std::hash::Hash;
use std::net::IpAddr;
use std::num::NonZeroU32;
use std::sync::Arc;
use std::time::Duration;

use governor::clock::{Clock, DefaultClock};
use governor::{DefaultKeyedRateLimiter, Quota, RateLimiter};
use todo_common::config::LimitsConfig;
use uuid::Uuid;

use crate::error::{ApiError, Result};

/// How often limiter entries of keys that have been quiet long enough are dropped.
const CLEANUP_EVERY: Duration = Duration::from_secs(60);

pub struct Limits {
    chat: Option<DefaultKeyedRateLimiter<Uuid>>,
    login_email: Option<DefaultKeyedRateLimiter<String>>,
    login_ip: Option<DefaultKeyedRateLimiter<IpAddr>>,
    /// Unanswered chat requests one user may have.
    pub chat_max_in_flight: Option<u32>,
}

fn per_minute<K: Hash + Eq + Clone>(n: Option<NonZeroU32>) -> Option<DefaultKeyedRateLimiter<K>> {
    n.map(|n| RateLimiter::keyed(Quota::per_minute(n)))
}

fn check<K: Hash + Eq + Clone>(
    limiter: Option<&DefaultKeyedRateLimiter<K>>,
    key: &K,
    message: impl FnOnce() -> String,
) -> Result<()> {
    let Some(limiter) = limiter else {
        return Ok(());
    };
    limiter.check_key(key).map_err(|not_until| {
        let wait = not_until.wait_time_from(DefaultClock::default().now());
        ApiError::TooManyRequests {
            code: "rate_limited",
            message: message(),
            retry_after_secs: wait.as_secs_f64().ceil() as u64,
        }
    })
}

impl Limits {
    pub fn new(config: &LimitsConfig) -> Arc<Self> {
        let limits = Arc::new(Self {
            chat: per_minute(config.chat_per_minute),
            login_email: per_minute(config.login_per_minute_per_email),
            login_ip: per_minute(config.login_per_minute_per_ip),
            chat_max_in_flight: config.chat_max_in_flight,
        });
        let weak = Arc::downgrade(&limits);
        tokio::spawn(async move {
            let mut tick = tokio::time::interval(CLEANUP_EVERY);
            loop {
                tick.tick().await;
                let Some(limits) = weak.upgrade() else { return };
                limits.retain_recent();
            }
        });
        limits
    }

    fn retain_recent(&self) {
        if let Some(l) = &self.chat {
            l.retain_recent();
        }
        if let Some(l) = &self.login_email {
            l.retain_recent();
        }
        if let Some(l) = &self.login_ip {
            l.retain_recent();
        }
    }

    /// Counts one chat request of `user_id` against its per-minute budget.
    pub fn check_chat(&self, user_id: Uuid) -> Result<()> {
        check(self.chat.as_ref(), &user_id, || {
            "too many chat messages in the last minute; wait a moment and try again".into()
        })
    }

    /// Counts one login attempt from `ip` for `email` (case-insensitive) against both budgets.
    pub fn check_login(&self, ip: IpAddr, email: &str) -> Result<()> {
        check(self.login_ip.as_ref(), &ip, || {
            "too many login attempts from this address; wait a moment and try again".into()
        })?;
        check(
            self.login_email.as_ref(),
            &email.trim().to_lowercase(),
            || "too many login attempts for this account; wait a moment and try again".into(),
        )
    }
}
