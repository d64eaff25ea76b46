//! Properties of the kit under arbitrary provider input: no panic, hints within bounds, and
//! no planted secret in any message.

use std::time::Duration;

use chrono::{DateTime, TimeDelta, Utc};
use proptest::prelude::*;
use reqwest::header::{HeaderMap, HeaderName, HeaderValue};
use reqwest::StatusCode;

use super::fields::{members, split_outside};
use super::*;

/// Every header the kit reads.
const NAMES: &[&str] = &[
    "date",
    "retry-after",
    "retry-after-ms",
    "x-ms-retry-after-ms",
    "x-rate-limit-limit",
    "x-rate-limit-remaining",
    "x-rate-limit-reset",
    "x-ratelimit-limit",
    "x-ratelimit-remaining",
    "x-ratelimit-reset",
    "x-ratelimit-reset-after",
    "ratelimit",
    "ratelimit-policy",
    "ratelimit-limit",
    "ratelimit-remaining",
    "ratelimit-reset",
    "link",
    "x-ms-request-id",
    "x-request-id",
];

/// Header values: raw bytes, numbers of every size and sign, and list-shaped text.
fn value() -> impl Strategy<Value = Vec<u8>> {
    prop_oneof![
        proptest::collection::vec(any::<u8>(), 0..48),
        any::<u64>().prop_map(|n| n.to_string().into_bytes()),
        any::<i64>().prop_map(|n| n.to_string().into_bytes()),
        (any::<u32>(), any::<u32>()).prop_map(|(a, b)| format!("{a}.{b}").into_bytes()),
        "[0-9]{15,40}".prop_map(String::into_bytes),
        r#"[0-9a-z"<>;=,. \\-]{0,40}"#.prop_map(String::into_bytes),
        r#"("[a-z]{0,6}"|[0-9]{1,12});(q|r|t|w)=-?[0-9]{1,22}(, ?[a-z]=[0-9]{1,5})?"#
            .prop_map(String::into_bytes),
        Just(b"Tue, 14 Nov 2023 22:13:20 GMT".to_vec()),
        Just(b"Fri, 31 Dec 9999 23:59:59 GMT".to_vec()),
        Just(b"Thu, 01 Jan 1970 00:00:00 GMT".to_vec()),
    ]
}

fn headers() -> impl Strategy<Value = HeaderMap> {
    proptest::collection::vec((proptest::sample::select(NAMES), value()), 0..10).prop_map(|pairs| {
        let mut map = HeaderMap::new();
        for (name, bytes) in pairs {
            if let Ok(value) = HeaderValue::from_bytes(&bytes) {
                map.append(HeaderName::from_static(name), value);
            }
        }
        map
    })
}

/// Any time chrono holds, and the calendar's ends.
fn received() -> impl Strategy<Value = DateTime<Utc>> {
    prop_oneof![
        (0i64..4_102_444_800).prop_map(|s| DateTime::from_timestamp(s, 0).unwrap()),
        Just(DateTime::<Utc>::MAX_UTC),
        Just(DateTime::<Utc>::MIN_UTC),
    ]
}

fn status() -> impl Strategy<Value = StatusCode> {
    (100u16..1000).prop_map(|s| StatusCode::from_u16(s).unwrap())
}

/// A secret and the ways a provider might echo it.
fn planted() -> impl Strategy<Value = (String, String)> {
    let secret = "[A-Za-z0-9]{12,32}";
    let context = proptest::sample::select(vec![
        "Authorization: Bearer {}",
        "bearer {}",
        "SSWS {}",
        "SharedAccessSignature sr=sb%3a%2f%2fns&sig={}&se=1700000000&skn=send",
        "https://acct.blob.core.windows.net/c?sv=2024&sig={}&se=1",
        "client_secret={}&grant_type=client_credentials",
        r#""access_token":"{}""#,
        r#"{"refresh_token": "{}"}"#,
        "password: {}",
        "Endpoint=sb://ns/;SharedAccessKeyName=a;SharedAccessKey={};",
        "https://admin:{}@host.example/",
        "eyJhbGciOiJIUzI1NiJ9.eyJzdWIiOiIxIn0.{}",
    ]);
    (secret, context).prop_map(|(secret, context)| {
        let text = context.replace("{}", &secret);
        (secret, text)
    })
}

