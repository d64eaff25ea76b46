//! The core engine's story and invariants, under tokio's paused clock against the testkit's
//! simulated provider and products.

use std::sync::Arc;
use std::time::Duration;

use chrono::{TimeZone, Utc};
use tokio::time::Instant;
use ucp_core::credentials::MemoryCredentials;
use ucp_core::health::HealthKind;
use ucp_core::health::{MemoryHealth, Status};
use ucp_core::store::{CheckpointStore, FileCheckpoints, MemoryCheckpoints, MemoryDeadLetters};
use ucp_core::*;
use ucp_testkit::{
    EventLog, EventLogSettings, EventLogSource, Fault, RecordingSink, SinkBehaviour,
};

fn mins(m: u64) -> Duration {
    Duration::from_secs(60 * m)
}

fn clock() -> Clock {
    Clock::at(Utc.with_ymd_and_hms(2026, 11, 1, 0, 0, 0).unwrap())
}

fn log(events: usize) -> EventLog {
    let log = EventLog::new();
    log.generate(events, Utc.with_ymd_and_hms(2026, 10, 31, 0, 0, 0).unwrap());
    log
}

fn mdi_filter() -> Filter {
    Filter::starts_with("/eventType", "user.authentication")
        .or(Filter::starts_with("/eventType", "user.session"))
}

fn xspm_filter() -> Filter {
    Filter::is_in(
        "/eventType",
        [
            "group.user_membership.add",
            "application.user_membership.add",
            "user.account.lock",
        ],
    )
}

struct Story {
    source: EventLogSource,
    sentinel: RecordingSink,
    mdi: RecordingSink,
    xspm: RecordingSink,
    health: Arc<MemoryHealth>,
    dead: Arc<MemoryDeadLetters>,
}

fn story(
    log: EventLog,
    settings: EventLogSettings,
    checkpoints: Arc<dyn CheckpointStore>,
) -> (Story, Platform) {
    let clock = clock();
    let source = EventLogSource::with_settings("contoso", log, clock, settings);
    let story = Story {
        source: source.clone(),
        sentinel: RecordingSink::new("sentinel"),
        mdi: RecordingSink::new("mdi"),
        xspm: RecordingSink::new("xspm"),
        health: Arc::new(MemoryHealth::new()),
        dead: Arc::new(MemoryDeadLetters::new()),
    };
    let platform = Platform::builder()
        .clock(clock)
        .credentials(Arc::new(MemoryCredentials::new()))
        .health(story.health.clone())
        .checkpoints(checkpoints)
        .dead_letters(story.dead.clone())
        .max_jitter(Duration::ZERO)
        .source("okta-contoso", source)
        .sink("sentinel", story.sentinel.clone())
        .sink("mdi", story.mdi.clone())
        .sink("xspm", story.xspm.clone())
        .subscribe(Subscription::new("sentinel", "okta-contoso", "events").every(mins(5)))
        .subscribe(
            Subscription::new("mdi", "okta-contoso", "events")
                .every(mins(5))
                .filter(mdi_filter()),
        )
        .subscribe(
            Subscription::new("xspm", "okta-contoso", "events")
                .every(mins(10))
                .filter(xspm_filter()),
        )
        .build()
        .expect("valid configuration");
    (story, platform)
}

