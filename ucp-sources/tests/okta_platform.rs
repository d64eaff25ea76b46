//! The Okta source through the whole platform, against the simulated org over loopback, in
//! real time (each test takes a few seconds): collect once for three products, a 429 that
//! pauses every job of the org, auth failures and malformed pages in health.

use std::sync::{Arc, Mutex};
use std::time::Duration;

use async_trait::async_trait;
use secrecy::SecretString;
use tokio::time::Instant;
use ucp_core::credentials::{Credential, CredentialRef, CredentialStore, MemoryCredentials};
use ucp_core::health::{HealthEvent, HealthKind, MemoryHealth, Status};
use ucp_core::store::MemoryCheckpoints;
use ucp_core::{
    CollectRequest, Cursor, Filter, Page, Platform, PlatformBuilder, RunningPlatform, Source,
    SourceContext, SourceError, SourceInfo, Subscription,
};
use ucp_sources::okta::{OktaConfig, OktaSource, SYSTEM_LOG};
use ucp_testkit::okta::{Fault, OktaSimConfig, OktaSimulator, VisibleEvent};
use ucp_testkit::RecordingSink;

const TOKEN: &str = "00aPlatformTestTokenOfTheOrg";
const TENANT: &str = "contoso";
const CREDENTIAL: &str = "okta-token";

async fn org(config: OktaSimConfig) -> OktaSimulator {
    OktaSimulator::start(config.token(TOKEN)).await.unwrap()
}

fn okta_config(sim: &OktaSimulator) -> OktaConfig {
    OktaConfig::new(sim.base_url(), CREDENTIAL)
        .start_ago(Duration::from_secs(3 * 3600))
        .request_timeout(Duration::from_secs(10))
}

async fn credentials(token: &str) -> Arc<MemoryCredentials> {
    let store = Arc::new(MemoryCredentials::new());
    store
        .put(
            CredentialRef::new(TENANT, CREDENTIAL),
            Credential::ApiToken {
                token: SecretString::from(token.to_string()),
            },
        )
        .await
        .unwrap();
    store
}

fn platform(credentials: Arc<MemoryCredentials>, health: Arc<MemoryHealth>) -> PlatformBuilder {
    Platform::builder()
        .credentials(credentials)
        .health(health)
        .checkpoints(Arc::new(MemoryCheckpoints::new()))
        .max_jitter(Duration::ZERO)
}

