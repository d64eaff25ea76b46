//! Rate-limit header dialects: the ways HTTP APIs tell a client its quota and when to come
//! back, so a fault plan can speak any of them and a source can be checked against each.

use std::time::Duration;

use axum::http::{HeaderMap, HeaderName, HeaderValue};
use chrono::{DateTime, Utc};

/// How an API states its rate limit in response headers.
///
/// | dialect | headers | reset means |
/// |---|---|---|
/// | [`Okta`](Self::Okta) | `X-Rate-Limit-Limit`, `-Remaining`, `-Reset` | epoch seconds |
/// | [`GitHub`](Self::GitHub) | `X-RateLimit-Limit`, `-Remaining`, `-Reset` | epoch seconds |
/// | [`IetfDraft`](Self::IetfDraft) | `RateLimit-Limit`, `-Remaining`, `-Reset`, `RateLimit-Policy: 60;w=60` | seconds from now |
/// | [`IetfStructured`](Self::IetfStructured) | `RateLimit: limit=60, remaining=0, reset=30`, `RateLimit-Policy` | seconds from now |
/// | [`RetryAfterSeconds`](Self::RetryAfterSeconds) | `Retry-After: 30` on the 429 only | seconds from now |
/// | [`RetryAfterDate`](Self::RetryAfterDate) | `Retry-After: Sun, 01 Nov 2026 08:00:30 GMT` on the 429 only | an HTTP date |
///
/// Each dialect sends only its own headers: a 429 in the Okta dialect has no `Retry-After`,
/// so a client that only reads `Retry-After` is caught.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub enum RateLimitDialect {
    /// Okta: `X-Rate-Limit-{Limit,Remaining,Reset}`, the reset in epoch seconds.
    Okta,
    /// GitHub (and many others): `X-RateLimit-{Limit,Remaining,Reset}`, the reset in epoch
    /// seconds.
    GitHub,
    /// The IETF draft's separate fields (draft-ietf-httpapi-ratelimit-headers up to -06):
    /// `RateLimit-{Limit,Remaining,Reset}` with the reset in **seconds until** the window
    /// resets (not an epoch), and `RateLimit-Policy: <limit>;w=<window seconds>`.
    IetfDraft,
    /// The IETF draft's single structured field (-07):
    /// `RateLimit: limit=<n>, remaining=<n>, reset=<seconds until>`, with `RateLimit-Policy`.
    IetfStructured,
    /// Nothing on normal responses; `Retry-After: <delay-seconds>` on a 429.
    RetryAfterSeconds,
    /// Nothing on normal responses; `Retry-After: <HTTP-date>` (IMF-fixdate, UTC) on a 429.
    RetryAfterDate,
}

/// What an API says about its quota at one moment.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Quota {
    /// Calls allowed per window.
    pub limit: u32,
    /// Calls left in the current window.
    pub remaining: u32,
    /// Time until the window resets (on a 429: until the client may call again).
    pub reset_in: Duration,
    /// The window's length (`RateLimit-Policy`'s `w`).
    pub window: Duration,
}

impl Quota {
    /// `limit` calls per minute, `remaining` left, resetting in `reset_in`.
    pub fn per_minute(limit: u32, remaining: u32, reset_in: Duration) -> Self {
        Quota {
            limit,
            remaining,
            reset_in,
            window: Duration::from_secs(60),
        }
    }
}

/// Every header any dialect uses, lower-case: what the fault layer strips from a simulator's
/// answer before stating a quota in one dialect.
pub const RATE_LIMIT_HEADERS: [&str; 14] = [
    "x-rate-limit-limit",
    "x-rate-limit-remaining",
    "x-rate-limit-reset",
    "x-ratelimit-limit",
    "x-ratelimit-remaining",
    "x-ratelimit-reset",
    "x-ratelimit-used",
    "x-ratelimit-resource",
    "ratelimit-limit",
    "ratelimit-remaining",
    "ratelimit-reset",
    "ratelimit-policy",
    "ratelimit",
    "retry-after",
];

impl RateLimitDialect {
    /// Every dialect, in the order the source suite checks them.
    pub const ALL: [RateLimitDialect; 6] = [
        RateLimitDialect::Okta,
        RateLimitDialect::GitHub,
        RateLimitDialect::IetfDraft,
        RateLimitDialect::IetfStructured,
        RateLimitDialect::RetryAfterSeconds,
        RateLimitDialect::RetryAfterDate,
    ];