#[tokio::test(start_paused = true)]
async fn one_collection_per_interval_serves_three_products_their_own_records() {
    let log = log(250);
    let (s, platform) = story(
        log.clone(),
        EventLogSettings::default(),
        Arc::new(MemoryCheckpoints::new()),
    );

    let plan = platform.plan();
    assert_eq!(plan.jobs.len(), 1, "three subscriptions, one job");
    let job = &plan.jobs[0];
    assert_eq!(job.subscribers, vec!["mdi", "sentinel", "xspm"]);
    assert_eq!(job.interval, mins(5));
    assert_eq!(job.server_filter, None, "the source cannot filter");

    let start = Instant::now();
    let running = platform.start().await.unwrap();
    tokio::time::sleep(mins(30) + Duration::from_secs(1)).await;

    // Round at 0 pages through the 250-event backlog (3 pages); rounds at 5..30 min find the
    // log empty: one call each. Never once per product.
    let calls = s.source.calls();
    let rounds: Vec<u64> = calls.iter().map(|c| (c.at - start).as_secs()).collect();
    assert_eq!(rounds, vec![0, 0, 0, 300, 600, 900, 1200, 1500, 1800]);
    let stats = running.stats().await;
    let job = stats.job("okta-contoso", "events").unwrap();
    assert_eq!(job.source_calls, 9);
    // Separate connectors: sentinel and mdi would call every 5 minutes like the job, xspm
    // every 10 (half a call per call of the job): 2.5 calls per call, 1.5 saved, × 9 = 13.5.
    assert_eq!(
        job.calls_saved, 13,
        "each product counted at its own interval"
    );

    assert_eq!(s.sentinel.ids(), log.ids_matching(None));
    assert_eq!(s.mdi.ids(), log.ids_matching(Some(&mdi_filter())));
    assert_eq!(s.xspm.ids(), log.ids_matching(Some(&xspm_filter())));
    assert!(!s.mdi.ids().is_empty() && !s.xspm.ids().is_empty());
    let mdi_stats = stats.subscription("mdi", "okta-contoso", "events").unwrap();
    assert_eq!(mdi_stats.records_delivered as usize, s.mdi.ids().len());
    assert_eq!(mdi_stats.filtered_out as usize, 250 - s.mdi.ids().len());
    running.shutdown().await.unwrap();
}

#[tokio::test(start_paused = true)]
async fn products_share_the_payload_memory() {
    let (s, platform) = story(
        log(30),
        EventLogSettings::default(),
        Arc::new(MemoryCheckpoints::new()),
    );
    let running = platform.start().await.unwrap();
    tokio::time::sleep(Duration::from_secs(1)).await;
    running.shutdown().await.unwrap();
    let sentinel = s.sentinel.batches();
    let mdi = s.mdi.batches();
    let first_mdi = &mdi[0].1.records[0];
    let same = sentinel[0]
        .1
        .records
        .iter()
        .find(|r| r.id == first_mdi.id)
        .unwrap();
    assert_eq!(
        same.payload.as_ptr(),
        first_mdi.payload.as_ptr(),
        "one copy of the bytes"
    );
}

#[tokio::test(start_paused = true)]
async fn a_hung_product_does_not_delay_the_others_while_its_queue_has_room() {
    let log = log(0);
    let (s, platform) = story(
        log.clone(),
        EventLogSettings::default(),
        Arc::new(MemoryCheckpoints::new()),
    );
    s.xspm.set_behaviour(SinkBehaviour::Hang);
    let running = platform.start().await.unwrap();
    let t0 = Instant::now();
    tokio::time::sleep(Duration::from_secs(1)).await; // the first, empty round
                                                      // New events arrive before each of the next rounds.
    for round in 1..=4u64 {
        log.generate(12, Utc::now());
        tokio::time::sleep_until(t0 + mins(5 * round) + Duration::from_millis(10)).await;
        let expected = log.ids_matching(None);
        assert_eq!(
            s.sentinel.ids(),
            expected,
            "sentinel up to date after round {round}"
        );
        assert_eq!(s.mdi.ids(), log.ids_matching(Some(&mdi_filter())));
        let last = s.sentinel.batches().last().unwrap().0;
        assert_eq!(
            last,
            t0 + mins(5 * round),
            "delivered at the round, not later"
        );
    }
    assert!(s.xspm.ids().is_empty());
    let stats = running.stats().await;
    assert!(
        stats
            .subscription("xspm", "okta-contoso", "events")
            .unwrap()
            .queue_depth
            >= 1
    );
    // The cursor cannot pass what xspm has not accepted.
}

