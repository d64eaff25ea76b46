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

    /// The wall time of a tokio instant.
    pub fn utc_at(&self, instant: Instant) -> DateTime<Utc> {
        let elapsed = instant.saturating_duration_since(self.anchor);
        self.anchor_wall + chrono::Duration::from_std(elapsed).unwrap_or(chrono::Duration::zero())
    }

    /// The tokio instant of a wall time; times in the past map to now.
    pub fn instant_at(&self, wall: DateTime<Utc>) -> Instant {
        let now = Instant::now();
        let ahead = (wall - self.utc_at(now)).to_std().unwrap_or(Duration::ZERO);
        now + ahead
    }
}
