//! Rate limits: chat requests per user per minute, login attempts per email and per client IP,
//! signups per client IP and in all (token buckets from `governor`, kept per api instance), each
//! answered 429 with `Retry-After`; open WebSockets per user and per client IP; frames per socket.
//! The per-user in-flight limit is counted in Postgres instead (see `chat::accept`), so it holds
//! across api instances.

use std::collections::HashMap;
use std::hash::Hash;
use std::net::IpAddr;
use std::num::NonZeroU32;
use std::sync::{Arc, Mutex};
use std::time::Duration;

use governor::clock::{Clock, DefaultClock};
use governor::{DefaultDirectRateLimiter, DefaultKeyedRateLimiter, Quota, RateLimiter};
use todo_common::config::LimitsConfig;
use uuid::Uuid;

use crate::error::{ApiError, Result};

/// How often limiter entries of keys that have been quiet long enough are dropped.
const CLEANUP_EVERY: Duration = Duration::from_secs(60);

pub struct Limits {
    chat: Option<DefaultKeyedRateLimiter<Uuid>>,
    login_email: Option<DefaultKeyedRateLimiter<String>>,
    login_ip: Option<DefaultKeyedRateLimiter<IpAddr>>,
    signup_ip: Option<DefaultKeyedRateLimiter<IpAddr>>,
    signup_all: Option<DefaultDirectRateLimiter>,
    /// Unanswered chat requests one user may have.
    pub chat_max_in_flight: Option<u32>,
    ws_max_per_user: Option<u32>,
    ws_max_per_ip: Option<u32>,
    ws_frames_per_second: Option<NonZeroU32>,
    sockets: Mutex<SocketCounts>,
}

#[derive(Default)]
struct SocketCounts {
    per_user: HashMap<Uuid, u32>,
    per_ip: HashMap<IpAddr, u32>,
}

/// One open WebSocket, counted against its user's and address's caps until dropped.
pub struct SocketSlot {
    limits: Arc<Limits>,
    user_id: Uuid,
    ip: IpAddr,
}

fn release<K: Hash + Eq>(map: &mut HashMap<K, u32>, key: &K) {
    if let Some(n) = map.get_mut(key) {
        *n = n.saturating_sub(1);
        if *n == 0 {
            map.remove(key);
        }
    }
}

impl Drop for SocketSlot {
    fn drop(&mut self) {
        if let Ok(mut counts) = self.limits.sockets.lock() {
            release(&mut counts.per_user, &self.user_id);
            release(&mut counts.per_ip, &self.ip);
        }
    }
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
            signup_ip: config
                .signup_per_hour_per_ip
                .map(|n| RateLimiter::keyed(Quota::per_hour(n))),
            signup_all: config
                .signup_per_minute
                .map(|n| RateLimiter::direct(Quota::per_minute(n))),
            chat_max_in_flight: config.chat_max_in_flight,
            ws_max_per_user: config.ws_max_per_user,
            ws_max_per_ip: config.ws_max_per_ip,
            ws_frames_per_second: config.ws_frames_per_second,
            sockets: Mutex::new(SocketCounts::default()),
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
        if let Some(l) = &self.signup_ip {
            l.retain_recent();
        }
    }

    /// Counts one signup from `ip` against the per-address and the global budget.
    pub fn check_signup(&self, ip: IpAddr) -> Result<()> {
        check(self.signup_ip.as_ref(), &ip, || {
            "too many accounts created from this address; try again later".into()
        })?;
        if let Some(all) = &self.signup_all {
            all.check().map_err(|not_until| ApiError::TooManyRequests {
                code: "rate_limited",
                message: "too many accounts are being created right now; try again shortly".into(),
                retry_after_secs: not_until
                    .wait_time_from(DefaultClock::default().now())
                    .as_secs_f64()
                    .ceil() as u64,
            })?;
        }
        Ok(())
    }

    /// Takes a WebSocket slot for the user and address, or refuses with 429 `too_many_sockets`.
    pub fn open_socket(self: &Arc<Self>, user_id: Uuid, ip: IpAddr) -> Result<SocketSlot> {
        let refuse = |what: &str| ApiError::TooManyRequests {
            code: "too_many_sockets",
            message: format!("too many open chat connections {what}; close one and try again"),
            retry_after_secs: 5,
        };
        let mut counts = self
            .sockets
            .lock()
            .map_err(|_| ApiError::Internal(anyhow::anyhow!("socket counts poisoned")))?;
        let user_open = counts.per_user.get(&user_id).copied().unwrap_or(0);
        let ip_open = counts.per_ip.get(&ip).copied().unwrap_or(0);
        if self.ws_max_per_user.is_some_and(|max| user_open >= max) {
            return Err(refuse("for this account"));
        }
        if self.ws_max_per_ip.is_some_and(|max| ip_open >= max) {
            return Err(refuse("from this address"));
        }
        *counts.per_user.entry(user_id).or_default() += 1;
        *counts.per_ip.entry(ip).or_default() += 1;
        Ok(SocketSlot {
            limits: self.clone(),
            user_id,
            ip,
        })
    }

    /// A fresh budget for the frames of one socket (any type): `WS_FRAMES_PER_SECOND`, bursts of
    /// twice that.
    pub fn frame_budget(&self) -> Option<DefaultDirectRateLimiter> {
        self.ws_frames_per_second.map(|n| {
            let burst = n.saturating_mul(NonZeroU32::new(2).unwrap_or(NonZeroU32::MIN));
            RateLimiter::direct(Quota::per_second(n).allow_burst(burst))
        })
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