#[tokio::test(start_paused = true)]
async fn a_throttle_pauses_every_job_on_the_budget_until_the_reset() {
    let clock = clock();
    let log_a = log(0);
    let log_b = log(0);
    // Two source instances of the same account share one budget.
    let a = EventLogSource::new("contoso", log_a, clock);
    let b = EventLogSource::new("contoso", log_b, clock);
    let sink = RecordingSink::new("sentinel");
    let running = Platform::builder()
        .clock(clock)
        .max_jitter(Duration::ZERO)
        .source("a", a.clone())
        .source("b", b.clone())
        .sink("sentinel", sink)
        .subscribe(Subscription::new("sentinel", "a", "events").every(Duration::from_secs(10)))
        .subscribe(Subscription::new("sentinel", "b", "events").every(Duration::from_secs(10)))
        .build()
        .unwrap()
        .start()
        .await
        .unwrap();
    let t0 = Instant::now();
    tokio::time::sleep(Duration::from_secs(25)).await;
    a.inject([Fault::Throttle(Duration::from_secs(60))]);
    tokio::time::sleep(Duration::from_secs(120)).await;

    let throttled_at = a.calls()[3].at;
    assert_eq!(throttled_at - t0, Duration::from_secs(30));
    let reset = throttled_at + Duration::from_secs(60);
    let all: Vec<Instant> = a
        .calls()
        .iter()
        .chain(b.calls().iter())
        .map(|c| c.at)
        .collect();
    assert!(
        all.iter().all(|t| *t <= throttled_at || *t >= reset),
        "no call on the budget between the 429 and its reset"
    );
    assert!(
        b.calls().iter().any(|c| c.at >= reset),
        "b resumes after the reset"
    );
    let stats = running.stats().await;
    assert_eq!(stats.budgets.len(), 1);
    assert_eq!(stats.budgets[0].throttled, 1);
    running.shutdown().await.unwrap();
}

#[tokio::test(start_paused = true)]
async fn a_restart_resumes_from_the_saved_cursor_without_gaps() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("checkpoints.json");
    let log = log(1000);
    let settings = EventLogSettings {
        page_size: 100,
        provider_limit: 6, // one call every 10 s: the backlog takes minutes
        ..EventLogSettings::default()
    };
    let first = {
        let (s, platform) = story(
            log.clone(),
            settings.clone(),
            Arc::new(FileCheckpoints::open(&path).await.unwrap()),
        );
        let running = platform.start().await.unwrap();
        tokio::time::sleep(Duration::from_secs(35)).await;
        running.shutdown().await.unwrap();
        s
    };
    let collected = first.sentinel.ids();
    assert!(
        collected.len() >= 100 && collected.len() < 1000,
        "stopped mid-backlog: {}",
        collected.len()
    );
    let saved = FileCheckpoints::open(&path)
        .await
        .unwrap()
        .load(&StreamKey::new("okta-contoso", "events"))
        .await
        .unwrap();
    let position = collected.len().to_string();
    assert_eq!(
        saved,
        Some(Cursor::new(position.as_str())),
        "what was delivered is what was saved"
    );

    let (second, platform) = story(
        log.clone(),
        settings,
        Arc::new(FileCheckpoints::open(&path).await.unwrap()),
    );
    let running = platform.start().await.unwrap();
    tokio::time::sleep(mins(3)).await;
    running.shutdown().await.unwrap();
    assert_eq!(second.source.calls()[0].cursor, Cursor::new(position));
    let mut all = collected;
    all.extend(second.sentinel.ids());
    assert_eq!(all, log.ids_matching(None), "every record once, in order");
    let mut mdi = first.mdi.ids();
    mdi.extend(second.mdi.ids());
    assert_eq!(mdi, log.ids_matching(Some(&mdi_filter())));
}

