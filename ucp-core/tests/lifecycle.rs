//! A running platform's connectors change under it: sources added, paused, resumed,
//! restarted and removed, cursors read and reset — with no call while paused, no gap and no
//! duplicate on resume, and cursors kept across removal (paused clock).

use std::time::Duration;

use chrono::Utc;
use ucp_core::health::Status;
use ucp_core::{
    Clock, ConfigError, Cursor, Platform, PlatformError, RunningPlatform, StreamKey, Subscription,
};
use ucp_testkit::{EventLog, EventLogSettings, EventLogSource, RecordingSink, SinkBehaviour};

const MINUTE: Duration = Duration::from_secs(60);

fn source(log: &EventLog) -> EventLogSource {
    EventLogSource::with_settings(
        "org",
        log.clone(),
        Clock::new(),
        EventLogSettings {
            page_size: 50,
            ..EventLogSettings::default()
        },
    )
}

fn subscription(product: &str) -> Subscription {
    Subscription::new(product, "okta", "events").every(MINUTE)
}

async fn start(
    log: &EventLog,
    sinks: &[(&str, RecordingSink)],
) -> (EventLogSource, RunningPlatform) {
    let source = source(log);
    let mut builder = Platform::builder()
        .max_jitter(Duration::ZERO)
        .source("okta", source.clone());
    for (name, sink) in sinks {
        builder = builder
            .sink(*name, sink.clone())
            .subscribe(subscription(name));
    }
    let running = builder
        .build()
        .expect("valid")
        .start()
        .await
        .expect("starts");
    (source, running)
}

fn no_duplicates(ids: &[String]) -> bool {
    let mut sorted = ids.to_vec();
    sorted.sort();
    sorted.dedup();
    sorted.len() == ids.len()
}

#[tokio::test(start_paused = true)]
async fn pausing_stops_every_call_and_resuming_continues_without_gap_or_duplicate() {
    let log = EventLog::new();
    log.generate(120, Utc::now());
    let sentinel = RecordingSink::new("sentinel");
    let (source, running) = start(&log, &[("sentinel", sentinel.clone())]).await;
    tokio::time::sleep(Duration::from_secs(90)).await;
    assert_eq!(sentinel.ids().len(), 120);

    running.pause_source("okta").await.expect("pauses");
    assert_eq!(running.is_paused("okta").await, Some(true));
    let calls = source.call_count();
    log.generate(80, Utc::now());
    tokio::time::sleep(MINUTE * 30).await;
    assert_eq!(source.call_count(), calls, "no call at all while paused");
    assert!(running.plan().await.jobs.is_empty());
    assert_eq!(sentinel.ids().len(), 120);

    running.resume_source("okta").await.expect("resumes");
    tokio::time::sleep(MINUTE * 2).await;
    assert!(source.call_count() > calls);
    let ids = sentinel.ids();
    assert_eq!(ids, log.ids_matching(None), "everything, in order, once");
    assert!(no_duplicates(&ids));
    running.shutdown().await.expect("stops");
}

#[tokio::test(start_paused = true)]
async fn a_source_paused_before_its_subscriptions_gets_no_job_until_resumed() {
    let log = EventLog::new();
    log.generate(30, Utc::now());
    let running = Platform::builder()
        .max_jitter(Duration::ZERO)
        .build()
        .expect("an empty platform is valid")
        .start()
        .await
        .expect("starts");
    let source = source(&log);
    let sentinel = RecordingSink::new("sentinel");
    running
        .add_source("okta", "contoso", std::sync::Arc::new(source.clone()))
        .await
        .expect("added");
    running
        .add_sink("sentinel", "contoso", std::sync::Arc::new(sentinel.clone()))
        .await
        .expect("added");
    running.pause_source("okta").await.expect("paused");
    running
        .subscribe(subscription("sentinel"))
        .await
        .expect("subscribed");
    tokio::time::sleep(MINUTE * 5).await;
    assert_eq!(source.call_count(), 0);
    assert!(running.plan().await.jobs.is_empty());

    running.resume_source("okta").await.expect("resumed");
    tokio::time::sleep(MINUTE).await;
    assert_eq!(sentinel.ids(), log.ids_matching(None));
    running.shutdown().await.expect("stops");
}

