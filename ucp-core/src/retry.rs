//! One retry policy for every outbound delivery: product deliveries and health webhooks.

use std::time::Duration;

/// How deliveries are retried: exponential backoff with jitter, bounded, honouring the
/// receiver's `Retry-After`. For a product subscription, a batch goes to the dead-letter store
/// after the last attempt (durable queues retry temporary failures without limit).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct RetryPolicy {
    /// Attempts in all, the first included (at least 1).
    pub max_attempts: u32,
    /// Backoff before the second attempt.
    pub initial_backoff: Duration,
    /// Largest backoff.
    pub max_backoff: Duration,
    /// An attempt with no answer by then counts as a retryable failure.
    pub attempt_timeout: Duration,
}

impl Default for RetryPolicy {
    fn default() -> Self {
        RetryPolicy {
            max_attempts: 8,
            initial_backoff: Duration::from_secs(1),
            max_backoff: Duration::from_secs(300),
            attempt_timeout: Duration::from_secs(60),
        }
    }
}

/// How a write the platform's own storage refused is tried again (a page's durable append, a
/// checkpoint save, a delivered batch's removal, a health row): 1 s doubling to 30 s, without
/// limit — a disk that filled up or failed comes back, and nothing needs a restart for it.
pub(crate) const STORAGE_RETRY: RetryPolicy = RetryPolicy {
    max_attempts: u32::MAX,
    initial_backoff: Duration::from_secs(1),
    max_backoff: Duration::from_secs(30),
    attempt_timeout: Duration::from_secs(60),
};

impl RetryPolicy {
    /// The wait after failed attempt number `attempt` (1-based): `initial × 2^(attempt-1)`,
    /// capped, scaled by `jitter` in [0.5, 1] so that many retrying clients spread out.
    pub fn backoff(&self, attempt: u32, jitter: f64) -> Duration {
        let exp = self
            .initial_backoff
            .saturating_mul(2u32.saturating_pow(attempt.saturating_sub(1)));
        let capped = exp.min(self.max_backoff);
        let jitter = if jitter.is_nan() {
            1.0
        } else {
            jitter.clamp(0.5, 1.0)
        };
        // Floating point can round the product above the largest duration: keep the cap then.
        Duration::try_from_secs_f64(capped.as_secs_f64() * jitter)
            .unwrap_or(capped)
            .min(capped)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn backoff_doubles_caps_and_saturates() {
        let policy = RetryPolicy::default();
        assert_eq!(policy.backoff(1, 1.0), Duration::from_secs(1));
        assert_eq!(policy.backoff(3, 1.0), Duration::from_secs(4));
        assert_eq!(policy.backoff(u32::MAX, 1.0), policy.max_backoff);
        assert_eq!(
            policy.backoff(2, 0.0),
            Duration::from_secs(1),
            "jitter is at least half"
        );
        let huge = RetryPolicy {
            initial_backoff: Duration::MAX,
            max_backoff: Duration::MAX,
            ..RetryPolicy::default()
        };
        assert_eq!(huge.backoff(u32::MAX, f64::NAN), Duration::MAX);
        assert!(huge.backoff(1, 0.5) <= Duration::MAX);
    }
}