#[tokio::test(start_paused = true)]
async fn subscribing_while_running_keeps_the_job_and_its_cursor() {
    let log = log(50);
    let clock = clock();
    let source = EventLogSource::new("contoso", log.clone(), clock);
    let sentinel = RecordingSink::new("sentinel");
    let mdi = RecordingSink::new("mdi");
    let running = Platform::builder()
        .clock(clock)
        .max_jitter(Duration::ZERO)
        .source("okta", source.clone())
        .sink("sentinel", sentinel.clone())
        .sink("mdi", mdi.clone())
        .subscribe(Subscription::new("sentinel", "okta", "events").every(mins(5)))
        .build()
        .unwrap()
        .start()
        .await
        .unwrap();
    tokio::time::sleep(mins(1)).await;
    running
        .subscribe(Subscription::new("mdi", "okta", "events").every(mins(1)))
        .await
        .unwrap();
    let plan = running.plan().await;
    assert_eq!(plan.jobs.len(), 1);
    assert_eq!(plan.jobs[0].subscribers, vec!["mdi", "sentinel"]);
    assert_eq!(plan.jobs[0].interval, mins(1), "the shorter interval wins");
    log.generate(10, Utc::now());
    tokio::time::sleep(mins(2)).await;
    let cursors: Vec<Cursor> = source.calls().iter().map(|c| c.cursor.clone()).collect();
    assert_eq!(cursors[0], Cursor::start());
    assert!(
        cursors[1..].iter().all(|c| *c != Cursor::start()),
        "never reset: {cursors:?}"
    );
    assert_eq!(
        mdi.ids(),
        log.ids_matching(None)[50..].to_vec(),
        "the new product gets what comes next"
    );
    assert_eq!(sentinel.ids(), log.ids_matching(None));

    running.unsubscribe("mdi", "okta", "events").await.unwrap();
    assert_eq!(running.plan().await.jobs[0].subscribers, vec!["sentinel"]);
    assert!(matches!(
        running.unsubscribe("mdi", "okta", "events").await,
        Err(ConfigError::NoSuchSubscription { .. })
    ));
    running.shutdown().await.unwrap();
}

#[tokio::test(start_paused = true)]
async fn retries_honour_retry_after_and_permanent_rejections_are_dead_lettered() {
    let (s, platform) = story(
        log(12),
        EventLogSettings::default(),
        Arc::new(MemoryCheckpoints::new()),
    );
    s.sentinel.script([
        SinkBehaviour::Throttle(Duration::from_secs(45)),
        SinkBehaviour::Unavailable(None),
    ]);
    s.mdi.reject_ids(["evt-000002"]);
    let running = platform.start().await.unwrap();
    tokio::time::sleep(mins(2)).await;
    let attempts = s.sentinel.attempts();
    assert_eq!(attempts.len(), 3);
    assert_eq!(
        attempts[1] - attempts[0],
        Duration::from_secs(45),
        "Retry-After honoured"
    );
    let backoff = attempts[2] - attempts[1];
    assert!(
        backoff >= Duration::from_millis(1000) && backoff <= Duration::from_secs(2),
        "backoff {backoff:?}"
    );
    assert_eq!(s.sentinel.ids().len(), 12);
    let letters = s.dead.letters();
    assert_eq!(letters.len(), 1);
    assert_eq!(letters[0].product, "mdi");
    assert_eq!(letters[0].record.id.as_str(), "evt-000002");
    assert!(letters[0].reason.contains("refuses record evt-000002"));
    let stats = running.stats().await;
    assert_eq!(
        stats
            .subscription("sentinel", "okta-contoso", "events")
            .unwrap()
            .retried,
        2
    );
    assert_eq!(
        stats
            .subscription("mdi", "okta-contoso", "events")
            .unwrap()
            .dead_lettered,
        1
    );
    // The health of the sentinel delivery went Warning and back to Ok once.
    let sentinel_health = || -> Vec<Status> {
        s.health
            .events()
            .iter()
            .filter(|e| {
                e.component.product.as_deref() == Some("sentinel") && e.kind == HealthKind::Delivery
            })
            .map(|e| e.status)
            .collect()
    };
    assert_eq!(
        sentinel_health(),
        vec![Status::Warning],
        "one success is not a recovery yet"
    );
    s.source.log().generate(6, Utc::now());
    tokio::time::sleep(mins(5)).await;
    assert_eq!(sentinel_health(), vec![Status::Warning, Status::Ok]);
    running.shutdown().await.unwrap();
}

#[tokio::test(start_paused = true)]
async fn retries_are_bounded_then_the_batch_is_dead_lettered() {
    let (s, platform) = story(
        log(6),
        EventLogSettings::default(),
        Arc::new(MemoryCheckpoints::new()),
    );
    s.sentinel
        .set_behaviour(SinkBehaviour::Unavailable(Some(Duration::from_secs(1))));
    let running = platform.start().await.unwrap();
    tokio::time::sleep(mins(1)).await;
    assert_eq!(
        s.sentinel.attempts().len(),
        RetryPolicy::default().max_attempts as usize
    );
    let letters = s.dead.letters();
    assert_eq!(letters.len(), 6);
    assert!(
        letters[0].reason.starts_with("gave up after 8 attempts"),
        "{}",
        letters[0].reason
    );
    running.shutdown().await.unwrap();
}

