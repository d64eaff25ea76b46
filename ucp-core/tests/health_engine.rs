//! The engine reporting into the health service during real runs: a source that fails,
//! throttles and recovers, and a product that stalls, with the exact transitions and rows.

use std::sync::Arc;
use std::time::Duration;

use chrono::{TimeZone, Utc};
use ucp_core::health::{
    HealthQuery, HealthService, HealthTable, MemoryHealthTable, Metrics, Retention,
};
use ucp_core::health::{MemoryHealth, Status};
use ucp_core::*;
use ucp_testkit::{EventLog, EventLogSource, Fault, RecordingSink, SinkBehaviour};

fn mins(m: u64) -> Duration {
    Duration::from_secs(60 * m)
}

#[tokio::test(start_paused = true)]
async fn failures_throttling_stalls_and_recoveries_become_exact_health_rows() {
    let clock = Clock::at(Utc.with_ymd_and_hms(2026, 11, 1, 0, 0, 0).unwrap());
    let log = EventLog::new();
    log.generate(10, Utc.with_ymd_and_hms(2026, 10, 31, 0, 0, 0).unwrap());
    let source = EventLogSource::new("contoso", log.clone(), clock);
    let sentinel = RecordingSink::new("sentinel");
    let mdi = RecordingSink::new("mdi");
    let table = Arc::new(MemoryHealthTable::new(Retention::default()));
    let metrics = Arc::new(Metrics::new());
    let service = Arc::new(
        HealthService::builder()
            .table(table.clone())
            .metrics(metrics.clone())
            .build(),
    );

    // Round at 0: three 503s (the round gives up). Round at 1 min: a 429 with a 30 s reset,
    // then the page. mdi hangs on its first delivery (timeout 60 s, then it accepts).
    source.inject([Fault::Unavailable, Fault::Unavailable, Fault::Unavailable]);
    mdi.script([SinkBehaviour::Hang]);
    let running = Platform::builder()
        .clock(clock)
        .health(service.clone())
        .max_jitter(Duration::ZERO)
        .source("okta", source.clone())
        .sink("sentinel", sentinel.clone())
        .sink("mdi", mdi.clone())
        .subscribe(Subscription::new("sentinel", "okta", "events").every(mins(1)))
        .subscribe(Subscription::new("mdi", "okta", "events").every(mins(1)))
        .build()
        .unwrap()
        .start()
        .await
        .unwrap();
    tokio::time::sleep(Duration::from_secs(30)).await;
    source.inject([Fault::Throttle(Duration::from_secs(30))]);
    for _ in 0..5 {
        log.generate(2, Utc::now());
        tokio::time::sleep(mins(1)).await;
    }
    running.shutdown().await.unwrap();

    let mut rows = table
        .query(&HealthQuery::new().connector("okta"))
        .await
        .unwrap();
    rows.reverse(); // oldest first
    let start = Utc.with_ymd_and_hms(2026, 11, 1, 0, 0, 0).unwrap();
    let seen: Vec<(String, &str, Status, i64)> = rows
        .iter()
        .map(|r| {
            let part = r.product.clone().unwrap_or_else(|| "collection".into());
            (
                part,
                r.kind.as_str(),
                r.status,
                (r.time - start).num_seconds(),
            )
        })
        .collect();
    let expected: Vec<(String, &str, Status, i64)> = vec![
        ("collection".into(), "Collection", Status::Warning, 0), // 503s: retried, then the round gives up
        ("collection".into(), "Budget", Status::Warning, 60),    // 429 with a 30 s reset
        ("sentinel".into(), "Delivery", Status::Ok, 91), // first page after the reset (+1 s margin)
        ("collection".into(), "Collection", Status::Ok, 120), // second good page: recovered
        ("collection".into(), "Budget", Status::Ok, 120), // the provider accepts calls again
        ("mdi".into(), "Delivery", Status::Warning, 151), // no answer within 60 s
        ("mdi".into(), "Delivery", Status::Ok, 180), // the retry and the next batch went through
    ];
    assert_eq!(seen, expected, "rows: {seen:#?}");

    let warning = &rows[0];
    assert!(
        warning.message.contains("okta/events") && warning.message.contains("service unavailable"),
        "{}",
        warning.message
    );
    let stalled = rows
        .iter()
        .find(|r| r.product.as_deref() == Some("mdi"))
        .unwrap();
    assert!(
        stalled.message.contains("no answer within 60s"),
        "{}",
        stalled.message
    );

    // The connector's current status is the worst of its parts: all Ok again.
    let current = table.current_status().await.unwrap();
    assert_eq!(current.len(), 1);
    assert_eq!(current[0].status, Status::Ok);

    // Every record reached both products despite everything.
    assert_eq!(sentinel.ids(), log.ids_matching(None));
    assert_eq!(mdi.ids(), log.ids_matching(None));

    let text = metrics.encode();
    assert!(text.contains("ucp_component_errors_total"), "{text}");
    assert!(text.contains("error_type=\"retryable\""), "{text}");
    assert!(text.contains("error_type=\"rate_limited\""), "{text}");
    assert!(text.contains("ucp_budget_remaining"), "{text}");
}

#[tokio::test(start_paused = true)]
async fn no_collection_for_twice_the_interval_is_a_staleness_warning() {
    let clock = Clock::at(Utc.with_ymd_and_hms(2026, 11, 1, 0, 0, 0).unwrap());
    let source = EventLogSource::new("contoso", EventLog::new(), clock);
    let health = Arc::new(MemoryHealth::new());
    let running = Platform::builder()
        .clock(clock)
        .health(health.clone())
        .max_jitter(Duration::ZERO)
        .source("okta", source.clone())
        .sink("sentinel", RecordingSink::new("sentinel"))
        .subscribe(Subscription::new("sentinel", "okta", "events").every(mins(1)))
        .build()
        .unwrap()
        .start()
        .await
        .unwrap();
    tokio::time::sleep(Duration::from_secs(30)).await;
    // The provider throttles for ten minutes: the budget pauses, and the stream goes stale.
    source.inject([Fault::Throttle(mins(10))]);
    tokio::time::sleep(mins(5)).await;
    let stale: Vec<_> = health
        .events()
        .into_iter()
        .filter(|e| e.message.contains("no successful collection"))
        .collect();
    assert_eq!(stale.len(), 1);
    assert_eq!(stale[0].status, Status::Warning);
    assert_eq!(stale[0].previous, Status::Ok);
    assert_eq!(
        stale[0].time,
        Utc.with_ymd_and_hms(2026, 11, 1, 0, 2, 0).unwrap(),
        "at 2× the interval after the last page"
    );
    running.shutdown().await.unwrap();
}
