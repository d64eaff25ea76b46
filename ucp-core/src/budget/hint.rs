//! What a provider's response says about its rate limit.

use std::time::Duration;

use chrono::{DateTime, Utc};

/// Rate-limit facts read from one provider response, in the provider's terms but on ucp's
/// clock.
///
/// Providers speak several dialects: Okta and GitHub send `X-Rate-Limit-*` /
/// `X-RateLimit-*` with the reset as epoch seconds, the IETF draft sends `RateLimit-Limit`,
/// `-Remaining` and `-Reset` with the reset in seconds *from now*, and many send only
/// `Retry-After` (seconds or an HTTP date) with a 429. The HTTP kit's
/// [`crate::http::rate_limit_hint`] reads all of them; a source that parses headers itself
/// must convert to the same meaning:
///
/// - `reset` is an **absolute** instant in UTC on the platform's clock
///   ([`crate::Context::clock`]): for a relative reset add it to `clock.now_utc()`; for an
///   epoch reset prefer the delta from the response's own `Date` header, so a host whose
///   clock is off still waits as long as the provider asks.
/// - whether the call was refused for rate is not a field: a refused call is
///   [`crate::SourceError::RateLimited`] carrying this hint.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct RateLimitHint {
    /// Calls allowed per provider window (`X-Rate-Limit-Limit`, `RateLimit-Limit`).
    pub limit: Option<u32>,
    /// Calls left in the current window (`X-Rate-Limit-Remaining`, `RateLimit-Remaining`).
    pub remaining: Option<u32>,
    /// When the current window resets: absolute, UTC, on the platform's clock.
    pub reset: Option<DateTime<Utc>>,
    /// How long the provider asked to wait (`Retry-After`), from when the response arrived.
    pub retry_after: Option<Duration>,
}

impl RateLimitHint {
    /// True when the hint says nothing.
    pub fn is_empty(&self) -> bool {
        *self == RateLimitHint::default()
    }
}
