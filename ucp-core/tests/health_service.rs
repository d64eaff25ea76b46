//! The health service as the engine uses it: transitions from `StatusTracker`s become rows,
//! callbacks and metrics; volume samples become series and counters.

use std::sync::{Arc, Mutex};
use std::time::Duration;

use chrono::{DateTime, Utc};
use ucp_core::health::{
    BinSize, Component, HealthKind, HealthQuery, HealthReporter, HealthService, HealthTable,
    Retention, SqliteHealthTable, Status, StatusTracker, VolumeQuery, VolumeSample,
};
use ucp_core::Clock;

fn t(secs: i64) -> DateTime<Utc> {
    DateTime::from_timestamp(1_700_000_000 + secs, 0).unwrap()
}

fn component(product: Option<&str>) -> Component {
    Component {
        tenant: "contoso".into(),
        connector: "okta".into(),
        product: product.map(Into::into),
        stream: Some("system_log".into()),
    }
}

/// Feeds a tracker a run of outcomes and reports what it emits, as the engine does.
async fn drive(
    service: &HealthService,
    tracker: &mut StatusTracker,
    outcomes: &[(i64, Status, HealthKind, &str)],
) {
    for &(secs, status, kind, message) in outcomes {
        if let Some(event) = tracker.observe(status, kind, || message.to_owned(), t(secs)) {
            service.report(event).await;
        }
    }
}

async fn transitions_become_rows_callbacks_and_metrics(table: Arc<dyn HealthTable>) {
    let seen = Arc::new(Mutex::new(Vec::new()));
    let log = seen.clone();
    let service = HealthService::builder()
        .table(table)
        .workspace("sentinel", "law-contoso")
        .on_event(move |e| log.lock().unwrap().push((e.previous, e.status)))
        .build();
    use HealthKind::*;
    use Status::*;
    let mut collect = StatusTracker::new(component(None), 2);
    drive(
        &service,
        &mut collect,
        &[
            (0, Ok, Collection, "collected 120 records"),
            (60, Ok, Collection, "collected 80 records"),
            (120, Warning, Budget, "HTTP 429; paused 30 s"),
            (180, Warning, Budget, "HTTP 429 again"),
            (240, Ok, Collection, "collected"),
            (300, Ok, Collection, "collected; recovered"),
            (
                360,
                Error,
                Auth,
                "token rejected (401); rotate the okta credential",
            ),
        ],
    )
    .await;
    let mut deliver = StatusTracker::new(component(Some("sentinel")), 1);
    drive(
        &service,
        &mut deliver,
        &[(30, Ok, Delivery, "delivered 120 records")],
    )
    .await;

    let rows = service.table().query(&HealthQuery::new()).await.unwrap();
    let got: Vec<_> = rows
        .iter()
        .map(|r| (r.time, r.status, r.message.as_str()))
        .collect();
    assert_eq!(
        got,
        [
            (
                t(360),
                Error,
                "token rejected (401); rotate the okta credential"
            ),
            (t(300), Ok, "collected; recovered"),
            (t(120), Warning, "HTTP 429; paused 30 s"),
            (t(30), Ok, "delivered 120 records"),
            (t(0), Ok, "collected 120 records"),
        ]
    );
    assert_eq!(rows[3].workspace.as_deref(), Some("law-contoso"));
    assert_eq!(rows[0].workspace, None);
    assert_eq!(
        *seen.lock().unwrap(),
        [
            (Starting, Ok),
            (Ok, Warning),
            (Warning, Ok),
            (Ok, Error),
            // The delivery tracker, reported afterwards.
            (Starting, Ok),
        ]
    );

    let status = service.table().current_status().await.unwrap();
    assert_eq!(status.len(), 1);
    assert_eq!(
        status[0].status, Error,
        "worst of collection Error and delivery Ok"
    );

    let metrics = service.metrics().encode();
    assert!(metrics.contains(
        r#"ucp_component_status{tenant="contoso",connector="okta",product="",stream="system_log",status="Error"} 1"#
    ));
    assert!(metrics.contains(
        r#"ucp_component_status{tenant="contoso",connector="okta",product="",stream="system_log",status="Ok"} 0"#
    ));
}