#[tokio::test(start_paused = true)]
async fn drop_policy_counts_and_reports_the_loss() {
    let clock = clock();
    let log = log(0);
    let source = EventLogSource::new("contoso", log.clone(), clock);
    let slow = RecordingSink::new("slow");
    slow.set_behaviour(SinkBehaviour::Hang);
    let health = Arc::new(MemoryHealth::new());
    let running = Platform::builder()
        .clock(clock)
        .health(health.clone())
        .max_jitter(Duration::ZERO)
        .source("okta", source)
        .sink("slow", slow)
        .subscribe(
            Subscription::new("slow", "okta", "events")
                .every(mins(1))
                .queue_capacity(1)
                .when_full(WhenFull::DropNewest),
        )
        .build()
        .unwrap()
        .start()
        .await
        .unwrap();
    for _ in 0..4 {
        log.generate(5, Utc::now());
        tokio::time::sleep(mins(1)).await;
    }
    let stats = running.stats().await;
    let slow_stats = stats.subscription("slow", "okta", "events").unwrap();
    // One batch is being delivered (hung), one waits in the queue, the other two are dropped.
    assert_eq!(slow_stats.dropped, 10);
    let warnings: Vec<_> = health
        .events()
        .into_iter()
        .filter(|e| e.status == Status::Warning && e.message.contains("queue"))
        .collect();
    assert_eq!(
        warnings.len(),
        1,
        "one transition, not one per drop: {warnings:?}"
    );
    assert!(
        warnings[0].message.contains("100% full")
            && warnings[0].message.contains("new batches are dropped")
    );
}

#[tokio::test(start_paused = true)]
async fn intervals_stretch_when_the_budget_is_short_and_health_says_so() {
    let clock = clock();
    let health = Arc::new(MemoryHealth::new());
    let settings = EventLogSettings {
        provider_limit: 2, // 2 calls a minute for two jobs wanting one each every 30 s
        ..EventLogSettings::default()
    };
    let a = EventLogSource::with_settings("contoso", log(0), clock, settings.clone());
    let b = EventLogSource::with_settings("contoso", log(0), clock, settings);
    let running = Platform::builder()
        .clock(clock)
        .health(health.clone())
        .max_jitter(Duration::ZERO)
        .source("a", a.clone())
        .source("b", b.clone())
        .sink("sentinel", RecordingSink::new("sentinel"))
        .subscribe(Subscription::new("sentinel", "a", "events").every(Duration::from_secs(30)))
        .subscribe(Subscription::new("sentinel", "b", "events").every(Duration::from_secs(30)))
        .build()
        .unwrap()
        .start()
        .await
        .unwrap();
    let plan = running.plan().await;
    assert!(
        plan.jobs.iter().all(|j| j.effective_interval == mins(1)),
        "{plan:?}"
    );
    tokio::time::sleep(mins(10)).await;
    let calls = a.call_count() + b.call_count();
    assert!(
        (18..=22).contains(&calls),
        "about 2 calls a minute for 10 minutes: {calls}"
    );
    assert_eq!(
        running.stats().await.budgets[0].throttled,
        0,
        "the provider never refused a call"
    );
    let warnings: Vec<_> = health
        .events()
        .into_iter()
        .filter(|e| e.kind == HealthKind::Budget && e.status == Status::Warning)
        .collect();
    assert_eq!(warnings.len(), 2, "one per job, once");
    assert!(
        warnings[0].message.contains("stretched ×2.00"),
        "{}",
        warnings[0].message
    );
    running.shutdown().await.unwrap();
}