/// Wait (real time) until `done`, failing after `limit`.
async fn eventually<F: std::future::Future<Output = bool>>(
    what: &str,
    limit: Duration,
    mut done: impl FnMut() -> F,
) {
    let deadline = Instant::now() + limit;
    while !done().await {
        assert!(Instant::now() < deadline, "timed out waiting for {what}");
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
}

async fn collected(running: &RunningPlatform, source: &str) -> u64 {
    running
        .stats()
        .await
        .job(source, SYSTEM_LOG)
        .map_or(0, |j| j.records_collected)
}

fn uuids_where(events: &[VisibleEvent], keep: impl Fn(&str) -> bool) -> Vec<String> {
    events
        .iter()
        .filter(|e| keep(&e.event_type))
        .map(|e| e.uuid.clone())
        .collect()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn three_products_share_one_call_per_round_and_get_exactly_their_records() {
    let sim = Arc::new(org(OktaSimConfig::default().seed(11).backlog(300)).await);
    let health = Arc::new(MemoryHealth::new());
    let (sentinel, mdi, xspm) = (
        RecordingSink::new("sentinel"),
        RecordingSink::new("mdi"),
        RecordingSink::new("xspm"),
    );
    let prefix = |p: &str| Filter::starts_with("/eventType", p);
    let round = Duration::from_millis(800);
    let running = platform(credentials(TOKEN).await, health)
        .tenant_source(
            TENANT,
            "okta",
            Arc::new(OktaSource::new(okta_config(&sim)).unwrap()),
        )
        .tenant_sink(TENANT, "sentinel", Arc::new(sentinel.clone()))
        .tenant_sink(TENANT, "mdi", Arc::new(mdi.clone()))
        .tenant_sink(TENANT, "xspm", Arc::new(xspm.clone()))
        .subscribe(Subscription::new("sentinel", "okta", SYSTEM_LOG).every(round))
        .subscribe(
            Subscription::new("mdi", "okta", SYSTEM_LOG)
                .every(round)
                .filter(prefix("user.authentication").or(prefix("user.session"))),
        )
        .subscribe(
            Subscription::new("xspm", "okta", SYSTEM_LOG)
                .every(round * 2)
                .filter(
                    prefix("user.account")
                        .or(prefix("group."))
                        .or(prefix("application.")),
                ),
        )
        .build()
        .unwrap()
        .start()
        .await
        .unwrap();

    // Watch the org's request counter while new events arrive between rounds.
    let mut increases = Vec::new();
    let mut seen = 0;
    let start = Instant::now();
    let mut emitted = false;
    while Instant::now() - start < round * 4 + round / 2 {
        let now = sim.requests();
        if now != seen {
            increases.push((Instant::now(), now - seen));
            seen = now;
        }
        if !emitted && Instant::now() - start > round * 2 {
            sim.emit(None, 40);
            sim.emit(Some("user.account.lock"), 3);
            sim.emit(Some("user.session.start"), 3);
            sim.emit(Some("group.user_membership.add"), 3);
            emitted = true;
        }
        tokio::time::sleep(Duration::from_millis(5)).await;
    }
    let visible = sim.visible_events();
    assert_eq!(visible.len(), 349);
    eventually("the last events", Duration::from_secs(5), || async {
        collected(&running, "okta").await == visible.len() as u64
    })
    .await;
    let stats = running.stats().await;
    running.shutdown().await.unwrap();

    // One call per round for all three products: every increase is a single call, a round
    // apart, and every call the org saw was the one job's.
    let job = stats.job("okta", SYSTEM_LOG).unwrap();
    assert!(increases.len() >= 4, "rounds seen: {increases:?}");
    assert!(
        increases.iter().all(|(_, calls)| *calls == 1),
        "{increases:?}"
    );
    for pair in increases.windows(2) {
        assert!(
            pair[1].0 - pair[0].0 >= round / 2,
            "two calls within one round: {increases:?}"
        );
    }
    assert_eq!(sim.requests(), job.source_calls);
    // Separate connectors would call per round for sentinel and mdi and every other round for
    // xspm: 1.5 calls saved per call of the job.
    assert_eq!(job.calls_saved, job.source_calls * 3 / 2);

    // Each product got exactly its events, in the org's order.
    assert_eq!(sentinel.ids(), uuids_where(&visible, |_| true));
    let auth = uuids_where(&visible, |t| {
        t.starts_with("user.authentication") || t.starts_with("user.session")
    });
    let changes = uuids_where(&visible, |t| {
        t.starts_with("user.account") || t.starts_with("group.") || t.starts_with("application.")
    });
    assert!(!auth.is_empty() && !changes.is_empty());
    assert!(auth.len() + changes.len() < visible.len());
    assert_eq!(mdi.ids(), auth);
    assert_eq!(xspm.ids(), changes);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_429_pauses_every_job_of_the_org_until_the_reset() {
    // The org's rate-limit "minute" lasts 3 s, so the test waits for one reset only.
    let sim = Arc::new(
        org(OktaSimConfig::default()
            .seed(12)
            .backlog(50)
            .rate_limit(600)
            .speed(20.0))
        .await,
    );
    let source = || {
        Arc::new(
            OktaSource::new(
                okta_config(&sim)
                    .rate_limit_per_minute(600)
                    .quota_share(1.0),
            )
            .unwrap(),
        )
    };
    let sink = RecordingSink::new("sentinel");
    let every = Duration::from_millis(300);
    let builder = platform(credentials(TOKEN).await, Arc::new(MemoryHealth::new()))
        .tenant_source(TENANT, "okta-a", source())
        .tenant_source(TENANT, "okta-b", source())
        .tenant_sink(TENANT, "sentinel", Arc::new(sink.clone()))
        .subscribe(Subscription::new("sentinel", "okta-a", SYSTEM_LOG).every(every))
        .subscribe(Subscription::new("sentinel", "okta-b", SYSTEM_LOG).every(every))
        .build()
        .unwrap();
    let key = source().describe().budget.key;

    // Early in a window, another application uses the org's whole quota.
    let until_next_window = (sim.rate_window_end() - sim.now()).to_std().unwrap();
    tokio::time::sleep(until_next_window + Duration::from_millis(50)).await;
    sim.consume_quota(600);
    let reset = sim.rate_window_end();

    let running = builder.start().await.unwrap();
    let budget = running.budget(&key).await.unwrap();
    eventually("the 429", Duration::from_secs(2), || async {
        sim.throttled() >= 1 && budget.paused_until().is_some()
    })
    .await;
    let calls_when_paused = sim.requests();
    let paused_until = budget.paused_until().unwrap();

    // Nothing reaches the org before its reset: neither job calls, though both are due.
    let to_reset = (reset - sim.now()).to_std().unwrap();
    assert!(
        paused_until >= Instant::now() + to_reset,
        "the pause ends before the reset"
    );
    tokio::time::sleep(to_reset).await;
    assert_eq!(
        sim.requests(),
        calls_when_paused,
        "a call was made before the reset"
    );

    // After it, both jobs collect everything.
    eventually("both jobs to collect", Duration::from_secs(5), || async {
        collected(&running, "okta-a").await == 50 && collected(&running, "okta-b").await == 50
    })
    .await;
    let stats = running.stats().await;
    running.shutdown().await.unwrap();
    // One 429 in all: the other job waited on the shared budget instead of being throttled.
    assert_eq!(sim.throttled(), 1);
    let throttled: u64 = stats.jobs.iter().map(|j| j.throttled).sum();
    assert_eq!(throttled, 1);
    assert_eq!(
        stats.budgets.len(),
        1,
        "two instances of one org share one budget"
    );
    assert_eq!(sink.ids().len(), 100);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_rejected_token_is_an_error_that_names_the_org_and_what_to_do() {
    let sim = org(OktaSimConfig::default().seed(13).backlog(20)).await;
    let wrong = "00aRevokedTokenThatMustNotLeak";
    let health = Arc::new(MemoryHealth::new());
    let sink = RecordingSink::new("sentinel");
    let running = platform(credentials(wrong).await, health.clone())
        .tenant_source(
            TENANT,
            "okta",
            Arc::new(OktaSource::new(okta_config(&sim)).unwrap()),
        )
        .tenant_sink(TENANT, "sentinel", Arc::new(sink.clone()))
        .subscribe(Subscription::new("sentinel", "okta", SYSTEM_LOG).every(Duration::from_secs(1)))
        .build()
        .unwrap()
        .start()
        .await
        .unwrap();
    let auth_error = |events: &[HealthEvent]| {
        events
            .iter()
            .find(|e| e.status == Status::Error && e.kind == HealthKind::Auth)
            .cloned()
    };
    eventually(
        "an auth error in health",
        Duration::from_secs(5),
        || async { auth_error(&health.events()).is_some() },
    )
    .await;
    running.shutdown().await.unwrap();

    let event = auth_error(&health.events()).unwrap();
    assert_eq!(event.component.connector, "okta");
    assert!(event.message.contains(sim.host()), "{}", event.message);
    assert!(event.message.contains("API token"), "{}", event.message);
    assert!(event.message.contains("check"), "{}", event.message);
    assert!(event.message.contains(CREDENTIAL), "{}", event.message);
    for e in health.events() {
        assert!(!e.message.contains(wrong), "token leaked: {}", e.message);
    }
    assert!(sim.unauthorized() >= 1);
    assert!(sink.ids().is_empty());
}

/// The Okta source, recording the cursor of every call and whether it succeeded.
struct Recorded {
    okta: OktaSource,
    calls: Arc<Mutex<Vec<(Cursor, bool)>>>,
}

#[async_trait]
impl Source for Recorded {
    fn describe(&self) -> SourceInfo {
        self.okta.describe()
    }

    async fn check(&self, cx: &SourceContext) -> Result<(), SourceError> {
        self.okta.check(cx).await
    }

    async fn collect(&self, cx: &SourceContext, req: CollectRequest) -> Result<Page, SourceError> {
        let cursor = req.cursor.clone();
        let page = self.okta.collect(cx, req).await;
        self.calls.lock().unwrap().push((cursor, page.is_ok()));
        page
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_malformed_page_is_a_warning_and_the_same_page_is_asked_for_again() {
    let sim = org(OktaSimConfig::default().seed(14).backlog(25)).await;
    // Pages of 10: the second page comes back malformed.
    sim.schedule_fault(2, Fault::Malformed);
    let calls = Arc::new(Mutex::new(Vec::new()));
    let source = Recorded {
        okta: OktaSource::new(okta_config(&sim).page_limit(10)).unwrap(),
        calls: calls.clone(),
    };
    let health = Arc::new(MemoryHealth::new());
    let sink = RecordingSink::new("sentinel");
    let running = platform(credentials(TOKEN).await, health.clone())
        .tenant_source(TENANT, "okta", Arc::new(source))
        .tenant_sink(TENANT, "sentinel", Arc::new(sink.clone()))
        .subscribe(
            Subscription::new("sentinel", "okta", SYSTEM_LOG).every(Duration::from_millis(300)),
        )
        .build()
        .unwrap()
        .start()
        .await
        .unwrap();
    eventually("the whole backlog", Duration::from_secs(5), || async {
        sink.ids().len() == 25
    })
    .await;
    running.shutdown().await.unwrap();

    let calls = calls.lock().unwrap().clone();
    assert!(calls.len() >= 4, "{calls:?}");
    assert!(calls[0].1 && !calls[1].1 && calls[2].1, "{calls:?}");
    assert!(calls[1].0.as_str().is_some());
    assert_eq!(
        calls[2].0, calls[1].0,
        "the cursor moved past a malformed page"
    );

    let warning = health
        .events()
        .into_iter()
        .find(|e| e.status == Status::Warning && e.kind == HealthKind::Collection)
        .expect("a warning for the malformed page");
    assert!(warning.message.contains(sim.host()), "{}", warning.message);
    assert!(warning.message.contains("page"), "{}", warning.message);
    // No gap, no duplicate.
    let expected: Vec<String> = sim.visible_events().into_iter().map(|e| e.uuid).collect();
    assert_eq!(sink.ids(), expected);
}
