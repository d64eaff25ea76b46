use super::*;
use reqwest::header::{HeaderName, HeaderValue};

fn at(rfc3339: &str) -> DateTime<Utc> {
    DateTime::parse_from_rfc3339(rfc3339).unwrap().to_utc()
}

fn received() -> DateTime<Utc> {
    at("2023-11-14T22:13:20Z")
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

fn failure(status: u16, pairs: &[(&str, &str)], body: &str) -> HttpFailure {
    HttpFailure::new(
        StatusCode::from_u16(status).unwrap(),
        &headers(pairs),
        body.as_bytes(),
        received(),
    )
}

const WHAT: &str = "Okta org contoso.okta.com";

#[test]
fn every_status_has_its_kind() {
    let kind = |status: u16| failure(status, &[], "").kind;
    assert_eq!(kind(401), FailureKind::Unauthorized);
    assert_eq!(kind(403), FailureKind::Forbidden);
    assert_eq!(kind(404), FailureKind::NotFound);
    assert_eq!(kind(410), FailureKind::NotFound);
    for status in [400, 405, 411, 413, 414, 415, 422] {
        assert_eq!(kind(status), FailureKind::BadRequest, "{status}");
    }
    assert_eq!(kind(408), FailureKind::Timeout);
    assert_eq!(kind(429), FailureKind::RateLimited);
    for status in [500, 502, 503, 504, 529] {
        assert_eq!(kind(status), FailureKind::Unavailable, "{status}");
    }
    for status in [409, 412, 418, 501, 505, 302, 200] {
        assert_eq!(kind(status), FailureKind::Other, "{status}");
    }
}

#[test]
fn a_forbidden_answer_that_says_the_limit_is_used_up_is_throttling() {
    let used_up = failure(403, &[("x-ratelimit-remaining", "0")], "");
    assert_eq!(used_up.kind, FailureKind::RateLimited);
    let asked_to_wait = failure(403, &[("retry-after", "60")], "");
    assert_eq!(asked_to_wait.kind, FailureKind::RateLimited);
    let refused = failure(403, &[("x-ratelimit-remaining", "4000")], "");
    assert_eq!(refused.kind, FailureKind::Forbidden);
}

#[test]
fn kinds_have_the_retry_class_the_scheduler_needs() {
    assert_eq!(FailureKind::RateLimited.class(), ErrorClass::RateLimited);
    assert_eq!(FailureKind::Unavailable.class(), ErrorClass::Retryable);
    assert_eq!(FailureKind::Timeout.class(), ErrorClass::Retryable);
    assert_eq!(FailureKind::Forbidden.class(), ErrorClass::Permanent);
    assert_eq!(FailureKind::Other.class(), ErrorClass::Permanent);
}

#[test]
fn the_service_request_id_is_preferred_over_our_echo() {
    let both = headers(&[
        ("x-ms-client-request-id", "ours"),
        ("x-ms-request-id", "theirs"),
    ]);
    assert_eq!(request_id(&both).as_deref(), Some("theirs"));
    for name in [
        "X-Okta-Request-Id",
        "apim-request-id",
        "request-id",
        "x-request-id",
    ] {
        assert_eq!(
            request_id(&headers(&[(name, "r-1")])).as_deref(),
            Some("r-1")
        );
    }
    let echo = headers(&[("x-ms-client-request-id", "ours")]);
    assert_eq!(request_id(&echo).as_deref(), Some("ours"));
    assert_eq!(request_id(&HeaderMap::new()), None);
    let odd = headers(&[("x-request-id", "Bearer leaked-token")]);
    assert!(!request_id(&odd).unwrap().contains("leaked-token"));
    let long = "a".repeat(500);
    assert_eq!(
        request_id(&headers(&[("x-request-id", &long)]))
            .unwrap()
            .chars()
            .count(),
        100
    );
}

#[test]
fn unauthorized_and_forbidden_become_auth_errors_naming_what_to_check() {
    let body =
        r#"{"errorCode":"E0000011","errorSummary":"Invalid token provided","errorCauses":[]}"#;
    let f = failure(401, &[("x-okta-request-id", "req-42")], body);
    let SourceError::Auth { message } = f.source_error(WHAT) else {
        panic!("not auth");
    };
    assert_eq!(
        message,
        "Okta org contoso.okta.com rejected the credential (HTTP 401 Unauthorized, request id req-42: \"E0000011: Invalid token provided\"): check that the credential is current, not expired or revoked, and issued for Okta org contoso.okta.com"
    );
    let forbidden = failure(
        403,
        &[],
        r#"{"error":{"code":"Forbidden","message":"Missing application roles."}}"#,
    );
    let SinkError::Auth { message } = forbidden.sink_error("Sentinel DCR dcr-1") else {
        panic!("not auth");
    };
    assert!(message.starts_with("Sentinel DCR dcr-1 accepted the credential but refused the batch (HTTP 403 Forbidden: \"Forbidden: Missing application roles.\")"), "{message}");
    assert!(message.contains("permission, scope or role"), "{message}");
}

#[test]
fn not_found_and_bad_request_are_configuration_for_sources_and_permanent_for_sinks() {
    for status in [404, 400, 422] {
        let f = failure(status, &[("request-id", "r")], r#"{"message":"nope"}"#);
        let source = f.source_error(WHAT);
        assert!(
            matches!(source, SourceError::Config { .. }),
            "{status}: {source:?}"
        );
        let text = source.to_string();
        assert!(
            text.contains(&format!("HTTP {status}")) && text.contains("request id r"),
            "{text}"
        );
        assert!(text.contains("the connector's configuration"), "{text}");
        let sink = f.sink_error("Event Hubs hub-a");
        assert!(
            matches!(sink, SinkError::Permanent { .. }),
            "{status}: {sink:?}"
        );
        assert!(sink.to_string().contains("the sink's configuration"));
    }
}

#[test]
fn throttling_keeps_the_hint_for_sources_and_the_wait_for_sinks() {
    let f = failure(
        429,
        &[
            ("x-rate-limit-limit", "600"),
            ("x-rate-limit-remaining", "0"),
            ("x-rate-limit-reset", "1700000060"),
        ],
        "",
    );
    let SourceError::RateLimited { message, hint } = f.source_error(WHAT) else {
        panic!("not rate limited");
    };
    assert_eq!(hint.reset, Some(at("2023-11-14T22:14:20Z")));
    assert_eq!(hint.remaining, Some(0));
    assert_eq!(
        message,
        "Okta org contoso.okta.com throttled the call (HTTP 429 Too Many Requests); calls wait until 2023-11-14T22:14:20Z"
    );
    let sink = f.sink_error("Sentinel");
    assert!(matches!(sink, SinkError::RateLimited { .. }));
    assert_eq!(sink.retry_after(), Some(Duration::from_secs(60)));

    let bare = failure(429, &[], "").source_error(WHAT);
    let SourceError::RateLimited { hint, message } = bare else {
        panic!("not rate limited");
    };
    assert_eq!(hint, RateLimitHint::default());
    assert!(
        message.ends_with("calls wait for the rate budget's window"),
        "{message}"
    );
}

#[test]
fn a_throttled_call_waits_for_the_later_of_retry_after_and_the_reset() {
    let f = failure(
        429,
        &[("retry-after", "90"), ("x-ratelimit-reset", "1700000030")],
        "",
    );
    assert_eq!(f.retry_after(), Some(Duration::from_secs(90)));
    let g = failure(429, &[("retry-after", "5"), ("ratelimit-reset", "20")], "");
    assert_eq!(g.retry_after(), Some(Duration::from_secs(20)));
}

#[test]
fn a_failing_server_waits_only_for_its_retry_after_not_the_rate_window() {
    let g = failure(503, &[("retry-after", "5"), ("ratelimit-reset", "20")], "");
    assert_eq!(g.retry_after(), Some(Duration::from_secs(5)));
    let h = failure(503, &[("ratelimit-reset", "20")], "");
    assert_eq!(h.retry_after(), None);
    assert_eq!(failure(503, &[], "").retry_after(), None);
}

#[test]
fn server_failures_and_timeouts_are_retried_after_what_was_asked() {
    let f = failure(
        503,
        &[("retry-after", "2.128"), ("x-ms-request-id", "m-1")],
        "<h1>busy</h1>",
    );
    let SourceError::Retryable {
        message,
        retry_after,
    } = f.source_error(WHAT)
    else {
        panic!("not retryable");
    };
    assert_eq!(retry_after, Some(Duration::from_millis(2128)));
    assert_eq!(
        message,
        "Okta org contoso.okta.com is failing or unavailable (HTTP 503 Service Unavailable, request id m-1: \"busy\"); it is retried after 2.128s, as asked"
    );
    let sink = failure(408, &[], "").sink_error("Sentinel");
    assert!(matches!(
        sink,
        SinkError::Retryable {
            retry_after: None,
            ..
        }
    ));
    assert!(
        sink.to_string().contains("it is retried with backoff"),
        "{sink}"
    );
}

#[test]
fn other_statuses_are_permanent_and_say_so() {
    let f = failure(
        409,
        &[],
        r#"{"error":{"code":"Conflict","message":"etag mismatch"}}"#,
    );
    let error = f.source_error(WHAT);
    assert!(matches!(error, SourceError::Permanent { .. }));
    assert!(error.to_string().contains("HTTP 409 Conflict"), "{error}");
    assert!(error.to_string().contains("etag mismatch"), "{error}");
    assert!(matches!(f.sink_error("x"), SinkError::Permanent { .. }));
}

#[test]
fn an_unknown_status_still_prints_its_number() {
    let f = failure(599, &[], "");
    assert_eq!(f.to_string(), "HTTP 599");
}

#[test]
fn secrets_echoed_by_the_provider_stay_out_of_every_message() {
    let body = r#"{"error":"invalid_request","error_description":"got client_secret=Sup3rS3cret and Bearer eyJhbGciOi.eyJzdWIi.c2ln"}"#;
    let f = failure(400, &[("x-request-id", "SSWS 00abcSECRETtoken")], body);
    for text in [
        f.source_error(WHAT).to_string(),
        f.sink_error(WHAT).to_string(),
        format!("{f:?}"),
    ] {
        for secret in ["Sup3rS3cret", "eyJhbGciOi", "00abcSECRETtoken"] {
            assert!(!text.contains(secret), "{secret} in {text}");
        }
    }
}

#[tokio::test]
async fn a_response_is_read_with_a_bounded_body() {
    use axum::body::Body;
    use axum::http::StatusCode as AxumStatus;
    use axum::routing::get;
    use futures::StreamExt;

    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let port = listener.local_addr().unwrap().port();
    let app = axum::Router::new().route(
        "/busy",
        get(|| async {
            // A body that never ends: only a bounded read returns.
            let start = bytes::Bytes::from_static(
                br#"{"error":{"code":"ServerBusy","message":"try later"},"pad":""#,
            );
            let endless = futures::stream::iter([start])
                .chain(futures::stream::repeat(bytes::Bytes::from(vec![
                    b'x';
                    8192
                ])))
                .map(Ok::<_, std::io::Error>);
            (
                AxumStatus::SERVICE_UNAVAILABLE,
                [("retry-after", "7"), ("x-ms-request-id", "busy-1")],
                Body::from_stream(endless),
            )
        }),
    );
    let server = tokio::spawn(async move { axum::serve(listener, app).await });
    let response = reqwest::get(format!("http://127.0.0.1:{port}/busy"))
        .await
        .unwrap();
    let f = tokio::time::timeout(
        Duration::from_secs(60),
        HttpFailure::from_response(response, received()),
    )
    .await
    .expect("the body read stops at MAX_ERROR_BODY");
    assert_eq!(f.status, StatusCode::SERVICE_UNAVAILABLE);
    assert_eq!(f.kind, FailureKind::Unavailable);
    assert_eq!(f.request_id.as_deref(), Some("busy-1"));
    assert_eq!(f.retry_after(), Some(Duration::from_secs(7)));
    // Cut before its end, the body is no longer JSON: an excerpt, bounded.
    let summary = f.summary.unwrap();
    assert!(
        summary.starts_with(r#"{"error":{"code":"ServerBusy""#),
        "{summary}"
    );
    assert_eq!(summary.chars().count(), crate::http::MAX_SUMMARY_CHARS);
    server.abort();
}