#[tokio::test(start_paused = true)]
async fn auth_failures_are_errors_that_name_the_stream_and_recover() {
    let (s, platform) = story(
        log(3),
        EventLogSettings::default(),
        Arc::new(MemoryCheckpoints::new()),
    );
    s.source.inject([Fault::Unauthorized]);
    let running = platform.start().await.unwrap();
    tokio::time::sleep(mins(11)).await;
    let collection: Vec<_> = s
        .health
        .events()
        .into_iter()
        .filter(|e| e.component.product.is_none() && e.kind != HealthKind::Budget)
        .collect();
    assert_eq!(collection[0].status, Status::Error);
    assert!(
        collection[0].message.contains("okta-contoso/events"),
        "{}",
        collection[0].message
    );
    assert!(collection[0]
        .message
        .contains("check the connector's credential"));
    assert_eq!(
        collection.last().unwrap().status,
        Status::Ok,
        "back to Ok after two good rounds: {collection:#?}"
    );
    assert_eq!(s.sentinel.ids().len(), 3);
    running.shutdown().await.unwrap();
}

#[tokio::test(start_paused = true)]
async fn duplicates_from_an_overlapping_page_are_dropped() {
    // A malformed page is fetched again; the dedup window also drops records a provider
    // sends twice.
    let (s, platform) = story(
        log(20),
        EventLogSettings::default(),
        Arc::new(MemoryCheckpoints::new()),
    );
    s.source.inject([Fault::Malformed]);
    let running = platform.start().await.unwrap();
    tokio::time::sleep(mins(6)).await;
    assert_eq!(s.sentinel.ids(), s.source.log().ids_matching(None));
    let calls = s.source.calls();
    assert_eq!(
        calls[0].cursor, calls[1].cursor,
        "the malformed page did not advance the cursor"
    );
    running.shutdown().await.unwrap();
}

#[test]
fn configuration_mistakes_are_named_at_build() {
    let clock = Clock::new();
    let source = || EventLogSource::new("contoso", EventLog::new(), clock);
    let base = || {
        Platform::builder()
            .source("okta", source())
            .sink("sentinel", RecordingSink::new("sentinel"))
    };
    let err = |b: PlatformBuilder| b.build().err().expect("must fail").to_string();

    let e = err(base().subscribe(Subscription::new("sentinel", "okta2", "events")));
    assert!(
        e.contains("unknown source 'okta2'") && e.contains("registered: okta"),
        "{e}"
    );
    let e = err(base().subscribe(Subscription::new("mdi", "okta", "events")));
    assert!(e.contains("unknown sink 'mdi'"), "{e}");
    let e = err(base().subscribe(Subscription::new("sentinel", "okta", "users")));
    assert!(
        e.contains("no stream 'users'") && e.contains("offers: events"),
        "{e}"
    );
    let e = err(base().source("okta", source()));
    assert!(e.contains("duplicate source name 'okta'"), "{e}");
    let e = err(base().sink("sentinel", RecordingSink::new("x")));
    assert!(e.contains("duplicate sink name 'sentinel'"), "{e}");
    let e = err(
        base().subscribe(Subscription::new("sentinel", "okta", "events").every(Duration::ZERO))
    );
    assert!(
        e.contains("sentinel") && e.contains("interval is zero"),
        "{e}"
    );
    let e = err(base()
        .subscribe(Subscription::new("sentinel", "okta", "events"))
        .subscribe(Subscription::new("sentinel", "okta", "events")));
    assert!(e.contains("subscribes twice"), "{e}");
    let zero_limit = EventLogSource::with_settings(
        "x",
        EventLog::new(),
        clock,
        EventLogSettings {
            provider_limit: 0,
            ..EventLogSettings::default()
        },
    );
    let e = err(Platform::builder().source("zero", zero_limit));
    assert!(
        e.contains("source 'zero'") && e.contains("limit of 0"),
        "{e}"
    );
}

#[tokio::test(start_paused = true)]
async fn jobs_that_share_an_interval_are_spread_by_jitter() {
    let clock = clock();
    let mut builder = Platform::builder()
        .clock(clock)
        .max_jitter(mins(1))
        .sink("sentinel", RecordingSink::new("sentinel"));
    let mut sources = Vec::new();
    for n in 0..4 {
        // Separate accounts, so no budget spaces them: only the jitter does.
        let source = EventLogSource::new(format!("org{n}"), EventLog::new(), clock);
        sources.push(source.clone());
        builder = builder
            .source(format!("s{n}"), source)
            .subscribe(Subscription::new("sentinel", format!("s{n}"), "events").every(mins(5)));
    }
    let start = Instant::now();
    let running = builder.build().unwrap().start().await.unwrap();
    tokio::time::sleep(mins(11)).await;
    let mut firsts: Vec<Duration> = sources.iter().map(|s| s.calls()[0].at - start).collect();
    assert!(
        firsts.iter().all(|t| *t < mins(1)),
        "within the jitter window: {firsts:?}"
    );
    firsts.dedup();
    firsts.sort();
    firsts.dedup();
    assert_eq!(firsts.len(), 4, "each job has its own phase: {firsts:?}");
    for source in &sources {
        let calls = source.calls();
        assert_eq!(calls.len(), 3, "one call per interval");
        assert_eq!(calls[1].at - calls[0].at, mins(5), "the phase holds");
    }
    running.shutdown().await.unwrap();
}

