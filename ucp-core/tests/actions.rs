//! Response actions through a connector: ahead of collection on the shared budget, once per
//! idempotency key, retried within bounds, with clear results and health (paused clock,
//! against the testkit's simulated provider and its user directory).

use std::sync::Arc;
use std::time::Duration;

use chrono::Utc;
use rand::rngs::StdRng;
use rand::{Rng, SeedableRng};
use serde_json::json;
use tokio::time::Instant;
use ucp_core::health::{HealthKind, HealthQuery, HealthService, Status};
use ucp_core::{
    ActOptions, ActionError, ActionOutcome, ActionRequest, Clock, Platform, RunningPlatform,
    Subscription,
};
use ucp_testkit::{
    ActionFault, EventLog, EventLogSettings, EventLogSource, RecordingSink, UserStatus,
};

/// A provider allowing 60 calls a minute, with a backlog that keeps collection busy for
/// longer than any test here.
async fn platform(health: Option<Arc<HealthService>>) -> (EventLogSource, RunningPlatform) {
    let log = EventLog::new();
    log.generate(20_000, Utc::now());
    let source = EventLogSource::with_settings(
        "acme.example",
        log,
        Clock::new(),
        EventLogSettings {
            page_size: 10,
            provider_limit: 60,
            ..EventLogSettings::default()
        },
    );
    source.add_users(["u1", "u2", "u3"], UserStatus::Active);
    source.add_users(["gone"], UserStatus::Deprovisioned);
    let mut builder = Platform::builder()
        .max_jitter(Duration::ZERO)
        .source("acme", source.clone())
        .sink("sentinel", RecordingSink::new("sentinel"))
        .subscribe(Subscription::new("sentinel", "acme", "events").every(Duration::from_secs(60)));
    if let Some(health) = health {
        builder = builder.health(health);
    }
    let running = builder
        .build()
        .expect("valid")
        .start()
        .await
        .expect("starts");
    (source, running)
}

fn suspend(user: &str) -> ActionRequest {
    ActionRequest::new("suspend_user", json!({"user_id": user}))
}

#[tokio::test(start_paused = true)]
async fn actions_go_first_on_a_saturated_budget_and_collection_keeps_the_rest() {
    let (source, running) = platform(None).await;
    let running = Arc::new(running);
    let start = Instant::now();
    let mut rng = StdRng::seed_from_u64(18);
    let mut tasks = Vec::new();
    for i in 0..20 {
        let at = Duration::from_millis(rng.random_range(5_000..595_000));
        let running = running.clone();
        let user = format!("u{}", i % 3 + 1);
        tasks.push(tokio::spawn(async move {
            tokio::time::sleep_until(start + at).await;
            let issued = Instant::now();
            let request = ActionRequest::new(
                if i % 2 == 0 {
                    "suspend_user"
                } else {
                    "unsuspend_user"
                },
                json!({"user_id": user}),
            );
            let result = running
                .act("acme", request, ActOptions::default())
                .await
                .expect("performed");
            assert_eq!(result.attempts, 1);
            Instant::now() - issued
        }));
    }
    let mut waits = Vec::new();
    for task in tasks {
        waits.push(task.await.expect("the action task ran"));
    }
    tokio::time::sleep_until(start + Duration::from_secs(600)).await;
    let stats = running.stats().await;
    let collected = stats.jobs[0].source_calls;
    // One permit a second (the budget spreads a window's calls until its reset plus a one
    // second margin: 61 s for 60 calls): every action waited at most until the next one.
    let permit = Duration::from_secs(61) / 60;
    let longest = waits.iter().max().copied().unwrap_or_default();
    assert!(longest <= permit, "an action waited {longest:?}");
    assert_eq!(source.refused(), 0, "never a 429");
    assert_eq!(source.action_calls(), 20);
    // Ten minutes of 60 calls a minute, two of each minute kept for actions: collection made
    // the rest (58 a minute) but what the actions took beyond the reserve.
    assert!(
        (565..=582).contains(&collected),
        "collection made {collected} calls beside 20 actions"
    );
}

