//! Learning other applications' use of a provider account, one provider window at a time.
//!
//! A provider counts every application's calls on the account together and reports, with each
//! response, how many remain until the window resets. The calls it counted that were not
//! ours are other applications'. What they used in the last window is what they are left in
//! the next one, so ucp can use its whole share while they use less than theirs.
//!
//! Windows are told apart by their reset instant. A reset computed from a relative header
//! (`RateLimit-Reset: 30`) or rounded by the provider moves by a second or two from response
//! to response within one window, so resets closer than [`same_window_tolerance`] are the
//! same window; a later one starts a new window.

use std::time::Duration;

use chrono::{DateTime, Utc};

/// Resets this close belong to the same provider window: five seconds, or half the window for
/// providers with windows under ten seconds. A relative reset moves by a second of jitter plus
/// half a second of rounding either way from response to response (up to three seconds apart);
/// consecutive windows' resets are a whole window apart.
pub(super) fn same_window_tolerance(per: Duration) -> Duration {
    (per / 2).min(Duration::from_secs(5))
}

/// One provider window as observed.
#[derive(Clone, Copy, Debug)]
struct Window {
    /// Its reset, as first reported.
    reset: DateTime<Utc>,
    /// Our responses that carried this window.
    ours: u32,
    /// The most calls of other applications seen in it.
    others: u32,
}

/// What the budget has learned about other applications' calls.
#[derive(Clone, Debug, Default)]
pub(super) struct OthersLearning {
    current: Option<Window>,
    /// Calls other applications made in the previous window, once one was seen.
    before: Option<u32>,
}

impl OthersLearning {
    /// Take in a response that reported `remaining` calls until `reset` on an account allowing
    /// `limit`; returns how many of the remaining calls stay reserved for other applications.
    /// `default_reserve` is their part before a whole window was seen (`limit − ours`).
    pub(super) fn observe(
        &mut self,
        limit: u32,
        default_reserve: u32,
        remaining: u32,
        reset: DateTime<Utc>,
        tolerance: Duration,
    ) -> u32 {
        let tolerance = chrono::Duration::from_std(tolerance).unwrap_or(chrono::Duration::zero());
        let (ours, seen) = match self.current {
            Some(window) if (reset - window.reset).abs() <= tolerance => {
                (window.ours.saturating_add(1), window.others)
            }
            Some(window) => {
                self.before = Some(window.others);
                (1, 0)
            }
            None => (1, 0),
        };
        let used = limit.saturating_sub(remaining);
        let others = used.saturating_sub(ours).max(seen);
        let reset = match self.current {
            Some(window) if ours > 1 => window.reset,
            _ => reset,
        };
        self.current = Some(Window {
            reset,
            ours,
            others,
        });
        if default_reserve == 0 {
            return 0;
        }
        let expected = self.before.unwrap_or(default_reserve).max(others);
        // One call stays free: another application may be calling right now.
        expected.saturating_sub(others).max(1)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn at(seconds: i64) -> DateTime<Utc> {
        DateTime::from_timestamp(1_800_000_000 + seconds, 0).unwrap_or_default()
    }

    #[test]
    fn a_reset_that_jitters_by_a_second_stays_one_window() {
        let mut learning = OthersLearning::default();
        let tolerance = same_window_tolerance(Duration::from_secs(60));
        // 60 calls a minute, half ours; another application made 2 calls. The reset, computed
        // from a relative header, lands on 30 or 31 from one response to the next.
        for (ours, reset) in [(1, 30), (2, 31), (3, 30), (4, 29), (5, 31)] {
            let reserve = learning.observe(60, 30, 60 - 2 - ours, at(reset), tolerance);
            assert_eq!(
                reserve, 28,
                "after {ours} calls: 30 reserved, 2 used by them"
            );
        }
    }

    #[test]
    fn a_later_reset_starts_a_new_window_and_remembers_the_last() {
        let mut learning = OthersLearning::default();
        let tolerance = same_window_tolerance(Duration::from_secs(60));
        // They made 10 calls in the first window.
        learning.observe(60, 30, 60 - 10 - 1, at(30), tolerance);
        // Next window: they made none yet, 10 stay reserved for them (not 30).
        let reserve = learning.observe(60, 30, 60 - 1, at(90), tolerance);
        assert_eq!(reserve, 10);
    }

    #[test]
    fn extreme_numbers_saturate() {
        let mut learning = OthersLearning::default();
        let tolerance = same_window_tolerance(Duration::ZERO);
        // Every call used, by someone else: one stays free for them.
        assert_eq!(learning.observe(u32::MAX, u32::MAX, 0, at(0), tolerance), 1);
        assert_eq!(learning.observe(0, 0, u32::MAX, at(0), tolerance), 0);
        // A reset at the end of time starts a new window; the last one's count is kept.
        let far = DateTime::<Utc>::MAX_UTC;
        assert_eq!(learning.observe(1, 1, 1, far, tolerance), u32::MAX - 1);
        let past = DateTime::<Utc>::MIN_UTC;
        assert_eq!(learning.observe(1, 1, 1, past, tolerance), 1);
    }
}