#[tokio::test]
async fn service_over_memory_table() {
    transitions_become_rows_callbacks_and_metrics(Arc::new(
        ucp_core::health::MemoryHealthTable::new(Retention::default()),
    ))
    .await;
}

#[tokio::test]
async fn service_over_sqlite_table() {
    let dir = tempfile::tempdir().unwrap();
    let table =
        SqliteHealthTable::open(dir.path().join("health.db"), Retention::default()).unwrap();
    transitions_become_rows_callbacks_and_metrics(Arc::new(table)).await;
}

#[tokio::test]
async fn volumes_feed_series_and_counters() {
    let service = HealthService::builder().build();
    let sample = |secs, product: Option<&str>, records| VolumeSample {
        time: t(secs),
        component: component(product),
        records,
        bytes: records * 10,
    };
    service.record_volume(sample(0, None, 100));
    service.record_volume(sample(130, None, 50));
    service.record_volume(sample(140, Some("sentinel"), 150));

    // t(0) is 22:13:20, so minute bins start at 22:13:00.
    let q = VolumeQuery::collected("contoso", "okta", BinSize::Minute, t(0), t(180));
    let collected = service.volumes().query(&q).unwrap();
    let records: Vec<u64> = collected[0].points.iter().map(|p| p.records).collect();
    assert_eq!(records, [100, 0, 50, 0]);
    let delivered = service
        .volumes()
        .query(&q.delivered_to("sentinel"))
        .unwrap();
    let records: Vec<u64> = delivered[0].points.iter().map(|p| p.records).collect();
    assert_eq!(records, [0, 0, 150, 0]);

    let m = service.metrics().encode();
    let c = r#"tenant="contoso",connector="okta""#;
    assert!(m.contains(&format!(
        r#"ucp_component_received_events_total{{{c},product="",stream="system_log"}} 150"#
    )));
    assert!(m.contains(&format!(
        r#"ucp_component_sent_events_total{{{c},product="sentinel",stream="system_log"}} 150"#
    )));
    assert!(m.contains(&format!(
        r#"ucp_component_sent_event_bytes_total{{{c},product="sentinel",stream="system_log"}} 1500"#
    )));
}

#[tokio::test(start_paused = true)]
async fn staleness_on_the_platform_clock_raises_one_warning() {
    let clock = Clock::at(t(0));
    let service = HealthService::builder().build();
    let mut tracker = StatusTracker::new(component(None), 1);
    let interval = Duration::from_secs(300);
    let report = |tracker: &mut StatusTracker, status, message: &str| {
        tracker.observe(
            status,
            HealthKind::Collection,
            || message.to_owned(),
            clock.now_utc(),
        )
    };
    if let Some(e) = report(&mut tracker, Status::Ok, "collected") {
        service.report(e).await;
    }
    let last_success = clock.now_utc();
    // A watchdog checks every minute; the job never succeeds again.
    for _ in 0..15 {
        tokio::time::sleep(Duration::from_secs(60)).await;
        if clock.now_utc() >= last_success + chrono::Duration::from_std(2 * interval).unwrap() {
            if let Some(e) = report(&mut tracker, Status::Warning, "no data for 2 intervals") {
                service.report(e).await;
            }
        }
    }
    let rows = service
        .table()
        .query(&HealthQuery::new().status(Status::Warning))
        .await
        .unwrap();
    assert_eq!(rows.len(), 1, "one transition, not one row per check");
    assert_eq!(rows[0].time, t(600), "stale at exactly 2× the interval");
}

#[tokio::test]
async fn notifiers_get_every_event_in_order() {
    use ucp_core::health::CallbackNotifier;
    let seen = Arc::new(Mutex::new(Vec::new()));
    let log = seen.clone();
    let service = HealthService::builder()
        .notifier(Arc::new(CallbackNotifier::new(move |e| {
            log.lock().unwrap().push(e.status)
        })))
        .build();
    let mut tracker = StatusTracker::new(component(None), 1);
    use HealthKind::*;
    use Status::*;
    drive(
        &service,
        &mut tracker,
        &[
            (0, Ok, Collection, "ok"),
            (1, Error, Auth, "401"),
            (2, Error, Auth, "401 again"),
            (3, Ok, Collection, "ok"),
        ],
    )
    .await;
    service.flush_notifications().await;
    assert_eq!(*seen.lock().unwrap(), [Ok, Error, Ok]);
}
