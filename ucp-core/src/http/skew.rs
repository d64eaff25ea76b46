//! How far a provider's clock is from the platform's, as its responses' `Date` headers show.
//!
//! The kit measures the skew of every response it reads the provider's clock from
//! ([`rate_limit_hint`](super::rate_limit_hint), [`retry_after`](super::retry_after),
//! [`HttpFailure::from_response`](super::HttpFailure::from_response)): the `Date` header
//! minus the platform time the response was received. Waits are already measured on the
//! provider's clock, so a skew changes no pause; it is noted for the collection job the call
//! runs in (a tokio task-local the job sets around each `collect`), and the job reports a
//! health Warning naming the skew when it passes [`CLOCK_SKEW_WARNING`]. A source that reads
//! its headers without the kit reports nothing, and loses nothing else.

use std::cell::Cell;
use std::fmt;
use std::future::Future;
use std::time::Duration;

use chrono::{DateTime, Utc};
use reqwest::header::{HeaderMap, DATE};

use super::fields::header;
use super::time::http_date;

/// A provider clock further than this from the platform's is reported as a health Warning.
/// `Date` headers have whole seconds and the answer takes a while to arrive, so skews of a
/// second or two are noise; a minute is a clock that is wrong.
pub const CLOCK_SKEW_WARNING: Duration = Duration::from_secs(60);

tokio::task_local! {
    static NOTED: Cell<Option<ClockSkew>>;
}

/// The provider's clock minus the platform's, from one response.
#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord)]
pub struct ClockSkew {
    /// Milliseconds the provider's clock is ahead (negative: behind).
    millis: i64,
}

impl ClockSkew {
    /// The skew of a provider that said `provider_now` when the platform's clock read
    /// `received`.
    pub fn between(provider_now: DateTime<Utc>, received: DateTime<Utc>) -> ClockSkew {
        ClockSkew {
            millis: provider_now
                .signed_duration_since(received)
                .num_milliseconds(),
        }
    }

    /// Whether the provider's clock is ahead of the platform's.
    pub fn is_ahead(&self) -> bool {
        self.millis > 0
    }

    /// How far apart the two clocks are, whichever is ahead.
    pub fn magnitude(&self) -> Duration {
        Duration::from_millis(self.millis.unsigned_abs())
    }
}

impl fmt::Display for ClockSkew {
    /// `4 min 59 s ahead of this host's`, `12 s behind this host's`.
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let secs = self.magnitude().as_secs();
        let way = if self.is_ahead() {
            "ahead of"
        } else {
            "behind"
        };
        match (secs / 3600, secs / 60 % 60, secs % 60) {
            (0, 0, s) => write!(f, "{s} s {way} this host's"),
            (0, m, s) => write!(f, "{m} min {s} s {way} this host's"),
            (h, m, _) => write!(f, "{h} h {m} min {way} this host's"),
        }
    }
}

/// The skew a response shows: its `Date` header against `received`, the platform time it
/// arrived; `None` without a readable `Date`.
pub fn clock_skew(headers: &HeaderMap, received: DateTime<Utc>) -> Option<ClockSkew> {
    let provider_now = header(headers, DATE.as_str()).and_then(http_date)?;
    Some(ClockSkew::between(provider_now, received))
}

/// Note `skew` for the collection in progress on this task, if any.
pub(super) fn note(skew: ClockSkew) {
    let _ = NOTED.try_with(|noted| noted.set(Some(skew)));
}

/// Run `call`, and return with its output the last skew the kit noted while it ran.
pub(crate) async fn noting<F: Future>(call: F) -> (F::Output, Option<ClockSkew>) {
    NOTED
        .scope(Cell::new(None), async move {
            let output = call.await;
            (output, NOTED.with(Cell::get))
        })
        .await
}

#[cfg(test)]
mod tests {
    use super::*;
    use reqwest::header::HeaderValue;

    fn at(rfc3339: &str) -> DateTime<Utc> {
        DateTime::parse_from_rfc3339(rfc3339).unwrap().to_utc()
    }

    #[test]
    fn skew_is_the_date_header_against_the_receive_time() {
        let mut headers = HeaderMap::new();
        headers.insert(
            DATE,
            HeaderValue::from_static("Mon, 01 Jan 2024 12:05:00 GMT"),
        );
        let ahead = clock_skew(&headers, at("2024-01-01T12:00:00Z")).unwrap();
        assert!(ahead.is_ahead());
        assert_eq!(ahead.magnitude(), Duration::from_secs(300));
        assert_eq!(ahead.to_string(), "5 min 0 s ahead of this host's");
        let behind = clock_skew(&headers, at("2024-01-01T12:05:12Z")).unwrap();
        assert_eq!(behind.to_string(), "12 s behind this host's");
        let far = ClockSkew::between(at("2024-01-01T15:07:00Z"), at("2024-01-01T12:00:00Z"));
        assert_eq!(far.to_string(), "3 h 7 min ahead of this host's");
        assert_eq!(
            clock_skew(&HeaderMap::new(), at("2024-01-01T12:00:00Z")),
            None
        );
        // Dates at the ends of the calendar saturate instead of overflowing.
        let extreme = ClockSkew::between(DateTime::<Utc>::MAX_UTC, DateTime::<Utc>::MIN_UTC);
        assert!(extreme.is_ahead() && extreme.magnitude() > Duration::from_secs(1));
    }

    #[tokio::test]
    async fn a_skew_read_during_a_call_is_noted_for_it_and_no_other() {
        let skew = ClockSkew::between(at("2024-01-01T12:05:00Z"), at("2024-01-01T12:00:00Z"));
        let ((), noted) = noting(async { note(skew) }).await;
        assert_eq!(noted, Some(skew));
        let ((), nothing) = noting(async {}).await;
        assert_eq!(nothing, None);
        note(skew); // outside a collection: nowhere to note it, and no panic
    }
}
