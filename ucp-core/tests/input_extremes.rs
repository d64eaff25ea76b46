//! Numbers at the edge of their range, from a provider header, a config or the clock, give a
//! value or a named error — never a panic or an overflow (issue: "no input crashes us").

use std::time::Duration;

use chrono::{DateTime, Utc};
use tokio::time::Instant;
use ucp_core::{
    BudgetKey, BudgetSpec, Clock, ConfigError, Platform, RateBudget, RateLimitHint, Subscription,
};
use ucp_testkit::{EventLog, EventLogSettings, EventLogSource, RecordingSink};

fn budget(limit: u32, share: f64) -> RateBudget {
    RateBudget::new(
        BudgetSpec::new(BudgetKey::new("p", "a"), limit, Duration::from_secs(60)).share(share),
        Clock::new(),
    )
}

#[tokio::test(start_paused = true)]
async fn a_remaining_of_u32_max_with_the_whole_share_does_not_overflow() {
    // Was: `remaining - reserve` then `/ (available + 1)` overflowed (debug) or divided a
    // Duration by zero (release).
    let clock = Clock::new();
    let budget = budget(60, 1.0);
    budget.observe(&RateLimitHint {
        limit: Some(u32::MAX),
        remaining: Some(u32::MAX),
        reset: Some(clock.now_utc() + chrono::Duration::seconds(30)),
        retry_after: None,
    });
    let start = Instant::now();
    budget.acquire().await;
    budget.acquire().await;
    assert!(Instant::now() - start < Duration::from_secs(1));
}

#[tokio::test(start_paused = true)]
async fn a_reset_at_the_end_of_time_pauses_for_a_day_at_most() {
    let budget = budget(60, 0.5);
    budget.throttled(&RateLimitHint {
        reset: Some(DateTime::<Utc>::MAX_UTC),
        retry_after: Some(Duration::MAX),
        ..RateLimitHint::default()
    });
    let paused = budget.paused_until().expect("a throttled budget pauses");
    assert!(paused - Instant::now() <= Duration::from_secs(24 * 3600 + 1));
    // And a reset in the distant past does not pause at all beyond the margin.
    let budget = budget_with_past_reset();
    assert!(budget
        .paused_until()
        .is_none_or(|p| p - Instant::now() <= Duration::from_secs(1)));
}

fn budget_with_past_reset() -> RateBudget {
    let budget = budget(60, 1.0);
    budget.observe(&RateLimitHint {
        remaining: Some(0),
        reset: Some(DateTime::<Utc>::MIN_UTC),
        ..RateLimitHint::default()
    });
    budget
}

#[tokio::test(start_paused = true)]
async fn a_clock_at_the_end_of_time_saturates() {
    let clock = Clock::at(DateTime::<Utc>::MAX_UTC);
    tokio::time::advance(Duration::from_secs(3600)).await;
    assert_eq!(clock.now_utc(), DateTime::<Utc>::MAX_UTC);
    let budget = RateBudget::new(
        BudgetSpec::new(BudgetKey::new("p", "a"), 10, Duration::from_secs(60)),
        clock,
    );
    budget.observe(&RateLimitHint {
        remaining: Some(0),
        reset: Some(DateTime::<Utc>::MAX_UTC),
        ..RateLimitHint::default()
    });
    assert!(budget.paused_until().is_some());
}

fn log() -> EventLog {
    let log = EventLog::new();
    log.generate(10, Utc::now());
    log
}

#[test]
fn an_interval_of_duration_max_is_refused_by_name() {
    // Was: accepted, then `2 * interval` panicked in the job loop.
    let result = Platform::builder()
        .source("okta", EventLogSource::new("org", log(), Clock::new()))
        .sink("sentinel", RecordingSink::new("sentinel"))
        .subscribe(Subscription::new("sentinel", "okta", "events").every(Duration::MAX))
        .build();
    match result {
        Err(ConfigError::InvalidSubscription {
            product, problem, ..
        }) => {
            assert_eq!(product, "sentinel");
            assert!(
                problem.contains("longer than the longest allowed"),
                "{problem}"
            );
        }
        Err(other) => panic!("another error: {other}"),
        Ok(_) => panic!("an interval of Duration::MAX was accepted"),
    }
}

#[tokio::test(start_paused = true)]
async fn a_plan_stretched_beyond_any_instant_runs_without_overflow() {
    // One call a year on the account and a subscription every nanosecond: the stretch factor
    // is about 3·10^16. Was: `mul_f64` overflowed.
    let settings = EventLogSettings {
        provider_limit: 1,
        window: Duration::from_secs(365 * 24 * 3600),
        ..EventLogSettings::default()
    };
    let platform = Platform::builder()
        .source(
            "okta",
            EventLogSource::with_settings("org", log(), Clock::new(), settings),
        )
        .sink("sentinel", RecordingSink::new("sentinel"))
        .subscribe(Subscription::new("sentinel", "okta", "events").every(Duration::from_nanos(1)))
        .build()
        .expect("a valid configuration");
    let plan = platform.plan();
    assert!(plan.jobs[0].stretch() > 1e15, "{:?}", plan.jobs[0]);
    let running = platform.start().await.expect("starts");
    tokio::time::sleep(Duration::from_secs(3600)).await;
    let stats = running.stats().await;
    assert_eq!(
        stats.jobs[0].source_calls, 1,
        "one call, then a wait of a century"
    );
    running.shutdown().await.expect("stops");
}
