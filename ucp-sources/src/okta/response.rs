//! Reading Okta responses: rate-limit headers, `Link` headers, error bodies and pages of
//! events (sliced from the body without re-encoding).

use std::time::Duration;

use bytes::Bytes;
use chrono::{DateTime, Utc};
use reqwest::header::{HeaderMap, LINK, RETRY_AFTER};
use serde::Deserialize;
use serde_json::value::RawValue;
use ucp_core::{RateLimitHint, Record};

/// The rate-limit facts of a response, or `None` when it carries none.
pub fn rate_limit_hint(headers: &HeaderMap, now: DateTime<Utc>) -> Option<RateLimitHint> {
    let number =
        |name: &str| -> Option<u64> { headers.get(name)?.to_str().ok()?.trim().parse().ok() };
    let limit = number("x-rate-limit-limit").map(|n| n.min(u32::MAX as u64) as u32);
    let remaining = number("x-rate-limit-remaining").map(|n| n.min(u32::MAX as u64) as u32);
    let reset = number("x-rate-limit-reset")
        .and_then(|secs| DateTime::from_timestamp(secs.min(i64::MAX as u64) as i64, 0));
    let retry_after = retry_after(headers, now);
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

/// `Retry-After` as delay-seconds or an HTTP date.
pub fn retry_after(headers: &HeaderMap, now: DateTime<Utc>) -> Option<Duration> {
    let value = headers.get(RETRY_AFTER)?.to_str().ok()?.trim();
    if let Ok(secs) = value.parse::<u64>() {
        return Some(Duration::from_secs(secs));
    }
    let at = DateTime::parse_from_rfc2822(value)
        .ok()?
        .with_timezone(&Utc);
    Some((at - now).to_std().unwrap_or(Duration::ZERO))
}

/// The target of the `rel="next"` link, if any (several `Link` headers, or several links
/// in one header, are both allowed).
pub fn next_link(headers: &HeaderMap) -> Option<String> {
    headers
        .get_all(LINK)
        .iter()
        .filter_map(|v| v.to_str().ok())
        .find_map(|value| find_rel(value, "next"))
}

fn find_rel(value: &str, rel: &str) -> Option<String> {
    let mut rest = value;
    while let Some(open) = rest.find('<') {
        let after_open = &rest[open + 1..];
        let close = after_open.find('>')?;
        let target = &after_open[..close];
        let params_and_more = &after_open[close + 1..];
        let params = params_and_more
            .find('<')
            .map_or(params_and_more, |next| &params_and_more[..next]);
        let matches = params.split(';').any(|param| {
            param.split_once('=').is_some_and(|(key, val)| {
                key.trim().eq_ignore_ascii_case("rel")
                    && val
                        .trim()
                        .trim_end_matches(',')
                        .trim()
                        .trim_matches('"')
                        .split_whitespace()
                        .any(|r| r.eq_ignore_ascii_case(rel))
            })
        });
        if matches {
            return Some(target.to_string());
        }
        rest = params_and_more;
    }
    None
}

/// Okta's error body: `errorCode` and `errorSummary`, if the body is one.
pub fn okta_error(body: &[u8]) -> Option<(String, String)> {
    #[derive(Deserialize)]
    #[serde(rename_all = "camelCase")]
    struct OktaError {
        error_code: String,
        #[serde(default)]
        error_summary: String,
    }
    let e: OktaError = serde_json::from_slice(body).ok()?;
    Some((e.error_code, e.error_summary))
}

/// The records of a page: id = `uuid`, time = `published`, payload = the event's exact bytes
/// (a slice of `body`, not a copy). Errors say what is wrong, for the caller to name the page.
pub fn records(body: &Bytes) -> Result<Vec<Record>, String> {
    #[derive(Deserialize)]
    struct Head {
        uuid: String,
        published: DateTime<Utc>,
    }
    let events: Vec<&RawValue> = serde_json::from_slice(body)
        .map_err(|e| format!("the body is not a JSON array of events ({})", unquoted(&e)))?;
    events
        .into_iter()
        .enumerate()
        .map(|(index, raw)| {
            let head: Head = serde_json::from_str(raw.get()).map_err(|e| {
                format!(
                    "event #{index} has no usable uuid and published time ({})",
                    unquoted(&e)
                )
            })?;
            Ok(Record::new(
                head.uuid,
                head.published,
                body.slice_ref(raw.get().as_bytes()),
            ))
        })
        .collect()
}

/// What is wrong with a JSON text, without quoting it: serde's data errors quote the value
/// of the wrong type (`invalid type: string "…"`), which can be anything an event holds.
fn unquoted(e: &serde_json::Error) -> String {
    let message = e.to_string();
    match e.classify() {
        serde_json::error::Category::Data if !message.starts_with("missing field") => format!(
            "a value of the wrong type or form at line {} column {}",
            e.line(),
            e.column()
        ),
        _ => message,
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use reqwest::header::HeaderValue;

    #[test]
    fn rate_limit_headers_become_a_hint() {
        let mut h = HeaderMap::new();
        h.insert("x-rate-limit-limit", HeaderValue::from_static("600"));
        h.insert("x-rate-limit-remaining", HeaderValue::from_static("598"));
        h.insert("x-rate-limit-reset", HeaderValue::from_static("1700000060"));
        let hint = rate_limit_hint(&h, Utc::now()).unwrap();
        assert_eq!(hint.limit, Some(600));
        assert_eq!(hint.remaining, Some(598));
        assert_eq!(hint.reset, DateTime::from_timestamp(1_700_000_060, 0));
        assert_eq!(rate_limit_hint(&HeaderMap::new(), Utc::now()), None);
    }

    #[test]
    fn retry_after_reads_seconds_and_dates() {
        let now = DateTime::parse_from_rfc3339("2024-01-01T00:00:00Z")
            .unwrap()
            .to_utc();
        let mut h = HeaderMap::new();
        h.insert(RETRY_AFTER, HeaderValue::from_static("7"));
        assert_eq!(retry_after(&h, now), Some(Duration::from_secs(7)));
        h.insert(
            RETRY_AFTER,
            HeaderValue::from_static("Mon, 01 Jan 2024 00:00:30 GMT"),
        );
        assert_eq!(retry_after(&h, now), Some(Duration::from_secs(30)));
    }

    #[test]
    fn next_link_is_found_in_separate_or_combined_headers() {
        let mut h = HeaderMap::new();
        h.append(
            LINK,
            HeaderValue::from_static(r#"<https://o.okta.com/api/v1/logs?limit=2>; rel="self""#),
        );
        h.append(
            LINK,
            HeaderValue::from_static(
                r#"<https://o.okta.com/api/v1/logs?after=9_1&limit=2>; rel="next""#,
            ),
        );
        assert_eq!(
            next_link(&h).as_deref(),
            Some("https://o.okta.com/api/v1/logs?after=9_1&limit=2")
        );
        let mut one = HeaderMap::new();
        one.insert(
            LINK,
            HeaderValue::from_static(
                r#"<https://a/self>; rel="self", <https://a/next?x=1>; rel=next"#,
            ),
        );
        assert_eq!(next_link(&one).as_deref(), Some("https://a/next?x=1"));
        let mut none = HeaderMap::new();
        none.insert(
            LINK,
            HeaderValue::from_static(r#"<https://a/self>; rel="self""#),
        );
        assert_eq!(next_link(&none), None);
    }

    #[test]
    fn records_keep_the_exact_bytes_of_each_event() {
        let body = Bytes::from_static(
            br#"[ {"uuid":"a","published":"2024-01-01T00:00:00.000Z", "x" : [1, 2]} ,{"published":"2024-01-01T00:00:01Z","uuid":"b"}]"#,
        );
        let records = records(&body).unwrap();
        assert_eq!(records.len(), 2);
        assert_eq!(records[0].id.as_str(), "a");
        assert_eq!(
            &records[0].payload[..],
            br#"{"uuid":"a","published":"2024-01-01T00:00:00.000Z", "x" : [1, 2]}"#
        );
        assert_eq!(records[1].time.timestamp(), 1_704_067_201);
    }

    #[test]
    fn malformed_pages_are_refused_with_a_reason() {
        let missing = Bytes::from_static(br#"[{"published":"2024-01-01T00:00:00Z"}]"#);
        assert!(records(&missing).unwrap_err().contains("event #0"));
        let truncated = Bytes::from_static(br#"[{"uuid":"a","published":"2024-01-01T00:0"#);
        assert!(records(&truncated)
            .unwrap_err()
            .contains("not a JSON array"));
        assert!(records(&Bytes::from_static(b"{}")).is_err());
    }
}
