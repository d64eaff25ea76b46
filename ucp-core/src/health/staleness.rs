//! Staleness: a collection that has not succeeded for twice its interval needs a warning.

use std::time::Duration;

use chrono::{DateTime, Utc};

/// When a job whose last success (or start, if it never succeeded) was at `last_success`
/// becomes stale: two intervals later. `None` if that time cannot be represented.
pub fn stale_at(last_success: DateTime<Utc>, interval: Duration) -> Option<DateTime<Utc>> {
    let twice = chrono::Duration::from_std(interval.checked_mul(2)?).ok()?;
    last_success.checked_add_signed(twice)
}

/// Whether a job is stale at `now`: no success for 2× its interval. Pass the job's start
/// time as `last_success` when it never succeeded.
pub fn is_stale(last_success: DateTime<Utc>, interval: Duration, now: DateTime<Utc>) -> bool {
    stale_at(last_success, interval).is_some_and(|at| now >= at)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn stale_exactly_at_twice_the_interval() {
        let last = DateTime::from_timestamp(1_700_000_000, 0).unwrap();
        let five_min = Duration::from_secs(300);
        let at = |secs| last + chrono::Duration::seconds(secs);
        assert!(!is_stale(last, five_min, at(0)));
        assert!(!is_stale(last, five_min, at(599)));
        assert!(is_stale(last, five_min, at(600)));
        assert!(is_stale(last, five_min, at(3_600)));
        assert_eq!(stale_at(last, five_min), Some(at(600)));
    }

    #[test]
    fn absurd_interval_never_stale_instead_of_panicking() {
        let last = DateTime::from_timestamp(1_700_000_000, 0).unwrap();
        assert_eq!(stale_at(last, Duration::MAX), None);
        assert!(!is_stale(last, Duration::MAX, last));
    }
}
