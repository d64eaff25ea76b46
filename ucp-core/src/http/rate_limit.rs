//! Rate-limit headers, in every common dialect, read into one [`RateLimitHint`].

use std::time::Duration;

use chrono::{DateTime, Utc};
use reqwest::header::{HeaderMap, RETRY_AFTER};

use super::fields::{header, joined, members, unquote};
use super::time::{count, http_date, seconds, whole_number, ProviderClock, MAX_WAIT};
use crate::budget::RateLimitHint;

/// What one dialect said; the reset as a wait from the provider's "now".
#[derive(Default)]
struct Reading {
    limit: Option<u32>,
    remaining: Option<u32>,
    reset: Option<Duration>,
}

/// The rate-limit facts of a response received at `received` (the platform clock's
/// `now_utc()` when the response arrived), or `None` when it carries none.
///
/// The hint's fields mean:
///
/// - `limit`: calls the provider allows in its current window.
/// - `remaining`: calls left in that window.
/// - `reset`: when that window ends, as an **absolute UTC time on the platform clock** (the
///   clock `received` came from), never the provider's own: the wait the provider meant is
///   measured against the response's `Date` header and added to `received`, so a host whose
///   clock is off neither stretches nor shortens a pause. Never before `received`, never more
///   than [`MAX_WAIT`](super::MAX_WAIT) after it.
/// - `retry_after`: how long the provider asked to wait before the next call
///   ([`retry_after`]), at most [`MAX_WAIT`](super::MAX_WAIT).
///
/// Dialects read, each field taken from the first that has it, in this order:
///
/// 1. Okta: `X-Rate-Limit-Limit`, `X-Rate-Limit-Remaining`, `X-Rate-Limit-Reset`.
/// 2. GitHub and many others: `X-RateLimit-Limit`, `X-RateLimit-Remaining`,
///    `X-RateLimit-Reset`.
/// 3. The structured `RateLimit` header of the IETF drafts, either as a dictionary
///    (`limit=100, remaining=50, reset=5`) or as policy items (`"default";r=50;t=30`, of
///    which the one with the fewest calls left counts).
/// 4. The earlier drafts' `RateLimit-Limit`, `RateLimit-Remaining`, `RateLimit-Reset` (the
///    first list member of each).
/// 5. `RateLimit-Policy` for the limit: `60;w=60` or `"default";q=100;w=10`, the policy
///    named by the `RateLimit` header when there is one, else the first.
///
/// Every dialect also accepts `…-Reset-After`. A reset number below 10⁹ is seconds from
/// now and anything larger a Unix time, whichever header carries it: providers are found
/// using both spellings in both header families, and no window lasts 31 years.
/// Fractions of a second are kept (to the millisecond).
///
/// Numbers are read defensively: a negative, fractional, textual or otherwise unreadable
/// count is absent; a count above `u32::MAX` saturates; a reset more than a day past is
/// absent and one further ahead than [`MAX_WAIT`](super::MAX_WAIT) is cut to it.
pub fn rate_limit_hint(headers: &HeaderMap, received: DateTime<Utc>) -> Option<RateLimitHint> {
    let clock = ProviderClock::of(headers, received);
    let (structured, policy) = structured(headers, &clock);
    let readings = [
        prefixed(headers, &clock, "x-rate-limit-"),
        prefixed(headers, &clock, "x-ratelimit-"),
        structured,
        prefixed(headers, &clock, "ratelimit-"),
    ];
    let limit = readings
        .iter()
        .find_map(|r| r.limit)
        .or_else(|| policy_limit(headers, policy.as_deref()));
    let remaining = readings.iter().find_map(|r| r.remaining);
    let reset = readings
        .iter()
        .find_map(|r| r.reset)
        .and_then(|wait| clock.after(wait));
    let retry_after = retry_after(headers, received);
    if limit.is_none() && remaining.is_none() && reset.is_none() && retry_after.is_none() {
        return None;
    }
    Some(RateLimitHint {
        limit,
        remaining,
        reset,
        retry_after,
    })
}