#[tokio::test(start_paused = true)]
async fn a_cursor_changes_only_while_its_stream_is_not_collected() {
    let log = EventLog::new();
    log.generate(60, Utc::now());
    let sentinel = RecordingSink::new("sentinel");
    let (_source, running) = start(&log, &[("sentinel", sentinel.clone())]).await;
    tokio::time::sleep(MINUTE).await;
    let stream = StreamKey::new("okta", "events");
    let saved = running.saved_cursor(&stream).await.expect("readable");
    assert!(saved.is_some_and(|c| !c.is_start()), "the cursor moved");

    let refused = running.set_cursor(&stream, Cursor::start()).await;
    assert!(
        matches!(
            refused,
            Err(PlatformError::Config(ConfigError::StreamRunning { .. }))
        ),
        "{refused:?}"
    );
    let unsupported = running.cursor_at("okta", "events", Utc::now()).await;
    assert!(
        matches!(unsupported, Err(PlatformError::Source { .. })),
        "{unsupported:?}"
    );

    running.pause_source("okta").await.expect("pauses");
    running
        .set_cursor(&stream, Cursor::start())
        .await
        .expect("a paused stream's cursor can be reset");
    assert_eq!(
        running.saved_cursor(&stream).await.expect("readable"),
        Some(Cursor::start())
    );
    running.resume_source("okta").await.expect("resumes");
    tokio::time::sleep(MINUTE).await;
    // Collected again from the start: every event twice.
    assert_eq!(sentinel.ids().len(), 120);
    running.shutdown().await.expect("stops");
}

#[tokio::test(start_paused = true)]
async fn a_source_in_use_stays_and_a_removed_one_comes_back_at_its_cursor() {
    let log = EventLog::new();
    log.generate(75, Utc::now());
    let sentinel = RecordingSink::new("sentinel");
    let (_source, running) = start(&log, &[("sentinel", sentinel.clone())]).await;
    tokio::time::sleep(MINUTE).await;

    let refused = running.remove_source("okta").await;
    match refused {
        Err(ConfigError::InUse { kind, by, .. }) => {
            assert_eq!(kind, "source");
            assert_eq!(by, "sentinel");
        }
        other => panic!("expected InUse, got {other:?}"),
    }
    running
        .unsubscribe("sentinel", "okta", "events")
        .await
        .expect("unsubscribed");
    running.remove_source("okta").await.expect("removed");
    assert!(matches!(
        running.remove_source("okta").await,
        Err(ConfigError::Unknown { .. })
    ));
    let stream = StreamKey::new("okta", "events");
    assert!(running.saved_cursor(&stream).await.expect("kept").is_some());

    log.generate(25, Utc::now());
    running
        .add_source("okta", "default", std::sync::Arc::new(source(&log)))
        .await
        .expect("added again");
    running
        .subscribe(subscription("sentinel"))
        .await
        .expect("subscribed");
    tokio::time::sleep(MINUTE).await;
    let ids = sentinel.ids();
    assert_eq!(
        ids,
        log.ids_matching(None),
        "resumed at its cursor, nothing twice"
    );
    running.shutdown().await.expect("stops");
}

#[tokio::test(start_paused = true)]
async fn restarting_only_failed_parts_leaves_the_healthy_ones_running() {
    let log = EventLog::new();
    log.generate(40, Utc::now());
    let good = RecordingSink::new("sentinel");
    let bad = RecordingSink::new("mdi");
    bad.set_behaviour(SinkBehaviour::Unauthorized);
    let (_source, running) = start(&log, &[("sentinel", good.clone()), ("mdi", bad.clone())]).await;
    tokio::time::sleep(MINUTE).await;
    let stats = running.stats().await;
    let mdi = stats
        .subscription("mdi", "okta", "events")
        .expect("subscribed");
    assert_eq!(mdi.status, Status::Error, "the refused product is in Error");
    let job_calls = stats.job("okta", "events").expect("a job").source_calls;

    bad.set_behaviour(SinkBehaviour::Accept);
    let restarted = running
        .restart_source("okta", true)
        .await
        .expect("restarts");
    assert!(restarted.jobs.is_empty(), "the healthy job kept running");
    assert_eq!(restarted.deliveries.len(), 1);
    assert_eq!(restarted.deliveries[0].product, "mdi");

    log.generate(10, Utc::now());
    tokio::time::sleep(MINUTE + Duration::from_secs(1)).await;
    let stats = running.stats().await;
    assert!(
        stats.job("okta", "events").expect("a job").source_calls > job_calls,
        "the job's counters were not reset: it was not restarted ({job_calls} then {:?})",
        running.stats().await.jobs
    );
    assert_eq!(
        bad.ids().len(),
        10,
        "the restarted delivery gets what came after"
    );
    assert_eq!(good.ids().len(), 50);

    let all = running
        .restart_source("okta", false)
        .await
        .expect("restarts");
    assert_eq!(all.jobs, vec![StreamKey::new("okta", "events")]);
    assert_eq!(all.deliveries.len(), 2);
    running.shutdown().await.expect("stops");
}
