//! Numbers, seconds and dates as providers write them in headers, and the move from the
//! provider's clock to the platform's.
//!
//! A provider states an absolute time (an epoch reset, an HTTP-date `Retry-After`) on its own
//! clock. Comparing it with ours would turn any difference between the two clocks into a
//! longer or shorter pause; comparing it with the response's own `Date` header gives the wait
//! the provider meant, which is then added to the time the platform received the response.

use std::time::Duration;

use chrono::{DateTime, NaiveDateTime, TimeDelta, Utc};
use reqwest::header::{HeaderMap, DATE};

use super::fields::header;

/// The longest wait read from any header (24 hours): longer values are cut to it, so a
/// garbled header cannot stop a connector for days, while daily quotas still fit.
pub const MAX_WAIT: Duration = crate::budget::MAX_PROVIDER_WAIT;

/// A reset number at or above this many seconds is a Unix time (September 2001 or later);
/// below it, seconds from now. No window lasts 31 years and no current reset lies before
/// 2001, and providers use both spellings in both the `X-RateLimit-Reset` and the
/// `RateLimit-Reset` headers.
const EPOCH_FROM: Duration = Duration::from_secs(1_000_000_000);

/// A whole number of digits, saturating at `u64::MAX`; `None` unless `value` is digits only.
pub(crate) fn whole_number(value: &str) -> Option<u64> {
    let digits = value.trim();
    if digits.is_empty() || !digits.bytes().all(|b| b.is_ascii_digit()) {
        return None;
    }
    // All digits, so parsing can only fail by overflowing.
    Some(digits.parse::<u64>().unwrap_or(u64::MAX))
}

/// A count (a limit, calls remaining): digits only, saturating at `u32::MAX`. Negative
/// numbers (`-1` means "unknown" to some providers), fractions and text are `None`.
pub(crate) fn count(value: &str) -> Option<u32> {
    whole_number(value).map(|n| u32::try_from(n).unwrap_or(u32::MAX))
}

/// Seconds as written in headers: `7`, or with a fraction, `2.128` (Microsoft Graph sends
/// that in `Retry-After`). Kept to the millisecond, rounding a finer fraction up; huge values
/// saturate. Signs, exponents and text are `None`.
pub(crate) fn seconds(value: &str) -> Option<Duration> {
    let value = value.trim();
    let (whole, fraction) = value.split_once('.').unwrap_or((value, ""));
    let digits = |s: &str| s.bytes().all(|b| b.is_ascii_digit());
    if (whole.is_empty() && fraction.is_empty()) || !digits(whole) || !digits(fraction) {
        return None;
    }
    let secs = whole_number(whole).unwrap_or(0);
    let mut millis = 0u64;
    for (i, digit) in fraction.bytes().enumerate() {
        let digit = u64::from(digit - b'0');
        if i < 3 {
            millis = millis * 10 + digit;
        } else if digit != 0 {
            millis += 1;
            break;
        }
    }
    for _ in fraction.len()..3 {
        millis *= 10;
    }
    Some(
        Duration::from_secs(secs)
            .checked_add(Duration::from_millis(millis))
            .unwrap_or(Duration::MAX),
    )
}

/// An HTTP-date in any of the three forms RFC 9110 asks recipients to read:
/// `Sun, 06 Nov 1994 08:49:37 GMT`, `Sunday, 06-Nov-94 08:49:37 GMT` and
/// `Sun Nov  6 08:49:37 1994`.
pub fn http_date(value: &str) -> Option<DateTime<Utc>> {
    let value = value.trim();
    if let Ok(at) = DateTime::parse_from_rfc2822(value) {
        return Some(at.to_utc());
    }
    ["%A, %d-%b-%y %H:%M:%S GMT", "%a %b %e %H:%M:%S %Y"]
        .iter()
        .find_map(|format| NaiveDateTime::parse_from_str(value, format).ok())
        .map(|at| at.and_utc())
}

