//! What every Okta request carries and every Okta error names, as Okta's own SDKs do:
//! ucp's `User-Agent`, and Okta's `X-Okta-Request-Id` in the error and the logs, so Okta
//! support can find the call. Also where a stream can be started from ([`Source::cursor_at`]).

mod okta_support;

use std::time::Duration;

use okta_support::*;
use ucp_core::{Cursor, Source, SourceError};
use ucp_sources::okta::{OktaSource, SYSTEM_LOG};
use ucp_testkit::leak::TraceCapture;
use ucp_testkit::okta::{Fault, OktaSimConfig};

#[tokio::test]
async fn every_request_carries_ucp_s_user_agent() {
    let clock = clock();
    let sim = org(OktaSimConfig::default().clock(clock).backlog(30)).await;
    let source = OktaSource::new(source_config(&sim).page_limit(10)).unwrap();
    let cx = context(&source, clock).await;
    source.check(&cx).await.unwrap();
    round(&source, &cx, Cursor::start(), None).await;
    assert!(sim.requests() >= 4);
    assert_eq!(
        sim.user_agents(),
        [format!("ucp/{}", env!("CARGO_PKG_VERSION"))]
    );
    assert_eq!(sim.user_agents(), [ucp_core::http::USER_AGENT]);
}

/// Current-thread runtime on purpose: the capture is the thread's default subscriber.
#[tokio::test]
async fn okta_s_request_id_is_in_every_error_and_in_the_log() {
    let capture = TraceCapture::new();
    let _guard = capture.set_default();
    let clock = clock();
    let sim = org(OktaSimConfig::default().clock(clock).backlog(30)).await;
    let source = OktaSource::new(source_config(&sim).page_limit(10)).unwrap();
    let cx = context(&source, clock).await;

    // A refused token, a server error, a throttle and a malformed page.
    let bad = context_with(&source, Some(api_token("00revoked")), clock).await;
    let mut errors = vec![collect(&source, &bad, &Cursor::start(), None)
        .await
        .unwrap_err()];
    let mut ids = vec![sim.last_request_id().unwrap()];
    sim.push_fault(Fault::ServerError {
        status: 500,
        retry_after: None,
    });
    errors.push(
        collect(&source, &cx, &Cursor::start(), None)
            .await
            .unwrap_err(),
    );
    ids.push(sim.last_request_id().unwrap());
    sim.push_fault(Fault::Malformed);
    errors.push(
        collect(&source, &cx, &Cursor::start(), None)
            .await
            .unwrap_err(),
    );
    ids.push(sim.last_request_id().unwrap());
    sim.set_rate_limit(0);
    errors.push(
        collect(&source, &cx, &Cursor::start(), None)
            .await
            .unwrap_err(),
    );
    ids.push(sim.last_request_id().unwrap());

    assert!(matches!(errors[0], SourceError::Auth { .. }), "{errors:?}");
    assert!(matches!(errors[1], SourceError::Retryable { .. }));
    assert!(matches!(errors[2], SourceError::Malformed { .. }));
    assert!(matches!(errors[3], SourceError::RateLimited { .. }));
    assert_eq!(
        ids.iter().collect::<std::collections::HashSet<_>>().len(),
        4,
        "a fresh id per response: {ids:?}"
    );
    let logs = capture.text();
    for (error, id) in errors.iter().zip(&ids) {
        assert!(
            error.to_string().contains(&format!("request id {id}")),
            "{error}"
        );
    }
    // Refusals are logged with their id as they happen (a malformed body is not a refusal:
    // its error, which names the id, is what the job logs).
    for id in [&ids[0], &ids[1], &ids[3]] {
        assert!(logs.contains(&format!("request_id={id}")), "{id}: {logs}");
    }
}

#[tokio::test]
async fn a_cursor_at_a_time_collects_what_okta_persisted_from_then_on() {
    let clock = clock();
    let sim = org(OktaSimConfig::default().clock(clock).backlog(200).seed(3)).await;
    let source = OktaSource::new(source_config(&sim).page_limit(50)).unwrap();
    let cx = context(&source, clock).await;
    let events = sim.visible_events();
    let from = events[120].published;
    let expected: Vec<String> = events
        .iter()
        .filter(|e| e.published >= from)
        .map(|e| e.uuid.clone())
        .collect();
    assert!(
        expected.len() >= 80 && expected.len() < 200,
        "{}",
        expected.len()
    );

    let cursor = source.cursor_at(SYSTEM_LOG, from).unwrap();
    let url = cursor.as_str().unwrap();
    assert!(url.starts_with(sim.base_url()), "{url}");
    assert!(url.contains("sortOrder=ASCENDING"), "{url}");
    assert!(url.contains("limit=50"), "{url}");
    let (records, _, _) = round(&source, &cx, cursor, None).await;
    let ids: Vec<String> = records.iter().map(|r| r.id.to_string()).collect();
    assert_eq!(ids, expected);

    // With the job's filter, the same cursor selects within those events only.
    let filter = ucp_core::Filter::starts_with("/eventType", "user.session");
    let cursor = source.cursor_at(SYSTEM_LOG, from).unwrap();
    let (filtered, _, _) = round(&source, &cx, cursor, Some(&filter)).await;
    assert!(!filtered.is_empty());
    assert!(filtered.iter().all(|r| r.time >= from));
    assert!(filtered.len() < records.len());
}

#[tokio::test]
async fn a_cursor_at_a_time_is_refused_for_another_stream_and_bounded_at_the_extremes() {
    let sim = org(OktaSimConfig::default().clock(clock()).backlog(5)).await;
    let source = OktaSource::new(source_config(&sim)).unwrap();
    let error = source.cursor_at("users", t0()).unwrap_err();
    assert!(matches!(error, SourceError::Config { .. }), "{error:?}");
    assert!(error.to_string().contains("no stream 'users'"), "{error}");
    for extreme in [
        chrono::DateTime::<chrono::Utc>::MIN_UTC,
        chrono::DateTime::<chrono::Utc>::MAX_UTC,
    ] {
        let cursor = source.cursor_at(SYSTEM_LOG, extreme).unwrap();
        assert!(cursor.as_str().unwrap().contains("since="), "{cursor:?}");
    }
}

#[tokio::test]
async fn a_start_centuries_ago_starts_at_the_epoch_without_overflow() {
    let clock = clock();
    let sim = org(OktaSimConfig::default().clock(clock).backlog(20)).await;
    let centuries = [
        // Beyond what chrono's durations hold.
        Duration::MAX,
        // A duration chrono holds, but no date that far back.
        Duration::from_secs(i64::MAX as u64 / 1000),
        // A date, but before 1970.
        Duration::from_secs(100 * 366 * 24 * 3600),
    ];
    for ago in centuries {
        let source = OktaSource::new(source_config(&sim).start_ago(ago)).unwrap();
        let cx = context(&source, clock).await;
        let page = collect(&source, &cx, &Cursor::start(), None).await.unwrap();
        assert_eq!(page.records.len(), 20);
    }
}