#[tokio::test(start_paused = true)]
async fn one_idempotency_key_is_one_provider_call() {
    let (source, running) = platform(None).await;
    let options = ActOptions::default().idempotency_key("ticket-42");
    let first = running
        .act("acme", suspend("u1"), options.clone())
        .await
        .expect("performed");
    let again = running
        .act("acme", suspend("u1"), options.clone())
        .await
        .expect("replayed");
    assert!(matches!(first.outcome, ActionOutcome::Done { .. }));
    assert_eq!(again.outcome, first.outcome);
    assert!(again.replayed && again.attempts == 0);
    assert_eq!(source.action_calls(), 1);

    // Concurrent calls with one key: still one call.
    let running = Arc::new(running);
    let options = ActOptions::default().idempotency_key("ticket-43");
    let calls: Vec<_> = (0..5)
        .map(|_| {
            let (running, options) = (running.clone(), options.clone());
            tokio::spawn(async move { running.act("acme", suspend("u2"), options).await })
        })
        .collect();
    for call in calls {
        call.await.expect("ran").expect("performed");
    }
    assert_eq!(source.action_calls(), 2);
    assert_eq!(source.user("u2"), Some(UserStatus::Suspended));
}

#[tokio::test(start_paused = true)]
async fn temporary_failures_are_retried_within_bounds() {
    let health = Arc::new(HealthService::builder().build());
    let (source, running) = platform(Some(health.clone())).await;
    source.inject_action_faults([ActionFault::Unavailable, ActionFault::Unavailable]);
    let done = running
        .act("acme", suspend("u1"), ActOptions::default())
        .await
        .expect("the third attempt succeeds");
    assert_eq!(done.attempts, 3);

    source.inject_action_faults([ActionFault::Unavailable; 3]);
    let before = source.action_calls();
    let failed = running
        .act("acme", suspend("u2"), ActOptions::default())
        .await
        .expect_err("three failures are too many");
    assert_eq!(
        source.action_calls() - before,
        3,
        "bounded at three attempts"
    );
    assert!(failed.to_string().contains("after 3 attempts"), "{failed}");

    source.inject_action_faults([ActionFault::Forbidden]);
    let before = source.action_calls();
    let refused = running
        .act("acme", suspend("u3"), ActOptions::default())
        .await
        .expect_err("a refused credential");
    assert_eq!(source.action_calls() - before, 1, "not retried");
    assert!(matches!(refused, ActionError::Failed { .. }), "{refused:?}");
    let rows = health
        .table()
        .query(&HealthQuery::new().connector("acme"))
        .await
        .expect("readable");
    let action_rows: Vec<_> = rows
        .iter()
        .filter(|r| r.kind == HealthKind::Action)
        .collect();
    assert_eq!(
        action_rows.first().map(|r| r.status),
        Some(Status::Error),
        "{action_rows:?}"
    );
}

#[tokio::test(start_paused = true)]
async fn refusals_and_states_are_clear_results_and_a_dry_run_sends_nothing() {
    let (source, running) = platform(None).await;
    let gone = running
        .act("acme", suspend("gone"), ActOptions::default())
        .await
        .expect("an answer");
    assert!(
        matches!(&gone.outcome, ActionOutcome::Refused { reason } if reason.contains("Deprovisioned")),
        "{gone:?}"
    );
    let first = running
        .act("acme", suspend("u1"), ActOptions::default())
        .await;
    let second = running
        .act("acme", suspend("u1"), ActOptions::default())
        .await;
    assert!(matches!(
        first.map(|r| r.outcome),
        Ok(ActionOutcome::Done { .. })
    ));
    assert!(matches!(
        second.map(|r| r.outcome),
        Ok(ActionOutcome::AlreadyDone { .. })
    ));

    let calls = source.action_calls();
    let plan = running
        .plan_action("acme", &suspend("u3"))
        .await
        .expect("a plan");
    assert_eq!(plan.requests.len(), 1);
    assert!(plan.requests[0]
        .url
        .ends_with("/api/v1/users/u3/lifecycle/suspend"));
    assert_eq!(source.action_calls(), calls, "a dry run calls nothing");
    assert_eq!(source.user("u3"), Some(UserStatus::Active));
    let bad = running
        .plan_action("acme", &ActionRequest::new("suspend_user", json!({})))
        .await;
    assert!(bad.is_err_and(|e| e.to_string().contains("user_id")));

    match running
        .act(
            "acme",
            ActionRequest::new("delete_org", json!({})),
            ActOptions::default(),
        )
        .await
    {
        Err(ActionError::UnknownAction { offered, .. }) => {
            assert_eq!(offered, "suspend_user, unsuspend_user")
        }
        other => panic!("expected UnknownAction, got {other:?}"),
    }
    assert!(matches!(
        running
            .act("nope", suspend("u1"), ActOptions::default())
            .await,
        Err(ActionError::UnknownSource(_))
    ));
}