/// A product whose code panics: a bug in the sink must not take the delivery task down.
struct Panicking;

#[async_trait::async_trait]
impl Sink for Panicking {
    fn describe(&self) -> SinkInfo {
        SinkInfo::new("panicking")
    }
    async fn check(&self, _cx: &SinkContext) -> Result<(), SinkError> {
        Ok(())
    }
    async fn deliver(&self, _cx: &SinkContext, _batch: &Batch) -> Result<Delivery, SinkError> {
        panic!("bug in the sink")
    }
}

#[tokio::test(start_paused = true)]
async fn a_panicking_sink_dead_letters_its_batches_and_keeps_running() {
    let clock = clock();
    let log = log(3);
    let dead = Arc::new(MemoryDeadLetters::new());
    let running = Platform::builder()
        .clock(clock)
        .max_jitter(Duration::ZERO)
        .dead_letters(dead.clone())
        .source("okta", EventLogSource::new("contoso", log.clone(), clock))
        .sink("buggy", Panicking)
        .subscribe(Subscription::new("buggy", "okta", "events").every(mins(1)))
        .build()
        .unwrap()
        .start()
        .await
        .unwrap();
    tokio::time::sleep(Duration::from_secs(10)).await;
    log.generate(2, Utc::now());
    tokio::time::sleep(mins(1)).await;
    let letters = dead.letters();
    assert_eq!(
        letters.len(),
        5,
        "both batches, the second after the first panic"
    );
    assert!(
        letters[0].reason.contains("sink panicked"),
        "{}",
        letters[0].reason
    );
    running.shutdown().await.unwrap();
}

#[tokio::test(start_paused = true)]
async fn shutdown_is_bounded_by_its_timeout_and_keeps_the_unaccepted_page_for_next_time() {
    let checkpoints = Arc::new(MemoryCheckpoints::new());
    let (s, platform) = story(log(5), EventLogSettings::default(), checkpoints.clone());
    s.mdi.set_behaviour(SinkBehaviour::Hang);
    let running = platform.start().await.unwrap();
    tokio::time::sleep(Duration::from_secs(1)).await;
    let result = running.shutdown().await;
    assert!(
        matches!(result, Err(PlatformError::ShutdownTimeout(..))),
        "{result:?}"
    );
    let saved = checkpoints
        .load(&StreamKey::new("okta-contoso", "events"))
        .await
        .unwrap();
    assert_eq!(
        saved, None,
        "mdi never accepted the page, so the cursor stays where it was"
    );
}

#[tokio::test]
async fn a_tenants_context_from_the_running_platform_reads_only_that_tenants_credentials() {
    use secrecy::SecretString;
    use ucp_core::credentials::{Credential, CredentialRef, CredentialStore};
    let credentials = Arc::new(MemoryCredentials::new());
    let token = |t: &str| Credential::ApiToken {
        token: SecretString::from(t.to_string()),
    };
    credentials
        .put(CredentialRef::new("contoso", "okta"), token("a"))
        .await
        .unwrap();
    credentials
        .put(CredentialRef::new("fabrikam", "theirs"), token("b"))
        .await
        .unwrap();
    let running = Platform::builder()
        .credentials(credentials)
        .build()
        .unwrap()
        .start()
        .await
        .unwrap();
    let cx = running.context("contoso").await;
    assert_eq!(cx.tenant(), "contoso");
    assert!(cx.credential("okta").await.is_ok());
    assert!(cx.credential("theirs").await.is_err());
    running.shutdown().await.unwrap();
}