/// How long the provider asked to wait before the next call, at most
/// [`MAX_WAIT`](super::MAX_WAIT).
///
/// Read from `retry-after-ms` or `x-ms-retry-after-ms` (milliseconds, as Azure services send
/// and the Azure SDKs prefer), else `Retry-After` as seconds (a fraction such as Graph's
/// `2.128` is kept) or as an HTTP-date. An HTTP-date is measured against the response's
/// `Date` header when it has one, otherwise against `received` (the platform clock's time
/// the response arrived); a date already past means no wait.
pub fn retry_after(headers: &HeaderMap, received: DateTime<Utc>) -> Option<Duration> {
    let millis = ["retry-after-ms", "x-ms-retry-after-ms"]
        .iter()
        .find_map(|name| header(headers, name).and_then(whole_number));
    if let Some(millis) = millis {
        return Some(Duration::from_millis(millis).min(MAX_WAIT));
    }
    let value = header(headers, RETRY_AFTER.as_str())?;
    if let Some(wait) = seconds(value) {
        return Some(wait.min(MAX_WAIT));
    }
    ProviderClock::of(headers, received).wait_until(http_date(value)?)
}

/// `<prefix>limit`, `<prefix>remaining`, `<prefix>reset` (or `<prefix>reset-after`).
fn prefixed(headers: &HeaderMap, clock: &ProviderClock, prefix: &str) -> Reading {
    let value = |name: &str| header(headers, &format!("{prefix}{name}"));
    let first_count = |name: &str| value(name).and_then(first_member).and_then(|v| count(&v));
    Reading {
        limit: first_count("limit"),
        remaining: first_count("remaining"),
        reset: ["reset", "reset-after"]
            .iter()
            .find_map(|name| value(name).and_then(first_member))
            .and_then(|v| clock.reset_wait(&v)),
    }
}

/// The first member of a list value, without its parameters (`100, 100;w=60` → `100`).
fn first_member(value: &str) -> Option<String> {
    members(value)
        .first()
        .map(|m| unquote(m.head))
        .filter(|head| !head.is_empty())
}

/// The structured `RateLimit` header, and the name of the policy it reports on.
fn structured(headers: &HeaderMap, clock: &ProviderClock) -> (Reading, Option<String>) {
    let Some(value) = joined(headers, "ratelimit") else {
        return (Reading::default(), None);
    };
    let list = members(&value);
    if list
        .iter()
        .any(|m| m.head.contains('=') && !m.head.starts_with('"'))
    {
        // Dictionary: `limit=100, remaining=50, reset=5`.
        let mut reading = Reading::default();
        for (key, value) in list.iter().filter_map(|m| m.head.split_once('=')) {
            let value = unquote(value);
            match key.trim().to_ascii_lowercase().as_str() {
                "limit" => reading.limit = reading.limit.or(count(&value)),
                "remaining" => reading.remaining = reading.remaining.or(count(&value)),
                "reset" => reading.reset = reading.reset.or(clock.reset_wait(&value)),
                _ => {}
            }
        }
        return (reading, None);
    }
    // Policy items: `"default";r=50;t=30`; the one closest to running out binds.
    let closest = list
        .iter()
        .filter(|m| m.param("r").and_then(count).is_some() || m.param("t").is_some())
        .min_by_key(|m| m.param("r").and_then(count).unwrap_or(u32::MAX));
    match closest {
        Some(item) => (
            Reading {
                limit: None,
                remaining: item.param("r").and_then(count),
                reset: item.param("t").and_then(|t| clock.reset_wait(t)),
            },
            Some(unquote(item.head)),
        ),
        None => (Reading::default(), None),
    }
}

/// The quota of the `RateLimit-Policy` named `name` (else the first): its `q` parameter, or
/// the leading number of the earlier `60;w=60` form.
fn policy_limit(headers: &HeaderMap, name: Option<&str>) -> Option<u32> {
    let value = joined(headers, "ratelimit-policy")?;
    let list = members(&value);
    let policy = name
        .and_then(|name| list.iter().find(|m| unquote(m.head) == name))
        .or_else(|| list.first())?;
    policy
        .param("q")
        .and_then(count)
        .or_else(|| count(policy.head))
}

#[cfg(test)]
#[path = "rate_limit_tests.rs"]
mod tests;