/// The provider's clock at the moment it answered, next to ours when we received the answer.
#[derive(Clone, Copy, Debug)]
pub(crate) struct ProviderClock {
    /// The response's `Date`, or `received` when it has none (or an unreadable one).
    provider_now: DateTime<Utc>,
    /// When the platform received the response, on the platform clock.
    received: DateTime<Utc>,
}

impl ProviderClock {
    /// The clocks of a response received at `received`.
    pub fn of(headers: &HeaderMap, received: DateTime<Utc>) -> Self {
        let provider_now = header(headers, DATE.as_str()).and_then(http_date);
        if let Some(provider_now) = provider_now {
            super::skew::note(super::skew::ClockSkew::between(provider_now, received));
        }
        let provider_now = provider_now.unwrap_or(received);
        ProviderClock {
            provider_now,
            received,
        }
    }

    /// The wait until `at` on the provider's clock, at most [`MAX_WAIT`]. A time already
    /// passed is no wait; one more than [`MAX_WAIT`] in the past is nonsense, so `None`.
    pub fn wait_until(&self, at: DateTime<Utc>) -> Option<Duration> {
        let ahead = at.signed_duration_since(self.provider_now);
        if ahead <= TimeDelta::zero() {
            let behind = self.provider_now.signed_duration_since(at).to_std().ok()?;
            return (behind <= MAX_WAIT).then_some(Duration::ZERO);
        }
        Some(ahead.to_std().map_or(MAX_WAIT, |wait| wait.min(MAX_WAIT)))
    }

    /// The wait until a reset written as seconds: from now, or a Unix time (see
    /// [`EPOCH_FROM`]); at most [`MAX_WAIT`].
    pub fn reset_wait(&self, value: &str) -> Option<Duration> {
        let number = seconds(value)?;
        if number < EPOCH_FROM {
            return Some(number.min(MAX_WAIT));
        }
        let at = i64::try_from(number.as_secs())
            .ok()
            .and_then(|secs| DateTime::from_timestamp(secs, number.subsec_nanos()));
        match at {
            Some(at) => self.wait_until(at),
            // Beyond what a calendar holds: as far as we ever wait.
            None => Some(MAX_WAIT),
        }
    }

