//! One time source for the whole platform.
//!
//! The scheduler, budgets and retries run on tokio's clock, so tests drive them with
//! `#[tokio::test(start_paused = true)]`. Providers speak wall-clock time (Okta's
//! `X-Rate-Limit-Reset` is epoch seconds), so [`Clock`] maps between the two: it reads the
//! wall clock once and advances it with tokio's clock. Under a paused test clock, wall time is
//! paused too; in production the two only drift by what NTP slews, which is why budget pauses
//! add a small margin.

use std::time::Duration;

use chrono::{DateTime, Utc};
use tokio::time::Instant;

/// Wall-clock time anchored to tokio's clock. Cheap to copy; share one per platform.
#[derive(Clone, Copy, Debug)]
pub struct Clock {
    anchor_wall: DateTime<Utc>,
    anchor: Instant,
}

impl Default for Clock {
    fn default() -> Self {
        Self::new()
    }
}

impl Clock {
    /// A clock anchored at the current wall time.
    pub fn new() -> Self {
        Clock {
            anchor_wall: Utc::now(),
            anchor: Instant::now(),
        }
    }

    /// A clock whose current wall time is `wall` (tests use it for reproducible timestamps).
    pub fn at(wall: DateTime<Utc>) -> Self {
        Clock {
            anchor_wall: wall,
            anchor: Instant::now(),
        }
    }

    /// tokio's now.
    pub fn now(&self) -> Instant {
        Instant::now()
    }

    /// Wall-clock now.
    pub fn now_utc(&self) -> DateTime<Utc> {
        self.utc_at(Instant::now())
    }

    /// The wall time of a tokio instant (the end of chrono's range at the latest).
    pub fn utc_at(&self, instant: Instant) -> DateTime<Utc> {
        let elapsed = instant.saturating_duration_since(self.anchor);
        chrono::Duration::from_std(elapsed)
            .ok()
            .and_then(|elapsed| self.anchor_wall.checked_add_signed(elapsed))
            .unwrap_or(DateTime::<Utc>::MAX_UTC)
    }

    /// The tokio instant of a wall time; times in the past map to now, times beyond what an
    /// instant can hold to [`Clock::after`]'s cap.
    pub fn instant_at(&self, wall: DateTime<Utc>) -> Instant {
        let ahead = (wall - self.now_utc()).to_std().unwrap_or(Duration::ZERO);
        self.after(ahead)
    }

    /// The instant `wait` from now. Waits come from provider headers and configs, so the sum
    /// saturates about a century from now instead of overflowing.
    pub fn after(&self, wait: Duration) -> Instant {
        let now = Instant::now();
        now.checked_add(wait.min(FAR_FUTURE)).unwrap_or(now)
    }
}

/// The furthest ahead any wait reaches: about a century, far beyond any real interval or
/// provider reset, and still representable as an instant on every platform.
pub const FAR_FUTURE: Duration = Duration::from_secs(100 * 365 * 24 * 3600);

#[cfg(test)]
mod tests {
    use super::*;

    #[tokio::test(start_paused = true)]
    async fn extreme_times_saturate_instead_of_panicking() {
        let clock = Clock::at(DateTime::<Utc>::MAX_UTC - chrono::Duration::seconds(1));
        tokio::time::advance(Duration::from_secs(10)).await;
        assert_eq!(clock.now_utc(), DateTime::<Utc>::MAX_UTC);
        let clock = Clock::new();
        let now = Instant::now();
        assert_eq!(clock.after(Duration::MAX), now + FAR_FUTURE);
        assert_eq!(clock.instant_at(DateTime::<Utc>::MAX_UTC), now + FAR_FUTURE);
        assert_eq!(clock.instant_at(DateTime::<Utc>::MIN_UTC), now);
    }
}