    /// A short stable name: `okta`, `github`, `ietf`, `ietf-structured`,
    /// `retry-after-seconds`, `retry-after-date`.
    pub fn name(self) -> &'static str {
        match self {
            RateLimitDialect::Okta => "okta",
            RateLimitDialect::GitHub => "github",
            RateLimitDialect::IetfDraft => "ietf",
            RateLimitDialect::IetfStructured => "ietf-structured",
            RateLimitDialect::RetryAfterSeconds => "retry-after-seconds",
            RateLimitDialect::RetryAfterDate => "retry-after-date",
        }
    }

    /// The source suite's check for this dialect: `rate_limit[<name>]`.
    pub fn check_name(self) -> &'static str {
        match self {
            RateLimitDialect::Okta => "rate_limit[okta]",
            RateLimitDialect::GitHub => "rate_limit[github]",
            RateLimitDialect::IetfDraft => "rate_limit[ietf]",
            RateLimitDialect::IetfStructured => "rate_limit[ietf-structured]",
            RateLimitDialect::RetryAfterSeconds => "rate_limit[retry-after-seconds]",
            RateLimitDialect::RetryAfterDate => "rate_limit[retry-after-date]",
        }
    }

    /// True when every response states the limit, the calls left and the reset; false for
    /// the `Retry-After` dialects, which speak only when they refuse.
    pub fn states_quota(self) -> bool {
        !matches!(
            self,
            RateLimitDialect::RetryAfterSeconds | RateLimitDialect::RetryAfterDate
        )
    }

    /// The headers stating `quota` at `now`. `refusing`: the response is a 429 (the
    /// `Retry-After` dialects send nothing otherwise). Resets are rounded up to whole
    /// seconds, so a client never comes back early.
    pub fn headers(
        self,
        quota: &Quota,
        now: DateTime<Utc>,
        refusing: bool,
    ) -> Vec<(HeaderName, HeaderValue)> {
        let reset_in = ceil_secs(quota.reset_in);
        let reset_at = now
            .timestamp()
            .saturating_add(i64::try_from(reset_in).unwrap_or(i64::MAX))
            .saturating_add(i64::from(now.timestamp_subsec_nanos() > 0));
        let (limit, remaining) = (quota.limit, quota.remaining);
        let policy = format!("{limit};w={}", ceil_secs(quota.window));
        let texts: Vec<(&'static str, String)> = match self {
            RateLimitDialect::Okta => vec![
                ("x-rate-limit-limit", limit.to_string()),
                ("x-rate-limit-remaining", remaining.to_string()),
                ("x-rate-limit-reset", reset_at.to_string()),
            ],
            RateLimitDialect::GitHub => vec![
                ("x-ratelimit-limit", limit.to_string()),
                ("x-ratelimit-remaining", remaining.to_string()),
                ("x-ratelimit-reset", reset_at.to_string()),
            ],
            RateLimitDialect::IetfDraft => vec![
                ("ratelimit-limit", limit.to_string()),
                ("ratelimit-remaining", remaining.to_string()),
                ("ratelimit-reset", reset_in.to_string()),
                ("ratelimit-policy", policy),
            ],
            RateLimitDialect::IetfStructured => vec![
                (
                    "ratelimit",
                    format!("limit={limit}, remaining={remaining}, reset={reset_in}"),
                ),
                ("ratelimit-policy", policy),
            ],
            RateLimitDialect::RetryAfterSeconds if refusing => {
                vec![("retry-after", reset_in.to_string())]
            }
            RateLimitDialect::RetryAfterDate if refusing => {
                let at = DateTime::from_timestamp(reset_at, 0).unwrap_or(now);
                vec![("retry-after", http_date(at))]
            }
            RateLimitDialect::RetryAfterSeconds | RateLimitDialect::RetryAfterDate => Vec::new(),
        };
        texts
            .into_iter()
            .filter_map(|(name, text)| {
                Some((
                    HeaderName::from_static(name),
                    HeaderValue::from_str(&text).ok()?,
                ))
            })
            .collect()
    }

    /// Replace whatever rate-limit headers `headers` hold (in any dialect) with `quota`
    /// stated in this one.
    pub fn restate(
        self,
        headers: &mut HeaderMap,
        quota: &Quota,
        now: DateTime<Utc>,
        refusing: bool,
    ) {
        for name in RATE_LIMIT_HEADERS {
            headers.remove(name);
        }
        for (name, value) in self.headers(quota, now, refusing) {
            headers.insert(name, value);
        }
    }
}

impl std::fmt::Display for RateLimitDialect {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(self.name())
    }
}

