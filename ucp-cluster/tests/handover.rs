//! Handing a stream over (cluster mode) against the simulated Okta org: a job stopped with
//! `finish_call_on_stop` lets its call in flight finish, delivers its page and saves its
//! cursor before `pause_source_and_drain` returns; without it, the call is abandoned (the
//! org may still be answering it, which is what would overlap the next owner's first call)
//! and its page is lost to this owner.

use std::sync::Arc;
use std::time::Duration;

use secrecy::SecretString;
use tokio::time::Instant;
use ucp_core::credentials::{Credential, CredentialRef, CredentialStore, MemoryCredentials};
use ucp_core::store::{CheckpointStore, MemoryCheckpoints};
use ucp_core::{Platform, RunningPlatform, StreamKey, Subscription};
use ucp_sources::okta::{OktaConfig, OktaSource, SYSTEM_LOG};
use ucp_testkit::okta::{OktaSimConfig, OktaSimulator};
use ucp_testkit::RecordingSink;

const TOKEN: &str = "00aHandoverTestTokenOfTheOrg";
const LATENCY: Duration = Duration::from_millis(600);

async fn running(
    sim: &OktaSimulator,
    finish: bool,
    cursors: Arc<MemoryCheckpoints>,
    sink: RecordingSink,
) -> RunningPlatform {
    let credentials = Arc::new(MemoryCredentials::new());
    credentials
        .put(
            CredentialRef::new("contoso", "okta"),
            Credential::ApiToken {
                token: SecretString::from(TOKEN),
            },
        )
        .await
        .expect("stored");
    let source = OktaSource::new(
        OktaConfig::new(sim.base_url(), "okta").start_ago(Duration::from_secs(3600)),
    )
    .expect("a source");
    Platform::builder()
        .credentials(credentials)
        .checkpoints(cursors)
        .max_jitter(Duration::ZERO)
        .finish_call_on_stop(finish)
        .tenant_source("contoso", "okta", Arc::new(source))
        .tenant_sink("contoso", "siem", Arc::new(sink))
        .subscribe(Subscription::new("siem", "okta", SYSTEM_LOG).every(Duration::from_secs(30)))
        .build()
        .expect("a platform")
        .start()
        .await
        .expect("started")
}

/// Wait until the org is answering a call.
async fn call_in_flight(sim: &OktaSimulator) {
    let deadline = Instant::now() + Duration::from_secs(10);
    while sim.log_requests_in_flight() == 0 {
        assert!(Instant::now() < deadline, "no call reached the org");
        tokio::time::sleep(Duration::from_millis(5)).await;
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_job_handed_over_finishes_its_call_delivers_and_saves_before_it_returns() {
    let sim = OktaSimulator::start(
        OktaSimConfig::default()
            .token(TOKEN)
            .backlog(40)
            .log_latency(LATENCY),
    )
    .await
    .expect("the org starts");
    let cursors = Arc::new(MemoryCheckpoints::new());
    let sink = RecordingSink::new("siem");
    let platform = running(&sim, true, cursors.clone(), sink.clone()).await;
    call_in_flight(&sim).await;
    platform
        .pause_source_and_drain("okta")
        .await
        .expect("paused");
    assert_eq!(
        sim.log_requests_in_flight(),
        0,
        "returned with a call in flight"
    );
    assert!(
        !sink.ids().is_empty(),
        "the page of the finished call was delivered"
    );
    let saved = cursors
        .load(&StreamKey::new("okta", SYSTEM_LOG))
        .await
        .expect("loads");
    assert!(saved.is_some(), "its cursor was saved before the handover");
    assert_eq!(sim.requests(), 1);
    assert_eq!(sim.max_concurrent_log_requests(), 1);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn by_default_a_stopped_job_abandons_its_call_and_its_page() {
    let sim = OktaSimulator::start(
        OktaSimConfig::default()
            .token(TOKEN)
            .backlog(40)
            .log_latency(LATENCY),
    )
    .await
    .expect("the org starts");
    let sink = RecordingSink::new("siem");
    let cursors = Arc::new(MemoryCheckpoints::new());
    let platform = running(&sim, false, cursors.clone(), sink.clone()).await;
    call_in_flight(&sim).await;
    platform
        .pause_source_and_drain("okta")
        .await
        .expect("paused");
    // Whatever the org does with the abandoned call, its page never arrives.
    tokio::time::sleep(LATENCY * 2).await;
    assert!(sink.ids().is_empty(), "the abandoned page is not delivered");
    let saved = cursors
        .load(&StreamKey::new("okta", SYSTEM_LOG))
        .await
        .expect("loads");
    assert!(saved.is_none(), "no cursor past the abandoned page");
}
