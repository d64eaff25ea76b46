//! Graph's throttling of one app in one tenant: at most `per_minute` calls in any minute and
//! `per_hour` in any hour (sliding windows), counted per family of endpoints (security
//! incidents and alerts; advanced hunting). A call over either limit is refused with the
//! time until a call falls out of the window that binds, which becomes `Retry-After`.
//!
//! With a `speed` above 1 the windows last `60 s / speed` and `3600 s / speed`, so tests and
//! demos can use the hourly limit in seconds.

use std::collections::VecDeque;
use std::time::Duration;

use chrono::{DateTime, Utc};

/// The limits of one family.
#[derive(Clone, Copy, Debug, PartialEq)]
pub struct Limits {
    /// Calls allowed in any minute.
    pub per_minute: u32,
    /// Calls allowed in any hour.
    pub per_hour: u32,
}

impl Limits {
    /// Incidents and alerts: 50 a minute, 1,500 an hour.
    pub const SECURITY: Limits = Limits {
        per_minute: 50,
        per_hour: 1_500,
    };
    /// Advanced hunting: 45 a minute, 1,500 an hour.
    pub const HUNTING: Limits = Limits {
        per_minute: 45,
        per_hour: 1_500,
    };
}

/// The calls of one app on one family, and the most it ever had in a window.
#[derive(Debug)]
pub(crate) struct Windows {
    pub limits: Limits,
    minute_ms: i64,
    hour_ms: i64,
    calls: VecDeque<i64>,
    pub peak_minute: u32,
    pub peak_hour: u32,
}

impl Windows {
    pub fn new(limits: Limits, speed: f64) -> Self {
        let speed = if speed.is_finite() && speed > 0.0 {
            speed
        } else {
            1.0
        };
        Windows {
            limits,
            minute_ms: ((60_000.0 / speed).round() as i64).max(1),
            hour_ms: ((3_600_000.0 / speed).round() as i64).max(1),
            calls: VecDeque::new(),
            peak_minute: 0,
            peak_hour: 0,
        }
    }

    /// Calls counted in the last hour (as of the last call).
    pub fn in_hour(&self) -> u32 {
        u32::try_from(self.calls.len()).unwrap_or(u32::MAX)
    }

    /// Count a call at `now`, or refuse it with how long until one fits.
    pub fn admit(&mut self, now: DateTime<Utc>) -> Result<(), Duration> {
        let now = now.timestamp_millis();
        while self.calls.front().is_some_and(|t| now - *t >= self.hour_ms) {
            self.calls.pop_front();
        }
        let in_minute = self
            .calls
            .iter()
            .rev()
            .take_while(|t| now - **t < self.minute_ms)
            .count();
        let mut wait_ms = 0i64;
        if in_minute >= self.limits.per_minute as usize {
            let oldest = self.calls[self.calls.len() - in_minute];
            wait_ms = wait_ms.max(oldest + self.minute_ms - now);
        }
        if self.calls.len() >= self.limits.per_hour as usize {
            let oldest = self.calls[self.calls.len() - self.limits.per_hour as usize];
            wait_ms = wait_ms.max(oldest + self.hour_ms - now);
        }
        if wait_ms > 0 || in_minute >= self.limits.per_minute as usize {
            return Err(Duration::from_millis(wait_ms.max(1) as u64));
        }
        self.calls.push_back(now);
        self.peak_minute = self.peak_minute.max(in_minute as u32 + 1);
        self.peak_hour = self.peak_hour.max(self.calls.len() as u32);
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn at(ms: i64) -> DateTime<Utc> {
        DateTime::from_timestamp_millis(1_772_441_000_000 + ms).unwrap()
    }

    #[test]
    fn both_windows_bind_and_say_when_a_call_fits_again() {
        let mut w = Windows::new(
            Limits {
                per_minute: 3,
                per_hour: 5,
            },
            1.0,
        );
        for ms in [0, 10, 20] {
            assert!(w.admit(at(ms)).is_ok());
        }
        assert_eq!(w.admit(at(30)), Err(Duration::from_millis(59_970)));
        assert!(w.admit(at(60_000)).is_ok());
        assert!(w.admit(at(60_010)).is_ok());
        // Five in the hour: the next fits when the first is an hour old.
        assert_eq!(w.admit(at(120_000)), Err(Duration::from_millis(3_480_000)));
        assert!(w.admit(at(3_600_000)).is_ok());
        assert_eq!((w.peak_minute, w.peak_hour), (3, 5));
    }

    #[test]
    fn speed_shortens_the_windows() {
        let mut w = Windows::new(
            Limits {
                per_minute: 1,
                per_hour: 100,
            },
            60.0,
        );
        assert!(w.admit(at(0)).is_ok());
        assert_eq!(w.admit(at(400)), Err(Duration::from_millis(600)));
        assert!(w.admit(at(1_000)).is_ok());
    }
}
