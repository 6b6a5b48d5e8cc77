//! How the system waits before trying again: one [`Backoff`] type, and one named policy per kind
//! of operation, so that every retry loop says which it follows and the numbers live here.
//!
//! | policy | first wait | doubling up to | attempts | used for |
//! |---|---|---|---|---|
//! | [`BROKER`] | 200 ms | 5 s | until stopped | (re)creating the stream / consumer, pulling, subscribing |
//! | [`TURN_ORDER`] | 5 ms | 200 ms | until `ORDER_WAIT` | waiting for earlier turns of a conversation |
//! | [`REDELIVERY`] | 500 ms | 30 s | `NATS_MAX_DELIVER` | nak delay of a turn that failed and may succeed later |
//! | [`model_call`] | 200 ms | 12.8 s | `OPENAI_MAX_RETRIES` | one model call (connection, 408/429/5xx, stall before any text) |

use std::time::Duration;

/// Exponential backoff: `first`, doubling, never more than `max`; at most `retries` retries
/// (`None`: the caller decides when to stop).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Backoff {
    pub first: Duration,
    pub max: Duration,
    pub retries: Option<u32>,
}

impl Backoff {
    pub const fn new(first: Duration, max: Duration) -> Self {
        Self {
            first,
            max,
            retries: None,
        }
    }

    /// The same backoff with a budget of `retries` retries.
    pub const fn with_retries(self, retries: u32) -> Self {
        Self {
            retries: Some(retries),
            ..self
        }
    }

    /// How long to wait before retry number `retry` (1 for the first retry).
    pub fn delay(&self, retry: u32) -> Duration {
        let doublings = retry.saturating_sub(1).min(20);
        self.first.saturating_mul(1 << doublings).min(self.max)
    }

    /// Whether retry number `retry` is within the budget.
    pub fn allows(&self, retry: u32) -> bool {
        self.retries.is_none_or(|budget| retry <= budget)
    }
}

/// Broker set-up and reconnection loops.
pub const BROKER: Backoff = Backoff::new(Duration::from_millis(200), Duration::from_secs(5));

/// Polling for the earlier turns of a conversation to finish.
pub const TURN_ORDER: Backoff = Backoff::new(Duration::from_millis(5), Duration::from_millis(200));

/// Redelivery delay of a turn that failed and may succeed later (nak with delay).
pub const REDELIVERY: Backoff = Backoff::new(Duration::from_millis(500), Duration::from_secs(30));

/// One model call: `retries` retries (`OPENAI_MAX_RETRIES`), so at most `retries + 1` HTTP
/// attempts, whatever failed.
pub const fn model_call(retries: u32) -> Backoff {
    Backoff::new(Duration::from_millis(200), Duration::from_millis(12_800)).with_retries(retries)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn delays_double_up_to_the_cap_and_budgets_bound_the_retries() {
        assert_eq!(REDELIVERY.delay(1), Duration::from_millis(500));
        assert_eq!(REDELIVERY.delay(2), Duration::from_secs(1));
        assert_eq!(REDELIVERY.delay(7), Duration::from_secs(30));
        assert_eq!(REDELIVERY.delay(100), Duration::from_secs(30));
        let call = model_call(3);
        assert!(call.allows(3) && !call.allows(4));
        assert!(BROKER.allows(1_000));
        assert_eq!(TURN_ORDER.delay(1), Duration::from_millis(5));
        assert_eq!(TURN_ORDER.delay(10), Duration::from_millis(200));
    }
}