/// Whole seconds, rounded up.
fn ceil_secs(d: Duration) -> u64 {
    d.as_secs().saturating_add(u64::from(d.subsec_nanos() > 0))
}

/// An HTTP date (RFC 9110 IMF-fixdate), e.g. `Sun, 01 Nov 2026 08:00:30 GMT`.
pub fn http_date(at: DateTime<Utc>) -> String {
    at.format("%a, %d %b %Y %H:%M:%S GMT").to_string()
}

#[cfg(test)]
mod tests {
    use super::*;

    fn text(headers: &[(HeaderName, HeaderValue)]) -> Vec<(String, String)> {
        headers
            .iter()
            .map(|(n, v)| (n.to_string(), v.to_str().unwrap().to_string()))
            .collect()
    }

    fn pairs(expected: &[(&str, &str)]) -> Vec<(String, String)> {
        expected
            .iter()
            .map(|(n, v)| (n.to_string(), v.to_string()))
            .collect()
    }

    #[test]
    fn each_dialect_states_the_quota_its_own_way() {
        let now = DateTime::from_timestamp(1_793_520_000, 250_000_000).unwrap();
        let quota = Quota::per_minute(60, 0, Duration::from_secs(30));
        let said = |d: RateLimitDialect, refusing| text(&d.headers(&quota, now, refusing));
        // The reset rounds up: 30 s after 1_793_520_000.25 is 1_793_520_031 at the earliest.
        assert_eq!(
            said(RateLimitDialect::Okta, true),
            pairs(&[
                ("x-rate-limit-limit", "60"),
                ("x-rate-limit-remaining", "0"),
                ("x-rate-limit-reset", "1793520031"),
            ])
        );
        assert_eq!(
            said(RateLimitDialect::GitHub, false),
            pairs(&[
                ("x-ratelimit-limit", "60"),
                ("x-ratelimit-remaining", "0"),
                ("x-ratelimit-reset", "1793520031"),
            ])
        );
        assert_eq!(
            said(RateLimitDialect::IetfDraft, true),
            pairs(&[
                ("ratelimit-limit", "60"),
                ("ratelimit-remaining", "0"),
                ("ratelimit-reset", "30"),
                ("ratelimit-policy", "60;w=60"),
            ])
        );
        assert_eq!(
            said(RateLimitDialect::IetfStructured, true),
            pairs(&[
                ("ratelimit", "limit=60, remaining=0, reset=30"),
                ("ratelimit-policy", "60;w=60"),
            ])
        );
        assert_eq!(
            said(RateLimitDialect::RetryAfterSeconds, true),
            pairs(&[("retry-after", "30")])
        );
        assert_eq!(
            said(RateLimitDialect::RetryAfterDate, true),
            pairs(&[("retry-after", "Sun, 01 Nov 2026 08:00:31 GMT")])
        );
        for quiet in [
            RateLimitDialect::RetryAfterSeconds,
            RateLimitDialect::RetryAfterDate,
        ] {
            assert!(said(quiet, false).is_empty(), "{quiet}");
            assert!(!quiet.states_quota());
        }
    }

    #[test]
    fn restating_drops_every_other_dialect() {
        let now = Utc::now();
        let mut headers = HeaderMap::new();
        for (name, value) in RateLimitDialect::ALL
            .iter()
            .flat_map(|d| d.headers(&Quota::per_minute(5, 1, Duration::from_secs(9)), now, true))
        {
            headers.append(name, value);
        }
        headers.insert("link", HeaderValue::from_static("<x>; rel=\"next\""));
        RateLimitDialect::IetfDraft.restate(
            &mut headers,
            &Quota::per_minute(7, 2, Duration::from_secs(3)),
            now,
            false,
        );
        let mut names: Vec<&str> = headers.keys().map(|n| n.as_str()).collect();
        names.sort_unstable();
        assert_eq!(
            names,
            [
                "link",
                "ratelimit-limit",
                "ratelimit-policy",
                "ratelimit-remaining",
                "ratelimit-reset"
            ]
        );
        assert_eq!(headers["ratelimit-limit"], "7");
    }

    #[test]
    fn names_and_check_names_are_unique_and_agree() {
        let mut names: Vec<&str> = RateLimitDialect::ALL.iter().map(|d| d.name()).collect();
        names.dedup();
        assert_eq!(names.len(), RateLimitDialect::ALL.len());
        for dialect in RateLimitDialect::ALL {
            assert_eq!(dialect.check_name(), format!("rate_limit[{dialect}]"));
        }
    }
}