    /// The platform time `wait` after the response was received.
    pub fn after(&self, wait: Duration) -> Option<DateTime<Utc>> {
        self.received
            .checked_add_signed(TimeDelta::from_std(wait).ok()?)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use reqwest::header::HeaderValue;

    fn at(rfc3339: &str) -> DateTime<Utc> {
        DateTime::parse_from_rfc3339(rfc3339).unwrap().to_utc()
    }

    #[test]
    fn counts_saturate_and_refuse_signs_fractions_and_text() {
        assert_eq!(count(" 600 "), Some(600));
        assert_eq!(count("4294967296"), Some(u32::MAX));
        assert_eq!(count("99999999999999999999999999"), Some(u32::MAX));
        assert_eq!(count("-1"), None);
        assert_eq!(count("+5"), None);
        assert_eq!(count("1.5"), None);
        assert_eq!(count(""), None);
        assert_eq!(count("ten"), None);
    }

    #[test]
    fn seconds_keep_milliseconds_and_round_finer_fractions_up() {
        assert_eq!(seconds("7"), Some(Duration::from_secs(7)));
        assert_eq!(seconds("2.128"), Some(Duration::from_millis(2128)));
        assert_eq!(seconds("2.5"), Some(Duration::from_millis(2500)));
        assert_eq!(seconds("0.0001"), Some(Duration::from_millis(1)));
        assert_eq!(seconds("1.0000"), Some(Duration::from_secs(1)));
        assert_eq!(seconds(".25"), Some(Duration::from_millis(250)));
        assert_eq!(seconds("3."), Some(Duration::from_secs(3)));
        assert_eq!(
            seconds("99999999999999999999999.999"),
            Some(Duration::new(u64::MAX, 999_000_000))
        );
        assert_eq!(seconds("18446744073709551615.9991"), Some(Duration::MAX));
        for bad in ["", ".", "-3", "1e3", "inf", "NaN", "1.2.3", " 1 2", "+1"] {
            assert_eq!(seconds(bad), None, "{bad:?}");
        }
    }

    #[test]
    fn http_dates_are_read_in_all_three_forms() {
        let expected = at("1994-11-06T08:49:37Z");
        assert_eq!(http_date("Sun, 06 Nov 1994 08:49:37 GMT"), Some(expected));
        assert_eq!(http_date("Sunday, 06-Nov-94 08:49:37 GMT"), Some(expected));
        assert_eq!(http_date("Sun Nov  6 08:49:37 1994"), Some(expected));
        assert_eq!(http_date("yesterday"), None);
        assert_eq!(http_date("Sun, 06 Nov 1994 25:49:37 GMT"), None);
    }

    #[test]
    fn waits_are_measured_on_the_provider_clock() {
        let received = at("2024-01-01T12:00:00Z");
        let mut headers = HeaderMap::new();
        // The provider's clock is 5 minutes ahead of ours.
        headers.insert(
            DATE,
            HeaderValue::from_static("Mon, 01 Jan 2024 12:05:00 GMT"),
        );
        let clock = ProviderClock::of(&headers, received);
        assert_eq!(
            clock.wait_until(at("2024-01-01T12:05:30Z")),
            Some(Duration::from_secs(30))
        );
        assert_eq!(
            clock.wait_until(at("2024-01-01T12:04:00Z")),
            Some(Duration::ZERO)
        );
        assert_eq!(clock.wait_until(at("2023-12-30T12:04:00Z")), None);
        assert_eq!(clock.wait_until(at("2030-01-01T00:00:00Z")), Some(MAX_WAIT));
        assert_eq!(
            clock.after(Duration::from_secs(30)),
            Some(at("2024-01-01T12:00:30Z"))
        );
    }

    #[test]
    fn an_unreadable_date_header_falls_back_to_the_receive_time() {
        let received = at("2024-01-01T12:00:00Z");
        let mut headers = HeaderMap::new();
        headers.insert(DATE, HeaderValue::from_static("soon"));
        let clock = ProviderClock::of(&headers, received);
        assert_eq!(
            clock.wait_until(at("2024-01-01T12:00:10Z")),
            Some(Duration::from_secs(10))
        );
    }

    #[test]
    fn reset_numbers_are_deltas_below_2001_and_unix_times_above() {
        let received = at("2023-11-14T22:13:00Z"); // 1_699_999_980
        let clock = ProviderClock::of(&HeaderMap::new(), received);
        assert_eq!(clock.reset_wait("30"), Some(Duration::from_secs(30)));
        assert_eq!(
            clock.reset_wait("1700000040"),
            Some(Duration::from_secs(60))
        );
        assert_eq!(
            clock.reset_wait("1700000040.5"),
            Some(Duration::from_millis(60_500))
        );
        assert_eq!(clock.reset_wait("999999999"), Some(MAX_WAIT));
        assert_eq!(clock.reset_wait("1699999970"), Some(Duration::ZERO));
        assert_eq!(clock.reset_wait("1000000000"), None, "2001 is long past");
        assert_eq!(clock.reset_wait("18446744073709551615"), Some(MAX_WAIT));
        assert_eq!(clock.reset_wait("-5"), None);
    }

    #[test]
    fn the_platform_time_saturates_at_the_calendar_end() {
        let clock = ProviderClock::of(&HeaderMap::new(), DateTime::<Utc>::MAX_UTC);
        assert_eq!(clock.after(Duration::from_secs(1)), None);
        assert_eq!(clock.after(Duration::ZERO), Some(DateTime::<Utc>::MAX_UTC));
    }
}