proptest! {
    #![proptest_config(ProptestConfig::with_cases(512))]

    #[test]
    fn hints_from_any_headers_stay_within_bounds(headers in headers(), received in received()) {
        if let Some(hint) = rate_limit_hint(&headers, received) {
            if let Some(reset) = hint.reset {
                prop_assert!(reset >= received);
                prop_assert!(reset - received <= TimeDelta::from_std(MAX_WAIT).unwrap());
            }
            prop_assert!(hint.retry_after.is_none_or(|w| w <= MAX_WAIT));
        }
        prop_assert!(retry_after(&headers, received).is_none_or(|w| w <= MAX_WAIT));
    }

    #[test]
    fn failures_from_any_response_never_panic_and_stay_printable(
        status in status(),
        headers in headers(),
        body in proptest::collection::vec(any::<u8>(), 0..512),
        received in received(),
    ) {
        let failure = HttpFailure::new(status, &headers, &body, received);
        prop_assert!(failure.retry_after().is_none_or(|w| w <= MAX_WAIT));
        for message in [
            failure.source_error("Acme account a1").to_string(),
            failure.sink_error("Acme sink").to_string(),
        ] {
            let said = format!("HTTP {}", status.as_u16());
            prop_assert!(message.contains(&said), "{message:?}");
            prop_assert!(!message.chars().any(char::is_control), "{message:?}");
        }
        let _ = (links(&headers), next_link(&headers), request_id(&headers));
    }

    #[test]
    fn summaries_of_any_body_are_one_bounded_line(body in proptest::collection::vec(any::<u8>(), 0..2048)) {
        if let Some(summary) = error_summary(&body) {
            prop_assert!(!summary.is_empty());
            prop_assert!(summary.chars().count() <= MAX_SUMMARY_CHARS);
            prop_assert!(!summary.chars().any(char::is_control));
        }
    }

    #[test]
    fn summaries_of_any_text_are_one_bounded_line(body in any::<String>()) {
        let summary = error_summary(body.as_bytes()).unwrap_or_default();
        prop_assert!(summary.chars().count() <= MAX_SUMMARY_CHARS);
        prop_assert!(!summary.chars().any(char::is_control));
        let _ = redact(&body);
    }

    #[test]
    fn planted_secrets_never_reach_a_message(
        (secret, echoed) in planted(),
        before in "[ -~]{0,60}",
        after in "[ -~]{0,60}",
        shape in 0usize..4,
        status in status(),
    ) {
        let text = format!("{before} {echoed} {after}");
        let body = match shape {
            0 => text.clone(),
            1 => serde_json::json!({"error": {"code": "X", "message": text}}).to_string(),
            2 => serde_json::json!({"error": "invalid_request", "error_description": text}).to_string(),
            _ => serde_json::json!({"errorCode": "E1", "errorSummary": "no", "errorCauses": [{"errorSummary": text}]}).to_string(),
        };
        let mut headers = HeaderMap::new();
        headers.insert("x-request-id", HeaderValue::from_str(&text).unwrap());
        let failure = HttpFailure::new(status, &headers, body.as_bytes(), Utc::now());
        for message in [
            failure.source_error("Acme").to_string(),
            failure.sink_error("Acme").to_string(),
            format!("{failure:?}"),
        ] {
            prop_assert!(!message.contains(&secret), "{secret} in {message}");
        }
    }

    #[test]
    fn the_provider_clock_never_moves_a_reset(
        received in 1_600_000_000i64..1_800_000_000,
        skew in -86_400i64..86_400,
        wait in 0i64..86_400,
    ) {
        let ours = DateTime::from_timestamp(received, 0).unwrap();
        let theirs = ours + TimeDelta::seconds(skew);
        let mut headers = HeaderMap::new();
        headers.insert("date", HeaderValue::from_str(&theirs.to_rfc2822()).unwrap());
        let reset = (theirs + TimeDelta::seconds(wait)).timestamp().to_string();
        headers.insert("x-rate-limit-reset", HeaderValue::from_str(&reset).unwrap());
        let then = (theirs + TimeDelta::seconds(wait)).to_rfc2822();
        headers.insert("retry-after", HeaderValue::from_str(&then).unwrap());
        let hint = rate_limit_hint(&headers, ours).unwrap();
        prop_assert_eq!(hint.reset, Some(ours + TimeDelta::seconds(wait)));
        prop_assert_eq!(hint.retry_after, Some(Duration::from_secs(wait as u64)));
    }

    #[test]
    fn link_targets_are_taken_verbatim_from_any_list(
        targets in proptest::collection::vec("[a-z0-9:/?&=.,;\" -]{0,30}", 1..5),
        next in any::<proptest::sample::Index>(),
    ) {
        let targets: Vec<String> = targets.into_iter().map(|t| t.replace(['<', '>'], "")).collect();
        let chosen = next.index(targets.len());
        let value = targets
            .iter()
            .enumerate()
            .map(|(i, t)| format!("<{t}>; rel=\"{}\"", if i == chosen { "next" } else { "other" }))
            .collect::<Vec<_>>()
            .join(", ");
        let mut headers = HeaderMap::new();
        headers.insert("link", HeaderValue::from_str(&value).unwrap());
        prop_assert_eq!(next_link(&headers), Some(targets[chosen].trim().to_string()));
    }

    #[test]
    fn list_splitting_never_panics_and_loses_nothing(value in any::<String>()) {
        let parts = split_outside(&value, ',');
        prop_assert_eq!(parts.join(","), value.clone());
        let _ = members(&value);
    }
}
