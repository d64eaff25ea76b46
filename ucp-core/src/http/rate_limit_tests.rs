use super::*;
use reqwest::header::{HeaderName, HeaderValue, DATE};

fn at(rfc3339: &str) -> DateTime<Utc> {
    DateTime::parse_from_rfc3339(rfc3339).unwrap().to_utc()
}

fn headers(pairs: &[(&str, &str)]) -> HeaderMap {
    let mut map = HeaderMap::new();
    for (name, value) in pairs {
        map.append(
            HeaderName::from_bytes(name.as_bytes()).unwrap(),
            HeaderValue::from_str(value).unwrap(),
        );
    }
    map
}

/// 2023-11-14T22:13:20Z, Unix time 1_700_000_000.
fn received() -> DateTime<Utc> {
    at("2023-11-14T22:13:20Z")
}

#[test]
fn okta_headers_give_limit_remaining_and_an_epoch_reset() {
    let h = headers(&[
        ("X-Rate-Limit-Limit", "600"),
        ("X-Rate-Limit-Remaining", "598"),
        ("X-Rate-Limit-Reset", "1700000060"),
    ]);
    let hint = rate_limit_hint(&h, received()).unwrap();
    assert_eq!(hint.limit, Some(600));
    assert_eq!(hint.remaining, Some(598));
    assert_eq!(hint.reset, Some(at("2023-11-14T22:14:20Z")));
    assert_eq!(hint.retry_after, None);
    assert_eq!(rate_limit_hint(&HeaderMap::new(), received()), None);
}

#[test]
fn github_headers_are_read_the_same_way() {
    let h = headers(&[
        ("x-ratelimit-limit", "5000"),
        ("x-ratelimit-remaining", "4999"),
        ("x-ratelimit-reset", "1700003600"),
        ("x-ratelimit-used", "1"),
    ]);
    let hint = rate_limit_hint(&h, received()).unwrap();
    assert_eq!(
        (hint.limit, hint.remaining, hint.reset),
        (Some(5000), Some(4999), Some(at("2023-11-14T23:13:20Z")))
    );
}

#[test]
fn an_epoch_reset_follows_the_provider_clock_not_ours() {
    for (date, reset) in [
        // Provider 5 minutes ahead: its reset 60 s after its own "now".
        ("Tue, 14 Nov 2023 22:18:20 GMT", "1700000360"),
        // Provider 5 minutes behind.
        ("Tue, 14 Nov 2023 22:08:20 GMT", "1699999760"),
        // Same clock.
        ("Tue, 14 Nov 2023 22:13:20 GMT", "1700000060"),
    ] {
        let h = headers(&[
            ("date", date),
            ("x-rate-limit-remaining", "0"),
            ("x-rate-limit-reset", reset),
        ]);
        let hint = rate_limit_hint(&h, received()).unwrap();
        assert_eq!(hint.reset, Some(at("2023-11-14T22:14:20Z")), "{date}");
    }
}

#[test]
fn without_a_date_header_an_epoch_reset_is_taken_as_is() {
    let h = headers(&[("x-rate-limit-reset", "1700000090")]);
    let hint = rate_limit_hint(&h, received()).unwrap();
    assert_eq!(hint.reset, Some(at("2023-11-14T22:14:50Z")));
}

#[test]
fn draft_ratelimit_headers_give_a_reset_in_seconds() {
    let h = headers(&[
        ("RateLimit-Limit", "100, 100;w=60"),
        ("RateLimit-Remaining", "42"),
        ("RateLimit-Reset", "17"),
    ]);
    let hint = rate_limit_hint(&h, received()).unwrap();
    assert_eq!(hint.limit, Some(100));
    assert_eq!(hint.remaining, Some(42));
    assert_eq!(hint.reset, Some(at("2023-11-14T22:13:37Z")));
}

#[test]
fn ratelimit_policy_gives_the_limit_in_both_forms() {
    let old = headers(&[("RateLimit-Policy", "60;w=60, 1000;w=3600")]);
    assert_eq!(rate_limit_hint(&old, received()).unwrap().limit, Some(60));
    let new = headers(&[(
        "RateLimit-Policy",
        r#""burst";q=100;w=10, "day";q=5000;w=86400"#,
    )]);
    assert_eq!(rate_limit_hint(&new, received()).unwrap().limit, Some(100));
}

#[test]
fn the_structured_header_as_a_dictionary() {
    let h = headers(&[("RateLimit", "limit=100, remaining=50, reset=5")]);
    let hint = rate_limit_hint(&h, received()).unwrap();
    assert_eq!(
        (hint.limit, hint.remaining, hint.reset),
        (Some(100), Some(50), Some(at("2023-11-14T22:13:25Z")))
    );
}

#[test]
fn structured_policy_items_bind_by_the_fewest_calls_left_and_name_the_policy() {
    let h = headers(&[
        ("RateLimit", r#""burst";r=80;t=3, "day";r=7;t=40000"#),
        (
            "RateLimit-Policy",
            r#""burst";q=100;w=10, "day";q=5000;w=86400"#,
        ),
    ]);
    let hint = rate_limit_hint(&h, received()).unwrap();
    assert_eq!(hint.remaining, Some(7));
    assert_eq!(
        hint.reset,
        Some(received() + chrono::Duration::seconds(40_000))
    );
    assert_eq!(hint.limit, Some(5000));
}

#[test]
fn okta_wins_over_other_dialects_field_by_field() {
    let h = headers(&[
        ("x-rate-limit-remaining", "3"),
        ("ratelimit-remaining", "90"),
        ("ratelimit-limit", "100"),
    ]);
    let hint = rate_limit_hint(&h, received()).unwrap();
    assert_eq!((hint.limit, hint.remaining), (Some(100), Some(3)));
}

#[test]
fn retry_after_reads_seconds_fractions_milliseconds_and_dates() {
    let wait = |pairs: &[(&str, &str)]| retry_after(&headers(pairs), received());
    assert_eq!(wait(&[("retry-after", "7")]), Some(Duration::from_secs(7)));
    assert_eq!(
        wait(&[("retry-after", "2.128")]),
        Some(Duration::from_millis(2128))
    );
    assert_eq!(
        wait(&[("retry-after", "7"), ("x-ms-retry-after-ms", "1500")]),
        Some(Duration::from_millis(1500))
    );
    assert_eq!(
        wait(&[("retry-after-ms", "250")]),
        Some(Duration::from_millis(250))
    );
    assert_eq!(
        wait(&[("retry-after", "Tue, 14 Nov 2023 22:13:50 GMT")]),
        Some(Duration::from_secs(30))
    );
    assert_eq!(
        wait(&[("retry-after", "Tue, 14 Nov 2023 22:00:00 GMT")]),
        Some(Duration::ZERO)
    );
    assert_eq!(wait(&[("retry-after", "-1")]), None);
    assert_eq!(wait(&[("retry-after", "soon")]), None);
    assert_eq!(
        wait(&[("retry-after", "99999999999999999999")]),
        Some(MAX_WAIT)
    );
}

#[test]
fn a_retry_after_date_follows_the_provider_clock() {
    for date in [
        "Tue, 14 Nov 2023 22:18:20 GMT",
        "Tue, 14 Nov 2023 22:08:20 GMT",
    ] {
        let provider_now = http_date(date).unwrap();
        let then = (provider_now + chrono::Duration::seconds(45)).to_rfc2822();
        let h = headers(&[(DATE.as_str(), date), ("retry-after", &then)]);
        assert_eq!(
            retry_after(&h, received()),
            Some(Duration::from_secs(45)),
            "{date}"
        );
    }
}

#[test]
fn a_hint_with_only_retry_after_is_still_a_hint() {
    let h = headers(&[("retry-after", "3")]);
    let hint = rate_limit_hint(&h, received()).unwrap();
    assert_eq!(hint.retry_after, Some(Duration::from_secs(3)));
    assert_eq!((hint.limit, hint.remaining, hint.reset), (None, None, None));
}

#[test]
fn garbage_and_extremes_give_sane_values_or_nothing() {
    let h = headers(&[
        ("x-rate-limit-limit", "-1"),
        ("x-rate-limit-remaining", "99999999999"),
        ("x-rate-limit-reset", "99999999999999999999999"),
    ]);
    let hint = rate_limit_hint(&h, received()).unwrap();
    assert_eq!(hint.limit, None);
    assert_eq!(hint.remaining, Some(u32::MAX));
    assert_eq!(hint.reset, Some(received() + chrono::Duration::hours(24)));

    let past = headers(&[("x-rate-limit-reset", "1000000000")]);
    assert_eq!(rate_limit_hint(&past, received()), None);

    let just_past = headers(&[("x-rate-limit-reset", "1699999990")]);
    assert_eq!(
        rate_limit_hint(&just_past, received()).unwrap().reset,
        Some(received())
    );

    let text = headers(&[("ratelimit", "lots"), ("ratelimit-policy", "some")]);
    assert_eq!(rate_limit_hint(&text, received()), None);
}

#[test]
fn a_reset_header_written_as_seconds_from_now_is_understood() {
    let h = headers(&[("x-ratelimit-reset", "60"), ("x-ratelimit-remaining", "0")]);
    let hint = rate_limit_hint(&h, received()).unwrap();
    assert_eq!(hint.reset, Some(at("2023-11-14T22:14:20Z")));
    let after = headers(&[("x-ratelimit-reset-after", "1.5")]);
    assert_eq!(
        rate_limit_hint(&after, received()).unwrap().reset,
        Some(received() + chrono::Duration::milliseconds(1500))
    );
}
